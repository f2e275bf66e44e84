"""Templates from three sources: ``builtin`` (shipped), ``path`` (read-only folders) and ``user`` (SQLite).

Ids are unique across sources; ``builtin`` wins over ``path``, and a user
template cannot take an id that either already uses. A stored version never
changes: an update adds a version, a delete retires the template (its versions
stay readable, so generated cells keep working).

Where the work runs (see docs/server.md): validating a user document, loading
a stored version, rendering and validating inputs of user and folder
templates, and reading folder files all grow with what someone else wrote, so
the ``*_async`` methods run them in the extension's bounded worker pool
(``datadive_ext.offload``); SQLite statements and the cheap lookups stay on
the event loop. Built-in templates whose sources are compiled render inline
when their inputs are small (about a millisecond).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path

from cell_templates import Template, TemplateError, builtin_templates, rerender

from ..errors import Conflict, Forbidden, Invalid, NotFound, Stale
from ..offload import pool, run_blocking
from ..pagination import Page, decode_cursor, encode_cursor
from ..store import Store, utcnow

SOURCES = ("builtin", "path", "user")
PARSED_CACHE_SIZE = 512
# Seconds between two scans of the template folders (a scan is one directory
# listing and one stat per file): at most one per request, whatever it looks up.
FOLDER_SCAN_INTERVAL = 0.5
# Inputs of a built-in template this small (characters + items, counted up to
# the limit) render on the event loop; larger ones go to the worker pool.
INLINE_INPUT_BUDGET = 20_000
# Ids per SQL statement when many templates are looked up at once.
SQL_CHUNK = 400

Ref = tuple  # (template id, version or None for the latest)


def _search_text(doc: dict) -> str:
    return " ".join([doc.get("id", ""), doc.get("title", ""), doc.get("description", ""), " ".join(doc.get("tags", []))]).lower()


def summary(template: Template, source: str, **extra) -> dict:
    out = {
        "kind": "cell",
        "id": template.id,
        "version": template.version,
        "title": template.title,
        "description": template.description,
        "category": template.category,
        "tags": list(template.tags),
        "source": source,
        "locked": template.locked,
        "assistant_test": (template.assistant or {}).get("test"),
    }
    out.update(extra)
    return out


def _doc_summary(doc: dict, source: str, **extra) -> dict:
    """``summary`` of a stored document that no longer loads (its fields as stored)."""
    out = {
        "kind": "cell", "id": doc.get("id"), "version": doc.get("version"), "title": doc.get("title"),
        "description": doc.get("description", ""), "category": doc.get("category", "general"),
        "tags": list(doc.get("tags", [])), "source": source, "locked": bool(doc.get("locked", False)),
        "assistant_test": (doc.get("assistant") or {}).get("test"),
    }
    out.update(extra)
    return out


def _row_summary(row: dict) -> dict:
    return {
        "kind": "cell", "id": row["id"], "version": row["latest_version"], "title": row["title"], "description": row["description"],
        "category": row["category"], "tags": json.loads(row["tags"]), "source": "user", "locked": bool(row["locked"]),
        "assistant_test": row["assistant_test"], "author": row["author"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "retired_at": row["retired_at"],
    }


def _row_values(template: Template) -> dict:
    """The listing columns of a user template's head row."""
    doc = template.to_dict()
    return {
        "title": template.title, "description": template.description, "category": template.category,
        "tags": json.dumps(list(template.tags)), "locked": int(template.locked),
        "assistant_test": (template.assistant or {}).get("test"), "search": _search_text(doc),
    }


def _cell_metadata_problems(template: Template) -> list[dict]:
    """Extra cell metadata a template gives its cells must be valid nbformat cell metadata."""
    import nbformat

    problems = []
    for i, cell in enumerate(template.cells):
        if not cell.get("metadata"):
            continue
        new_cell = nbformat.v4.new_code_cell if cell["cell_type"] == "code" else nbformat.v4.new_markdown_cell
        try:
            new_cell("", metadata=template.cell_metadata(i))  # validates the cell
        except nbformat.ValidationError as exc:
            problems.append({"path": f"/cells/{i}/metadata", "message": f"is not valid notebook cell metadata: {exc.message[:200]}"})
    return problems


def parse_user_document(doc, version: int = 1) -> Template:
    """A user document, fully checked, as ``version`` (a ``version`` it carries is ignored).

    The expensive part of creating or updating a template (schema, sources, every
    example validated and rendered): callers run it in the worker pool.
    """
    if isinstance(doc, dict):
        doc = {**{k: v for k, v in doc.items() if k != "version"}, "version": version}
    template = Template.from_dict(doc)
    errors = _cell_metadata_problems(template)
    if errors:
        raise TemplateError("the template document is invalid", errors)
    return template


def _load_stored(tid: str, version: int, text: str) -> Template:
    try:
        return Template.from_dict(json.loads(text))
    except TemplateError as exc:
        # Stored before a check that now refuses it (a pattern the linear-time engine cannot run).
        raise TemplateError(f"template {tid!r} version {version} no longer loads: {exc.message}", exc.errors) from None


def _load_stored_many(docs: dict) -> dict:
    """``{(tid, version): Template | TemplateError}`` for ``{(tid, version): stored JSON}`` (runs in the pool)."""
    out = {}
    for (tid, version), text in docs.items():
        try:
            out[(tid, version)] = _load_stored(tid, version, text)
        except TemplateError as exc:
            out[(tid, version)] = exc
    return out


def _small(value, budget: int = INLINE_INPUT_BUDGET) -> bool:
    """Whether a JSON-like value weighs at most ``budget`` (characters + items); stops counting past it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            budget -= len(item) + 1
        elif isinstance(item, dict):
            budget -= 2 * len(item) + 1
            if budget >= 0:
                budget -= sum(len(k) for k in item if isinstance(k, str))
                stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            budget -= len(item) + 1
            if budget >= 0:
                stack.extend(item)
        else:
            budget -= 1
        if budget < 0:
            return False
    return True


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class _FolderLibrary:
    """Templates read from administrators' folders, re-read when a file changes.

    A *scan* lists each folder once (``os.scandir``, a stat per ``*.json`` file) and
    runs at most once per ``scan_interval`` seconds, whatever the number of
    lookups. When the listing's signature (names, inodes, mtimes, sizes) differs
    from the one the served state was built from, the changed files are read and
    validated in the worker pool; lookups keep answering from the previous state
    until that finishes, and the next lookup after it installs the new state.
    A file that fails validation is skipped with a warning, or, if an earlier
    version of it loaded, keeps serving that version (with a warning).
    """

    def __init__(self, folders, log: logging.Logger, scan_interval: float = FOLDER_SCAN_INTERVAL):
        self.folders = [Path(f).expanduser() for f in folders]
        self.log = log
        self.scan_interval = scan_interval
        self._lock = threading.RLock()
        self._scanned_at = -math.inf
        self._signature = None  # of the last scan
        self._loading: Future | None = None  # the reload in flight
        self._built_from = None  # signature the served state was built from
        self._files: dict[str, tuple] = {}  # path -> (stamp, Template | None, problem | None); the loader's own
        self.templates: dict[str, Template] = {}
        self.problems: list[dict] = []
        self.scans = 0  # scans made so far (for tests and benchmarks)

    # -- on the caller's thread (the event loop): cheap ---------------------------

    def start(self) -> None:
        """Scan now and start the first load in the pool (the server calls this as it starts)."""
        if self.folders:
            self._maybe_scan(force=True)

    def current(self, reserved) -> dict[str, Template]:
        """The served templates. ``reserved(ids)`` returns the ids taken by other sources.

        Before the first load has finished there is no previous state to serve:
        async callers ``await`` :meth:`first_load` first; a synchronous caller on
        the main thread (the event loop's) waits for it, which can only happen to a
        request arriving while the server starts; other threads get what there is.
        """
        if not self.folders:
            return self.templates
        loading = self._maybe_scan()
        if loading is not None and self._built_from is None and threading.current_thread() is threading.main_thread():
            try:
                loading.result()
            except Exception:
                pass  # reported by _install
        if loading is not None and loading.done():
            self._install(loading, reserved)
        return self.templates

    def _maybe_scan(self, force: bool = False) -> Future | None:
        """Scan unless the last scan is recent; start a load when the folders changed. The load in flight."""
        with self._lock:
            now = time.monotonic()
            if force or now - self._scanned_at >= self.scan_interval:
                self._scanned_at = now
                self._signature = self._scan()
                if self._signature != self._built_from and self._loading is None:
                    self._loading = pool().submit(self._load, self._signature)
            return self._loading

    def first_load(self) -> Future | None:
        """The load to wait for before anything can be served, if it is still running."""
        with self._lock:
            return self._loading if self._built_from is None else None

    def _scan(self):
        signature = []
        for folder in self.folders:
            try:
                with os.scandir(folder) as entries:
                    files = []
                    for entry in entries:
                        if entry.name.endswith(".json") and entry.is_file():
                            st = entry.stat()
                            files.append((entry.name, st.st_ino, st.st_mtime_ns, st.st_size))
                signature.append((str(folder), tuple(sorted(files))))
            except OSError:
                signature.append((str(folder), None))
        self.scans += 1
        return tuple(signature)

    def _install(self, loading: Future, reserved) -> None:
        with self._lock:
            if self._loading is not loading:  # installed by another caller meanwhile
                return
            self._loading = None
            try:
                signature, found, problems = loading.result()
            except Exception:  # a bug in the loader: keep serving what we had, try again on the next scan
                self.log.exception("Datadive: reading the template folders failed")
                self._scanned_at = -math.inf
                return
            taken = reserved(list(found)) if reserved is not None and found else set()
            for tid in sorted(taken):
                file = found[tid][1]
                problems.append({"path": file, "message": f"id {tid!r} is already used; skipped"})
                self.log.warning("Datadive template folder: %s: id %r is already used by another source; skipped", file, tid)
            self.templates = {tid: t for tid, (t, _) in found.items() if tid not in taken}
            self.problems = problems
            self._built_from = signature
            if self._signature != signature:  # changed again while loading
                self._loading = pool().submit(self._load, self._signature)

    # -- in the worker pool --------------------------------------------------------

    def _load(self, signature):
        """``(signature, {id: (Template, file)}, problems)``: changed files read and validated again."""
        files: dict[str, tuple] = {}
        found: dict[str, tuple] = {}
        problems: list[dict] = []
        for folder, listing in signature:
            for name, *stamp in listing or ():
                path = os.path.join(folder, name)
                old = self._files.get(path)
                if old is not None and old[0] == tuple(stamp):
                    entry = old
                else:
                    template, problem = self._read(path)
                    if problem is not None:
                        kept = old[1] if old is not None else None
                        details = "; ".join(f"{e['path']}: {e['message']}" for e in problem.get("errors", [])[:5])
                        self.log.warning(
                            "Datadive template folder: %s: %s%s%s", path, problem["message"], f" ({details})" if details else "",
                            f"; keeping the version read before (template {kept.id!r})" if kept is not None else "; skipped",
                        )
                        template = kept
                    entry = (tuple(stamp), template, problem)
                files[path] = entry
                _, template, problem = entry
                if problem is not None:
                    problems.append(problem)
                if template is None:
                    continue
                if template.id in found:
                    problems.append({"path": path, "message": f"id {template.id!r} is already used; skipped"})
                    continue
                found[template.id] = (template, path)
        self._files = files
        return signature, found, problems

    @staticmethod
    def _read(path: str):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.loads(f.read(), parse_constant=_refuse_constant)
            return Template.from_dict(doc, trusted=True, linear=True), None
        except RecursionError:
            return None, {"path": path, "message": "unreadable: nested too deeply"}
        except (OSError, ValueError) as exc:
            return None, {"path": path, "message": f"unreadable: {exc}"}
        except TemplateError as exc:
            return None, {"path": path, "message": exc.message, "errors": exc.errors}


class TemplateService:
    """The template library of the server. Other services call it publicly:

    - ``await resolve_async(tid, version)`` / ``await resolve_many(refs)`` to look
      templates up (a request should resolve each distinct template once);
    - ``await render_async(tid, inputs, version)``, ``await validate_async(...)`` and
      ``await rerender_async(cell, template, inputs, force)`` to run a template
      where it belongs (the worker pool, or inline for a small built-in render);
    - ``await run_for(template, inputs, fn, *args)`` for any other work on a template.
    """

    def __init__(self, store: Store, template_folders=(), log: logging.Logger | None = None, admins=frozenset(),
                 scan_interval: float = FOLDER_SCAN_INTERVAL):
        self.store = store
        self.log = log or logging.getLogger("datadive_ext")
        self.folders = _FolderLibrary(template_folders, self.log, scan_interval)
        self.admins = frozenset(admins)
        self._parsed: dict[tuple[str, int], Template] = {}
        self._parsed_lock = threading.Lock()

    @functools.cached_property
    def builtin(self) -> dict[str, Template]:
        """The built-in library, loaded on first use (not while the server starts)."""
        return builtin_templates()

    def start(self) -> None:
        """Begin reading the template folders in the worker pool."""
        self.folders.start()

    async def ready(self) -> None:
        """Wait (without blocking the event loop) until the folders have been read once."""
        loading = self.folders.first_load()
        if loading is not None:
            await asyncio.wait([asyncio.wrap_future(loading)])  # a failed load is logged when installed

    # -- lookups (event loop, cheap) ------------------------------------------------------

    def _path_templates(self) -> dict[str, Template]:
        return self.folders.current(self._taken_ids)

    def _taken_ids(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` a built-in or a stored user template already uses (one statement per chunk)."""
        taken = {tid for tid in ids if tid in self.builtin}
        rest = [tid for tid in ids if tid not in taken]
        for i in range(0, len(rest), SQL_CHUNK):
            chunk = rest[i : i + SQL_CHUNK]
            rows = self.store.query(f"SELECT id FROM templates WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            taken.update(row["id"] for row in rows)
        return taken

    def _user_row(self, tid: str) -> dict | None:
        return self.store.one("SELECT * FROM templates WHERE id = ?", [tid])

    def _user_heads(self, ids) -> dict[str, int]:
        """``{id: latest_version}`` of the stored user templates among ``ids``."""
        ids, heads = sorted(ids), {}
        for i in range(0, len(ids), SQL_CHUNK):
            chunk = ids[i : i + SQL_CHUNK]
            rows = self.store.query(f"SELECT id, latest_version FROM templates WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            heads.update((row["id"], row["latest_version"]) for row in rows)
        return heads

    def _cached(self, key) -> Template | None:
        with self._parsed_lock:
            template = self._parsed.pop(key, None)
            if template is not None:
                self._parsed[key] = template  # most recently used last
            return template

    def _remember(self, key, template: Template) -> None:
        """Versions never change, so a parsed one is kept (LRU)."""
        with self._parsed_lock:
            self._parsed.pop(key, None)
            self._parsed[key] = template
            while len(self._parsed) > PARSED_CACHE_SIZE:
                self._parsed.pop(next(iter(self._parsed)))

    def _stored_docs(self, keys) -> dict:
        """``{(tid, version): stored JSON}`` for the keys that exist (one statement per chunk)."""
        keys, out = sorted(keys), {}
        for i in range(0, len(keys), SQL_CHUNK):
            chunk = keys[i : i + SQL_CHUNK]
            rows = self.store.query(
                "SELECT template_id, version, doc FROM template_versions WHERE (template_id, version) IN"
                f" (VALUES {', '.join(['(?, ?)'] * len(chunk))})",
                [v for key in chunk for v in key],
            )
            out.update(((row["template_id"], row["version"]), row["doc"]) for row in rows)
        return out

    def _user_template(self, tid: str, version: int) -> Template | None:
        """A stored version, parsed here (synchronous callers) unless cached."""
        key = (tid, version)
        template = self._cached(key)
        if template is None:
            text = self._stored_docs([key]).get(key)
            if text is None:
                return None
            template = _load_stored(tid, version, text)
            self._remember(key, template)
        return template

    async def _user_templates_async(self, keys) -> dict:
        """``{(tid, version): Template | TemplateError}``: cached ones at once, the others
        read in one statement and parsed together in the worker pool."""
        out, missing = {}, []
        for key in set(keys):
            template = self._cached(key)
            if template is None:
                missing.append(key)
            else:
                out[key] = template
        if missing:
            docs = self._stored_docs(missing)
            if docs:
                for key, result in (await run_blocking(_load_stored_many, docs)).items():
                    if isinstance(result, Template):
                        self._remember(key, result)
                    out[key] = result
        return out

    def source_of(self, tid: str) -> str | None:
        if tid in self.builtin:
            return "builtin"
        if tid in self._path_templates():
            return "path"
        if self._user_row(tid):
            return "user"
        return None

    def _shipped(self, tid: str):
        """``(template, source)`` for a built-in or folder template, else None."""
        if tid in self.builtin:
            return self.builtin[tid], "builtin"
        template = self._path_templates().get(tid)
        return (template, "path") if template is not None else None

    _NO_INFO = {"author": None, "created_at": None, "updated_at": None, "retired_at": None}

    @staticmethod
    def _no_version(tid, version):
        return NotFound(f"template {tid} has no version {version}", [{"path": "/version", "message": "no such version"}], code="version_not_found")

    def _head(self, tid: str, version):
        """``(row, version)`` of a user template; NotFound when it or the version does not exist."""
        row = self._user_row(tid)
        if row is None:
            raise NotFound(f"no template {tid!r}", code="template_not_found")
        if version is not None and version > row["latest_version"]:
            raise self._no_version(tid, version)
        return row, version or row["latest_version"]

    @staticmethod
    def _info(row: dict) -> dict:
        info = {k: row[k] for k in ("author", "created_at", "updated_at", "retired_at")}
        info["latest_version"] = row["latest_version"]
        return info

    def resolve(self, tid: str, version: int | None = None) -> tuple[Template, str, dict]:
        """``(template, source, info)`` for a version (default: the latest); NotFound otherwise.

        Synchronous: a stored version that is not cached is parsed on the calling
        thread. Code on the event loop should use ``resolve_async`` or ``resolve_many``.
        """
        shipped = self._shipped(tid)
        if shipped is not None:
            template, source = shipped
            if version is not None and version != template.version:
                raise self._no_version(tid, version)
            return template, source, dict(self._NO_INFO)
        row, version = self._head(tid, version)
        template = self._user_template(tid, version)
        if template is None:
            raise self._no_version(tid, version)
        return template, "user", self._info(row)

    async def resolve_async(self, tid: str, version: int | None = None) -> tuple[Template, str, dict]:
        """``resolve``, with a stored version parsed in the worker pool when it is not cached.

        Raises NotFound (``template_not_found`` / ``version_not_found``), or
        TemplateError when a stored version no longer loads.
        """
        await self.ready()
        shipped = self._shipped(tid)
        if shipped is not None:
            return self.resolve(tid, version)
        row, version = self._head(tid, version)
        result = (await self._user_templates_async([(tid, version)])).get((tid, version))
        if result is None:
            raise self._no_version(tid, version)
        if isinstance(result, TemplateError):
            raise result
        return result, "user", self._info(row)

    async def resolve_many(self, refs: Iterable) -> dict[tuple, Template | None]:
        """Many templates at once, for one request: ``{(tid, version): Template or None}``.

        ``refs`` holds ids (the latest version) or ``(id, version)`` pairs, version
        None meaning the latest; the answer is keyed by ``(id, version)`` as asked.
        None stands for a template or version that does not exist (or a stored
        version that no longer loads). Whatever the number of refs: the folders
        are scanned at most once, two SQL statements (per 400 ids) are made, and
        the stored versions not in the cache are parsed in one pool job.
        """
        await self.ready()
        wanted = {(r, None) if isinstance(r, str) else (r[0], r[1]) for r in refs}
        out: dict[tuple, Template | None] = {}
        folder = self._path_templates()
        user: dict[tuple, None] = {}
        for tid, version in wanted:
            template = self.builtin.get(tid) or folder.get(tid)
            if template is not None:
                out[(tid, version)] = template if version in (None, template.version) else None
            else:
                user[(tid, version)] = None
        heads = self._user_heads({tid for tid, _ in user}) if user else {}
        keys = {}
        for tid, version in user:
            latest = heads.get(tid)
            valid = version is None or (type(version) is int and 1 <= version <= (latest or 0))
            if latest is None or not valid:
                out[(tid, version)] = None
            else:
                keys[(tid, version)] = (tid, version or latest)
        loaded = await self._user_templates_async(keys.values()) if keys else {}
        for ref, key in keys.items():
            result = loaded.get(key)
            out[ref] = result if isinstance(result, Template) else None
        return out

    # -- running a template (pool or inline) ---------------------------------------------

    def runs_inline(self, template: Template, inputs=None) -> bool:
        """Whether work on ``template`` is cheap enough for the event loop: a built-in
        template whose sources are compiled, with small inputs."""
        return self.builtin.get(template.id) is template and template.prepared and _small(inputs)

    async def run_for(self, template: Template, inputs, fn, *args):
        """``fn(*args)``, inline if ``runs_inline(template, inputs)``, else in the worker pool."""
        if self.runs_inline(template, inputs):
            return fn(*args)
        return await run_blocking(fn, *args)

    async def render_async(self, tid: str, inputs, version: int | None = None) -> list[dict]:
        """The cells a template makes from ``inputs`` (validated first), as ``Template.render``."""
        template, _, _ = await self.resolve_async(tid, version)
        return await self.run_for(template, inputs, template.render, inputs)

    async def validate_async(self, tid: str, inputs, version: int | None = None) -> dict:
        """The inputs with defaults applied, as ``Template.validate_inputs`` (InputError otherwise)."""
        template, _, _ = await self.resolve_async(tid, version)
        return await self.run_for(template, inputs, template.validate_inputs, inputs)

    async def rerender_async(self, cell: dict, template: Template, inputs=None, force: bool = False) -> dict:
        """``cell_templates.rerender(cell, template, inputs, force)`` where it belongs."""
        weight = inputs if inputs is not None else ((cell.get("metadata") or {}).get("datadive") or {}).get("inputs")
        return await self.run_for(template, weight, rerender, cell, template, inputs, force)

    # -- reading -----------------------------------------------------------------------

    def get(self, tid: str, version: int | None = None) -> dict:
        template, source, info = self.resolve(tid, version)
        latest = info.pop("latest_version", template.version)
        return summary(template, source, latest_version=latest, **info, document=template.to_dict())

    async def get_async(self, tid: str, version: int | None = None) -> dict:
        """A template's summary and document. A stored version that no longer loads is
        still readable (as stored), so its author can fix it with a new version."""
        try:
            template, source, info = await self.resolve_async(tid, version)
        except TemplateError:
            row, version = self._head(tid, version)
            doc = json.loads(self._stored_docs([(tid, version)])[(tid, version)])
            info = self._info(row)
            latest = info.pop("latest_version")
            return _doc_summary(doc, "user", latest_version=latest, **info, document=doc)
        latest = info.pop("latest_version", template.version)
        return summary(template, source, latest_version=latest, **info, document=template.to_dict())

    def versions(self, tid: str) -> list[dict]:
        shipped = self._shipped(tid)
        if shipped is not None:
            return [{"version": shipped[0].version, "author": None, "created_at": None}]
        self._head(tid, None)
        return self.store.query(
            "SELECT version, author, created_at FROM template_versions WHERE template_id = ? ORDER BY version", [tid]
        )

    async def versions_async(self, tid: str) -> list[dict]:
        await self.ready()
        return self.versions(tid)

    def list(self, *, category=None, tag=None, q=None, source=None, retired=False, limit=50, cursor=None) -> Page:
        """Summaries sorted by id, filtered, one page at a time (keyset on id)."""
        if source is not None and source not in SOURCES:
            raise Invalid("unknown source", [{"path": "/source", "message": "must be one of " + ", ".join(SOURCES)}])
        after = decode_cursor(cursor, (str,))[0] if cursor else ""
        needle = (q or "").strip().lower()
        items: list[dict] = []
        for src, library in (("builtin", self.builtin), ("path", self._path_templates())):
            if source not in (None, src):
                continue
            for tid, t in library.items():
                if tid <= after:
                    continue
                if category and t.category != category:
                    continue
                if tag and tag not in t.tags:
                    continue
                if needle and needle not in _search_text({"id": t.id, "title": t.title, "description": t.description, "tags": t.tags}):
                    continue
                items.append(summary(t, src))
        if source in (None, "user"):
            sql = ["SELECT id, latest_version, title, description, category, tags, locked, assistant_test, author,"
                   " created_at, updated_at, retired_at FROM templates WHERE id > ?"]
            params: list = [after]
            if not retired:
                sql.append("AND retired_at IS NULL")
            if category:
                sql.append("AND category = ?")
                params.append(category)
            if tag:
                sql.append("AND EXISTS (SELECT 1 FROM json_each(templates.tags) WHERE value = ?)")
                params.append(tag)
            if needle:
                sql.append("AND instr(search, ?) > 0")
                params.append(needle)
            sql.append("ORDER BY id LIMIT ?")
            params.append(limit + 1)
            items.extend(_row_summary(row) for row in self.store.query(" ".join(sql), params))
        items.sort(key=lambda s: s["id"])
        page = items[:limit]
        next_cursor = encode_cursor([page[-1]["id"]]) if len(items) > limit else None
        return Page(page, next_cursor)

    async def list_async(self, **filters) -> Page:
        await self.ready()
        return self.list(**filters)

    # -- writing (user templates only) ------------------------------------------------------
    #
    # The checks of a document (``parse_user_document``) run in the worker pool in the
    # ``*_async`` methods, and so do the transactions (``Store.write``: ``BEGIN IMMEDIATE``
    # may wait for a lock); each transaction checks again what may have changed while
    # the document was being checked. The synchronous methods do both on the calling
    # thread, for scripts and tests.

    def _insert_new(self, template: Template, user: str) -> None:
        """In a transaction: the rows of a new user template."""
        if self.source_of(template.id) is not None:
            raise Conflict(f"a template with id {template.id!r} already exists", [{"path": "/id", "message": "already exists"}], code="template_exists")
        now = utcnow()
        self.store.db.insert("templates", {
            "id": template.id, "latest_version": 1, "author": user, **_row_values(template),
            "created_at": now, "updated_at": now, "retired_at": None,
        })
        self.store.db.insert("template_versions", {
            "template_id": template.id, "version": 1, "doc": json.dumps(template.to_dict()), "author": user, "created_at": now,
        })

    def create(self, doc, user: str) -> dict:
        """Create a user template (checks on the calling thread; the server uses ``create_async``)."""
        template = parse_user_document(doc)
        with self.store.transaction():
            self._insert_new(template, user)
        self._remember((template.id, 1), template)
        return self.get(template.id)

    async def create_async(self, doc, user: str) -> dict:
        await self.ready()
        template = await run_blocking(parse_user_document, doc)
        await self.store.write(self._insert_new, template, user)
        self._remember((template.id, 1), template)
        return self.get(template.id)

    def _writable(self, tid: str, user: str) -> dict:
        source = self.source_of(tid)
        if source is None:
            raise NotFound(f"no template {tid!r}", code="template_not_found")
        if source != "user":
            raise Forbidden(f"template {tid!r} comes from the {source} library, which is read-only; create a copy under another id to change it", code="read_only")
        row = self._user_row(tid)
        if user != row["author"] and user not in self.admins:
            raise Forbidden(f"only the author of template {tid!r} ({row['author']}) or the server owner may change it", code="not_author")
        return row

    def _check_update(self, tid: str, user: str, if_match: int | None) -> int:
        """The version an update would create; the refusals that need no document first."""
        row = self._writable(tid, user)
        if row["retired_at"]:
            raise Conflict(f"template {tid!r} is retired", code="template_retired")
        if if_match is None:
            raise Stale("an update needs If-Match with the version it replaces", [{"path": "/headers/If-Match", "message": "is required"}], code="if_match_required")
        if if_match != row["latest_version"]:
            raise Stale(f"template {tid!r} is at version {row['latest_version']}, not {if_match}", [{"path": "/headers/If-Match", "message": f"current version is {row['latest_version']}"}])
        return row["latest_version"] + 1

    def _insert_version(self, tid: str, template: Template, user: str, if_match: int) -> None:
        """In a transaction: a new version, if the template is still at ``if_match`` and not retired."""
        version = template.version
        now = utcnow()
        values = {**_row_values(template), "latest_version": version, "updated_at": now}
        changed = self.store.execute(
            "UPDATE templates SET " + ", ".join(f"{k} = ?" for k in values) + " WHERE id = ? AND latest_version = ? AND retired_at IS NULL",
            [*values.values(), tid, if_match],
        ).rowcount
        if not changed:
            raise Stale(f"template {tid!r} changed meanwhile", [{"path": "/headers/If-Match", "message": "is stale"}])
        self.store.db.insert("template_versions", {"template_id": tid, "version": version, "doc": json.dumps(template.to_dict()), "author": user, "created_at": now})

    @staticmethod
    def _same_id(tid: str, template: Template) -> None:
        if template.id != tid:
            raise Invalid("the document's id must match the URL", [{"path": "/id", "message": f"must be {tid!r}"}])

    def update(self, tid: str, doc, user: str, if_match: int | None) -> dict:
        """Store a new version (checks on the calling thread; the server uses ``update_async``)."""
        template = parse_user_document(doc, self._check_update(tid, user, if_match))
        self._same_id(tid, template)
        with self.store.transaction():
            self._insert_version(tid, template, user, if_match)
        self._remember((tid, template.version), template)
        return self.get(tid)

    async def update_async(self, tid: str, doc, user: str, if_match: int | None) -> dict:
        await self.ready()
        version = self._check_update(tid, user, if_match)
        template = await run_blocking(parse_user_document, doc, version)
        self._same_id(tid, template)
        await self.store.write(self._insert_version, tid, template, user, if_match)
        self._remember((tid, version), template)
        return self.get(tid)

    def _retire_row(self, tid: str) -> None:
        now = utcnow()
        self.store.execute("UPDATE templates SET retired_at = ?, updated_at = ? WHERE id = ? AND retired_at IS NULL", [now, now, tid])

    def retire(self, tid: str, user: str) -> None:
        if not self._writable(tid, user)["retired_at"]:
            with self.store.transaction():
                self._retire_row(tid)

    async def retire_async(self, tid: str, user: str) -> None:
        await self.ready()
        if not self._writable(tid, user)["retired_at"]:
            await self.store.write(self._retire_row, tid)

    def render(self, tid: str, inputs, version: int | None = None) -> list[dict]:
        """Synchronous render (on the calling thread); the server uses ``render_async``."""
        template, _, _ = self.resolve(tid, version)
        return template.render(inputs)
