"""Headless parameterised runs of project notebooks: a FIFO queue, a bounded number of kernels, rows in SQLite.

A run is requested with a notebook of a project and values for its papermill-style
``parameters`` cell. The request is checked completely before anything runs (the
notebook exists, the values fit its inputs schema, its kernel is installed); the
notebook is read once, then, with an ``injected-parameters`` cell, kept in memory
until the run's turn comes. At most ``max_concurrent`` runs execute at once; the
others wait in arrival order (``queued``).

Each run gets its own kernel (the notebook's kernelspec, through the server's
kernel spec manager), started in the notebook's folder on disk when the contents
manager keeps files under a ``root_dir`` (else in a temporary folder), and its code
cells are executed one by one with nbclient's async API. The executed copy goes to
``runs/<stem>-<run id>.ipynb`` in the project folder through the contents manager:
first when the run starts, then at most every ``SAVE_INTERVAL`` seconds between
cells, and at the end whatever the end (outputs so far on a failure, a cancel, a
timeout or a server stop).

The cells are driven here one by one instead of through ``NotebookClient.execute``:
nbclient's ``async_setup_kernel`` installs its own SIGINT / SIGTERM handlers on the
event loop and, when it is done, *removes* them, which leaves the Jupyter server
with the default handlers (SIGTERM then kills it without its cleanup). Starting the
kernel ourselves also lets a cancel interrupt it, then shut it down.

Ending a run:

- a cell raises: ``failed``, with the cell's index, id, ``ename``, ``evalue`` and
  its traceback as plain text;
- ``DELETE`` (cancel): the kernel is interrupted, the cell gets ``INTERRUPT_GRACE``
  seconds to stop, then the kernel is shut down: ``cancelled``. A queued run is
  just marked ``cancelled``;
- the time limit (the request's ``timeout``, default ``run_timeout``) passes: the
  same as a cancel, but ``failed`` with the code ``timeout``;
- the server stops (``stop``): kernels are shut down at once, runs end
  ``interrupted``; a server that died leaves rows ``queued`` / ``running``, and the
  next one to start on the same store marks them ``interrupted`` (``start``).

Rows are written through ``Store.write`` (the worker pool); the progress of a
running run is kept in memory and written with each saved copy.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import os
import posixpath
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import nbformat
from jupyter_core.utils import ensure_async

from ..errors import Conflict, Invalid, NotFound, Unavailable, contents_error, environment_error
from ..nbtemplates import inject, read_parameters, validate_values
from ..offload import run_blocking
from ..pagination import Page, decode_cursor, encode_cursor
from ..store import utcnow

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
FINISHED = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
RUNS_FOLDER = "runs"  # in the project folder: the executed copies
SAVE_INTERVAL = 2.0  # seconds between two copies written while a run goes
INTERRUPT_GRACE = 5.0  # seconds a cell has to stop after an interrupt before its kernel is shut down
STARTUP_TIMEOUT = 60.0  # seconds a kernel has to answer after it started
SHUTDOWN_WAIT = 5.0  # seconds a kernel has to shut down cleanly before it is killed
STOP_WAIT = 15.0  # seconds the server's stop waits for its runs to write their end
OFFLOAD_CELLS = 200  # notebooks of more cells are copied in the worker pool
RUN_METADATA = "datadive_run"  # notebook metadata of an executed copy: which run made it
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def plain_text(text: str) -> str:
    """Text without ANSI escape sequences (colours, cursor moves)."""
    return ANSI.sub("", text or "")


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start:
        return None
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    t1 = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.fromisoformat(utcnow().replace("Z", "+00:00"))
    return max(0.0, round((t1 - t0).total_seconds(), 3))


def _stem(notebook: str) -> str:
    name = posixpath.basename(notebook)
    return name[: -len(".ipynb")] if name.endswith(".ipynb") else name


def _code_cells(nb) -> list[int]:
    """Indexes of the cells a run executes: code cells with some source (nbclient skips empty ones)."""
    return [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code" and (c.get("source") or "").strip()]


def _prepare(nb, values: dict):
    """(worker pool) The notebook to run: its parameters checked, the values injected, no outputs."""
    try:
        spec = read_parameters(nb)
    except Invalid as exc:  # the parameters cell does not parse: a problem of the notebook, named at /notebook
        raise Invalid(exc.message, [{"path": "/notebook", "message": f"{e['path']}: {e['message']}"} for e in exc.errors],
                      code=exc.code) from None
    validate_values(spec, values, path="/parameters")  # no parameters cell: any value is refused
    # As papermill: an injected-parameters cell only when values are given (else the defaults run as written).
    prepared = inject(nb, values, spec) if values else nb
    _clear_outputs(prepared)
    return prepared


def _clear_outputs(nb) -> None:
    """Outputs of the source notebook are not this run's: a cell not reached shows none."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None


@dataclass
class _Active:
    """A run this server has accepted and not yet finished (its state lives here while it goes)."""

    id: str
    project: str
    notebook: str
    user: str
    nb: nbformat.NotebookNode
    kernel_name: str
    timeout: float
    total: int
    status: str = "queued"
    done: int = 0
    output: str | None = None
    started_at: str | None = None
    current: int | None = None  # index of the cell executing
    stop: str | None = None  # why it is being stopped: "cancel", "timeout", "shutdown", "deleted"
    stopped_by: str | None = None
    km: object = None
    kc: object = None
    cwd_temp: str | None = None
    starting: asyncio.Future | None = None  # the kernel's start (never cancelled half-way: a process may exist)
    save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one write of the copy at a time
    last_save: float = 0.0
    t0: float = 0.0  # time.monotonic() when it took its slot
    ending: bool = False  # its cells are over: a cancel now only waits for the end
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


class RunService:
    def __init__(self, store, projects, nbtemplates, *, max_concurrent: int = 2, default_timeout: float = 3600.0, log=None,
                 max_queued: int = 100):
        self.store = store
        self.projects = projects
        self.nbtemplates = nbtemplates  # the notebook template service (not needed by runs so far)
        self.max_concurrent = max(1, int(max_concurrent))
        self.max_queued = max(0, int(max_queued))  # each queued run holds its prepared notebook in memory
        self.default_timeout = float(default_timeout)
        self.log = log
        self._queue: list[_Active] = []  # FIFO of runs waiting for a slot
        self._running: dict[str, _Active] = {}
        self._stopping = False
        self._started: asyncio.Future | None = None  # the settling of rows a dead server left, once

    @property
    def cm(self):
        return self.projects.cm

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Runs left ``queued`` or ``running`` by a server that died are ``interrupted`` (once; every request waits for it).

        Called when the server starts; a request that comes first (or a server that
        never calls it) does it itself, so no answer ever shows a dead server's run
        as ``running``.
        """
        if self._started is None:
            self._started = asyncio.ensure_future(self._settle())
        await asyncio.shield(self._started)

    async def _settle(self) -> None:
        count = await self.store.write(self._mark_stale, {a.id for a in [*self._queue, *self._running.values()]})
        if count and self.log:
            self.log.warning("Datadive: %d run(s) left unfinished by a previous server marked interrupted", count)

    async def _ready(self) -> None:
        if self._started is None or not self._started.done():
            await self.start()
        elif self._started.exception() is not None:  # a failed settling (a locked file): tried again
            self._started = None
            await self.start()

    def _mark_stale(self, ours: set) -> int:
        rows = self.store.query("SELECT id, status, started_at, updated_at FROM runs WHERE status IN ('queued', 'running')")
        rows = [r for r in rows if r["id"] not in ours]
        for row in rows:
            was = "running" if row["status"] == "running" else "waiting in the queue"
            error = {"code": "interrupted", "message": f"the server stopped while the run was {was}; it did not finish",
                     "ename": None, "evalue": None, "cell_index": None, "cell_id": None, "traceback": None}
            self.store.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, updated_at = ?, error = ? WHERE id = ?",
                [row["updated_at"], utcnow(), json.dumps(error), row["id"]],
            )
        return len(rows)

    async def stop(self) -> None:
        """The server is stopping: queued runs and running ones end ``interrupted``, their kernels shut down."""
        self._stopping = True
        queued, self._queue = self._queue, []
        for active in queued:
            await self._end_queued(active, "interrupted", self._error("interrupted", "the server stopped before the run started"))
        running = list(self._running.values())
        for active in running:
            self._request_stop(active, "shutdown")
        if running:
            await asyncio.wait([asyncio.ensure_future(a.finished.wait()) for a in running], timeout=STOP_WAIT)

    # -- requests --------------------------------------------------------------------

    async def create(self, pid: str, user: str, body: dict) -> dict:
        """Checks the request completely, then queues the run; returns it (``queued`` or ``running``)."""

        await self._ready()
        if self._stopping:
            raise Unavailable("the server is stopping: no new runs", headers={"Retry-After": "5"})
        row, _ = await self.projects.folder(pid, user, "editor")
        if len(self._queue) >= self.max_queued and len(self._running) >= self.max_concurrent:
            raise Unavailable(f"{len(self._queue)} runs are waiting already (the most this server queues); try again later",
                              headers={"Retry-After": "30"}, code="run_queue_full")
        notebook = body["notebook"]
        path = self.projects.notebook_path(row, notebook, "/notebook")
        if not await self.projects.is_notebook(path):
            raise NotFound(f"no notebook {notebook!r} in this project", [{"path": "/notebook", "message": "no such notebook"}],
                           code="notebook_not_found")
        nb = await self._read(path)
        values = body.get("parameters") or {}
        # Parsing the parameters cell, checking the values, the copy with them injected: all grow
        # with the notebook and the request, so they run in the worker pool.
        prepared = await run_blocking(_prepare, nb, values)
        kernel_name = self._kernel_name(prepared)
        timeout = float(body["timeout"]) if body.get("timeout") is not None else self.default_timeout
        if not math.isfinite(timeout):  # JSON's 1e400 reads as infinity
            raise Invalid("the time limit must be a finite number of seconds", [{"path": "/timeout", "message": "must be finite"}])
        active = _Active(
            id=uuid.uuid4().hex[:16], project=pid, notebook=notebook, user=user, nb=prepared, kernel_name=kernel_name,
            timeout=timeout, total=len(_code_cells(prepared)),
        )
        now = utcnow()
        await self.store.write(self.store.db.insert, "runs", {
            "id": active.id, "project_id": pid, "notebook": notebook, "status": "queued",
            "parameters": json.dumps(values, allow_nan=False), "timeout": timeout, "output": None, "done": 0,
            "total": active.total, "created_by": user, "created_at": now, "started_at": None, "finished_at": None,
            "updated_at": now, "error": None,
        })
        self._queue.append(active)
        self._pump()
        return self._view(self._row(active.id))

    async def list(self, pid: str, user: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        await self._ready()
        self.projects.require(pid, user, "viewer")
        sql, params = ["SELECT * FROM runs WHERE project_id = ?"], [pid]
        if cursor:
            (seq,) = decode_cursor(cursor, (int,))
            sql.append("AND seq < ?")
            params.append(seq)
        sql.append("ORDER BY seq DESC LIMIT ?")
        params.append(limit + 1)
        rows = self.store.query(" ".join(sql), params)
        next_cursor = encode_cursor([rows[limit - 1]["seq"]]) if len(rows) > limit else None
        return Page([self._view(r) for r in rows[:limit]], next_cursor)

    async def get(self, pid: str, user: str, rid: str) -> dict:
        await self._ready()
        self.projects.require(pid, user, "viewer")
        return self._view(self._project_row(pid, rid))

    async def cancel(self, pid: str, user: str, rid: str) -> dict:
        """Cancels a queued or running run; 409 ``run_finished`` for one that has ended."""
        await self._ready()
        self.projects.require(pid, user, "editor")
        row = self._project_row(pid, rid)
        queued = next((a for a in self._queue if a.id == rid), None)
        if queued is not None:
            self._queue.remove(queued)
            await self._end_queued(queued, "cancelled", self._error("cancelled", f"cancelled by {user} before it started"))
        elif rid in self._running:
            active = self._running[rid]
            self._request_stop(active, "cancel", user)
            # The interrupt, its grace and the shutdown are each bounded: the answer normally says `cancelled`.
            await asyncio.wait([asyncio.ensure_future(active.finished.wait())], timeout=INTERRUPT_GRACE + SHUTDOWN_WAIT + 10)
        elif row["status"] in FINISHED:
            raise Conflict(f"the run has already finished ({row['status']}): there is nothing to cancel", code="run_finished")
        else:  # a row left unfinished by another server process on the same store
            raise Conflict("the run is not executing on this server: it cannot be cancelled here", code="run_not_here")
        return self._view(self._project_row(pid, rid))

    # -- reading ---------------------------------------------------------------------

    def _row(self, rid: str) -> dict | None:
        return self.store.one("SELECT * FROM runs WHERE id = ?", [rid])

    def _project(self, pid: str) -> dict | None:
        """The project's row now (its folder may have moved since the run was requested), None once deleted."""
        return self.store.one("SELECT id, path FROM projects WHERE id = ?", [pid])

    def _project_row(self, pid: str, rid: str) -> dict:
        row = self._row(rid) if isinstance(rid, str) else None
        if row is None or row["project_id"] != pid:
            raise NotFound(f"no run {rid!r} in this project", code="run_not_found")
        return row

    def _view(self, row: dict) -> dict:
        active = self._running.get(row["id"])
        status, done, started, output = row["status"], row["done"], row["started_at"], row["output"]
        if active is not None and row["status"] not in FINISHED:
            status, done, started, output = active.status, active.done, active.started_at or started, active.output or output
        finished = row["finished_at"] if status in FINISHED else None
        return {
            "id": row["id"],
            "project": row["project_id"],
            "notebook": row["notebook"],
            "status": status,
            "progress": {"done": done, "total": row["total"]},
            "parameters": json.loads(row["parameters"] or "{}"),
            "timeout": row["timeout"],
            "output": output,
            "created_by": row["created_by"],
            "created_at": row["created_at"],
            "started_at": started,
            "finished_at": finished,
            "duration": _seconds(started, finished) if started and (finished or status == "running") else None,
            "error": json.loads(row["error"]) if row["error"] else None,
        }

    async def _read(self, path: str) -> nbformat.NotebookNode:
        try:
            model = await ensure_async(self.cm.get(path, content=True, type="notebook", format="json"))
        except Exception as exc:
            raise contents_error(exc, reading=True) or exc
        nb = model["content"]
        if len(nb.get("cells") or ()) > OFFLOAD_CELLS:
            return await run_blocking(nbformat.from_dict, nb)
        return nbformat.from_dict(nb)

    def _kernel_name(self, nb) -> str:
        name = (nb.metadata.get("kernelspec") or {}).get("name")
        if not name:
            km = getattr(self.projects, "km", None)
            return getattr(km, "default_kernel_name", None) or "python3"
        ksm = getattr(self.projects, "ksm", None)
        if ksm is not None:
            try:
                ksm.get_kernel_spec(name)
            except Exception:
                raise Invalid(f"the notebook's kernel {name!r} is not installed on this server",
                              [{"path": "/notebook", "message": f"its kernel {name!r} is not installed on this server"}],
                              code="no_such_kernel") from None
        return name

    # -- the queue -------------------------------------------------------------------

    def _pump(self) -> None:
        """Starts queued runs, oldest first, while there are free slots."""
        while self._queue and len(self._running) < self.max_concurrent and not self._stopping:
            active = self._queue.pop(0)
            active.status = "running"
            active.started_at = utcnow()
            active.t0 = time.monotonic()
            self._running[active.id] = active
            active.task = asyncio.ensure_future(self._supervise(active))

    def _request_stop(self, active: _Active, reason: str, user: str | None = None) -> None:
        if active.ending:
            return
        if active.stop is None or reason == "shutdown":
            active.stop, active.stopped_by = reason, user
        active.stop_requested.set()

    async def _end_queued(self, active: _Active, status: str, error: dict) -> None:
        now = utcnow()
        await self._write_end(active.id, status, 0, None, now, error)
        active.status = status
        active.finished.set()

    # -- one run ---------------------------------------------------------------------

    async def _supervise(self, active: _Active) -> None:
        """Runs ``active`` to its end, whatever the end, and frees its slot."""
        try:
            await self._run(active)
        except Exception:
            if self.log:
                self.log.exception("Datadive: run %s ended with an internal error", active.id)
            try:
                await self._write_end(active.id, "failed", active.done, active.output, utcnow(),
                                      self._error("internal_error", "the run ended with an internal error; the server log has the details"))
            except Exception:
                if self.log:
                    self.log.exception("Datadive: run %s: its end could not be recorded", active.id)
        finally:
            self._running.pop(active.id, None)
            if active.status not in FINISHED:
                active.status = "failed"
            active.finished.set()
            active.nb = None  # the notebook is in the copy now
            self._pump()

    async def _run(self, active: _Active) -> None:
        outcome: BaseException | None = None
        try:
            row = self._project(active.project)
            if row is None:
                raise _ProjectGone()
            active.output = await self._output_path(row, active)
            await self.store.write(
                self.store.execute, "UPDATE runs SET status = 'running', started_at = ?, output = ?, updated_at = ? WHERE id = ?",
                [active.started_at, active.output, utcnow(), active.id],
            )
            await self._save(active)
            work = asyncio.ensure_future(self._execute(active, row))
            stopping = asyncio.ensure_future(active.stop_requested.wait())
            remaining = max(0.0, active.timeout - (time.monotonic() - active.t0))
            try:
                await asyncio.wait([work, stopping], timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if not work.done():
                if active.stop is None:
                    active.stop = "timeout"
                await self._halt(active, work)
            active.ending = True
            outcome = work.exception() if work.done() and not work.cancelled() else asyncio.CancelledError()
        except _ProjectGone as exc:
            outcome = exc
        except Exception as exc:  # the copy could not be written before the kernel started
            outcome = _OutputFailed(exc)
        active.ending = True
        await self._shutdown_kernel(active, now=active.stop == "shutdown")
        status, error = self._outcome(active, outcome)
        finished_at = utcnow()
        if active.output is not None and not isinstance(outcome, (_ProjectGone, _OutputFailed)):
            active.nb.metadata[RUN_METADATA] = self._run_metadata(active, status, finished_at)
            try:
                await self._save(active, final=True)
            except Exception as exc:
                if self.log:
                    self.log.warning("Datadive: run %s: the executed copy could not be written", active.id, exc_info=True)
                if status == "succeeded":
                    status, error = "failed", self._error("output_failed", f"the executed copy could not be written: {_why(exc)}")
        active.status = status
        await self._write_end(active.id, status, active.done, active.output, finished_at, error)

    async def _halt(self, active: _Active, work: asyncio.Future) -> None:
        """Stops the executing cell: an interrupt and a grace period (not when the server stops), then the kernel goes."""
        km = active.km
        if active.stop != "shutdown" and active.current is not None and km is not None and km.has_kernel:
            try:
                await ensure_async(km.interrupt_kernel())
            except Exception:
                if self.log:
                    self.log.warning("Datadive: run %s: the kernel could not be interrupted", active.id, exc_info=True)
            await asyncio.wait([work], timeout=INTERRUPT_GRACE)
        if not work.done():  # not executing a cell yet (the kernel starting), or the cell ignored the interrupt
            work.cancel()
            await asyncio.wait([work], timeout=SHUTDOWN_WAIT)

    async def _execute(self, active: _Active, row: dict) -> None:
        """Starts the kernel and executes the code cells in order (raises at the first error)."""
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient

        cwd = self._cwd(row, active)
        ksm = getattr(self.projects, "ksm", None)
        kwargs = {"kernel_name": active.kernel_name}
        if ksm is not None:
            kwargs["kernel_spec_manager"] = ksm
        km = active.km = AsyncKernelManager(**kwargs)
        km.shutdown_wait_time = SHUTDOWN_WAIT
        env = {**os.environ, "JPY_SESSION_NAME": os.path.join(cwd, posixpath.basename(active.notebook))}
        active.starting = asyncio.ensure_future(km.start_kernel(cwd=cwd, env=env))
        await asyncio.shield(active.starting)
        kc = active.kc = km.client()
        kc.start_channels()
        await ensure_async(kc.wait_for_ready(timeout=STARTUP_TIMEOUT))
        kc.allow_stdin = False
        client = NotebookClient(
            active.nb, km=km, kernel_name=active.kernel_name, timeout=None, allow_errors=False, record_timing=True,
            resources={"metadata": {"path": cwd}}, log=self.log,
        )
        client.kc = kc
        client.reset_execution_trackers()
        info = await kc.kernel_info(reply=True, timeout=STARTUP_TIMEOUT)
        if info is not None and "language_info" in info.get("content", {}):
            active.nb.metadata["language_info"] = info["content"]["language_info"]
        for index in _code_cells(active.nb):
            active.current = index
            await client.async_execute_cell(active.nb.cells[index], index, execution_count=client.code_cells_executed + 1)
            active.done += 1
            active.current = None
            if time.monotonic() - active.last_save >= SAVE_INTERVAL:
                await self._checkpoint(active)
        client.set_widgets_metadata()

    def _cwd(self, row: dict, active: _Active) -> str:
        """The notebook's folder on disk when the contents manager keeps files under a root_dir, else a temporary one."""
        if getattr(self.cm, "root_dir", None):
            folder = posixpath.dirname(posixpath.join(row["path"], active.notebook))
            try:
                os_path = self.projects.os_path(folder)
            except Exception:
                os_path = None
            if os_path and os.path.isdir(os_path):
                return os_path
        active.cwd_temp = tempfile.mkdtemp(prefix="datadive-run-")
        return active.cwd_temp

    async def _shutdown_kernel(self, active: _Active, now: bool = False) -> None:
        if active.starting is not None and not active.starting.done():
            await asyncio.wait([active.starting], timeout=STARTUP_TIMEOUT)  # a stop during the start: let it finish, then stop it
        km, kc = active.km, active.kc
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:
                pass
            active.kc = None
        if km is not None:
            try:
                if km.has_kernel:
                    await ensure_async(km.shutdown_kernel(now=now))
            except Exception:
                if self.log:
                    self.log.warning("Datadive: run %s: the kernel did not shut down cleanly", active.id, exc_info=True)
                try:
                    await ensure_async(km.shutdown_kernel(now=True))
                except Exception:
                    pass
            active.km = None
        if active.cwd_temp:
            shutil.rmtree(active.cwd_temp, ignore_errors=True)
            active.cwd_temp = None

    # -- the executed copy -----------------------------------------------------------

    async def _output_path(self, row: dict, active: _Active) -> str:
        """``runs/<stem>-<run id>.ipynb`` in the project (the folder is made when missing)."""
        folder = posixpath.join(row["path"], RUNS_FOLDER)
        if not await ensure_async(self.cm.dir_exists(folder)):
            try:
                await ensure_async(self.cm.save({"type": "directory"}, folder))
            except Exception as exc:
                raise environment_error(exc) or exc
        return posixpath.join(RUNS_FOLDER, f"{_stem(active.notebook)}-{active.id}.ipynb")

    async def _save(self, active: _Active, final: bool = False) -> None:
        """Writes the copy as it is now (called between cells, when nothing else changes the notebook)."""
        async with active.save_lock:
            await self._save_now(active, final)

    async def _save_now(self, active: _Active, final: bool) -> None:
        row = self._project(active.project)
        if row is None:
            raise _ProjectGone()
        nb = active.nb
        snapshot = await run_blocking(copy.deepcopy, nb) if len(nb.cells) > OFFLOAD_CELLS else copy.deepcopy(nb)
        if not final:
            snapshot.metadata[RUN_METADATA] = self._run_metadata(active, "running", None)
        path = posixpath.join(row["path"], active.output)
        try:
            await ensure_async(self.cm.save({"type": "notebook", "format": "json", "content": snapshot}, path))
        except Exception as exc:
            raise contents_error(exc, reading=False) or exc
        active.last_save = time.monotonic()

    async def _checkpoint(self, active: _Active) -> None:
        """Between cells: the copy and the progress, written; a failure to write only costs a warning."""
        try:
            # Shielded: a stop while the copy is written lets that write finish (the final one waits for it).
            await asyncio.shield(self._save(active))
        except _ProjectGone:
            self._request_stop(active, "deleted")
            return
        except Exception:
            active.last_save = time.monotonic()
            if self.log:
                self.log.warning("Datadive: run %s: the executed copy could not be written (the run goes on)", active.id, exc_info=True)
        try:
            await self.store.write(self.store.execute, "UPDATE runs SET done = ?, updated_at = ? WHERE id = ?",
                                   [active.done, utcnow(), active.id])
        except Exception:
            if self.log:
                self.log.warning("Datadive: run %s: its progress could not be recorded", active.id, exc_info=True)

    def _run_metadata(self, active: _Active, status: str, finished_at: str | None) -> dict:
        return {"id": active.id, "project": active.project, "notebook": active.notebook, "status": status,
                "started_at": active.started_at, "finished_at": finished_at}

    # -- the end ---------------------------------------------------------------------

    @staticmethod
    def _error(code: str, message: str, **fields) -> dict:
        error = {"code": code, "message": message, "ename": None, "evalue": None, "cell_index": None, "cell_id": None, "traceback": None}
        error.update(fields)
        return error

    def _cell_fields(self, active: _Active, index: int | None) -> dict:
        if index is None or active.nb is None or not 0 <= index < len(active.nb.cells):
            return {}
        return {"cell_index": index, "cell_id": active.nb.cells[index].get("id")}

    def _outcome(self, active: _Active, outcome: BaseException | None) -> tuple[str, dict | None]:
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        where = self._cell_fields(active, active.current)
        if isinstance(outcome, _ProjectGone) or active.stop == "deleted":
            return "cancelled", self._error("project_deleted", "the project was deleted while the run waited or ran", **where)
        if isinstance(outcome, _OutputFailed):
            return "failed", self._error("output_failed", f"the executed copy could not be written: {_why(outcome.cause)}")
        if active.stop == "cancel":
            return "cancelled", self._error("cancelled", f"cancelled by {active.stopped_by}", **where)
        if active.stop == "shutdown":
            return "interrupted", self._error("interrupted", "the server stopped while the run was running", **where)
        if active.stop == "timeout":
            return "failed", self._error("timeout", f"the run took longer than its time limit of {active.timeout:g} s "
                                         "and was stopped", **where)
        if outcome is None:
            return "succeeded", None
        if isinstance(outcome, CellExecutionError):
            return "failed", self._cell_error(active, outcome)
        if isinstance(outcome, DeadKernelError):
            return "failed", self._error("kernel_died", "the kernel died while the run was executing a cell", **where)
        if active.done == 0 and active.current is None:
            return "failed", self._error("kernel_failed", f"the kernel {active.kernel_name!r} could not be started: {_why(outcome)}")
        if self.log:
            self.log.error("Datadive: run %s failed", active.id, exc_info=outcome)
        return "failed", self._error("run_error", f"the run stopped: {_why(outcome)}", **where)

    def _cell_error(self, active: _Active, exc) -> dict:
        index = active.current
        cell = active.nb.cells[index] if index is not None else {}
        error_output = next((o for o in reversed(cell.get("outputs") or []) if o.get("output_type") == "error"), None)
        if error_output is not None:
            ename, evalue = error_output.get("ename"), error_output.get("evalue")
            traceback = "\n".join(error_output.get("traceback") or [])
        else:
            ename, evalue, traceback = exc.ename, exc.evalue, ""
        traceback = plain_text(traceback) or f"{ename}: {evalue}"
        return self._error("cell_error", f"cell {index} raised {ename}: {plain_text(evalue or '')}".rstrip(": "),
                           ename=ename, evalue=plain_text(evalue or ""), traceback=traceback, **self._cell_fields(active, index))

    async def _write_end(self, rid: str, status: str, done: int, output: str | None, finished_at: str, error: dict | None) -> None:
        sql = "UPDATE runs SET status = ?, done = ?, output = ?, finished_at = ?, updated_at = ?, error = ? WHERE id = ?"
        params = [status, done, output, finished_at, utcnow(), json.dumps(error) if error else None, rid]
        for attempt in range(5):
            try:
                await self.store.write(self.store.execute, sql, params)
                return
            except Exception:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))


class _ProjectGone(Exception):
    """The project's row disappeared (deleted) before or while the run went."""


class _OutputFailed(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def _why(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return plain_text(text).strip().splitlines()[0] if text.strip() else type(exc).__name__
