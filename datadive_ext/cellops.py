"""Cell operations on a notebook, each beside its inverse.

A *notebook* here is anything whose ``cells`` can be measured, iterated, indexed,
inserted into, popped from, assigned by index and replaced as a whole: an
nbformat notebook, or the live shared document behind
``datadive_ext.notebooks.LiveNotebook``.

Every operation changes the cells and returns its journal entries, one
``(cell_id, before, after)`` per changed cell, in the shapes the journal stores:

=========  =====================  ======================
operation  before                 after
=========  =====================  ======================
insert     None                   ``{cell, index}``
delete     ``{cell, index}``      None
replace    ``{cell, index}``      ``{cell, index}``
move       ``{index}``            ``{index}``
reorder    ``{order}``            ``{order}``
=========  =====================  ======================

The inverse of an operation takes one of its journal entries, checks that the
notebook still shows that change (409 ``cell_changed`` otherwise) and applies the
operation that reverts it, returning that one's entries. ``OPERATIONS`` maps the
names the journal records to the operation, so undo is one lookup.
"""

from __future__ import annotations

import json
import uuid

import nbformat

from cell_templates.cells import source_text

from .errors import Conflict, Invalid, NotFound

CELL_TYPES = ("code", "markdown", "raw")


# -- cells ---------------------------------------------------------------------------------


def plain(value):
    """A JSON copy (plain dicts and lists) of a cell or part of one."""
    return json.loads(json.dumps(value))


def fingerprint(cell) -> str:
    """What identifies a cell's content for undo: type, source, provenance (not outputs)."""
    meta = (cell.get("metadata") or {}).get("datadive")
    return json.dumps([cell.get("cell_type"), source_text(cell.get("source", "")), meta], sort_keys=True, default=str)


def new_cell(cell_type: str, source: str) -> dict:
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}.get(cell_type, nbformat.v4.new_raw_cell)
    return plain(make(source))


def validate(cells: list[dict]) -> None:
    """Cells an operation makes must be valid nbformat 4.5 before anything is written (400 ``invalid_cell``)."""
    if not cells:
        return
    probe = nbformat.v4.new_notebook()
    probe.cells = [nbformat.from_dict(c) for c in cells]
    try:
        nbformat.validate(probe)
    except nbformat.ValidationError as exc:
        where = "/" + "/".join(str(p) for p in list(exc.absolute_path)[2:]) if len(exc.absolute_path) > 2 else ""
        raise Invalid(f"the cell would not be valid nbformat: {exc.message[:200]}",
                      [{"path": "/cell" + where, "message": exc.message[:200]}], code="invalid_cell") from None


def ensure_ids(nb) -> bool:
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


def find(nb, cell_id: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.get("id") == cell_id:
            return i
    raise NotFound(f"no cell {cell_id!r} in this notebook", code="cell_not_found")


def _find_or_conflict(nb, cell_id: str) -> int:
    try:
        return find(nb, cell_id)
    except NotFound:
        raise Conflict("the cell no longer exists", code="cell_changed") from None


def position(nb, body: dict, length: int) -> int:
    """Where to insert: ``index`` (0..length), ``after`` or ``before`` a cell id; default the end."""
    given = [k for k in ("index", "after", "before") if body.get(k) is not None]
    if len(given) > 1:
        raise Invalid("give at most one of index, after, before",
                      [{"path": f"/{k}", "message": "only one position may be given"} for k in given], code="invalid_position")
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


# -- operations and their inverses ----------------------------------------------------------------


class Insert:
    """New cells at ``at``, in order."""

    @staticmethod
    def apply(nb, at: int, cells: list[dict]) -> list[tuple]:
        for offset, cell in enumerate(cells):
            nb.cells.insert(at + offset, nbformat.from_dict(cell))
        return [(c["id"], None, {"cell": plain(c), "index": at + k}) for k, c in enumerate(cells)]

    @staticmethod
    def inverse(nb, cell_id, before, after) -> list[tuple]:
        index = _find_or_conflict(nb, cell_id)
        if fingerprint(nb.cells[index]) != fingerprint(after["cell"]):
            raise Conflict("the inserted cell has changed since; it was not removed", code="cell_changed")
        return Delete.apply(nb, index)


class Delete:
    """The cell at ``index`` removed."""

    @staticmethod
    def apply(nb, index: int) -> list[tuple]:
        gone = plain(nb.cells.pop(index))
        return [(gone.get("id"), {"cell": gone, "index": index}, None)]

    @staticmethod
    def inverse(nb, cell_id, before, after) -> list[tuple]:
        if any(c.get("id") == cell_id for c in nb.cells):
            raise Conflict("a cell with this id exists again; the deleted cell was not restored", code="cell_changed")
        validate([before["cell"]])
        return Insert.apply(nb, min(before["index"], len(nb.cells)), [before["cell"]])


class Replace:
    """The cell at ``index`` replaced by ``new`` (a hand edit, a re-generation, an upgrade)."""

    @staticmethod
    def apply(nb, index: int, new: dict) -> list[tuple]:
        old = plain(nb.cells[index])
        nb.cells[index] = nbformat.from_dict(new)
        return [(old.get("id"), {"cell": old, "index": index}, {"cell": plain(new), "index": index})]

    @staticmethod
    def inverse(nb, cell_id, before, after) -> list[tuple]:
        index = _find_or_conflict(nb, cell_id)
        if fingerprint(nb.cells[index]) != fingerprint(after["cell"]):
            raise Conflict("the cell has changed since this operation; it was not reverted", code="cell_changed")
        validate([before["cell"]])
        return Replace.apply(nb, index, before["cell"])


class Move:
    """The cell at ``index`` taken out and put back at ``to(nb, length)`` (computed without it)."""

    @staticmethod
    def apply(nb, index: int, to) -> tuple[int, list[tuple]]:
        cell = nb.cells.pop(index)
        try:
            at = to(nb, len(nb.cells))
        except BaseException:
            nb.cells.insert(index, cell)
            raise
        nb.cells.insert(at, cell)
        return at, [(cell.get("id"), {"index": index}, {"index": at})]

    @staticmethod
    def inverse(nb, cell_id, before, after) -> list[tuple]:
        index = _find_or_conflict(nb, cell_id)
        if index != after["index"]:
            raise Conflict("the cell has moved since; it was not moved back", code="cell_changed")
        return Move.apply(nb, index, lambda _nb, length: min(before["index"], length))[1]


class Reorder:
    """The cells put in ``order`` (a permutation of their ids, checked here: 400 ``invalid_order``)."""

    @staticmethod
    def apply(nb, order: list[str]) -> list[tuple]:
        current = [c.get("id") for c in nb.cells]
        if len(order) != len(current) or set(order) != set(current) or len(set(order)) != len(order):
            missing = sorted(set(current) - set(order))
            unknown = sorted(set(order) - set(current))
            errors = [{"path": "/order", "message": f"must list every cell id exactly once ({len(current)} cells)"}]
            errors += [{"path": "/order", "message": f"missing {m}"} for m in missing[:20]]
            errors += [{"path": f"/order/{order.index(u)}", "message": "is not a cell of this notebook"} for u in unknown[:20]]
            raise Invalid("order must be a permutation of the notebook's cell ids", errors, code="invalid_order")
        by_id = {c.get("id"): c for c in nb.cells}
        nb.cells = [by_id[i] for i in order]
        return [(None, {"order": current}, {"order": list(order)})]

    @staticmethod
    def inverse(nb, cell_id, before, after) -> list[tuple]:
        if [c.get("id") for c in nb.cells] != after["order"]:
            raise Conflict("the notebook's order has changed since; it was not restored", code="cell_changed")
        return Reorder.apply(nb, before["order"])


# The operation behind each name the journal records (an undo itself is not undone).
OPERATIONS = {
    "insert": Insert, "delete": Delete, "edit": Replace, "regenerate": Replace, "upgrade": Replace,
    "move": Move, "reorder": Reorder,
}


def shows(cells: list, ids: list, cell_id, before, after) -> bool:
    """Whether ``cells`` (with their ``ids``) show the change of one journal entry."""
    if after is None:  # a deletion
        return cell_id not in ids
    if "order" in after:  # a reorder
        return ids == after["order"]
    if cell_id not in ids:
        return False
    index = ids.index(cell_id)
    if "cell" in after:  # an insert, or a new source / provenance
        return fingerprint(cells[index]) == fingerprint(after["cell"])
    return index == after["index"]  # a move
