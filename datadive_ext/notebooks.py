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

Contents-manager failures caused by other clients become client errors here
(``errors.contents_error``).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import nbformat
from jupyter_core.utils import ensure_async

from .cellops import ensure_ids, plain
from .errors import NotFound, Stale, contents_error
from .offload import run_blocking

# A notebook of more cells than this that a contents manager returns as plain JSON is
# converted to nbformat's NotebookNode in the worker pool.
OFFLOAD_CELLS = 200


@dataclass
class Loaded:
    """A notebook as read from the contents manager: its content, the file's stamp and ETag."""

    nb: nbformat.NotebookNode
    stamp: tuple
    etag: str


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
    def __init__(self, projects, log=None, ydoc_app=None):
        self.projects = projects
        self.cm = projects.cm
        self.log = log
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
        full = await self._get(path, content=True, type="notebook", format="json")
        nb = full["content"]
        if not isinstance(nb, nbformat.NotebookNode):
            large = len(nb.get("cells") or ()) > OFFLOAD_CELLS
            nb = await run_blocking(nbformat.from_dict, nb) if large else nbformat.from_dict(nb)
        loaded = Loaded(nb, _stamp(full), _etag(full))
        self._cache[path] = loaded
        if ensure_ids(nb):
            # A notebook from before nbformat 4.5 has no cell ids: give it ids and
            # write them back at once, so that ids handed out stay valid.
            await self.save(path, loaded)
        return loaded

    async def save(self, path: str, loaded: Loaded) -> str:
        """Write ``loaded.nb`` through the contents manager; returns the new ETag.

        On failure the kept copy is forgotten (the file is as it was, the copy is not),
        and the file is read back at once: a write cut short (a disk that filled up
        part-way) can leave it torn with the contents manager's backup beside it, and
        its next read puts the backup back.
        """
        try:
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
