"""The journal (``datadive_ext.journal``) and the cell operations beside their inverses (``datadive_ext.cellops``).

No server: a real SQLite file under ``tmp_path`` and nbformat notebooks in memory.
The REST behaviour of the same code (history, undo, crashes) is tested through a
real server in ``test_cells_api.py`` and ``test_faults.py``.
"""

from __future__ import annotations

import copy

import nbformat
import pytest

from datadive_ext import cellops, journal as journal_module
from datadive_ext.errors import Conflict, Invalid
from datadive_ext.journal import Journal
from datadive_ext.pagination import decode_cursor
from datadive_ext.store import Store, utcnow

PID, NB = "p1", "projects/p1/book.ipynb"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "journal.sqlite")
    s.migrate()
    now = utcnow()
    with s.transaction():
        s.execute("INSERT INTO projects (id, name, description, path, owner, created_at, updated_at) VALUES (?, 'P', '', 'projects/p1', 'alice', ?, ?)", [PID, now, now])
    yield s
    s.close()


@pytest.fixture
def journal(store):
    return Journal(store)


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for k, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = f"c{k}"
        nb.cells.append(cell)
    return nb


def ids(nb) -> list[str]:
    return [c["id"] for c in nb.cells]


def contents(nb) -> list[tuple[str, str]]:
    return [(c["id"], c["source"]) for c in nb.cells]


def rows(store) -> list[dict]:
    return store.query("SELECT id, op, cell_id, pending, undone_by, undoes, notebook FROM operations ORDER BY seq")


# -- operations and inverses ----------------------------------------------------------------------


def _round_trip(nb, name, entries):
    """Undo every entry (newest first) through ``OPERATIONS[name].inverse``."""
    for cell_id, before, after in reversed(entries):
        cellops.OPERATIONS[name].inverse(nb, cell_id, cellops.plain(before), cellops.plain(after))


def test_every_operation_is_undone_by_its_inverse():
    new = [cellops.new_cell("markdown", "# new"), cellops.new_cell("code", "y = 2")]
    cases = [
        ("insert", lambda nb: cellops.Insert.apply(nb, 1, new)),
        ("delete", lambda nb: cellops.Delete.apply(nb, 2)),
        ("edit", lambda nb: cellops.Replace.apply(nb, 0, dict(cellops.plain(nb.cells[0]), source="changed"))),
        ("move", lambda nb: cellops.Move.apply(nb, 0, lambda _nb, length: length)[1]),
        ("reorder", lambda nb: cellops.Reorder.apply(nb, ["c2", "c0", "c1"])),
    ]
    for name, apply in cases:
        nb = notebook("a = 1", "b = 2", "c = 3")
        original = contents(nb)
        entries = apply(nb)
        assert contents(nb) != original, name
        _round_trip(nb, name, entries)
        assert contents(nb) == original, name


def test_operations_record_the_shapes_the_journal_stores():
    nb = notebook("a = 1", "b = 2")
    new = cellops.new_cell("code", "x = 0")
    assert cellops.Insert.apply(nb, 0, [new]) == [(new["id"], None, {"cell": new, "index": 0})]
    [(cid, before, after)] = cellops.Delete.apply(nb, 0)
    assert (cid, before["index"], before["cell"]["source"], after) == (new["id"], 0, "x = 0", None)
    assert cellops.Move.apply(nb, 0, lambda _nb, length: 1) == (1, [("c0", {"index": 0}, {"index": 1})])
    assert cellops.Reorder.apply(nb, ["c0", "c1"]) == [(None, {"order": ["c1", "c0"]}, {"order": ["c0", "c1"]})]


def test_inverses_refuse_a_notebook_that_moved_on():
    nb = notebook("a = 1", "b = 2")
    [insert] = cellops.Insert.apply(nb, 2, [cellops.new_cell("code", "x = 0")])
    nb.cells[2]["source"] = "x = 'edited since'"
    with pytest.raises(Conflict) as caught:
        cellops.Insert.inverse(nb, *insert)
    assert caught.value.code == "cell_changed"

    nb = notebook("a = 1", "b = 2")
    [delete] = cellops.Delete.apply(nb, 0)
    nb.cells.insert(0, nbformat.from_dict(delete[1]["cell"]))  # the id exists again
    with pytest.raises(Conflict):
        cellops.Delete.inverse(nb, *delete)

    nb = notebook("a = 1", "b = 2", "c = 3")
    _, [move] = cellops.Move.apply(nb, 0, lambda _nb, length: 2)
    cellops.Move.apply(nb, 2, lambda _nb, length: 1)  # moved again since
    with pytest.raises(Conflict):
        cellops.Move.inverse(nb, *move)

    nb = notebook("a = 1", "b = 2")
    [reorder] = cellops.Reorder.apply(nb, ["c1", "c0"])
    cellops.Reorder.apply(nb, ["c0", "c1"])
    with pytest.raises(Conflict):
        cellops.Reorder.inverse(nb, *reorder)

    nb = notebook("a = 1")
    [edit] = cellops.Replace.apply(nb, 0, dict(cellops.plain(nb.cells[0]), source="a = 2"))
    cellops.Delete.apply(nb, 0)
    with pytest.raises(Conflict):
        cellops.Replace.inverse(nb, *edit)


def test_reorder_must_be_a_permutation():
    nb = notebook("a", "b")
    for order in (["c0"], ["c0", "c0"], ["c0", "zz"], ["c0", "c1", "c2"]):
        with pytest.raises(Invalid) as caught:
            cellops.Reorder.apply(nb, order)
        assert caught.value.code == "invalid_order"
        assert all(e["path"].startswith("/order") for e in caught.value.errors)
    assert ids(nb) == ["c0", "c1"]


def test_a_failed_move_puts_the_cell_back():
    nb = notebook("a", "b", "c")
    with pytest.raises(Invalid):
        cellops.Move.apply(nb, 1, lambda nb_, length: cellops.position(nb_, {"after": "nope"}, length))
    assert ids(nb) == ["c0", "c1", "c2"]


def test_shows_tells_whether_the_file_has_a_change():
    nb = notebook("a", "b")
    new = cellops.new_cell("code", "x")
    [insert] = cellops.Insert.apply(copy.deepcopy(nb), 1, [new])
    cells = list(nb.cells)
    assert not cellops.shows(cells, ids(nb), *insert)
    nb2 = copy.deepcopy(nb)
    cellops.Insert.apply(nb2, 1, [new])
    assert cellops.shows(list(nb2.cells), ids(nb2), *insert)
    assert cellops.shows(cells, ids(nb), "gone", {"cell": {}, "index": 0}, None)  # a deletion: the id is absent
    assert cellops.shows(cells, ids(nb), None, {"order": ["c1", "c0"]}, {"order": ["c0", "c1"]})
    assert not cellops.shows(cells, ids(nb), "c0", {"index": 1}, {"index": 1})


# -- the journal ------------------------------------------------------------------------------------


async def test_written_ahead_rows_are_confirmed_or_discarded(store, journal):
    kept = await journal.record(PID, NB, "alice", "insert", [("c9", None, {"cell": {}, "index": 0})], pending=True)
    dropped = await journal.record(PID, NB, "alice", "delete", [("c1", {"cell": {}, "index": 1}, None)], pending=True)
    assert journal.has_pending(PID, NB) and journal.pending_notebooks() == [(PID, NB)]
    assert journal.count_done(kept + dropped) == 0
    await journal.confirm(kept)
    await journal.discard(dropped)
    assert [(r["id"], r["pending"]) for r in rows(store)] == [(kept[0], 0)]
    assert not journal.has_pending(PID, NB) and journal.count_done(kept + dropped) == 1


async def test_settle_keeps_an_operation_together(store, journal):
    """The two rows of one two-cell insert stand or fall together; another operation on its own."""
    nb = notebook("a")
    new = [cellops.new_cell("markdown", "# t"), cellops.new_cell("code", "t = 1")]
    entries = cellops.Insert.apply(nb, 1, new)
    both = await journal.record(PID, NB, "alice", "insert", entries, pending=True)  # one time and user: one operation
    lost = await journal.record(PID, NB, "bob", "delete", [("c0", {"cell": cellops.plain(nb.cells[0]), "index": 0}, None)], pending=True)
    nb.cells[2]["source"] = "t = 'edited by hand since'"  # only one of the two cells shows its change now
    assert await journal.settle(PID, NB, nb.cells) == 3
    assert [(r["id"], r["pending"]) for r in rows(store)] == [(both[0], 0), (both[1], 0)]  # lost: c0 is still there
    assert await journal.settle(PID, NB, nb.cells) == 0
    assert lost[0] not in [r["id"] for r in rows(store)]


async def test_history_pages_newest_first(journal):
    made = []
    for k in range(5):
        made += await journal.record(PID, NB, "alice", "move", [(f"c{k}", {"index": 0}, {"index": 1})])
    page = journal.page(PID, NB, 2)
    assert [i["id"] for i in page.items] == made[::-1][:2]
    page2 = journal.page(PID, NB, 2, decode_cursor(page.next_cursor, (int,))[0])
    assert [i["id"] for i in page2.items] == made[::-1][2:4]
    item = page.items[0]
    assert (item["op"], item["cell_id"], item["before"], item["after"], item["undone_by"]) == ("move", "c4", {"index": 0}, {"index": 1}, None)
    assert journal.find(made[0], PID, NB)["cell_id"] == "c0"
    assert journal.find(made[0], PID, "another.ipynb") is None


async def test_an_operation_is_claimed_once(store, journal):
    [op] = await journal.record(PID, NB, "alice", "edit", [("c0", {"cell": {}, "index": 0}, {"cell": {}, "index": 0})])
    claim = await journal.claim(op)
    assert claim and claim.startswith(f"pending:{journal_module.BOOT}:")
    assert await journal.claim(op) is None  # a second undo of the same operation
    await journal.release(op, claim)
    claim = await journal.claim(op)
    assert claim is not None
    [undo] = await journal.record(PID, NB, "alice", "undo", [("c0", {"cell": {}, "index": 0}, {"cell": {}, "index": 0})], undoes=op)
    await journal.mark_undone(op, undo)
    assert journal.find(op, PID, NB)["undone_by"] == undo and journal.find(undo, PID, NB)["undoes"] == op


async def test_stale_claims_of_a_dead_process_are_settled(store, journal):
    ops = []
    for k in range(3):
        ops += await journal.record(PID, NB, "alice", "delete", [(f"c{k}", {"cell": {}, "index": k}, None)])
    [undo] = await journal.record(PID, NB, "alice", "undo", [("c1", None, {"cell": {}, "index": 1})], undoes=ops[1])
    store.execute("UPDATE operations SET undone_by = 'pending:deadbeef0000:x' WHERE id IN (?, ?)", ops[:2])  # a process that died
    mine = await journal.claim(ops[2])  # this process's undo in flight
    await journal.release_stale_claims()
    assert [journal.find(o, PID, NB)["undone_by"] for o in ops] == [None, undo, mine]


async def test_rows_follow_a_rename(store, journal):
    await journal.record(PID, "projects/p1/a.ipynb", "alice", "move", [("c0", {"index": 0}, {"index": 1})])
    await journal.record(PID, "projects/p1/sub/b.ipynb", "alice", "move", [("c0", {"index": 0}, {"index": 1})])
    await journal.record(PID, "projects/p1/subway.ipynb", "alice", "move", [("c0", {"index": 0}, {"index": 1})])
    await store.write(journal.rename, "projects/p1/sub", "projects/p1/renamed")
    await store.write(journal.rename, "projects/p1/a.ipynb", "projects/p1/z.ipynb")
    assert sorted(r["notebook"] for r in rows(store)) == ["projects/p1/renamed/b.ipynb", "projects/p1/subway.ipynb", "projects/p1/z.ipynb"]


async def test_the_rename_follower_moves_projects_and_their_journal(store, journal):
    """``ProjectService.follow_rename`` (synchronous) and ``follow_rename_async`` use the same journal."""
    from datadive_ext.services.projects import ProjectService

    projects = ProjectService(store, contents_manager=None, journal=journal)
    await journal.record(PID, "projects/p1/a.ipynb", "alice", "move", [("c0", {"index": 0}, {"index": 1})])
    assert projects.follow_rename("projects/p1", "projects/q1") == 1
    assert store.one("SELECT path FROM projects WHERE id = ?", [PID])["path"] == "projects/q1"
    assert [r["notebook"] for r in rows(store)] == ["projects/q1/a.ipynb"]
    assert await projects.follow_rename_async("/projects/q1/", "/archive/q1/") == 1
    assert store.one("SELECT path FROM projects WHERE id = ?", [PID])["path"] == "archive/q1"
    assert [r["notebook"] for r in rows(store)] == ["archive/q1/a.ipynb"]
    assert await projects.follow_rename_async("elsewhere", "moved") == 0
