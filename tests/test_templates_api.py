"""The template library over REST: list, get, versions, create, update, retire, render.

A real server (pytest-jupyter), a real SQLite file in the test's data dir and a
real ``template_folders`` folder. Every error test asserts status, code and paths.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import time

import pytest

from cell_templates import builtin_templates

from datadive_testing import Reply, assert_error, base_config, counting_template_doc, multi_user_config

BUILTIN = builtin_templates()
BUILTIN_IDS = sorted(BUILTIN)

# The organisation's read-only library (``DatadiveApp.template_folders``).
ORG_TEMPLATE = {
    "id": "org-report",
    "title": "Organisation report header",
    "description": "The standard header of every report of the institute.",
    "category": "org",
    "tags": ["org", "report"],
    "inputs": {"type": "object", "properties": {"title": {"type": "string", "default": "Report"}}},
    "cells": [{"cell_type": "markdown", "source": "# {{ title }}"}],
    "examples": [{"inputs": {"title": "Q3"}}],
}
# Invalid: no cells, an id that is not a slug.
BROKEN_TEMPLATE = {"id": "Broken Template", "title": "Broken", "inputs": {"type": "object"}, "examples": [{"inputs": {}}]}
# Valid, but its id belongs to a built-in template: skipped, the built-in wins.
HIJACK_TEMPLATE = {**copy.deepcopy(ORG_TEMPLATE), "id": "load-csv", "title": "Hijacked load-csv"}


def user_doc(tid: str = "my-template", **changes) -> dict:
    """The shared counting template (datadive_testing.counting_template_doc)."""
    return counting_template_doc(tid, **changes)


def write_json(folder, name: str, data) -> None:
    """Write a file and move its mtime on, so that a rewrite within one clock tick is still a change."""
    path = folder / name
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000)
    os.utime(path, ns=(stamp, stamp))


FOLDER_WAIT = 10.0  # seconds: a folder change shows "within about a second" (docs/server.md), polled


async def folder_read(api, folder, others: list[str]) -> None:
    """Wait until the server has read the folder as it is now: a marker file written after every other
    change is listed (with ``others``, the other ids the path source must then list)."""
    write_json(folder, "folder-marker.json", {**ORG_TEMPLATE, "id": "folder-marker", "title": "Marker"})
    await path_ids_become(api, sorted(others + ["folder-marker"]))


async def path_ids_become(api, expected: list[str]) -> None:
    """Poll the path source until it lists exactly ``expected`` (folder changes are read in the background)."""
    deadline = time.monotonic() + FOLDER_WAIT
    while True:
        r = await api("GET", "templates", params={"source": "path"})
        assert r.status == 200, r.text
        ids = [t["id"] for t in r.json["items"]]
        if ids == expected:
            return
        assert time.monotonic() < deadline, f"the path source still lists {ids}, not {expected}"
        await asyncio.sleep(0.05)


@pytest.fixture
def org_library(tmp_path):
    folder = tmp_path / "org-library"
    folder.mkdir()
    write_json(folder, "org-report.json", ORG_TEMPLATE)
    write_json(folder, "broken.json", BROKEN_TEMPLATE)
    write_json(folder, "not-json.json", "{ this is not JSON")
    write_json(folder, "hijack.json", HIJACK_TEMPLATE)
    (folder / "README.txt").write_text("not a template", encoding="utf-8")
    return folder


@pytest.fixture
def jp_server_config(jp_data_dir, org_library):
    return base_config(jp_data_dir, DatadiveApp={"template_folders": [str(org_library)]})


def datadive_app(jp_serverapp):
    apps = jp_serverapp.extension_manager.extension_apps["datadive_ext"]
    assert len(apps) == 1, apps
    return next(iter(apps))


async def create(api, doc, user=None) -> dict:
    r = await api("POST", "templates", body=doc, user=user)
    assert r.status == 201, r.text
    return r.json


async def walk(api, limit: int, **params) -> list[str]:
    """Every id of a listing, following next_cursor page by page."""
    ids, cursor = [], None
    for _ in range(10_000):
        query = dict(params, limit=limit)
        if cursor:
            query["cursor"] = cursor
        r = await api("GET", "templates", params=query)
        assert r.status == 200, r.text
        assert set(r.json) == {"items", "next_cursor"}
        items = r.json["items"]
        assert len(items) <= limit
        ids += [item["id"] for item in items]
        cursor = r.json["next_cursor"]
        if cursor is None:
            return ids
        assert len(items) == limit, "only the last page may be short"
    raise AssertionError("pagination does not end")


def root_snapshot(root) -> dict:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in [*files, *_dirs]:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = os.stat(full).st_mtime_ns
    return out


# ---- listing -------------------------------------------------------------------------


async def test_list_defaults_sources_and_summaries(api):
    first = await api("GET", "templates")
    assert first.status == 200, first.text
    assert len(first.json["items"]) == min(50, len(BUILTIN_IDS) + 1)  # the default page size is 50
    r = await api("GET", "templates", params={"limit": 500})
    items = r.json["items"]
    assert r.json["next_cursor"] is None
    assert items[:50] == first.json["items"]
    ids = [t["id"] for t in items]
    assert ids == sorted(BUILTIN_IDS + ["org-report"])
    by_id = {t["id"]: t for t in items}
    assert by_id["org-report"]["source"] == "path"
    assert by_id["load-csv"]["source"] == "builtin"
    assert by_id["load-csv"]["title"] == BUILTIN["load-csv"].title  # not the hijacking file's title
    for t in items:
        assert {"id", "version", "title", "description", "category", "tags", "source", "locked"} <= set(t)
        assert "document" not in t  # summaries only


@pytest.mark.parametrize(
    "params, predicate",
    [
        ({"category": "plot"}, lambda t: t.category == "plot"),
        ({"category": "explore"}, lambda t: t.category == "explore"),
        ({"tag": "matplotlib"}, lambda t: "matplotlib" in t.tags),
        ({"tag": "csv"}, lambda t: "csv" in t.tags),
        ({"q": "CSV"}, lambda t: "csv" in " ".join([t.id, t.title, t.description, *t.tags]).lower()),
        ({"q": "missing"}, lambda t: "missing" in " ".join([t.id, t.title, t.description, *t.tags]).lower()),
        ({"category": "plot", "tag": "distribution"}, lambda t: t.category == "plot" and "distribution" in t.tags),
        ({"category": "no-such-category"}, lambda t: False),
    ],
)
async def test_list_filters_builtin(api, params, predicate):
    expected = [tid for tid in BUILTIN_IDS if predicate(BUILTIN[tid])]
    r = await api("GET", "templates", params={**params, "source": "builtin"})
    assert r.status == 200, r.text
    assert [t["id"] for t in r.json["items"]] == expected
    if params.get("category") != "no-such-category":
        assert expected, "the filter should match some built-in templates"


async def test_list_filters_apply_to_every_source(api):
    await create(api, user_doc("counting-custom"))
    await create(api, user_doc("other-thing", category="reports", tags=["org"], title="Quarterly numbers"))

    async def ids(**params):
        r = await api("GET", "templates", params={"limit": 500, **params})
        assert r.status == 200, r.text
        return [(t["id"], t["source"]) for t in r.json["items"]]

    assert await ids(source="user") == [("counting-custom", "user"), ("other-thing", "user")]
    assert await ids(source="path") == [("org-report", "path")]
    assert [s for _, s in await ids(source="builtin")] == ["builtin"] * len(BUILTIN_IDS)
    assert await ids(category="custom") == [("counting-custom", "user")]
    assert await ids(tag="org") == [("org-report", "path"), ("other-thing", "user")]
    assert await ids(tag="org", source="user") == [("other-thing", "user")]
    assert await ids(q="QUARTERLY") == [("other-thing", "user")]  # title, case-insensitive
    assert await ids(q="institute") == [("org-report", "path")]  # description
    assert await ids(q="counting") == [("counting-custom", "user")]  # id and tag
    assert await ids(q="COUNTS THE ROWS") == [("counting-custom", "user"), ("other-thing", "user")]  # description
    assert await ids(q="zzz-nothing-matches") == []


@pytest.mark.parametrize(
    "params, code, path",
    [
        ({"source": "bogus"}, "invalid", "/source"),
        ({"source": "Builtin"}, "invalid", "/source"),
        ({"limit": "0"}, "invalid", "/limit"),
        ({"limit": "-3"}, "invalid", "/limit"),
        ({"limit": "abc"}, "invalid", "/limit"),
        ({"limit": "501"}, "invalid", "/limit"),  # above max_page_size (500)
        ({"cursor": "not-a-cursor!"}, "invalid_cursor", "/cursor"),
        ({"cursor": "eyJhIjoxfQ"}, "invalid_cursor", "/cursor"),  # base64 of {"a":1}: not a key list
        ({"cursor": "WzFd"}, "invalid_cursor", "/cursor"),  # base64 of [1]: template ids are strings
        ({"cursor": "W3RydWVd"}, "invalid_cursor", "/cursor"),  # base64 of [true]
        ({"retired": "maybe"}, "invalid", "/retired"),
    ],
)
async def test_list_invalid_parameters(api, params, code, path):
    r = await api("GET", "templates", params=params)
    assert_error(r, 400, code, [path])


async def test_pagination_walks_every_source_once_sorted(api):
    # User ids placed before, between and after the built-in and path ids.
    user_ids = ["aaa-first", "histogram-v2", "load-csv-fast", "org-report-2", "pivot", "zzz-last"]
    for tid in user_ids:
        await create(api, user_doc(tid))
    expected = sorted(BUILTIN_IDS + ["org-report"] + user_ids)
    for limit in (3, 1, 7, 500):
        ids = await walk(api, limit)
        assert ids == expected, limit
    # Filters hold on every page.
    explore = [tid for tid in BUILTIN_IDS if BUILTIN[tid].category == "explore"]
    assert await walk(api, 2, category="explore") == explore
    assert await walk(api, 3, source="user") == user_ids
    assert await walk(api, 2, tag="mine") == user_ids


async def test_cursor_is_stable_while_templates_are_added(api):
    first = await api("GET", "templates", params={"limit": 3})
    assert [t["id"] for t in first.json["items"]] == sorted(BUILTIN_IDS)[:3]
    await create(api, user_doc("aaaa-before-the-cursor"))  # sorts before the page already seen
    await create(api, user_doc("zzzz-after"))
    rest = []
    cursor = first.json["next_cursor"]
    while cursor:
        r = await api("GET", "templates", params={"limit": 3, "cursor": cursor})
        assert r.status == 200, r.text
        rest += [t["id"] for t in r.json["items"]]
        cursor = r.json["next_cursor"]
    assert rest == sorted(BUILTIN_IDS + ["org-report", "zzzz-after"])[3:]


async def test_thousand_user_templates_paginate(api, jp_serverapp):
    service = datadive_app(jp_serverapp).templates
    user_ids = [f"bulk-{i:04d}" for i in range(1000)]
    small = {"title": "Bulk", "inputs": {"type": "object"}, "cells": [{"cell_type": "markdown", "source": "bulk"}], "examples": [{"inputs": {}}]}
    for i, tid in enumerate(user_ids):  # through the service: the same code path as POST, without 1,000 round trips
        service.create({**small, "id": tid, "category": "bulk" if i % 2 else "bulk-odd", "tags": ["bulk", f"n{i % 10}"]}, "owner")
    everything = sorted(BUILTIN_IDS + ["org-report"] + user_ids)
    assert await walk(api, 500) == everything
    assert await walk(api, 97) == everything
    assert await walk(api, 250, source="user") == user_ids
    assert await walk(api, 100, category="bulk") == user_ids[1::2]
    assert await walk(api, 30, tag="n7") == user_ids[7::10]
    assert await walk(api, 40, q="bulk-09") == user_ids[900:]
    first = await api("GET", "templates")  # the default page size
    assert len(first.json["items"]) == 50 and first.json["next_cursor"]


# ---- reading -------------------------------------------------------------------------


async def test_get_builtin_latest_and_version(api):
    r = await api("GET", "templates", "load-csv")
    assert r.status == 200, r.text
    assert r.headers["ETag"] == '"1"'
    body = r.json
    assert body["id"] == "load-csv" and body["source"] == "builtin"
    assert body["version"] == body["latest_version"] == 1
    assert body["document"] == BUILTIN["load-csv"].to_dict()
    assert body["retired_at"] is None and body["author"] is None

    r1 = await api("GET", "templates", "load-csv", params={"version": 1})
    assert r1.status == 200 and r1.json == body and r1.headers["ETag"] == '"1"'

    versions = await api("GET", "templates", "load-csv", "versions")
    assert versions.status == 200, versions.text
    assert [v["version"] for v in versions.json["items"]] == [1]


async def test_get_path_template(api):
    r = await api("GET", "templates", "org-report")
    assert r.status == 200, r.text
    assert r.json["source"] == "path" and r.headers["ETag"] == '"1"'
    assert r.json["document"]["title"] == ORG_TEMPLATE["title"]
    versions = await api("GET", "templates", "org-report", "versions")
    assert [v["version"] for v in versions.json["items"]] == [1]


@pytest.mark.parametrize(
    "segments, params, status, code, paths",
    [
        (("no-such-template",), None, 404, "template_not_found", []),
        (("no-such-template", "versions"), None, 404, "template_not_found", []),
        (("load-csv",), {"version": 2}, 404, "version_not_found", ["/version"]),
        (("org-report",), {"version": 3}, 404, "version_not_found", ["/version"]),
        (("load-csv",), {"version": 0}, 400, "invalid", ["/version"]),
        (("load-csv",), {"version": "latest"}, 400, "invalid", ["/version"]),
        (("broken",), None, 404, "template_not_found", []),  # the invalid file is not served
    ],
)
async def test_get_errors(api, segments, params, status, code, paths):
    r = await api("GET", "templates", *segments, params=params)
    assert_error(r, status, code, paths)


async def test_version_numbers_beyond_any_stored_one(api):
    """A version no template can have is a 404 like any missing version, never a 500 (SQLite holds 64-bit integers)."""
    await create(api, user_doc("counted"))
    for version in ("2", "9223372036854775807", "9223372036854775808", "99999999999999999999"):
        r = await api("GET", "templates", "counted", params={"version": version})
        assert_error(r, 404, "version_not_found", ["/version"])
        r = await api("GET", "templates", "load-csv", params={"version": version})
        assert_error(r, 404, "version_not_found", ["/version"])
    r = await api("POST", "templates", "counted", "render", raw_body='{"inputs": {"column": "a"}, "version": 99999999999999999999}')
    assert_error(r, 404, "version_not_found", ["/version"])


# ---- creating ------------------------------------------------------------------------


async def test_create_user_template(api, jp_serverapp, jp_base_url, http_server_client, jp_auth_header):
    doc = user_doc("my-template", version=7)  # a client-sent version is ignored: the server assigns 1
    r = await api("POST", "templates", body=doc)
    assert r.status == 201, r.text
    assert r.headers["Location"] == f"{jp_base_url}api/datadive/templates/my-template"
    assert r.headers["ETag"] == '"1"'
    body = r.json
    assert body["id"] == "my-template" and body["source"] == "user"
    assert body["version"] == body["latest_version"] == 1
    assert body["author"] == datadive_app(jp_serverapp).owner_name  # single-user server: the owner
    assert body["created_at"] and body["updated_at"] and body["retired_at"] is None
    document = body["document"]
    assert document["version"] == 1
    for key, value in user_doc("my-template").items():
        assert document[key] == value, key

    got = await api("GET", "templates", "my-template")
    assert got.status == 200 and got.json == body and got.headers["ETag"] == '"1"'
    # The Location header is a working URL.
    loc = await http_server_client.fetch(r.headers["Location"], headers=jp_auth_header, raise_error=False)
    assert loc.code == 200 and json.loads(loc.body)["id"] == "my-template"
    versions = await api("GET", "templates", "my-template", "versions")
    assert [(v["version"], v["author"]) for v in versions.json["items"]] == [(1, body["author"])]
    listed = await api("GET", "templates", params={"source": "user"})
    assert [t["id"] for t in listed.json["items"]] == ["my-template"]


def _bad(**changes) -> dict:
    doc = user_doc("bad-one")
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    "doc, code, paths",
    [
        # Schema errors: every one reported at once, each with its JSON path.
        (
            _bad(id="Not A Slug", cells=[{"cell_type": "python", "source": "x = 1"}], tags="mine"),
            "invalid_template",
            ["/id", "/cells/0/cell_type", "/tags"],
        ),
        ({k: v for k, v in user_doc().items() if k not in ("title", "cells")}, "invalid_template", ["/title", "/cells"]),
        (_bad(surprise=1, language="r"), "invalid_template", ["/surprise", "/language"]),
        (_bad(cells=[]), "invalid_template", ["/cells"]),
        (_bad(examples=[]), "invalid_template", ["/examples"]),
        (_bad(cells=[{"cell_type": "code", "source": "x = 1", "metadata": {"datadive": {}}}]), "invalid_template", ["/cells/0/metadata"]),
        (_bad(assistant={"test": "astrology"}), "invalid_template", ["/assistant/test"]),
        # An example whose inputs do not fit the input schema.
        (
            _bad(
                inputs={"type": "object", "properties": {"x": {"type": "integer"}, "column": {"type": "string"}}},
                cells=[{"cell_type": "code", "source": "print({{ x }}, {{ column }})"}],
                examples=[{"inputs": {"x": "seven", "column": "a"}}],
            ),
            "invalid_template",
            ["/examples/0/inputs/x"],
        ),
        (
            _bad(examples=[{"inputs": {"column": "ok"}}, {"inputs": {"n": 0}}]),
            "invalid_template",
            ["/examples/1/inputs/column", "/examples/1/inputs/n"],
        ),
        # The input schema must itself be a valid JSON Schema.
        (
            _bad(inputs={"type": "object", "properties": {"column": {"type": "banana"}}}),
            "invalid_template",
            ["/inputs/properties/column/type"],
        ),
        # A placeholder that is not a declared input.
        (_bad(cells=[{"cell_type": "code", "source": "print({{ secret }})"}]), "invalid_template", ["/cells/0/source"]),
        # Sandbox escapes are refused when the template is created.
        (
            _bad(cells=[{"cell_type": "code", "source": "{{ column.__class__.__mro__[1].__subclasses__() }}"}]),
            "invalid_template",
            ["/cells/0/source"],
        ),
        (
            _bad(cells=[{"cell_type": "code", "source": "x = 1"}, {"cell_type": "code", "source": "{% import 'os' as os %}x = 2"}]),
            "invalid_template",
            ["/cells/1/source"],
        ),
        (
            _bad(cells=[{"cell_type": "code", "source": "{{ cycler.__init__.__globals__ }}"}]),
            "invalid_template",
            ["/cells/0/source"],
        ),
        # A value pasted inside a string literal could become code: refused.
        (_bad(cells=[{"cell_type": "code", "source": "x = '{{ column }}'"}]), "invalid_template", ["/cells/0/source"]),
    ],
)
async def test_create_invalid_documents(api, doc, code, paths):
    r = await api("POST", "templates", body=doc)
    assert_error(r, 400, code, paths)
    for e in r.json["errors"]:
        assert e["message"], e
    listed = await api("GET", "templates", params={"source": "user"})
    assert listed.json["items"] == []  # nothing was stored


async def test_input_schema_refs_stay_inside_the_document(api):
    """A user's input schema may use local ``$ref``s, but must never make the server fetch a URL.

    jsonschema retrieves unknown ``$ref`` URLs with ``urlopen`` by default: a template
    author could make the server call any address (SSRF), blocking the event loop
    while it waits, at creation (the examples are validated) and at every render.
    """
    import http.server
    import threading

    hits = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = b'{"type": "integer"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/schema.json"
        doc = user_doc(
            "fetches",
            inputs={"type": "object", "properties": {"x": {"$ref": url}}},
            cells=[{"cell_type": "code", "source": "x = {{ x }}"}],
            examples=[{"inputs": {"x": 1}}],
        )
        r = await api("POST", "templates", body=doc)
        assert hits == [], f"the server fetched {hits}"
        assert_error(r, 400, "invalid_template", ["/inputs/properties/x/$ref"])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

    # Local references keep working.
    local = user_doc(
        "local-refs",
        inputs={
            "type": "object",
            "$defs": {"count": {"type": "integer", "minimum": 1}},
            "properties": {"n": {"$ref": "#/$defs/count"}},
        },
        cells=[{"cell_type": "code", "source": "n = {{ n }}"}],
        examples=[{"inputs": {"n": 2}}],
    )
    await create(api, local)
    ok = await api("POST", "templates", "local-refs", "render", body={"inputs": {"n": 3}})
    assert ok.status == 200 and ok.json["cells"][0]["source"] == "n = 3"
    bad = await api("POST", "templates", "local-refs", "render", body={"inputs": {"n": 0}})
    assert_error(bad, 400, "invalid_inputs", ["/n"])


@pytest.mark.parametrize(
    "raw, code",
    [
        ("[1, 2]", "invalid_template"),  # JSON, but not a document
        ('"just a string"', "invalid_template"),
        ("{not json", "invalid_json"),
        ('{"id": NaN}', "invalid_json"),
        ("", "invalid_json"),
    ],
)
async def test_create_bodies_that_are_not_documents(api, raw, code):
    r = await api("POST", "templates", raw_body=raw)
    assert_error(r, 400, code, [""])
    assert (await api("GET", "templates", params={"source": "user"})).json["items"] == []


async def test_create_id_conflicts(api):
    for tid, source in (("load-csv", "builtin"), ("org-report", "path")):
        r = await api("POST", "templates", body=user_doc(tid))
        assert_error(r, 409, "template_exists", ["/id"])
    await create(api, user_doc("mine-once"))
    again = await api("POST", "templates", body=user_doc("mine-once", title="Second try"))
    assert_error(again, 409, "template_exists", ["/id"])
    got = await api("GET", "templates", "mine-once")
    assert got.json["title"] == "Template mine-once" and got.json["version"] == 1


async def test_create_too_large(api, jp_serverapp):
    limit = datadive_app(jp_serverapp).max_body_bytes
    doc = user_doc("huge", description="x" * (limit + 10))
    r = await api("POST", "templates", body=doc)
    assert_error(r, 413, "too_large", [])


# ---- updating: new immutable versions --------------------------------------------------


async def test_update_makes_new_immutable_version(api):
    await create(api, user_doc("evolving"))
    v2_doc = user_doc("evolving", title="Evolving, second edition", cells=[{"cell_type": "code", "source": "{{ df|ident }}[{{ column }}].tail({{ n }})"}])
    r = await api("PUT", "templates", "evolving", body=v2_doc, headers={"If-Match": '"1"'})
    assert r.status == 200, r.text
    assert r.headers["ETag"] == '"2"'
    assert r.json["version"] == r.json["latest_version"] == 2
    assert r.json["document"]["version"] == 2
    assert r.json["title"] == "Evolving, second edition"

    latest = await api("GET", "templates", "evolving")
    assert latest.json["version"] == 2 and latest.headers["ETag"] == '"2"'
    assert "tail" in latest.json["document"]["cells"][0]["source"]

    old = await api("GET", "templates", "evolving", params={"version": 1})
    assert old.status == 200, old.text
    assert old.headers["ETag"] == '"1"'
    assert old.json["version"] == 1 and old.json["latest_version"] == 2
    assert old.json["title"] == "Template evolving"
    assert old.json["document"]["cells"] == user_doc("evolving")["cells"]
    assert old.json["document"]["version"] == 1

    # If-Match accepts the ETag as sent back, quoted or not, weak or not.
    for if_match, version in (("2", 3), ('W/"3"', 4)):
        r = await api("PUT", "templates", "evolving", body=user_doc("evolving", title=f"v{version}"), headers={"If-Match": if_match})
        assert r.status == 200, r.text
        assert r.json["version"] == version

    versions = await api("GET", "templates", "evolving", "versions")
    assert [v["version"] for v in versions.json["items"]] == [1, 2, 3, 4]
    listed = await api("GET", "templates", params={"source": "user"})
    assert [(t["id"], t["version"], t["title"]) for t in listed.json["items"]] == [("evolving", 4, "v4")]
    for version, title in ((1, "Template evolving"), (2, "Evolving, second edition"), (3, "v3"), (4, "v4")):
        r = await api("GET", "templates", "evolving", params={"version": version})
        assert r.json["title"] == title and r.json["document"]["title"] == title
    missing = await api("GET", "templates", "evolving", params={"version": 5})
    assert_error(missing, 404, "version_not_found", ["/version"])


async def test_update_preconditions_and_validation(api):
    await create(api, user_doc("guarded"))
    await api("PUT", "templates", "guarded", body=user_doc("guarded", title="two"), headers={"If-Match": '"1"'})

    no_if_match = await api("PUT", "templates", "guarded", body=user_doc("guarded", title="lost"))
    assert_error(no_if_match, 412, "if_match_required", ["/headers/If-Match"])
    stale = await api("PUT", "templates", "guarded", body=user_doc("guarded", title="lost"), headers={"If-Match": '"1"'})
    assert_error(stale, 412, "stale", ["/headers/If-Match"])
    ahead = await api("PUT", "templates", "guarded", body=user_doc("guarded", title="lost"), headers={"If-Match": '"9"'})
    assert_error(ahead, 412, "stale", ["/headers/If-Match"])
    garbage = await api("PUT", "templates", "guarded", body=user_doc("guarded"), headers={"If-Match": "*, banana"})
    assert_error(garbage, 400, "invalid", ["/headers/If-Match"])
    other_id = await api("PUT", "templates", "guarded", body=user_doc("someone-else"), headers={"If-Match": '"2"'})
    assert_error(other_id, 400, "invalid", ["/id"])
    invalid = await api("PUT", "templates", "guarded", body=_bad(id="guarded", cells=[{"cell_type": "sql", "source": ""}]), headers={"If-Match": '"2"'})
    assert_error(invalid, 400, "invalid_template", ["/cells/0/cell_type"])
    escape = await api(
        "PUT", "templates", "guarded", headers={"If-Match": '"2"'},
        body=user_doc("guarded", cells=[{"cell_type": "code", "source": "{{ column.__class__ }}"}]),
    )
    assert_error(escape, 400, "invalid_template", ["/cells/0/source"])
    unknown = await api("PUT", "templates", "never-made", body=user_doc("never-made"), headers={"If-Match": '"1"'})
    assert_error(unknown, 404, "template_not_found", [])

    current = await api("GET", "templates", "guarded")
    assert current.json["version"] == 2 and current.json["title"] == "two"  # none of the failures stored anything
    versions = await api("GET", "templates", "guarded", "versions")
    assert [v["version"] for v in versions.json["items"]] == [1, 2]


@pytest.mark.parametrize("tid, source", [("load-csv", "builtin"), ("org-report", "path")])
async def test_builtin_and_path_templates_are_read_only(api, tid, source):
    got = await api("GET", "templates", tid)
    doc = got.json["document"]
    doc["title"] = "Changed"
    put = await api("PUT", "templates", tid, body=doc, headers={"If-Match": '"1"'})
    assert_error(put, 403, "read_only", [])
    assert "read-only" in put.json["message"] and source in put.json["message"]
    delete = await api("DELETE", "templates", tid)
    assert_error(delete, 403, "read_only", [])
    assert "read-only" in delete.json["message"]
    after = await api("GET", "templates", tid)
    assert after.status == 200 and after.json["title"] != "Changed" and after.json["retired_at"] is None
    listed = await api("GET", "templates", params={"source": source})
    assert tid in [t["id"] for t in listed.json["items"]]


# ---- retiring ------------------------------------------------------------------------------


async def test_retire_hides_but_keeps_versions_readable(api):
    await create(api, user_doc("old-habit"))
    await api("PUT", "templates", "old-habit", body=user_doc("old-habit", title="v2"), headers={"If-Match": '"1"'})
    await create(api, user_doc("still-here"))

    r = await api("DELETE", "templates", "old-habit")
    assert r.status == 204, r.text
    assert not r.text

    async def listed(**params):
        page = await api("GET", "templates", params={"source": "user", **params})
        assert page.status == 200, page.text
        return {t["id"]: t for t in page.json["items"]}

    assert list(await listed()) == ["still-here"]
    assert list(await listed(q="old-habit")) == []
    assert list(await listed(category="custom")) == ["still-here"]
    with_retired = await listed(retired="true")
    assert list(with_retired) == ["old-habit", "still-here"]
    assert with_retired["old-habit"]["retired_at"] and with_retired["still-here"]["retired_at"] is None
    assert "old-habit" not in await walk(api, 3)

    got = await api("GET", "templates", "old-habit")
    assert got.status == 200, got.text
    assert got.json["retired_at"] and got.json["version"] == 2
    v1 = await api("GET", "templates", "old-habit", params={"version": 1})
    assert v1.status == 200 and v1.json["version"] == 1 and v1.json["retired_at"]
    versions = await api("GET", "templates", "old-habit", "versions")
    assert [v["version"] for v in versions.json["items"]] == [1, 2]
    # Generated cells keep working: a retired template still renders.
    preview = await api("POST", "templates", "old-habit", "render", body={"inputs": {"column": "a"}, "version": 1})
    assert preview.status == 200, preview.text

    put = await api("PUT", "templates", "old-habit", body=user_doc("old-habit"), headers={"If-Match": '"2"'})
    assert_error(put, 409, "template_retired", [])
    again = await api("POST", "templates", body=user_doc("old-habit"))
    assert_error(again, 409, "template_exists", ["/id"])  # the id stays taken: old cells point at it
    twice = await api("DELETE", "templates", "old-habit")
    assert twice.status == 204  # retiring is idempotent
    unknown = await api("DELETE", "templates", "never-made")
    assert_error(unknown, 404, "template_not_found", [])


# ---- render preview --------------------------------------------------------------------


async def test_render_preview_builtin(api, jp_root_dir):
    import nbformat

    before = root_snapshot(jp_root_dir)
    r = await api("POST", "templates", "value-counts", "render", body={"inputs": {"column": "group", "top": 3}})
    assert r.status == 200, r.text
    cells = r.json["cells"]
    assert len(cells) == len(BUILTIN["value-counts"].cells)
    nb = nbformat.v4.new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.cells = [nbformat.from_dict(c) for c in cells]
    nbformat.validate(nb, version=4, version_minor=5)
    cell = cells[0]
    assert cell["cell_type"] == "code" and cell["id"] and cell["outputs"] == [] and cell["execution_count"] is None
    meta = cell["metadata"]["datadive"]
    assert meta["template"] == "value-counts" and meta["version"] == 1
    assert meta["inputs"]["column"] == "group" and meta["inputs"]["top"] == 3
    assert meta["inputs"]["df"] == "df"  # defaults applied and recorded
    assert meta["source_hash"].startswith("sha256:")
    assert "'group'" in cell["source"] or '"group"' in cell["source"]
    assert root_snapshot(jp_root_dir) == before  # no notebook, no folder touched

    again = await api("POST", "templates", "value-counts", "render", body={"inputs": {"column": "group", "top": 3}})
    assert again.json["cells"][0]["id"] != cell["id"]  # fresh cell ids each time
    assert again.json["cells"][0]["source"] == cell["source"]


async def test_render_user_template_versions_and_path_template(api, jp_root_dir):
    await create(api, user_doc("versioned"))
    await api(
        "PUT", "templates", "versioned", headers={"If-Match": '"1"'},
        body=user_doc("versioned", cells=[{"cell_type": "code", "source": "{{ df|ident }}[{{ column }}].tail({{ n }})"}]),
    )
    before = root_snapshot(jp_root_dir)

    latest = await api("POST", "templates", "versioned", "render", body={"inputs": {"column": "x"}})
    assert latest.status == 200, latest.text
    assert [c["cell_type"] for c in latest.json["cells"]] == ["code"]
    assert latest.json["cells"][0]["source"] == "df['x'].tail(5)"
    assert latest.json["cells"][0]["metadata"]["datadive"]["version"] == 2

    first = await api("POST", "templates", "versioned", "render", body={"inputs": {"column": "x", "n": 2}, "version": 1})
    assert first.status == 200, first.text
    assert [c["cell_type"] for c in first.json["cells"]] == ["markdown", "code"]
    assert first.json["cells"][1]["source"] == "df['x'].head(2)"
    assert {c["metadata"]["datadive"]["version"] for c in first.json["cells"]} == {1}
    assert [c["metadata"]["datadive"]["part"] for c in first.json["cells"]] == [0, 1]

    missing = await api("POST", "templates", "versioned", "render", body={"inputs": {"column": "x"}, "version": 3})
    assert_error(missing, 404, "version_not_found", ["/version"])

    org = await api("POST", "templates", "org-report", "render", body={})
    assert org.status == 200, org.text
    assert org.json["cells"][0]["cell_type"] == "markdown"
    assert org.json["cells"][0]["metadata"]["datadive"]["template"] == "org-report"
    no_body = await api("POST", "templates", "overview", "render")  # no body: default inputs
    assert no_body.status == 200, no_body.text
    assert root_snapshot(jp_root_dir) == before


@pytest.mark.parametrize(
    "tid, body, status, code, paths",
    [
        ("value-counts", {"inputs": {}}, 400, "invalid_inputs", ["/column"]),
        ("value-counts", {"inputs": {"column": "", "top": 0, "sort": "random"}}, 400, "invalid_inputs", ["/column", "/top", "/sort"]),
        ("value-counts", {"inputs": {"column": "a", "df": "not a name; import os"}}, 400, "invalid_inputs", ["/df"]),
        ("value-counts", {"inputs": "column=a"}, 400, "invalid", ["/inputs"]),
        ("value-counts", {"inputs": {"column": "a"}, "version": 0}, 400, "invalid", ["/version"]),
        ("value-counts", {"inputs": {"column": "a"}, "extra": True}, 400, "invalid", ["/extra"]),
        ("value-counts", {"inputs": {"column": "a"}, "version": 2}, 404, "version_not_found", ["/version"]),
        ("no-such-template", {"inputs": {}}, 404, "template_not_found", []),
    ],
)
async def test_render_errors(api, jp_root_dir, tid, body, status, code, paths):
    before = root_snapshot(jp_root_dir)
    r = await api("POST", "templates", tid, "render", body=body)
    assert_error(r, status, code, paths)
    assert root_snapshot(jp_root_dir) == before


# ---- the template_folders source ---------------------------------------------------------


async def test_path_source_skips_bad_files_and_follows_the_folder(api, org_library):
    r = await api("GET", "templates", params={"source": "path"})
    assert r.status == 200, r.text
    assert [(t["id"], t["source"]) for t in r.json["items"]] == [("org-report", "path")]
    hijacked = await api("GET", "templates", "load-csv")
    assert hijacked.json["source"] == "builtin" and hijacked.json["title"] == BUILTIN["load-csv"].title

    # A file added after start is seen soon after (read in the background, docs/server.md).
    write_json(org_library, "late.json", {**ORG_TEMPLATE, "id": "late-arrival", "title": "Late"})
    await path_ids_become(api, ["late-arrival", "org-report"])
    got = await api("GET", "templates", "late-arrival")
    assert got.status == 200 and got.json["source"] == "path" and got.json["title"] == "Late"

    # Repairing the broken file makes it appear; removing a file makes it go.
    write_json(org_library, "broken.json", {**ORG_TEMPLATE, "id": "fixed-now", "title": "Fixed"})
    (org_library / "late.json").unlink()
    await path_ids_become(api, ["fixed-now", "org-report"])
    gone = await api("GET", "templates", "late-arrival")
    assert_error(gone, 404, "template_not_found", [])
    # The whole listing never repeats an id.
    ids = await walk(api, 4)
    assert ids == sorted(BUILTIN_IDS + ["fixed-now", "org-report"])


@pytest.mark.parametrize(
    "name, content",
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000),  # json.loads raises RecursionError
        ("constants.json", json.dumps({**ORG_TEMPLATE, "id": "nan-ui", "ui": {"width": float("nan")}})),  # NaN: not JSON
        (
            "infinity.json",
            json.dumps({
                **ORG_TEMPLATE, "id": "nan-ui", "examples": [{"inputs": {}}],
                "inputs": {"type": "object", "properties": {"title": {"type": "number", "default": float("inf")}}},
                "cells": [{"cell_type": "code", "source": "x = {{ title }}"}],
            }),
        ),
        ("latin1.json", json.dumps({**ORG_TEMPLATE, "id": "nan-ui", "title": "Caf\u00e9"}, ensure_ascii=False)),  # not UTF-8
        ("array.json", "[1, 2]"),
        ("empty.json", ""),
    ],
)
async def test_path_folder_files_that_are_not_templates_are_skipped(api, org_library, name, content):
    """An administrator's broken file is skipped (and logged), never a 500 for every request."""
    path = org_library / name
    path.write_bytes(content.encode("latin-1") if name == "latin1.json" else content.encode("utf-8"))
    await folder_read(api, org_library, ["org-report"])  # the file was read, and skipped
    got = await api("GET", "templates", "nan-ui")
    assert_error(got, 404, "template_not_found", [])
    assert (await api("GET", "templates", "org-report")).status == 200
    assert (await api("POST", "templates", body=user_doc("still-works"))).status == 201


async def test_path_file_reusing_a_user_template_id_does_not_duplicate_it(api, org_library):
    """Ids are unique across sources: a folder file arriving later must not shadow or duplicate a user template."""
    await create(api, user_doc("team-summary"))
    write_json(org_library, "team.json", {**ORG_TEMPLATE, "id": "team-summary", "title": "From the folder"})
    await folder_read(api, org_library, ["org-report"])  # the file was read; its id is the user template's
    ids = await walk(api, 5)
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert ids == sorted(set(BUILTIN_IDS) | {"org-report", "team-summary", "folder-marker"})
    listed = await api("GET", "templates", params={"q": "team-summary"})
    sources = [t["source"] for t in listed.json["items"]]
    got = await api("GET", "templates", "team-summary")
    assert got.status == 200, got.text
    assert sources == [got.json["source"]]  # the listing and the GET agree on which one it is


# ---- who may change a user template -------------------------------------------------------


class TestAuthorship:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return multi_user_config(jp_data_dir, DatadiveApp={"admin_users": ["erin"]})

    async def test_only_author_or_admin_may_change(self, api):
        r = await api("POST", "templates", body=user_doc("alices"), user="alice")
        assert r.status == 201, r.text
        assert r.json["author"] == "alice"

        # Everyone may read and preview.
        for user in ("bob", "carol"):
            got = await api("GET", "templates", "alices", user=user)
            assert got.status == 200 and got.json["author"] == "alice"
            preview = await api("POST", "templates", "alices", "render", body={"inputs": {"column": "c"}}, user=user)
            assert preview.status == 200, preview.text

        # Others may not change or retire it.
        for user in ("bob", "carol"):
            put = await api("PUT", "templates", "alices", body=user_doc("alices", title="mine now"), headers={"If-Match": '"1"'}, user=user)
            assert_error(put, 403, "not_author", [])
            assert "alice" in put.json["message"]
            delete = await api("DELETE", "templates", "alices", user=user)
            assert_error(delete, 403, "not_author", [])
        assert (await api("GET", "templates", "alices", user="alice")).json["version"] == 1

        # The author may.
        own = await api("PUT", "templates", "alices", body=user_doc("alices", title="v2"), headers={"If-Match": '"1"'}, user="alice")
        assert own.status == 200, own.text
        assert own.json["version"] == 2
        # An admin (DatadiveApp.admin_users) may too.
        admin = await api("PUT", "templates", "alices", body=user_doc("alices", title="v3"), headers={"If-Match": '"2"'}, user="erin")
        assert admin.status == 200, admin.text
        assert admin.json["version"] == 3 and admin.json["author"] == "alice"  # the template keeps its author
        versions = await api("GET", "templates", "alices", "versions", user="bob")
        assert [(v["version"], v["author"]) for v in versions.json["items"]] == [(1, "alice"), (2, "alice"), (3, "erin")]
        retire = await api("DELETE", "templates", "alices", user="erin")
        assert retire.status == 204, retire.text
        assert (await api("GET", "templates", "alices", user="bob")).json["retired_at"]

        # Bob's own template is his.
        r = await api("POST", "templates", body=user_doc("bobs"), user="bob")
        assert r.json["author"] == "bob"
        put = await api("PUT", "templates", "bobs", body=user_doc("bobs"), headers={"If-Match": '"1"'}, user="alice")
        assert_error(put, 403, "not_author", [])

    async def test_unauthenticated_requests_are_refused(self, api, http_server_client, jp_base_url):
        r = await http_server_client.fetch(f"{jp_base_url}api/datadive/templates", raise_error=False)
        assert r.code == 403
        assert_error(Reply(r.code, json.loads(r.body), r.headers, r.body.decode()), 403, "forbidden", [])
        r = await api("POST", "templates", body=user_doc("anon"), headers={"Authorization": "token nobody"})
        assert_error(r, 403, "forbidden", [])
        listed = await api("GET", "templates", params={"source": "user"}, user="alice")
        assert listed.json["items"] == []
