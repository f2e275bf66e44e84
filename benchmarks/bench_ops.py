"""Sustained cell operations per second, 8 concurrent clients on one 100-cell notebook, beside GET + PUT, same run.

Ours: 8 threads, each with its own keep-alive HTTP client, for a fixed time
(20 s; 6 s with ``--quick``), each doing a random mix of equal parts insert
(a ``value-counts`` template cell after a random cell), update (re-generate a
cell with new inputs), move (to a random index) and delete, without
``If-Match`` (writes apply in arrival order). The clients share one pool of
cell ids in which a cell is claimed while a request on it is in flight, so
that two clients never pick the same cell (every request should succeed:
anything else is counted and reported). Inserts and deletes keep the notebook
at about 100 cells.

Baseline: the same 8 clients, same mix, same time, on another 100-cell notebook
of the same server, the only way the contents API allows: ``GET
/api/contents/<nb>?content=1``, change the cells in the client (re-generating
with ``cell_templates.rerender``), ``PUT`` the whole notebook. One operation =
one GET + PUT, done under a first-come-first-served lock the 8 clients share,
the client-side equivalent of Datadive's per-notebook lock (an asyncio.Lock,
also first come first served); the latency includes the wait for it, as
Datadive's includes the wait for the server's lock. Without that lock
concurrent pairs overwrite each other's changes, and with jupyter_server's
file contents manager, whose save truncates the file and writes it in place,
two concurrent PUTs can even interleave into a file that is not JSON; so the
unlocked variant is not a usable baseline. The cell count expected from the
baseline's successful operations is checked against the file too.

The two run alternately in two halves each, so a burst of load on the machine
hits both alike. Reported: operations per second, p50 and p99 latency.

Checks at the end: the notebook is valid nbformat (``nbformat.validate``) and
its cell count equals 100 + inserts - deletes as the journal (``GET
.../history``) records them, and the journal holds exactly the successful
operations (the whole journal, page by page with ``next_cursor``).

Run: ``python benchmarks/bench_ops.py [--quick] [--seconds S]`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, exit_code, median, percentile, quick_parser  # noqa: E402
from _server import Server, quote  # noqa: E402
from bench_cells import make_notebook  # noqa: E402

from cell_templates import builtin_templates, rerender  # noqa: E402

CLIENTS = 8
CELLS = 100
KINDS = ("insert", "update", "move", "delete")


class FairLock:
    """A first-come-first-served lock (``threading.Lock`` lets a releasing thread take it again at once)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.next_ticket = 0
        self.serving = 0

    def __enter__(self):
        with self.cond:
            ticket = self.next_ticket
            self.next_ticket += 1
            while self.serving != ticket:
                self.cond.wait()

    def __exit__(self, *exc):
        with self.cond:
            self.serving += 1
            self.cond.notify_all()


class CellPool:
    """The notebook's cell ids as the clients know them; a claimed id is not handed out again until released."""

    def __init__(self, ids):
        self.lock = threading.Lock()
        self.ids = list(ids)
        self.busy: set[str] = set()

    def __len__(self):
        return len(self.ids)

    def claim(self, rng: random.Random) -> str | None:
        with self.lock:
            free = len(self.ids) - len(self.busy)
            if free <= 0:
                return None
            while True:
                cid = self.ids[rng.randrange(len(self.ids))]
                if cid not in self.busy:
                    self.busy.add(cid)
                    return cid

    def release(self, cid: str, deleted: bool = False) -> None:
        with self.lock:
            self.busy.discard(cid)
            if deleted:
                self.ids.remove(cid)

    def add(self, ids) -> None:
        with self.lock:
            self.ids.extend(ids)


def pick_kind(rng: random.Random, count: int) -> str:
    kind = rng.choice(KINDS)
    if kind == "insert" and count >= CELLS + 10:
        return "delete"
    if kind == "delete" and count <= CELLS - 10:
        return "insert"
    return kind


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.by_kind: Counter = Counter()
        self.errors: list[str] = []
        self.ok = 0
        self.seconds = 0.0

    def record(self, kind: str, status: int, ms: float, good: bool, detail: str = "") -> None:
        with self.lock:
            self.by_kind[(kind, status)] += 1
            if good:
                self.ok += 1
                self.latencies.append(ms)
            elif len(self.errors) < 20:
                self.errors.append(f"{kind} -> {status} {detail[:300]}")


def run_clients(worker, seconds: float) -> float:
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=worker, args=(i, deadline)) for i in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def client(srv: Server) -> httpx.Client:
    return httpx.Client(base_url=srv.base, headers={"Authorization": f"token {srv.token}"}, timeout=120)


def ours_worker(srv: Server, cells_url: str, pool: CellPool, results: Results, seed: int):
    def work(i: int, deadline: float) -> None:
        rng = random.Random(seed * 100 + i)
        with client(srv) as http:
            while time.perf_counter() < deadline:
                kind = pick_kind(rng, len(pool))
                cid = pool.claim(rng)
                if cid is None:
                    time.sleep(0.001)
                    continue
                deleted = False
                t0 = time.perf_counter()
                if kind == "insert":
                    r = http.post(cells_url, json={"template": {"id": "value-counts"},
                                                   "inputs": {"column": f"c{rng.randrange(10**6)}"}, "after": cid})
                elif kind == "update":
                    r = http.patch(f"{cells_url}/{quote(cid)}", json={"inputs": {"column": f"u{rng.randrange(10**6)}"}})
                elif kind == "move":
                    r = http.post(f"{cells_url}/{quote(cid)}/move", json={"index": rng.randrange(CELLS - 20)})
                else:
                    r = http.delete(f"{cells_url}/{quote(cid)}")
                ms = (time.perf_counter() - t0) * 1000
                good = 200 <= r.status_code < 300
                if good and kind == "insert":
                    pool.add(c["id"] for c in r.json()["cells"])
                deleted = good and kind == "delete"
                pool.release(cid, deleted=deleted)
                results.record(kind, r.status_code, ms, good, "" if good else r.text)
    return work


def base_worker(srv: Server, contents_url: str, results: Results, seed: int, counts: Counter, lock: FairLock):
    template = builtin_templates()["value-counts"]

    def work(i: int, deadline: float) -> None:
        rng = random.Random(seed * 100 + i + 50)
        with client(srv) as http:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                with lock:
                    r = base_op(http, rng)
                ms = (time.perf_counter() - t0) * 1000
                if r is None:
                    continue
                kind, r = r
                good = r.status_code == 200
                if good:
                    with results.lock:
                        counts[kind] += 1
                results.record(kind, r.status_code, ms, good, "" if good else r.text)

    def base_op(http: httpx.Client, rng: random.Random):
        r = http.get(contents_url, params={"content": 1})
        if r.status_code != 200:
            results.record("get+put", r.status_code, 0, False, r.text)
            return None
        nb = r.json()["content"]
        cells = nb["cells"]
        kind = pick_kind(rng, len(cells))
        at = rng.randrange(len(cells))
        if kind == "insert":
            cells.insert(at + 1, template.render({"column": f"c{rng.randrange(10**6)}"})[0])
        elif kind == "update":
            cells[at] = rerender(cells[at], template, {"column": f"u{rng.randrange(10**6)}"})
        elif kind == "move":
            cells.insert(rng.randrange(CELLS - 20), cells.pop(at))
        else:
            cells.pop(at)
        return kind, http.put(contents_url, json={"type": "notebook", "format": "json", "content": nb})

    return work


def check_ours(srv: Server, http: httpx.Client, pid: str, folder: str, name: str, results: Results) -> tuple[bool, str, int, int]:
    """The notebook is valid and its cell count is what the journal says; the journal holds exactly the successful operations."""
    model = http.get(f"api/contents/{folder}/{name}", params={"content": 1}).json()
    nb = nbformat.from_dict(model["content"])
    problems = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        problems.append(f"invalid nbformat: {exc.message[:200]}")
    items, cursor = [], None
    while True:  # the whole journal, page by page
        r = http.get(f"api/datadive/projects/{pid}/notebooks/{quote(name)}/history",
                     params={"limit": 500, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, (r.status_code, r.text[:300])
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    journal = Counter(item["op"] for item in items)
    expected = CELLS + journal["insert"] - journal["delete"]
    if len(nb.cells) != expected:
        problems.append(f"{len(nb.cells)} cells in the file, the journal says {expected}")
    done = Counter()
    for (kind, status), n in results.by_kind.items():
        if 200 <= status < 300:
            done[{"update": "regenerate"}.get(kind, kind)] += n
    if +journal != +done:
        problems.append(f"journal {dict(journal)} != successful requests {dict(done)}")
    ids = [c.get("id") for c in nb.cells]
    if len(set(ids)) != len(ids):
        problems.append("duplicate cell ids")
    summary = (f"{len(nb.cells)} cells in the file; journal: {journal['insert']} inserts, {journal['delete']} deletes, "
               f"{journal['regenerate']} re-generations, {journal['move']} moves -> {CELLS} + {journal['insert']} - "
               f"{journal['delete']} = {expected}; nbformat.validate: {'ok' if not any('nbformat' in p for p in problems) else 'FAILED'}")
    return not problems, summary + ("" if not problems else "; PROBLEMS: " + "; ".join(problems)), len(nb.cells), expected


def main() -> int:
    parser = quick_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=None, help="duration of each side (default 20; 6 with --quick)")
    args = parser.parse_args()
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    ours, base = Results(), Results()
    base_counts: Counter = Counter()
    with Server() as srv, client(srv) as http:
        r = http.post("api/datadive/projects", json={"name": "ops"})
        assert r.status_code == 201, r.text
        project = r.json()
        pid, folder = project["id"], project["path"]
        make_notebook(srv.root / folder / "ours.ipynb", CELLS)
        make_notebook(srv.root / folder / "base.ipynb", CELLS)
        cells_url = f"api/datadive/projects/{pid}/notebooks/{quote('ours.ipynb')}/cells"
        listed = http.get(cells_url)
        assert listed.status_code == 200, listed.text
        pool = CellPool(c["id"] for c in listed.json()["cells"])
        contents_url = f"api/contents/{folder}/base.ipynb"
        base_lock = FairLock()
        for half in range(2):
            base.seconds += run_clients(base_worker(srv, contents_url, base, half, base_counts, base_lock), seconds / 2)
            ours.seconds += run_clients(ours_worker(srv, cells_url, pool, ours, half), seconds / 2)
        valid, summary, found, expected = check_ours(srv, http, pid, folder, "ours.ipynb", ours)
        base_nb = nbformat.from_dict(http.get(contents_url, params={"content": 1}).json()["content"])
        base_expected = CELLS + base_counts["insert"] - base_counts["delete"]

    ours_rate, base_rate = ours.ok / ours.seconds, base.ok / base.seconds
    p50, p99 = median(ours.latencies), percentile(ours.latencies, 99)
    b50, b99 = median(base.latencies), percentile(base.latencies, 99)
    print(f"{CLIENTS} clients, {ours.seconds:.1f} s each side, notebook of about {CELLS} cells")
    print(f"{'':28} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}  failed")
    for label, res, rate, a, b in (("Datadive cell API", ours, ours_rate, p50, p99), ("GET + PUT /api/contents", base, base_rate, b50, b99)):
        failed = sum(n for (k, s), n in res.by_kind.items() if not 200 <= s < 300)
        print(f"{label:28} {res.ok:6d} {rate:8.1f} {a:8.1f} {b:8.1f}  {failed}")
    print("Datadive by kind: " + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(ours.by_kind.items())))
    for line in ours.errors + base.errors:
        print("  error: " + line)
    print(f"check: {summary}")
    print(f"GET + PUT baseline (clients share a lock): {len(base_nb.cells)} cells at the end, {base_expected} expected "
          f"from its successful operations{'' if len(base_nb.cells) == base_expected else ' (MISMATCH)'}")
    no_errors = not ours.errors
    emit(f"cell ops/s, {CLIENTS} clients, ~{CELLS}-cell notebook, mixed", ours_rate, "/s", baseline=base_rate,
         baseline_label=f"{CLIENTS} clients doing GET + PUT via /api/contents")
    emit("cell op latency under that load, p50", p50, "ms", baseline=b50, baseline_label="GET + PUT pair, same load")
    emit("cell op latency under that load, p99", p99, "ms", baseline=b99, baseline_label="GET + PUT pair, same load")
    emit("after the ops run: cells in the file (valid nbformat)", found, "cells", baseline=expected,
         baseline_label="100 + inserts - deletes per the journal", target="equal, journal = successful requests, no failed request",
         met=valid and no_errors)
    return exit_code(valid and no_errors)


if __name__ == "__main__":
    sys.exit(main())
