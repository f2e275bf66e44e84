"""Notebook templates: whole notebooks whose papermill-style ``parameters`` cell is their inputs.

Two sources, one id space (the path of the ``.ipynb`` file relative to its folder,
``/``-separated, e.g. ``qc/report.ipynb``):

- ``folder``: the administrator's ``template_folders`` (file system folders that
  also hold cell-template ``*.json`` files), read off the event loop;
- ``contents``: the contents folder ``notebook_templates_folder`` (default
  ``templates``), read through the server's contents manager.

An id found in both is the folder's (the organisation's library wins, and in the
order of ``template_folders``); the contents copy is not listed and a warning is
logged. Parsed templates are cached per file (by modification time and size), so a
listing re-reads only what changed. Creating a notebook from a template writes it
through the contents manager, never overwriting a file. Decisions:
docs/notebook-templates.md.
"""

from __future__ import annotations

import asyncio
import copy
import os
import posixpath
import stat
from dataclasses import dataclass, field

import nbformat
from jupyter_core.utils import ensure_async

from cell_templates.cells import encode_inputs

from ..errors import ApiError, Conflict, Invalid, NotFound, environment_error
from ..nbtemplates import ParameterSpec, describe, fill_name, inject, read_parameters, validate_values
from ..offload import run_blocking
from ..pagination import Page, decode_cursor, encode_cursor

SOURCES = ("contents", "folder")
KIND = "notebook"
# Bounds of one listing (per source): folders deep, files seen, bytes of one template.
MAX_DEPTH = 8
MAX_FILES = 2000
MAX_TEMPLATE_BYTES = 16 * 1024 * 1024
MAX_ID_LENGTH = 1024
# ``-1``, ``-2``... tried when a derived name is taken.
MAX_UNIQUE_TRIES = 1000


@dataclass(frozen=True)
class NotebookTemplate:
    """One notebook template. ``path`` is a contents path (``contents``) or a file system path (``folder``).

    ``nb`` is shared with the cache: read it, never change it (``inject`` copies).
    """

    id: str
    path: str
    source: str
    nb: nbformat.NotebookNode = field(repr=False)
    spec: ParameterSpec | None
    title: str
    description: str

    @property
    def file_name(self) -> str:
        return posixpath.basename(self.id)

    def entry(self) -> dict:
        """The REST listing entry."""
        meta = (self.nb.get("metadata") or {}).get("datadive")
        meta = meta if isinstance(meta, dict) else {}
        tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
        return {
            "kind": KIND,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "category": meta["category"] if isinstance(meta.get("category"), str) else "notebook",
            "tags": [t for t in tags if isinstance(t, str)],
            "source": self.source,
            "file_name": self.file_name,
            "inputs": self.spec.schema if self.spec is not None else _NO_INPUTS,
        }


_NO_INPUTS = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False, "properties": {}}


def check_template_id(template_id, where: str = "/from_template") -> str:
    """A template id that stays inside its folder: relative, no ``..`` / empty / hidden segments, no backslash or control character."""
    from .projects import check_relative_path

    if not isinstance(template_id, str) or len(template_id) > MAX_ID_LENGTH:
        raise Invalid("invalid template id", [{"path": where, "message": f"must be a relative path of at most {MAX_ID_LENGTH} characters"}],
                      code="invalid_template_id")
    try:
        check_relative_path(template_id, where)
    except Invalid as exc:
        raise Invalid(f"invalid template id: {exc.errors[0]['message']}", exc.errors, code="invalid_template_id") from None
    return template_id


def _parse(template_id: str, path: str, source: str, nb) -> NotebookTemplate:
    """Parameters, title and description of a notebook (runs in the worker pool)."""
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.from_dict(nb)
    if nb.get("nbformat") != 4:
        raise Invalid("not a version 4 notebook", [{"path": "/nbformat", "message": "must be 4"}], code="invalid_notebook_template")
    spec = read_parameters(nb)
    title, description = describe(nb, posixpath.basename(template_id)[: -len(".ipynb")])
    return NotebookTemplate(template_id, path, source, nb, spec, title, description)


def _read_file(template_id: str, path: str) -> NotebookTemplate:
    """A folder template read from disk (worker pool)."""
    with open(path, encoding="utf-8") as f:
        text = f.read(MAX_TEMPLATE_BYTES + 1)
    if len(text) > MAX_TEMPLATE_BYTES:
        raise Invalid("the template is too large", [{"path": "", "message": f"is larger than {MAX_TEMPLATE_BYTES} bytes"}],
                      code="invalid_notebook_template")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # not JSON, not a notebook
        raise Invalid(f"not a readable notebook: {str(exc)[:200]}", [{"path": "", "message": "is not a readable notebook"}],
                      code="invalid_notebook_template") from None
    return _parse(template_id, path, "folder", nb)


def _inside(root: str, path: str) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _walk_folders(folders: list[str]) -> list[tuple[str, str, tuple]]:
    """``[(id, file path, stamp)]`` of the ``.ipynb`` files under the folders (worker pool), first folder first.

    Hidden files and folders are skipped, symbolic links are followed only when
    their target stays inside the folder, at most MAX_DEPTH levels and MAX_FILES files.
    """
    out = []
    for folder in folders:
        root = os.path.expanduser(folder)
        if not os.path.isdir(root):
            continue
        queue = [("", 0)]
        while queue and len(out) < MAX_FILES:
            rel, depth = queue.pop(0)
            here = os.path.join(root, *rel.split("/")) if rel else root
            try:
                with os.scandir(here) as entries:
                    listing = sorted(entries, key=lambda e: e.name)
            except OSError:
                continue
            for entry in listing:
                if entry.name.startswith("."):
                    continue
                child = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    if entry.is_symlink() and not _inside(root, entry.path):
                        continue
                    if entry.is_dir():
                        if depth + 1 < MAX_DEPTH:
                            queue.append((child, depth + 1))
                    elif entry.name.endswith(".ipynb") and entry.is_file():
                        st = entry.stat()
                        out.append((child, entry.path, (st.st_mtime_ns, st.st_size, st.st_ino)))
                except OSError:
                    continue
                if len(out) >= MAX_FILES:
                    break
    return out


def _stat_folder_file(folders: list[str], template_id: str):
    """``(file path, stamp)`` of ``template_id`` in the first folder that has it, or None (worker pool)."""
    for folder in folders:
        root = os.path.expanduser(folder)
        path = os.path.join(root, *template_id.split("/"))
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and _inside(root, path):
            return path, (st.st_mtime_ns, st.st_size, st.st_ino)
    return None


def page(entries: list[dict], *, q=None, source=None, category=None, tag=None, limit: int = 50, cursor=None) -> Page:
    """One page of listing entries, filtered, sorted by id (keyset on id, as the cell-template list)."""
    if source is not None and source not in SOURCES:
        raise Invalid("unknown source", [{"path": "/source", "message": f"must be one of {', '.join(SOURCES)} for notebook templates"}])
    after = decode_cursor(cursor, (str,))[0] if cursor else ""
    needle = (q or "").strip().lower()
    items = []
    for e in sorted(entries, key=lambda e: e["id"]):
        if e["id"] <= after or (source and e["source"] != source) or (category and e["category"] != category):
            continue
        if tag and tag not in e["tags"]:
            continue
        if needle and needle not in " ".join([e["id"], e["title"], e["description"], " ".join(e["tags"])]).lower():
            continue
        items.append(e)
    shown = items[:limit]
    return Page(shown, encode_cursor([shown[-1]["id"]]) if len(items) > limit else None)


class NotebookTemplateService:
    """Lists, reads and instantiates notebook templates. Public: ``list``, ``get``, ``create``."""

    def __init__(self, cm, *, folder: str, template_folders, log=None):
        self.cm = cm
        self.folder = (folder or "").strip("/")
        self.template_folders = list(template_folders)
        self.log = log
        self._cache: dict[tuple[str, str], tuple[object, NotebookTemplate | ApiError]] = {}  # (source, path) -> (stamp, parsed)
        self._warned: set = set()
        self._write_lock = asyncio.Lock()  # choosing a free name and taking it is one step

    # -- reading ---------------------------------------------------------------------

    def _warn(self, key, message: str, *args) -> None:
        if self.log is not None and key not in self._warned:
            self._warned.add(key)
            self.log.warning(message, *args)

    async def _folder_template(self, template_id: str, path: str, stamp) -> NotebookTemplate:
        key = ("folder", path)
        cached = self._cache.get(key)
        if cached is None or cached[0] != stamp:
            try:
                parsed = await run_blocking(_read_file, template_id, path)
            except ApiError as exc:
                parsed = exc
            except OSError as exc:
                parsed = Invalid(f"unreadable: {exc.strerror or exc}", [{"path": "", "message": "cannot be read"}],
                                 code="invalid_notebook_template")
            cached = (stamp, parsed)
            self._cache[key] = cached
        return self._unwrap(cached[1], template_id)

    async def _contents_template(self, template_id: str, model: dict | None = None) -> NotebookTemplate:
        path = posixpath.join(self.folder, template_id) if self.folder else template_id
        if model is None:
            model = await ensure_async(self.cm.get(path, content=False))
        stamp = (str(model.get("last_modified")), model.get("size"))
        key = ("contents", path)
        cached = self._cache.get(key)
        if cached is None or cached[0] != stamp:
            try:
                if (model.get("size") or 0) > MAX_TEMPLATE_BYTES:
                    raise Invalid("the template is too large", [{"path": "", "message": f"is larger than {MAX_TEMPLATE_BYTES} bytes"}],
                                  code="invalid_notebook_template")
                try:
                    full = await ensure_async(self.cm.get(path, content=True, type="notebook"))
                except Exception as exc:
                    if isinstance(exc, ApiError) or environment_error(exc) is not None:
                        raise
                    raise Invalid("not a readable notebook", [{"path": "", "message": "is not a readable notebook"}],
                                  code="invalid_notebook_template") from None
                parsed = await run_blocking(_parse, template_id, path, "contents", full["content"])
            except Invalid as exc:
                parsed = exc
            cached = (stamp, parsed)
            self._cache[key] = cached
        return self._unwrap(cached[1], template_id)

    def _unwrap(self, parsed, template_id: str) -> NotebookTemplate:
        if isinstance(parsed, ApiError):
            details = "; ".join(f"{e['path']}: {e['message']}" for e in parsed.errors[:3])
            raise Invalid(f"the notebook template {template_id!r} cannot be used: {parsed.message}" + (f" ({details})" if details else ""),
                          [{"path": "/from_template", "message": f"is not a usable notebook template: {parsed.message}"}],
                          code="invalid_notebook_template")
        return parsed

    async def _contents_files(self) -> list[dict]:
        """Models (no content) of the notebooks under the contents folder, breadth-first, bounded."""
        if not self.folder:
            return []
        try:
            if not await ensure_async(self.cm.dir_exists(self.folder)):
                return []
        except Exception:
            return []
        out, queue = [], [(self.folder, 0)]
        while queue and len(out) < MAX_FILES:
            here, depth = queue.pop(0)
            try:
                listing = await ensure_async(self.cm.get(here, content=True, type="directory"))
            except Exception:
                continue
            for child in sorted(listing.get("content") or [], key=lambda c: c["name"]):
                if child["name"].startswith("."):
                    continue
                if child["type"] == "notebook" and child["name"].endswith(".ipynb"):
                    out.append(child)
                elif child["type"] == "directory" and depth + 1 < MAX_DEPTH:
                    queue.append((child["path"], depth + 1))
        return out[:MAX_FILES]

    async def list(self) -> list[dict]:
        """Every usable notebook template as a listing entry, sorted by id; unusable ones are skipped with a warning."""
        templates: dict[str, NotebookTemplate] = {}
        taken: dict[str, str] = {}  # id -> the folder file that has it, usable or not (``get`` finds the same one)
        listed: set[tuple[str, str]] = set()  # cache keys of the contents files seen
        for template_id, path, stamp in await run_blocking(_walk_folders, self.template_folders):
            if template_id in taken:
                continue  # an earlier folder has it
            taken[template_id] = path
            try:
                templates[template_id] = await self._folder_template(template_id, path, stamp)
            except ApiError as exc:
                self._warn(("bad", path, stamp), "Datadive notebook template %s skipped: %s", path, exc.message)
        if self._contents_enabled():
            prefix = self.folder + "/"
            for model in await self._contents_files():
                listed.add(("contents", model["path"]))
                template_id = model["path"][len(prefix):]
                if template_id in taken:
                    self._warn(("shadowed", model["path"]), "Datadive notebook template %s is hidden by the one in a template folder (%s)",
                               model["path"], taken[template_id])
                    continue
                try:
                    templates[template_id] = await self._contents_template(template_id, model)
                except ApiError as exc:
                    self._warn(("bad", model["path"], str(model.get("last_modified"))), "Datadive notebook template %s skipped: %s",
                               model["path"], exc.message)
        # Files that are gone leave the cache (``get`` may add them back while they exist).
        seen = {("folder", p) for p in taken.values()} | listed
        for key in [k for k in self._cache if k not in seen]:
            del self._cache[key]
        if len(self._warned) > 10_000:
            self._warned.clear()
        return [templates[k].entry() for k in sorted(templates)]

    def _contents_enabled(self) -> bool:
        return bool(self.folder)

    async def get(self, template_id) -> NotebookTemplate:
        """The template ``template_id``: 400 ``invalid_template_id`` for an id that would leave its folder,
        404 ``template_not_found`` when no source has it, 400 ``invalid_notebook_template`` when it does not parse."""
        check_template_id(template_id)
        missing = NotFound(f"no notebook template {template_id!r}", [{"path": "/from_template", "message": "no such notebook template"}],
                           code="template_not_found")
        if not template_id.endswith(".ipynb"):
            raise missing
        found = await run_blocking(_stat_folder_file, self.template_folders, template_id) if self.template_folders else None
        if found is not None:
            return await self._folder_template(template_id, *found)
        if not self._contents_enabled():
            raise missing
        path = posixpath.join(self.folder, template_id)
        try:
            model = await ensure_async(self.cm.get(path, content=False))
        except Exception as exc:
            if environment_error(exc) is not None:
                raise
            raise missing from None
        if model.get("type") != "notebook":
            raise missing
        return await self._contents_template(template_id, model)

    # -- creating ---------------------------------------------------------------------

    async def create(self, template_id, values, *, folder: str, name: str | None = None, unique: bool = True,
                     validate: bool = True) -> str:
        """Write a new notebook made from ``template_id`` with ``values`` into contents folder ``folder``; its contents path.

        The name is ``name`` (a path inside ``folder``, ``.ipynb`` added) or, without
        one, the template's file name with its ``{param}`` placeholders filled from
        the values and the defaults. An existing file is never overwritten: with
        ``unique`` a free name is chosen (``-1``, ``-2``...), else 409
        ``notebook_exists``. Errors: 404 / 400 at ``/from_template``, 400
        ``invalid_parameters`` at ``/parameters/<name>``, 400 ``invalid_path`` at ``/name``.
        """
        from .projects import check_notebook_name, check_relative_path

        template = await self.get(template_id)
        values = {} if values is None else values
        if validate:
            await run_blocking(validate_values, template.spec, values)
        elif not isinstance(values, dict):
            raise Invalid("parameters must be an object", [{"path": "/parameters", "message": "must be of type object"}],
                          code="invalid_parameters")
        folder = (folder or "").strip("/")
        if folder:
            check_relative_path(folder, "/folder")
        if name is not None:
            if not isinstance(name, str):
                raise Invalid("invalid name", [{"path": "/name", "message": "must be a string"}], code="invalid_path")
            rel = check_notebook_name(name)
        else:
            merged = {**(template.spec.defaults if template.spec else {}), **values}
            rel = fill_name(template.file_name, merged)
        rel = rel if rel.endswith(".ipynb") else rel + ".ipynb"
        check_relative_path(rel, "/name")
        nb = await run_blocking(_instantiate, template, values)
        async with self._write_lock:
            path = await self._free_path(folder, rel, unique)
            await self._make_parents(folder, path)
            try:
                await self._save({"type": "notebook", "format": "json", "content": nb}, path)
            except BaseException:
                # The path was free: whatever a failed save left there is ours to remove.
                try:
                    if await ensure_async(self.cm.file_exists(path)):
                        await ensure_async(self.cm.delete(path))
                except Exception:
                    if self.log is not None:
                        self.log.warning("Datadive: could not remove the unfinished notebook %s", path, exc_info=True)
                raise
        return path

    async def _free_path(self, folder: str, rel: str, unique: bool) -> str:
        stem = rel[: -len(".ipynb")]
        candidate = rel
        for n in range(MAX_UNIQUE_TRIES + 1):
            if n:
                candidate = f"{stem}-{n}.ipynb"
            path = posixpath.join(folder, candidate) if folder else candidate
            if not await ensure_async(self.cm.exists(path)):
                return path
            if not unique:
                raise Conflict(f"{rel!r} already exists", [{"path": "/name", "message": "already exists"}], code="notebook_exists")
        raise Conflict(f"no free name like {rel!r}", [{"path": "/name", "message": f"{MAX_UNIQUE_TRIES} names like it are taken"}],
                       code="notebook_exists")

    async def _make_parents(self, folder: str, path: str) -> None:
        """Make the folders on the way to ``path``; a file in the way is a 400 at ``/name``."""
        parts = path.split("/")[:-1]
        current = ""
        for i, part in enumerate(parts):
            current = posixpath.join(current, part) if current else part
            if await ensure_async(self.cm.dir_exists(current)):
                continue
            if await ensure_async(self.cm.exists(current)):
                where = "/folder" if len(current) <= len(folder) else "/name"
                raise Invalid(f"{current!r} is a file, not a folder", [{"path": where, "message": "a parent is a file"}],
                              code="invalid_path")
            await self._save({"type": "directory"}, current)

    async def _save(self, model: dict, path: str):
        try:
            return await ensure_async(self.cm.save(model, path))
        except Exception as exc:
            mapped = environment_error(exc)
            if mapped is not None:
                raise mapped from None
            status = getattr(exc, "status_code", None)
            if isinstance(exc, OSError) or (status and 400 <= status < 500):
                raise Invalid("the contents manager refused the name", [{"path": "/name", "message": "cannot be used here"}],
                              code="invalid_path") from None
            raise


def _instantiate(template: NotebookTemplate, values: dict) -> nbformat.NotebookNode:
    """The new notebook (worker pool): injected values, outputs of the template cleared, provenance in its metadata."""
    if template.spec is None and not values:
        nb = nbformat.from_dict(copy.deepcopy(dict(template.nb)))  # nothing to inject, no parameters cell to follow
    else:
        nb = inject(template.nb, values, template.spec)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    meta = nb.metadata.get("datadive")
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta["notebook_template"] = {"id": template.id, "source": template.source, "parameters": encode_inputs(values)}
    nb.metadata["datadive"] = meta
    return nb


__all__ = ["NotebookTemplate", "NotebookTemplateService", "SOURCES", "check_template_id", "page"]
