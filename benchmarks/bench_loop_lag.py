"""The longest event-loop stall while 8 clients work on 1,000-cell notebooks and one posts hostile templates.

A loop-lag probe runs inside the server process: this module is also a tiny
server extension (loaded only by this benchmark, with ``benchmarks/`` on the
server's ``PYTHONPATH``) whose coroutine sleeps 5 ms again and again; how late
it wakes is the loop's lag. The extension also times every callback the loop
runs, and names the request a slow one belonged to, so the report says which
operations stall the loop.

Phases, each on the same server, one after the other:

1. idle: the probe alone (the baseline);
2. hostile templates alone: one client posting user templates whose patterns
   backtrack catastrophically in Python's ``re`` (``(a+)+$`` with an example of
   forty ``a`` and a ``!``), templates that are slow to check (30 examples of
   100,000 loop steps), renders of them with 10,000-character hostile values, and
   new versions of them;
3. the full load: 8 clients, each on its own notebook of 1,000 generated cells
   (from built-in and user templates), listing cells, inserting template cells
   and re-generating cells with new inputs (``GET``, ``POST``, ``PATCH`` of the
   cells API), plus the hostile client of phase 2.

Figures: the longest stall of phases 2 and 3 (target: at most 50 ms; PASS or
MISS is printed), beside the idle server's longest stall measured in the same
run; the 99th percentile of the lag; and the operations behind the stalls over
20 ms. No assertion on time: a missed target exits with status 3.

Run: ``python benchmarks/bench_loop_lag.py [--quick]`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import re
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICK = 0.005  # seconds between the probe's wake-ups
SLOW_CALLBACK = 0.010  # callbacks longer than this are recorded with the request they served
TARGET_MS = 50.0
CLIENTS = 8
CELLS = 1000
USER_TEMPLATES = 10
PHASE_SECONDS, QUICK_PHASE_SECONDS = 20.0, 6.0
IDLE_SECONDS, QUICK_IDLE_SECONDS = 3.0, 2.0


# ---- the probe: a server extension, imported by the server process -------------------------


class _Probe:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.lags: list[float] = []
            self.slow: list[tuple[float, str]] = []


_probe = _Probe()


def _route(path: str) -> str:
    path = re.sub(r"^.*?/api/", "/api/", path)
    path = re.sub(r"/projects/[^/]+", "/projects/{pid}", path)
    path = re.sub(r"/notebooks/[^/]+", "/notebooks/{nb}", path)
    path = re.sub(r"/cells/(?!order$)[^/]+", "/cells/{id}", path)
    return re.sub(r"/templates/[^/]+", "/templates/{tid}", path)


def _owner(handle):
    """What a loop callback works for: the request handler of its task, else the callback (cheap: no text)."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        while coro is not None:  # the outermost frame that belongs to a request handler
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            handler = frame.f_locals.get("self") if frame is not None else None
            if hasattr(getattr(handler, "request", None), "method"):
                return handler
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        return task
    return callback


def _describe(owner) -> str:
    """``METHOD route`` of a request handler, else what the callback or task is."""
    request = getattr(owner, "request", None)
    if request is not None and hasattr(request, "method"):
        return f"{request.method} {_route(request.path)}"
    if isinstance(owner, asyncio.Task):
        return f"task {owner.get_coro()!r}"[:100]
    return (getattr(owner, "__qualname__", None) or repr(owner))[:100]


def _install_callback_timer() -> None:
    original = asyncio.events.Handle._run

    def _run(self):
        try:
            owner = _owner(self)  # before the step: a finished coroutine has no frame left to read
        except Exception:  # never disturb the server being measured
            owner = None
        started = time.perf_counter()
        try:
            return original(self)
        finally:
            took = time.perf_counter() - started
            if took > SLOW_CALLBACK:
                try:
                    what = _describe(owner)
                except Exception as exc:
                    what = f"? ({type(exc).__name__})"
                with _probe.lock:
                    _probe.slow.append((took, what))

    asyncio.events.Handle._run = _run


def _install_gc_timer() -> None:
    """Collections of the cyclic garbage collector over SLOW_CALLBACK, as stalls of their own:
    a collection runs in whichever thread allocated last, holding the interpreter lock."""
    started = {}

    def callback(phase, info):
        if phase == "start":
            started["at"] = time.perf_counter()
        elif "at" in started:
            took = time.perf_counter() - started.pop("at")
            if took > SLOW_CALLBACK:
                with _probe.lock:
                    _probe.slow.append((took, f"garbage collection, generation {info.get('generation')}"))

    gc.callbacks.append(callback)


async def _tick() -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(TICK)
        _probe.lags.append(max(loop.time() - started - TICK, 0.0))


def _jupyter_server_extension_points():
    return [{"module": "bench_loop_lag"}]


def _load_jupyter_server_extension(serverapp) -> None:
    from jupyter_server.auth.decorator import authorized
    from jupyter_server.base.handlers import APIHandler
    from jupyter_server.utils import url_path_join
    from tornado import web
    from tornado.ioloop import IOLoop

    class LagHandler(APIHandler):
        """``GET`` the lag figures since the last reset; ``?reset=1`` starts a new window."""

        auth_resource = "datadive:bench"

        @web.authenticated
        @authorized
        def get(self):
            with _probe.lock:
                lags, slow = sorted(_probe.lags), sorted(_probe.slow, reverse=True)
            if self.get_query_argument("reset", ""):
                _probe.reset()
            self.finish(json.dumps({"lags": lags, "slow": slow[:2000]}))

    route = url_path_join(serverapp.base_url, "bench-loop-lag")
    serverapp.web_app.add_handlers(".*$", [(route, LagHandler)])
    _install_callback_timer()
    _install_gc_timer()
    IOLoop.current().add_callback(lambda: asyncio.ensure_future(_tick()))


# ---- the benchmark (this file run as a script) ------------------------------------------------


def _count_doc(tid: str) -> dict:
    return {
        "id": tid, "title": f"Count {tid}", "category": "bench",
        "inputs": {"type": "object", "required": ["column"], "properties": {
            "df": {"type": "string", "default": "df", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "column": {"type": "string", "minLength": 1}, "n": {"type": "integer", "minimum": 1, "default": 5}}},
        "cells": [{"cell_type": "markdown", "source": "## Counting {{ column }}"},
                  {"cell_type": "code", "source": "{{ df|ident }}[{{ column }}].head({{ n }})"}],
        "examples": [{"inputs": {"column": "group"}}],
    }


def _hostile_doc(tid: str) -> dict:
    """(a+)+$ and an example of forty a and a !: a hang on Python's re, refused at once on RE2."""
    return {
        "id": tid, "title": "Hostile", "inputs": {"type": "object", "properties": {"name": {"type": "string", "pattern": "(a+)+$"}}},
        "cells": [{"cell_type": "code", "source": "name = {{ name }}"}],
        "examples": [{"inputs": {"name": "a" * 40 + "!"}}],
    }


def _slow_doc(tid: str, title: str = "Slow") -> dict:
    """Valid, slow to check: 30 examples of 100,000 loop steps (the most a render may take), and a hostile pattern."""
    return {
        "id": tid, "title": title,
        "inputs": {"type": "object", "properties": {"n": {"type": "integer"}, "name": {"type": "string", "pattern": "(a+)+$"}}},
        "cells": [{"cell_type": "code", "source": "{% for i in range(1000) %}{% for j in range(99) %}{% endfor %}{% endfor %}x = {{ n }}"}],
        "examples": [{"inputs": {"n": i}} for i in range(30)],
    }


def make_notebooks(srv, pid: str, folder: str, names: list[str]) -> None:
    """Notebooks of ``CELLS`` cells generated from built-in and user templates (written as files)."""
    import nbformat

    from cell_templates import Template, builtin_templates

    sources = [builtin_templates()["value-counts"]]
    for k in range(USER_TEMPLATES):
        doc = _count_doc(f"bench-lag-{k:02d}")
        status, body, _ = srv.call("POST", "api/datadive/templates", doc)
        assert status == 201, body
        sources.append(Template.from_dict(doc))
    for name in names:
        status, body, _ = srv.call("POST", f"api/datadive/projects/{pid}/notebooks", {"name": name})
        assert status == 201, body
        nb = nbformat.v4.new_notebook()
        k = 0
        while len(nb.cells) < CELLS:
            for cell in sources[k % len(sources)].render({"column": f"c{k}"}):
                nb.cells.append(nbformat.from_dict(cell))
            k += 1
        nb.cells = nb.cells[:CELLS]
        nbformat.write(nb, srv.root / folder / name)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])  # ops, non-2xx, seconds

    def add(self, what: str, status: int, seconds: float) -> None:
        with self.lock:
            entry = self.counts[what]
            entry[0] += 1
            entry[1] += not 200 <= status < 300
            entry[2] += seconds


def cells_client(srv, pid: str, name: str, deadline: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    base = f"api/datadive/projects/{pid}/notebooks/{name}/cells"
    ids: list[str] = []
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.4 or not ids:
            what, method, path, body = "GET cells", "GET", base, None
        elif roll < 0.7:
            tid = rng.choice(["value-counts", f"bench-lag-{rng.randrange(USER_TEMPLATES):02d}"])
            what, method, path = "POST cells (insert)", "POST", base
            body = {"template": {"id": tid}, "inputs": {"column": f"x{rng.randrange(10**6)}"}, "index": rng.randrange(CELLS)}
        else:
            what, method, path = "PATCH cells/{id} (re-generate)", "PATCH", f"{base}/{rng.choice(ids)}"
            body = {"inputs": {"column": f"y{rng.randrange(10**6)}"}, "force": True}
        started = time.perf_counter()
        status, reply, _ = srv.call(method, path, body)
        tally.add(what, status, time.perf_counter() - started)
        if what == "GET cells" and status == 200:
            ids = [c["id"] for c in reply["cells"] if c.get("template")]


def hostile_client(srv, deadline: float, tally: Tally) -> None:
    k = 0
    while time.monotonic() < deadline:
        k += 1
        tid = f"slow-{uuid.uuid4().hex[:8]}"
        steps = [
            ("POST templates (a+)+$ example", "POST", "api/datadive/templates", _hostile_doc(f"hostile-{k}"), None),
            ("POST templates (slow check)", "POST", "api/datadive/templates", _slow_doc(tid), None),
            ("POST render (hostile value)", "POST", f"api/datadive/templates/{tid}/render", {"inputs": {"n": 1, "name": "a" * 10_000 + "!"}}, None),
            ("POST render (slow template)", "POST", f"api/datadive/templates/{tid}/render", {"inputs": {"n": 2}}, None),
            ("PUT templates (slow check)", "PUT", f"api/datadive/templates/{tid}", _slow_doc(tid, "Slow, again"), {"If-Match": '"1"'}),
        ]
        for what, method, path, body, headers in steps:
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            status, _, _ = srv.call(method, path, body, headers=headers)
            tally.add(what, status, time.perf_counter() - started)


def lag_window(srv, reset: bool = True) -> dict:
    status, body, _ = srv.call("GET", "bench-loop-lag" + ("?reset=1" if reset else ""))
    assert status == 200, body
    return body


def run_phase(srv, seconds: float, workers) -> tuple[dict, Tally]:
    tally = Tally()
    lag_window(srv)  # a fresh window
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=w, args=(deadline, tally)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lag_window(srv), tally


def summary(window: dict) -> tuple[float, float, int]:
    from _report import percentile

    lags = window["lags"]
    return (max(lags) * 1000 if lags else float("nan"), percentile(lags, 99) * 1000, len(lags))


def stall_table(window: dict, threshold_ms: float = 20.0) -> list[tuple[str, int, float, float]]:
    """``(operation, stalls over threshold, longest ms, total ms)``, worst first."""
    rows: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for seconds, what in window["slow"]:
        ms = seconds * 1000
        if ms < threshold_ms:
            continue
        row = rows[what]
        row[0] += 1
        row[1] = max(row[1], ms)
        row[2] += ms
    return sorted(((k, *v) for k, v in rows.items()), key=lambda r: (-r[2], r[0]))


def main() -> int:
    sys.path.insert(0, str(HERE))
    from _report import emit, exit_code, fmt, quick_parser
    from _server import Server, quote

    parser = quick_parser(__doc__)
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="run the server with DatadiveApp.switch_interval=S (default: the extension's 0.001 s; "
                             "0: Python's own 0.005 s), to see how much of the lag is waiting for the interpreter lock")
    args = parser.parse_args()
    seconds = QUICK_PHASE_SECONDS if args.quick else PHASE_SECONDS
    idle_seconds = QUICK_IDLE_SECONDS if args.quick else IDLE_SECONDS

    extra = [] if args.switch_interval is None else [f"--DatadiveApp.switch_interval={args.switch_interval}"]
    srv = Server(extra_args=extra, extensions={"datadive_ext": True, "bench_loop_lag": True})
    srv.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), srv.env.get("PYTHONPATH", "")]))
    if args.switch_interval is not None:
        print(f"server switch interval: DatadiveApp.switch_interval={args.switch_interval}")
    all_met = True
    with srv:
        status, project, _ = srv.call("POST", "api/datadive/projects", {"name": "Loop lag"})
        assert status == 201, project
        pid, folder = project["id"], project["path"]
        names = [f"book-{i}.ipynb" for i in range(CLIENTS)]
        make_notebooks(srv, pid, folder, names)
        for name in names:  # first reads (and caches) outside the windows
            status, body, _ = srv.call("GET", f"api/datadive/projects/{pid}/notebooks/{quote(name)}/cells")
            assert status == 200 and len(body["cells"]) == CELLS, status

        time.sleep(0.5)
        lag_window(srv)
        time.sleep(idle_seconds)
        idle = lag_window(srv)
        idle_max, idle_p99, idle_ticks = summary(idle)
        print(f"idle server: longest stall {fmt(idle_max, 'ms')}, p99 lag {fmt(idle_p99, 'ms')} ({idle_ticks:,} ticks)")

        phases = [
            ("hostile templates alone", [lambda d, t: hostile_client(srv, d, t)]),
            (f"{CLIENTS} clients on {CELLS:,}-cell notebooks + hostile templates",
             [lambda d, t, n=n, i=i: cells_client(srv, pid, quote(n), d, i, t) for i, n in enumerate(names)]
             + [lambda d, t: hostile_client(srv, d, t)]),
        ]
        for label, workers in phases:
            window, tally = run_phase(srv, seconds, workers)
            longest, p99, ticks = summary(window)
            met = longest <= TARGET_MS
            all_met &= met
            print(f"\n{label} ({seconds:.0f} s): longest stall {fmt(longest, 'ms')} (idle: {fmt(idle_max, 'ms')}), "
                  f"p99 lag {fmt(p99, 'ms')}, {ticks:,} ticks: {'PASS' if met else 'MISS'} (target <= {TARGET_MS:.0f} ms)")
            for what, (n, bad, total) in sorted(tally.counts.items()):
                print(f"  {what:34s} {n:6,} requests, {bad:5,} not 2xx, mean {fmt(total / n * 1000, 'ms')}")
            rows = stall_table(window)
            if rows:
                print("  loop stalls over 20 ms, by the request that caused them (count, longest, total):")
                for what, n, worst, total in rows[:8]:
                    print(f"    {what:52s} {n:5,}  {fmt(worst, 'ms'):>9s}  {fmt(total, 'ms'):>10s}")
            emit(f"longest event-loop stall: {label}", longest, "ms", baseline=idle_max, baseline_label="idle server",
                 target=f"<= {TARGET_MS:.0f} ms", met=met)
            emit(f"p99 event-loop lag: {label}", p99, "ms", baseline=idle_p99, baseline_label="idle server")
    return exit_code(all_met)


if __name__ == "__main__":
    sys.exit(main())
