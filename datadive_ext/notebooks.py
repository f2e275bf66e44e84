"""Access to the notebooks of projects: path, lock, load / save with a cache, ETag, live rooms.

``NotebookAccess`` is what the cell service (and anything else that reads or
writes a notebook's cells) uses:

- ``path(pid, user, nb, needed)``: the contents path of a notebook in a project,
  checked (the user's role, the project folder, the notebook's existence);
- ``lock(path)``: a per-notebook ``asyncio.Lock`` serialising this server's own
  reads and writes of a notebook, so none loses another's update;
- ``load(path)`` / ``save(path, loaded)``: read and write through the server's
  contents manager. The copy kept from the last access is used again while the
  file's stamp (``last_modified``, ``size`` and content hash, as the contents
  manager reports them) is unchanged;
- the ETag of a notebook: its content hash when the contents manager gives one,
  else its time and size, so a write by anyone (this API, JupyterLab, the
  contents REST API) changes it;
- ``live(path)``: the shared document of the notebook's live collaboration room
  (jupyter-collaboration), when someone has it open. Rooms are never created
  from here. ``LiveNotebook`` lets cell operations edit it like a notebook; the
  ETag of a live notebook is derived from the document's state vector, which
  every change by anyone in the room moves on.

Large notebooks on jupyter_server's own file contents managers take a direct
path (``direct_bytes``): the file is read and written through the same contents
manager as text (``type: "file"``), and the parsing, serialising, validation and
signature hashing that ``cm.get`` / ``cm.save`` of a notebook would do on the
event loop run in the worker pool instead. The notebook's trust is kept as those
calls keep it: the signature is checked against the notary's store when the
notebook is read and stored again after a write that the notary would sign. Any
other contents manager (jupytext's, S3, a database), and a file manager with save
hooks, always gets whole-notebook ``get`` / ``save`` calls (see docs/server.md).

Contents-manager failures caused by other clients become client errors here
(``errors.contents_error``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass

import nbformat
from jupyter_core.utils import ensure_async
from jupyter_server.utils import ApiPath, to_os_path

from .cellops import ensure_ids, plain
from .errors import NotFound, Stale, contents_error
from .offload import run_blocking, run_io

# A notebook of more cells than this that a contents manager returns as plain JSON is
# converted to nbformat's NotebookNode in the worker pool.
OFFLOAD_CELLS = 200
# Notebook files of at least this many bytes take the direct path (module docstring).
DIRECT_BYTES = 256 * 1024
_UNSAFE_OUTPUTS = frozenset({"execute_result", "display_data"})


@dataclass
class Loaded:
    """A notebook as read from the contents manager: its content, the file's stamp and ETag.

    ``signed``: on the direct path, whether the notary's store held the notebook's
    signature when it was read (None on the whole-notebook path, where the contents
    manager itself signs).
    """

    nb: nbformat.NotebookNode
    stamp: tuple
    etag: str
    signed: bool | None = None


def _direct_capable(cm) -> bool:
    """jupyter_server's own file contents managers (not subclasses) without save hooks."""
    from jupyter_server.services.contents.filemanager import AsyncFileContentsManager, FileContentsManager

    if not isinstance(cm, (FileContentsManager, AsyncFileContentsManager)) or not type(cm).__module__.startswith("jupyter_server."):
        return False
    hooks = (cm.pre_save_hook, cm.post_save_hook, getattr(cm, "_pre_save_hooks", None), getattr(cm, "_post_save_hooks", None))
    return not any(hooks)


def _parse(text: str, notary) -> tuple[nbformat.NotebookNode, str | None]:
    """(worker pool) The notebook in ``text`` and its signature digest, as ``cm.get`` computes it."""
    nb = nbformat.reads(text, as_version=4)
    return nb, (notary.compute_signature(nb) if notary is not None else None)


def _serialise(nb, notary, sign: bool) -> tuple[str, str | None]:
    """(worker pool) The file text of ``nb`` (validated as ``cm.save`` validates) and, when
    it is to be signed, the digest of the notebook as it will be read back."""
    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    digest = notary.compute_signature(nbformat.reads(text, as_version=4)) if sign and notary is not None else None
    return text, digest


def _write_file(cm, os_path: str, text: str) -> None:
    """(worker pool) What the file contents manager's ``save`` of a text file does: the
    bytes through its ``atomic_writing`` (a backup copy, fsync, rename; 403 on a
    permission error)."""
    data = text.encode("utf-8")
    with cm.atomic_writing(os_path, text=False) as f:
        f.write(data)


class _SignatureStores:
    """The notary's SQLite store used from one thread of its own.

    nbformat's signature store holds an SQLite connection bound to the thread that
    made it (the event loop's), and each stored signature is a commit with an fsync.
    The same database file is opened again here, in a single dedicated thread, so
    that checking and storing signatures does not wait on the disk inside the loop.
    A notary whose store is not an SQLite file (``:memory:``, another store class) is
    used as it is, on the loop.
    """

    def __init__(self):
        self._pool = None
        self._stores: dict[str, object] = {}

    def _separate(self, notary) -> bool:
        from nbformat.sign import SQLiteSignatureStore

        return isinstance(notary.store, SQLiteSignatureStore) and notary.db_file not in ("", ":memory:")

    def _store(self, db_file: str):
        from nbformat.sign import SQLiteSignatureStore

        store = self._stores.get(db_file)
        if store is None:
            store = self._stores[db_file] = SQLiteSignatureStore(db_file)
        return store

    async def call(self, notary, method: str, digest: str):
        if not self._separate(notary):
            return getattr(notary.store, method)(digest, notary.algorithm)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="datadive_notary")
        db_file, algorithm = notary.db_file, notary.algorithm
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, lambda: getattr(self._store(db_file), method)(digest, algorithm))


SIGNATURES = _SignatureStores()


def _no_unsafe_outputs(nb) -> bool:
    """What the notary's cell check says of cells that carry no trust mark: no rich output."""
    return not any(
        out.get("output_type") in _UNSAFE_OUTPUTS
        for cell in nb.cells if cell.get("cell_type") == "code"
        for out in cell.get("outputs") or ()
    )


def _stamp(model: dict) -> tuple:
    return (str(model.get("last_modified")), model.get("size"), model.get("hash"))


def _etag(model: dict) -> str:
    """The file's content hash when the contents manager gives one, else its time and size."""
    raw = model.get("hash") or f"{model.get('last_modified')}|{model.get('size')}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def live_etag(ynb) -> str:
    return '"y' + hashlib.sha256(ynb.ydoc.get_state()).hexdigest()[:31] + '"'


def check_etag(etag: str, if_match: str | None) -> None:
    """412 ``stale`` unless ``If-Match`` is absent, ``*`` or names ``etag``."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if etag not in wanted:
        raise Stale(
            "the notebook changed since you read it; read it again and retry",
            [{"path": "/headers/If-Match", "message": "does not match the notebook's current ETag"}],
        )


class NotebookAccess:
    def __init__(self, projects, log=None, ydoc_app=None, *, direct_bytes: int = DIRECT_BYTES):
        self.projects = projects
        self.cm = projects.cm
        self.log = log
        self.direct_bytes = direct_bytes
        self._direct = _direct_capable(self.cm)
        self._ydoc_app = ydoc_app or (lambda: None)
        self._hashes = True  # whether the contents manager takes require_hash
        self._locks: dict[str, asyncio.Lock] = {}
        self._cache: dict[str, Loaded] = {}

    # -- where ----------------------------------------------------------------------------

    async def path(self, pid: str, user: str, nb: str, needed: str) -> str:
        """The contents path of notebook ``nb`` of project ``pid``; 404 ``notebook_not_found`` if there is none."""
        row, _ = await self.projects.folder(pid, user, needed)
        path = self.projects.notebook_path(row, nb, "/nb")
        if not await self.projects.is_notebook(path):
            raise NotFound(f"no notebook {nb!r} in this project", code="notebook_not_found")
        return path

    def lock(self, path: str) -> asyncio.Lock:
        lock = self._locks.get(path)
        if lock is None:
            lock = self._locks[path] = asyncio.Lock()
        return lock

    # -- through the contents manager ---------------------------------------------------------

    async def _get(self, path: str, **kwargs) -> dict:
        """``cm.get`` asking for the content hash (contents managers without hashes: without)."""
        try:
            if self._hashes:
                try:
                    return await ensure_async(self.cm.get(path, require_hash=True, **kwargs))
                except TypeError:
                    self._hashes = False
            return await ensure_async(self.cm.get(path, **kwargs))
        except Exception as exc:
            raise contents_error(exc, reading=True) or exc

    async def load(self, path: str) -> Loaded:
        """The notebook, from the copy kept since the last access when the file has not changed since."""
        model = await self._get(path, content=False)
        cached = self._cache.get(path)
        if cached is not None and cached.stamp == _stamp(model):
            return cached
        loaded = None
        if self._direct and (model.get("size") or 0) >= self.direct_bytes:
            loaded = await self._load_direct(path)
        if loaded is None:
            full = await self._get(path, content=True, type="notebook", format="json")
            nb = full["content"]
            if not isinstance(nb, nbformat.NotebookNode):
                large = len(nb.get("cells") or ()) > OFFLOAD_CELLS
                nb = await run_blocking(nbformat.from_dict, nb) if large else nbformat.from_dict(nb)
            loaded = Loaded(nb, _stamp(full), _etag(full))
        nb = loaded.nb
        self._cache[path] = loaded
        if ensure_ids(nb):
            # A notebook from before nbformat 4.5 has no cell ids: give it ids and
            # write them back at once, so that ids handed out stay valid.
            await self.save(path, loaded)
        return loaded

    def _notary(self):
        try:
            return self.cm.notary
        except Exception:  # a contents manager without a notary: nothing to sign
            return None

    async def _load_direct(self, path: str) -> Loaded | None:
        """The direct read (module docstring); None when the text is no readable notebook, so
        that the whole-notebook ``get`` reports it (and restores an interrupted atomic write)."""
        full = await self._get(path, content=True, type="file", format="text")
        notary = self._notary()
        try:
            nb, digest = await run_blocking(_parse, full["content"], notary)
        except Exception:
            return None
        signed = False
        if digest is not None:
            try:
                signed = bool(await SIGNATURES.call(notary, "check_signature", digest))
            except Exception:
                if self.log:
                    self.log.warning("Datadive: the signature of %s could not be checked", path, exc_info=True)
        return Loaded(nb, _stamp(full), _etag(full), signed=signed)

    def _os_path(self, path: str) -> str:
        root = os.path.realpath(self.cm.root_dir)
        os_path = to_os_path(ApiPath(path), root)
        if os.path.commonpath([root, os.path.realpath(os.path.dirname(os_path))]) != root:
            raise NotFound(f"no notebook {path!r}", code="notebook_not_found")
        return os_path

    async def _save_direct(self, path: str, loaded: Loaded) -> None:
        """The direct write (module docstring): serialised, validated and written in the worker
        pool as the file contents manager writes a file, then its ``save`` event, then the
        signature, stored when the contents manager's notebook save would store it."""
        notary = self._notary()
        sign = bool(loaded.signed) or _no_unsafe_outputs(loaded.nb)
        os_path = self._os_path(path)

        try:
            text, digest = await run_blocking(_serialise, loaded.nb, notary, sign)
            await run_io(_write_file, self.cm, os_path, text)
        except Exception as exc:
            raise contents_error(exc, reading=False) or exc
        self.cm.emit(data={"action": "save", "path": path})
        if digest is not None:
            try:
                await SIGNATURES.call(notary, "store_signature", digest)
            except Exception:
                if self.log:
                    self.log.warning("Datadive: the signature of %s could not be stored", path, exc_info=True)
        loaded.signed = sign

    async def save(self, path: str, loaded: Loaded) -> str:
        """Write ``loaded.nb`` through the contents manager; returns the new ETag.

        On failure the kept copy is forgotten (the file is as it was, the copy is not),
        and the file is read back at once: a write cut short (a disk that filled up
        part-way) can leave it torn with the contents manager's backup beside it, and
        its next read puts the backup back.
        """
        try:
            if loaded.signed is not None:
                await self._save_direct(path, loaded)
            else:
                try:
                    await ensure_async(self.cm.save({"type": "notebook", "format": "json", "content": loaded.nb}, path))
                except Exception as exc:
                    raise contents_error(exc, reading=False) or exc
            model = await self._get(path, content=False)
        except BaseException as exc:
            self._cache.pop(path, None)
            if not isinstance(exc, asyncio.CancelledError):
                try:
                    await self._get(path, content=True, type="notebook", format="json")
                except Exception:
                    if self.log:
                        self.log.warning("Datadive: %s could not be read back after a failed save", path, exc_info=True)
            raise
        loaded.stamp = _stamp(model)
        loaded.etag = _etag(model)
        return loaded.etag

    def forget(self, path: str) -> None:
        """Drop the kept copy of ``path`` (it was changed in memory without being written)."""
        self._cache.pop(path, None)

    # -- live rooms ---------------------------------------------------------------------------

    async def live(self, path: str):
        """The live room's shared notebook, or None when nobody has it open (no room is created)."""
        app = self._ydoc_app()
        if app is None:
            return None
        try:
            return await app.get_document(path=path, content_type="notebook", file_format="json", copy=False, create=False)
        except Exception:  # no file id yet, collaboration not started: not live
            return None

    async def cells(self, path: str) -> tuple[list, str]:
        """``(cells, etag)`` as they are now: from the live room if there is one, else from the file.

        Live cells are plain dicts read from the shared document (yielding to the event
        loop between cells); file cells are those of the kept copy, valid while the
        caller holds ``lock(path)``.
        """
        ynb = await self.live(path)
        if ynb is None:
            loaded = await self.load(path)
            return loaded.nb.cells, loaded.etag
        for _ in range(3):
            etag = live_etag(ynb)
            cells = (await ynb.aget())["cells"]
            if live_etag(ynb) == etag:  # nobody changed the document while it was read
                return cells, etag
        return ynb.get()["cells"], live_etag(ynb)


class _LiveCell:
    """A shared-document cell read field by field (finding a cell reads only ids)."""

    __slots__ = ("_ynb", "_index")

    def __init__(self, ynb, index: int):
        self._ynb = ynb
        self._index = index

    def get(self, key, default=None):
        value = self._ynb.ycells[self._index].get(key, default)
        return value if isinstance(value, (str, int, float, type(None))) else default

    def to_dict(self) -> dict:
        return self._ynb.get_cell(self._index)


class _LiveCells:
    """The list operations cell changes use, applied to a live room's ``ycells``."""

    def __init__(self, ynb):
        self.ynb = ynb
        self.ycells = ynb.ycells

    def __len__(self):
        return len(self.ycells)

    def __iter__(self):
        return (_LiveCell(self.ynb, i) for i in range(len(self.ycells)))

    def __getitem__(self, index):
        return nbformat.from_dict(self.ynb.get_cell(index))

    def __setitem__(self, index, cell):
        self.ynb.set_cell(index, plain(cell))

    def insert(self, index, cell):
        self.ycells.insert(index, self.ynb.create_ycell(plain(cell)))

    def pop(self, index):
        cell = self[index]
        del self.ycells[index]
        return cell


class LiveNotebook:
    """A live room's shared notebook, with ``cells`` as ``cellops`` expects them.

    Use it inside one ``ynb.ydoc.transaction()``, so every open JupyterLab sees an
    operation's changes at once.
    """

    def __init__(self, ynb):
        self.ynb = ynb
        self._cells = _LiveCells(ynb)

    @property
    def cells(self):
        return self._cells

    @cells.setter
    def cells(self, new_cells):
        values = [c.to_dict() if isinstance(c, _LiveCell) else plain(c) for c in new_cells]  # read before anything is deleted
        ycells = self._cells.ycells
        del ycells[0:len(ycells)]
        for value in values:
            ycells.append(self.ynb.create_ycell(value))
