"""Every operation of the API x every kind of caller: the documented status, nothing leaked, nothing changed.

The operations come from the OpenAPI description (the file in ``schemas/`` and the
served ``openapi.json``); an operation without an entry in ``OPERATIONS`` fails the
test, so a new route cannot be forgotten here.

Callers:

- ``no token`` (no Authorization header) and ``wrong token`` (a token that names no
  user): jupyter_server refuses them before the handler runs: 403 ``forbidden``
  (the answer of ``APIHandler`` for unauthenticated requests; writes without a
  token fail its XSRF check, also 403). Their answers name nothing of the project.
- ``stranger`` (dave, logged in, not a member): 404 ``project_not_found`` for
  everything about the project, with the very body a project id that does not
  exist gets; the project is not in his list.
- ``viewer`` (carol), ``editor`` (bob), ``owner`` (alice): the role rules of
  docs/server.md (viewers read; editors also write notebooks and cells; owners
  also change the project and its members); too low a role is 403
  ``role_required``. Template routes: anybody logged in lists, reads and previews;
  only the author (alice) or an admin changes or retires a user template (403
  ``not_author`` otherwise). Assistant: inline tables for anybody logged in; a
  project file needs membership (a stranger gets 404).

After every refused call the whole state is compared with the state before it:
every file under the server root (notebooks read with nbformat), and every row of
the store (projects, members, templates, their versions, the cell journal).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import nbformat
import pytest
from datadive_testing import multi_user_config

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "openapi.json"
VERBS = ("get", "put", "post", "delete", "patch")
IDENTITIES = ("no token", "wrong token", "stranger", "viewer", "editor", "owner")
USER = {"stranger": "dave", "viewer": "carol", "editor": "bob", "owner": "alice"}
# Headers of the unauthenticated callers: none at all, or tokens that name no user.
UNAUTHENTICATED = {
    "no token": [{}],
    "wrong token": [{"Authorization": "token nonsense"}, {"Authorization": "token token-mallory"}],
}
RANK = {"viewer": 0, "editor": 1, "owner": 2}
NO_PROJECT = "000000000000"  # a well-formed project id that no project has
PROJECT_NAME = "Secret plans"
TEMPLATE_ID = "alices-counting"


def user_doc(tid: str, title: str | None = None) -> dict:
    """A valid user template: a markdown and a code cell, a required ``column``."""
    return {
        "id": tid,
        "title": title or f"Template {tid}",
        "description": "Counts the rows of one column.",
        "category": "custom",
        "tags": ["mine"],
        "inputs": {
            "type": "object",
            "required": ["column"],
            "properties": {
                "df": {"type": "string", "default": "df", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "column": {"type": "string", "minLength": 1},
            },
        },
        "cells": [
            {"cell_type": "markdown", "source": "## Counting {{ column }}"},
            {"cell_type": "code", "source": "{{ df|ident }}[{{ column }}].value_counts()"},
        ],
        "examples": [{"title": "Group", "inputs": {"column": "group"}}],
    }


TABLE = {"columns": ["g", "y"], "rows": [["a", 1.0], ["a", 2.0], ["a", 1.5], ["b", 3.0], ["b", 3.5], ["b", 4.0]] * 3}
DESIGN = {"outcome": "y", "between": "g"}


# -- the world the calls act on -----------------------------------------------------------------


@dataclass
class Call:
    """One concrete request: the values of the path parameters, a body, extra headers."""

    params: dict
    body: object = None
    headers: dict = field(default_factory=dict)


class World:
    """The objects every route is called on, and the means to call and inspect the server."""

    def __init__(self, api, client, base_url, root: Path, app):
        self.api, self.client, self.base_url, self.root, self.app = api, client, base_url, root, app
        self.counter = 0
        self._parsed: dict[str, list] = {}  # sha256 of a notebook file -> its cells as nbformat reads them

    # requests
    async def as_user(self, user, method, *segments, **kw):
        return await self.api(method, *segments, user=user, **kw)

    async def ok(self, reply, status=200):
        assert reply.status == status, (reply.status, reply.text)
        return reply.json

    async def alice(self, method, *segments, status=200, **kw):
        return await self.ok(await self.as_user("alice", method, *segments, **kw), status)

    async def unauthenticated(self, headers, method, segments, body=None):
        """A request with exactly these headers (no token at all when empty)."""
        path = "/".join(urllib.parse.quote(str(s), safe="") for s in segments)
        data = json.dumps(body) if body is not None else ("" if method in ("POST", "PUT", "PATCH") else None)
        resp = await self.client.fetch(
            f"{self.base_url}api/datadive/{path}", method=method, body=data, headers=dict(headers),
            raise_error=False, allow_nonstandard_methods=True, follow_redirects=False, request_timeout=60,
        )
        text = resp.body.decode("utf-8", "replace") if resp.body else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Reply(resp.code, parsed, resp.headers, text)

    def unique(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}-{self.counter}"

    # setup
    async def setup(self):
        project = await self.alice("POST", "projects", body={"name": PROJECT_NAME, "description": "top"}, status=201)
        self.project = project
        self.pid = project["id"]
        self.folder = self.root / project["path"]
        await self.alice("PUT", "projects", self.pid, "members", "bob", body={"role": "editor"})
        await self.alice("PUT", "projects", self.pid, "members", "carol", body={"role": "viewer"})
        self.nb = "analysis.ipynb"
        await self.alice("POST", "projects", self.pid, "notebooks", body={"name": self.nb}, status=201)
        generated = await self.alice("POST", *self.cells_path(), body={"template": {"id": "value-counts"}, "inputs": {"column": "group"}}, status=201)
        self.cell_id = generated["cells"][0]["id"]
        await self.alice("POST", *self.cells_path(), body={"cell_type": "code", "source": "x = 1"}, status=201)
        history = await self.alice("GET", "projects", self.pid, "notebooks", self.nb, "history")
        self.op_id = history["items"][0]["id"]
        (self.folder / "data.csv").write_text("g,y\n" + "".join(f"{'ab'[i % 2]},{i * 0.7 % 5:.2f}\n" for i in range(40)), encoding="utf-8")
        await self.alice("POST", "templates", body=user_doc(TEMPLATE_ID), status=201)
        # Runs: a notebook without code cells (a run of it ends at once) and one that
        # sleeps (a run of it stays running until cancelled).
        self.quick_nb, self.sleepy_nb = "run-quick.ipynb", "run-sleepy.ipynb"
        for name in (self.quick_nb, self.sleepy_nb):
            await self.alice("POST", "projects", self.pid, "notebooks", body={"name": name}, status=201)
        await self.alice("POST", *self.cells_path(self.sleepy_nb), body={"cell_type": "code", "source": "import time\ntime.sleep(120)"}, status=201)
        run = await self.alice("POST", "projects", self.pid, "runs", body={"notebook": self.quick_nb}, status=202)
        self.run_id = run["id"]
        await self.runs_settled()
        # What nobody outside the project may learn (the project's id and owner are
        # checked separately: the id travels in the URL).
        self.secrets = [PROJECT_NAME, project["path"], "datadive-project.json", self.cell_id, self.op_id]

    async def runs_settled(self):
        """No run queued or running (those left are cancelled), and every run's copy written."""
        deadline = time.monotonic() + 120
        while True:
            items = (await self.alice("GET", "projects", self.pid, "runs", params={"limit": 500}))["items"]
            open_runs = [r for r in items if r["status"] in ("queued", "running")]
            if not open_runs:
                return
            for r in open_runs:
                if r["notebook"] == self.sleepy_nb and r["status"] == "running":
                    reply = await self.as_user("alice", "DELETE", "projects", self.pid, "runs", r["id"])
                    assert reply.status in (200, 409), reply.text
            assert time.monotonic() < deadline, f"runs still open: {open_runs}"
            await asyncio.sleep(0.1)

    async def sleeping_run(self) -> str:
        """A run of the sleeping notebook, running, its first copy written (nothing changes until it is cancelled)."""
        rid = (await self.alice("POST", "projects", self.pid, "runs", body={"notebook": self.sleepy_nb}, status=202))["id"]
        deadline = time.monotonic() + 120
        while True:
            run = await self.alice("GET", "projects", self.pid, "runs", rid)
            if run["status"] == "running" and run["progress"]["done"] == 0 and run.get("output") and (self.folder / run["output"]).is_file():
                await asyncio.sleep(0.3)  # the executing cell has started; its copy is not written again before it ends
                return rid
            assert run["status"] in ("queued", "running") and time.monotonic() < deadline, run
            await asyncio.sleep(0.1)

    def cells_path(self, nb=None):
        return ("projects", self.pid, "notebooks", nb or self.nb, "cells")

    async def disposable_project(self) -> str:
        """A project like the main one (same members), to be deleted."""
        p = await self.alice("POST", "projects", body={"name": f"{PROJECT_NAME} (spare)"}, status=201)
        await self.alice("PUT", "projects", p["id"], "members", "bob", body={"role": "editor"})
        await self.alice("PUT", "projects", p["id"], "members", "carol", body={"role": "viewer"})
        return p["id"]

    async def disposable_notebook(self, stem: str) -> str:
        name = self.unique(stem) + ".ipynb"
        await self.alice("POST", "projects", self.pid, "notebooks", body={"name": name}, status=201)
        return name

    async def disposable_cell(self) -> str:
        return (await self.alice("POST", *self.cells_path(), body={"cell_type": "code", "source": f"y = {self.counter}"}, status=201))["cells"][0]["id"]

    async def fresh_operation(self) -> str:
        await self.disposable_cell()
        return (await self.alice("GET", "projects", self.pid, "notebooks", self.nb, "history"))["items"][0]["id"]

    async def member(self, user: str, present: bool):
        if present:
            await self.alice("PUT", "projects", self.pid, "members", user, body={"role": "viewer"})
        else:
            reply = await self.as_user("alice", "DELETE", "projects", self.pid, "members", user)
            assert reply.status in (204, 404), reply.text

    # state
    def state(self) -> dict:
        """Every file under the root (notebooks as nbformat reads them) and every row of the store."""
        files, notebooks = {}, {}
        for dirpath, dirs, names in os.walk(self.root):
            for name in dirs:
                files[os.path.relpath(os.path.join(dirpath, name), self.root) + "/"] = "dir"
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root)
                with open(full, "rb") as f:
                    raw = f.read()
                digest = files[rel] = hashlib.sha256(raw).hexdigest()
                if name.endswith(".ipynb") and ".ipynb_checkpoints" not in rel:
                    if digest not in self._parsed:
                        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
                        self._parsed[digest] = [(c.get("id"), c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]
                    notebooks[rel] = self._parsed[digest]
        store = self.app.store
        rows = {
            table: [json.dumps(r, sort_keys=True, default=str) for r in store.query(f"SELECT * FROM {table}")]
            for table in ("projects", "members", "templates", "template_versions", "operations", "runs")
        }
        return {"files": files, "notebooks": notebooks, "rows": {t: sorted(v) for t, v in rows.items()}}


@dataclass
class Reply:
    status: int
    json: object
    headers: object
    text: str


def state_diff(before: dict, after: dict) -> list[str]:
    out = []
    for key in sorted(set(before["files"]) | set(after["files"])):
        a, b = before["files"].get(key), after["files"].get(key)
        if a != b:
            out.append(f"file {key}: {'added' if a is None else 'removed' if b is None else 'changed'}")
    for key in sorted(set(before["notebooks"]) | set(after["notebooks"])):
        if before["notebooks"].get(key) != after["notebooks"].get(key):
            out.append(f"notebook {key}: cells changed")
    for table in before["rows"]:
        if before["rows"][table] != after["rows"][table]:
            out.append(f"store table {table} changed")
    return out


# -- the expectation table ----------------------------------------------------------------------


@dataclass
class Op:
    """One operation of the OpenAPI description, called one way.

    ``needs``: ``any`` (any logged-in user), ``viewer`` / ``editor`` / ``owner`` (a
    project role), ``author`` (the template's author, alice). ``project`` marks calls
    about the project (path or body), for which strangers get 404. ``writes``: a
    successful call changes the state (checked); other successful calls must not.
    """

    method: str
    path: str
    needs: str
    success: int
    prepare: Callable[[World, str], Awaitable[Call]]
    label: str = ""
    writes: bool = False
    project: bool = True


def call(**params):
    async def prepare(w: World, who: str) -> Call:
        return Call({k: (getattr(w, v[1:]) if isinstance(v, str) and v.startswith("@") else v) for k, v in params.items()})
    return prepare


def with_body(body_fn, **params):
    base = call(**params)

    async def prepare(w: World, who: str) -> Call:
        c = await base(w, who)
        c.body = body_fn(w, who) if callable(body_fn) else copy.deepcopy(body_fn)
        return c
    return prepare


def slug(who: str) -> str:
    return who.replace(" ", "-")


async def prep_delete_project(w, who):
    return Call({"pid": await w.disposable_project()})


async def prep_set_member(w, who):
    await w.member("erin", present=False)
    return Call({"pid": w.pid, "user": "erin"}, {"role": "viewer"})


async def prep_remove_member(w, who):
    await w.member("erin", present=True)
    return Call({"pid": w.pid, "user": "erin"})


async def prep_rename_notebook(w, who):
    return Call({"pid": w.pid, "nb": await w.disposable_notebook("to-rename")}, {"name": w.unique(f"renamed-by-{slug(who)}")})


async def prep_delete_notebook(w, who):
    return Call({"pid": w.pid, "nb": await w.disposable_notebook("to-delete")})


async def prep_reorder(w, who):
    with open(w.folder / w.nb, encoding="utf-8") as f:
        ids = [c.id for c in nbformat.read(f, as_version=4).cells]
    assert len(ids) >= 2
    return Call({"pid": w.pid, "nb": w.nb}, {"order": list(reversed(ids))})


async def prep_delete_cell(w, who):
    return Call({"pid": w.pid, "nb": w.nb, "cell_id": await w.disposable_cell()})


async def prep_move_cell(w, who):
    return Call({"pid": w.pid, "nb": w.nb, "cell_id": await w.disposable_cell()}, {"index": 0})


async def prep_undo(w, who):
    return Call({"pid": w.pid, "nb": w.nb, "op_id": await w.fresh_operation()}, {})


async def prep_update_template(w, who):
    version = (await w.alice("GET", "templates", TEMPLATE_ID))["version"]
    return Call({"tid": TEMPLATE_ID}, user_doc(TEMPLATE_ID, title=f"Changed by {who}"), {"If-Match": f'"{version}"'})


async def prep_retire_template(w, who):
    tid = w.unique("to-retire")
    await w.alice("POST", "templates", body=user_doc(tid), status=201)
    return Call({"tid": tid})


async def prep_cancel_run(w, who):
    return Call({"pid": w.pid, "rid": await w.sleeping_run()})


P, NB, CELL = {"pid": "@pid"}, {"pid": "@pid", "nb": "@nb"}, {"pid": "@pid", "nb": "@nb", "cell_id": "@cell_id"}

OPERATIONS: list[Op] = [
    # projects
    Op("GET", "/projects", "any", 200, call(), project=False),
    Op("POST", "/projects", "any", 201, with_body(lambda w, who: {"name": f"Made by {who}"}), writes=True, project=False),
    Op("GET", "/projects/{pid}", "viewer", 200, call(**P)),
    Op("PATCH", "/projects/{pid}", "owner", 200, with_body(lambda w, who: {"description": f"changed by {who}"}, **P), writes=True),
    Op("DELETE", "/projects/{pid}", "owner", 204, prep_delete_project, writes=True),
    Op("GET", "/projects/{pid}/members", "viewer", 200, call(**P)),
    Op("PUT", "/projects/{pid}/members/{user}", "owner", 200, prep_set_member, writes=True),
    Op("DELETE", "/projects/{pid}/members/{user}", "owner", 204, prep_remove_member, writes=True),
    # notebooks
    Op("GET", "/projects/{pid}/notebooks", "viewer", 200, call(**P)),
    Op("POST", "/projects/{pid}/notebooks", "editor", 201, with_body(lambda w, who: {"name": w.unique(f"new-by-{slug(who)}")}, **P), writes=True),
    Op("GET", "/projects/{pid}/notebooks/{nb}", "viewer", 200, call(**NB)),
    Op("PATCH", "/projects/{pid}/notebooks/{nb}", "editor", 200, prep_rename_notebook, writes=True),
    Op("DELETE", "/projects/{pid}/notebooks/{nb}", "editor", 204, prep_delete_notebook, writes=True),
    # cells
    Op("GET", "/projects/{pid}/notebooks/{nb}/cells", "viewer", 200, call(**NB)),
    Op("POST", "/projects/{pid}/notebooks/{nb}/cells", "editor", 201,
       with_body(lambda w, who: {"cell_type": "code", "source": f"by = {who!r}"}, **NB), "raw cell", writes=True),
    Op("POST", "/projects/{pid}/notebooks/{nb}/cells", "editor", 201,
       with_body(lambda w, who: {"template": {"id": TEMPLATE_ID}, "inputs": {"column": who}, "index": 0}, **NB), "template cell", writes=True),
    Op("PUT", "/projects/{pid}/notebooks/{nb}/cells/order", "editor", 200, prep_reorder, writes=True),
    Op("GET", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}", "viewer", 200, call(**CELL)),
    Op("PATCH", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}", "editor", 200,
       with_body(lambda w, who: {"inputs": {"column": w.unique(slug(who))}}, **CELL), "re-generate", writes=True),
    Op("DELETE", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}", "editor", 204, prep_delete_cell, writes=True),
    Op("POST", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}/move", "editor", 200, prep_move_cell, writes=True),
    Op("GET", "/projects/{pid}/notebooks/{nb}/history", "viewer", 200, call(**NB)),
    Op("POST", "/projects/{pid}/notebooks/{nb}/history/{op_id}/undo", "editor", 200, prep_undo, writes=True),
    # runs
    Op("GET", "/projects/{pid}/runs", "viewer", 200, call(**P)),
    Op("POST", "/projects/{pid}/runs", "editor", 202, with_body(lambda w, who: {"notebook": w.quick_nb}, **P), writes=True),
    Op("GET", "/projects/{pid}/runs/{rid}", "viewer", 200, call(pid="@pid", rid="@run_id")),
    Op("DELETE", "/projects/{pid}/runs/{rid}", "editor", 200, prep_cancel_run, writes=True),
    # templates
    Op("GET", "/templates", "any", 200, call(), project=False),
    Op("POST", "/templates", "any", 201, with_body(lambda w, who: user_doc(w.unique(f"made-by-{slug(who)}"))), writes=True, project=False),
    Op("GET", "/templates/{tid}", "any", 200, call(tid=TEMPLATE_ID), project=False),
    Op("PUT", "/templates/{tid}", "author", 200, prep_update_template, writes=True, project=False),
    Op("DELETE", "/templates/{tid}", "author", 204, prep_retire_template, writes=True, project=False),
    Op("GET", "/templates/{tid}/versions", "any", 200, call(tid=TEMPLATE_ID), project=False),
    Op("POST", "/templates/{tid}/render", "any", 200, with_body({"inputs": {"column": "c"}}, tid=TEMPLATE_ID), project=False),
    Op("GET", "/openapi.json", "any", 200, call(), project=False),
    # assistant
    Op("POST", "/assistant/profile", "any", 200, with_body({"source": {"table": TABLE}}), "inline table", project=False),
    Op("POST", "/assistant/profile", "viewer", 200, with_body(lambda w, who: {"source": {"project": w.pid, "path": "data.csv"}}), "project file"),
    Op("POST", "/assistant/suggest", "any", 200, with_body({"source": {"table": TABLE}, "design": DESIGN}), "inline table", project=False),
    Op("POST", "/assistant/suggest", "viewer", 200,
       with_body(lambda w, who: {"source": {"project": w.pid, "path": "data.csv"}, "design": DESIGN}), "project file"),
]


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {(verb.upper(), path) for path, item in doc["paths"].items() for verb in VERBS if verb in item}


def expected(op: Op, who: str) -> tuple[int, str | None]:
    """(status, error code or None) the documentation promises."""
    if who in UNAUTHENTICATED:
        return 403, "forbidden"
    if op.needs == "any":
        return op.success, None
    if op.needs == "author":
        return (op.success, None) if who == "owner" else (403, "not_author")
    if who == "stranger":
        return 404, "project_not_found"
    return (op.success, None) if RANK[who] >= RANK[op.needs] else (403, "role_required")


def segments_of(path: str, params: dict) -> list[str]:
    out = []
    for part in path.strip("/").split("/"):
        m = re.fullmatch(r"\{(\w+)\}", part)
        out.append(params[m.group(1)] if m else part)
    return out


def swap_project(value, pid: str, other: str):
    """``value`` with every occurrence of the project id replaced (path parameters and bodies)."""
    if isinstance(value, str):
        return value.replace(pid, other)
    if isinstance(value, list):
        return [swap_project(v, pid, other) for v in value]
    if isinstance(value, dict):
        return {k: swap_project(v, pid, other) for k, v in value.items()}
    return value


def error_shape_problems(reply) -> list[str]:
    body = reply.json
    if not isinstance(body, dict) or not {"message", "reason", "code", "errors"} <= set(body):
        return [f"not the error shape: {reply.text[:200]}"]
    if not body["message"] or not isinstance(body["errors"], list):
        return [f"empty message or errors not a list: {reply.text[:200]}"]
    if not str(reply.headers.get("Content-Type", "")).startswith("application/json"):
        return [f"Content-Type {reply.headers.get('Content-Type')}"]
    if body["errors"] != []:  # who may do what is about no field of the request
        return [f"error paths {[e.get('path') for e in body['errors']]}, expected none: {reply.text[:200]}"]
    return []


# -- the tests ------------------------------------------------------------------------------------


def test_every_documented_operation_has_an_entry():
    """The table and the OpenAPI file list the same operations (no server needed)."""
    doc = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    documented = documented_operations(doc)
    covered = {(op.method, op.path) for op in OPERATIONS}
    assert len(documented) >= 30
    assert sorted(documented - covered) == [], "operations without an entry in OPERATIONS"
    assert sorted(covered - documented) == [], "entries for operations that are not documented"


class TestAuthMatrix:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return multi_user_config(jp_data_dir)

    async def test_every_operation_for_every_identity(self, api, http_server_client, jp_base_url, jp_root_dir, jp_serverapp):
        app = next(iter(jp_serverapp.extension_manager.extension_apps["datadive_ext"]))
        w = World(api, http_server_client, jp_base_url, jp_root_dir, app)

        # The operations as the server describes itself, and as the file does: the same set, all covered.
        served = await w.alice("GET", "openapi.json")
        documented = documented_operations(served)
        assert documented == documented_operations(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
        missing = sorted(documented - {(op.method, op.path) for op in OPERATIONS})
        assert not missing, f"operations with no entry in the expectation table: {missing}"

        await w.setup()
        problems: list[str] = []
        calls = 0

        for op in OPERATIONS:
            name = f"{op.method} {op.path}" + (f" [{op.label}]" if op.label else "")
            for who in IDENTITIES:
                status, code = expected(op, who)
                await w.runs_settled()  # a run started by an earlier call changes nothing from here on
                c = await op.prepare(w, who)
                segments = segments_of(op.path, c.params)
                before = w.state()
                if who in UNAUTHENTICATED:
                    replies = [await w.unauthenticated({**c.headers, **h}, op.method, segments, c.body) for h in UNAUTHENTICATED[who]]
                else:
                    replies = [await w.as_user(USER[who], op.method, *segments, body=c.body, headers=c.headers)]
                if (op.method, op.path) == ("POST", "/projects/{pid}/runs"):
                    await w.runs_settled()  # the run started goes on in the background: its end is part of the call
                after = w.state()
                calls += len(replies)
                for reply in replies:
                    where = f"{name} as {who}"
                    if reply.status != status or (code is not None and (reply.json or {}).get("code") != code):
                        problems.append(f"{where}: expected {status} {code or ''}, got {reply.status} {reply.text[:200]}")
                        continue
                    if code is not None:
                        problems += [f"{where}: {p}" for p in error_shape_problems(reply)]

                    # Nothing of the project reaches those who may not see it.
                    if who in UNAUTHENTICATED:
                        leaked = [s for s in [*w.secrets, w.pid, TEMPLATE_ID, "alice"] if s in reply.text]
                        if leaked:
                            problems.append(f"{where}: the answer names {leaked}")
                    if who == "stranger" and op.project:
                        leaked = [s for s in [*w.secrets, "alice", "bob", "carol"] if s in reply.text]
                        if leaked:
                            problems.append(f"{where}: the answer names {leaked}")

                # Refused calls and reads change nothing; allowed writes change something.
                changes = state_diff(before, after)
                refused = status >= 400
                if (refused or not op.writes) and changes:
                    problems.append(f"{name} as {who} ({'refused' if refused else 'a read'}) changed the state: {changes}")
                if not refused and op.writes and not changes:
                    problems.append(f"{name} as {who}: answered {status} but changed nothing")

                # A stranger cannot tell the project from one that does not exist.
                if who == "stranger" and op.project:
                    ghost = await w.as_user(
                        USER[who], op.method, *segments_of(op.path, swap_project(c.params, w.pid, NO_PROJECT)),
                        body=swap_project(c.body, w.pid, NO_PROJECT), headers=c.headers,
                    )
                    real = replies[0]
                    same = (
                        real.status == ghost.status
                        and swap_project(real.json, w.pid, "<pid>") == swap_project(ghost.json, NO_PROJECT, "<pid>")
                        and real.headers.get("Content-Type") == ghost.headers.get("Content-Type")
                    )
                    if not same:
                        problems.append(f"{name} as stranger: {real.status} {real.text[:160]} differs from a missing project's "
                                        f"{ghost.status} {ghost.text[:160]}")

        # Lists: the stranger sees no trace of the project; members see it with their role.
        for who in ("stranger", "viewer", "editor", "owner"):
            for params in (None, {"q": "secret"}, {"q": PROJECT_NAME}):
                reply = await w.as_user(USER[who], "GET", "projects", params=params)
                items = (reply.json or {}).get("items", [])
                mine = [p for p in items if p.get("id") == w.pid]
                if who == "stranger":
                    if mine or PROJECT_NAME in reply.text or w.pid in reply.text:
                        problems.append(f"GET /projects {params} as stranger lists the project: {reply.text[:200]}")
                elif [p.get("role") for p in mine] != [who]:
                    problems.append(f"GET /projects {params} as {who}: {[(p.get('id'), p.get('role')) for p in mine]}")

        # The project and its members are as they were set up (every write on them was refused
        # or undone by the table's own preparations: erin ends absent or present, nobody else).
        project = await w.alice("GET", "projects", w.pid)
        if (project["name"], project["owner"]) != (PROJECT_NAME, "alice"):
            problems.append(f"the project changed: {project}")
        members = {m["user"]: m["role"] for m in (await w.alice("GET", "projects", w.pid, "members"))["items"]}
        members.pop("erin", None)
        if members != {"alice": "owner", "bob": "editor", "carol": "viewer"}:
            problems.append(f"the members changed: {members}")

        assert calls >= len(OPERATIONS) * (len(IDENTITIES) + 1)
        assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems)
