"""A corpus of bad input: every case gets a clear 4xx with the error shape, and nothing outside the project changes.

Each test starts a server (``max_body_bytes`` set small, so that too-large bodies
are cheap to send), sets up a project with a notebook holding a generated cell,
a data file and a user template, and then sends its part of the corpus. A case
names the answer it must get: the status, the ``code`` (one of a few when more
than one is right) and, for problems of the body, the JSON paths of the errors.

Before and after, the whole temporary area of the test (the server root, its
data, config and runtime dirs; not the SQLite file and its -wal/-shm) is
snapshotted as paths + sha256: nothing may change outside the project folder
(and the folders of projects a case was meant to create). No answer may be a
5xx. Mismatches are collected and reported together.

Decisions asserted here (where docs/server.md and DESIGN.md leave room):

- Project names are display text: emoji, right-to-left and zero-width characters
  are kept exactly; the folder gets an ASCII slug under ``projects/``. Control
  characters (NUL...) in names are refused (the schema's pattern); a NUL inside a
  description is plain text and kept.
- Lone surrogates (``\\ud800`` escapes) are not text: refused with 400 at the
  field's path (or, when the whole body is refused, at ``""``).
- A UTF-8 BOM, NaN / Infinity, comments, single quotes, trailing commas,
  unescaped control characters, invalid UTF-8: not JSON, 400 ``invalid_json``.
- Notebook paths in URLs are decoded once: ``%252e%252e`` is a file literally
  named ``%2e%2e``, not a way up.
- Form values land in code as literals; values for names go through the
  ``ident`` filter and are refused when they are not plain identifiers.
- Nesting: a body nested 10,000 deep is not JSON the server reads (400
  ``invalid_json``); input values nested deeper than the library allows are 400
  ``invalid_inputs``; a template whose input schema nests hundreds of levels is a
  bad template (400), not a crash.
- An inline table for the assistant whose rows do not match its columns, whose
  columns differ in length or that names a column twice is a bad request (400).
- Bodies over ``max_body_bytes`` are 413 ``too_large`` before they are parsed; a
  request announcing a body over tornado's own limit is refused by tornado from
  its headers (tornado answers a bare 400; 413 would do too).
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import re
from dataclasses import dataclass

import nbformat
import pytest
from datadive_testing import base_config

MAX_BODY = 200_000
SQLITE_FILES = ("datadive-test.sqlite", "datadive-test.sqlite-wal", "datadive-test.sqlite-shm", "datadive-test.sqlite-journal")


@pytest.fixture
def jp_server_config(jp_data_dir):
    return base_config(jp_data_dir, DatadiveApp={"max_body_bytes": MAX_BODY})


def echo_doc(tid: str = "echo", **changes) -> dict:
    """A user template: ``label`` (required) as a literal, ``var`` through ``ident``, ``value`` of any type."""
    doc = {
        "id": tid,
        "title": "Echo",
        "description": "Writes a label and a value into code.",
        "inputs": {
            "type": "object",
            "required": ["label"],
            "properties": {
                "label": {"type": "string"},
                "var": {"type": "string", "default": "result"},
                "value": {"default": None},
            },
        },
        "cells": [
            {"cell_type": "markdown", "source": "## {{ label }}"},
            {"cell_type": "code", "source": "{{ var|ident }} = {{ label }}\nother = {{ value }}"},
        ],
        "examples": [{"inputs": {"label": "a"}}],
    }
    doc.update(changes)
    return doc


@dataclass
class Reply:
    status: int
    json: object
    headers: object
    text: str


class Lab:
    """One project to attack, the means to send requests, and the checks run at the end."""

    def __init__(self, api, client, base_url, auth_header, root):
        self.api, self.client, self.base_url, self.auth, self.root = api, client, base_url, auth_header, root
        self.area = root.parent  # the test's whole temporary area
        self.replies: list[tuple[str, int, str]] = []
        self.problems: list[str] = []
        self.allowed_dirs: list[str] = []  # root-relative folders cases were meant to create (new projects)

    # -- requests ---------------------------------------------------------------------------------

    async def send(self, method, *segments, **kw) -> Reply:
        r = await self.api(method, *segments, **kw)
        self.replies.append((f"{method} /{'/'.join(map(str, segments))}"[:160], r.status, r.text[:200]))
        return r

    async def raw(self, method, path: str, body=None, headers=None) -> Reply:
        """A request whose path (after ``api/datadive/``) is sent exactly as written."""
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = ""
        resp = await self.client.fetch(
            f"{self.base_url}api/datadive/{path}", method=method, body=body, headers={**self.auth, **(headers or {})},
            raise_error=False, follow_redirects=False, allow_nonstandard_methods=True, request_timeout=60,
        )
        text = resp.body.decode("utf-8", "replace") if resp.body else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        self.replies.append((f"{method} {path}"[:160], resp.code, text[:200]))
        return Reply(resp.code, parsed, resp.headers, text)

    async def ok(self, reply, status=200):
        assert reply.status == status, (reply.status, reply.text)
        return reply.json

    # -- the project ------------------------------------------------------------------------------

    async def setup(self):
        self.project = await self.ok(await self.api("POST", "projects", body={"name": "Bad input lab", "description": "d"}), 201)
        self.pid = self.project["id"]
        self.folder = self.root / self.project["path"]
        self.nb = "analysis.ipynb"
        await self.ok(await self.api("POST", "projects", self.pid, "notebooks", body={"name": self.nb}), 201)
        gen = await self.ok(await self.api("POST", *self.nbp("cells"), body={"template": {"id": "value-counts"}, "inputs": {"column": "group"}}), 201)
        self.cell_id = gen["cells"][0]["id"]
        raw = await self.ok(await self.api("POST", *self.nbp("cells"), body={"cell_type": "code", "source": "x = 1"}), 201)
        self.raw_cell_id = raw["cells"][0]["id"]
        (self.folder / "data.csv").write_text("g,y\n" + "".join(f"{'ab'[i % 2]},{i % 7}\n" for i in range(30)), encoding="utf-8")
        (self.folder / "notes.txt").write_text("not a notebook\n", encoding="utf-8")
        (self.folder / "sub").mkdir()
        await self.ok(await self.api("POST", "templates", body=echo_doc()), 201)
        self.tid = "echo"
        self.before = self.snapshot()
        self.nb_before = self.notebook_bytes()
        self.project_before = await self.ok(await self.api("GET", "projects", self.pid))

    def nbp(self, *rest):
        return ("projects", self.pid, "notebooks", self.nb, *rest)

    def notebook_bytes(self) -> bytes:
        return (self.folder / self.nb).read_bytes()

    def notebook(self):
        with open(self.folder / self.nb, encoding="utf-8") as f:
            nb = nbformat.read(f, as_version=4)
        nbformat.validate(nb)
        return nb

    def snapshot(self) -> dict:
        """Every path of the test area (folders too) with the sha256 of files; not the SQLite files."""
        out = {}
        for dirpath, dirs, files in os.walk(self.area):
            for name in dirs:
                out[os.path.relpath(os.path.join(dirpath, name), self.area) + "/"] = "dir"
            for name in files:
                if name in SQLITE_FILES:
                    continue
                full = os.path.join(dirpath, name)
                with open(full, "rb") as f:
                    out[os.path.relpath(full, self.area)] = hashlib.sha256(f.read()).hexdigest()
        return out

    # -- expectations -----------------------------------------------------------------------------

    def expect(self, label: str, reply: Reply, status: int, code: str, paths: list[str]) -> bool:
        """The answer has this status, the error shape, this code and exactly these error paths (as a set:
        one path may carry several messages; ``[]``: an error about no field)."""
        body = reply.json if isinstance(reply.json, dict) else {}
        problem = None
        if reply.status != status:
            problem = f"expected {status} {code}, got {reply.status}"
        elif not {"message", "reason", "code", "errors"} <= set(body):
            problem = "not the error shape"
        elif not body["message"] or not isinstance(body["errors"], list):
            problem = "empty message or errors not a list"
        elif body["code"] != code:
            problem = f"code {body['code']!r}, expected {code!r}"
        elif not all(isinstance(e, dict) and isinstance(e.get("path"), str) and e.get("message") for e in body["errors"]):
            problem = "an error without a path or a message"
        elif sorted({e["path"] for e in body["errors"]}) != sorted(set(paths)):
            problem = f"error paths {sorted({e['path'] for e in body['errors']})}, expected {sorted(set(paths))}"
        if problem:
            self.problems.append(f"{label}: {problem}: {reply.text[:220]}")
            return False
        return True

    def fail(self, label: str, problem: str):
        self.problems.append(f"{label}: {problem}")

    async def finish(self, project_may_change: bool = False):
        """No 5xx, no mismatch, nothing changed outside the project (and the folders of projects cases
        were meant to create); with ``project_may_change`` false, nothing changed inside it either."""
        after = self.snapshot()
        inside = [os.path.join(os.path.relpath(self.root, self.area), d) for d in self.allowed_dirs]
        if project_may_change:
            inside.append(os.path.relpath(self.folder, self.area))
        outside = []
        for key in sorted(set(self.before) | set(after)):
            if self.before.get(key) == after.get(key):
                continue
            if any(key == d + "/" or key.startswith(d + "/") for d in inside):
                continue
            state = "appeared" if key not in self.before else "vanished" if key not in after else "changed"
            outside.append(f"{key} {state}")
        if outside:
            self.problems.append(f"files changed{'' if project_may_change else ' (the project folder included)'}: {outside}")
        if not project_may_change and self.notebook_bytes() != self.nb_before:
            self.problems.append("the project's notebook changed")
        self.notebook()  # still a valid notebook
        project = (await self.api("GET", "projects", self.pid)).json
        if project != self.project_before:
            self.problems.append(f"the project changed: {project}")
        errors = [r for r in self.replies if r[1] >= 500]
        if errors:
            self.problems.append(f"{len(errors)} answers were 5xx: " + "; ".join(f"{a} -> {b} {c[:80]}" for a, b, c in errors))
        assert not self.problems, f"{len(self.problems)} problems:\n" + "\n".join(self.problems)


async def open_lab(api, http_server_client, jp_base_url, jp_auth_header, jp_root_dir) -> Lab:
    lab = Lab(api, http_server_client, jp_base_url, jp_auth_header, jp_root_dir)
    await lab.setup()
    return lab


@pytest.fixture
def lab_args(api, http_server_client, jp_base_url, jp_auth_header, jp_root_dir):
    return api, http_server_client, jp_base_url, jp_auth_header, jp_root_dir


# -- the routes that take a body ----------------------------------------------------------------------


def body_routes(lab: Lab) -> list[tuple[str, tuple, dict, str]]:
    """(method, segments, headers, code of a body the schema refuses) for every route that reads a JSON body."""
    return [
        ("POST", ("projects",), {}, "invalid"),
        ("PATCH", ("projects", lab.pid), {}, "invalid"),
        ("PUT", ("projects", lab.pid, "members", "bob"), {}, "invalid"),
        ("POST", ("projects", lab.pid, "notebooks"), {}, "invalid"),
        ("PATCH", ("projects", lab.pid, "notebooks", lab.nb), {}, "invalid"),
        ("POST", lab.nbp("cells"), {}, "invalid"),
        ("PATCH", lab.nbp("cells", lab.cell_id), {}, "invalid"),
        ("POST", lab.nbp("cells", lab.cell_id, "move"), {}, "invalid"),
        ("PUT", lab.nbp("cells", "order"), {}, "invalid"),
        ("POST", ("templates",), {}, "invalid_template"),
        ("PUT", ("templates", lab.tid), {"If-Match": '"1"'}, "invalid_template"),
        ("POST", ("templates", lab.tid, "render"), {}, "invalid"),
        ("POST", ("assistant", "profile"), {}, "invalid"),
        ("POST", ("assistant", "suggest"), {}, "invalid"),
    ]


MALFORMED: list[tuple[str, str | bytes]] = [
    ("truncated object", '{"name": "x"'),
    ("truncated string", '{"name": "x'),
    ("truncated after colon", '{"name":'),
    ("only an opening brace", "{"),
    ("trailing garbage", '{"name": "x"} xyz'),
    ("two documents", '{"name": "x"}{"name": "y"}'),
    ("NaN", '{"name": NaN}'),
    ("Infinity", '{"index": Infinity}'),
    ("-Infinity", '{"index": -Infinity}'),
    ("NaN nested", '{"inputs": {"n": [1, NaN]}}'),
    ("invalid UTF-8", b'{"name": "\xff\xfe"}'),
    ("overlong UTF-8 slash", b'{"name": "\xc0\xaf"}'),
    ("UTF-8 encoded surrogate", b'{"name": "\xed\xa0\x80"}'),
    ("truncated UTF-8 sequence", b'{"name": "\xe2\x82"}'),
    ("UTF-8 BOM", b'\xef\xbb\xbf{"name": "x"}'),
    ("UTF-16 with BOM", '{"name": "x"}'.encode("utf-16")),
    ("empty", ""),
    ("whitespace only", " \r\n\t "),
    ("single quotes", "{'name': 'x'}"),
    ("unquoted key", "{name: 1}"),
    ("comment", '{"name": "x" /* c */}'),
    ("trailing comma", '{"name": "x",}'),
    ("form encoded", "name=x&role=owner"),
    ("raw tab in a string", '{"name": "a\tb"}'),
    ("raw newline in a string", '{"name": "a\nb"}'),
    ("bad escape", '{"name": "\\x41"}'),
    ("truncated unicode escape", '{"name": "\\u12"}'),
    ("NUL byte outside a string", '{"name": "x"}\x00'),
]

NOT_OBJECTS = ["null", "[]", "[{}]", "1", "-0.5", '"name"', "true"]


async def test_malformed_json(lab_args):
    lab = await open_lab(*lab_args)
    for method, segments, headers, schema_code in body_routes(lab):
        route = f"{method} /{'/'.join(segments[:1])}/.../{segments[-1]}"
        for label, raw in MALFORMED:
            if segments[-1] == "render" and label in ("empty", "whitespace only"):
                continue  # a preview without a body means {"inputs": {}}: checked below
            reply = await lab.send(method, *segments, raw_body=raw, headers=headers)
            lab.expect(f"{route} [{label}]", reply, 400, "invalid_json", [""])
        for raw in NOT_OBJECTS:
            reply = await lab.send(method, *segments, raw_body=raw, headers=headers)
            lab.expect(f"{route} [{raw}]", reply, 400, schema_code, [""])
    # An empty preview body is an empty set of inputs: the required one is missing.
    for raw in ("", " \n"):
        reply = await lab.send("POST", "templates", lab.tid, "render", raw_body=raw)
        lab.expect(f"render with body {raw!r}", reply, 400, "invalid_inputs", ["/label"])
    await lab.finish()


# -- wrong types ----------------------------------------------------------------------------------------

STRING_WRONG = [1, 1.5, True, None, [], {}, ["x"]]
INT_WRONG = ["1", 1.5, True, None, [], {}, -1]
OBJECT_WRONG = ["x", 1, True, None, [], ["a"]]
BOOL_WRONG = ["true", 1, 0, None, [], {}]
ARRAY_WRONG = ["x", 1, None, {}, True]
ENUM_WRONG = [1, None, "nope", "", [], {}]


def set_pointer(doc: dict, pointer: str, value) -> dict:
    out = json.loads(json.dumps(doc))
    node = out
    parts = pointer.strip("/").split("/")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    return out


def wrong_type_cases(lab: Lab):
    """(label, method, segments, headers, valid body, [(JSON pointer, wrong values)], code)."""
    nbp = lab.nbp
    table = {"columns": ["g", "y"], "rows": [["a", 1], ["b", 2]] * 4}
    tdoc = echo_doc("echo-copy")
    return [
        ("create project", "POST", ("projects",), {}, {"name": "n", "description": "d"},
         [("/name", STRING_WRONG + ["", "x" * 201]), ("/description", STRING_WRONG + ["x" * 10001])], "invalid"),
        ("update project", "PATCH", ("projects", lab.pid), {}, {"name": "n", "description": "d"},
         [("/name", STRING_WRONG + [""]), ("/description", STRING_WRONG)], "invalid"),
        ("set member", "PUT", ("projects", lab.pid, "members", "bob"), {}, {"role": "viewer"},
         [("/role", ENUM_WRONG + ["admin", "Owner"])], "invalid"),
        ("create notebook", "POST", ("projects", lab.pid, "notebooks"), {}, {"name": "n"},
         [("/name", STRING_WRONG + ["", "x" * 1025])], "invalid"),
        ("rename notebook", "PATCH", ("projects", lab.pid, "notebooks", lab.nb), {}, {"name": "n"},
         [("/name", STRING_WRONG + [""])], "invalid"),
        ("insert raw cell", "POST", nbp("cells"), {}, {"cell_type": "code", "source": "x", "index": 0},
         [("/cell_type", ENUM_WRONG + ["python"]), ("/source", STRING_WRONG), ("/index", INT_WRONG)], "invalid"),
        ("insert raw cell after", "POST", nbp("cells"), {}, {"cell_type": "code", "source": "x", "after": lab.cell_id},
         [("/after", STRING_WRONG + [""])], "invalid"),
        ("insert raw cell before", "POST", nbp("cells"), {}, {"cell_type": "code", "source": "x", "before": lab.cell_id},
         [("/before", STRING_WRONG + [""])], "invalid"),
        ("insert template cell", "POST", nbp("cells"), {}, {"template": {"id": "value-counts", "version": 1}, "inputs": {"column": "g"}},
         [("/template", OBJECT_WRONG), ("/template/id", STRING_WRONG + [""]), ("/template/version", INT_WRONG + [0]),
          ("/inputs", OBJECT_WRONG)], "invalid"),
        ("re-generate cell", "PATCH", nbp("cells", lab.cell_id), {}, {"inputs": {"column": "g"}, "force": False},
         [("/inputs", OBJECT_WRONG), ("/force", BOOL_WRONG)], "invalid"),
        ("upgrade cell", "PATCH", nbp("cells", lab.cell_id), {}, {"template_version": "latest"},
         [("/template_version", ["newest", 0, -2, 1.5, True, None, [], {}])], "invalid"),
        ("edit cell", "PATCH", nbp("cells", lab.raw_cell_id), {}, {"source": "y = 2"}, [("/source", STRING_WRONG)], "invalid"),
        ("move cell", "POST", nbp("cells", lab.cell_id, "move"), {}, {"index": 0}, [("/index", INT_WRONG)], "invalid"),
        ("move cell after", "POST", nbp("cells", lab.cell_id, "move"), {}, {"after": lab.raw_cell_id}, [("/after", STRING_WRONG + [""])], "invalid"),
        ("reorder cells", "PUT", nbp("cells", "order"), {}, {"order": [lab.raw_cell_id, lab.cell_id]},
         [("/order", ARRAY_WRONG), ("/order/0", [1, None, [], {}, True])], "invalid"),
        ("render", "POST", ("templates", lab.tid, "render"), {}, {"inputs": {"label": "a"}, "version": 1},
         [("/inputs", OBJECT_WRONG), ("/version", INT_WRONG + [0])], "invalid"),
        ("render inputs", "POST", ("templates", lab.tid, "render"), {}, {"inputs": {"label": "a", "var": "v"}},
         [("/inputs/label", STRING_WRONG), ("/inputs/var", STRING_WRONG)], "invalid_inputs"),
        ("create template", "POST", ("templates",), {}, tdoc,
         [("/id", STRING_WRONG + ["", "Not A Slug"]), ("/title", STRING_WRONG), ("/inputs", OBJECT_WRONG),
          ("/cells", ARRAY_WRONG), ("/examples", ARRAY_WRONG), ("/tags", ARRAY_WRONG)], "invalid_template"),
        ("update template", "PUT", ("templates", lab.tid), {"If-Match": '"1"'}, echo_doc(),
         [("/title", STRING_WRONG), ("/inputs", OBJECT_WRONG), ("/cells", ARRAY_WRONG)], "invalid_template"),
        ("profile", "POST", ("assistant", "profile"), {}, {"source": {"table": table}, "levels": {"g": "nominal"}},
         [("/source", OBJECT_WRONG), ("/levels", OBJECT_WRONG), ("/levels/g", ENUM_WRONG)], "invalid"),
        ("suggest", "POST", ("assistant", "suggest"), {}, {"source": {"table": table}, "design": {"outcome": "y", "between": "g"}},
         [("/design", OBJECT_WRONG), ("/design/outcome", [1, None, True, {}]), ("/design/test_value", ["1", None, [], {}]),
          ("/design/goal", ENUM_WRONG)], "invalid"),
    ]


async def test_wrong_types_for_every_body_field(lab_args):
    lab = await open_lab(*lab_args)
    templates_before = (await lab.ok(await lab.send("GET", "templates", params={"source": "user", "retired": "true"})))["items"]
    sent = 0
    for label, method, segments, headers, valid, fields, code in wrong_type_cases(lab):
        for pointer, values in fields:
            for value in values:
                body = set_pointer(valid, pointer, value)
                reply = await lab.send(method, *segments, body=body, headers=headers)
                sent += 1
                # A wrong value is reported at its own path, and only there (template inputs: relative
                # to the inputs, as a form shows them).
                path = pointer.removeprefix("/inputs") if code == "invalid_inputs" else pointer
                lab.expect(f"{label} {pointer}={json.dumps(value)[:30]}", reply, 400, code, [path])
        # An unknown field is named by its path. A move body is one of three shapes (index / after /
        # before), so an unknown field also fails the choice of shape, at the body's root.
        reply = await lab.send(method, *segments, body={**valid, "unexpected": 1}, headers=headers)
        paths = ["", "/unexpected"] if segments[-1] == "move" else ["/unexpected"]
        lab.expect(f"{label} with an unknown field", reply, 400, "invalid" if code == "invalid_inputs" else code, paths)
    assert sent > 200

    # Inline tables of the wrong shape for the assistant: the schema cannot see these, the server must.
    # Each bad row, or the column, at its own path.
    bad_rows = ["/source/table/rows/1", "/source/table/rows/3", "/source/table/rows/5"]
    shapes = [
        ("a row shorter than the columns", {"columns": ["a", "b"], "rows": [[1, 2], [1]] * 3}, bad_rows),
        ("a row longer than the columns", {"columns": ["a", "b"], "rows": [[1, 2], [1, 2, 3]] * 3}, bad_rows),
        ("columns of different lengths", {"data": {"a": [1, 2, 3], "b": [1]}}, ["/source/table/data/b"]),
        ("a column named twice", {"columns": ["a", "a"], "rows": [[1, 2], [3, 4]] * 3}, ["/source/table/columns/1"]),
    ]
    for label, table, paths in shapes:
        for route, extra in (("profile", {}), ("suggest", {"design": {"outcome": "a"}})):
            reply = await lab.send("POST", "assistant", route, body={"source": {"table": table}, **extra})
            lab.expect(f"{route} of a table with {label}", reply, 400, "invalid_table", paths)
    templates_after = (await lab.ok(await lab.send("GET", "templates", params={"source": "user", "retired": "true"})))["items"]
    if [(t["id"], t["version"]) for t in templates_after] != [(t["id"], t["version"]) for t in templates_before]:
        lab.fail("templates", f"changed: {templates_before} -> {templates_after}")
    members = (await lab.ok(await lab.send("GET", "projects", lab.pid, "members")))["items"]
    if len(members) != 1:
        lab.fail("members", f"changed: {members}")
    await lab.finish()


# -- sizes ------------------------------------------------------------------------------------------------


async def test_bodies_over_the_limits(lab_args):
    lab = await open_lab(*lab_args)
    pad = "x" * (MAX_BODY + 1)
    for method, segments, headers, _ in body_routes(lab):
        route = f"{method} /{'/'.join(map(str, segments))}"
        for label, raw in (
            ("valid JSON", json.dumps({"name": pad, "source": pad, "inputs": {"label": pad}})),
            ("invalid JSON", "{" * (MAX_BODY + 1)),  # refused for its size before it is parsed
            ("one byte over", '{"x": "' + "y" * (MAX_BODY - 8) + '"}'),
        ):
            assert len(raw.encode()) > MAX_BODY
            reply = await lab.send(method, *segments, raw_body=raw, headers=headers)
            lab.expect(f"{route} [{label}]", reply, 413, "too_large", [])

    # Exactly at the limit is fine: a PATCH padded with insignificant whitespace to MAX_BODY bytes.
    body = '{"description": "at the limit"}'
    body += " " * (MAX_BODY - len(body))
    reply = await lab.send("PATCH", "projects", lab.pid, raw_body=body)
    if reply.status != 200 or reply.json.get("description") != "at the limit":
        lab.fail("a body of exactly max_body_bytes", f"{reply.status} {reply.text[:200]}")
    await lab.ok(await lab.send("PATCH", "projects", lab.pid, body={"description": lab.project_before["description"]}))
    lab.project_before = (await lab.send("GET", "projects", lab.pid)).json  # updated_at moved on

    # Tornado's own limit (100 MB for the test server): a request announcing a larger body
    # is refused from its headers, before any byte of it is read or any handler runs.
    port = lab.client.get_http_port()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"POST {lab.base_url}api/datadive/projects HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: {lab.auth['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 ** 10}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + b'{"name": "')
        await writer.drain()
        status_line = (await asyncio.wait_for(reader.readline(), 30)).decode("latin-1")
    finally:
        writer.close()
    m = re.match(r"HTTP/1\.[01] (\d{3})", status_line)
    if not m or m.group(1) not in ("400", "413"):
        lab.fail("a body over tornado's limit", f"answered {status_line!r}")
    names = [p["name"] for p in (await lab.ok(await lab.send("GET", "projects")))["items"]]
    if names != ["Bad input lab"]:
        lab.fail("projects after the size cases", str(names))
    await lab.finish()


# -- deep nesting --------------------------------------------------------------------------------------------


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_schema(depth: int, kind: str) -> str:
    if kind == "items":  # compact, so that 10,000 levels stay under MAX_BODY
        return '{"items":' * depth + "{}" + "}" * depth
    if kind == "array":
        return '{"type": "array", "items": ' * depth + '{"type": "string"}' + "}" * depth
    return '{"type": "object", "properties": {"a": ' * depth + '{"type": "string"}' + "}}" * depth


def template_with_inputs(tid: str, inputs: str) -> str:
    return (
        '{"id": "%s", "title": "Deep", "inputs": {"type": "object", "properties": {"deep": %s}}, '
        '"cells": [{"cell_type": "code", "source": "x = 1"}], "examples": [{"inputs": {}}]}' % (tid, inputs)
    )


async def test_deep_nesting(lab_args):
    lab = await open_lab(*lab_args)
    deep = nested_arrays(10_000)
    for method, segments, headers, _ in body_routes(lab):
        route = f"{method} /{'/'.join(map(str, segments))}"
        reply = await lab.send(method, *segments, raw_body=deep, headers=headers)
        lab.expect(f"{route} [10,000 nested arrays]", reply, 400, "invalid_json", [""])
        reply = await lab.send(method, *segments, raw_body='{"name": ' + deep + ', "inputs": {"label": ' + deep + "}}", headers=headers)
        lab.expect(f"{route} [10,000 nested arrays in a field]", reply, 400, "invalid_json", [""])

    # In template inputs: as a value sent to a form...
    for depth in (10_000, 2_000):
        raw = '{"inputs": {"label": "a", "value": ' + nested_arrays(depth) + "}}"
        reply = await lab.send("POST", "templates", lab.tid, "render", raw_body=raw)
        lab.expect(f"render, value nested {depth} deep", reply, 400, "invalid_json", [""])
        raw = '{"template": {"id": "echo"}, "inputs": {"label": "a", "value": ' + nested_arrays(depth) + "}}"
        reply = await lab.send("POST", *lab.nbp("cells"), raw_body=raw)
        lab.expect(f"insert, value nested {depth} deep", reply, 400, "invalid_json", [""])
    too_deep = ["/value" + "/0" * 31]  # where the value nests deeper than the 32 levels a literal may (docs/templates.md)
    for depth in (40, 300, 600):  # JSON takes these; the inputs may not nest that deep
        raw = '{"inputs": {"label": "a", "value": ' + nested_arrays(depth) + "}}"
        reply = await lab.send("POST", "templates", lab.tid, "render", raw_body=raw)
        lab.expect(f"render, value nested {depth} deep", reply, 400, "invalid_inputs", too_deep)
        raw = '{"template": {"id": "echo"}, "inputs": {"label": "a", "value": ' + nested_arrays(depth) + "}}"
        reply = await lab.send("POST", *lab.nbp("cells"), raw_body=raw)
        lab.expect(f"insert, value nested {depth} deep", reply, 400, "invalid_inputs", too_deep)

    # ...and as the input schema of a template document: JSON too deep to parse is invalid_json; a schema
    # JSON can parse is refused where it nests deeper than 64 levels (the template document's own levels
    # counted: /inputs/properties/deep is 3 of them).
    object_path = "/inputs/properties/deep" + "/properties/a" * 30 + "/properties"
    array_path = "/inputs/properties/deep" + "/items" * 61
    for depth, kind, code, paths in ((10_000, "items", "invalid_json", [""]), (200, "object", "invalid_template", [object_path]),
                                     (300, "array", "invalid_template", [array_path]), (450, "object", "invalid_template", [object_path])):
        raw = template_with_inputs(f"deep-{kind}-{depth}", nested_schema(depth, kind))
        assert len(raw) < MAX_BODY
        reply = await lab.send("POST", "templates", raw_body=raw)
        lab.expect(f"template whose input schema nests {depth} {kind} levels", reply, 400, code, paths)
        reply = await lab.send("PUT", "templates", lab.tid, raw_body=raw.replace(f"deep-{kind}-{depth}", lab.tid), headers={"If-Match": '"1"'})
        lab.expect(f"new version whose input schema nests {depth} {kind} levels", reply, 400, code, paths)
    listed = [t["id"] for t in (await lab.ok(await lab.send("GET", "templates", params={"source": "user"})))["items"]]
    if listed != ["echo"]:
        lab.fail("user templates after the deep documents", str(listed))
    if (await lab.ok(await lab.send("GET", "templates", lab.tid)))["version"] != 1:
        lab.fail("the echo template", "got a new version")
    await lab.finish()


# -- unicode ---------------------------------------------------------------------------------------------------

LONE_SURROGATES = ["\\ud800", "a\\udfffb", "\\udc00\\ud800", "x\\ud83d"]  # JSON escapes: high, low, reversed pair, half an emoji


async def test_unicode_edge_cases(lab_args):
    lab = await open_lab(*lab_args)

    # Allowed in project names: kept exactly; the folder is an ASCII slug under projects/.
    allowed = [
        "\U0001f600 data", "\U0001f9ea\U0001f52c\U0001f4ca", "\u200b\u200c\u200d\ufeff", "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
        "e\u0301t\u00e9", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "x" * 200, "\U0001f600" * 200,
    ]
    for name in allowed:
        reply = await lab.send("POST", "projects", body={"name": name, "description": "kept\x00as text \U0001f600"})
        if reply.status != 201:
            lab.fail(f"project name {name[:20]!r}", f"{reply.status} {reply.text[:200]}")
            continue
        created = reply.json
        lab.allowed_dirs.append(created["path"])
        got = await lab.ok(await lab.send("GET", "projects", created["id"]))
        if (got["name"], got["description"]) != (name, "kept\x00as text \U0001f600"):
            lab.fail(f"project name {name[:20]!r}", f"stored as {got['name'][:40]!r} / {got['description']!r}")
        if not re.fullmatch(r"projects/[a-z0-9]+(-[a-z0-9]+)*", created["path"]):
            lab.fail(f"project name {name[:20]!r}", f"folder {created['path']!r}")
        if not (lab.root / created["path"]).is_dir():
            lab.fail(f"project name {name[:20]!r}", "no folder")

    # Refused in project names: control characters, bidirectional-text controls and over-long names, at /name.
    for name in ["a\x00b", "\x00", "tab\there", "new\nline", "esc\x1b[31m", "del\x7f", "abc\u202edef", "\u2066isolate\u2069",
                 "x" * 201, "\U0001f600" * 201, ""]:
        lab.expect(f"project name {name[:12]!r}", await lab.send("POST", "projects", body={"name": name}), 400, "invalid", ["/name"])
        lab.expect(f"project rename {name[:12]!r}", await lab.send("PATCH", "projects", lab.pid, body={"name": name}), 400, "invalid", ["/name"])

    # Lone surrogates are not text, wherever they are sent.
    for s in LONE_SURROGATES:
        cases = [
            ("project name", "POST", ("projects",), '{"name": "%s"}', "/name", {}),
            ("project description", "POST", ("projects",), '{"name": "fine", "description": "%s"}', "/description", {}),
            ("project rename", "PATCH", ("projects", lab.pid), '{"name": "%s"}', "/name", {}),
            ("project description change", "PATCH", ("projects", lab.pid), '{"description": "%s"}', "/description", {}),
            ("notebook name", "POST", ("projects", lab.pid, "notebooks"), '{"name": "%s"}', "/name", {}),
            ("notebook rename", "PATCH", ("projects", lab.pid, "notebooks", lab.nb), '{"name": "%s"}', "/name", {}),
            ("member role", "PUT", ("projects", lab.pid, "members", "bob"), '{"role": "%s"}', "/role", {}),
            ("raw cell source", "POST", lab.nbp("cells"), '{"cell_type": "code", "source": "x = \'%s\'"}', "/source", {}),
            ("cell edit", "PATCH", lab.nbp("cells", lab.raw_cell_id), '{"source": "%s"}', "/source", {}),
            ("template title", "POST", ("templates",), json.dumps(echo_doc("sur")).replace('"Echo"', '"%s"'), "/title", {}),
            ("template version title", "PUT", ("templates", lab.tid), json.dumps(echo_doc()).replace('"Echo"', '"%s"'), "/title", {"If-Match": '"1"'}),
            ("render input", "POST", ("templates", lab.tid, "render"), '{"inputs": {"label": "%s"}}', "/inputs/label", {}),
            ("insert input", "POST", lab.nbp("cells"), '{"template": {"id": "echo"}, "inputs": {"label": "%s"}}', "/inputs/label", {}),
            ("inline table column", "POST", ("assistant", "profile"), '{"source": {"table": {"columns": ["%s"], "rows": [[1]]}}}', "/source/table/columns/0", {}),
        ]
        for label, method, segments, template, path, headers in cases:
            reply = await lab.send(method, *segments, raw_body=template % s, headers=headers)
            # Refused with the body, before any route looks at it: "invalid" at the field's path in the body
            # (template documents and template inputs included).
            lab.expect(f"lone surrogate {s} in {label}", reply, 400, "invalid", [path])

    # Unicode in notebook names is kept (inside the project); NUL, control characters and bidirectional-text
    # controls are not.
    for name in ("zero\u200bwidth.ipynb", "\U0001f4ca.ipynb"):
        reply = await lab.send("POST", "projects", lab.pid, "notebooks", body={"name": name})
        if reply.status != 201 or reply.json.get("path") != name or not (lab.folder / name).is_file():
            lab.fail(f"notebook name {name!r}", f"{reply.status} {reply.text[:200]}")
    for name in ("a\x00b", "a\x01b", "line\nbreak", "\u202eevil\u202c.ipynb", "x" * 256, "\U0001f600" * 64):
        reply = await lab.send("POST", "projects", lab.pid, "notebooks", body={"name": name})
        lab.expect(f"notebook name {name[:12]!r}", reply, 400, "invalid_path", ["/name"])

    # NUL inside a cell source is text: kept, and the file is still a valid notebook.
    reply = await lab.send("POST", *lab.nbp("cells"), body={"cell_type": "markdown", "source": "a\x00b \u202e \U0001f600"})
    if reply.status != 201:
        lab.fail("NUL in a markdown cell", f"{reply.status} {reply.text[:200]}")
    else:
        cells = lab.notebook().cells
        if [c.source for c in cells if c.id == reply.json["cells"][0]["id"]] != ["a\x00b \u202e \U0001f600"]:
            lab.fail("NUL in a markdown cell", "not kept in the file")
        await lab.ok(await lab.send("DELETE", *lab.nbp("cells", reply.json["cells"][0]["id"])), 204)
    await lab.finish(project_may_change=True)


# -- path traversal ---------------------------------------------------------------------------------------------


async def test_path_traversal(lab_args):
    lab = await open_lab(*lab_args)
    pid, nb = lab.pid, lab.nb
    secret = lab.area / "secret.ipynb"  # next to the server root: what a way up would reach
    nbformat.write(nbformat.v4.new_notebook(), str(secret))
    (lab.root / "projects" / "outside.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()), encoding="utf-8")
    lab.before = lab.snapshot()

    # Project names are display text: any of these makes a project with a slug folder under projects/.
    for name in ("..", "../../etc", "/etc/passwd", "..\\..\\windows", "%2e%2e%2f", "C:\\x", "~root", "./.hidden"):
        reply = await lab.send("POST", "projects", body={"name": name})
        if reply.status != 201:
            lab.fail(f"project name {name!r}", f"{reply.status} {reply.text[:200]}")
            continue
        path = reply.json["path"]
        lab.allowed_dirs.append(path)
        if reply.json["name"] != name or not re.fullmatch(r"projects/[a-z0-9]+(-[a-z0-9]+)*", path):
            lab.fail(f"project name {name!r}", f"name {reply.json['name']!r}, folder {path!r}")

    # Notebook names in bodies.
    names = ["..", "../x", "../x.ipynb", "../../../secret", "a/../../x", "/etc/passwd", "/tmp/x.ipynb", "./x", "x/./y",
             "a//b", "x/", "sub/", ".hidden", "sub/.x", "..\\x", "a\\b", "a\x00b", "C:x", "c:/x"]
    for name in names:
        reply = await lab.send("POST", "projects", pid, "notebooks", body={"name": name})
        lab.expect(f"create notebook {name!r}", reply, 400, "invalid_path", ["/name"])
        reply = await lab.send("PATCH", "projects", pid, "notebooks", nb, body={"name": name})
        lab.expect(f"rename to {name!r}", reply, 400, "invalid_path", ["/name"])

    # Notebook paths in URLs, one encoded segment each (the api helper encodes every character).
    bad_paths = ["..", "../secret.ipynb", "../../../secret.ipynb", "/etc/passwd", "/" + str(secret), "a/../../x.ipynb",
                 "..\\secret.ipynb", "a\x00.ipynb", nb + "/", "./" + nb, "sub//x.ipynb", ".ipynb_checkpoints/x.ipynb"]
    for path in bad_paths:
        for method, rest, body in (("GET", (), None), ("PATCH", (), {"name": "moved"}), ("DELETE", (), None),
                                   ("GET", ("cells",), None), ("POST", ("cells",), {"cell_type": "code", "source": "x"}),
                                   ("GET", ("history",), None)):
            reply = await lab.send(method, "projects", pid, "notebooks", path, *rest, body=body)
            # Every route names the URL's notebook "/nb", the path parameter's name.
            lab.expect(f"{method} notebook {path!r} {'/'.join(rest)}", reply, 400, "invalid_path", ["/nb"])

    # Paths that are not notebooks: a data file, the manifest, a folder, a missing file.
    for path in ("data.csv", "notes.txt", "datadive-project.json", "sub", "missing.ipynb", "%2e%2e%2fsecret.ipynb"):
        for method, rest, body in (("GET", (), None), ("PATCH", (), {"name": "moved"}), ("DELETE", (), None),
                                   ("GET", ("cells",), None), ("POST", ("cells",), {"cell_type": "code", "source": "x"}),
                                   ("PUT", ("cells", "order"), {"order": []})):
            reply = await lab.send(method, "projects", pid, "notebooks", path, *rest, body=body)
            lab.expect(f"{method} non-notebook {path!r} {'/'.join(rest)}", reply, 404, "notebook_not_found", [])

    # Raw URLs, sent exactly as written.
    base = f"projects/{pid}/notebooks/"
    for raw, status, code in (
        ("%2e%2e", 400, "invalid_path"),
        ("%2e%2e%2fsecret.ipynb", 400, "invalid_path"),
        ("%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.ipynb", 400, "invalid_path"),
        ("..%2f..%2f..%2fsecret.ipynb", 400, "invalid_path"),
        ("%2fetc%2fpasswd", 400, "invalid_path"),
        ("..%5csecret.ipynb", 400, "invalid_path"),
        ("a%00.ipynb", 400, "invalid_path"),
        (nb + "%2F", 400, "invalid_path"),
        ("%252e%252e%252fsecret.ipynb", 404, "notebook_not_found"),  # decoded once: a name with percent signs
        ("%25252e%25252e", 404, "notebook_not_found"),
    ):
        for method, rest in (("GET", ""), ("DELETE", ""), ("GET", "/cells"), ("PATCH", "")):
            body = '{"name": "moved"}' if method == "PATCH" else None
            reply = await lab.raw(method, base + raw + rest, body=body)
            paths = [] if status == 404 else ["/nb"]
            lab.expect(f"raw {method} {raw}{rest}", reply, status, code, paths)
    # Not one segment: these never reach a Datadive handler; whoever answers, nothing happens.
    for raw in ("../secret.ipynb", "../../../../secret.ipynb", nb + "/", "sub/../" + nb):
        for method in ("GET", "DELETE", "PATCH"):
            reply = await lab.raw(method, base + raw, body='{"name": "moved"}' if method == "PATCH" else None)
            if not (reply.status == 302 and method == "GET" or 400 <= reply.status < 500):
                lab.fail(f"raw {method} {raw}", f"{reply.status} {reply.text[:120]}")

    # Template ids.
    for tid in ("..", "../echo", "../../etc/passwd", "/etc/passwd", "echo/..", "a\\b", "a\x00b", "%2e%2e", "echo\x00", " echo"):
        for method, rest, body, headers in (("GET", (), None, {}), ("GET", ("versions",), None, {}),
                                            ("POST", ("render",), {"inputs": {"label": "a"}}, {}),
                                            ("PUT", (), echo_doc(), {"If-Match": '"1"'}), ("DELETE", (), None, {})):
            reply = await lab.send(method, "templates", tid, *rest, body=body, headers=headers)
            lab.expect(f"{method} template {tid!r} {'/'.join(rest)}", reply, 404, "template_not_found", [])
        reply = await lab.send("POST", "templates", body=echo_doc(tid))
        lab.expect(f"create template {tid!r}", reply, 400, "invalid_template", ["/id"])
    for raw in ("%2e%2e", "..%2fecho", "%252e%252e", "%2fetc%2fpasswd"):
        lab.expect(f"raw GET template {raw}", await lab.raw("GET", "templates/" + raw), 404, "template_not_found", [])

    # Data files of the assistant.
    for path in ("../outside.csv", "../../secret.ipynb", "/etc/passwd", "/etc/hosts.csv", "sub/../data.csv", "..\\data.csv",
                 "data.csv\x00.txt", ".hidden.csv"):
        reply = await lab.send("POST", "assistant", "profile", body={"source": {"project": pid, "path": path}})
        lab.expect(f"profile file {path!r}", reply, 400, "invalid_path", ["/source/path"])
    for project in ("..", "../x", "/etc", "%2e%2e"):
        reply = await lab.send("POST", "assistant", "profile", body={"source": {"project": project, "path": "data.csv"}})
        lab.expect(f"profile project {project!r}", reply, 404, "project_not_found", [])

    if not secret.is_file() or not (lab.folder / nb).is_file():
        lab.fail("files", "a notebook went missing")
    await lab.finish()


# -- hostile templates and form values -----------------------------------------------------------------------

HOSTILE_SOURCES = [
    "x = {{ ''.__class__.__mro__ }}",
    "x = {{ ''.__class__.__mro__[1].__subclasses__() }}",
    "x = {{ cycler.__init__.__globals__ }}",
    "x = {{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "x = {{ lipsum.__globals__['os'].system('id') }}",
    "x = {{ joiner.__init__.__globals__ }}",
    "x = {{ namespace.__init__.__globals__ }}",
    "x = {{ config.items() }}",
    "x = {{ self._TemplateReference__context }}",
    "x = {{ request.application.__globals__ }}",
    "x = {{ label.__class__.__base__.__subclasses__() }}",
    "x = {{ label|attr('__class__') }}",
    "x = {{ '{0.__class__}'.format(label) }}",
    "x = {{ range(10**9)|list|length }}",
    "{% for i in range(10**9) %}{% endfor %}x = 1",
    "x = {{ 'a' * 10**9 }}",
    "x = {{ ((10**64)**64)**64 > 0 }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}x = 1",
    "{% extends '/etc/passwd' %}",
    "{% macro m() %}{{ m() }}{% endmacro %}x = {{ m() }}",
    "import os\nos.system({{ label }})\n{{ 1 // 0 }}",
]


def dangerous_calls(source: str) -> list[str]:
    """Calls and imports in code that a form value might have smuggled in."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append("import")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else type(f).__name__
            found.append(name)
    return found


HOSTILE_VALUES = [
    '"); import os; os.system("x")  #',
    "'); import os; os.system('x')  #",
    "'''; __import__('os').system('x'); '''",
    '"""; __import__("os").system("x"); """',
    "x\nimport os\nos.system('x')",
    "\r\nexec('x')",
    "{{ 7*7 }}",
    "{{ ''.__class__.__mro__ }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}",
    "{# comment #}",
    "\\",
    "\\'); os.system('x') #",
    "\u2028os.system('x')",
    "a\x00b",
    "\u202e)'x'(metsys.so",
]


async def test_hostile_templates_and_form_values(lab_args):
    lab = await open_lab(*lab_args)

    # Template sources trying to leave the sandbox: refused, and nothing is stored.
    for i, source in enumerate(HOSTILE_SOURCES):
        for cell_type in ("code", "markdown"):
            doc = echo_doc(f"evil-{i}-{cell_type}", cells=[{"cell_type": cell_type, "source": source}])
            reply = await lab.send("POST", "templates", body=doc)
            lab.expect(f"{cell_type} source {source[:40]!r}", reply, 400, "invalid_template", ["/cells/0/source"])
            doc["id"] = lab.tid
            reply = await lab.send("PUT", "templates", lab.tid, body=doc, headers={"If-Match": '"1"'})
            lab.expect(f"new version with {cell_type} source {source[:40]!r}", reply, 400, "invalid_template", ["/cells/0/source"])
    user_templates = [t["id"] for t in (await lab.ok(await lab.send("GET", "templates", params={"source": "user", "retired": "true"})))["items"]]
    if user_templates != ["echo"]:
        lab.fail("hostile templates", f"stored: {user_templates}")
    if [v["version"] for v in (await lab.ok(await lab.send("GET", "templates", lab.tid, "versions")))["items"]] != [1]:
        lab.fail("hostile templates", "a new version of echo was stored")

    # Hostile form values: rendered as inert literals, in a preview and in the notebook.
    inserted = []
    for value in HOSTILE_VALUES:
        inputs = {"label": value, "value": [value, {"k": value}]}
        preview = await lab.send("POST", "templates", lab.tid, "render", body={"inputs": inputs})
        insert = await lab.send("POST", *lab.nbp("cells"), body={"template": {"id": lab.tid}, "inputs": inputs})
        for where, reply, status in (("preview", preview, 200), ("insert", insert, 201)):
            if reply.status != status:
                lab.fail(f"{where} of {value[:30]!r}", f"{reply.status} {reply.text[:200]}")
                continue
            code = reply.json["cells"][1]["source"]
            tree = ast.parse(code)
            calls = dangerous_calls(code)
            if calls:
                lab.fail(f"{where} of {value[:30]!r}", f"the code calls {calls}: {code[:200]!r}")
                continue
            constants = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if constants.count(value) != 3:  # the label, and twice inside the value
                lab.fail(f"{where} of {value[:30]!r}", f"not a literal of the value: {code[:200]!r}")
            namespace: dict = {}
            exec(compile(tree, "<generated>", "exec"), {"__builtins__": {}}, namespace)  # literals only: nothing to call
            if namespace != {"result": value, "other": [value, {"k": value}]}:
                lab.fail(f"{where} of {value[:30]!r}", f"evaluates to {namespace!r:.200}")
        if insert.status == 201:
            inserted += [c["id"] for c in insert.json["cells"]]

    # In the file: the same inert cells, and their recorded inputs are the values exactly.
    cells = {c.id: c for c in lab.notebook().cells}
    for cell_id in inserted:
        cell = cells.get(cell_id)
        if cell is None:
            lab.fail("notebook", f"cell {cell_id} missing")
            continue
        if cell.cell_type == "code":
            calls = dangerous_calls(cell.source)
            if calls:
                lab.fail("notebook", f"cell {cell_id} calls {calls}")
        if cell.metadata["datadive"]["inputs"]["label"] not in HOSTILE_VALUES:
            lab.fail("notebook", f"cell {cell_id} records {cell.metadata['datadive']['inputs']!r:.120}")

    # A value for a name goes through `ident`: anything but a plain identifier is refused.
    for value in HOSTILE_VALUES + ["os.system", "__import__", "x y", "1x", "", "a" * 65]:
        inputs = {"label": "a", "var": value}
        for where, reply in (("preview", await lab.send("POST", "templates", lab.tid, "render", body={"inputs": inputs})),
                             ("insert", await lab.send("POST", *lab.nbp("cells"), body={"template": {"id": lab.tid}, "inputs": inputs}))):
            # The template's `ident` filter refuses it when the cell renders: the template's cell is blamed.
            lab.expect(f"{where} with name {value[:30]!r}", reply, 400, "invalid_template", ["/cells/1/source"])
    await lab.finish(project_may_change=True)  # the inserts above
