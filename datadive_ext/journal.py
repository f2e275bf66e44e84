"""The journal of cell operations: the ``operations`` table, and everything that touches it.

One row per changed cell of an operation (an insert of a two-cell template is two
rows), with the cell before and after (see ``cellops`` for the shapes), the user,
the time, and the undo links (``undone_by``, ``undoes``).

**Written ahead.** A cell operation records its rows as *pending* (``record(...,
pending=True)``), saves the notebook, then ``confirm``\\s them; a failed save
``discard``\\s them. Rows left pending by a crash are settled against the file
(``settle``): the rows of one operation (same time and user) belong to one atomic
save, so they are kept together when the file shows the change of any of them,
else dropped together. ``recover`` (in the cell service) settles every notebook
with pending rows when the server starts; ``history`` settles before it reads.

**Undo claims.** An undo first claims the operation it undoes (``claim``: an
``undone_by`` marker naming this process), then writes; it then points the claim
at the undo's row (``mark_undone``), or ``release``\\s it when the undo failed.
``release_stale_claims`` (at start-up) settles the claims of processes that died:
a claim whose undo reached the journal points at it, any other is released.

**Renames.** ``rename`` makes the rows of a notebook (or of every notebook under a
folder) follow it to its new path.

Statements that write, and can therefore wait for another process's lock on the
SQLite file, are coroutines run off the event loop (``Store.write``); reads are
plain calls (a WAL reader never waits). ``add`` and ``rename`` join the caller's
open transaction.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

from .cellops import shows
from .pagination import Page, encode_cursor
from .store import Store, utcnow

# Marks this process's undo claims, so that recovery releases only those of a process that died.
BOOT = uuid.uuid4().hex[:12]


def _loads(text):
    return json.loads(text) if text else None


def _view(row: dict) -> dict:
    return {
        "id": row["id"], "op": row["op"], "user": row["user"], "at": row["at"], "cell_id": row["cell_id"],
        "before": _loads(row["before"]), "after": _loads(row["after"]),
        "undone_by": row["undone_by"], "undoes": row["undoes"],
    }


class Journal:
    def __init__(self, store: Store, log=None):
        self.store = store
        self.log = log

    # -- recording an operation ----------------------------------------------------------------

    def add(self, pid: str, path: str, user: str, op: str, entries: list[tuple], *, undoes: str | None = None,
            pending: bool = False) -> list[str]:
        """Insert one row per ``(cell_id, before, after)`` entry, inside the caller's transaction. Returns the row ids."""
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

    async def record(self, pid: str, path: str, user: str, op: str, entries: list[tuple], *, undoes: str | None = None,
                     pending: bool = False) -> list[str]:
        """``add`` in a transaction of its own, off the event loop."""
        return await self.store.write(lambda: self.add(pid, path, user, op, entries, undoes=undoes, pending=pending))

    async def confirm(self, ops: list[str]) -> None:
        """Mark written rows done; if the database refuses now, ``settle`` confirms them later."""
        try:
            await self.store.write(self._set_done, [(o,) for o in ops])
        except sqlite3.Error:
            self._warn("could not confirm journal entries %s now; they are settled on next access", ops)

    async def discard(self, ops: list[str]) -> None:
        """Drop the pending rows of a write that did not happen; if the database refuses now, ``settle`` drops them later."""
        try:
            await self.store.write(self._delete_pending, [(o,) for o in ops])
        except sqlite3.Error:
            self._warn("could not drop journal entries %s of a failed write; they are settled on next access", ops)

    def count_done(self, ops: list[str]) -> int:
        """How many of ``ops`` are confirmed (not pending)."""
        if not ops:
            return 0
        row = self.store.one(
            f"SELECT count(*) AS n FROM operations WHERE pending = 0 AND id IN ({', '.join('?' * len(ops))})", ops
        )
        return row["n"] if row else 0

    # -- pending rows ------------------------------------------------------------------------------

    def has_pending(self, pid: str, path: str) -> bool:
        return self.store.one(
            "SELECT 1 AS x FROM operations WHERE project_id = ? AND notebook = ? AND pending = 1 LIMIT 1", [pid, path]
        ) is not None

    def pending_notebooks(self) -> list[tuple[str, str]]:
        """``(project id, notebook path)`` of every notebook with pending rows."""
        rows = self.store.query("SELECT DISTINCT project_id, notebook FROM operations WHERE pending = 1")
        return [(r["project_id"], r["notebook"]) for r in rows]

    async def settle(self, pid: str, path: str, cells) -> int:
        """Keep the pending rows of ``path`` whose change ``cells`` show, drop the others.

        ``cells`` are the notebook's cells as the file has them now. Returns how many
        rows were settled.
        """
        rows = self.store.query(
            "SELECT id, at, user, cell_id, before, after FROM operations WHERE project_id = ? AND notebook = ? AND pending = 1",
            [pid, path],
        )
        if not rows:
            return 0
        cells = list(cells)
        ids = [c.get("id") for c in cells]
        groups: dict = {}
        for row in rows:  # the rows of one operation share its time and user, and stand or fall together
            group = groups.setdefault((row["at"], row["user"]), [False, []])
            group[0] = group[0] or shows(cells, ids, row["cell_id"], _loads(row["before"]), _loads(row["after"]))
            group[1].append((row["id"],))
        keep = [r for present, members in groups.values() if present for r in members]
        drop = [r for present, members in groups.values() if not present for r in members]

        def apply():
            self._set_done(keep)
            self.store.db.conn.executemany("DELETE FROM operations WHERE id = ?", drop)

        await self.store.write(apply)
        if drop:
            self._warn("dropped %d journal entries of %s whose write never reached the file", len(drop), path, exc_info=False)
        return len(rows)

    async def drop_pending(self, pid: str, path: str) -> None:
        """Drop every pending row of a notebook that is gone (its pending changes never happened here)."""
        await self.store.write(
            self.store.execute, "DELETE FROM operations WHERE project_id = ? AND notebook = ? AND pending = 1", [pid, path]
        )

    def _set_done(self, ops: list[tuple]) -> None:
        self.store.db.conn.executemany("UPDATE operations SET pending = 0 WHERE id = ?", ops)

    def _delete_pending(self, ops: list[tuple]) -> None:
        self.store.db.conn.executemany("DELETE FROM operations WHERE id = ? AND pending = 1", ops)

    # -- reading -----------------------------------------------------------------------------------

    def page(self, pid: str, path: str, limit: int, before: int | None = None) -> Page:
        """The confirmed and pending rows of one notebook, newest first (keyset on the journal's sequence)."""
        sql = "SELECT * FROM operations WHERE project_id = ? AND notebook = ?"
        params: list = [pid, path]
        if before is not None:
            sql += " AND seq < ?"
            params.append(before)
        rows = self.store.query(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([_view(r) for r in rows], encode_cursor([rows[-1]["seq"]]) if more else None)

    def find(self, op_id: str, pid: str, path: str) -> dict | None:
        """A confirmed operation of this notebook: ``{id, op, cell_id, before, after, ...}``, or None."""
        row = self.store.one(
            "SELECT * FROM operations WHERE id = ? AND project_id = ? AND notebook = ? AND pending = 0", [op_id, pid, path]
        )
        return _view(row) if row else None

    # -- undo claims -------------------------------------------------------------------------------

    async def claim(self, op_id: str) -> str | None:
        """Mark ``op_id`` as being undone by this process; None if it was undone (or claimed) already."""
        claim = f"pending:{BOOT}:{uuid.uuid4().hex}"
        taken = await self.store.write(
            lambda: self.store.execute("UPDATE operations SET undone_by = ? WHERE id = ? AND undone_by IS NULL", [claim, op_id]).rowcount
        )
        return claim if taken else None

    async def release(self, op_id: str, claim: str) -> None:
        """The undo did not happen: ``op_id`` can be undone again."""
        await self.store.write(self.store.execute, "UPDATE operations SET undone_by = NULL WHERE id = ? AND undone_by = ?", [op_id, claim])

    async def mark_undone(self, op_id: str, by: str) -> None:
        """The undo happened: ``op_id`` is undone by the row ``by``."""
        await self.store.write(self.store.execute, "UPDATE operations SET undone_by = ? WHERE id = ?", [by, op_id])

    async def release_stale_claims(self) -> None:
        """Claims of earlier processes: pointed at their undo when it reached the journal, else released."""
        await self.store.write(
            self.store.execute,
            "UPDATE operations SET undone_by = (SELECT u.id FROM operations u WHERE u.undoes = operations.id AND u.pending = 0 ORDER BY u.seq LIMIT 1)"
            " WHERE undone_by LIKE 'pending:%' AND undone_by NOT LIKE ?",
            [f"pending:{BOOT}:%"],
        )

    # -- renames -----------------------------------------------------------------------------------

    def rename(self, old: str, new: str) -> None:
        """Rows of ``old`` (a notebook, or every notebook under a folder) follow it to ``new``; joins the caller's transaction."""
        self.store.execute(
            "UPDATE operations SET notebook = ? || substr(notebook, ?) WHERE notebook = ? OR substr(notebook, 1, ?) = ?",
            [new, len(old) + 1, old, len(old) + 1, old + "/"],
        )

    def _warn(self, message: str, *args, exc_info: bool = True) -> None:
        if self.log:
            self.log.warning("Datadive: " + message, *args, exc_info=exc_info)
