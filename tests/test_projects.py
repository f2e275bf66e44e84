"""Projects and their notebooks over REST: a real server, real folders in the root dir, a real SQLite file.

Single-user (the default config) unless a test says otherwise. Every error test
asserts the status, the ``code`` and the error paths.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil

import nbformat
import pytest
from datadive_testing import assert_error, base_config, max_in_flight, multi_user_config

from datadive_ext.openapi import body_validator
from datadive_ext.services.projects import MANIFEST

CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"


# -- helpers ------------------------------------------------------------------------------


def conforms(schema: str, instance) -> None:
    """The response matches its OpenAPI component schema."""
    errors = sorted(body_validator(schema).iter_errors(instance), key=str)
    assert not errors, [e.message for e in errors]


def assert_invalid(reply, paths, code="invalid", status=400) -> None:
    """A schema error: the status, the code and the set of error paths (one path may carry several messages)."""
    assert_error(reply, status, code, set(paths))


def ext_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["datadive_ext"]))


def tree(root) -> set[str]:
    """Every file and folder under ``root``, as '/'-separated relative paths."""
    out = set()
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        for name in dirs + files:
            out.add(os.path.normpath(os.path.join(rel, name)).replace(os.sep, "/"))
    return out


async def create(api, name, description=None, user=None):
    body = {"name": name} if description is None else {"name": name, "description": description}
    reply = await api("POST", "projects", body=body, user=user)
    assert reply.status == 201, reply.text
    conforms("Project", reply.json)
    return reply.json


async def new_notebook(api, pid, name, user=None):
    reply = await api("POST", "projects", pid, "notebooks", body={"name": name}, user=user)
    assert reply.status == 201, reply.text
    conforms("Notebook", reply.json)
    return reply.json


async def walk(api, limit, user=None, **params):
    """Every page of the project list; returns (items, number of pages)."""
    items, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        reply = await api("GET", "projects", params=query, user=user)
        assert reply.status == 200, reply.text
        assert set(reply.json) == {"items", "next_cursor"}
        assert len(reply.json["items"]) <= limit
        items += reply.json["items"]
        pages += 1
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100, "pagination does not end"


# -- create / get / list ----------------------------------------------------------------------


async def test_create_makes_folder_manifest_and_location(api, jp_root_dir, jp_base_url, jp_serverapp, http_server_client, jp_auth_header):
    project = await create(api, "My First Study", "pilot data")
    assert project["name"] == "My First Study"
    assert project["description"] == "pilot data"
    assert project["path"] == "projects/my-first-study"
    assert project["role"] == "owner"
    assert project["owner"] == ext_app(jp_serverapp).owner_name
    assert project["status"] == "ok"
    assert project["created_at"] and project["updated_at"]

    folder = jp_root_dir / "projects" / "my-first-study"
    assert folder.is_dir()
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["id"] == project["id"]

    # Location is the GET URL under the server's odd base_url, and it works.
    reply = await api("POST", "projects", body={"name": "Second"})
    location = reply.headers["Location"]
    assert location == f"{jp_base_url}api/datadive/projects/{reply.json['id']}"
    assert location.startswith("/a%40b/")
    fetched = await http_server_client.fetch(location, headers=jp_auth_header)
    assert fetched.code == 200
    assert json.loads(fetched.body)["id"] == reply.json["id"]

    got = await api("GET", "projects", project["id"])
    assert got.status == 200
    conforms("Project", got.json)
    assert got.json == project

    # The row lives in the configured SQLite file.
    app = ext_app(jp_serverapp)
    assert app.store.path.endswith("datadive-test.sqlite")
    assert app.store.one("SELECT name FROM projects WHERE id = ?", [project["id"]])["name"] == "My First Study"


async def test_create_without_description_and_odd_names(api, jp_root_dir):
    plain = await create(api, "Plain")
    assert plain["description"] == ""
    accents = await create(api, "Études ñandú 2024!")
    assert accents["path"] == "projects/etudes-nandu-2024"
    symbols = await create(api, "???")
    assert symbols["path"] == "projects/project"  # nothing sluggable left
    long = await create(api, "x" * 200)
    assert len(long["path"].split("/")[-1]) <= 60
    for p in (plain, accents, symbols, long):
        assert (jp_root_dir / p["path"] / MANIFEST).is_file()


async def test_slug_collision_makes_numbered_folders(api, jp_root_dir):
    first = await create(api, "Same Name")
    second = await create(api, "same name")
    third = await create(api, "SAME-NAME")
    assert [first["path"], second["path"], third["path"]] == [
        "projects/same-name", "projects/same-name-2", "projects/same-name-3",
    ]
    # A folder someone made by hand is not taken over either.
    (jp_root_dir / "projects" / "by-hand").mkdir()
    (jp_root_dir / "projects" / "by-hand" / "keep.txt").write_text("mine")
    fourth = await create(api, "By hand")
    assert fourth["path"] == "projects/by-hand-2"
    assert sorted(os.listdir(jp_root_dir / "projects" / "by-hand")) == ["keep.txt"]
    for p in (first, second, third, fourth):
        assert json.loads((jp_root_dir / p["path"] / MANIFEST).read_text())["id"] == p["id"]


async def test_concurrent_creates_with_one_name(api, jp_root_dir):
    """Several clients creating "Race" at once: each gets its own folder (no 500, no shared manifest)."""
    replies = await asyncio.gather(*[api("POST", "projects", body={"name": "Race"}) for _ in range(4)])
    assert max_in_flight(replies) == 4, "the creates did not overlap"
    assert [r.status for r in replies] == [201] * 4, [r.text for r in replies]
    paths = sorted(r.json["path"] for r in replies)
    assert paths == ["projects/race", "projects/race-2", "projects/race-3", "projects/race-4"]
    for r in replies:
        assert json.loads((jp_root_dir / r.json["path"] / MANIFEST).read_text())["id"] == r.json["id"]


@pytest.fixture
def nested_projects_dir_config(jp_data_dir):
    return base_config(jp_data_dir, DatadiveApp={"projects_dir": "/work/studies/"})


class TestProjectsDir:
    @pytest.fixture
    def jp_server_config(self, nested_projects_dir_config):
        return nested_projects_dir_config

    async def test_projects_dir_is_made_and_used(self, api, jp_root_dir):
        project = await create(api, "Deep")
        assert project["path"] == "work/studies/deep"
        assert (jp_root_dir / "work" / "studies" / "deep" / MANIFEST).is_file()
        await new_notebook(api, project["id"], "n")
        assert (jp_root_dir / "work" / "studies" / "deep" / "n.ipynb").is_file()


async def test_create_invalid_bodies(api, jp_root_dir):
    cases = [
        ({}, ["/name"]),
        ({"name": ""}, ["/name"]),
        ({"name": 7}, ["/name"]),
        ({"name": None}, ["/name"]),
        ({"name": "ok", "owner": "mallory"}, ["/owner"]),
        ({"name": "tab\there"}, ["/name"]),
        ({"name": "nul\x00"}, ["/name"]),
        ({"name": "x" * 201}, ["/name"]),
        ({"name": "ok", "description": 3}, ["/description"]),
        ([], [""]),
        ("name", [""]),
    ]
    for body, paths in cases:
        assert_invalid(await api("POST", "projects", body=body), paths)
    for raw in ("{not json", "NaN", '{"name": NaN}', "\xff"):
        assert_error(await api("POST", "projects", raw_body=raw), 400, "invalid_json", [""])
    assert_error(await api("POST", "projects"), 400, "invalid_json", [""])  # empty body
    assert not (jp_root_dir / "projects").exists() or os.listdir(jp_root_dir / "projects") == []


async def test_list_search_and_fields(api):
    a = await create(api, "Sleep study", "EEG recordings")
    b = await create(api, "Diet trial", "weights and SLEEP diaries")
    await create(api, "Unrelated")
    pct = await create(api, "100% done")
    under = await create(api, "snake_case")

    reply = await api("GET", "projects")
    assert reply.status == 200
    assert reply.json["next_cursor"] is None
    assert len(reply.json["items"]) == 5
    for item in reply.json["items"]:
        conforms("Project", item)
        assert item["role"] == "owner"

    async def search(q):
        r = await api("GET", "projects", params={"q": q})
        assert r.status == 200, r.text
        return sorted(p["id"] for p in r.json["items"])

    assert await search("sleep") == sorted([a["id"], b["id"]])  # name or description, any case
    assert await search("EEG") == [a["id"]]
    assert await search("nothing like this") == []
    assert await search("%") == [pct["id"]]  # LIKE wildcards are literal
    assert await search("_") == [under["id"]]
    assert await search("e_c") == [under["id"]]
    assert len(await search("")) == 5  # empty q: no filter


async def test_pagination_walks_every_project_once_in_name_order(api):
    names = ["beta", "Alpha", "gamma", "alpha", "Delta", "ALPHA", "epsilon", "zeta", "Eta"]
    created = {}
    for name in names:
        created[(await create(api, name))["id"]] = name

    items, pages = await walk(api, 2)
    ids = [p["id"] for p in items]
    assert sorted(ids) == sorted(created)  # every project, none twice
    assert len(ids) == len(set(ids))
    assert pages == 5
    # Case-insensitive by name, ties (Alpha / alpha / ALPHA) broken by id.
    assert [(p["name"].lower(), p["id"]) for p in items] == sorted((p["name"].lower(), p["id"]) for p in items)

    # The same walk with a search filter, and with a page size of 1 and of everything.
    items, _ = await walk(api, 2, q="alpha")
    assert sorted(p["name"] for p in items) == ["ALPHA", "Alpha", "alpha"]
    items, pages = await walk(api, 1)
    assert len(items) == len(names) and pages == len(names)
    items, pages = await walk(api, 500)
    assert len(items) == len(names) and pages == 1

    # The default page size is a config trait.
    first = await api("GET", "projects")
    assert len(first.json["items"]) == len(names) and first.json["next_cursor"] is None


async def test_pagination_is_stable_while_rows_change(api):
    for name in ["a1", "a2", "a3", "a4", "a5"]:
        await create(api, name)
    page1 = await api("GET", "projects", params={"limit": 2})
    assert [p["name"] for p in page1.json["items"]] == ["a1", "a2"]
    # A project sorted before the cursor and one deleted after it do not shift the walk.
    await create(api, "a0")
    listing = {p["name"]: p["id"] for p in (await walk(api, 50))[0]}
    assert (await api("DELETE", "projects", listing["a3"])).status == 204
    page2 = await api("GET", "projects", params={"limit": 2, "cursor": page1.json["next_cursor"]})
    assert [p["name"] for p in page2.json["items"]] == ["a4", "a5"]
    assert page2.json["next_cursor"] is None


@pytest.fixture
def small_pages_config(jp_data_dir):
    return base_config(jp_data_dir, DatadiveApp={"default_page_size": 2, "max_page_size": 3})


async def test_invalid_limit_and_cursor(api):
    await create(api, "one")
    for limit in ("0", "-1", "abc", "1.5", "501", "", "2x"):
        assert_error(await api("GET", "projects", params={"limit": limit}), 400, "invalid", ["/limit"])
    not_a_list = base64.urlsafe_b64encode(b'{"a": 1}').decode().rstrip("=")
    for cursor in ("!!!", "bm90IGpzb24", not_a_list, "W10"):  # garbage, 'not json', an object, []
        assert_error(await api("GET", "projects", params={"cursor": cursor}), 400, "invalid_cursor", ["/cursor"])
    assert (await api("GET", "projects", params={"limit": "500"})).status == 200


async def test_foreign_cursors_are_invalid(api):
    """A project cursor is [name, id]: a well-formed base64 JSON list of anything else was not made by this
    API and is a 400, never a 500 (an integer too large for SQLite) nor a silently wrong page."""
    await create(api, "one")
    problems = []
    for raw in (b"[99999999999999999999999]", b'["one", 99999999999999999999999]', b"[1]", b"[true]", b'["one"]',
                b'["one", "id", "extra"]', b'[1, 2]'):
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        reply = await api("GET", "projects", params={"cursor": cursor})
        body = reply.json if isinstance(reply.json, dict) else {}
        if reply.status != 400 or body.get("code") != "invalid_cursor" or [e["path"] for e in body.get("errors", [])] != ["/cursor"]:
            problems.append((raw.decode(), reply.status, reply.text[:120]))
    assert not problems, "\n".join(map(str, problems))


# -- update ----------------------------------------------------------------------------------


async def test_patch_name_and_description(api, jp_root_dir):
    project = await create(api, "Before", "old text")
    reply = await api("PATCH", "projects", project["id"], body={"name": "After"})
    assert reply.status == 200, reply.text
    conforms("Project", reply.json)
    assert reply.json["name"] == "After"
    assert reply.json["description"] == "old text"
    assert reply.json["path"] == project["path"]  # the folder keeps its name
    assert reply.json["updated_at"] > project["updated_at"]
    assert reply.json["created_at"] == project["created_at"]

    reply = await api("PATCH", "projects", project["id"], body={"description": ""})
    assert reply.status == 200 and reply.json["description"] == "" and reply.json["name"] == "After"
    reply = await api("PATCH", "projects", project["id"], body={"name": "Both", "description": "new"})
    assert (reply.json["name"], reply.json["description"]) == ("Both", "new")
    got = await api("GET", "projects", project["id"])
    assert (got.json["name"], got.json["description"]) == ("Both", "new")
    assert (jp_root_dir / project["path"]).is_dir()


async def test_patch_invalid_bodies(api):
    project = await create(api, "Target", "keep")
    pid = project["id"]
    cases = [
        ({"name": ""}, ["/name"]),
        ({"color": "red"}, ["/color"]),
        ({"name": "ok", "id": "other"}, ["/id"]),
        ({"name": 5}, ["/name"]),
        ({"description": ["a"]}, ["/description"]),
        ({"name": "line\nbreak"}, ["/name"]),
        ({"name": "bell\x07"}, ["/name"]),
        ({"name": "del\x7f"}, ["/name"]),
        ({}, [""]),  # nothing to change
        ([{"name": "x"}], [""]),
    ]
    for body, paths in cases:
        assert_invalid(await api("PATCH", "projects", pid, body=body), paths)
    assert_error(await api("PATCH", "projects", pid, raw_body="{'name': 'x'}"), 400, "invalid_json", [""])
    assert_error(await api("PATCH", "projects", pid), 400, "invalid_json", [""])  # empty body
    assert_error(await api("PATCH", "projects", pid, raw_body="   \n"), 400, "invalid_json", [""])
    got = await api("GET", "projects", pid)
    assert (got.json["name"], got.json["description"]) == ("Target", "keep")
    assert_error(await api("PATCH", "projects", "nosuchproject", body={"name": "x"}), 404, "project_not_found", [])


# -- delete -------------------------------------------------------------------------------------


async def test_delete_keeps_files_by_default(api, jp_root_dir):
    project = await create(api, "Keep me")
    await new_notebook(api, project["id"], "analysis")
    reply = await api("DELETE", "projects", project["id"])
    assert reply.status == 204 and reply.text == ""
    folder = jp_root_dir / project["path"]
    assert folder.is_dir() and (folder / "analysis.ipynb").is_file()
    assert_error(await api("GET", "projects", project["id"]), 404, "project_not_found", [])
    assert_error(await api("DELETE", "projects", project["id"]), 404, "project_not_found", [])
    assert_error(await api("GET", "projects", project["id"], "notebooks"), 404, "project_not_found", [])
    assert (await api("GET", "projects")).json["items"] == []
    # A new project with the same name does not reuse the still-existing folder.
    again = await create(api, "Keep me")
    assert again["path"] == project["path"] + "-2"


async def test_delete_files_goes_through_the_contents_manager(api, jp_root_dir, jp_serverapp):
    events = []

    async def listener(logger, schema_id, data):
        events.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=CONTENTS_EVENTS, listener=listener)
    project = await create(api, "Remove me")
    other = await create(api, "Stay")
    await new_notebook(api, project["id"], "sub/deep")
    assert_error(await api("DELETE", "projects", project["id"], params={"delete_files": "perhaps"}), 400, "invalid", ["/delete_files"])
    assert (jp_root_dir / project["path"]).is_dir()

    # The folder holds the manifest and a notebook in a sub-folder: it is removed whole.
    reply = await api("DELETE", "projects", project["id"], params={"delete_files": "true"})
    assert reply.status == 204, reply.text
    assert str(jp_root_dir) not in reply.text
    assert not (jp_root_dir / project["path"]).exists()
    assert (jp_root_dir / other["path"] / MANIFEST).is_file()
    # Through the contents manager: its delete events name the folder (and maybe its children), nothing else.
    deleted = [e["path"].strip("/") for e in events if e.get("action") == "delete"]
    assert project["path"] in deleted, events
    assert all(p == project["path"] or p.startswith(project["path"] + "/") for p in deleted), deleted
    assert_error(await api("GET", "projects", project["id"]), 404, "project_not_found", [])
    assert (await api("GET", "projects", other["id"])).json["status"] == "ok"


async def test_delete_files_false_values(api, jp_root_dir):
    for value in ("false", "0", "no"):
        project = await create(api, f"Keep {value}")
        assert (await api("DELETE", "projects", project["id"], params={"delete_files": value})).status == 204
        assert (jp_root_dir / project["path"]).is_dir()


# -- notebooks --------------------------------------------------------------------------------


async def test_notebook_crud(api, jp_root_dir, jp_base_url, jp_serverapp):
    project = await create(api, "Notebooks")
    pid, folder = project["id"], jp_root_dir / project["path"]

    reply = await api("POST", "projects", pid, "notebooks", body={"name": "analysis"})
    assert reply.status == 201, reply.text
    conforms("Notebook", reply.json)
    assert reply.json["path"] == "analysis.ipynb" and reply.json["name"] == "analysis.ipynb"
    assert reply.headers["Location"] == f"{jp_base_url}api/datadive/projects/{pid}/notebooks/analysis.ipynb"

    nested = await new_notebook(api, pid, "sub/a")
    assert nested["path"] == "sub/a.ipynb" and nested["name"] == "a.ipynb"
    kept = await new_notebook(api, pid, "sub/deeper/b.ipynb")
    assert kept["path"] == "sub/deeper/b.ipynb"

    # Real, valid nbformat 4 notebooks with the server's default kernelspec.
    ksm = jp_serverapp.kernel_spec_manager
    for rel in ("analysis.ipynb", "sub/a.ipynb", "sub/deeper/b.ipynb"):
        with open(folder / rel, encoding="utf-8") as f:
            nb = nbformat.read(f, as_version=4)
        nbformat.validate(nb)
        assert nb.nbformat == 4 and nb.cells == []
        spec = nb.metadata["kernelspec"]
        assert spec["name"] == jp_serverapp.kernel_manager.default_kernel_name
        assert spec["display_name"] == ksm.get_kernel_spec(spec["name"]).display_name
        assert spec["display_name"] and spec["language"] == "python"

    # A non-notebook file and the manifest are not notebooks.
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "sub" / "notes.txt").write_text("x")
    listing = await api("GET", "projects", pid, "notebooks")
    assert listing.status == 200
    assert [n["path"] for n in listing.json["items"]] == ["analysis.ipynb", "sub/a.ipynb", "sub/deeper/b.ipynb"]
    for item in listing.json["items"]:
        conforms("Notebook", item)

    got = await api("GET", "projects", pid, "notebooks", "sub/a.ipynb")  # travels as sub%2Fa.ipynb
    assert got.status == 200, got.text
    assert got.json["path"] == "sub/a.ipynb" and got.json["name"] == "a.ipynb"

    # Rename (and move to a new sub-folder); '.ipynb' is added.
    renamed = await api("PATCH", "projects", pid, "notebooks", "sub/a.ipynb", body={"name": "final/report"})
    assert renamed.status == 200, renamed.text
    assert renamed.json["path"] == "final/report.ipynb"
    assert not (folder / "sub" / "a.ipynb").exists()
    assert nbformat.read(str(folder / "final" / "report.ipynb"), as_version=4).metadata["kernelspec"]
    assert_error(await api("GET", "projects", pid, "notebooks", "sub/a.ipynb"), 404, "notebook_not_found", [])
    same = await api("PATCH", "projects", pid, "notebooks", "analysis.ipynb", body={"name": "analysis.ipynb"})
    assert same.status == 200 and same.json["path"] == "analysis.ipynb"

    # Rename onto an existing notebook: 409, nothing moved.
    clash = await api("PATCH", "projects", pid, "notebooks", "analysis.ipynb", body={"name": "final/report"})
    assert_error(clash, 409, "notebook_exists", ["/name"])
    assert (folder / "analysis.ipynb").is_file()
    # Create onto an existing one: 409 too.
    assert_error(await api("POST", "projects", pid, "notebooks", body={"name": "analysis"}), 409, "notebook_exists", ["/name"])

    # Delete.
    deleted = await api("DELETE", "projects", pid, "notebooks", "final/report.ipynb")
    assert deleted.status == 204 and deleted.text == ""
    assert not (folder / "final" / "report.ipynb").exists()
    assert_error(await api("GET", "projects", pid, "notebooks", "final/report.ipynb"), 404, "notebook_not_found", [])
    assert_error(await api("DELETE", "projects", pid, "notebooks", "final/report.ipynb"), 404, "notebook_not_found", [])
    listing = await api("GET", "projects", pid, "notebooks")
    assert [n["path"] for n in listing.json["items"]] == ["analysis.ipynb", "sub/deeper/b.ipynb"]


async def test_unknown_notebooks_are_404(api, jp_root_dir):
    project = await create(api, "Empty")
    pid = project["id"]
    (jp_root_dir / project["path"] / "sub").mkdir()
    (jp_root_dir / project["path"] / "data.csv").write_text("a\n1\n")
    (jp_root_dir / project["path"] / "fake.ipynb").mkdir()  # a folder named like a notebook
    for nb in ("nope.ipynb", "nope", "sub", "data.csv", MANIFEST, "fake.ipynb", "sub/nope.ipynb"):
        assert_error(await api("GET", "projects", pid, "notebooks", nb), 404, "notebook_not_found", [])
        assert_error(await api("DELETE", "projects", pid, "notebooks", nb), 404, "notebook_not_found", [])
        assert_error(await api("PATCH", "projects", pid, "notebooks", nb, body={"name": "x"}), 404, "notebook_not_found", [])
    assert (jp_root_dir / project["path"] / "data.csv").is_file()
    assert (jp_root_dir / project["path"] / MANIFEST).is_file()
    assert (await api("GET", "projects", pid, "notebooks")).json["items"] == []
    assert_error(await api("GET", "projects", "nosuchproject", "notebooks", "a.ipynb"), 404, "project_not_found", [])


async def test_deep_json_is_refused(api):
    assert_error(await api("POST", "projects", raw_body="[" * 100_000), 400, "invalid_json", [""])


async def test_unusual_but_valid_notebook_names(api, jp_root_dir, jp_base_url):
    project = await create(api, "Names")
    pid = project["id"]
    reply = await api("POST", "projects", pid, "notebooks", body={"name": "données/my analysis é"})
    assert reply.status == 201, reply.text
    assert reply.json["path"] == "données/my analysis é.ipynb"
    assert reply.headers["Location"].endswith("/notebooks/donn%C3%A9es%2Fmy%20analysis%20%C3%A9.ipynb")
    assert (jp_root_dir / project["path"] / "données" / "my analysis é.ipynb").is_file()
    assert (await api("GET", "projects", pid, "notebooks", "données/my analysis é.ipynb")).status == 200
    for name, path in [("x.txt", "x.txt.ipynb"), ("a.b.c", "a.b.c.ipynb"), ("with%percent", "with%percent.ipynb"),
                       ("q?mark#hash", "q?mark#hash.ipynb")]:
        created = await new_notebook(api, pid, name)
        assert created["path"] == path
        assert (await api("GET", "projects", pid, "notebooks", path)).json["path"] == path


async def test_unwritable_notebook_names_are_client_errors(api, jp_root_dir):
    """Names the file system cannot take are the client's mistake (400 ``invalid_path`` at /name), never a
    500, and the answer does not disclose the server's absolute paths."""
    project = await create(api, "Limits")
    pid = project["id"]
    (jp_root_dir / project["path"] / "data.csv").write_text("a\n1\n")
    await new_notebook(api, pid, "existing")
    for name in ("a" * 300, "data.csv/x", "sub/" + "b" * 300):
        for method, segments in (("POST", ()), ("PATCH", ("existing.ipynb",))):
            reply = await api(method, "projects", pid, "notebooks", *segments, body={"name": name})
            assert_error(reply, 400, "invalid_path", ["/name"])
            assert str(jp_root_dir) not in reply.text, (method, name[:24], reply.text)
    assert (jp_root_dir / project["path"] / "data.csv").read_text() == "a\n1\n"
    assert [n["path"] for n in (await api("GET", "projects", pid, "notebooks")).json["items"]] == ["existing.ipynb"]


async def test_notebook_invalid_bodies(api):
    project = await create(api, "Bodies")
    pid = project["id"]
    await new_notebook(api, pid, "a")
    for body, paths in [({}, ["/name"]), ({"name": ""}, ["/name"]), ({"name": 1}, ["/name"]),
                        ({"name": "b", "kernel": "python3"}, ["/kernel"]), ({"name": "x" * 1025}, ["/name"])]:
        assert_invalid(await api("POST", "projects", pid, "notebooks", body=body), paths)
        assert_invalid(await api("PATCH", "projects", pid, "notebooks", "a.ipynb", body=body), paths)
    assert_error(await api("POST", "projects", pid, "notebooks", raw_body="nope"), 400, "invalid_json", [""])
    assert_error(await api("POST", "projects", pid, "notebooks"), 400, "invalid_json", [""])
    assert_error(await api("PATCH", "projects", pid, "notebooks", "a.ipynb"), 400, "invalid_json", [""])
    assert [n["path"] for n in (await api("GET", "projects", pid, "notebooks")).json["items"]] == ["a.ipynb"]


TRAVERSALS = [
    "../x", "../../x", "/abs", "/tmp/abs", "a/../../x", "a/../b", "./x", "a//b", "a/",
    ".hidden", "sub/.hidden", ".ipynb_checkpoints/x", "a\\b", "..\\..\\x", "a\x00b", "C:x", "c:/x",
    "..", ".", " ", "tab\tx", "new\nline",
]


async def test_path_traversal_in_notebook_names_is_refused(api, jp_root_dir):
    project = await create(api, "Fortress")
    pid = project["id"]
    await new_notebook(api, pid, "inside")
    root = jp_root_dir.parent  # the whole temporary area of the test (root, home, config, data dirs...)

    def everything():
        return {p for p in tree(root) if not p.startswith(("data/", "runtime/"))}  # SQLite WAL, server files

    before_root, before_all = tree(jp_root_dir), everything()

    for name in TRAVERSALS:
        reply = await api("POST", "projects", pid, "notebooks", body={"name": name})
        assert_error(reply, 400, "invalid_path", ["/name"])
        reply = await api("PATCH", "projects", pid, "notebooks", "inside.ipynb", body={"name": name})
        assert_error(reply, 400, "invalid_path", ["/name"])

    assert tree(jp_root_dir) == before_root
    assert everything() == before_all
    assert not any(os.path.basename(p).startswith(("x", "abs")) for p in tree(root))
    assert not os.path.exists("/abs.ipynb") and not os.path.exists("/tmp/abs.ipynb")
    assert (jp_root_dir / project["path"] / "inside.ipynb").is_file()


async def test_path_traversal_in_notebook_urls_is_refused(api, jp_root_dir):
    project = await create(api, "Fortress")
    pid = project["id"]
    # Something worth stealing next to the project, and in the root.
    secret = jp_root_dir / "projects" / "secret.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(secret))
    before = tree(jp_root_dir)
    for nb in ("../secret.ipynb", "../../projects/secret.ipynb", "/projects/secret.ipynb", "a/../../secret.ipynb",
               ".hidden.ipynb", "a\\..\\..\\secret.ipynb", "a\x00.ipynb", "C:secret.ipynb"):
        assert_error(await api("GET", "projects", pid, "notebooks", nb), 400, "invalid_path", ["/nb"])
        assert_error(await api("DELETE", "projects", pid, "notebooks", nb), 400, "invalid_path", ["/nb"])
        assert_error(await api("PATCH", "projects", pid, "notebooks", nb, body={"name": "stolen"}), 400, "invalid_path", ["/nb"])
    assert tree(jp_root_dir) == before
    assert secret.is_file()


@pytest.fixture
def tiny_body_config(jp_data_dir):
    return base_config(jp_data_dir, DatadiveApp={"max_body_bytes": 100})


class TestSmallBodies:
    @pytest.fixture
    def jp_server_config(self, tiny_body_config):
        return tiny_body_config

    async def test_body_too_large(self, api, jp_root_dir):
        small = await create(api, "ok")  # fits
        big = {"name": "big", "description": "x" * 200}
        assert_error(await api("POST", "projects", body=big), 413, "too_large", [])
        assert_error(await api("PATCH", "projects", small["id"], body=big), 413, "too_large", [])
        assert_error(await api("POST", "projects", small["id"], "notebooks", body={"name": "n" * 200}), 413, "too_large", [])
        assert_error(await api("POST", "projects", raw_body="{" * 150), 413, "too_large", [])  # checked before parsing
        assert sorted(os.listdir(jp_root_dir / "projects")) == ["ok"]
        assert (await api("GET", "projects", small["id"])).json["description"] == ""


class TestConfiguredDefaultKernel:
    """New notebooks get the server's default kernel (MappingKernelManager.default_kernel_name), not always python3."""

    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        spec_dir = jp_data_dir / "kernels" / "other"
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            "argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Other Python", "language": "python",
        }))
        return base_config(jp_data_dir, MappingKernelManager={"default_kernel_name": "other"})

    async def test_new_notebook_uses_the_default_kernel(self, api, jp_fetch, jp_root_dir):
        specs = json.loads((await jp_fetch("api", "kernelspecs")).body)
        assert specs["default"] == "other" and "other" in specs["kernelspecs"]
        project = await create(api, "Kernels")
        await new_notebook(api, project["id"], "k")
        nb = nbformat.read(str(jp_root_dir / project["path"] / "k.ipynb"), as_version=4)
        assert nb.metadata["kernelspec"] == {"name": "other", "display_name": "Other Python", "language": "python"}


class TestPageSizeTraits:
    @pytest.fixture
    def jp_server_config(self, small_pages_config):
        return small_pages_config

    async def test_default_and_max_page_size(self, api):
        for name in "abcde":
            await create(api, name)
        first = await api("GET", "projects")
        assert [p["name"] for p in first.json["items"]] == ["a", "b"]
        assert first.json["next_cursor"]
        assert len((await api("GET", "projects", params={"limit": 3})).json["items"]) == 3
        assert_error(await api("GET", "projects", params={"limit": 4}), 400, "invalid", ["/limit"])
        items, pages = await walk(api, 3)
        assert [p["name"] for p in items] == list("abcde") and pages == 2


# -- the project folder moves or vanishes ---------------------------------------------------------


async def test_folder_renamed_through_the_contents_api(api, jp_fetch, jp_root_dir):
    project = await create(api, "Moving")
    other = await create(api, "Moving on")  # projects/moving-on: must not follow projects/moving
    pid = project["id"]
    await new_notebook(api, pid, "sub/analysis")

    await jp_fetch("api", "contents", "projects/moving", method="PATCH", body=json.dumps({"path": "projects/moved"}))
    assert (jp_root_dir / "projects" / "moved" / "sub" / "analysis.ipynb").is_file()
    # A new, unrelated folder at the old path must not be mistaken for the project.
    await jp_fetch("api", "contents", "projects/moving", method="PUT", body=json.dumps({"type": "directory"}))

    got = await api("GET", "projects", pid)
    assert got.status == 200
    assert (got.json["path"], got.json["status"]) == ("projects/moved", "ok")
    listing = await api("GET", "projects", pid, "notebooks")
    assert [n["path"] for n in listing.json["items"]] == ["sub/analysis.ipynb"]
    assert (await api("GET", "projects", pid, "notebooks", "sub/analysis.ipynb")).status == 200
    await new_notebook(api, pid, "second")
    assert (jp_root_dir / "projects" / "moved" / "second.ipynb").is_file()
    assert not (jp_root_dir / "projects" / "moving" / "second.ipynb").exists()

    unaffected = await api("GET", "projects", other["id"])
    assert (unaffected.json["path"], unaffected.json["status"]) == ("projects/moving-on", "ok")

    # Renaming the parent folder moves every project under it.
    await jp_fetch("api", "contents", "projects", method="PATCH", body=json.dumps({"path": "archive"}))
    for p, path in ((project, "archive/moved"), (other, "archive/moving-on")):
        got = await api("GET", "projects", p["id"])
        assert (got.json["path"], got.json["status"]) == (path, "ok")
    assert [n["path"] for n in (await api("GET", "projects", pid, "notebooks")).json["items"]] == ["second.ipynb", "sub/analysis.ipynb"]


async def test_folder_moved_behind_the_servers_back(api, jp_root_dir):
    project = await create(api, "Wanderer")
    pid = project["id"]
    await new_notebook(api, pid, "analysis")
    (jp_root_dir / "elsewhere" / "deep").mkdir(parents=True)
    os.rename(jp_root_dir / project["path"], jp_root_dir / "elsewhere" / "deep" / "found-again")

    got = await api("GET", "projects", pid)
    assert got.status == 200, got.text
    assert (got.json["path"], got.json["status"]) == ("elsewhere/deep/found-again", "ok")
    listing = await api("GET", "projects", pid, "notebooks")
    assert [n["path"] for n in listing.json["items"]] == ["analysis.ipynb"]
    # Remembered: the list (which checks no folder) shows the new path too.
    assert (await api("GET", "projects")).json["items"][0]["path"] == "elsewhere/deep/found-again"

    # Moved again, into the root itself this time.
    os.rename(jp_root_dir / "elsewhere" / "deep" / "found-again", jp_root_dir / "top")
    assert (await api("GET", "projects", pid, "notebooks", "analysis.ipynb")).status == 200
    got = await api("GET", "projects", pid)
    assert (got.json["path"], got.json["status"]) == ("top", "ok")


async def test_folder_moved_and_old_name_reused_behind_the_servers_back(api, jp_root_dir):
    """`mv alpha archive/alpha-old && mkdir alpha`: the manifest, not the folder name, says which folder is the project."""
    project = await create(api, "Alpha")
    pid = project["id"]
    await new_notebook(api, pid, "analysis")
    (jp_root_dir / "archive").mkdir()
    os.rename(jp_root_dir / project["path"], jp_root_dir / "archive" / "alpha-old")
    (jp_root_dir / project["path"]).mkdir()  # a new, foreign folder under the old name (no manifest)

    got = await api("GET", "projects", pid)
    assert (got.json["path"], got.json["status"]) == ("archive/alpha-old", "ok"), got.json
    listing = await api("GET", "projects", pid, "notebooks")
    assert [n["path"] for n in listing.json["items"]] == ["analysis.ipynb"]


async def test_copied_manifest_is_not_taken_for_the_project(api, jp_root_dir):
    """A foreign folder with a manifest naming another id, or a broken one, is not adopted."""
    project = await create(api, "Original")
    pid = project["id"]
    decoy = jp_root_dir / "decoy"
    decoy.mkdir()
    (decoy / MANIFEST).write_text(json.dumps({"id": "someoneelse"}))
    broken = jp_root_dir / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json")
    shutil.rmtree(jp_root_dir / project["path"])
    got = await api("GET", "projects", pid)
    assert got.status == 200, got.text
    assert (got.json["path"], got.json["status"]) == (project["path"], "missing")


async def test_folder_deleted_on_disk(api, jp_root_dir):
    project = await create(api, "Vanishing")
    pid = project["id"]
    await new_notebook(api, pid, "analysis")
    shutil.rmtree(jp_root_dir / project["path"])

    got = await api("GET", "projects", pid)
    assert got.status == 200, got.text
    conforms("Project", got.json)
    assert (got.json["status"], got.json["path"]) == ("missing", project["path"])
    listed = (await api("GET", "projects")).json["items"]
    assert [p["id"] for p in listed] == [pid]

    for method, segments, body in [
        ("GET", ("notebooks",), None),
        ("POST", ("notebooks",), {"name": "new"}),
        ("GET", ("notebooks", "analysis.ipynb"), None),
        ("PATCH", ("notebooks", "analysis.ipynb"), {"name": "renamed"}),
        ("DELETE", ("notebooks", "analysis.ipynb"), None),
    ]:
        assert_error(await api(method, "projects", pid, *segments, body=body), 409, "project_folder_missing", [])
    assert not (jp_root_dir / project["path"]).exists()  # nothing re-created it

    # The project can still be renamed and deleted (with or without delete_files).
    assert (await api("PATCH", "projects", pid, body={"name": "Gone"})).json["status"] == "missing"
    assert (await api("DELETE", "projects", pid, params={"delete_files": "true"})).status == 204
    assert_error(await api("GET", "projects", pid), 404, "project_not_found", [])


# -- several users ----------------------------------------------------------------------------


class TestMultiUser:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return multi_user_config(jp_data_dir)

    async def test_projects_are_per_user(self, api, jp_root_dir):
        a = await create(api, "Shared name", "alice's", user="alice")
        b = await create(api, "Shared name", "bob's", user="bob")
        assert (a["owner"], b["owner"]) == ("alice", "bob")
        assert a["path"] == "projects/shared-name" and b["path"] == "projects/shared-name-2"
        assert (jp_root_dir / b["path"] / MANIFEST).is_file()
        alice_list = (await api("GET", "projects", user="alice")).json["items"]
        assert [p["id"] for p in alice_list] == [a["id"]]
        bob_search = (await api("GET", "projects", params={"q": "shared"}, user="bob")).json["items"]
        assert [p["id"] for p in bob_search] == [b["id"]]
        assert (await api("GET", "projects", params={"q": "alice"}, user="bob")).json["items"] == []
        assert (await api("GET", "projects", user="carol")).json == {"items": [], "next_cursor": None}

    async def test_pagination_per_user(self, api):
        mine = [await create(api, f"p{i}", user="alice") for i in range(5)]
        for i in range(4):
            await create(api, f"p{i}x", user="bob")  # interleaved names of someone else
        items, pages = await walk(api, 2, user="alice")
        assert [p["id"] for p in items] == [p["id"] for p in mine]
        assert pages == 3
