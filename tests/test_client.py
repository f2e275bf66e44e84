"""The Python client (datadive_ext.client) against a real server: every route, paging, ETags, typed errors.

The server is pytest-jupyter's, in this process, listening on a real port; the client
is synchronous httpx, so each scenario runs in a worker thread (``asyncio.to_thread``)
while the server's event loop answers. The async client runs on the loop itself.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from datadive_testing import counting_template_doc

from datadive_ext.client import (
    OPERATIONS, AsyncDatadiveClient, BadRequest, CellEdited, Conflict, DatadiveClient, DatadiveError, Forbidden,
    KernelTimeout, NotAvailable, NotFound, PreconditionFailed, ServerError, ServerUnreachable, StorageFull, Tagged,
    TooLarge, Unavailable, api_root, file_source, kernel_source, table_source,
)
from datadive_ext.client.core import FUTURE_OPERATIONS
from datadive_ext.client.errors import error_from_answer

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Live:
    url: str  # the server's URL with its base_url (pytest-jupyter's is /a%40b/)
    token: str
    root: Path  # the server's root_dir

    def client(self, **kw) -> DatadiveClient:
        return DatadiveClient(self.url, self.token, **kw)


@pytest.fixture
def live(jp_serverapp, http_server, jp_http_port, jp_base_url, jp_auth_header) -> Live:
    token = jp_auth_header["Authorization"].split(" ", 1)[1]
    return Live(f"http://127.0.0.1:{jp_http_port}{jp_base_url}", token, Path(jp_serverapp.root_dir))


async def in_thread(fn, *args, **kwargs):
    """Runs the synchronous client scenario in a worker thread while the server's loop answers."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def error_of(exc_info, cls, status, code, paths=None):
    """The typed error: class, status, code, message, and (a list: exactly, a set: distinct) error paths."""
    err = exc_info.value
    assert type(err) is cls, repr(err)
    assert err.status == status and err.code == code, repr(err)
    assert err.message and isinstance(err.errors, list), repr(err)
    if isinstance(paths, set):
        assert set(err.paths) == paths, err.errors
    elif paths is not None:
        assert sorted(err.paths) == sorted(paths), err.errors
    return err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the package needs no server -------------------------------------------------------

SERVER_MODULES = ("tornado", "jupyter_server", "nbformat", "traitlets", "cell_templates", "datadive_ext.app")


def _imported_modules(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_client_modules_import_no_server_code():
    """The client and the CLI import httpx, click and rich, and nothing of the server.

    The parent package is stubbed so that only datadive_ext/client/* runs (see the next
    test for the package as a whole).
    """
    out = _imported_modules(
        "import json, sys, types\n"
        f"pkg = types.ModuleType('datadive_ext'); pkg.__path__ = [{str(REPO / 'datadive_ext')!r}]\n"
        "sys.modules['datadive_ext'] = pkg\n"
        "import datadive_ext.client, datadive_ext.client.cli\n"
        "c = datadive_ext.client.DatadiveClient('http://localhost:1/', 't')\n"
        f"print(json.dumps([m for m in {SERVER_MODULES!r} if m in sys.modules]))"
    )
    assert out == []


def test_importing_datadive_ext_client_imports_no_server_code():
    out = _imported_modules(
        "import json, sys\n"
        "import datadive_ext.client, datadive_ext.client.cli\n"
        f"print(json.dumps([m for m in {SERVER_MODULES!r} if m in sys.modules]))"
    )
    assert out == []


# -- construction ------------------------------------------------------------------------


def test_api_root_and_token_sources(monkeypatch):
    assert api_root("http://h:8888") == "http://h:8888/api/datadive/"
    assert api_root("http://h:8888/a%40b") == "http://h:8888/a%40b/api/datadive/"
    assert api_root("https://hub.example.org/user/ann/") == "https://hub.example.org/user/ann/api/datadive/"
    assert api_root("http://h/x/api/datadive/") == "http://h/x/api/datadive/"
    for bad in ("", "localhost:8888", "ftp://h/", "http:///nohost"):
        with pytest.raises(ValueError):
            api_root(bad)

    monkeypatch.delenv("DATADIVE_URL", raising=False)
    monkeypatch.delenv("DATADIVE_TOKEN", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(ValueError):
        DatadiveClient()
    monkeypatch.setenv("DATADIVE_URL", "http://h:1/base/")
    assert DatadiveClient().url == "http://h:1/base/"
    assert DatadiveClient().token is None and "Authorization" not in DatadiveClient()._http.headers
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub")
    assert DatadiveClient().token == "hub"
    monkeypatch.setenv("DATADIVE_TOKEN", "dd")
    assert DatadiveClient().token == "dd"
    assert DatadiveClient(token="arg").token == "arg"
    assert DatadiveClient(token="arg")._http.headers["Authorization"] == "token arg"


async def test_token_from_the_environment_reaches_the_server(live, monkeypatch):
    monkeypatch.delenv("DATADIVE_TOKEN", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", live.token)

    def scenario():
        assert DatadiveClient(live.url).list_projects() == {"items": [], "next_cursor": None}
        # DATADIVE_TOKEN comes first
        os.environ["DATADIVE_TOKEN"] = "wrong"
        with pytest.raises(Forbidden) as e:
            DatadiveClient(live.url).list_projects()
        assert e.value.status == 403 and e.value.code == "forbidden"
        with pytest.raises(Forbidden):
            DatadiveClient(live.url, token="").list_projects()  # an explicit empty token sends none

    try:
        await in_thread(scenario)
    finally:
        os.environ.pop("DATADIVE_TOKEN", None)


# -- projects, members, notebooks --------------------------------------------------------


async def test_projects_members_and_notebooks(live):
    def scenario():
        with live.client() as dd:
            made = [dd.create_project(f"Study {i}", f"about {i}") for i in range(5)]
            pid = made[0]["id"]
            assert made[0]["name"] == "Study 0" and made[0]["role"] == "owner"
            assert dd.get_project(pid) == made[0]
            assert dd.update_project(pid, description="new words")["description"] == "new words"
            assert dd.rename_project(pid, "Renamed")["name"] == "Renamed"

            # paging: one page, then every page through next_cursor
            page = dd.list_projects(limit=2)
            assert len(page["items"]) == 2 and page["next_cursor"]
            second = dd.list_projects(limit=2, cursor=page["next_cursor"])
            assert {p["id"] for p in second["items"]}.isdisjoint(p["id"] for p in page["items"])
            pages = []
            real = dd.list_projects
            dd.list_projects = lambda *a, **kw: pages.append(kw) or real(*a, **kw)
            every = list(dd.iter_projects(page_size=2))
            del dd.list_projects
            assert len(pages) == 3 and pages[0]["cursor"] is None and pages[1]["cursor"]
            assert [p["id"] for p in every] == [p["id"] for p in dd.list_projects(limit=50)["items"]]
            assert {p["id"] for p in every} == {p["id"] for p in made}
            assert [p["name"] for p in dd.iter_projects("about 3")] == ["Study 3"]

            # errors: a 400 with its field path, a 404
            with pytest.raises(BadRequest) as e:
                dd.create_project("")
            error_of(e, BadRequest, 400, "invalid", {"/name"})
            with pytest.raises(BadRequest) as e:
                dd.update_project(pid)
            error_of(e, BadRequest, 400, "invalid")
            with pytest.raises(NotFound) as e:
                dd.get_project("nope")
            error_of(e, NotFound, 404, "project_not_found", [])

            # members
            assert dd.set_member(pid, "bob", "viewer")["role"] == "viewer"
            assert dd.set_member(pid, "bob", "editor")["role"] == "editor"
            members = dd.list_members(pid)["items"]
            assert {m["user"]: m["role"] for m in members}["bob"] == "editor"
            with pytest.raises(BadRequest) as e:
                dd.set_member(pid, "bob", "boss")
            error_of(e, BadRequest, 400, "invalid", {"/role"})
            assert dd.remove_member(pid, "bob") is None
            assert "bob" not in {m["user"] for m in dd.list_members(pid)["items"]}

            # notebooks: a path with a folder travels as one URL segment
            nb = dd.create_notebook(pid, "sub/analysis")
            assert nb["path"] == "sub/analysis.ipynb"
            assert dd.get_notebook(pid, "sub/analysis.ipynb")["path"] == "sub/analysis.ipynb"
            assert [n["path"] for n in dd.list_notebooks(pid)["items"]] == ["sub/analysis.ipynb"]
            renamed = dd.rename_notebook(pid, "sub/analysis.ipynb", "final")
            assert renamed["path"] == "final.ipynb"
            with pytest.raises(NotFound) as e:
                dd.get_notebook(pid, "sub/analysis.ipynb")
            assert e.value.status == 404
            assert dd.delete_notebook(pid, "final.ipynb") is None
            assert dd.list_notebooks(pid)["items"] == []

            # delete, with and without the folder
            folder = live.root / made[1]["path"]
            assert dd.delete_project(made[1]["id"], delete_files=True) is None
            assert not folder.exists()
            assert dd.delete_project(made[2]["id"]) is None
            assert (live.root / made[2]["path"]).is_dir()
            with pytest.raises(NotFound):
                dd.get_project(made[2]["id"])

    await in_thread(scenario)


# -- cells: ETags, If-Match, cell_edited, history, undo ----------------------------------------


async def test_cells_with_etags_history_and_undo(live):
    def scenario():
        with live.client() as dd:
            pid = dd.create_project("Cells")["id"]
            nb = dd.create_notebook(pid, "work/analysis")["path"]
            template = dd.create_template(counting_template_doc("count-rows"))
            assert isinstance(template, Tagged) and template.etag == '"1"'

            empty, etag0 = dd.list_cells(pid, nb)
            assert empty == {"cells": []} and etag0

            inserted = dd.insert_cells(pid, nb, template="count-rows", inputs={"column": "group"}, if_match=etag0)
            assert inserted.etag and inserted.etag != etag0
            md, gen = inserted.data["cells"]
            assert gen["template"] == "count-rows" and gen["version"] == 1 and gen["state"] == "generated"
            assert gen["inputs"]["column"] == "group"

            raw = dd.insert_cells(pid, nb, cell_type="code", source="x = 1", index=0).data["cells"][0]
            assert raw["index"] == 0 and raw["state"] == "plain"
            after = dd.insert_cells(pid, nb, cell_type="markdown", source="# end", after=gen["id"]).data["cells"][0]
            assert after["index"] == 3

            cell = dd.get_cell(pid, nb, gen["id"])
            assert cell.data["id"] == gen["id"] and cell.etag

            # a stale If-Match: 412 with its path, nothing changed
            with pytest.raises(PreconditionFailed) as e:
                dd.edit_cell(pid, nb, raw["id"], "x = 2", if_match=etag0)
            error_of(e, PreconditionFailed, 412, "stale", ["/headers/If-Match"])
            current = dd.list_cells(pid, nb)
            assert current.data["cells"][0]["source"] == "x = 1"
            edited = dd.edit_cell(pid, nb, raw["id"], "x = 2", if_match=current.etag)
            assert edited.data["source"] == "x = 2" and edited.etag != current.etag

            # move and reorder
            moved = dd.move_cell(pid, nb, raw["id"], after=gen["id"], if_match=edited.etag)
            assert moved.data["index"] == 2
            assert dd.move_cell(pid, nb, raw["id"], index=0).data["index"] == 0
            assert dd.move_cell(pid, nb, raw["id"], before=after["id"]).data["index"] == 2
            order = [after["id"], raw["id"], md["id"], gen["id"]]
            reordered = dd.reorder_cells(pid, nb, order)
            assert [c["id"] for c in reordered.data["cells"]] == order and reordered.etag
            with pytest.raises(BadRequest) as e:
                dd.reorder_cells(pid, nb, order[:2])
            assert e.value.status == 400

            # regenerate; a hand edit refuses it (409 cell_edited) unless forced
            regen = dd.regenerate_cell(pid, nb, gen["id"], {"column": "sex"})
            assert regen.data["inputs"]["column"] == "sex" and regen.data["state"] == "generated"
            assert dd.edit_cell(pid, nb, gen["id"], "df.head()").data["state"] == "edited"
            with pytest.raises(CellEdited) as e:
                dd.regenerate_cell(pid, nb, gen["id"], {"column": "age"})
            err = error_of(e, CellEdited, 409, "cell_edited", ["/source"])
            assert isinstance(err, Conflict) and err.exit_code == 7
            forced = dd.update_cell(pid, nb, gen["id"], inputs={"column": "age"}, force=True)
            assert forced.data["state"] == "generated" and forced.data["inputs"]["column"] == "age"

            # upgrade to a new version of the template
            v2 = dd.update_template("count-rows", counting_template_doc("count-rows", title="Counting, v2"), if_match=template.etag)
            assert v2.etag == '"2"' and v2.data["version"] == 2
            assert dd.list_cells(pid, nb).data["cells"][3]["state"] == "outdated"
            upgraded = dd.upgrade_cell(pid, nb, gen["id"])
            assert upgraded.data["version"] == 2
            assert dd.upgrade_cell(pid, nb, gen["id"], 1).data["version"] == 1

            # history, page after page; undo the newest operation
            page = dd.list_history(pid, nb, limit=2)
            assert len(page["items"]) == 2 and page["next_cursor"]
            ops = list(dd.iter_history(pid, nb, page_size=2))
            assert len(ops) >= 10 and ops[:2] == page["items"]
            assert ops[0]["op"] == "upgrade"
            undone = dd.undo(pid, nb, ops[0]["id"])
            assert undone.data["undone"] == ops[0]["id"] and undone.etag
            assert dd.get_cell(pid, nb, gen["id"]).data["version"] == 2

            deleted = dd.delete_cell(pid, nb, after["id"], if_match=undone.etag)
            assert deleted.data is None and deleted.etag and deleted.etag != undone.etag
            with pytest.raises(NotFound) as e:
                dd.get_cell(pid, nb, after["id"])
            assert e.value.status == 404 and e.value.code
            with pytest.raises(NotFound):
                dd.undo(pid, nb, "0" * 32)

    await in_thread(scenario)


# -- templates ---------------------------------------------------------------------------


async def test_templates_versions_render_and_paging(live):
    def scenario():
        with live.client() as dd:
            doc = counting_template_doc("mine")
            made = dd.create_template(doc)
            assert made.etag == '"1"' and made.data["source"] == "user" and made.data["document"]["id"] == "mine"
            with pytest.raises(Conflict) as e:
                dd.create_template(doc)
            error_of(e, Conflict, 409, "template_exists", ["/id"])
            bad = {k: v for k, v in doc.items() if k != "title"} | {"id": "bad-one"}
            with pytest.raises(BadRequest) as e:
                dd.create_template(bad)
            error_of(e, BadRequest, 400, "invalid_template", ["/title"])

            got = dd.get_template("mine")
            assert got.etag == '"1"' and got.data["latest_version"] == 1
            v2 = dd.update_template("mine", counting_template_doc("mine", title="Mine v2"), if_match=got.etag)
            assert v2.etag == '"2"' and v2.data["title"] == "Mine v2"
            with pytest.raises(PreconditionFailed) as e:
                dd.update_template("mine", doc, if_match=1)  # the number form: still version 1, stale now
            error_of(e, PreconditionFailed, 412, "stale", ["/headers/If-Match"])
            assert dd.get_template("mine", version=1).data["title"] == doc["title"]
            assert [v["version"] for v in dd.list_template_versions("mine")["items"]] == [1, 2]
            with pytest.raises(NotFound) as e:
                dd.get_template("mine", version=9)
            error_of(e, NotFound, 404, "version_not_found", ["/version"])

            cells = dd.render_template("mine", {"column": "age", "n": 3})["cells"]
            assert [c["cell_type"] for c in cells] == ["markdown", "code"] and "head(3)" in cells[1]["source"]
            assert "Counting age" in dd.render_template("mine", {"column": "age"}, version=1)["cells"][0]["source"]
            with pytest.raises(BadRequest) as e:
                dd.render_template("mine", {"n": 0})
            error_of(e, BadRequest, 400, "invalid_inputs", {"/column", "/n"})

            # filters and paging over the built-in library
            assert [t["id"] for t in dd.iter_templates(source="user")] == ["mine"]
            assert "mine" in [t["id"] for t in dd.iter_templates(q="mine")]
            page = dd.list_templates(source="builtin", limit=5)
            assert len(page["items"]) == 5 and page["next_cursor"]
            everything = dd.list_templates(source="builtin", limit=500)["items"]
            assert len(everything) > 10
            assert list(dd.iter_templates(source="builtin", page_size=7)) == everything

            assert dd.retire_template("mine") is None
            assert list(dd.iter_templates(source="user")) == []
            retired = list(dd.iter_templates(source="user", retired=True))
            assert [t["id"] for t in retired] == ["mine"] and retired[0]["retired_at"]
            with pytest.raises(NotFound) as e:
                dd.get_template("nope")
            error_of(e, NotFound, 404, "template_not_found", [])

    await in_thread(scenario)


# -- assistant ---------------------------------------------------------------------------


async def test_assistant_profile_and_suggest(live):
    def scenario():
        with live.client() as dd:
            project = dd.create_project("Assist")
            with open(live.root / project["path"] / "data.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", "group", "score"])
                for i in range(60):
                    w.writerow([i, "control" if i % 2 else "treated", 50 + (i % 7) + (5 if i % 2 == 0 else 0)])
            source = file_source(project["id"], "data.csv")
            profile = dd.assistant_profile(source)
            assert set(profile["columns"]) == {"id", "group", "score"} and profile["rows"] == 60
            assert dd.assistant_profile(source, {"score": "interval"})["columns"]["score"]["level"] == "interval"
            result = dd.assistant_suggest(source, {"outcome": "score", "between": "group"})
            assert result["suggestions"] and all(s["template"] and "inputs" in s for s in result["suggestions"])
            inline = dd.assistant_profile(table_source(["a", "b"], [[1, "x"], [2, "y"], [3, "x"]]))
            assert inline["rows"] == 3
            assert dd.assistant_profile(table_source(data={"a": [1, 2, 3]}))["rows"] == 3
            with pytest.raises(NotFound) as e:
                dd.assistant_suggest(kernel_source("0" * 8, "df"), {"outcome": "x"})
            error_of(e, NotFound, 404, "kernel_not_found", ["/source/kernel_id"])
            with pytest.raises(BadRequest) as e:
                dd.assistant_suggest(source, {"outcome": "nope"})
            assert e.value.status == 400 and e.value.paths

    await in_thread(scenario)


# -- runs: a server older than them -------------------------------------------------------
# (runs against a real server: tests/test_client_runs.py)


def test_runs_on_an_older_server_are_not_available():
    """A server from before runs answers 404 no_route for any path under the prefix it does not know."""
    def older_server(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        if "/runs" in path:
            return httpx.Response(404, json={"message": "no such resource in the Datadive API", "reason": "Not Found",
                                             "code": "no_route", "errors": [{"path": "", "message": "names no resource"}]})
        return httpx.Response(404, json={"message": "no project 'nope'", "reason": "Not Found", "code": "project_not_found",
                                         "errors": []})

    with DatadiveClient("http://old.example/", "t", transport=httpx.MockTransport(older_server)) as dd:
        calls = [
            lambda: dd.create_run("p1", "a.ipynb", {"n": 1}, timeout=5),
            lambda: dd.list_runs("p1"),
            lambda: list(dd.iter_runs("p1")),
            lambda: dd.get_run("p1", "r1"),
            lambda: dd.cancel_run("p1", "r1"),
            lambda: dd.wait_run("p1", "r1"),
        ]
        for call in calls:
            with pytest.raises(NotAvailable) as e:
                call()
            err = error_of(e, NotAvailable, 404, "no_route", [""])
            assert isinstance(err, NotFound) and err.exit_code == 12
            assert "runs are not available on this server" in err.message
        # A missing project on a route that exists is a plain NotFound.
        with pytest.raises(NotFound) as e:
            dd.list_members("nope")
        assert type(e.value) is NotFound


# -- the API itself, and the generic request ------------------------------------------------


async def test_every_operation_of_the_served_description_has_a_method(live):
    def scenario():
        with live.client() as dd:
            spec = dd.openapi()
            assert dd.request("GET", "openapi.json") == spec
            assert dd.request("GET", "projects", params={"limit": 1}) == {"items": [], "next_cursor": None}
            tagged = dd.request("GET", "templates", "load-csv", tagged=True)
            assert tagged.etag == '"1"' and tagged.data["id"] == "load-csv"
            return spec

    spec = await in_thread(scenario)
    served = {op["operationId"] for ops in spec["paths"].values() for m, op in ops.items() if m != "parameters"}
    assert served - set(OPERATIONS) == set(), "operations the client does not cover"
    assert set(OPERATIONS) - served <= FUTURE_OPERATIONS
    for name in OPERATIONS.values():
        assert callable(getattr(DatadiveClient, name)) and callable(getattr(AsyncDatadiveClient, name)), name


# -- errors that need no route ---------------------------------------------------------------


async def test_unreachable_forbidden_and_too_large(live):
    def scenario():
        with pytest.raises(ServerUnreachable) as e:
            DatadiveClient(f"http://127.0.0.1:{free_port()}/", "t", timeout=5).list_projects()
        assert e.value.status is None and e.value.code == "unreachable" and e.value.exit_code == 3
        assert isinstance(e.value, DatadiveError)
        with pytest.raises(Forbidden) as e:
            DatadiveClient(live.url, "wrong-token").get_project("x")
        assert e.value.status == 403
        with live.client() as dd, pytest.raises(TooLarge) as e:
            dd.create_project("big", "x" * (2 * 1024 * 1024 + 10))
        error_of(e, TooLarge, 413, "too_large")

    await in_thread(scenario)


def test_error_classes_from_answers():
    cases = [
        (400, {"code": "invalid"}, BadRequest), (401, None, Forbidden), (403, {"code": "read_only"}, Forbidden),
        (404, {"code": "not_found"}, NotFound), (404, {"code": "no_route"}, NotAvailable),
        (409, {"code": "cell_edited"}, CellEdited), (409, {"code": "template_exists"}, Conflict),
        (412, {"code": "stale"}, PreconditionFailed), (413, None, TooLarge), (503, {"code": "unavailable"}, Unavailable),
        (504, {"code": "kernel_timeout"}, KernelTimeout), (507, {"code": "storage_full"}, StorageFull),
        (500, {"code": "internal_error"}, ServerError), (502, None, ServerError), (418, None, DatadiveError),
    ]
    for status, extra, cls in cases:
        body = {"message": "m", "reason": "r", "errors": [{"path": "/a", "message": "b"}], **(extra or {})}
        err = error_from_answer(status, body, {"Retry-After": "2"})
        assert type(err) is cls, (status, extra, err)
        assert err.status == status and err.message == "m" and err.paths == ["/a"] and err.reason == "r"
        assert err.code == (extra or {}).get("code", err.code)
    assert error_from_answer(503, {"message": "busy", "code": "unavailable"}, {"Retry-After": "2"}).retry_after == 2.0
    # a body that is not the API's (a proxy's page): the status decides, the text is kept short
    err = error_from_answer(502, "<html><body>Bad gateway " + "x" * 1000 + "</body></html>")
    assert type(err) is ServerError and err.code == "error" and err.message.startswith("HTTP 502 Bad Gateway: <html>")
    assert len(err.message) < 300 and err.errors == []
    err = error_from_answer(404, "")
    assert type(err) is NotFound and err.code == "not_found"
    assert "404 not_found: m (/a: b)" in str(error_from_answer(404, {"message": "m", "code": "not_found",
                                                                   "errors": [{"path": "/a", "message": "b"}]}))


# -- the async client -------------------------------------------------------------------------


async def test_async_client(live):
    async with AsyncDatadiveClient(live.url, live.token) as dd:
        made = [await dd.create_project(f"Async {i}") for i in range(3)]
        assert [p["id"] async for p in dd.iter_projects(page_size=2)] == [
            p["id"] for p in (await dd.list_projects(limit=10))["items"]]
        assert len(made) == 3
        pid = made[0]["id"]
        nb = (await dd.create_notebook(pid, "a"))["path"]
        cells, etag = await dd.insert_cells(pid, nb, cell_type="code", source="1 + 1")
        second = await dd.insert_cells(pid, nb, cell_type="markdown", source="# two", if_match=etag)
        moved = await dd.move_cell(pid, nb, second.data["cells"][0]["id"], index=0, if_match=second.etag)
        assert moved.data["index"] == 0 and moved.etag != etag
        assert (await dd.rename_project(pid, "Async renamed"))["name"] == "Async renamed"
        with pytest.raises(PreconditionFailed):
            await dd.edit_cell(pid, nb, cells["cells"][0]["id"], "2", if_match=etag)
        with pytest.raises(NotFound):
            await dd.get_project("nope")
        run = await dd.create_run(pid, nb)  # its one code cell, 1 + 1
        seen = []
        done = await dd.wait_run(pid, run["id"], poll=0.1, timeout=120, on_update=seen.append)
        assert done["status"] == "succeeded" and done["progress"] == {"done": 1, "total": 1}
        assert seen[-1] == done and [r["id"] async for r in dd.iter_runs(pid)] == [run["id"]]


def test_answers_without_the_api_body():
    """Redirects, empty and non-JSON answers, a missing ETag (a stand-in transport: no server says these)."""
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "token t"
        path = request.url.raw_path.decode()
        if path.endswith("/projects"):
            return httpx.Response(302, headers={"Location": "/hub/login"})
        if path.endswith("/openapi.json"):
            return httpx.Response(200, text="not json")
        if "/cells" in path:
            return httpx.Response(200, json={"cells": []})
        return httpx.Response(204)

    dd = DatadiveClient("http://h/x%2Fy/", "t", transport=httpx.MockTransport(answer))
    with pytest.raises(DatadiveError) as e:
        dd.list_projects()
    assert type(e.value) is DatadiveError and e.value.status == 302 and e.value.code == "redirect" and "/hub/login" in e.value.message
    assert dd.openapi() == "not json"
    assert dd.list_cells("p", "a/b.ipynb") == Tagged({"cells": []}, None)
    assert dd.delete_project("p") is None
