"""Headless runs through the Python client and the ``datadive run`` command, against a real server with real kernels.

The server is pytest-jupyter's, in this process, on a real port; the synchronous
client and click's ``CliRunner`` run in a worker thread while the server's loop
answers. Waits poll with a generous deadline; nothing asserts how fast a run goes.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from datadive_ext.client import BadRequest, Conflict, NotFound
from datadive_ext.client.cli import cli

from test_cli import NO_ENV, Live, live  # noqa: F401,E402  (live: the fixture, a real server on a port)

DEADLINE = 120.0


async def in_thread(fn):
    return await asyncio.to_thread(fn)


def error_of(exc_info, cls, status, code, paths):
    err = exc_info.value
    assert type(err) is cls, repr(err)
    assert err.status == status and err.code == code and err.message, repr(err)
    assert sorted(err.paths) == sorted(paths), err.errors
    return err


def notebook(*sources, parameters=None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def setup_project(live: Live, name: str) -> tuple[str, Path]:
    """A project with ``square.ipynb`` (parameter ``n``), ``broken.ipynb`` (fails in cell 1) and ``slow.ipynb``."""
    with live.client() as dd:
        project = dd.create_project(name)
    folder = live.root / project["path"]
    nbformat.write(notebook("print('square', n * n)", parameters="n: int = 2"), str(folder / "square.ipynb"))
    nbformat.write(notebook("x = 1", "raise ValueError('bad value ' + str(x))", "print('never')"), str(folder / "broken.ipynb"))
    nbformat.write(notebook("import time\ntime.sleep(600)"), str(folder / "slow.ipynb"))
    return project["id"], folder


def stdout_of(folder: Path, run: dict, index: int) -> str:
    nb = nbformat.read(str(folder / run["output"]), as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[index].outputs if o.get("output_type") == "stream")


# -- the Python client ------------------------------------------------------------------------


async def test_client_runs(live):
    def scenario():
        pid, folder = setup_project(live, "Client runs")
        with live.client() as dd:
            run = dd.create_run(pid, "square.ipynb", {"n": 7}, timeout=300)
            assert run["status"] in ("queued", "running") and run["timeout"] == 300 and run["parameters"] == {"n": 7}
            seen = []
            done = dd.wait_run(pid, run["id"], poll=0.1, timeout=DEADLINE, on_update=seen.append)
            assert done["status"] == "succeeded" and done["progress"] == {"done": 3, "total": 3}, done  # parameters, injected-parameters, print
            assert seen[-1] == done and dd.get_run(pid, run["id"]) == done
            assert stdout_of(folder, done, 2) == "square 49\n"  # cell 1 is the injected-parameters cell

            failed = dd.wait_run(pid, dd.create_run(pid, "broken.ipynb")["id"], poll=0.1, timeout=DEADLINE)
            assert failed["status"] == "failed"
            error = failed["error"]
            assert (error["code"], error["cell_index"], error["ename"], error["evalue"]) == ("cell_error", 1, "ValueError", "bad value 1")
            assert "ValueError: bad value 1" in error["traceback"] and "\x1b" not in error["traceback"]

            # Refused before anything runs: every bad parameter at its path; a missing notebook at /notebook.
            with pytest.raises(BadRequest) as e:
                dd.create_run(pid, "square.ipynb", {"n": "seven", "m": 1})
            error_of(e, BadRequest, 400, "invalid_parameters", ["/parameters/m", "/parameters/n"])
            with pytest.raises(NotFound) as e:
                dd.create_run(pid, "nope.ipynb")
            error_of(e, NotFound, 404, "notebook_not_found", ["/notebook"])
            with pytest.raises(NotFound) as e:
                dd.get_run(pid, "nosuchrun")
            error_of(e, NotFound, 404, "run_not_found", [])

            # Cancel: a running run ends `cancelled`; cancelling it again is a conflict.
            slow = dd.create_run(pid, "slow.ipynb")
            with pytest.raises(TimeoutError):
                dd.wait_run(pid, slow["id"], poll=0.1, timeout=0.5)
            cancelled = dd.cancel_run(pid, slow["id"])
            assert cancelled["status"] == "cancelled" and cancelled["error"]["code"] == "cancelled"
            with pytest.raises(Conflict) as e:
                dd.cancel_run(pid, slow["id"])
            error_of(e, Conflict, 409, "run_finished", [])

            ids = [r["id"] for r in dd.iter_runs(pid, page_size=1)]
            assert ids == [slow["id"], failed["id"], run["id"]]  # newest first, page after page
            page = dd.list_runs(pid, limit=2)
            assert [r["id"] for r in page["items"]] == ids[:2] and page["next_cursor"]

    await in_thread(scenario)


# -- the command line -----------------------------------------------------------------------


def cmd(live: Live, *args, input=None):
    return CliRunner().invoke(cli, ["--url", live.url, "--token", live.token, *map(str, args)], input=input, env=NO_ENV)


def exited(result, code: int, *in_stderr):
    details = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info and result.exit_code not in (0, 1, None) else ""
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}\n{details}"
    for text in in_stderr:
        assert text in result.stderr, (text, result.stderr)
    return result


async def test_cli_run(live):
    def scenario():
        pid, folder = setup_project(live, "CLI runs")

        # A run that succeeds: a table, exit 0; with --json the API's run.
        shown = exited(cmd(live, "run", pid, "square.ipynb", "-P", "n=5"), 0).stdout
        assert "succeeded" in shown and "3/3" in shown and "runs/square-" in shown
        run = json.loads(exited(cmd(live, "run", pid, "square.ipynb", "--parameters", '{"n": 6}', "--json"), 0).stdout)
        assert run["status"] == "succeeded" and run["parameters"] == {"n": 6}
        assert stdout_of(folder, run, 2) == "square 36\n"

        # A run that fails: exit 1, the failing cell and its traceback.
        result = exited(cmd(live, "run", pid, "broken.ipynb"), 1, "failed (cell_error)")
        assert "ValueError: bad value 1" in result.stdout and "1 (id " in result.stdout
        failed = json.loads(exited(cmd(live, "--json", "run", pid, "broken.ipynb"), 1).stdout)
        assert failed["status"] == "failed" and failed["error"]["cell_index"] == 1

        # Refused before it runs: exit 4 with every path; --json prints the error object on stderr.
        exited(cmd(live, "run", pid, "square.ipynb", "-P", "n=x", "-P", "m=1"), 4, "(400 invalid_parameters)",
               "  /parameters/n: ", "  /parameters/m: ")
        body = json.loads(exited(cmd(live, "run", pid, "square.ipynb", "-P", "n=x", "--json"), 4).stderr.strip().splitlines()[-1])
        assert body["status"] == 400 and body["code"] == "invalid_parameters" and [e["path"] for e in body["errors"]] == ["/parameters/n"]
        exited(cmd(live, "run", pid, "nope.ipynb"), 6, "(404 notebook_not_found)", "  /notebook: ")
        exited(cmd(live, "run", pid, "square.ipynb", "-P", "novalue"), 2)
        exited(cmd(live, "run", pid, "square.ipynb", "--run-timeout", "0"), 2)

        # --no-wait: the run as accepted, exit 0; it goes on on the server.
        queued = json.loads(exited(cmd(live, "run", pid, "slow.ipynb", "--no-wait", "--json"), 0).stdout)
        assert queued["status"] in ("queued", "running")
        with live.client() as dd:
            assert dd.cancel_run(pid, queued["id"])["status"] == "cancelled"

        # A time limit: the run fails with `timeout`.
        timed = json.loads(exited(cmd(live, "run", pid, "slow.ipynb", "--run-timeout", "2", "--json"), 1).stdout)
        assert timed["status"] == "failed" and timed["error"]["code"] == "timeout"

    await in_thread(scenario)
