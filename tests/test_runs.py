"""Headless parameterised runs over REST: real kernels (ipykernel), real notebooks in the test root, a real SQLite file.

Waits poll the run with a generous deadline; nothing here asserts how fast a run
goes. Every error test asserts the status, the ``code`` and the error paths.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from datadive_testing import assert_error, base_config, max_in_flight, multi_user_config

from datadive_ext.openapi import body_validator
from datadive_ext.store import Store, utcnow

DEADLINE = 120.0  # seconds a wait may take before the test gives up (kernels start in ~1 s here)
FINISHED = {"succeeded", "failed", "cancelled", "interrupted"}


# -- helpers ------------------------------------------------------------------------------


def conforms(schema: str, instance) -> None:
    errors = sorted(body_validator(schema).iter_errors(instance), key=str)
    assert not errors, [e.message for e in errors]


def ext_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["datadive_ext"]))


def make_notebook(*cells, parameters: str | None = None) -> nbformat.NotebookNode:
    """A python3 notebook: an optional ``parameters`` cell, then code cells (``"# md: text"`` makes a markdown cell)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    for source in cells:
        if source.startswith("# md: "):
            nb.cells.append(nbformat.v4.new_markdown_cell(source[6:]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def write_notebook(folder: Path, name: str, nb) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


async def new_project(api, name="Runs", user=None) -> dict:
    reply = await api("POST", "projects", body={"name": name}, user=user)
    assert reply.status == 201, reply.text
    return reply.json


async def start_run(api, pid, notebook, parameters=None, timeout=None, user=None) -> dict:
    body = {"notebook": notebook}
    if parameters is not None:
        body["parameters"] = parameters
    if timeout is not None:
        body["timeout"] = timeout
    reply = await api("POST", "projects", pid, "runs", body=body, user=user)
    assert reply.status == 202, reply.text
    run = reply.json
    conforms("Run", run)
    assert run["status"] in ("queued", "running")
    assert reply.headers["Location"].endswith(f"/api/datadive/projects/{pid}/runs/{run['id']}")
    return run


async def get_run(api, pid, rid, user=None) -> dict:
    reply = await api("GET", "projects", pid, "runs", rid, user=user)
    assert reply.status == 200, reply.text
    conforms("Run", reply.json)
    return reply.json


async def wait_until(api, pid, rid, check, what: str, deadline: float = DEADLINE, user=None) -> dict:
    end = time.monotonic() + deadline
    while True:
        run = await get_run(api, pid, rid, user=user)
        if check(run):
            return run
        assert time.monotonic() < end, f"the run never got {what}: {run}"
        await asyncio.sleep(0.1)


async def wait_finished(api, pid, rid, deadline: float = DEADLINE, user=None) -> dict:
    return await wait_until(api, pid, rid, lambda r: r["status"] in FINISHED, "to an end", deadline, user=user)


def read_copy(folder: Path, run: dict) -> nbformat.NotebookNode:
    return nbformat.read(str(folder / run["output"]), as_version=4)


def outputs_text(cell) -> str:
    out = []
    for o in cell.get("outputs") or []:
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif "data" in o:
            out.append(o["data"].get("text/plain", ""))
    return "".join(out)


def alive(pid: int) -> bool:
    """Whether a process is running (a zombie, already dead but not reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_gone(pid: int, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while alive(pid):
        assert time.monotonic() < end, f"the kernel process {pid} is still running"
        await asyncio.sleep(0.1)


async def wait_file(path: Path, deadline: float = DEADLINE) -> str:
    end = time.monotonic() + deadline
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < end, f"{path} was never written"
        await asyncio.sleep(0.1)
    return path.read_text().strip()


# The first cell writes the kernel's pid into its working directory (the notebook's folder).
PID_CELL = "import os\nopen('kernel-pid.txt', 'w').write(str(os.getpid()))"


# -- a run that succeeds ------------------------------------------------------------------------


async def test_run_succeeds_with_injected_parameters(api, jp_root_dir):
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    nb = make_notebook(
        "# md: # Report",
        "print(f'hello {name} x{n}')",
        "n * scale",
        "",  # an empty code cell is not executed and not counted
        "import os\nprint(os.getcwd())",
        parameters="name = 'world'  # who to greet\nn: int = 1\nscale = 1.5",
    )
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="stale output from before\n")]
    write_notebook(folder, "sub/report.ipynb", nb)

    run = await start_run(api, pid, "sub/report.ipynb", {"name": "Ada \"Lovelace\"\n", "n": 3})
    assert run["parameters"] == {"name": "Ada \"Lovelace\"\n", "n": 3}
    assert run["progress"] == {"done": 0, "total": 5}  # parameters, injected, three code cells with source
    assert run["notebook"] == "sub/report.ipynb" and run["project"] == pid
    assert run["timeout"] == 3600.0 and run["error"] is None and run["finished_at"] is None

    done = await wait_finished(api, pid, run["id"])
    assert done["status"] == "succeeded", done
    assert done["error"] is None
    assert done["progress"] == {"done": 5, "total": 5}
    assert done["started_at"] and done["finished_at"] and done["started_at"] <= done["finished_at"]
    assert done["duration"] is not None and done["duration"] >= 0
    assert done["output"] == f"runs/report-{run['id']}.ipynb"

    copy = read_copy(folder, done)
    tags = [c.metadata.get("tags", []) for c in copy.cells]
    assert tags[0] == ["parameters"] and tags[1] == ["injected-parameters"]
    assert copy.cells[1].source == '# Parameters\nname = "Ada \\"Lovelace\\"\\n"\nn = 3\n'
    assert outputs_text(copy.cells[3]) == 'hello Ada "Lovelace"\n x3\n'  # the injected values, not the defaults
    assert outputs_text(copy.cells[4]) == "4.5"
    assert outputs_text(copy.cells[6]).strip() == str(folder / "sub")  # the kernel ran in the notebook's folder
    assert all(c.execution_count for c in copy.cells if c.cell_type == "code" and c.source.strip())
    assert copy.metadata["datadive_run"]["id"] == run["id"] and copy.metadata["datadive_run"]["status"] == "succeeded"
    source = nbformat.read(str(folder / "sub/report.ipynb"), as_version=4)
    assert len(source.cells) == len(nb.cells) and "injected-parameters" not in json.dumps(source)  # the source is untouched

    # Without parameters the defaults run as written (no injected cell).
    plain = await wait_finished(api, pid, (await start_run(api, pid, "sub/report.ipynb"))["id"])
    assert plain["status"] == "succeeded" and plain["parameters"] == {}
    copy = read_copy(folder, plain)
    assert outputs_text(copy.cells[2]) == "hello world x1\n"


async def test_run_leaves_the_servers_signal_handlers_alone(api, jp_root_dir):
    """nbclient's own execute() would replace SIGINT / SIGTERM handlers and then reset them to the defaults."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    project = await new_project(api)
    write_notebook(jp_root_dir / project["path"], "a.ipynb", make_notebook("1 + 1"))
    run = await wait_finished(api, project["id"], (await start_run(api, project["id"], "a.ipynb"))["id"])
    assert run["status"] == "succeeded"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# -- a run that fails ---------------------------------------------------------------------------


async def test_run_fails_with_the_failing_cell(api, jp_root_dir):
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    nb = make_notebook("x = 10\nprint('before')", "def f(v):\n    return v / 0\nf(x)", "print('never')")
    write_notebook(folder, "broken.ipynb", nb)
    run = await start_run(api, pid, "broken.ipynb")
    done = await wait_finished(api, pid, run["id"])
    assert done["status"] == "failed", done
    error = done["error"]
    assert error["code"] == "cell_error"
    assert error["cell_index"] == 1 and error["cell_id"] == nb.cells[1].id
    assert error["ename"] == "ZeroDivisionError" and error["evalue"] == "division by zero"
    assert "\x1b" not in error["traceback"]  # plain text, ANSI colours removed
    assert "ZeroDivisionError" in error["traceback"] and "return v / 0" in error["traceback"]
    assert "ZeroDivisionError" in error["message"]
    assert done["progress"] == {"done": 1, "total": 3}
    copy = read_copy(folder, done)  # outputs so far, also on failure
    assert outputs_text(copy.cells[0]) == "before\n"
    assert copy.cells[1].outputs[-1]["output_type"] == "error"
    assert copy.cells[2].outputs == [] and copy.cells[2].execution_count is None
    assert copy.metadata["datadive_run"]["status"] == "failed"


async def test_run_timeout_fails_with_a_clear_error(api, jp_root_dir):
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    write_notebook(folder, "slow.ipynb", make_notebook("print('start')", "import time\ntime.sleep(600)", "print('never')"))
    run = await start_run(api, pid, "slow.ipynb", timeout=3)
    assert run["timeout"] == 3
    done = await wait_finished(api, pid, run["id"])
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "timeout" and "time limit of 3 s" in done["error"]["message"]
    assert done["error"]["cell_index"] == 1
    assert outputs_text(read_copy(folder, done).cells[0]) == "start\n"


# -- cancel -------------------------------------------------------------------------------------


async def test_cancel_a_running_run(api, jp_root_dir):
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    write_notebook(folder, "long.ipynb", make_notebook(PID_CELL, "print('started', flush=True)\nimport time\ntime.sleep(600)", "print('never')"))
    run = await start_run(api, pid, "long.ipynb")
    kernel_pid = int(await wait_file(folder / "kernel-pid.txt"))
    assert alive(kernel_pid)
    await wait_until(api, pid, run["id"], lambda r: r["progress"]["done"] == 1, "past its first cell")

    reply = await api("DELETE", "projects", pid, "runs", run["id"])
    assert reply.status == 200, reply.text
    conforms("Run", reply.json)
    assert reply.json["status"] == "cancelled"
    error = reply.json["error"]
    assert error["code"] == "cancelled" and error["cell_index"] == 1 and reply.json["finished_at"]
    await wait_gone(kernel_pid)  # interrupted, then shut down
    assert (await get_run(api, pid, run["id"]))["status"] == "cancelled"
    copy = read_copy(folder, reply.json)
    assert "started" in outputs_text(copy.cells[1])  # the outputs so far
    assert copy.cells[2].outputs == []

    # A finished run cannot be cancelled.
    again = await api("DELETE", "projects", pid, "runs", run["id"])
    assert_error(again, 409, "run_finished", [])
    assert_error(await api("DELETE", "projects", pid, "runs", "nosuchrun"), 404, "run_not_found", [])
    assert_error(await api("GET", "projects", pid, "runs", "nosuchrun"), 404, "run_not_found", [])


# -- the queue ----------------------------------------------------------------------------------


class TestQueue:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, DatadiveApp={"max_concurrent_runs": 2})

    async def test_more_runs_than_slots_wait_in_order(self, api, jp_root_dir):
        project = await new_project(api)
        pid, folder = project["id"], jp_root_dir / project["path"]
        write_notebook(folder, "step.ipynb", make_notebook("import time\ntime.sleep(delay)\nprint(tag)", parameters="delay = 0.5\ntag = ''"))
        runs = [await start_run(api, pid, "step.ipynb", {"tag": f"run {i}"}) for i in range(5)]
        assert [r["status"] for r in runs[:2]] == ["running", "running"]
        assert [r["status"] for r in runs[2:]] == ["queued"] * 3

        # A queued run is just cancelled; it never starts and writes nothing.
        cancelled = await api("DELETE", "projects", pid, "runs", runs[4]["id"])
        assert cancelled.status == 200 and cancelled.json["status"] == "cancelled", cancelled.text
        assert cancelled.json["started_at"] is None and cancelled.json["output"] is None

        done = [await wait_finished(api, pid, r["id"]) for r in runs[:4]]
        assert [r["status"] for r in done] == ["succeeded"] * 4, done
        intervals = [(r["started_at"], r["finished_at"]) for r in done]
        assert max_in_flight(intervals) <= 2  # never more than the bound at once
        assert max_in_flight(intervals) == 2  # and the bound was used
        starts = [r["started_at"] for r in done]
        assert starts[2] >= min(r["finished_at"] for r in done[:2])  # the third waited for a slot
        assert sorted(starts) == starts  # first in, first out
        for i, r in enumerate(done):
            assert outputs_text(read_copy(folder, r).cells[2]) == f"run {i}\n"
        assert not (folder / "runs" / f"step-{runs[4]['id']}.ipynb").exists()

        # The list: newest first, paged.
        items, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = await api("GET", "projects", pid, "runs", params=params)
            assert page.status == 200 and set(page.json) == {"items", "next_cursor"}, page.text
            assert len(page.json["items"]) <= 2
            items += page.json["items"]
            cursor = page.json["next_cursor"]
            if not cursor:
                break
        assert [r["id"] for r in items] == [r["id"] for r in reversed(runs)]
        for item in items:
            conforms("Run", item)
        assert_error(await api("GET", "projects", pid, "runs", params={"cursor": "bogus"}), 400, "invalid_cursor", ["/cursor"])
        assert_error(await api("GET", "projects", pid, "runs", params={"limit": 0}), 400, "invalid", ["/limit"])


class TestQueueBound:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, DatadiveApp={"max_concurrent_runs": 1, "max_queued_runs": 1})

    async def test_a_full_queue_refuses_new_runs_until_it_has_room(self, api, jp_root_dir):
        project = await new_project(api)
        pid, folder = project["id"], jp_root_dir / project["path"]
        write_notebook(folder, "sleepy.ipynb", make_notebook("import time\ntime.sleep(60)"))
        running = await start_run(api, pid, "sleepy.ipynb")
        waiting = await start_run(api, pid, "sleepy.ipynb")
        assert (running["status"], waiting["status"]) == ("running", "queued")
        refused = await api("POST", "projects", pid, "runs", body={"notebook": "sleepy.ipynb"})
        assert_error(refused, 503, "run_queue_full", [])
        assert refused.headers.get("Retry-After") == "30"
        assert len((await api("GET", "projects", pid, "runs")).json["items"]) == 2  # the refused one left no row
        # Room again once the waiting run is cancelled.
        assert (await api("DELETE", "projects", pid, "runs", waiting["id"])).status == 200
        again = await start_run(api, pid, "sleepy.ipynb")
        assert again["status"] == "queued"
        for r in (again, running):
            assert (await api("DELETE", "projects", pid, "runs", r["id"])).status == 200
        await wait_finished(api, pid, running["id"])


# -- bad requests: refused before anything runs --------------------------------------------------


async def test_bad_requests_are_refused_before_anything_runs(api, jp_root_dir):
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    write_notebook(folder, "p.ipynb", make_notebook(PID_CELL, parameters="n: int = 1\nlabel = 'x'\nratio = 0.5"))
    write_notebook(folder, "plain.ipynb", make_notebook(PID_CELL))
    bad_kernel = make_notebook(PID_CELL)
    bad_kernel.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "Nope", "language": "python"}
    write_notebook(folder, "other-kernel.ipynb", bad_kernel)
    broken = make_notebook(PID_CELL, parameters="n = = 1")
    write_notebook(folder, "broken-params.ipynb", broken)

    cases = [
        ({"notebook": "p.ipynb", "parameters": {"n": "three", "label": 5, "nope": 1}}, 400, "invalid_parameters",
         ["/parameters/label", "/parameters/n", "/parameters/nope"]),
        ({"notebook": "p.ipynb", "parameters": {"n": 1.5}}, 400, "invalid_parameters", ["/parameters/n"]),
        ({"notebook": "plain.ipynb", "parameters": {"n": 1}}, 400, "invalid_parameters", ["/parameters/n"]),
        ({"notebook": "missing.ipynb"}, 404, "notebook_not_found", ["/notebook"]),
        ({"notebook": "../escape.ipynb"}, 400, "invalid_path", ["/notebook"]),
        ({"notebook": "other-kernel.ipynb"}, 400, "no_such_kernel", ["/notebook"]),
        ({"notebook": "broken-params.ipynb"}, 400, "invalid_notebook_template", ["/notebook"]),
        ({"notebook": "p.ipynb", "timeout": 0}, 400, "invalid", ["/timeout"]),
        ({"notebook": "p.ipynb", "parameters": [1]}, 400, "invalid", ["/parameters"]),
        ({"notebook": "p.ipynb", "extra": 1}, 400, "invalid", ["/extra"]),
        ({}, 400, "invalid", ["/notebook"]),
    ]
    for body, status, code, paths in cases:
        reply = await api("POST", "projects", pid, "runs", body=body)
        assert_error(reply, status, code, paths)
    assert_error(await api("POST", "projects", "nosuchproject", "runs", body={"notebook": "p.ipynb"}), 404, "project_not_found", [])
    huge = await api("POST", "projects", pid, "runs", raw_body='{"notebook": "p.ipynb", "timeout": 1e400}')  # reads as infinity
    assert_error(huge, 400, "invalid", ["/timeout"])

    listed = await api("GET", "projects", pid, "runs")
    assert listed.json == {"items": [], "next_cursor": None}  # nothing was recorded
    assert not (folder / "kernel-pid.txt").exists() and not (folder / "runs").exists()  # nothing ran, nothing was written


# -- roles --------------------------------------------------------------------------------------


class TestRoles:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return multi_user_config(jp_data_dir)

    async def test_viewer_reads_editor_runs_stranger_sees_nothing(self, api, jp_root_dir):
        project = await new_project(api, "Shared", user="alice")
        pid, folder = project["id"], jp_root_dir / project["path"]
        for user, role in (("bob", "viewer"), ("carol", "editor")):
            assert (await api("PUT", "projects", pid, "members", user, body={"role": role}, user="alice")).status == 200
        write_notebook(folder, "a.ipynb", make_notebook("import time\ntime.sleep(0.2)", parameters="n = 1"))

        assert_error(await api("POST", "projects", pid, "runs", body={"notebook": "a.ipynb"}, user="bob"), 403, "role_required", [])
        run = await start_run(api, pid, "a.ipynb", {"n": 2}, user="carol")
        assert run["created_by"] == "carol"
        assert (await api("GET", "projects", pid, "runs", run["id"], user="bob")).status == 200
        listed = await api("GET", "projects", pid, "runs", user="bob")
        assert [r["id"] for r in listed.json["items"]] == [run["id"]]
        assert_error(await api("DELETE", "projects", pid, "runs", run["id"], user="bob"), 403, "role_required", [])
        for method in ("GET", "DELETE"):
            assert_error(await api(method, "projects", pid, "runs", run["id"], user="dave"), 404, "project_not_found", [])
        assert_error(await api("GET", "projects", pid, "runs", user="dave"), 404, "project_not_found", [])
        assert_error(await api("POST", "projects", pid, "runs", body={"notebook": "a.ipynb"}, user="dave"), 404, "project_not_found", [])
        done = await wait_finished(api, pid, run["id"], user="bob")
        assert done["status"] == "succeeded"
        # The owner cancels too (an editor's right): a finished run answers 409.
        assert_error(await api("DELETE", "projects", pid, "runs", run["id"], user="alice"), 409, "run_finished", [])


def _no_kernel_authorizer(asynchronous: bool = False):
    from jupyter_server.auth.authorizer import Authorizer

    class _NoKernels(Authorizer):
        def is_authorized(self, handler, user, action, resource):
            return not (resource == "kernels" and action == "execute")

    class _AsyncNoKernels(Authorizer):  # jupyter_server awaits is_authorized; so must the run handler
        async def is_authorized(self, handler, user, action, resource):
            return not (resource == "kernels" and action == "execute")

    return _AsyncNoKernels if asynchronous else _NoKernels


class TestKernelPermission:
    @pytest.fixture(params=[False, True], ids=["sync", "async"])
    def jp_server_config(self, jp_data_dir, request):
        return base_config(jp_data_dir, ServerApp={"authorizer_class": _no_kernel_authorizer(request.param)})

    async def test_a_run_needs_permission_to_execute_in_kernels(self, api, jp_root_dir):
        project = await new_project(api)
        write_notebook(jp_root_dir / project["path"], "a.ipynb", make_notebook("1"))
        reply = await api("POST", "projects", project["id"], "runs", body={"notebook": "a.ipynb"})
        assert_error(reply, 403, "kernel_forbidden", [])
        assert (await api("GET", "projects", project["id"], "runs")).json["items"] == []


# -- server stop and restart --------------------------------------------------------------------


async def test_server_stop_interrupts_runs_and_shuts_kernels_down(api, jp_serverapp, jp_root_dir):
    app = ext_app(jp_serverapp)
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    write_notebook(folder, "long.ipynb", make_notebook(PID_CELL, "import time\ntime.sleep(600)"))
    running = await start_run(api, pid, "long.ipynb")
    kernel_pid = int(await wait_file(folder / "kernel-pid.txt"))
    app.runs.max_concurrent = 1
    queued = await start_run(api, pid, "long.ipynb")
    assert queued["status"] == "queued"

    await app.runs.stop()  # what the server does when it stops
    await wait_gone(kernel_pid)
    first, second = await get_run(api, pid, running["id"]), await get_run(api, pid, queued["id"])
    assert first["status"] == "interrupted" and first["error"]["code"] == "interrupted" and first["error"]["cell_index"] == 1
    assert second["status"] == "interrupted" and second["started_at"] is None
    assert read_copy(folder, first).cells[0].execution_count == 1  # the copy holds the outputs so far
    assert_error(await api("POST", "projects", pid, "runs", body={"notebook": "long.ipynb"}), 503, "unavailable", [])


def _crashed_store(db: Path, pid: str, owner: str, folder: str) -> dict:
    """The SQLite file as a server killed in the middle of a run leaves it: a run `running`, one `queued`."""
    store = Store(db)
    store.migrate()
    now = utcnow()
    with store.transaction():
        store.db.insert("projects", {"id": pid, "name": "Crashed", "description": "", "path": folder, "owner": owner,
                                     "created_at": now, "updated_at": now})
        store.db.insert("members", {"project_id": pid, "user": owner, "role": "owner", "added_at": now})
        for rid, status, started in (("r-running", "running", now), ("r-queued", "queued", None)):
            store.db.insert("runs", {"id": rid, "project_id": pid, "notebook": "a.ipynb", "status": status, "parameters": '{"n": 2}',
                                     "timeout": 60.0, "output": "runs/a-r-running.ipynb" if started else None, "done": 1, "total": 3,
                                     "created_by": owner, "created_at": now, "started_at": started, "finished_at": None,
                                     "updated_at": now, "error": None})
    store.close()
    return {"updated_at": now}


class TestRestartAfterACrash:
    """A new server on the SQLite file of one that died reports its unfinished runs `interrupted`."""

    @pytest.fixture
    def jp_server_config(self, jp_data_dir, jp_root_dir):
        db = jp_data_dir / "datadive-test.sqlite"
        (jp_root_dir / "projects" / "crashed").mkdir(parents=True)
        (jp_root_dir / "projects" / "crashed" / "datadive-project.json").write_text(json.dumps({"id": "crashedproj"}))
        self.left = _crashed_store(db, "crashedproj", "owner", "projects/crashed")
        return base_config(jp_data_dir, DatadiveApp={"owner_name": "owner"})

    async def test_unfinished_runs_are_interrupted(self, api):
        items = (await api("GET", "projects", "crashedproj", "runs")).json["items"]
        assert [(r["id"], r["status"]) for r in items] == [("r-queued", "interrupted"), ("r-running", "interrupted")]
        running = next(r for r in items if r["id"] == "r-running")
        conforms("Run", running)
        assert running["error"]["code"] == "interrupted" and "running" in running["error"]["message"]
        assert running["finished_at"] == self.left["updated_at"]  # the last time the dead server recorded it
        assert running["progress"] == {"done": 1, "total": 3} and running["parameters"] == {"n": 2}
        queued = next(r for r in items if r["id"] == "r-queued")
        assert "queue" in queued["error"]["message"] and queued["duration"] is None
        assert_error(await api("DELETE", "projects", "crashedproj", "runs", "r-running"), 409, "run_finished", [])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def killed_server(tmp_path, jp_root_dir, jp_data_dir):
    """A ``jupyter server`` process on this test's root and SQLite file, SIGKILLed in the middle of a run."""
    db = jp_data_dir / "datadive-test.sqlite"
    tmp_path = tmp_path / "killed-server"
    tmp_path.mkdir()
    others = ("jupyterlab", "jupyter_server_ydoc", "jupyter_lsp", "notebook_shim", "jupyter_server_terminals", "jupyter_server_fileid")
    for d in ("config", "data", "runtime"):
        (tmp_path / d).mkdir()
    config = {
        "ServerApp": {"jpserver_extensions": {"datadive_ext": True, **{name: False for name in others}}},
        "DatadiveApp": {"db_path": str(db), "owner_name": "owner"},
        "ContentsManager": {"delete_to_trash": False},
    }
    (tmp_path / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    port, token = _free_port(), "crash-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATADIVE_", "JUPYTERHUB_"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={jp_root_dir}"]
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/api/datadive/"
    headers = {"Authorization": f"token {token}"}
    kernel_pid = None
    try:
        end = time.monotonic() + DEADLINE
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "openapi.json", headers=headers, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < end, "the server did not start:\n" + log.read_text()
            time.sleep(0.2)
        project = httpx.post(url + "projects", json={"name": "Doomed"}, headers=headers, timeout=30).json()
        folder = jp_root_dir / project["path"]
        write_notebook(folder, "long.ipynb", make_notebook(PID_CELL, "import time\ntime.sleep(600)"))
        run = httpx.post(url + f"projects/{project['id']}/runs", json={"notebook": "long.ipynb"}, headers=headers, timeout=30).json()
        while not (folder / "kernel-pid.txt").exists() or not (folder / "kernel-pid.txt").read_text().strip():
            assert time.monotonic() < end, "the run never started:\n" + log.read_text()
            time.sleep(0.1)
        kernel_pid = int((folder / "kernel-pid.txt").read_text())
        while httpx.get(url + f"projects/{project['id']}/runs/{run['id']}", headers=headers, timeout=30).json()["progress"]["done"] < 1:
            assert time.monotonic() < end, "the run never passed its first cell"
            time.sleep(0.1)
        proc.kill()  # a crash: no cleanup at all
        proc.wait(timeout=30)
        yield {"project": project, "run": run, "folder": folder, "kernel_pid": kernel_pid}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if kernel_pid is not None and alive(kernel_pid):
            os.kill(kernel_pid, signal.SIGKILL)  # the dead server's kernel, orphaned


class TestRestartAfterAKill:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir, killed_server):
        return base_config(jp_data_dir, DatadiveApp={"owner_name": "owner"})

    async def test_a_run_of_a_killed_server_is_interrupted(self, api, killed_server):
        pid, rid = killed_server["project"]["id"], killed_server["run"]["id"]
        run = await get_run(api, pid, rid)
        assert run["status"] == "interrupted", run
        assert run["error"]["code"] == "interrupted"
        assert run["started_at"] and run["finished_at"] and run["progress"]["total"] == 2
        assert run["output"] == f"runs/long-{rid}.ipynb"
        assert (killed_server["folder"] / run["output"]).is_file()  # the copy written while it ran
