"""The ``datadive`` command line against a real server: every subcommand group, tables and --json, errors and exit codes.

Commands run through click's ``CliRunner`` in a worker thread while pytest-jupyter's
in-process server answers on a real port. ``templates export`` / ``import`` also run
against a second server, a ``jupyter server`` process whose template folder is the
exported one; and the command line runs once as its own process (``python -m
datadive_ext.client``).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema
import pytest
from click.testing import CliRunner
from datadive_testing import counting_template_doc

from datadive_ext.client import DatadiveClient
from datadive_ext.client.cli import EXIT_CODES, cli, main

REPO = Path(__file__).resolve().parents[1]
NO_ENV = {"DATADIVE_URL": None, "DATADIVE_TOKEN": None, "JUPYTERHUB_API_TOKEN": None}


@dataclass
class Live:
    url: str
    token: str
    root: Path

    def client(self) -> DatadiveClient:
        return DatadiveClient(self.url, self.token)


@pytest.fixture
def live(jp_serverapp, http_server, jp_http_port, jp_base_url, jp_auth_header) -> Live:
    token = jp_auth_header["Authorization"].split(" ", 1)[1]
    return Live(f"http://127.0.0.1:{jp_http_port}{jp_base_url}", token, Path(jp_serverapp.root_dir))


def run(server, *args, input=None, env=None, options=True):
    """``datadive --url ... --token ... ARGS`` in this process; the click Result (stdout, stderr, exit_code)."""
    base = ["--url", server.url, "--token", server.token] if options else []
    return CliRunner().invoke(cli, [*base, *map(str, args)], input=input, env={**NO_ENV, **(env or {})})


def ok(result):
    details = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info and result.exit_code not in (0, None) else ""
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}\n{details}"
    return result


def out_json(result):
    return json.loads(ok(result).stdout)


def failed(result, exit_code, *in_stderr, stdout_empty=True):
    """The command failed with this exit code, and stderr says each of ``in_stderr``; stdout is empty unless said."""
    assert result.exit_code == exit_code, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for text in in_stderr:
        assert text in result.stderr, (text, result.stderr)
    if stdout_empty:
        assert result.stdout == "", result.stdout
    return result


def json_error(result, exit_code, status, code):
    """--json: the error is one JSON object on stderr."""
    failed(result, exit_code)
    body = json.loads(result.stderr.strip().splitlines()[-1])
    assert body["status"] == status and body["code"] == code and body["message"], body
    return body


async def in_thread(fn):
    return await asyncio.to_thread(fn)


def write_csv(path: Path, n=60):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "group", "score"])
        for i in range(n):
            w.writerow([i, "control" if i % 2 else "treated", 50 + (i % 7) + (5 if i % 2 == 0 else 0)])


# -- projects ----------------------------------------------------------------------------


async def test_projects(live):
    def scenario():
        table = ok(run(live, "projects", "create", "Study A", "-d", "pilot [data]"))
        assert "created" in table.stdout and "Study A" in table.stdout and "pilot [data]" in table.stdout  # no rich markup
        made = out_json(run(live, "projects", "create", "Study B", "--json"))
        pid = made["id"]
        assert made["name"] == "Study B" and made["role"] == "owner"

        listing = ok(run(live, "projects", "list")).stdout
        assert "2 project(s)" in listing and pid in listing and "Study A" in listing
        assert [p["name"] for p in out_json(run(live, "projects", "list", "--json"))] == ["Study A", "Study B"]
        assert len(out_json(run(live, "--json", "projects", "list", "--limit", "1"))) == 1  # --json before the subcommand
        assert [p["name"] for p in out_json(run(live, "projects", "list", "-q", "pilot", "--json"))] == ["Study A"]

        shown = ok(run(live, "projects", "show", pid)).stdout
        assert pid in shown and "Study B" in shown and "owner" in shown
        assert out_json(run(live, "projects", "show", pid, "--json")) == made
        assert out_json(run(live, "projects", "rename", pid, "Study C", "--json"))["name"] == "Study C"
        assert "renamed" in ok(run(live, "projects", "rename", pid, "Study D", "-d", "more")).stdout

        assert "viewer" in ok(run(live, "projects", "add-member", pid, "bob", "--role", "viewer")).stdout
        assert out_json(run(live, "projects", "add-member", pid, "bob", "--json"))["role"] == "editor"
        members = ok(run(live, "projects", "members", pid)).stdout
        assert "bob" in members and "editor" in members
        assert {m["user"] for m in out_json(run(live, "projects", "members", pid, "--json"))["items"]} >= {"bob"}
        assert "removed bob" in ok(run(live, "projects", "remove-member", pid, "bob")).stdout
        ok(run(live, "projects", "add-member", pid, "carol"))
        assert ok(run(live, "projects", "remove-member", pid, "carol", "--json")).stdout == ""
        failed(run(live, "projects", "remove-member", pid, "carol"), 6, "(404")

        # errors: the server's message, code and paths on stderr; the exit code of the class
        failed(run(live, "projects", "show", "nope"), 6, "datadive: error (404 project_not_found): no project 'nope'")
        failed(run(live, "projects", "create", ""), 4, "(400 invalid)", "  /name: ")
        body = json_error(run(live, "projects", "create", "", "--json"), 4, 400, "invalid")
        assert {e["path"] for e in body["errors"]} == {"/name"}
        failed(run(live, "projects", "add-member", pid, "bob", "--role", "boss"), 2)  # a usage error, before any request

        folder = live.root / made["path"]
        assert folder.is_dir()
        assert "and its folder" in ok(run(live, "projects", "delete", pid, "--delete-files")).stdout
        assert not folder.exists()
        other = out_json(run(live, "projects", "list", "--json"))[0]["id"]
        assert ok(run(live, "projects", "delete", other, "--json")).stdout == ""
        assert out_json(run(live, "projects", "list", "--json")) == []

    await in_thread(scenario)


# -- notebooks ---------------------------------------------------------------------------


async def test_notebooks(live):
    def scenario():
        pid = live.client().create_project("Books")["id"]
        assert "sub/analysis.ipynb" in ok(run(live, "notebooks", "create", pid, "sub/analysis")).stdout
        assert out_json(run(live, "notebooks", "create", pid, "second", "--json"))["path"] == "second.ipynb"
        listing = ok(run(live, "notebooks", "list", pid)).stdout
        assert "sub/analysis.ipynb" in listing and "second.ipynb" in listing
        assert [n["path"] for n in out_json(run(live, "notebooks", "list", pid, "--json"))["items"]] == ["second.ipynb", "sub/analysis.ipynb"]
        assert "analysis.ipynb" in ok(run(live, "notebooks", "show", pid, "sub/analysis.ipynb")).stdout
        assert out_json(run(live, "notebooks", "show", pid, "sub/analysis.ipynb", "--json"))["name"] == "analysis.ipynb"
        assert out_json(run(live, "notebooks", "rename", pid, "sub/analysis.ipynb", "final", "--json"))["path"] == "final.ipynb"
        assert "renamed" in ok(run(live, "notebooks", "rename", pid, "final.ipynb", "last")).stdout
        failed(run(live, "notebooks", "show", pid, "final.ipynb"), 6, "404")
        assert "deleted last.ipynb" in ok(run(live, "notebooks", "delete", pid, "last.ipynb")).stdout
        assert ok(run(live, "notebooks", "delete", pid, "second.ipynb", "--json")).stdout == ""
        assert out_json(run(live, "notebooks", "list", pid, "--json")) == {"items": []}
        failed(run(live, "notebooks", "list", "nope"), 6, "project_not_found")

    await in_thread(scenario)


# -- cells -------------------------------------------------------------------------------


def etag_of(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("ETag: ")]
    assert lines, result.stderr
    return lines[-1][len("ETag: "):]


async def test_cells(live):
    def scenario():
        dd = live.client()
        pid = dd.create_project("Cells")["id"]
        nb = dd.create_notebook(pid, "work/analysis")["path"]
        template = dd.create_template(counting_template_doc("count-rows"))

        inserted = ok(run(live, "cells", "insert", pid, nb, "-t", "count-rows", "-i", "column=group", "-i", "n=3"))
        assert "inserted" in inserted.stdout and "count-rows@1" in inserted.stdout and "## Counting group" in inserted.stdout
        etag1 = etag_of(inserted)
        md, gen = dd.list_cells(pid, nb).data["cells"]
        assert gen["inputs"] == {"column": "group", "n": 3, "df": "df"}
        raw = out_json(run(live, "cells", "insert", pid, nb, "--code", "x = 1", "--index", "0", "--json"))["cells"][0]
        assert raw["index"] == 0 and raw["source"] == "x = 1"
        end = out_json(run(live, "cells", "insert", pid, nb, "--markdown", "-", "--after", gen["id"], "--json", input="# the end\n"))
        assert end["cells"][0]["source"] == "# the end\n" and end["cells"][0]["index"] == 3
        failed(run(live, "cells", "insert", pid, nb, "-t", "count-rows", "--code", "1"), 2)
        failed(run(live, "cells", "insert", pid, nb, "--code", "1", "--index", "0", "--after", gen["id"]), 2)
        failed(run(live, "cells", "insert", pid, nb, "-t", "count-rows", "-i", "n=0"), 4, "invalid_inputs", "/column: ", "/n: ")
        failed(run(live, "cells", "insert", pid, nb, "-t", "count-rows", "--inputs", "[1]"), 2)

        listing = ok(run(live, "cells", "list", pid, nb))
        assert gen["id"] in listing.stdout and "generated" in listing.stdout and "plain" in listing.stdout
        current = etag_of(listing)
        assert current != etag1
        assert [c["id"] for c in out_json(run(live, "cells", "list", pid, nb, "--json"))["cells"]] == [raw["id"], md["id"], gen["id"], end["cells"][0]["id"]]
        assert "x = 1" in ok(run(live, "cells", "show", pid, nb, raw["id"])).stdout
        assert out_json(run(live, "cells", "show", pid, nb, gen["id"], "--json"))["template"] == "count-rows"

        # a stale ETag: 412, and the path
        failed(run(live, "cells", "update", pid, nb, raw["id"], "-s", "x = 2", "--if-match", etag1), 8, "(412 stale)", "/headers/If-Match: ")
        json_error(run(live, "cells", "update", pid, nb, raw["id"], "-s", "x = 2", "--if-match", etag1, "--json"), 8, 412, "stale")
        updated = ok(run(live, "cells", "update", pid, nb, raw["id"], "-s", "-", "--if-match", current, input="x = 2"))
        assert "updated" in updated.stdout and "x = 2" in updated.stdout

        # regenerate; a hand edit gives 409 cell_edited, --force goes over it
        assert out_json(run(live, "cells", "regenerate", pid, nb, gen["id"], "--inputs", '{"column": "sex"}', "--json"))["inputs"]["column"] == "sex"
        ok(run(live, "cells", "update", pid, nb, gen["id"], "--source", "df.head()"))
        failed(run(live, "cells", "regenerate", pid, nb, gen["id"], "-i", "column=age"), 7, "(409 cell_edited)", "  /source: ")
        forced = ok(run(live, "cells", "regenerate", pid, nb, gen["id"], "-i", "column=age", "--force"))
        assert "regenerated" in forced.stdout and "generated" in forced.stdout
        failed(run(live, "cells", "regenerate", pid, nb, gen["id"]), 2, "--inputs")

        # upgrade to the latest version, and back to 1
        dd.update_template("count-rows", counting_template_doc("count-rows", title="v2"), if_match=template.etag)
        assert "outdated" in ok(run(live, "cells", "list", pid, nb)).stdout
        assert out_json(run(live, "cells", "upgrade", pid, nb, gen["id"], "--json"))["version"] == 2
        assert "upgraded" in ok(run(live, "cells", "upgrade", pid, nb, gen["id"], "--to", "1")).stdout
        failed(run(live, "cells", "upgrade", pid, nb, gen["id"], "--to", "newest"), 2)

        # move and order
        assert out_json(run(live, "cells", "move", pid, nb, raw["id"], "--after", gen["id"], "--json"))["index"] == 2
        assert "moved" in ok(run(live, "cells", "move", pid, nb, raw["id"], "--index", "0")).stdout
        failed(run(live, "cells", "move", pid, nb, raw["id"]), 2)
        order = [end["cells"][0]["id"], gen["id"], md["id"], raw["id"]]
        assert [c["id"] for c in out_json(run(live, "cells", "order", pid, nb, *order, "--json"))["cells"]] == order
        assert "reordered" in ok(run(live, "cells", "order", pid, nb, *reversed(order))).stdout
        failed(run(live, "cells", "order", pid, nb, order[0]), 4, "(400")

        # history and undo
        history = ok(run(live, "cells", "history", pid, nb)).stdout
        assert "reorder" in history and "insert" in history
        ops = out_json(run(live, "cells", "history", pid, nb, "--limit", "3", "--json"))
        assert len(ops) == 3 and ops[0]["op"] == "reorder"
        undone = out_json(run(live, "cells", "undo", pid, nb, ops[0]["id"], "--json"))
        assert undone["undone"] == ops[0]["id"]
        assert [c["id"] for c in dd.list_cells(pid, nb).data["cells"]] == order
        assert "undone" in ok(run(live, "cells", "undo", pid, nb, ops[1]["id"])).stdout

        deleted = ok(run(live, "cells", "delete", pid, nb, raw["id"]))
        assert "deleted cell" in deleted.stdout and etag_of(deleted)
        assert ok(run(live, "cells", "delete", pid, nb, md["id"], "--json")).stdout == ""
        failed(run(live, "cells", "show", pid, nb, raw["id"]), 6, "404")

    await in_thread(scenario)


# -- templates ---------------------------------------------------------------------------


async def test_templates(live, tmp_path):
    doc = counting_template_doc("mine")
    (tmp_path / "mine.json").write_text(json.dumps(doc))
    (tmp_path / "mine2.json").write_text(json.dumps(counting_template_doc("mine", title="Mine, second")))
    (tmp_path / "bad.json").write_text(json.dumps({k: v for k, v in counting_template_doc("bad").items() if k != "title"}))
    (tmp_path / "broken.json").write_text("{not json")

    def scenario():
        created = ok(run(live, "templates", "create", tmp_path / "mine.json"))
        assert "mine" in created.stdout and "column" in created.stdout and etag_of(created) == '"1"'
        failed(run(live, "templates", "create", tmp_path / "mine.json"), 7, "(409 template_exists)", "  /id: already exists")
        failed(run(live, "templates", "create", tmp_path / "bad.json"), 4, "(400 invalid_template)", "  /title: is required")
        failed(run(live, "templates", "create", tmp_path / "broken.json"), 1, "not valid JSON")
        failed(run(live, "templates", "create", tmp_path / "missing.json"), 1, "cannot read")
        assert out_json(run(live, "templates", "create", "-", "--json", input=json.dumps(counting_template_doc("from-stdin"))))["id"] == "from-stdin"

        listing = ok(run(live, "templates", "list", "--source", "user")).stdout
        assert "2 template(s)" in listing and "mine" in listing and "from-stdin" in listing
        assert [t["id"] for t in out_json(run(live, "templates", "list", "--source", "user", "--json"))] == ["from-stdin", "mine"]
        builtin = out_json(run(live, "templates", "list", "--source", "builtin", "--json"))
        assert len(builtin) > 10 and len(out_json(run(live, "templates", "list", "--limit", "3", "--json"))) == 3
        assert [t["id"] for t in out_json(run(live, "templates", "list", "-q", "stdin", "--json"))] == ["from-stdin"]
        assert out_json(run(live, "templates", "list", "--category", "custom", "--tag", "counting", "--json"))
        failed(run(live, "templates", "list", "--source", "elsewhere"), 2)

        shown = ok(run(live, "templates", "show", "mine")).stdout
        assert "Template mine" in shown and "column" in shown and "yes" in shown  # the inputs table: column is required
        document = out_json(run(live, "templates", "show", "mine", "--json"))["document"]
        assert document == {**doc, "version": 1, "language": "python", "locked": False, "ui": {}}

        updated = out_json(run(live, "templates", "update", tmp_path / "mine2.json", "--json"))  # If-Match read first
        assert updated["version"] == 2 and updated["title"] == "Mine, second"
        failed(run(live, "templates", "update", tmp_path / "mine2.json", "--if-match", "1"), 8, "(412 stale)", "/headers/If-Match: ")
        assert "Mine, second" in ok(run(live, "templates", "update", tmp_path / "mine2.json", "--if-match", "2")).stdout
        assert out_json(run(live, "templates", "show", "mine", "--version", "1", "--json"))["title"] == "Template mine"
        assert [v["version"] for v in out_json(run(live, "templates", "versions", "mine", "--json"))["items"]] == [1, 2, 3]
        versions = ok(run(live, "templates", "versions", "mine")).stdout
        assert "version" in versions and "author" in versions and "3" in versions

        rendered = ok(run(live, "templates", "render", "mine", "-i", "column=age", "-i", "n=4")).stdout
        assert "cell 0 (markdown)" in rendered and "## Counting age" in rendered and "head(4)" in rendered
        cells = out_json(run(live, "templates", "render", "mine", "--inputs", '{"column": "age"}', "--version", "1", "--json"))["cells"]
        assert [c["cell_type"] for c in cells] == ["markdown", "code"]
        failed(run(live, "templates", "render", "mine"), 4, "(400 invalid_inputs)", "  /column: ")
        failed(run(live, "templates", "show", "nope"), 6, "(404 template_not_found)")

        assert "retired mine" in ok(run(live, "templates", "retire", "mine")).stdout
        retired = out_json(run(live, "templates", "list", "--source", "user", "--retired", "--json"))
        assert {t["id"]: bool(t["retired_at"]) for t in retired} == {"from-stdin": False, "mine": True}
        assert "retired" in ok(run(live, "templates", "list", "--retired")).stdout
        failed(run(live, "templates", "update", tmp_path / "mine2.json"), 7, "template_retired")

    await in_thread(scenario)


# -- export / import, and the exported folder as a server's template folder -----------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    folder: Path  # its template folder
    proc: subprocess.Popen
    log: Path

    def client(self) -> DatadiveClient:
        return DatadiveClient(self.url, self.token)


def _folder_trait() -> str:
    """The template folder trait: ``template_folders`` (being renamed), else ``template_paths``."""
    from datadive_ext.app import DatadiveApp

    names = DatadiveApp.class_trait_names()
    return "template_folders" if "template_folders" in names else "template_paths"


@pytest.fixture(scope="module")
def folder_server(tmp_path_factory):
    """A ``jupyter server`` process with the extension, its own store, and an (empty) template folder."""
    tmp = tmp_path_factory.mktemp("folder-server")
    folder = tmp / "template-folder"
    for d in (folder, tmp / "config", tmp / "data", tmp / "runtime", tmp / "root"):
        d.mkdir()
    others = ("jupyterlab", "jupyter_server_ydoc", "jupyter_lsp", "notebook_shim", "jupyter_server_terminals", "jupyter_server_fileid")
    config = {
        "ServerApp": {"jpserver_extensions": {"datadive_ext": True, **{name: False for name in others}}},
        "DatadiveApp": {"db_path": str(tmp / "datadive.sqlite"), _folder_trait(): [str(folder)]},
        "ContentsManager": {"delete_to_trash": False},
    }
    (tmp / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    port, token, base_url = _free_port(), "folder-server-token", "/srv%40x/"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATADIVE_", "JUPYTERHUB_"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
    log = tmp / "server.log"
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp / 'root'}",
           f"--ServerApp.base_url={base_url}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
    url = f"http://127.0.0.1:{port}{base_url}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "api/datadive/openapi.json", headers={"Authorization": f"token {token}"}, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start:\n" + log.read_text()
            time.sleep(0.2)
        yield Server(url, token, folder, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _path_ids(client, expected: list[str], timeout: float = 10.0) -> list[dict]:
    """The server's `path` templates once their ids are ``expected``: a changed template folder is
    re-read in the background, so a later request sees it (within about a second), not the next one."""
    deadline = time.monotonic() + timeout
    while True:
        found = list(client.iter_templates(source="path"))
        if sorted(t["id"] for t in found) == expected:
            return found
        assert time.monotonic() < deadline, f"path templates {sorted(t['id'] for t in found)}, expected {expected}"
        time.sleep(0.1)


def _without_version(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "version"}


async def test_templates_export_import_and_the_folder_source(live, folder_server, tmp_path):
    template_schema = jsonschema.Draft202012Validator(json.loads((REPO / "schemas" / "template.schema.json").read_text()))

    def scenario():
        source = live.client()
        source.create_template(counting_template_doc("alpha"))
        first = source.get_template("alpha")
        source.update_template("alpha", counting_template_doc("alpha", title="Alpha, second", tags=["ünïcode", "two"]), if_match=first.etag)
        source.create_template(counting_template_doc("beta", locked=True))
        source.create_template(counting_template_doc("gamma"))
        source.retire_template("gamma")
        documents = {tid: source.get_template(tid).data["document"] for tid in ("alpha", "beta")}

        # export the user templates straight into the other server's template folder
        folder = folder_server.folder
        exported = ok(run(live, "templates", "export", folder))
        assert "2 template(s)" in exported.stdout and "written" in exported.stdout
        files = sorted(p.name for p in folder.iterdir())
        assert files == ["alpha.json", "beta.json"]  # one <id>.json per template, the retired one left out
        for tid, doc in documents.items():
            text = (folder / f"{tid}.json").read_text(encoding="utf-8")
            on_disk = json.loads(text)
            assert on_disk == doc and not list(template_schema.iter_errors(on_disk))
            assert "ünïcode" in text or tid == "beta"  # UTF-8, not \\u escapes
        again = out_json(run(live, "templates", "export", folder, "--json"))
        assert [(r["id"], r["result"]) for r in again] == [("alpha", "unchanged"), ("beta", "unchanged")]

        # the folder is that server's template folder: its templates are there, read-only, as the `path` source
        target = folder_server.client()
        path_templates = _path_ids(target, ["alpha", "beta"])
        for tid, doc in documents.items():
            served = target.get_template(tid).data
            assert served["source"] == "path" and served["document"] == doc
        assert target.get_template("beta").data["locked"] is True
        assert "## Counting age" in target.render_template("alpha", {"column": "age"})["cells"][0]["source"]
        # ... and the command line, as its own process, sees them there
        proc = subprocess.run(
            [sys.executable, "-m", "datadive_ext.client", "--json", "templates", "list", "--source", "path"],
            env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "DATADIVE_URL": folder_server.url,
                 "DATADIVE_TOKEN": folder_server.token},
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert sorted(t["id"] for t in json.loads(proc.stdout)) == ["alpha", "beta"]
        # a path template is not a user template: importing it over one is refused
        refused = failed(run(folder_server, "templates", "import", folder), 1, "datadive: alpha.json: the id 'alpha' is taken by a path template",
                         "2 of 2 file(s) failed", stdout_empty=False)
        assert "failed" in refused.stdout

        # the round trip: the folder, imported into a server that does not have these templates
        moved = tmp_path / "moved"
        shutil.copytree(folder, moved)
        for p in folder.iterdir():
            p.unlink()
        _path_ids(target, [])
        imported = out_json(run(folder_server, "templates", "import", moved, "--json"))
        assert [(r["file"], r["id"], r["result"], r["version"]) for r in imported] == [
            ("alpha.json", "alpha", "created", 1), ("beta.json", "beta", "created", 1)]
        for tid, doc in documents.items():
            served = target.get_template(tid).data
            assert served["source"] == "user" and _without_version(served["document"]) == _without_version(doc)
        assert "unchanged" in ok(run(folder_server, "templates", "import", moved)).stdout
        changed = json.loads((moved / "beta.json").read_text())
        changed["title"] = "Beta, edited on disk"
        (moved / "beta.json").write_text(json.dumps(changed))
        table = ok(run(folder_server, "templates", "import", moved, "--no-update")).stdout
        assert "exists (not updated)" in table
        again = out_json(run(folder_server, "templates", "import", moved, "--json"))
        assert {r["id"]: (r["result"], r["version"]) for r in again} == {"alpha": ("unchanged", 1), "beta": ("updated", 2)}
        assert target.get_template("beta").data["title"] == "Beta, edited on disk"

        # a bad file fails alone, with the server's paths; the others still go in
        (moved / "delta.json").write_text(json.dumps({k: v for k, v in counting_template_doc("delta").items() if k != "title"}))
        (moved / "epsilon.json").write_text(json.dumps(counting_template_doc("epsilon")))
        bad = run(folder_server, "templates", "import", moved, "--json")
        assert bad.exit_code == 4, bad.stderr
        rows = {r["id"]: r for r in json.loads(bad.stdout)}
        assert rows["delta"]["result"] == "failed" and [e["path"] for e in rows["delta"]["errors"]] == ["/title"]
        assert rows["epsilon"]["result"] == "created"
        assert "1 of 4 file(s) failed" in bad.stderr
        # a hand-written document (the server fills in defaults) is unchanged when imported again
        (moved / "delta.json").unlink()
        final = out_json(run(folder_server, "templates", "import", moved, "--json"))
        assert {r["id"]: r["result"] for r in final} == {"alpha": "unchanged", "beta": "unchanged", "epsilon": "unchanged"}

        # export of named templates, of any source
        named = tmp_path / "named"
        assert [r["id"] for r in out_json(run(live, "templates", "export", named, "alpha", "load-csv", "--json"))] == ["alpha", "load-csv"]
        assert sorted(p.name for p in named.iterdir()) == ["alpha.json", "load-csv.json"]
        assert [r["id"] for r in out_json(run(live, "templates", "export", tmp_path / "retired", "--retired", "--json"))] == ["alpha", "beta", "gamma"]
        failed(run(live, "templates", "export", tmp_path / "x", "nope"), 6, "template_not_found")
        failed(run(live, "templates", "import", tmp_path / "empty-does-not-exist"), 1, "is not a folder")
        (tmp_path / "empty").mkdir()
        failed(run(live, "templates", "import", tmp_path / "empty"), 1, "no *.json template documents")

    await in_thread(scenario)


# -- the assistant -----------------------------------------------------------------------


async def test_profile_and_suggest(live):
    def scenario():
        project = live.client().create_project("Assist")
        write_csv(live.root / project["path"] / "data.csv")
        pid = project["id"]
        profile = ok(run(live, "profile", "-p", pid, "--path", "data.csv")).stdout
        assert "60 row(s)" in profile and "group" in profile and "score" in profile
        data = out_json(run(live, "profile", "-p", pid, "--path", "data.csv", "--level", "score=interval", "--json"))
        assert data["columns"]["score"]["level"] == "interval"

        table = ok(run(live, "suggest", "-p", pid, "--path", "data.csv", "-o", "score", "--between", "group")).stdout
        assert "suggestion(s)" in table
        result = out_json(run(live, "suggest", "-p", pid, "--path", "data.csv", "--design", '{"outcome": "score"}', "--between", "group", "--json"))
        assert result["suggestions"] and result["suggestions"][0]["test"] in table
        assert result["design"]["between"] in ("group", ["group"])

        failed(run(live, "suggest", "--kernel", "k0", "--variable", "df", "-o", "y"), 6, "(404 kernel_not_found)", "  /source/kernel_id: ")
        failed(run(live, "suggest", "-p", pid, "--path", "data.csv", "-o", "nope"), 4, "(400")
        failed(run(live, "suggest", "-p", pid, "-o", "score"), 2, "--project PID --path FILE")
        failed(run(live, "suggest", "-p", pid, "--path", "data.csv"), 2, "--outcome")
        failed(run(live, "profile", "-p", pid, "--path", "data.csv", "--level", "score"), 2)

    await in_thread(scenario)


# -- runs: not on this server yet ------------------------------------------------------------


# -- the API description, URL and token, exit codes ---------------------------------------------


async def test_openapi_url_token_and_exit_codes(live):
    def scenario():
        table = ok(run(live, "openapi")).stdout
        assert "Datadive API" in table and "listProjects" in table and "/projects/{pid}/notebooks/{nb}/cells" in table
        assert set(out_json(run(live, "openapi", "--json"))) >= {"openapi", "paths", "components"}

        # URL and token from the environment
        env = {"DATADIVE_URL": live.url, "DATADIVE_TOKEN": live.token}
        assert out_json(run(live, "projects", "list", "--json", env=env, options=False)) == []
        env = {"DATADIVE_URL": live.url, "JUPYTERHUB_API_TOKEN": live.token}
        assert out_json(run(live, "projects", "list", "--json", env=env, options=False)) == []
        env = {"DATADIVE_URL": live.url, "DATADIVE_TOKEN": "wrong", "JUPYTERHUB_API_TOKEN": live.token}
        failed(run(live, "projects", "list", env=env, options=False), 5, "(403 forbidden)")
        failed(run(live, "projects", "list", options=False), 2, "no server URL")
        failed(run(live, "--url", "localhost:8888", "projects", "list", options=False), 2, "must start with http")
        unreachable = Live(f"http://127.0.0.1:{_free_port()}/", "t", live.root)
        failed(run(unreachable, "projects", "list"), 3, "datadive: error (unreachable): cannot connect")
        json_error(run(unreachable, "projects", "list", "--json"), 3, None, "unreachable")

    await in_thread(scenario)
    assert sorted(EXIT_CODES) == list(range(13))


def test_console_script_and_help():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["datadive"] == "datadive_ext.client.cli:main"
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    for group in ("projects", "notebooks", "cells", "templates"):
        result = CliRunner().invoke(cli, [group, "--help"], env=NO_ENV)
        assert result.exit_code == 0 and "Commands:" in result.stdout
    commands = {
        "projects": {"list", "show", "create", "rename", "delete", "members", "add-member", "remove-member"},
        "notebooks": {"list", "show", "create", "rename", "delete"},
        "cells": {"list", "show", "insert", "update", "regenerate", "upgrade", "delete", "move", "order", "history", "undo"},
        "templates": {"list", "show", "versions", "render", "create", "update", "retire", "export", "import"},
    }
    for group, names in commands.items():
        assert set(cli.commands[group].commands) == names
    assert set(cli.commands) == {*commands, "profile", "suggest", "run", "openapi"}
