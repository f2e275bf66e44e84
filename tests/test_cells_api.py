"""Cell operations over REST (issue 4): list, insert, update, delete, move, reorder, history, undo.

Every test runs against a real server on real notebooks in the test root. After
every operation the notebook file is read back with ``nbformat.read`` and checked
with ``nbformat.validate``, and the API's view of the cells is compared with the
file (``Book.check``). Every error test asserts the status, the ``code`` and the
error paths, and that the file was not touched.
"""

from __future__ import annotations

import copy
import json
import os
import urllib.parse

import nbformat
import pytest
from datadive_testing import assert_error, counting_template_doc, max_in_flight, multi_user_config

from datadive_ext.openapi import body_validator

HEX32 = "0123456789abcdef" * 2


# -- helpers ------------------------------------------------------------------------------------


def conforms(schema: str, instance) -> None:
    errors = sorted(body_validator(schema).iter_errors(instance), key=str)
    assert not errors, [e.message for e in errors]


async def ok(reply, status=200):
    assert reply.status == status, (reply.status, reply.text)
    return reply.json


def user_doc(tid="counting", **changes) -> dict:
    """The shared counting template (datadive_testing.counting_template_doc)."""
    return counting_template_doc(tid, **changes)


def one_cell_doc(tid="single", source="x = {{ column }}  # v1", **changes) -> dict:
    """A user template with one code cell."""
    return user_doc(tid, cells=[{"cell_type": "code", "source": source}], **changes)


async def make_template(api, doc, user=None):
    return await ok(await api("POST", "templates", body=doc, user=user), 201)


async def new_version(api, doc, version, user=None):
    """PUT a new version of a user template (If-Match: the version it replaces)."""
    r = await api("PUT", "templates", doc["id"], body=doc, headers={"If-Match": f'"{version}"'}, user=user)
    return await ok(r)


def read_nb(file):
    """The notebook on disk, read with nbformat and validated."""
    with open(file, encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    return nb


def write_nb(file, nb) -> None:
    nbformat.validate(nb)
    with open(file, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)


def source_of(cell) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source


def plain(obj):
    return json.loads(json.dumps(obj))


class Book:
    """One notebook in one project: the API calls for its cells, and its file on disk."""

    def __init__(self, api, pid, nb, file, user=None):
        self.api, self.pid, self.nb, self.file, self.user = api, pid, nb, file, user

    def call(self, method, *segments, user="default", **kw):
        who = self.user if user == "default" else user
        return self.api(method, "projects", self.pid, "notebooks", self.nb, *segments, user=who, **kw)

    # reads
    async def listing(self, user="default"):
        r = await self.call("GET", "cells", user=user)
        await ok(r)
        assert r.headers.get("ETag"), "GET cells has no ETag"
        assert set(r.json) == {"cells"}
        for cell in r.json["cells"]:
            conforms("CellView", cell)
        return r.json["cells"], r.headers["ETag"]

    async def cells(self):
        return (await self.listing())[0]

    async def etag(self):
        return (await self.listing())[1]

    async def cell(self, cell_id, user="default"):
        r = await self.call("GET", "cells", cell_id, user=user)
        await ok(r)
        assert r.headers.get("ETag")
        conforms("CellView", r.json)
        return r.json

    # writes
    async def insert(self, body, status=201, **kw):
        return await self.call("POST", "cells", body=body, **kw)

    async def insert_ok(self, body, **kw):
        r = await self.insert(body, **kw)
        await ok(r, 201)
        assert r.headers.get("ETag"), "POST cells has no ETag"
        assert r.headers.get("Location")
        for cell in r.json["cells"]:
            conforms("CellView", cell)
        return r.json["cells"]

    async def code(self, source, **position):
        return (await self.insert_ok({"cell_type": "code", "source": source, **position}))[0]

    async def patch(self, cell_id, body, **kw):
        return await self.call("PATCH", "cells", cell_id, body=body, **kw)

    async def delete(self, cell_id, **kw):
        return await self.call("DELETE", "cells", cell_id, **kw)

    async def move(self, cell_id, body, **kw):
        return await self.call("POST", "cells", cell_id, "move", body=body, **kw)

    async def order(self, order, **kw):
        return await self.call("PUT", "cells", "order", body={"order": order}, **kw)

    async def history(self, user="default", **params):
        r = await self.call("GET", "history", user=user, params=params or None)
        await ok(r)
        for item in r.json["items"]:
            conforms("Operation", item)
        return r.json["items"]

    async def undo(self, op_id, **kw):
        return await self.call("POST", "history", op_id, "undo", body={}, **kw)

    # the file
    def read(self):
        return read_nb(self.file)

    def raw(self) -> bytes:
        return self.file.read_bytes()

    def ids(self):
        return [c.id for c in self.read().cells]

    def sources(self):
        return [source_of(c) for c in self.read().cells]

    async def check(self):
        """The file is a valid notebook and the API lists exactly its cells, in order."""
        nb = self.read()
        listed, etag = await self.listing()
        assert [c["index"] for c in listed] == list(range(len(nb.cells)))
        assert [c["id"] for c in listed] == [c.id for c in nb.cells]
        assert [c["cell_type"] for c in listed] == [c.cell_type for c in nb.cells]
        assert [c["source"] for c in listed] == [source_of(c) for c in nb.cells]
        assert len(set(c.id for c in nb.cells)) == len(nb.cells), "duplicate cell ids"
        for view, cell in zip(listed, nb.cells):
            meta = cell.metadata.get("datadive")
            if meta is None:
                assert (view["state"], view["template"], view["version"], view["inputs"]) == ("plain", None, None, None)
            else:
                assert view["template"] == meta["template"] and view["version"] == meta["version"]
                assert view["inputs"] == meta["inputs"]
        return listed, nb


async def new_book(api, jp_root_dir, name="analysis.ipynb", user=None, project=None) -> Book:
    if project is None:
        project = await ok(await api("POST", "projects", body={"name": "Cells"}, user=user), 201)
    await ok(await api("POST", "projects", project["id"], "notebooks", body={"name": name}, user=user), 201)
    file = jp_root_dir / project["path"] / name
    assert file.is_file()
    return Book(api, project["id"], name, file, user=user)


async def unchanged(book, before: bytes, reply, status, code, paths):
    """An error answer (status, code and error paths) that left the file byte for byte as it was."""
    assert_error(reply, status, code, paths)
    assert book.raw() == before, "a refused request changed the file"
    await book.check()


# -- list and read --------------------------------------------------------------------------------


async def test_empty_notebook_lists_no_cells_with_an_etag(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    cells, etag = await book.listing()
    assert cells == []
    assert etag.startswith('"') and etag.endswith('"')
    assert (await book.listing())[1] == etag  # reading does not change it
    await book.check()


async def test_list_shows_every_field_and_state(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    await make_template(api, one_cell_doc("single"))
    plain_cell = await book.code("print('hi')")
    gen, edited = [
        (await book.insert_ok({"template": {"id": "single"}, "inputs": {"column": c}}))[0] for c in ("a", "b")
    ]
    md = (await book.insert_ok({"cell_type": "markdown", "source": "# Title"}))[0]
    raw = (await book.insert_ok({"cell_type": "raw", "source": "raw text"}))[0]
    await book.check()

    cells = await book.cells()
    by_id = {c["id"]: c for c in cells}
    assert [c["id"] for c in cells] == [plain_cell["id"], gen["id"], edited["id"], md["id"], raw["id"]]
    assert by_id[plain_cell["id"]] | {"metadata": None} == {
        "index": 0, "id": plain_cell["id"], "cell_type": "code", "source": "print('hi')", "state": "plain",
        "template": None, "version": None, "inputs": None, "metadata": None,
    }
    g = by_id[gen["id"]]
    assert (g["index"], g["cell_type"], g["state"], g["template"], g["version"]) == (1, "code", "generated", "single", 1)
    assert g["inputs"] == {"df": "df", "column": "a", "n": 5}  # defaults applied and recorded
    assert g["source"] == "x = 'a'  # v1"
    assert (by_id[md["id"]]["cell_type"], by_id[md["id"]]["state"]) == ("markdown", "plain")
    assert (by_id[raw["id"]]["cell_type"], by_id[raw["id"]]["source"]) == ("raw", "raw text")

    # Edited: the source changed by PATCH {source}.
    r = await book.patch(edited["id"], {"source": "x = 'b'  # mine now"})
    await ok(r)
    assert r.json["state"] == "edited" and r.json["template"] == "single"
    await book.check()

    # Outdated: the template got a new version; the edited cell stays "edited" (an edit wins).
    await new_version(api, one_cell_doc("single", source="x = {{ column }}  # v2"), 1)
    cells = {c["id"]: c for c in await book.cells()}
    assert cells[gen["id"]]["state"] == "outdated"
    assert cells[gen["id"]]["version"] == 1
    assert cells[edited["id"]]["state"] == "edited"
    assert cells[plain_cell["id"]]["state"] == "plain"

    # GET one cell: the full view with outputs and execution_count, and the same ETag as the list.
    listed_etag = await book.etag()
    r = await book.call("GET", "cells", gen["id"])
    await ok(r)
    assert r.headers["ETag"] == listed_etag
    assert r.json["outputs"] == [] and r.json["execution_count"] is None
    assert r.json["metadata"]["datadive"]["template"] == "single"
    assert r.json["state"] == "outdated"
    md_full = await book.cell(md["id"])
    assert md_full["outputs"] is None
    await book.check()


async def test_list_of_a_notebook_written_by_hand(api, jp_root_dir):
    """A notebook made outside the API (outputs, attachments, list-of-lines sources) is listed as it is."""
    book = await new_book(api, jp_root_dir)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(["# Head\n", "text"]),
        nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)], execution_count=1),
    ]
    write_nb(book.file, nb)
    cells = await book.cells()
    assert [(c["cell_type"], c["source"]) for c in cells] == [("markdown", "# Head\ntext"), ("code", "1 + 1")]
    assert [c["id"] for c in cells] == [c.id for c in nb.cells]
    full = await book.cell(cells[1]["id"])
    assert full["execution_count"] == 1 and full["outputs"][0]["data"] == {"text/plain": "2"}
    await book.check()


# -- insert ------------------------------------------------------------------------------------


async def test_insert_raw_cells_at_every_position(api, jp_root_dir, jp_base_url, http_server_client, jp_auth_header):
    book = await new_book(api, jp_root_dir)
    etags = {await book.etag()}

    async def insert(body):
        r = await book.insert(body)
        await ok(r, 201)
        etag = r.headers["ETag"]
        assert etag not in etags, "a write kept the old ETag"
        etags.add(etag)
        assert (await book.etag()) == etag, "the ETag of a write is not the one the next read gives"
        await book.check()
        return r

    a = (await insert({"cell_type": "code", "source": "a = 1"})).json["cells"][0]  # default: the end
    assert a["index"] == 0 and a["state"] == "plain" and a["template"] is None
    b = (await insert({"cell_type": "markdown", "source": "b"})).json["cells"][0]
    assert b["index"] == 1
    c = (await insert({"cell_type": "raw", "source": "c", "index": 0})).json["cells"][0]
    assert c["index"] == 0
    d = (await insert({"cell_type": "code", "source": "d", "after": c["id"]})).json["cells"][0]
    assert d["index"] == 1
    e = (await insert({"cell_type": "code", "source": "e", "before": b["id"]})).json["cells"][0]
    f = (await insert({"cell_type": "code", "source": "f", "index": 5})).json["cells"][0]  # index == length: the end
    g = (await insert({"cell_type": "code", "after": f["id"]})).json["cells"][0]  # no source: empty
    assert g["source"] == ""
    assert book.sources() == ["c", "d", "a = 1", "e", "b", "f", ""]
    assert [x["cell_type"] for x in await book.cells()] == ["raw", "code", "code", "code", "markdown", "code", "code"]

    nb = book.read()
    code = nb.cells[2]
    assert code.outputs == [] and code.execution_count is None
    assert "outputs" not in nb.cells[0] and "outputs" not in nb.cells[4]
    assert "datadive" not in code.metadata

    # Location: the new (first) cell under the server's base_url, and it answers.
    r = await book.insert({"cell_type": "code", "source": "h"})
    location = r.headers["Location"]
    nb_segment = urllib.parse.quote(book.nb, safe="")
    assert location == f"{jp_base_url}api/datadive/projects/{book.pid}/notebooks/{nb_segment}/cells/{r.json['cells'][0]['id']}"
    fetched = await http_server_client.fetch(location, headers=jp_auth_header)
    assert fetched.code == 200 and json.loads(fetched.body)["source"] == "h"
    await book.check()


async def test_insert_multi_cell_template_in_order(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    overview = await ok(await api("GET", "templates", "overview"))
    doc_cells = overview["document"]["cells"]
    assert len(doc_cells) == 2

    first = await book.code("first")
    last = await book.code("last")
    r = await book.insert({"template": {"id": "overview"}, "inputs": {"df": "data", "n": 3}, "after": first["id"]})
    await ok(r, 201)
    new = r.json["cells"]
    assert len(new) == len(doc_cells)
    assert [c["index"] for c in new] == [1, 2]
    assert [c["cell_type"] for c in new] == [c["cell_type"] for c in doc_cells]
    assert all(c["template"] == "overview" and c["version"] == 1 and c["state"] == "generated" for c in new)
    assert all(c["inputs"] == {"df": "data", "n": 3} for c in new)
    assert "data.shape[0]" in new[0]["source"]
    assert new[1]["source"] == "data.head(3)"
    assert r.headers["Location"].endswith("/cells/" + new[0]["id"])
    assert len({c["id"] for c in new}) == 2

    listed, nb = await book.check()
    assert [c.id for c in nb.cells] == [first["id"], new[0]["id"], new[1]["id"], last["id"]]
    for part, cell in enumerate(nb.cells[1:3]):
        meta = cell.metadata["datadive"]
        assert (meta["template"], meta["version"], meta["part"]) == ("overview", 1, part)
        assert meta["inputs"] == {"df": "data", "n": 3}
        assert meta["source_hash"].startswith("sha256:")
        assert cell.outputs == [] and cell.execution_count is None

    # A multi-cell template before the first cell and at an index.
    top = await book.insert_ok({"template": {"id": "overview"}, "inputs": {}, "index": 0})
    assert [c["index"] for c in top] == [0, 1] and top[1]["source"] == "df.head(5)"
    mid = await book.insert_ok({"template": {"id": "overview"}, "before": last["id"]})
    _, nb = await book.check()
    ids = [c.id for c in nb.cells]
    assert ids[:2] == [top[0]["id"], top[1]["id"]]
    assert ids[-3:] == [mid[0]["id"], mid[1]["id"], last["id"]]


async def test_insert_markdown_template(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    cells = await book.insert_ok({"template": {"id": "notes"}, "inputs": {"heading": "Data cleaning", "bullets": ["one"]}})
    assert len(cells) == 1 and cells[0]["cell_type"] == "markdown"
    assert cells[0]["source"].startswith("## Data cleaning")
    _, nb = await book.check()
    assert nb.cells[0].cell_type == "markdown" and "outputs" not in nb.cells[0]


async def test_insert_a_specific_template_version(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    await make_template(api, one_cell_doc("versioned", source="x = {{ column }}  # v1"))
    await new_version(api, one_cell_doc("versioned", source="x = {{ column }}  # v2"), 1)

    v1 = (await book.insert_ok({"template": {"id": "versioned", "version": 1}, "inputs": {"column": "a"}}))[0]
    assert (v1["version"], v1["source"], v1["state"]) == (1, "x = 'a'  # v1", "outdated")
    latest = (await book.insert_ok({"template": {"id": "versioned"}, "inputs": {"column": "a"}}))[0]
    assert (latest["version"], latest["source"], latest["state"]) == (2, "x = 'a'  # v2", "generated")
    v2 = (await book.insert_ok({"template": {"id": "versioned", "version": 2}, "inputs": {"column": "a"}}))[0]
    assert v2["version"] == 2
    _, nb = await book.check()
    assert [c.metadata["datadive"]["version"] for c in nb.cells] == [1, 2, 2]

    before = book.raw()
    await unchanged(book, before, await book.insert({"template": {"id": "versioned", "version": 3}, "inputs": {"column": "a"}}),
                    404, "version_not_found", ["/template/version"])
    await unchanged(book, before, await book.insert({"template": {"id": "no-such-template"}, "inputs": {}}), 404, "template_not_found", ["/template/id"])


async def test_insert_invalid_bodies_and_positions(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    a = await book.code("a")
    b = await book.code("b")
    before = book.raw()
    cases = [
        # bad positions
        ({"cell_type": "code", "source": "x", "index": 3}, 400, "invalid_position", ["/index"]),
        ({"cell_type": "code", "source": "x", "index": 99}, 400, "invalid_position", ["/index"]),
        ({"cell_type": "code", "source": "x", "after": "no-such-cell"}, 400, "invalid_position", ["/after"]),
        ({"cell_type": "code", "source": "x", "before": "no-such-cell"}, 400, "invalid_position", ["/before"]),
        ({"cell_type": "code", "source": "x", "index": 0, "after": a["id"]}, 400, "invalid_position", ["/index", "/after"]),
        ({"cell_type": "code", "source": "x", "after": a["id"], "before": b["id"]}, 400, "invalid_position", ["/after", "/before"]),
        ({"template": {"id": "overview"}, "inputs": {}, "after": "nope"}, 400, "invalid_position", ["/after"]),
        ({"template": {"id": "overview"}, "inputs": {}, "index": 7}, 400, "invalid_position", ["/index"]),
        # invalid inputs, with the path of each bad input
        ({"template": {"id": "value-counts"}, "inputs": {}}, 400, "invalid_inputs", ["/column"]),
        ({"template": {"id": "value-counts"}, "inputs": {"column": "", "top": 0}}, 400, "invalid_inputs", ["/column", "/top"]),
        ({"template": {"id": "value-counts"}, "inputs": {"column": "a", "df": "not a name"}}, 400, "invalid_inputs", ["/df"]),
        ({"template": {"id": "overview"}, "inputs": {"n": "many"}}, 400, "invalid_inputs", ["/n"]),
    ]
    for body, status, code, paths in cases:
        await unchanged(book, before, await book.insert(body), status, code, paths)
    # Bodies the schema refuses (the position/type checks of CellInsert), each at the field it blames.
    for body, paths in (
        ({"cell_type": "sql", "source": "x"}, ["/cell_type"]),
        ({"cell_type": "code", "source": 3}, ["/source"]),
        ({"cell_type": "code", "source": "x", "index": -1}, ["/index"]),
        ({"cell_type": "code", "source": "x", "index": "0"}, ["/index"]),
        ({"template": {"id": "overview"}, "cell_type": "code"}, ["/cell_type"]),
        ({"template": {"id": "overview", "version": 0}}, ["/template/version"]),
        ({"source": "no type"}, ["/cell_type"]),
        ({}, ["/template"]),
    ):
        reply = await book.insert(body)
        assert_error(reply, 400, "invalid", paths)
        assert book.raw() == before
    await book.check()


# -- update: re-generate, upgrade, edit --------------------------------------------------------


async def test_regenerate_keeps_id_clears_outputs_and_touches_nothing_else(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    head = await book.code("import pandas as pd")
    counts = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
    tail = (await book.insert_ok({"cell_type": "markdown", "source": "the end"}))[0]

    # Outputs, tags and notebook metadata written into the file by someone else (as after running it).
    nb = book.read()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.execution_count = i + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"out {i}\n")]
    nb.cells[1].metadata["tags"] = ["keep-me"]
    nb.cells[1].metadata["collapsed"] = True
    nb.metadata["custom"] = {"kept": [1, 2, 3]}
    write_nb(book.file, nb)
    before = plain(book.read())
    full = await book.cell(counts["id"])
    assert full["outputs"][0]["text"] == "out 1\n" and full["execution_count"] == 2

    r = await book.patch(counts["id"], {"inputs": {"column": "sex", "sort": "value"}})
    await ok(r)
    new = r.json
    assert r.headers.get("ETag")
    assert new["id"] == counts["id"] and new["index"] == 1
    assert new["state"] == "generated" and new["inputs"]["column"] == "sex" and new["inputs"]["sort"] == "value"
    assert "'sex'" in new["source"] and "sort_index()" in new["source"]
    assert new["outputs"] == [] and new["execution_count"] is None

    _, nb = await book.check()
    after = plain(nb)
    cell = after["cells"][1]
    assert cell["id"] == counts["id"]
    assert cell["outputs"] == [] and cell["execution_count"] is None
    assert cell["metadata"]["tags"] == ["keep-me"] and cell["metadata"]["collapsed"] is True
    assert cell["metadata"]["datadive"]["inputs"]["column"] == "sex"
    assert cell["metadata"]["datadive"]["source_hash"] != before["cells"][1]["metadata"]["datadive"]["source_hash"]
    # Everything else is exactly as it was: other cells with their outputs, notebook metadata, format.
    assert after["metadata"] == before["metadata"]
    assert after["cells"][0] == before["cells"][0] and after["cells"][2] == before["cells"][2]
    assert (after["nbformat"], after["nbformat_minor"]) == (before["nbformat"], before["nbformat_minor"])
    assert after["cells"][0]["outputs"][0]["text"] == "out 0\n"
    assert [c["id"] for c in after["cells"]] == [head["id"], counts["id"], tail["id"]]

    # Re-generating with the same inputs (no edit) is allowed again; inputs re-validated (defaults kept).
    again = await ok(await book.patch(counts["id"], {"inputs": {"column": "sex"}}))
    assert again["inputs"]["sort"] == "count"
    await book.check()


async def test_regenerate_refuses_a_cell_edited_by_hand(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
    other = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "age"}}))[0]

    # Edited through the API.
    edited = await ok(await book.patch(gen["id"], {"source": "counts = 'my own code'"}))
    assert edited["state"] == "edited" and edited["source"] == "counts = 'my own code'"
    assert edited["template"] == "value-counts"  # the provenance stays
    await book.check()
    before = book.raw()
    await unchanged(book, before, await book.patch(gen["id"], {"inputs": {"column": "sex"}}), 409, "cell_edited", ["/source"])
    await unchanged(book, before, await book.patch(gen["id"], {"inputs": {"column": "sex"}, "force": False}), 409, "cell_edited", ["/source"])
    await unchanged(book, before, await book.patch(gen["id"], {"template_version": "latest"}), 409, "cell_edited", ["/source"])
    forced = await ok(await book.patch(gen["id"], {"inputs": {"column": "sex"}, "force": True}))
    assert forced["state"] == "generated" and "'sex'" in forced["source"] and "my own code" not in forced["source"]
    await book.check()

    # Edited by writing the file directly (as JupyterLab would).
    nb = book.read()
    nb.cells[1].source = nb.cells[1].source + "\nprint('added in JupyterLab')"
    write_nb(book.file, nb)
    assert {c["id"]: c for c in await book.cells()}[other["id"]]["state"] == "edited"
    before = book.raw()
    await unchanged(book, before, await book.patch(other["id"], {"inputs": {"column": "sex"}}), 409, "cell_edited", ["/source"])
    assert "added in JupyterLab" in book.sources()[1]
    forced = await ok(await book.patch(other["id"], {"inputs": {"column": "sex"}, "force": True}))
    assert "added in JupyterLab" not in forced["source"]
    await book.check()


async def test_upgrade_to_latest_revalidates_inputs(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    await make_template(api, one_cell_doc("evolving", source="x = {{ column }}  # v1"))
    cell = (await book.insert_ok({"template": {"id": "evolving"}, "inputs": {"column": "a", "n": 2}}))[0]
    stay = (await book.insert_ok({"template": {"id": "evolving"}, "inputs": {"column": "b"}}))[0]

    # v2: `column` must now be an integer and a new input is required: the recorded inputs no longer fit.
    v2 = one_cell_doc("evolving", source="x = {{ column }}  # v2 {{ unit }}")
    v2["inputs"] = {
        "type": "object",
        "required": ["column", "unit"],
        "properties": {"column": {"type": "integer"}, "unit": {"type": "string"}, "n": {"type": "integer"}, "df": {"type": "string"}},
    }
    v2["examples"] = [{"inputs": {"column": 1, "unit": "kg"}}]
    await new_version(api, v2, 1)
    assert {c["id"]: c["state"] for c in await book.cells()} == {cell["id"]: "outdated", stay["id"]: "outdated"}

    before = book.raw()
    await unchanged(book, before, await book.patch(cell["id"], {"template_version": "latest"}), 400, "invalid_inputs", ["/column", "/unit"])
    # With inputs that fit v2.
    up = await ok(await book.patch(cell["id"], {"template_version": "latest", "inputs": {"column": 7, "unit": "kg"}}))
    assert (up["id"], up["version"], up["state"], up["source"]) == (cell["id"], 2, "generated", "x = 7  # v2 'kg'")
    await book.check()

    # v3 accepts the old recorded inputs again: a plain upgrade keeps them.
    await new_version(api, one_cell_doc("evolving", source="x = {{ column }}  # v3 n={{ n }}"), 2)
    up3 = await ok(await book.patch(stay["id"], {"template_version": "latest"}))
    assert (up3["version"], up3["source"], up3["state"]) == (3, "x = 'b'  # v3 n=5", "generated")
    assert up3["inputs"] == {"df": "df", "column": "b", "n": 5}
    # A specific version (here: back to 1).
    down = await ok(await book.patch(stay["id"], {"template_version": 1}))
    assert (down["version"], down["source"], down["state"]) == (1, "x = 'b'  # v1", "outdated")
    _, nb = await book.check()
    assert [c.metadata["datadive"]["version"] for c in nb.cells] == [2, 1]
    before = book.raw()
    await unchanged(book, before, await book.patch(stay["id"], {"template_version": 9}), 404, "version_not_found", ["/template_version"])


async def test_regenerate_with_invalid_inputs_lists_paths(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
    before = book.raw()
    await unchanged(book, before, await book.patch(gen["id"], {"inputs": {"column": ""}}), 400, "invalid_inputs", ["/column"])
    await unchanged(book, before, await book.patch(gen["id"], {"inputs": {"df": "1x", "top": -3}}), 400, "invalid_inputs", ["/column", "/df", "/top"])
    await unchanged(book, before, await book.patch(gen["id"], {"inputs": {"column": "a", "sort": "random"}}), 400, "invalid_inputs", ["/sort"])


async def test_edit_source_and_plain_cell_rules(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    p = await book.code("x = 1")
    md = (await book.insert_ok({"cell_type": "markdown", "source": "# old"}))[0]
    gen = (await book.insert_ok({"template": {"id": "overview"}, "inputs": {}}))[0]

    e1 = await ok(await book.patch(p["id"], {"source": "x = 2\ny = 3"}))
    assert (e1["id"], e1["source"], e1["state"]) == (p["id"], "x = 2\ny = 3", "plain")
    e2 = await ok(await book.patch(md["id"], {"source": "# new"}))
    assert e2["cell_type"] == "markdown"
    assert book.sources()[:2] == ["x = 2\ny = 3", "# new"]
    await book.check()

    before = book.raw()
    # Inputs on a plain cell: it was not made from a template.
    await unchanged(book, before, await book.patch(p["id"], {"inputs": {"column": "a"}}), 400, "not_generated", ["/inputs"])
    await unchanged(book, before, await book.patch(md["id"], {"template_version": "latest"}), 400, "not_generated", ["/template_version"])
    # Source together with inputs, or an empty / unknown body.
    await unchanged(book, before, await book.patch(gen["id"], {"source": "x", "inputs": {}}), 400, "invalid", ["/source"])
    await unchanged(book, before, await book.patch(gen["id"], {}), 400, "invalid", [""])
    await unchanged(book, before, await book.patch(gen["id"], {"cell_type": "markdown"}), 400, "invalid", ["/cell_type"])
    await unchanged(book, before, await book.patch(gen["id"], {"source": 3}), 400, "invalid", ["/source"])
    await unchanged(book, before, await book.patch(gen["id"], {"template_version": "newest"}), 400, "invalid", ["/template_version"])


# -- delete, move, reorder ------------------------------------------------------------------------


async def test_delete(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    a, b, c = [await book.code(s) for s in "abc"]
    etag = await book.etag()
    r = await book.delete(b["id"])
    assert r.status == 204, r.text
    assert r.headers.get("ETag") and r.headers["ETag"] != etag
    assert r.headers["ETag"] == await book.etag()
    listed, nb = await book.check()
    assert [x.id for x in nb.cells] == [a["id"], c["id"]]
    before = book.raw()
    await unchanged(book, before, await book.delete(b["id"]), 404, "cell_not_found", [])
    for cell in (a, c):
        assert (await book.delete(cell["id"])).status == 204
        await book.check()
    assert book.read().cells == []


async def test_move_by_index_after_and_before(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    a, b, c, d = [await book.code(s) for s in "abcd"]

    async def move(cell, body, expected, index):
        r = await book.move(cell["id"], body)
        await ok(r)
        assert r.headers.get("ETag") and r.headers["ETag"] == await book.etag()
        assert r.json["id"] == cell["id"] and r.json["index"] == index
        await book.check()
        assert "".join(book.sources()) == expected

    await move(a, {"index": 3}, "bcda", 3)  # the last place
    await move(a, {"index": 0}, "abcd", 0)
    await move(a, {"after": c["id"]}, "bcad", 2)
    await move(d, {"before": b["id"]}, "dbca", 0)
    await move(b, {"after": a["id"]}, "dcab", 3)
    await move(c, {"index": 1}, "dcab", 1)  # where it already is
    await move(c, {"before": a["id"]}, "dcab", 1)

    before = book.raw()
    cases = [
        (a, {"after": a["id"]}, 400, "invalid_position", ["/after"]),
        (a, {"before": a["id"]}, 400, "invalid_position", ["/before"]),
        (a, {"index": 4}, 400, "invalid_position", ["/index"]),  # 4 cells: 0..3
        (a, {"after": "ghost"}, 400, "invalid_position", ["/after"]),
        (a, {"before": "ghost"}, 400, "invalid_position", ["/before"]),
        ({"id": "ghost"}, {"index": 0}, 404, "cell_not_found", []),
    ]
    for cell, body, status, code, paths in cases:
        await unchanged(book, before, await book.move(cell["id"], body), status, code, paths)
    for body, paths in (({"index": 0, "after": b["id"]}, [""]), ({"after": b["id"], "before": c["id"]}, [""]), ({}, [""]),
                        ({"index": -1}, ["/index"]), ({"to": 1}, ["/to"])):
        reply = await book.move(a["id"], body)
        assert_error(reply, 400, "invalid", paths)
        assert book.raw() == before
    await book.check()


async def test_reorder(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    cells = [await book.code(s) for s in "abcd"]
    ids = [c["id"] for c in cells]
    r = await book.order(list(reversed(ids)))
    await ok(r)
    assert r.headers.get("ETag") and r.headers["ETag"] == await book.etag()
    assert [c["id"] for c in r.json["cells"]] == list(reversed(ids))
    assert [c["index"] for c in r.json["cells"]] == [0, 1, 2, 3]
    await book.check()
    assert "".join(book.sources()) == "dcba"
    same = await ok(await book.order(list(reversed(ids))))  # the current order: fine
    assert [c["id"] for c in same["cells"]] == list(reversed(ids))
    await book.check()

    before = book.raw()
    bad = [  # (order, error paths, the cells it names as missing)
        (ids[:3], ["/order", "/order"], [ids[3]]),  # one missing
        (ids + [ids[0]], ["/order"], []),  # a duplicate
        (ids[:3] + [ids[0]], ["/order", "/order"], [ids[3]]),  # right length, one duplicated, one missing
        (ids[:3] + ["ghost"], ["/order", "/order", "/order/3"], [ids[3]]),  # an unknown id
        (ids + ["ghost"], ["/order", "/order/4"], []),
        ([], ["/order"] * 5, ids),
    ]
    for order, paths, missing in bad:
        reply = await book.order(order)
        await unchanged(book, before, reply, 400, "invalid_order", paths)
        named = [e["message"].removeprefix("missing ") for e in reply.json["errors"] if e["message"].startswith("missing ")]
        assert sorted(named) == sorted(missing), reply.json["errors"]
    for body, paths in (({"order": "abcd"}, ["/order"]), ({"order": [1, 2, 3, 4]}, ["/order/0", "/order/1", "/order/2", "/order/3"]),
                        ({}, ["/order"]), ({"order": ids, "extra": 1}, ["/extra"])):
        reply = await book.call("PUT", "cells", "order", body=body)
        assert_error(reply, 400, "invalid", paths)
        assert book.raw() == before


async def test_reorder_empty_notebook(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    r = await book.order([])
    assert (await ok(r))["cells"] == []
    await book.check()


# -- errors: missing things, stale ETags ----------------------------------------------------------


async def test_unknown_cell_notebook_and_project(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    await book.code("x")
    before = book.raw()
    for method, segments, body in (
        ("GET", ("cells", "ghost"), None),
        ("PATCH", ("cells", "ghost"), {"source": "y"}),
        ("DELETE", ("cells", "ghost"), None),
        ("POST", ("cells", "ghost", "move"), {"index": 0}),
    ):
        await unchanged(book, before, await book.call(method, *segments, body=body), 404, "cell_not_found", [])

    routes = [
        ("GET", ("cells",), None),
        ("POST", ("cells",), {"cell_type": "code", "source": "x"}),
        ("GET", ("cells", "ghost"), None),
        ("PATCH", ("cells", "ghost"), {"source": "y"}),
        ("DELETE", ("cells", "ghost"), None),
        ("POST", ("cells", "ghost", "move"), {"index": 0}),
        ("PUT", ("cells", "order"), {"order": []}),
        ("GET", ("history",), None),
        ("POST", ("history", HEX32, "undo"), {}),
    ]
    (book.file.parent / "data.csv").write_text("a,b\n1,2\n")
    for nb in ("missing.ipynb", "sub/missing.ipynb", "data.csv"):
        for method, segments, body in routes:
            reply = await api(method, "projects", book.pid, "notebooks", nb, *segments, body=body)
            assert_error(reply, 404, "notebook_not_found", [])
    assert not (book.file.parent / "missing.ipynb").exists()
    assert (book.file.parent / "data.csv").read_text() == "a,b\n1,2\n"
    for method, segments, body in routes:
        reply = await api(method, "projects", "000000000000", "notebooks", book.nb, *segments, body=body)
        assert_error(reply, 404, "project_not_found", [])
        reply = await api(method, "projects", book.pid, "notebooks", "../escape.ipynb", *segments, body=body)
        assert_error(reply, 400, "invalid_path", ["/nb"])
    assert book.raw() == before


async def test_nested_notebook_path(api, jp_root_dir):
    project = await ok(await api("POST", "projects", body={"name": "Nested"}), 201)
    book = await new_book(api, jp_root_dir, name="sub/deeper/nested.ipynb", project=project)
    a = await book.code("a")
    await book.insert_ok({"template": {"id": "overview"}, "after": a["id"]})
    await ok(await book.move(a["id"], {"index": 2}))
    await book.check()
    assert len(await book.history()) == 4


async def test_odd_notebook_names_and_location(api, jp_root_dir, jp_base_url, http_server_client, jp_auth_header):
    project = await ok(await api("POST", "projects", body={"name": "Odd"}), 201)
    name = "my dir/Ana lysis #1 ?50% é.ipynb"
    book = await new_book(api, jp_root_dir, name=name, project=project)
    r = await book.insert({"template": {"id": "overview"}})
    await ok(r, 201)
    location = r.headers["Location"]
    assert location.startswith(f"{jp_base_url}api/datadive/projects/{book.pid}/notebooks/")
    fetched = await http_server_client.fetch(location, headers=jp_auth_header)
    assert fetched.code == 200 and json.loads(fetched.body)["id"] == r.json["cells"][0]["id"]
    await ok(await book.move(r.json["cells"][1]["id"], {"index": 0}))
    await book.check()
    assert [i["op"] for i in await book.history()] == ["move", "insert", "insert"]


async def test_too_large_body(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    a = await book.code("a")
    before = book.raw()
    big = "x" * (3 * 1024 * 1024)
    await unchanged(book, before, await book.insert({"cell_type": "code", "source": big}), 413, "too_large", [])
    await unchanged(book, before, await book.patch(a["id"], {"source": big}), 413, "too_large", [])


async def test_if_match_on_every_write(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
    b = await book.code("b")
    old = await book.etag()
    c = await book.code("c")  # the notebook changes: `old` is stale now
    current = await book.etag()
    assert current != old
    ops = await book.history()
    before = book.raw()

    writes = [
        lambda h: book.insert({"cell_type": "code", "source": "x"}, headers=h),
        lambda h: book.insert({"template": {"id": "overview"}}, headers=h),
        lambda h: book.patch(gen["id"], {"inputs": {"column": "age"}}, headers=h),
        lambda h: book.patch(b["id"], {"source": "edited"}, headers=h),
        lambda h: book.patch(gen["id"], {"template_version": "latest"}, headers=h),
        lambda h: book.delete(b["id"], headers=h),
        lambda h: book.move(c["id"], {"index": 0}, headers=h),
        lambda h: book.order(book.ids()[::-1], headers=h),
        lambda h: book.undo(ops[0]["id"], headers=h),
    ]
    for write in writes:
        for stale in (old, f"W/{old}", '"not-an-etag"', f'"x", {old}'):
            reply = await write({"If-Match": stale})
            await unchanged(book, before, reply, 412, "stale", ["/headers/If-Match"])
    assert await book.history() == ops  # nothing journaled

    # The current ETag (alone, in a list, or "*") is accepted; each write's ETag chains to the next.
    # ETags name the file's content: a write that leaves the bytes as they were keeps the ETag.
    etag = current
    for i, write in enumerate(writes[:8]):
        header = [etag, f'"zzz", {etag}', "*", f"{etag} , \"other\""][i % 4]
        before_bytes = book.file.read_bytes()
        reply = await write({"If-Match": header})
        assert reply.status in (200, 201, 204), (i, reply.text)
        assert (reply.headers["ETag"] != etag) == (book.file.read_bytes() != before_bytes)
        etag = reply.headers["ETag"]
        assert etag == await book.etag()
        await book.check()


async def test_template_cell_metadata_that_is_not_nbformat_is_a_client_error(api, jp_root_dir):
    """A user template whose cell metadata is not valid nbformat: refused with a 400, never a 500.

    The template schema allows any object as a cell's extra metadata, but nbformat
    wants ``tags`` to be a list of strings. The template (POST) or its new version
    (PUT) is refused with ``invalid_template`` at the metadata's path; the file is
    untouched and no phantom cell shows up later.
    """
    book = await new_book(api, jp_root_dir)
    await book.code("a")
    before = book.raw()
    doc = one_cell_doc("bad-tags")
    doc["cells"][0]["metadata"] = {"tags": "not-a-list"}
    created = await api("POST", "templates", body=doc)
    assert_error(created, 400, "invalid_template", ["/cells/0/metadata"])  # refused when the template is made
    assert_error(await api("GET", "templates", "bad-tags"), 404, "template_not_found", [])
    reply = await book.insert({"template": {"id": "bad-tags"}, "inputs": {"column": "a"}})
    await unchanged(book, before, reply, 404, "template_not_found", ["/template/id"])
    assert book.sources() == ["a"]

    # The same through an upgrade: v1 is fine, v2 carries the bad metadata.
    await make_template(api, one_cell_doc("later-bad"))
    cell = (await book.insert_ok({"template": {"id": "later-bad"}, "inputs": {"column": "a"}}))[0]
    before = book.raw()
    v2 = one_cell_doc("later-bad", source="x = {{ column }}  # v2")
    v2["cells"][0]["metadata"] = {"tags": "not-a-list"}
    put = await api("PUT", "templates", "later-bad", body=v2, headers={"If-Match": '"1"'})
    assert_error(put, 400, "invalid_template", ["/cells/0/metadata"])  # no version 2 is made
    assert book.raw() == before
    assert [v["version"] for v in (await ok(await api("GET", "templates", "later-bad", "versions")))["items"]] == [1]
    reply = await book.patch(cell["id"], {"template_version": "latest"})  # latest is still v1: nothing to change
    await ok(reply)
    assert (reply.json["version"], reply.json["state"]) == (1, "generated")
    assert book.read().cells[1].source == "x = 'a'  # v1"
    await book.check()
    # The next write persists only what it should.
    await book.code("b")
    await book.check()
    assert book.sources() == ["a", "x = 'a'  # v1", "b"]


async def test_cell_ids_of_an_old_notebook_stay_valid(api, jp_root_dir):
    """An nbformat 4.4 notebook (cells without ids): the ids the API hands out keep working.

    A client lists the cells, the file is then saved by someone else without any
    change to its cells (JupyterLab's autosave, a touch), and the client PATCHes a
    cell by the id it was given: that id must still name the cell.
    """
    book = await new_book(api, jp_root_dir)
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = 4
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("# notes")]
    raw = plain(nb)
    for cell in raw["cells"]:
        cell.pop("id", None)
    book.file.write_text(json.dumps(raw, indent=1), encoding="utf-8")

    first = [c["id"] for c in await book.cells()]
    assert len(set(first)) == 2 and all(first)
    assert [c["id"] for c in await book.cells()] == first
    os.utime(book.file, ns=(os.stat(book.file).st_atime_ns, os.stat(book.file).st_mtime_ns + 5_000_000_000))
    assert [c["id"] for c in await book.cells()] == first, "the ids changed on a re-read of the same cells"
    r = await book.patch(first[0], {"source": "x = 2"})
    await ok(r)
    listed, nb = await book.check()
    assert [c.id for c in nb.cells] == first
    assert nb.cells[0].source == "x = 2"


# -- history and undo ---------------------------------------------------------------------------------


async def test_an_unreadable_notebook_is_a_retryable_conflict(api, jp_root_dir):
    """A file that is not a notebook right now (torn by another writer, or broken by hand): 409 with
    Retry-After, the file untouched and nothing journaled; once it is whole again, the insert works."""
    book = await new_book(api, jp_root_dir)
    good = book.raw()
    book.file.write_bytes(good[: len(good) // 2])  # what a reader sees in the middle of an in-place write
    torn = book.raw()
    for reply in (await book.insert({"cell_type": "code", "source": "x = 1"}), await book.call("GET", "cells")):
        assert_error(reply, 409, "notebook_unreadable", [""])
        assert reply.headers["Retry-After"] == "1"
    assert book.raw() == torn
    book.file.write_bytes(good)
    await book.code("x = 1")
    assert [i["op"] for i in await book.history()] == ["insert"]


async def test_history_pages_with_a_cursor(api, jp_root_dir):
    """The journal pages like every list: newest first, ``next_cursor`` until the last page."""
    book = await new_book(api, jp_root_dir)
    for k in range(7):
        await book.code(f"x = {k}")
    everything = await book.history(limit=100)
    assert len(everything) == 7
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await book.call("GET", "history", params=params)
        await ok(r)
        assert set(r.json) == {"items", "next_cursor"}
        seen += [i["id"] for i in r.json["items"]]
        pages += 1
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
        await book.code("y = 1")  # a new operation between pages neither repeats nor shifts older ones
    assert pages == 3
    assert seen == [i["id"] for i in everything]
    assert_error(await book.call("GET", "history", params={"cursor": "not-a-cursor"}), 400, "invalid_cursor", ["/cursor"])


async def test_history_journals_every_operation(api, jp_root_dir, jp_serverapp):
    book = await new_book(api, jp_root_dir)
    me = next(iter(jp_serverapp.extension_manager.extension_apps["datadive_ext"])).owner_name
    ins = await book.insert_ok({"template": {"id": "overview"}})
    raw = await book.code("x = 1")
    await ok(await book.patch(ins[1]["id"], {"inputs": {"n": 9}}))
    await ok(await book.patch(raw["id"], {"source": "x = 2"}))
    await ok(await book.move(raw["id"], {"index": 0}))
    order = [ins[1]["id"], ins[0]["id"], raw["id"]]
    await ok(await book.order(order))
    assert (await book.delete(ins[0]["id"])).status == 204
    await book.check()

    items = await book.history()
    assert [i["op"] for i in items] == ["delete", "reorder", "move", "edit", "regenerate", "insert", "insert", "insert"]
    assert all(i["user"] == me and i["at"] for i in items)
    assert len({i["id"] for i in items}) == len(items)
    assert all(i["undone_by"] is None for i in items)
    by_op = {}
    for i in items:
        by_op.setdefault(i["op"], []).append(i)

    inserts = list(reversed(by_op["insert"]))  # oldest first
    assert [i["cell_id"] for i in inserts] == [ins[0]["id"], ins[1]["id"], raw["id"]]
    assert all(i["before"] is None for i in inserts)
    assert [i["after"]["index"] for i in inserts] == [0, 1, 2]
    assert inserts[1]["after"]["cell"]["source"] == "df.head(5)"

    regen = by_op["regenerate"][0]
    assert regen["cell_id"] == ins[1]["id"]
    assert regen["before"]["cell"]["source"] == "df.head(5)" and regen["after"]["cell"]["source"] == "df.head(9)"
    edit = by_op["edit"][0]
    assert (edit["before"]["cell"]["source"], edit["after"]["cell"]["source"]) == ("x = 1", "x = 2")
    move = by_op["move"][0]
    assert (move["cell_id"], move["before"]["index"], move["after"]["index"]) == (raw["id"], 2, 0)
    reorder = by_op["reorder"][0]
    assert reorder["before"]["order"] == [raw["id"], ins[0]["id"], ins[1]["id"]] and reorder["after"]["order"] == order
    delete = by_op["delete"][0]
    assert delete["cell_id"] == ins[0]["id"] and delete["after"] is None
    assert delete["before"]["index"] == 1 and delete["before"]["cell"]["id"] == ins[0]["id"]

    assert [i["id"] for i in await book.history(limit=2)] == [i["id"] for i in items[:2]]
    # Refused operations are not journaled.
    await book.patch("ghost", {"source": "x"})
    await book.move(raw["id"], {"index": 99})
    assert len(await book.history()) == len(items)
    # Another notebook has its own journal.
    other = Book(api, book.pid, "other.ipynb", book.file.parent / "other.ipynb")
    await ok(await api("POST", "projects", book.pid, "notebooks", body={"name": "other"}), 201)
    assert await other.history() == []


async def test_undo_insert_delete_move_regenerate_edit_reorder(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    a = await book.code("a")
    b = await book.code("b")
    gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]

    async def last_op(op):
        item = (await book.history())[0]
        assert item["op"] == op
        return item

    async def undo(op):
        r = await book.undo(op["id"])
        await ok(r)
        assert r.headers.get("ETag") and r.headers["ETag"] == await book.etag()
        assert r.json["undone"] == op["id"] and r.json["operations"]
        await book.check()
        items = {i["id"]: i for i in await book.history()}
        assert items[op["id"]]["undone_by"] in r.json["operations"]
        assert items[r.json["operations"][0]]["op"] == "undo"
        assert items[r.json["operations"][0]]["undoes"] == op["id"]
        return r.json

    # insert
    c = await book.code("c")
    await undo(await last_op("insert"))
    assert book.sources() == ["a", "b", gen["source"]]

    # delete (with outputs: the cell comes back as it was, at its place)
    nb = book.read()
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="b!\n")]
    nb.cells[1].execution_count = 4
    write_nb(book.file, nb)
    deleted_cell = plain(book.read().cells[1])
    assert (await book.delete(b["id"])).status == 204
    await undo(await last_op("delete"))
    assert book.ids() == [a["id"], b["id"], gen["id"]]
    assert plain(book.read().cells[1]) == deleted_cell

    # move
    await ok(await book.move(a["id"], {"index": 2}))
    await undo(await last_op("move"))
    assert book.ids() == [a["id"], b["id"], gen["id"]]

    # regenerate: back to the old source, inputs and hash
    old_gen = plain(book.read().cells[2])
    await ok(await book.patch(gen["id"], {"inputs": {"column": "age", "top": 3}}))
    assert "'age'" in book.sources()[2]
    await undo(await last_op("regenerate"))
    assert plain(book.read().cells[2]) == old_gen
    assert (await book.cell(gen["id"]))["state"] == "generated"

    # edit
    await ok(await book.patch(a["id"], {"source": "a = 'changed'"}))
    await undo(await last_op("edit"))
    assert book.sources()[0] == "a"

    # reorder
    await ok(await book.order([gen["id"], a["id"], b["id"]]))
    await undo(await last_op("reorder"))
    assert book.ids() == [a["id"], b["id"], gen["id"]]

    # upgrade
    await make_template(api, one_cell_doc("up"))
    u = (await book.insert_ok({"template": {"id": "up"}, "inputs": {"column": "k"}}))[0]
    await new_version(api, one_cell_doc("up", source="x = {{ column }}  # v2"), 1)
    await ok(await book.patch(u["id"], {"template_version": "latest"}))
    await undo(await last_op("upgrade"))
    assert (await book.cell(u["id"]))["version"] == 1
    assert book.sources()[-1] == "x = 'k'  # v1"
    assert c["id"] not in book.ids()


async def test_undo_refusals(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    a = await book.code("a")
    gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
    b = await book.code("b")
    insert_b = (await book.history())[0]

    # Undo twice: the second is a conflict.
    await ok(await book.move(a["id"], {"index": 2}))
    move = (await book.history())[0]
    first = await ok(await book.undo(move["id"]))
    await book.check()
    before = book.raw()
    await unchanged(book, before, await book.undo(move["id"]), 409, "already_undone", [])
    # An undo cannot itself be undone.
    await unchanged(book, before, await book.undo(first["operations"][0]), 409, "not_undoable", [])

    # The cell no longer matches the operation's after-state.
    await ok(await book.patch(b["id"], {"source": "b, changed later"}))
    before = book.raw()
    await unchanged(book, before, await book.undo(insert_b["id"]), 409, "cell_changed", [])  # inserted, then edited

    await ok(await book.patch(gen["id"], {"inputs": {"column": "age"}}))
    regen = (await book.history())[0]
    nb = book.read()
    nb.cells[1].source += "\n# edited in JupyterLab"
    write_nb(book.file, nb)
    before = book.raw()
    await unchanged(book, before, await book.undo(regen["id"]), 409, "cell_changed", [])  # re-generated, then edited by hand

    await ok(await book.move(a["id"], {"index": 0}))
    move2 = (await book.history())[0]
    await ok(await book.move(b["id"], {"index": 0}))  # a is no longer where the move put it
    before = book.raw()
    await unchanged(book, before, await book.undo(move2["id"]), 409, "cell_changed", [])

    assert (await book.delete(gen["id"])).status == 204
    delete = (await book.history())[0]
    edit_of_gen = [i for i in await book.history() if i["op"] == "regenerate"][0]
    before = book.raw()
    await unchanged(book, before, await book.undo(edit_of_gen["id"]), 409, "cell_changed", [])  # the cell is gone
    await ok(await book.undo(delete["id"]))
    await book.check()

    ids = book.ids()
    await ok(await book.order(list(reversed(ids))))
    reorder = (await book.history())[0]
    await book.code("new")  # the order is not the reorder's any more
    before = book.raw()
    await unchanged(book, before, await book.undo(reorder["id"]), 409, "cell_changed", [])

    # Unknown operations, or another notebook's.
    await unchanged(book, before, await book.undo(HEX32), 404, "operation_not_found", [])
    await ok(await api("POST", "projects", book.pid, "notebooks", body={"name": "second"}), 201)
    other = Book(api, book.pid, "second.ipynb", book.file.parent / "second.ipynb")
    await other.code("z")
    foreign = (await other.history())[0]
    await unchanged(book, before, await book.undo(foreign["id"]), 404, "operation_not_found", [])
    reply = await book.undo("not-an-operation-id")
    await unchanged(book, before, reply, 404, "no_route", [""])  # not an operation id: no route matches


async def test_concurrent_undos_of_one_operation_undo_it_once(api, jp_root_dir):
    """A double-clicked undo: of several concurrent undos of one operation exactly one succeeds."""
    import asyncio

    book = await new_book(api, jp_root_dir)
    gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
    await ok(await book.patch(gen["id"], {"inputs": {"column": "group"}}))  # re-generated, nothing changed
    regen = (await book.history())[0]
    assert regen["op"] == "regenerate"
    replies = await asyncio.gather(*[book.undo(regen["id"]) for _ in range(4)])
    assert max_in_flight(replies) == 4, "the undos did not overlap"
    assert sorted(r.status for r in replies) == [200, 409, 409, 409], [r.text for r in replies]
    for r in replies:
        if r.status == 409:
            assert_error(r, 409, "already_undone", [])
    items = await book.history()
    assert [i["op"] for i in items] == ["undo", "regenerate", "insert"]
    assert items[1]["undone_by"] == items[0]["id"] and items[0]["undoes"] == regen["id"]
    await book.check()


# -- roles ---------------------------------------------------------------------------------------


class TestRoles:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return multi_user_config(jp_data_dir)

    async def test_viewer_reads_editor_writes_stranger_sees_nothing(self, api, jp_root_dir):
        book = await new_book(api, jp_root_dir, user="alice")
        pid = book.pid
        for user, role in (("bob", "viewer"), ("dave", "editor")):
            await ok(await api("PUT", "projects", pid, "members", user, body={"role": role}, user="alice"))
        gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
        c = await book.code("c")
        op = (await book.history())[0]
        await book.check()

        def writes(cell_id, op_id):
            return [
                ("POST", ("cells",), {"cell_type": "code", "source": "x"}),
                ("POST", ("cells",), {"template": {"id": "overview"}}),
                ("PATCH", ("cells", cell_id), {"source": "edited"}),
                ("PATCH", ("cells", cell_id), {"inputs": {"column": "age"}}),
                ("PATCH", ("cells", cell_id), {"template_version": "latest"}),
                ("POST", ("cells", cell_id, "move"), {"index": 1}),
                ("PUT", ("cells", "order"), {"order": [c["id"], gen["id"]]}),
                ("POST", ("history", op_id, "undo"), {}),
                ("DELETE", ("cells", cell_id), None),
            ]

        reads = [("GET", ("cells",)), ("GET", ("cells", gen["id"])), ("GET", ("history",))]
        before = book.raw()
        # bob, a viewer: every read, no write.
        for method, segments in reads:
            r = await book.call(method, *segments, user="bob")
            assert r.status == 200, (segments, r.text)
        assert [x["id"] for x in (await book.listing(user="bob"))[0]] == [gen["id"], c["id"]]
        for method, segments, body in writes(gen["id"], op["id"]):
            r = await book.call(method, *segments, body=body, user="bob")
            assert_error(r, 403, "role_required", [])
        # carol and erin, strangers: 404 for reads and writes, as if there were no project.
        for stranger in ("carol", "erin"):
            for method, segments in reads:
                assert_error(await book.call(method, *segments, user=stranger), 404, "project_not_found", [])
            for method, segments, body in writes(gen["id"], op["id"]):
                r = await book.call(method, *segments, body=body, user=stranger)
                assert_error(r, 404, "project_not_found", [])
                assert book.nb not in r.text
        assert book.raw() == before
        assert len(await book.history()) == 2
        await book.check()

        # dave, an editor: the same writes succeed, and the journal names him.
        expected = [201, 201, 200, 409, 409, 200, 200, 200, 204]  # after the edit, re-generate / upgrade: 409 cell_edited
        for (method, segments, body), status in zip(writes(gen["id"], op["id"]), expected):
            if segments[0] == "cells" and segments[-1] == "order":
                body = {"order": [x["id"] for x in reversed(await book.cells())]}
            r = await book.call(method, *segments, body=body, user="dave")
            if status == 409:
                assert_error(r, 409, "cell_edited", ["/source"])
            else:
                assert r.status == status, (method, segments, r.status, r.text)
            await book.check()
        items = await book.history(user="bob")
        mine = [i for i in items if i["user"] == "dave"]
        assert [i["op"] for i in reversed(mine)] == ["insert", "insert", "insert", "edit", "move", "reorder", "undo", "delete"]
        assert {i["user"] for i in items} == {"alice", "dave"}
