"""Property-based fuzzing of the REST API against its served OpenAPI description (schemathesis).

A real Jupyter server with the extension runs as a subprocess (schemathesis calls
are synchronous, so pytest-jupyter's in-process server could not answer them). The
description is loaded from ``GET /api/datadive/openapi.json`` with the server's
token, so what is fuzzed is what clients read. For every operation, schemathesis
generates requests from the description (two thirds valid, one third invalid) and
every response must:

- not be a server error (``not_a_server_error``),
- have a status code the operation documents (``status_code_conformance``),
- have the documented content type (``content_type_conformance``),
- have a body valid against the documented schema (``response_schema_conformance``),
- carry the documented required headers (``response_headers_conformance``).

Random ids would only reach the 404 branches, so a fixture world is made first (a
project with a member, a notebook with template and plain cells and a journal, a
data file, a user template) and schemathesis hooks steer a good share of the
generated path parameters, ``If-Match`` headers and request bodies at it. The
hooks write markers (``steer~...``) at generation time; the markers are resolved
to live ids just before each request, so cells deleted, moved or undone by
earlier cases never leave stale ids behind. Destructive operations (delete a
project, change its members, rename or delete a notebook, delete a cell, retire
a template) are steered at objects made for that one case, so the fixture world
survives whatever order the operations run in.

Bounded and deterministic: ``MAX_EXAMPLES`` per operation, derandomized
generation, only Hypothesis' generate phase (no shrinking), no deadline. A
failure message holds the request (as a curl command) and the response, plus the
server's log lines written while the request ran (the traceback of a 500).
"""

from __future__ import annotations

import copy
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from datadive_ext.openapi import spec

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
VERBS = ("get", "put", "post", "delete", "patch")

STEER = "steer~"  # prefix of the markers the hooks write; "~" survives URL quoting unchanged
EXAMPLE_INPUTS = STEER + "example-inputs"
DOCUMENT = STEER + "document"
USER_TID = "fuzz-template"
BUILTIN_TIDS = ("value-counts", "load-csv")
TIDS = (USER_TID, *BUILTIN_TIDS)
MEMBER = "alice"
NOTEBOOK = "fuzz/analysis.ipynb"
DATA_FILE = "scores.csv"
DATA = "group,score,passed\n" + "".join(
    f"{'abc'[i % 3]},{10 + (i * 7) % 23},{'yes' if i % 4 else 'no'}\n" for i in range(60)
)

# Destructive operations: their live target is made for the one case that uses it.
FRESH_PROJECT = {("DELETE", "/projects/{pid}"), ("PUT", "/projects/{pid}/members/{user}"),
                 ("DELETE", "/projects/{pid}/members/{user}")}
FRESH_NOTEBOOK = {("PATCH", "/projects/{pid}/notebooks/{nb}"), ("DELETE", "/projects/{pid}/notebooks/{nb}")}
FRESH_CELL = {("DELETE", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}")}
FRESH_TEMPLATE = {("DELETE", "/templates/{tid}")}
CELL_OPS_ON_GENERATED = {("PATCH", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}")}


# ---- the server --------------------------------------------------------------------------


class FuzzServer:
    """A Jupyter server with the extension on a free loopback port, with a token; its log kept in a file."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="datadive-fuzz-")
        tmp = Path(self.tmp.name)
        (tmp / "root").mkdir()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        self.log_path = tmp / "server.log"
        self.args = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={tmp / 'root'}",
            f"--DatadiveApp.db_path={tmp / 'datadive.sqlite'}", "--ContentsManager.delete_to_trash=False",
            "--ServerApp.jpserver_extensions={'datadive_ext': True}",
        ]
        if os.geteuid() == 0:
            self.args.append("--allow-root")
        self.env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_DATA_DIR": str(tmp / "data"),
                    "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
        self.proc = None
        self._log = None

    def start(self, timeout: float = 120.0) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(self.base + "api/status", headers={"Authorization": f"token {self.token}"}, timeout=5)
                return
            except requests.ConnectionError:
                if self.proc.poll() is not None:
                    raise RuntimeError("the server exited:\n" + self.log_since(0)) from None
                time.sleep(0.05)
        raise RuntimeError("the server did not start:\n" + self.log_since(0))

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int, lines: int = 80) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        if self._log is not None:
            self._log.close()
        self.tmp.cleanup()


def describe(response: requests.Response) -> str:
    """The request and the response, for a failure message."""
    request = response.request
    body = request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else request.body
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "cookie")}
    return (
        f"request: {request.method} {request.url}\n"
        f"request headers: {headers}\n"
        f"request body: {body}\n"
        f"response: {response.status_code} {response.reason}\n"
        f"response headers: {dict(response.headers)}\n"
        f"response body: {response.text[:3000]}"
    )


# ---- the fixture world; markers -> live values ---------------------------------------------


class World:
    """The objects made before fuzzing, and what turns ``steer~`` markers into live values."""

    def __init__(self, server: FuzzServer):
        self.server = server
        self.api = server.base + "api/datadive"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {server.token}"
        self.counter = 0

    def call(self, method: str, *segments: str, body=None, params=None, expect=(200,)) -> requests.Response:
        url = "/".join([self.api, *(quote(s, safe="") for s in segments)])
        offset = self.server.log_size()
        response = self.session.request(method, url, json=body, params=params, timeout=60)
        assert response.status_code in expect, (
            f"preparing a fuzz case failed\n{describe(response)}\nserver log:\n{self.server.log_since(offset)}")
        return response

    def next_name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    # -- the fixture objects --------------------------------------------------------------

    def build(self) -> None:
        project = self.call("POST", "projects", body={"name": "Fuzz fixture", "description": "fuzzed"}, expect=(201,)).json()
        self.pid, self.owner = project["id"], project["owner"]
        self.call("PUT", "projects", self.pid, "members", MEMBER, body={"role": "editor"})
        self.call("POST", "projects", self.pid, "notebooks", body={"name": NOTEBOOK}, expect=(201,))
        data = self.session.put(f"{self.server.base}api/contents/{quote(project['path'])}/{DATA_FILE}",
                                json={"type": "file", "format": "text", "content": DATA}, timeout=60)
        assert data.status_code == 201, f"{describe(data)}\nserver log:\n{self.server.log_since(0)}"

        self.examples = {tid: self.call("GET", "templates", tid).json()["document"]["examples"][0]["inputs"]
                         for tid in BUILTIN_TIDS}
        base = self.call("GET", "templates", "value-counts").json()["document"]
        self.template_doc = {k: v for k, v in base.items() if k != "version"}
        self.template_doc.update(id=USER_TID, title="Fuzz template")
        self.call("POST", "templates", body=self.template_doc, expect=(201,))
        self.examples[USER_TID] = self.template_doc["examples"][0]["inputs"]

        for body in (
            {"template": {"id": "value-counts"}, "inputs": self.examples["value-counts"]},
            {"template": {"id": USER_TID}, "inputs": self.examples[USER_TID]},
            {"cell_type": "markdown", "source": "# Notes"},
            {"cell_type": "code", "source": "x = 1"},
            {"template": {"id": "load-csv"}, "inputs": self.examples["load-csv"], "index": 0},
        ):
            self.insert(body)
        edited = self.cells()[1]["id"]  # a generated cell edited by hand
        self.call("PATCH", "projects", self.pid, "notebooks", NOTEBOOK, "cells", edited, body={"source": "# edited"})

    def insert(self, body: dict) -> str:
        made = self.call("POST", "projects", self.pid, "notebooks", NOTEBOOK, "cells", body=body, expect=(201,))
        return made.json()["cells"][0]["id"]

    def cells(self) -> list[dict]:
        return self.call("GET", "projects", self.pid, "notebooks", NOTEBOOK, "cells").json()["cells"]

    def cell_ids(self, generated_only: bool = False) -> list[str]:
        """Live cell ids of the fixture notebook, topped up when cases have deleted or undone too many."""
        cells = [c for c in self.cells() if c["template"] or not generated_only]
        while len(cells) < 3:
            cells.append({"id": self.insert({"template": {"id": USER_TID}, "inputs": self.examples[USER_TID]})})
        return [c["id"] for c in cells]

    # -- per-case objects for destructive operations --------------------------------------

    def fresh_project(self) -> str:
        pid = self.call("POST", "projects", body={"name": self.next_name("Fuzz fresh")}, expect=(201,)).json()["id"]
        self.call("PUT", "projects", pid, "members", MEMBER, body={"role": "editor"})
        return pid

    def fresh_notebook(self) -> str:
        made = self.call("POST", "projects", self.pid, "notebooks", body={"name": self.next_name("fresh/nb")}, expect=(201,))
        return made.json()["path"]

    def fresh_cell(self) -> str:
        return self.insert({"cell_type": "markdown", "source": "to be deleted"})

    def fresh_template(self) -> str:
        tid = self.next_name("fuzz-fresh")
        self.call("POST", "templates", body={**self.template_doc, "id": tid}, expect=(201,))
        return tid

    # -- markers -> live values ------------------------------------------------------------

    def steer(self, case) -> None:
        """Replace the markers in a case by live values: path parameters first, the rest depends on them."""
        op = (case.method.upper(), case.path)
        params = case.path_parameters
        for name in ("pid", "nb", "tid", "user", "cell_id", "op_id"):
            raw = unquote(params[name]) if isinstance(params.get(name), str) else ""
            if raw.startswith(STEER):
                params[name] = quote(self.path_value(op, raw[len(STEER):], case.body), safe="")
        if isinstance(case.body, dict):
            self.steer_body(case.body, params)
        if_match = case.headers.get("If-Match") if case.headers else None
        if isinstance(if_match, str) and if_match.startswith(STEER):
            case.headers["If-Match"] = self.if_match(if_match[len(STEER):], params)

    def path_value(self, op, marker: str, body) -> str:
        kind, _, arg = marker.partition("~")
        if kind == "project":
            return self.fresh_project() if op in FRESH_PROJECT else self.pid
        if kind == "notebook":
            return self.fresh_notebook() if op in FRESH_NOTEBOOK else NOTEBOOK
        if kind == "cell":
            if op in FRESH_CELL:
                return self.fresh_cell()
            regenerate = op in CELL_OPS_ON_GENERATED and isinstance(body, dict) and "source" not in body
            ids = self.cell_ids(generated_only=regenerate)
            return ids[int(arg) % len(ids)]
        if kind == "template":
            return self.fresh_template() if op in FRESH_TEMPLATE else arg
        if kind == "op":
            items = self.call("GET", "projects", self.pid, "notebooks", NOTEBOOK, "history", params={"limit": 100}).json()["items"]
            return items[int(arg) % len(items)]["id"] if items else "0" * 32
        if kind == "owner":
            return self.owner
        raise AssertionError(f"unknown marker {marker!r}")

    def if_match(self, marker: str, params: dict) -> str:
        if marker == "etag":  # the fixture notebook's current ETag
            return self.call("GET", "projects", self.pid, "notebooks", NOTEBOOK, "cells").headers["ETag"]
        if marker == "version":  # the template's current version, as its ETag
            got = self.session.get(f"{self.api}/templates/{params['tid']}", timeout=60)
            return got.headers.get("ETag", '"1"')
        raise AssertionError(f"unknown marker {marker!r}")

    def steer_body(self, body: dict, params: dict) -> None:
        if DOCUMENT in body:  # a valid template document, new or for the template in the URL
            which = body.pop(DOCUMENT)
            tid = self.next_name("fuzz-new") if which == "fresh" else unquote(params.get("tid", ""))
            body.update({**self.template_doc, "id": tid, "title": body.get("title") or "x"})
        for key in ("after", "before"):
            value = body.get(key)
            if isinstance(value, str) and value.startswith(STEER + "cell~"):
                ids = self.cell_ids()
                body[key] = ids[int(value.rsplit("~", 1)[1]) % len(ids)]
        order = body.get("order")
        if isinstance(order, list) and len(order) == 1 and str(order[0]).startswith(STEER + "permutation~"):
            ids = self.cell_ids()
            random.Random(int(order[0].rsplit("~", 1)[1])).shuffle(ids)
            body["order"] = ids
        if body.get("inputs") == EXAMPLE_INPUTS:
            template = body.get("template")
            tid = template.get("id") if isinstance(template, dict) else unquote(params.get("tid", ""))
            if "cell_id" in params:  # re-generating a cell: an input set of its own template
                got = self.session.get(f"{self.api}/projects/{params['pid']}/notebooks/{params['nb']}/cells/{params['cell_id']}", timeout=60)
                tid = got.json().get("template") if got.status_code == 200 else None
            body["inputs"] = dict(self.examples.get(tid) or {})
        source = body.get("source")
        if isinstance(source, dict) and source.get("project") == STEER + "project":
            source["project"] = self.pid


# ---- hooks: steer generated cases at the world ---------------------------------------------

CELL = st.integers(0, 40).map(lambda k: STEER + f"cell~{k}")
POSITION = st.one_of(
    st.just({}), st.integers(0, 4).map(lambda i: {"index": i}),
    CELL.map(lambda c: {"after": c}), CELL.map(lambda c: {"before": c}),
)
TITLE = st.text(min_size=1, max_size=30)


def _merge(*parts: dict) -> dict:
    out = {}
    for part in parts:
        out.update(part)
    return out


# Bodies pointed at the world, per operation; the other operations keep the generated bodies.
STEERED_BODIES = {
    ("POST", "/projects/{pid}/notebooks/{nb}/cells"): st.one_of(
        st.builds(lambda tid, pos: _merge({"template": {"id": tid}, "inputs": EXAMPLE_INPUTS}, pos), st.sampled_from(TIDS), POSITION),
        st.builds(lambda kind, text, pos: _merge({"cell_type": kind, "source": text}, pos),
                  st.sampled_from(("code", "markdown", "raw")), st.text(max_size=40), POSITION),
    ),
    ("PATCH", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}"): st.one_of(
        st.text(max_size=40).map(lambda text: {"source": text}),
        st.sampled_from(({"inputs": EXAMPLE_INPUTS}, {"inputs": EXAMPLE_INPUTS, "force": True},
                         {"template_version": "latest"}, {"template_version": 1}, {"template_version": "latest", "force": True})),
    ),
    ("POST", "/projects/{pid}/notebooks/{nb}/cells/{cell_id}/move"): POSITION.filter(bool),
    ("PUT", "/projects/{pid}/notebooks/{nb}/cells/order"): st.integers(0, 10**6).map(
        lambda seed: {"order": [STEER + f"permutation~{seed}"]}),
    ("POST", "/templates/{tid}/render"): st.sampled_from(({"inputs": EXAMPLE_INPUTS}, {"inputs": EXAMPLE_INPUTS, "version": 1})),
    ("POST", "/templates"): TITLE.map(lambda title: {DOCUMENT: "fresh", "title": title}),
    ("PUT", "/templates/{tid}"): TITLE.map(lambda title: {DOCUMENT: "same", "title": title}),
    ("POST", "/assistant/profile"): st.sampled_from((
        {"source": {"project": STEER + "project", "path": DATA_FILE}},
        {"source": {"project": STEER + "project", "path": DATA_FILE}, "levels": {"score": "ordinal"}},
    )),
    ("POST", "/assistant/suggest"): st.sampled_from((
        {"outcome": "score", "predictors": ["group"]}, {"outcome": "passed", "predictors": ["group"]},
        {"outcome": "score", "test_value": 12}, {"outcome": "score", "predictors": ["passed"], "goal": "difference"},
    )).map(lambda design: {"source": {"project": STEER + "project", "path": DATA_FILE}, "design": design}),
}


def _operation(context) -> tuple[str, str]:
    return context.operation.method.upper(), context.operation.path


def flatmap_path_parameters(context, path_parameters):
    """Three cases in five address live objects, one in five mixes live and generated ids."""
    if not path_parameters:
        return st.just(path_parameters)

    @st.composite
    def steered(draw):
        how = draw(st.sampled_from(("live", "live", "live", "mixed", "generated")))
        out = dict(path_parameters)
        for name in path_parameters:
            if how == "generated" or (how == "mixed" and draw(st.booleans())):
                continue
            if name == "pid":
                out[name] = STEER + "project"
            elif name == "nb":
                out[name] = STEER + "notebook"
            elif name == "cell_id":
                out[name] = STEER + f"cell~{draw(st.integers(0, 40))}"
            elif name == "op_id":
                out[name] = STEER + f"op~{draw(st.integers(0, 40))}"
            elif name == "tid":
                out[name] = STEER + "template~" + draw(st.sampled_from((USER_TID, *TIDS)))
            elif name == "user":
                out[name] = draw(st.sampled_from((MEMBER, MEMBER, STEER + "owner")))
        return out

    return steered()


def flatmap_headers(context, headers):
    """``If-Match``: often the live ETag (cells) or version (templates), sometimes ``*``, else as generated."""
    if not headers or "If-Match" not in headers:
        return st.just(headers)
    live = STEER + ("version" if context.operation.path.startswith("/templates") else "etag")
    return st.sampled_from((live, live, live, "*", None)).map(
        lambda value: headers if value is None else {**headers, "If-Match": value})


def flatmap_body(context, body):
    """Three bodies in five are pointed at the world where that matters; the rest stay as generated."""
    steered = STEERED_BODIES.get(_operation(context))
    if steered is None:
        return st.just(body)
    # Copies: steering resolves markers in place, and sampled bodies are shared objects.
    return st.integers(0, 4).flatmap(lambda roll: st.just(body) if roll < 2 else steered.map(copy.deepcopy))


# ---- fixtures and tests ------------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    server = FuzzServer()
    try:
        server.start()
        built = World(server)
        built.build()
        yield built
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served_schema(world):
    """The description as served, loaded with the token; the hooks above steer its generation."""
    # The token travels in the session's headers: schemathesis must not generate Authorization values.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_url(
        world.api + "/openapi.json", config=config, headers={"Authorization": f"token {world.server.token}"}, timeout=60,
    )
    for hook in (flatmap_path_parameters, flatmap_headers, flatmap_body):
        schema.hook(hook)
    return schema


OPERATIONS = [(path, verb.upper()) for path, item in spec()["paths"].items() for verb in VERBS if verb in item]


def test_every_served_operation_is_fuzzed(served_schema):
    served = {(path, verb.upper()) for path, item in served_schema.raw_schema["paths"].items() for verb in VERBS if verb in item}
    assert served == set(OPERATIONS)
    assert {(path, method) for method, path in STEERED_BODIES} <= served


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_responses_conform_to_the_served_description(served_schema, world, path, method):
    operation = served_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
    @given(case=cases)
    def fuzz(case):
        world.steer(case)
        log_offset = world.server.log_size()
        try:
            case.call_and_validate(checks=CHECKS, session=world.session, timeout=60)
        except BaseException as exc:
            log = world.server.log_since(log_offset)
            if log.strip():
                exc.add_note("server log while the request ran:\n" + log)
            raise

    fuzz()
