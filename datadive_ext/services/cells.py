"""Cell operations on one notebook: list, insert, update / re-generate / upgrade, delete, move, reorder, history, undo.

This module puts three parts together:

- ``NotebookAccess`` (``datadive_ext.notebooks``): the notebook's path, its lock,
  load and save through the contents manager with a kept copy, the ETag, and the
  live room's shared document when someone has the notebook open;
- ``Journal`` (``datadive_ext.journal``): the operations table, written ahead;
- ``cellops``: each cell operation beside its inverse.

Every write runs under the notebook's lock (so concurrent requests in this server
never lose each other's update), checks ``If-Match`` against the notebook's ETag,
applies the operation, and then either edits the live room's shared document
(inside one Yjs transaction, with the database's write lock held, so the edit and
its journal rows happen together) or records the journal rows as pending, saves
the notebook through the contents manager (which writes atomically) and confirms
them.

Templates are looked up and run through the template service's coroutines
(``resolve_many``, ``render_async``, ``rerender_async``: user and folder templates
in the worker pool); views of a large notebook are built in the worker pool
(``datadive_ext.offload``), and the journal writes through ``Store.write``.
``GET .../cells`` looks each distinct template up once per request
(``latest_versions``), in a constant number of SQL statements whatever the number
of cells.
"""

from __future__ import annotations

import asyncio
import sqlite3
from types import SimpleNamespace

from cell_templates import cell_state, provenance
from cell_templates.cells import decode_inputs, source_text

from .. import cellops
from ..errors import Conflict, Invalid, NotFound
from ..journal import Journal
from ..notebooks import OFFLOAD_CELLS, LiveNotebook, NotebookAccess, check_etag, live_etag
from ..offload import run_blocking
from ..pagination import Page, decode_cursor
from ..store import Store

# How often a write to a live room starts again when a collaborator changed the cell it
# prepared (a re-generation renders off the event loop, and the room moves on meanwhile).
LIVE_RETRIES = 3


class _Moved(Exception):
    """The live document changed under a prepared write: prepare it again."""


def _at_field(exc: NotFound, paths: dict[str, str]) -> NotFound:
    """``exc`` with its errors at the request body's field for its code (the template
    service reports a missing version at ``/version``, the query parameter of its own
    routes; in a cell request the version is a body field)."""
    path = paths.get(exc.code)
    if path is not None:
        exc.errors = [{"path": path, "message": e.get("message") or "not found"} for e in exc.errors] or [{"path": path, "message": "not found"}]
    return exc


def _template_ids(cells) -> set[str]:
    ids = set()
    for cell in cells:
        meta = provenance(cell)
        if meta is not None:
            ids.add(meta["template"])
    return ids


class CellService:
    def __init__(self, store: Store, projects, templates, log=None, ydoc_app=None, *,
                 journal: Journal | None = None, notebooks: NotebookAccess | None = None, direct_bytes: int | None = None):
        self.store = store
        self.projects = projects
        self.templates = templates
        self.log = log
        self.journal = journal or projects.journal
        self.notebooks = notebooks or NotebookAccess(projects, log, ydoc_app, **({} if direct_bytes is None else {"direct_bytes": direct_bytes}))
        self._recovery: asyncio.Future | None = None

    # -- start-up recovery -----------------------------------------------------------------------

    def start_recovery(self) -> asyncio.Future:
        """Settle what a crash left (see ``recover``), once, before any cell request is served."""
        if self._recovery is None:
            self._recovery = asyncio.ensure_future(self.recover())
        return self._recovery

    async def recover(self) -> None:
        """Settle every pending journal row (after a crash) and release stale undo claims."""
        try:
            for pid, path in self.journal.pending_notebooks():
                async with self.notebooks.lock(path):
                    try:
                        loaded = await self.notebooks.load(path)
                    except Exception:
                        if await self.projects.is_notebook(path):
                            continue  # unreadable for now: settled on its next access
                        await self.journal.drop_pending(pid, path)  # gone: its pending changes never happened here
                        continue
                    await self.journal.settle(pid, path, loaded.nb.cells)
            await self.journal.release_stale_claims()
        except Exception:
            self.log.error("Datadive: recovering the journal failed", exc_info=True)

    async def _path(self, pid: str, user: str, nb: str, needed: str) -> str:
        # Requests wait for the start-up recovery: it may be restoring a notebook a crash
        # left torn, and a second reader of a torn file makes the contents manager lose it.
        recovery = self.start_recovery()
        if not recovery.done():
            await asyncio.shield(recovery)
        return await self.notebooks.path(pid, user, nb, needed)

    # -- templates -------------------------------------------------------------------------------

    async def latest_versions(self, tids) -> dict[str, int]:
        """The latest version of each template in ``tids`` that exists, for one request.

        One ``resolve_many`` of the template service: the folders scanned at most once
        and one SQL statement for the stored templates, whatever the number of cells.
        """
        found = await self.templates.resolve_many(set(tids))
        return {tid: template.version for (tid, _), template in found.items() if template is not None}

    # -- views -----------------------------------------------------------------------------------

    @staticmethod
    def view(cell, index: int, versions: dict[str, int], *, full: bool = False) -> dict:
        """What the API shows of a cell; ``versions`` holds the latest version of its template."""
        meta = provenance(cell)
        latest = None
        if meta is not None and meta["template"] in versions:
            latest = SimpleNamespace(id=meta["template"], version=versions[meta["template"]])
        out = {
            "index": index,
            "id": cell.get("id"),
            "cell_type": cell.get("cell_type"),
            "source": source_text(cell.get("source", "")),
            "state": cell_state(cell, latest),
            "template": meta["template"] if meta else None,
            "version": meta.get("version") if meta else None,
            "inputs": decode_inputs(meta.get("inputs")) if meta else None,
            "metadata": cellops.plain(cell.get("metadata", {})),
        }
        if full:
            out["outputs"] = cellops.plain(cell.get("outputs", [])) if cell.get("cell_type") == "code" else None
            out["execution_count"] = cell.get("execution_count")
        return out

    async def _views(self, cells) -> list[dict]:
        """Views of all ``cells`` (the caller holds the notebook's lock); more than ``OFFLOAD_CELLS`` off the event loop."""
        versions = await self.latest_versions(_template_ids(cells))
        if len(cells) <= OFFLOAD_CELLS:
            return [self.view(c, i, versions) for i, c in enumerate(cells)]
        return await run_blocking(lambda: [self.view(c, i, versions) for i, c in enumerate(cells)])

    # -- reads -----------------------------------------------------------------------------------

    async def list(self, pid, user, nb) -> tuple[list[dict], str]:
        path = await self._path(pid, user, nb, "viewer")
        async with self.notebooks.lock(path):
            cells, etag = await self.notebooks.cells(path)
            return await self._views(cells), etag

    async def get(self, pid, user, nb, cell_id) -> tuple[dict, str]:
        path = await self._path(pid, user, nb, "viewer")
        async with self.notebooks.lock(path):
            ynb = await self.notebooks.live(path)
            if ynb is not None:
                notebook, etag = LiveNotebook(ynb), live_etag(ynb)
            else:
                loaded = await self.notebooks.load(path)
                notebook, etag = loaded.nb, loaded.etag
            index = cellops.find(notebook, cell_id)
            cell = notebook.cells[index]
            return self.view(cell, index, await self.latest_versions(_template_ids([cell])), full=True), etag

    # -- writes ----------------------------------------------------------------------------------

    async def _write(self, pid, user, nb, if_match, op: str, apply, *, prepare=None, present=None, undoes: str | None = None):
        """One journaled write under the notebook's lock. Returns ``(result, etag, journal row ids)``.

        ``prepare(notebook)`` (optional, a coroutine) computes what the change needs,
        such as a re-rendered cell; ``apply(notebook, prepared) -> (result, entries)``
        changes the cells (synchronously) and returns the journal entries;
        ``present(path, result)`` (optional, a coroutine) makes the result, still under
        the lock, once the change is written.
        """
        path = await self._path(pid, user, nb, "editor")
        async with self.notebooks.lock(path):
            for attempt in range(LIVE_RETRIES + 1):
                ynb = await self.notebooks.live(path)
                if ynb is None:
                    result, etag, ops = await self._write_file(pid, path, user, if_match, op, apply, prepare, undoes)
                    break
                try:
                    result, etag, ops = await self._write_live(ynb, pid, path, user, if_match, op, apply, prepare, undoes)
                    break
                except _Moved:
                    if attempt == LIVE_RETRIES:
                        raise Conflict("the cell kept changing in the live notebook while it was being changed; retry", code="cell_changed") from None
            if present is not None:
                result = await present(path, result)
            return result, etag, ops

    async def _write_live(self, ynb, pid, path, user, if_match, op, apply, prepare, undoes):
        """Edit the live room's shared document and journal it in one transaction of the database."""
        check_etag(live_etag(ynb), if_match)
        prepared = await prepare(LiveNotebook(ynb)) if prepare is not None else None

        def change():
            # Runs with the database's write lock held and nothing awaited until the
            # journal rows are in, so a live edit is never made without its entry.
            check_etag(live_etag(ynb), if_match)
            with ynb.ydoc.transaction():
                result, entries = apply(LiveNotebook(ynb), prepared)
            return result, self.journal.add(pid, path, user, op, entries, undoes=undoes)

        result, ops = await self.store.write_now(change)
        return result, live_etag(ynb), ops

    async def _write_file(self, pid, path, user, if_match, op, apply, prepare, undoes):
        """Journal rows as pending, the notebook saved through the contents manager, the rows confirmed.

        A failed save drops the rows; a crash between the two leaves pending rows that
        the journal settles against the file later.
        """
        loaded = await self.notebooks.load(path)
        await self.journal.settle(pid, path, loaded.nb.cells)
        check_etag(loaded.etag, if_match)
        prepared = await prepare(loaded.nb) if prepare is not None else None
        result, entries = apply(loaded.nb, prepared)
        try:
            ops = await self.journal.record(pid, path, user, op, entries, undoes=undoes, pending=True)
        except BaseException:
            self.notebooks.forget(path)  # nothing was written; forget the changed copy
            raise
        try:
            etag = await self.notebooks.save(path, loaded)
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
        await self.journal.confirm(ops)
        return result, etag, ops

    async def _written(self, pid: str, path: str, ops: list[str]) -> str | None:
        """After a failed save: the notebook's ETag if the file has the change (its rows
        are then confirmed), else None (its rows are dropped). If the file cannot be read
        now, the rows stay pending for a later settle and None is returned."""
        try:
            loaded = await self.notebooks.load(path)
        except Exception:
            self.log.warning("Datadive: %s cannot be read after a failed save; its journal rows stay pending", path, exc_info=True)
            return None
        try:
            await self.journal.settle(pid, path, loaded.nb.cells)
            kept = self.journal.count_done(ops)
        except sqlite3.Error:
            return None
        return loaded.etag if kept else None

    async def insert(self, pid, user, nb, body: dict, if_match=None) -> tuple[list[dict], str]:
        if "template" in body:
            ref = body["template"]
            try:
                new_cells = await self.templates.render_async(ref["id"], body.get("inputs") or {}, ref.get("version"))
            except NotFound as exc:
                raise _at_field(exc, {"template_not_found": "/template/id", "version_not_found": "/template/version"}) from None
        else:
            new_cells = [cellops.new_cell(body["cell_type"], body.get("source", ""))]
        cellops.validate(new_cells)
        versions = await self.latest_versions(_template_ids(new_cells))

        def apply(notebook, _):
            at = cellops.position(notebook, body, len(notebook.cells))
            entries = cellops.Insert.apply(notebook, at, new_cells)
            return [self.view(c, at + k, versions) for k, c in enumerate(new_cells)], entries

        views, etag, _ = await self._write(pid, user, nb, if_match, "insert", apply)
        return views, etag

    async def update(self, pid, user, nb, cell_id, body: dict, if_match=None) -> tuple[dict, str]:
        kinds = [k for k in ("source", "inputs", "template_version") if k in body]
        if "source" in body and len(kinds) > 1:
            raise Invalid("give either source, or inputs / template_version", [{"path": "/source", "message": "cannot be combined with inputs or template_version"}])
        if not kinds:
            raise Invalid("nothing to change", [{"path": "", "message": "needs source, inputs or template_version"}])

        async def prepare(notebook):
            """The new cell: the source edited, or the cell re-rendered from its template."""
            index = cellops.find(notebook, cell_id)
            before = cellops.plain(notebook.cells[index])
            if "source" in body:
                new = dict(before, source=body["source"])
            else:
                meta = provenance(before)
                if meta is None:
                    field = "/inputs" if "inputs" in body else "/template_version"
                    raise Invalid("this cell was not generated from a template; edit its source instead", [{"path": field, "message": "the cell has no template"}], code="not_generated")
                version = body.get("template_version")
                wanted = meta.get("version") if version is None else (None if version == "latest" else version)
                try:
                    template, _, _ = await self.templates.resolve_async(meta["template"], wanted)
                except NotFound as exc:
                    # An unknown version asked for in the body is that field's error; the
                    # template itself gone (or the cell's own version gone) is no field's.
                    raise _at_field(exc, {"version_not_found": "/template_version"} if version is not None else {}) from None
                new = await self.templates.rerender_async(before, template, body.get("inputs"), bool(body.get("force")))
            cellops.validate([new])
            return cellops.fingerprint(before), new, await self.latest_versions(_template_ids([new]))

        def apply(notebook, prepared):
            was, new, versions = prepared
            index = cellops.find(notebook, cell_id)
            if cellops.fingerprint(notebook.cells[index]) != was:
                raise _Moved()
            entries = cellops.Replace.apply(notebook, index, new)
            return self.view(new, index, versions, full=True), entries

        view, etag, _ = await self._write(pid, user, nb, if_match, _update_op(body), apply, prepare=prepare)
        return view, etag

    async def delete(self, pid, user, nb, cell_id, if_match=None) -> str:
        def apply(notebook, _):
            return None, cellops.Delete.apply(notebook, cellops.find(notebook, cell_id))

        _, etag, _ = await self._write(pid, user, nb, if_match, "delete", apply)
        return etag

    async def move(self, pid, user, nb, cell_id, body: dict, if_match=None) -> tuple[dict, str]:
        async def prepare(notebook):
            """The latest version of the moved cell's template, for its view."""
            return await self.latest_versions(_template_ids([notebook.cells[cellops.find(notebook, cell_id)]]))

        def apply(notebook, versions):
            index = cellops.find(notebook, cell_id)
            if body.get("after") == cell_id or body.get("before") == cell_id:
                raise Invalid("a cell cannot be moved relative to itself", [{"path": "/after" if "after" in body else "/before", "message": "is the moved cell"}], code="invalid_position")
            at, entries = cellops.Move.apply(notebook, index, lambda nb_, length: cellops.position(nb_, body, length))
            return self.view(notebook.cells[at], at, versions), entries

        view, etag, _ = await self._write(pid, user, nb, if_match, "move", apply, prepare=prepare)
        return view, etag

    async def reorder(self, pid, user, nb, order, if_match=None) -> tuple[list[dict], str]:
        def apply(notebook, _):
            return None, cellops.Reorder.apply(notebook, order)

        async def present(path, _):
            cells, _ = await self.notebooks.cells(path)
            return await self._views(cells)

        views, etag, _ = await self._write(pid, user, nb, if_match, "reorder", apply, present=present)
        return views, etag

    # -- history -----------------------------------------------------------------------------------

    async def history(self, pid, user, nb, limit: int = 100, cursor: str | None = None) -> Page:
        """The journal of one notebook, newest first, a page at a time (keyset on the journal's sequence)."""
        path = await self._path(pid, user, nb, "viewer")
        before = decode_cursor(cursor, (int,))[0] if cursor else None
        if self.journal.has_pending(pid, path):
            async with self.notebooks.lock(path):
                await self.journal.settle(pid, path, (await self.notebooks.load(path)).nb.cells)
        return self.journal.page(pid, path, limit, before)

    async def undo(self, pid, user, nb, op_id, if_match=None) -> tuple[dict, str]:
        path = await self._path(pid, user, nb, "editor")
        row = self.journal.find(op_id, pid, path)
        if row is None:
            raise NotFound(f"no operation {op_id!r} on this notebook", code="operation_not_found")
        if row["op"] == "undo":
            raise Conflict("an undo cannot be undone; apply the operation again instead", code="not_undoable")
        operation = cellops.OPERATIONS.get(row["op"])
        if operation is None:
            raise Conflict(f"operations of kind {row['op']!r} cannot be undone", code="not_undoable")
        claim = await self.journal.claim(op_id)
        if claim is None:
            raise Conflict("this operation was already undone", code="already_undone")

        def apply(notebook, _):
            return None, operation.inverse(notebook, row["cell_id"], row["before"], row["after"])

        try:
            _, etag, new_ops = await self._write(pid, user, nb, if_match, "undo", apply, undoes=op_id)
        except BaseException:
            await self.journal.release(op_id, claim)  # not undone after all
            raise
        await self.journal.mark_undone(op_id, new_ops[0] if new_ops else "undo")
        return {"undone": op_id, "operations": new_ops}, etag


def _update_op(body: dict) -> str:
    if "source" in body:
        return "edit"
    return "regenerate" if "template_version" not in body else "upgrade"


__all__ = ["CellService"]
