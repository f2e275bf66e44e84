"""Cell operations on one notebook: list, insert, update / re-generate / upgrade, delete, move, reorder, undo.

Every operation runs under a per-notebook lock (so concurrent requests in this
server never lose each other's update), reads the notebook through the contents
manager unless the copy kept from the last operation is still current (same
``last_modified`` and ``size``), checks ``If-Match`` against the notebook's
ETag, applies the change, checks the changed cells with nbformat, writes the
whole notebook back through the contents manager (which writes atomically) and
journals the operation in SQLite.

The ETag is derived from the file's ``last_modified`` and ``size`` as the
contents manager reports them, so a write by anyone (this API, JupyterLab, the
contents REST API) changes it.

When jupyter-collaboration is running and the notebook is open in a live
room, operations are applied to the room's shared document instead, inside one
Yjs transaction, so every open JupyterLab shows them at once (the room saves
the file itself). Rooms are never created from here: a notebook nobody has
open is written through the contents manager. The ETag of a live notebook is
derived from the shared document's state vector, which every change by anyone
in the room moves on.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import sqlite3
import uuid
from dataclasses import dataclass

import nbformat

from cell_templates import CellError, cell_state, provenance, rerender
from cell_templates.cells import decode_inputs

from ..errors import RETRY_AFTER, ApiError, Conflict, Invalid, NotFound, Stale, Unavailable, environment_error
from ..pagination import Page, decode_cursor, encode_cursor
from ..store import Store, utcnow

CELL_TYPES = ("code", "markdown", "raw")


@dataclass
class _Cached:
    nb: nbformat.NotebookNode
    stamp: tuple
    etag: str


def _stamp(model: dict) -> tuple:
    return (str(model.get("last_modified")), model.get("size"), model.get("hash"))


def _etag(model: dict) -> str:
    """The file's content hash when the contents manager gives one, else its time and size."""
    raw = model.get("hash") or f"{model.get('last_modified')}|{model.get('size')}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def _fingerprint(cell: dict) -> str:
    """What identifies a cell's content for undo: type, source, provenance (not outputs)."""
    meta = (cell.get("metadata") or {}).get("datadive")
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return json.dumps([cell.get("cell_type"), source, meta], sort_keys=True, default=str)


def _plain(cell) -> dict:
    return json.loads(json.dumps(cell))


class _LazyCell:
    """A shared-document cell read field by field (finding a cell reads only ids)."""

    __slots__ = ("_ycell",)

    def __init__(self, ycell):
        self._ycell = ycell

    def get(self, key, default=None):
        value = self._ycell.get(key, default)
        return value if isinstance(value, (str, int, float, type(None))) else default


class _LiveCells:
    """The list operations cell changes use, applied to a live room's ``ycells``."""

    def __init__(self, ynb):
        self.ynb = ynb
        self.ycells = ynb.ycells

    def __len__(self):
        return len(self.ycells)

    def __iter__(self):
        return (_LazyCell(y) for y in self.ycells)

    def __getitem__(self, index):
        return nbformat.from_dict(self.ynb.get_cell(index))

    def __setitem__(self, index, cell):
        self.ynb.set_cell(index, _plain(cell))

    def insert(self, index, cell):
        self.ycells.insert(index, self.ynb.create_ycell(_plain(cell)))

    def pop(self, index):
        cell = self[index]
        del self.ycells[index]
        return cell


class _LiveNotebook:
    def __init__(self, ynb):
        self.ynb = ynb
        self._cells = _LiveCells(ynb)

    @property
    def cells(self):
        return self._cells

    @cells.setter
    def cells(self, new_cells):
        plain = [_plain(c) for c in new_cells]
        del self._cells.ycells[0:len(self._cells.ycells)]
        for cell in plain:
            self._cells.ycells.append(self.ynb.create_ycell(cell))


def _live_etag(ynb) -> str:
    return '"y' + hashlib.sha256(ynb.ydoc.get_state()).hexdigest()[:31] + '"'


class CellService:
    def __init__(self, store: Store, projects, templates, log=None, ydoc_app=None):
        self.store = store
        self.projects = projects
        self.templates = templates
        self.cm = projects.cm
        self.log = log
        self._ydoc_app = ydoc_app or (lambda: None)
        self._hashes = True
        self._locks: dict[str, asyncio.Lock] = {}
        self._cache: dict[str, _Cached] = {}

    # -- notebook access -----------------------------------------------------------

    def _lock(self, path: str) -> asyncio.Lock:
        lock = self._locks.get(path)
        if lock is None:
            lock = self._locks[path] = asyncio.Lock()
        return lock

    async def _call(self, fn, *args, **kwargs):
        result = fn(*args, **kwargs)
        if hasattr(result, "__await__"):
            result = await result
        return result

    def start_recovery(self):
        """Settle what a crash left (see ``recover``), once, before any cell request is served."""
        if getattr(self, "_recovery", None) is None:
            self._recovery = asyncio.ensure_future(self.recover())
        return self._recovery

    async def _notebook_path(self, pid: str, user: str, nb: str, needed: str) -> str:
        # Requests wait for the start-up recovery: it may be restoring a notebook a crash
        # left torn, and a second reader of a torn file makes the contents manager lose it.
        recovery = self.start_recovery()
        if not recovery.done():
            await asyncio.shield(recovery)
        row, _ = await self.projects._folder(pid, user, needed)
        path = self.projects.notebook_path(row, nb, "/nb")
        if not await self.projects._is_notebook(path):
            raise NotFound(f"no notebook {nb!r} in this project", code="notebook_not_found")
        return path

    async def _get(self, path: str, **kwargs) -> dict:
        """``cm.get`` asking for the content hash (contents managers without hashes: without)."""
        try:
            if self._hashes:
                try:
                    return await self._call(self.cm.get, path, require_hash=True, **kwargs)
                except TypeError:
                    self._hashes = False
            return await self._call(self.cm.get, path, **kwargs)
        except Exception as exc:
            raise _contents_error(exc) or exc

    async def _load(self, path: str) -> _Cached:
        model = await self._get(path, content=False)
        cached = self._cache.get(path)
        if cached is not None and cached.stamp == _stamp(model):
            return cached
        full = await self._get(path, content=True, type="notebook", format="json")
        nb = full["content"]
        if not isinstance(nb, nbformat.NotebookNode):
            nb = nbformat.from_dict(nb)
        cached = _Cached(nb, _stamp(full), _etag(full))
        self._cache[path] = cached
        if _ensure_ids(nb):
            # A notebook from before nbformat 4.5 has no cell ids: give it ids and
            # write them back at once, so that ids handed out stay valid.
            await self._save(path, cached, [])
        return cached

    async def _save(self, path: str, cached: _Cached, changed: list[dict]) -> str:
        try:
            try:
                await self._call(self.cm.save, {"type": "notebook", "format": "json", "content": cached.nb}, path)
            except Exception as exc:
                raise _contents_error(exc) or exc
            model = await self._get(path, content=False)
        except BaseException as exc:
            self._cache.pop(path, None)  # the file is as it was; our in-memory copy is not
            if not isinstance(exc, asyncio.CancelledError):
                # A write cut short (a disk that filled up part-way) can leave the file torn
                # with the contents manager's backup beside it; its next read of the file
                # puts the backup back, so read it now rather than leave it torn.
                try:
                    await self._get(path, content=True, type="notebook", format="json")
                except Exception:
                    self.log.warning("Datadive: %s could not be read back after a failed save", path, exc_info=True)
            raise
        cached.stamp = _stamp(model)
        cached.etag = _etag(model)
        return cached.etag

    async def _live(self, path: str):
        """The live room's shared notebook, or None when nobody has it open (no room is created)."""
        app = self._ydoc_app()
        if app is None:
            return None
        try:
            return await app.get_document(path=path, content_type="notebook", file_format="json", copy=False, create=False)
        except Exception:  # no file id yet, collaboration not started: not live
            return None

    @staticmethod
    def _check_etag(etag: str, if_match: str | None) -> None:
        if if_match is None or if_match.strip() == "*":
            return
        wanted = {t.strip().removeprefix("W/") for t in if_match.split(",")}
        if etag not in wanted:
            raise Stale(
                "the notebook changed since you read it; read it again and retry",
                [{"path": "/headers/If-Match", "message": "does not match the notebook's current ETag"}],
            )

    # -- views -------------------------------------------------------------------------

    def _latest(self, tid: str):
        try:
            template, _, _ = self.templates.resolve(tid)
            return template
        except Exception:
            return None

    def view(self, cell: dict, index: int, *, full: bool = False) -> dict:
        meta = provenance(cell)
        out = {
            "index": index,
            "id": cell.get("id"),
            "cell_type": cell.get("cell_type"),
            "source": "".join(cell["source"]) if isinstance(cell.get("source"), list) else cell.get("source", ""),
            "state": cell_state(cell, self._latest(meta["template"]) if meta else None),
            "template": meta["template"] if meta else None,
            "version": meta.get("version") if meta else None,
            "inputs": decode_inputs(meta.get("inputs")) if meta else None,
            "metadata": _plain(cell.get("metadata", {})),
        }
        if full:
            out["outputs"] = _plain(cell.get("outputs", [])) if cell.get("cell_type") == "code" else None
            out["execution_count"] = cell.get("execution_count")
        return out

    async def _read(self, path: str):
        """``(notebook, etag)`` from the live room if there is one, else from the contents manager."""
        ynb = await self._live(path)
        if ynb is not None:
            return _LiveNotebook(ynb), _live_etag(ynb)
        cached = await self._load(path)
        return cached.nb, cached.etag

    async def list(self, pid, user, nb) -> tuple[list[dict], str]:
        path = await self._notebook_path(pid, user, nb, "viewer")
        async with self._lock(path):
            notebook, etag = await self._read(path)
            if isinstance(notebook, _LiveNotebook):
                cells = [nbformat.from_dict(c) for c in notebook.ynb.get()["cells"]]
            else:
                cells = notebook.cells
            return [self.view(c, i) for i, c in enumerate(cells)], etag

    async def get(self, pid, user, nb, cell_id) -> tuple[dict, str]:
        path = await self._notebook_path(pid, user, nb, "viewer")
        async with self._lock(path):
            notebook, etag = await self._read(path)
            index = _find(notebook, cell_id)
            return self.view(notebook.cells[index], index, full=True), etag

    # -- writes ------------------------------------------------------------------------

    async def _write(self, pid, user, nb, if_match, op: str, apply, undoes: str | None = None):
        """Run ``apply(nb) -> (result, changed_cells, journal_entries)`` as one journaled, locked write.

        File path: the journal rows are written as pending first, then the notebook is
        saved, then the rows are confirmed. A failed save drops the rows; a crash
        between the two leaves pending rows that ``_settle`` checks against the file.
        """
        path = await self._notebook_path(pid, user, nb, "editor")
        async with self._lock(path):
            ynb = await self._live(path)
            if ynb is not None:
                self._check_etag(_live_etag(ynb), if_match)
                # The database's write lock is taken first (503 if another process holds
                # it) and nothing awaits until the journal rows are in, so a live edit is
                # never made without its journal entry.
                with self.store.transaction():
                    with ynb.ydoc.transaction():
                        result, _, entries = apply(_LiveNotebook(ynb))
                    ops = self._journal(pid, path, user, op, entries, undoes=undoes)
                return result, _live_etag(ynb), ops
            cached = await self._load(path)
            self._settle(pid, path, cached.nb)
            self._check_etag(cached.etag, if_match)
            result, changed, entries = apply(cached.nb)
            try:
                ops = self._journal(pid, path, user, op, entries, undoes=undoes, pending=True)
            except BaseException:
                self._cache.pop(path, None)  # nothing was written; forget the changed copy
                raise
            try:
                etag = await self._save(path, cached, changed)
            except asyncio.CancelledError:
                raise  # the rows stay pending and are settled against the file later
            except BaseException:
                # A save can fail after the file was written (a checkpoint, a post-save
                # hook, the read that follows): look at the file before answering.
                written = await self._written(pid, path, ops)
                if written is None:
                    raise
                self.log.warning("Datadive: the save of %s reported an error after the file was written; the operation stands", path, exc_info=True)
                return result, written, ops
            self._confirm(ops)
            return result, etag, ops

    def _journal(self, pid, path, user, op, entries, *, undoes=None, pending=False) -> list[str]:
        now, ids, rows = utcnow(), [], []
        for cell_id, before, after in entries:
            op_id = uuid.uuid4().hex
            ids.append(op_id)
            rows.append((op_id, pid, path, user, now, op, cell_id,
                         json.dumps(before) if before is not None else None,
                         json.dumps(after) if after is not None else None, undoes, int(pending)))
        with self.store.transaction():
            self.store.db.conn.executemany(
                "INSERT INTO operations (id, project_id, notebook, user, at, op, cell_id, before, after, undoes, pending)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return ids

    def _confirm(self, ops: list[str]) -> None:
        """Mark written rows done; if the database refuses now, ``_settle`` confirms them later."""
        try:
            with self.store.transaction():
                self.store.db.conn.executemany("UPDATE operations SET pending = 0 WHERE id = ?", [(o,) for o in ops])
        except sqlite3.Error:
            self.log.warning("Datadive: could not confirm journal entries %s now; they are settled on next access", ops, exc_info=True)

    async def _written(self, pid: str, path: str, ops: list[str]) -> str | None:
        """After a failed save: the notebook's ETag if the file has the change (its rows
        are then confirmed), else None (its rows are dropped). If the file cannot be read
        now, the rows stay pending for a later settle and None is returned."""
        try:
            cached = await self._load(path)
        except Exception:
            self.log.warning("Datadive: %s cannot be read after a failed save; its journal rows stay pending", path, exc_info=True)
            return None
        try:
            self._settle(pid, path, cached.nb)
            kept = self.store.one(
                f"SELECT count(*) AS n FROM operations WHERE pending = 0 AND id IN ({', '.join('?' * len(ops))})", ops
            )
        except sqlite3.Error:
            return None
        return cached.etag if kept and kept["n"] else None

    def _discard(self, ops: list[str]) -> None:
        try:
            with self.store.transaction():
                self.store.db.conn.executemany("DELETE FROM operations WHERE id = ? AND pending = 1", [(o,) for o in ops])
        except sqlite3.Error:
            self.log.warning("Datadive: could not drop journal entries %s of a failed write; they are settled on next access", ops, exc_info=True)

    def _settle(self, pid: str, path: str, nb) -> int:
        """Keep the pending journal rows of ``path`` whose change the file has, drop the others.

        Returns how many rows were settled. The rows of one operation were written for
        one atomic save, so the file has all of their changes or none.
        """
        rows = self.store.query(
            "SELECT id, at, user, cell_id, before, after FROM operations WHERE project_id = ? AND notebook = ? AND pending = 1",
            [pid, path],
        )
        if not rows:
            return 0
        cells = list(nb.cells)
        ids = [c.get("id") for c in cells]
        groups: dict = {}
        for row in rows:  # the rows of one operation share its time and user, and stand or fall together
            after = json.loads(row["after"]) if row["after"] else None
            before = json.loads(row["before"]) if row["before"] else None
            group = groups.setdefault((row["at"], row["user"]), [False, []])
            group[0] = group[0] or _has_change(cells, ids, row["cell_id"], before, after)
            group[1].append((row["id"],))
        keep = [r for present, members in groups.values() if present for r in members]
        drop = [r for present, members in groups.values() if not present for r in members]
        with self.store.transaction():
            self.store.db.conn.executemany("UPDATE operations SET pending = 0 WHERE id = ?", keep)
            self.store.db.conn.executemany("DELETE FROM operations WHERE id = ?", drop)
        if drop:
            self.log.warning("Datadive: dropped %d journal entries of %s whose write never reached the file", len(drop), path)
        return len(rows)

    async def recover(self) -> None:
        """Settle every pending journal row (after a crash) and release stale undo claims."""
        try:
            groups = self.store.query("SELECT DISTINCT project_id, notebook FROM operations WHERE pending = 1")
            for group in groups:
                pid, path = group["project_id"], group["notebook"]
                async with self._lock(path):
                    try:
                        cached = await self._load(path)
                    except Exception:
                        if await self.projects._is_notebook(path):
                            continue  # unreadable for now: settled on its next access
                        # The notebook is gone: its pending changes never happened here.
                        with self.store.transaction():
                            self.store.execute("DELETE FROM operations WHERE project_id = ? AND notebook = ? AND pending = 1", [pid, path])
                        continue
                    self._settle(pid, path, cached.nb)
            with self.store.transaction():
                # An undo claim whose undo reached the journal points at it; any other is released.
                self.store.execute(
                    "UPDATE operations SET undone_by = (SELECT u.id FROM operations u WHERE u.undoes = operations.id AND u.pending = 0 ORDER BY u.seq LIMIT 1)"
                    " WHERE undone_by LIKE 'pending:%' AND undone_by NOT LIKE ?", [f"pending:{_BOOT}:%"]
                )
        except Exception:
            self.log.error("Datadive: recovering the journal failed", exc_info=True)

    async def insert(self, pid, user, nb, body: dict, if_match=None) -> tuple[list[dict], str]:
        if "template" in body:
            ref = body["template"]
            template, _, _ = self.templates.resolve(ref["id"], ref.get("version"))
            new_cells = template.render(body.get("inputs") or {})
        else:
            new_cells = [_raw_cell(body["cell_type"], body.get("source", ""))]
        _validate(new_cells)

        def apply(notebook):
            at = _position(notebook, body, len(notebook.cells))
            for offset, cell in enumerate(new_cells):
                notebook.cells.insert(at + offset, nbformat.from_dict(cell))
            views = [self.view(notebook.cells[at + k], at + k) for k in range(len(new_cells))]
            entries = [(c["id"], None, {"cell": _plain(c), "index": at + k}) for k, c in enumerate(new_cells)]
            return views, new_cells, entries

        views, etag, _ = await self._write(pid, user, nb, if_match, "insert", apply)
        return views, etag

    async def update(self, pid, user, nb, cell_id, body: dict, if_match=None) -> tuple[dict, str]:
        kinds = [k for k in ("source", "inputs", "template_version") if k in body]
        if "source" in body and len(kinds) > 1:
            raise Invalid("give either source, or inputs / template_version", [{"path": "/source", "message": "cannot be combined with inputs or template_version"}])
        if not kinds:
            raise Invalid("nothing to change", [{"path": "", "message": "needs source, inputs or template_version"}])

        def apply(notebook):
            index = _find(notebook, cell_id)
            old = notebook.cells[index]
            before = _plain(old)
            if "source" in body:
                new = copy.deepcopy(before)
                new["source"] = body["source"]
                op = "edit"
            else:
                meta = provenance(old)
                if meta is None:
                    raise Invalid("this cell was not generated from a template; edit its source instead", [{"path": "/inputs", "message": "the cell has no template"}], code="not_generated")
                version = body.get("template_version")
                if version is None:
                    template, _, _ = self.templates.resolve(meta["template"], meta.get("version"))
                elif version == "latest":
                    template, _, _ = self.templates.resolve(meta["template"])
                else:
                    template, _, _ = self.templates.resolve(meta["template"], version)
                new = rerender(before, template, body.get("inputs"), force=bool(body.get("force")))
                op = "regenerate" if version is None else "upgrade"
            _validate([new])
            notebook.cells[index] = nbformat.from_dict(new)
            entry = (cell_id, {"cell": before, "index": index}, {"cell": _plain(new), "index": index})
            return (self.view(notebook.cells[index], index, full=True), op), [new], [entry]

        (view, _op), etag, _ = await self._write(pid, user, nb, if_match, _update_op(body), apply)
        return view, etag

    async def delete(self, pid, user, nb, cell_id, if_match=None) -> str:
        def apply(notebook):
            index = _find(notebook, cell_id)
            before = _plain(notebook.cells.pop(index))
            return None, [], [(cell_id, {"cell": before, "index": index}, None)]

        _, etag, _ = await self._write(pid, user, nb, if_match, "delete", apply)
        return etag

    async def move(self, pid, user, nb, cell_id, body: dict, if_match=None) -> tuple[dict, str]:
        def apply(notebook):
            index = _find(notebook, cell_id)
            if body.get("after") == cell_id or body.get("before") == cell_id:
                raise Invalid("a cell cannot be moved relative to itself", [{"path": "/after" if "after" in body else "/before", "message": "is the moved cell"}], code="invalid_position")
            cell = notebook.cells.pop(index)
            try:
                at = _position(notebook, body, len(notebook.cells))
            except Invalid:
                notebook.cells.insert(index, cell)
                raise
            notebook.cells.insert(at, cell)
            entry = (cell_id, {"index": index}, {"index": at})
            return self.view(cell, at), [], [entry]

        view, etag, _ = await self._write(pid, user, nb, if_match, "move", apply)
        return view, etag

    async def reorder(self, pid, user, nb, order, if_match=None) -> tuple[list[dict], str]:
        def apply(notebook):
            current = [c.get("id") for c in notebook.cells]
            if len(order) != len(current) or set(order) != set(current) or len(set(order)) != len(order):
                missing = sorted(set(current) - set(order))
                unknown = sorted(set(order) - set(current))
                errors = [{"path": "/order", "message": f"must list every cell id exactly once ({len(current)} cells)"}]
                errors += [{"path": "/order", "message": f"missing {m}"} for m in missing[:20]]
                errors += [{"path": f"/order/{order.index(u)}", "message": "is not a cell of this notebook"} for u in unknown[:20]]
                raise Invalid("order must be a permutation of the notebook's cell ids", errors, code="invalid_order")
            by_id = {c.get("id"): c for c in notebook.cells}
            notebook.cells = [by_id[i] for i in order]
            views = [self.view(c, i) for i, c in enumerate(notebook.cells)]
            return views, [], [(None, {"order": current}, {"order": list(order)})]

        views, etag, _ = await self._write(pid, user, nb, if_match, "reorder", apply)
        return views, etag

    # -- history -----------------------------------------------------------------------

    async def history(self, pid, user, nb, limit: int = 100, cursor: str | None = None) -> Page:
        """The journal of one notebook, newest first, a page at a time (keyset on the journal's sequence)."""
        path = await self._notebook_path(pid, user, nb, "viewer")
        before = decode_cursor(cursor, (int,))[0] if cursor else None
        if self.store.one("SELECT 1 AS x FROM operations WHERE project_id = ? AND notebook = ? AND pending = 1", [pid, path]):
            async with self._lock(path):
                self._settle(pid, path, (await self._load(path)).nb)
        sql = "SELECT * FROM operations WHERE project_id = ? AND notebook = ?"
        params: list = [pid, path]
        if before is not None:
            sql += " AND seq < ?"
            params.append(before)
        rows = self.store.query(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([_history_view(r) for r in rows], encode_cursor([rows[-1]["seq"]]) if more else None)

    async def undo(self, pid, user, nb, op_id, if_match=None) -> tuple[dict, str]:
        path = await self._notebook_path(pid, user, nb, "editor")
        row = self.store.one("SELECT * FROM operations WHERE id = ? AND project_id = ? AND notebook = ? AND pending = 0", [op_id, pid, path])
        if row is None:
            raise NotFound(f"no operation {op_id!r} on this notebook", code="operation_not_found")
        if row["op"] == "undo":
            raise Conflict("an undo cannot be undone; apply the operation again instead", code="not_undoable")
        claim = f"pending:{_BOOT}:{uuid.uuid4().hex}"  # recover() releases only claims of earlier processes
        with self.store.transaction():
            taken = self.store.execute("UPDATE operations SET undone_by = ? WHERE id = ? AND undone_by IS NULL", [claim, op_id]).rowcount
        if not taken:
            raise Conflict("this operation was already undone", code="already_undone")
        before = json.loads(row["before"]) if row["before"] else None
        after = json.loads(row["after"]) if row["after"] else None
        cell_id = row["cell_id"]

        def apply(notebook):
            ids = [c.get("id") for c in notebook.cells]
            if row["op"] == "insert":
                index = _find_or_conflict(notebook, cell_id)
                if _fingerprint(notebook.cells[index]) != _fingerprint(after["cell"]):
                    raise Conflict("the inserted cell has changed since; it was not removed", code="cell_changed")
                gone = _plain(notebook.cells.pop(index))
                return None, [], [(cell_id, {"cell": gone, "index": index}, None)]
            if row["op"] == "delete":
                if cell_id in ids:
                    raise Conflict("a cell with this id exists again; the deleted cell was not restored", code="cell_changed")
                at = min(before["index"], len(notebook.cells))
                _validate([before["cell"]])
                notebook.cells.insert(at, nbformat.from_dict(before["cell"]))
                return None, [before["cell"]], [(cell_id, None, {"cell": before["cell"], "index": at})]
            if row["op"] in ("edit", "regenerate", "upgrade"):
                index = _find_or_conflict(notebook, cell_id)
                if _fingerprint(notebook.cells[index]) != _fingerprint(after["cell"]):
                    raise Conflict("the cell has changed since this operation; it was not reverted", code="cell_changed")
                current = _plain(notebook.cells[index])
                _validate([before["cell"]])
                notebook.cells[index] = nbformat.from_dict(before["cell"])
                return None, [before["cell"]], [(cell_id, {"cell": current, "index": index}, {"cell": before["cell"], "index": index})]
            if row["op"] == "move":
                index = _find_or_conflict(notebook, cell_id)
                if index != after["index"]:
                    raise Conflict("the cell has moved since; it was not moved back", code="cell_changed")
                cell = notebook.cells.pop(index)
                at = min(before["index"], len(notebook.cells))
                notebook.cells.insert(at, cell)
                return None, [], [(cell_id, {"index": index}, {"index": at})]
            if row["op"] == "reorder":
                if ids != after["order"]:
                    raise Conflict("the notebook's order has changed since; it was not restored", code="cell_changed")
                by_id = {c.get("id"): c for c in notebook.cells}
                notebook.cells = [by_id[i] for i in before["order"]]
                return None, [], [(None, {"order": ids}, {"order": before["order"]})]
            raise Conflict(f"operations of kind {row['op']!r} cannot be undone", code="not_undoable")

        try:
            _, etag, new_ops = await self._write(pid, user, nb, if_match, "undo", apply, undoes=op_id)
        except BaseException:
            with self.store.transaction():  # not undone after all: release the claim
                self.store.execute("UPDATE operations SET undone_by = NULL WHERE id = ? AND undone_by = ?", [op_id, claim])
            raise
        with self.store.transaction():
            self.store.execute("UPDATE operations SET undone_by = ? WHERE id = ?", [new_ops[0] if new_ops else "undo", op_id])
        return {"undone": op_id, "operations": new_ops}, etag

    def forget(self, path: str) -> None:
        self._cache.pop(path, None)


def _validate(changed: list[dict]) -> None:
    """The cells an operation made must be valid nbformat 4.5 before anything is written."""
    if changed:
        probe = nbformat.v4.new_notebook()
        probe.cells = [nbformat.from_dict(c) for c in changed]
        try:
            nbformat.validate(probe)
        except nbformat.ValidationError as exc:
            where = "/" + "/".join(str(p) for p in list(exc.absolute_path)[2:]) if len(exc.absolute_path) > 2 else ""
            raise Invalid(f"the cell would not be valid nbformat: {exc.message[:200]}", [{"path": "/cell" + where, "message": exc.message[:200]}], code="invalid_cell") from None


def _update_op(body: dict) -> str:
    if "source" in body:
        return "edit"
    return "regenerate" if "template_version" not in body else "upgrade"


# Marks this process's undo claims, so that recovery releases only those of a process that died.
_BOOT = uuid.uuid4().hex[:12]


def _contents_error(exc: BaseException) -> ApiError | None:
    """The client error for a contents-manager failure caused by someone else's access, or None.

    jupyter_server's file manager writes a notebook in place (after a backup copy),
    and a reader that finds it half-written renames it and puts the backup back.
    Clients of the contents API reading or writing a notebook while we write it can
    therefore make our read or write fail part-way: that is a retryable condition
    (503 ``notebook_busy`` / 409 ``notebook_unreadable``, both with Retry-After),
    not a server error. Disk and permission problems keep their own answers.
    """
    if isinstance(exc, ApiError):
        return None
    mapped = environment_error(exc)
    if mapped is not None:
        return mapped
    status = getattr(exc, "status_code", None)
    causes, seen = [], exc
    while seen is not None and len(causes) < 10:
        causes.append(seen)
        seen = seen.__cause__
    retry = {"Retry-After": RETRY_AFTER}
    if status == 400 and "unreadable" in str(getattr(exc, "log_message", "") or exc).lower():
        return Conflict("the notebook file cannot be read as a notebook; another client may be writing it: retry",
                        [{"path": "", "message": "the file is not a readable notebook right now"}], code="notebook_unreadable", headers=retry)
    if status == 404 or any(isinstance(c, FileNotFoundError) for c in causes):
        return Unavailable("the notebook file was moved away while it was read or written (another client is writing it): retry",
                           [{"path": "", "message": "the file is being replaced"}], code="notebook_busy", headers=retry)
    return None


def _has_change(cells: list, ids: list, cell_id, before, after) -> bool:
    """Whether the notebook shows the change of one journal row (see ``CellService._settle``)."""
    if after is None:  # a deletion
        return cell_id not in ids
    if "order" in after:  # a reorder
        return ids == after["order"]
    if cell_id not in ids:
        return False
    index = ids.index(cell_id)
    if "cell" in after:  # an insert, or a new source / provenance
        return _fingerprint(cells[index]) == _fingerprint(after["cell"])
    return index == after["index"]  # a move


def _history_view(row: dict) -> dict:
    return {
        "id": row["id"], "op": row["op"], "user": row["user"], "at": row["at"], "cell_id": row["cell_id"],
        "before": json.loads(row["before"]) if row["before"] else None,
        "after": json.loads(row["after"]) if row["after"] else None,
        "undone_by": row["undone_by"], "undoes": row["undoes"],
    }


def _ensure_ids(nb) -> bool:
    """Cells of older notebooks (nbformat < 4.5) get ids, as nbformat does when it upgrades them.

    Returns whether anything changed.
    """
    seen, changed = set(), False
    for cell in nb.cells:
        cid = cell.get("id")
        if not cid or cid in seen:
            cell["id"] = uuid.uuid4().hex[:8]
            changed = True
        seen.add(cell["id"])
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        nb["nbformat"], nb["nbformat_minor"] = 4, 5
        changed = True
    return changed


def _raw_cell(cell_type: str, source: str) -> dict:
    if cell_type == "code":
        cell = nbformat.v4.new_code_cell(source)
    elif cell_type == "markdown":
        cell = nbformat.v4.new_markdown_cell(source)
    else:
        cell = nbformat.v4.new_raw_cell(source)
    return _plain(cell)


def _find(nb, cell_id: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.get("id") == cell_id:
            return i
    raise NotFound(f"no cell {cell_id!r} in this notebook", code="cell_not_found")


def _find_or_conflict(nb, cell_id: str) -> int:
    try:
        return _find(nb, cell_id)
    except NotFound:
        raise Conflict("the cell no longer exists", code="cell_changed") from None


def _position(nb, body: dict, length: int) -> int:
    """Where to insert: ``index`` (0..length), ``after`` or ``before`` a cell id; default the end."""
    given = [k for k in ("index", "after", "before") if body.get(k) is not None]
    if len(given) > 1:
        raise Invalid("give at most one of index, after, before", [{"path": f"/{k}", "message": "only one position may be given"} for k in given], code="invalid_position")
    if not given:
        return length
    key = given[0]
    value = body[key]
    if key == "index":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 1.0 is the integer 1
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= length:
            raise Invalid("index out of range", [{"path": "/index", "message": f"must be an integer from 0 to {length}"}], code="invalid_position")
        return value
    for i, cell in enumerate(nb.cells):
        if cell.get("id") == value:
            return i + 1 if key == "after" else i
    raise Invalid(f"no cell {value!r} to insert {key}", [{"path": f"/{key}", "message": "is not a cell of this notebook"}], code="invalid_position")


__all__ = ["CellService", "CellError"]
