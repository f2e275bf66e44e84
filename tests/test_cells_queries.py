"""``GET .../cells`` makes a constant number of SQL statements, whatever the number of cells.

A real server (pytest-jupyter) with its real SQLite file: 50 user templates (some
at a newer version than the cells they made, so some cells are ``outdated``),
notebooks of 10, 100 and 1,000 generated cells written into the project folder,
and ``sqlite3``'s trace callback on the store's connections counting every
statement the server runs while it answers one ``GET .../cells``.
"""

from __future__ import annotations

import copy
import uuid

import nbformat
from datadive_testing import counting_template_doc

TEMPLATES = 50
SIZES = (10, 100, 1000)


def ext_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["datadive_ext"]))


async def ok(reply, status=200):
    assert reply.status == status, (reply.status, reply.text)
    return reply.json


async def _templates(api) -> dict[str, list[dict]]:
    """50 user templates; every fifth gets a second version. Returns each template's rendered v1 cells."""
    rendered = {}
    for k in range(TEMPLATES):
        tid = f"count-{k:02d}"
        doc = counting_template_doc(tid)
        await ok(await api("POST", "templates", body=doc), 201)
        rendered[tid] = (await ok(await api("POST", "templates", tid, "render", body={"inputs": {"column": f"c{k}"}})))["cells"]
        if k % 5 == 0:
            doc["description"] = "second version"
            await ok(await api("PUT", "templates", tid, body=doc, headers={"If-Match": '"1"'}))
    return rendered


def _notebook(rendered: dict[str, list[dict]], n: int) -> nbformat.NotebookNode:
    """``n`` generated cells, taken from the templates in turn (each cell a copy with its own id)."""
    nb = nbformat.v4.new_notebook()
    tids = sorted(rendered)
    k = 0
    while len(nb.cells) < n:
        for cell in rendered[tids[k % len(tids)]]:
            cell = copy.deepcopy(cell)
            cell["id"] = uuid.uuid4().hex[:8]
            nb.cells.append(nbformat.from_dict(cell))
        k += 1
    nb.cells = nb.cells[:n]
    nbformat.validate(nb)
    return nb


class Statements:
    """Counts the SQL statements the store runs (every connection) between ``start`` and ``stop``."""

    def __init__(self, store):
        self.store = store
        self.seen: list[str] = []

    def __enter__(self):
        self.store.set_trace_callback(self.seen.append)
        return self

    def __exit__(self, *exc):
        self.store.set_trace_callback(None)


async def test_listing_cells_makes_a_constant_number_of_statements(api, jp_root_dir, jp_serverapp):
    app = ext_app(jp_serverapp)
    rendered = await _templates(api)
    project = await ok(await api("POST", "projects", body={"name": "Queries"}), 201)
    pid, folder = project["id"], jp_root_dir / project["path"]
    for n in SIZES:
        nbformat.write(_notebook(rendered, n), folder / f"n{n}.ipynb")

    counts, states = {}, {}
    for n in SIZES:
        await ok(await api("GET", "projects", pid, "notebooks", f"n{n}.ipynb", "cells"))  # first read: caches warm
        with Statements(app.store) as seen:
            cells = (await ok(await api("GET", "projects", pid, "notebooks", f"n{n}.ipynb", "cells")))["cells"]
        assert len(cells) == n
        counts[n] = len(seen.seen)
        states[n] = {c["state"] for c in cells}
        # The template versions are right: cells of templates that moved on are outdated.
        for cell in cells:
            expected = "outdated" if int(cell["template"].split("-")[1]) % 5 == 0 else "generated"
            assert (cell["template"] is not None, cell["version"], cell["state"]) == (True, 1, expected), cell

    assert counts[10] == counts[100] == counts[1000], counts
    assert counts[1000] <= 3, counts  # the project row, the member's role, the template versions: not one per cell
    assert states[1000] == {"generated", "outdated"}
