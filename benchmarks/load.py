"""A bounded load test of the cell API: 16 clients, mixed operations, loopback only, stops by itself.

Not part of ``make bench`` and not run by the tests. Usage::

    python benchmarks/load.py                 # 60 s, 16 clients, 3 notebooks in 2 projects
    python benchmarks/load.py --seconds 20 --clients 8

One Jupyter server (127.0.0.1, a free port, a temporary root) with the
extension; 2 projects holding 3 notebooks of 30 generated cells each. Each
client thread (its own keep-alive HTTP client) loops until the time is up,
picking a notebook and an operation at random: list projects, list cells, read
a cell, read the history, insert (a template cell after a random cell),
re-generate (new inputs), edit a source by hand (so later re-generations of
that cell get 409 ``cell_edited``), move, delete, reorder (read the cells, then
``PUT .../cells/order`` with that ETag in ``If-Match``), undo (read the
history, undo a random recent operation: 409 when it no longer applies), and
a re-generation race (3 concurrent ``PATCH`` of the same cell, sent with the
same ``If-Match`` half of the time: then at most one may succeed, the others get
412). About a third of the other writes send ``If-Match`` with the last ETag the
client saw for that notebook, so 412s happen. Clients claim the cells they
work on among themselves, so a 404 would mean a server bug, not a race of the
test: every status other than 2xx, 409 and 412 counts as an error.

Reported: requests by kind and status, errors (exit status 1 if any),
p50 / p99 latency, the server's RSS (``VmRSS`` from ``/proc/<pid>/status``,
sampled every second: first, last, max, and the least-squares slope over the
whole run and over its second half), and the "no lost operation" check, for
each notebook:

- the journal (``GET .../history``, all of it, page by page with its
  ``next_cursor``) replayed from the initial cell ids, each step checked against what
  the journal says it found (a deleted cell was at the recorded index, a move
  started from the recorded index, a reorder started from the recorded order),
  gives exactly the cell ids, in order, of the notebook file at the end;
- the journal holds exactly one entry per successful request (by kind; an
  undo, one per entry it reported), and none for a failed one;
- every cell id a successful insert returned is journaled, and is in the
  file or was removed by a journaled operation;
- every undone operation names a journaled undo, and no claim is left pending;
- the file is valid nbformat.

Memory is called flat when the slope over the second half of the run (after
start-up and warm-up) is below 2 MB/min (``--max-slope``); the report also
gives that slope per operation, so a leak of a few KB per request shows.
Exit status: 0 all good, 1 errors or a lost operation, 2 memory not flat.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import median, percentile  # noqa: E402
from _server import Server, quote  # noqa: E402

from cell_templates import builtin_templates  # noqa: E402

ALLOWED = {409, 412}
WEIGHTS = {
    "list_projects": 6, "list_cells": 10, "get_cell": 5, "history": 3, "insert": 14, "regenerate": 16, "edit": 3,
    "move": 10, "delete": 12, "reorder": 4, "undo": 9, "regen_race": 4,
}
WRITE_IF_MATCH_SHARE = 0.3


def make_notebook(path: Path, n: int) -> None:
    t = builtin_templates()["value-counts"]
    nb = nbformat.v4.new_notebook()
    for i in range(n):
        nb.cells.extend(nbformat.from_dict(c) for c in t.render({"column": f"c{i}"}))
    nbformat.write(nb, path)


class Notebook:
    """One notebook under load: its URLs, the live cell ids as the clients know them, and claims."""

    def __init__(self, pid: str, folder: str, name: str, ids: list[str]):
        self.pid, self.folder, self.name = pid, folder, name
        self.base = f"api/datadive/projects/{pid}/notebooks/{quote(name)}"
        self.initial = list(ids)
        self.ids = list(ids)
        self.busy: set[str] = set()
        self.lock = threading.Lock()
        self.inserted: list[str] = []  # ids returned by successful inserts
        self.done: Counter = Counter()  # successful writes by journal op

    def claim_random(self, rng: random.Random, k: int = 1) -> list[str] | None:
        with self.lock:
            free = [i for i in self.ids if i not in self.busy]
            if len(free) < k:
                return None
            got = rng.sample(free, k)
            self.busy.update(got)
            return got

    def claim(self, cid: str) -> bool:
        """Claim a given id, live or not (an undo may bring a cell back)."""
        with self.lock:
            if cid in self.busy:
                return False
            self.busy.add(cid)
            return True

    def release(self, *cids: str) -> None:
        with self.lock:
            self.busy.difference_update(cids)

    def gone(self, cid: str) -> None:
        with self.lock:
            if cid in self.ids:
                self.ids.remove(cid)

    def back(self, cid: str) -> None:
        with self.lock:
            if cid not in self.ids:
                self.ids.append(cid)

    def added(self, cids) -> None:
        with self.lock:
            self.ids.extend(cids)
            self.inserted.extend(cids)

    def count(self) -> int:
        with self.lock:
            return len(self.ids)

    def did(self, op: str, n: int = 1) -> None:
        with self.lock:
            self.done[op] += n


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by: Counter = Counter()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.error_count = 0

    def record(self, kind: str, status: int, ms: float, detail: str = "") -> None:
        with self.lock:
            self.by[(kind, status)] += 1
            self.latency[kind].append(ms)
            if not (200 <= status < 300 or status in ALLOWED):
                self.error_count += 1
                if len(self.errors) < 30:
                    self.errors.append(f"{kind} -> {status}: {detail[:400]}")

    def bug(self, message: str) -> None:
        with self.lock:
            self.error_count += 1
            if len(self.errors) < 30:
                self.errors.append(message)


class Client:
    def __init__(self, srv: Server, notebooks: list[Notebook], stats: Stats, seed: int):
        self.srv, self.notebooks, self.stats = srv, notebooks, stats
        self.rng = random.Random(seed)
        self.http = httpx.Client(base_url=srv.base, headers={"Authorization": f"token {srv.token}"}, timeout=60)
        self.etags: dict[str, str] = {}
        self.initial_cells = len(notebooks[0].initial)

    # -- plumbing -------------------------------------------------------------------

    def request(self, kind: str, nb: Notebook | None, method: str, url: str, **kwargs) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.record(kind, 599, (time.perf_counter() - t0) * 1000, f"{type(exc).__name__}: {exc}")
            return None
        ms = (time.perf_counter() - t0) * 1000
        self.stats.record(kind, r.status_code, ms, r.text)
        if nb is not None and 200 <= r.status_code < 300 and "etag" in r.headers:
            self.etags[nb.name] = r.headers["etag"]
        return r

    def maybe_if_match(self, nb: Notebook) -> dict:
        if nb.name in self.etags and self.rng.random() < WRITE_IF_MATCH_SHARE:
            return {"If-Match": self.etags[nb.name]}
        return {}

    def inputs(self) -> dict:
        return {"column": f"col{self.rng.randrange(10**6)}"}

    # -- the loop ---------------------------------------------------------------------

    def run(self, deadline: float) -> None:
        kinds, weights = zip(*WEIGHTS.items())
        try:
            while time.perf_counter() < deadline:
                nb = self.rng.choice(self.notebooks)
                kind = self.rng.choices(kinds, weights)[0]
                count = nb.count()
                if kind == "insert" and count > self.initial_cells + 15:
                    kind = "delete"
                elif kind == "delete" and count < self.initial_cells - 15:
                    kind = "insert"
                getattr(self, "op_" + kind)(nb)
        except Exception as exc:  # a bug of the test itself: report it, do not hang
            self.stats.bug(f"client crashed: {type(exc).__name__}: {exc}")
        finally:
            self.http.close()

    # -- operations -------------------------------------------------------------------

    def op_list_projects(self, nb):
        self.request("list_projects", None, "GET", "api/datadive/projects")

    def op_list_cells(self, nb):
        self.request("list_cells", nb, "GET", f"{nb.base}/cells")

    def op_history(self, nb):
        self.request("history", None, "GET", f"{nb.base}/history", params={"limit": 20})

    def op_get_cell(self, nb):
        got = nb.claim_random(self.rng)
        if got:
            try:
                self.request("get_cell", nb, "GET", f"{nb.base}/cells/{quote(got[0])}")
            finally:
                nb.release(*got)

    def op_insert(self, nb):
        got = nb.claim_random(self.rng)
        if not got:
            return
        try:
            body = {"template": {"id": "value-counts"}, "inputs": self.inputs()}
            if self.rng.random() < 0.7:
                body["after"] = got[0]
            else:
                body["index"] = 0
            r = self.request("insert", nb, "POST", f"{nb.base}/cells", json=body, headers=self.maybe_if_match(nb))
            if r is not None and r.status_code == 201:
                new = [c["id"] for c in r.json()["cells"]]
                nb.added(new)
                nb.did("insert", len(new))
        finally:
            nb.release(*got)

    def op_regenerate(self, nb):
        got = nb.claim_random(self.rng)
        if not got:
            return
        try:
            r = self.request("regenerate", nb, "PATCH", f"{nb.base}/cells/{quote(got[0])}", json={"inputs": self.inputs()},
                             headers=self.maybe_if_match(nb))
            if r is not None and r.status_code == 200:
                nb.did("regenerate")
        finally:
            nb.release(*got)

    def op_edit(self, nb):
        got = nb.claim_random(self.rng)
        if not got:
            return
        try:
            r = self.request("edit", nb, "PATCH", f"{nb.base}/cells/{quote(got[0])}",
                             json={"source": f"# edited by hand {self.rng.randrange(10**6)}\ndf.head()"}, headers=self.maybe_if_match(nb))
            if r is not None and r.status_code == 200:
                nb.did("edit")
        finally:
            nb.release(*got)

    def op_move(self, nb):
        got = nb.claim_random(self.rng, 2)
        if not got:
            return
        try:
            body = {"after": got[1]} if self.rng.random() < 0.6 else {"index": 0}
            r = self.request("move", nb, "POST", f"{nb.base}/cells/{quote(got[0])}/move", json=body, headers=self.maybe_if_match(nb))
            if r is not None and r.status_code == 200:
                nb.did("move")
        finally:
            nb.release(*got)

    def op_delete(self, nb):
        got = nb.claim_random(self.rng)
        if not got:
            return
        try:
            r = self.request("delete", nb, "DELETE", f"{nb.base}/cells/{quote(got[0])}", headers=self.maybe_if_match(nb))
            if r is not None and r.status_code == 204:
                nb.gone(got[0])
                nb.did("delete")
        finally:
            nb.release(*got)

    def op_reorder(self, nb):
        r = self.request("list_cells", nb, "GET", f"{nb.base}/cells")
        if r is None or r.status_code != 200:
            return
        order = [c["id"] for c in r.json()["cells"]]
        if len(order) > 2:
            i, j = sorted(self.rng.sample(range(len(order) + 1), 2))
            order[i:j] = reversed(order[i:j])
        r2 = self.request("reorder", nb, "PUT", f"{nb.base}/cells/order", json={"order": order},
                          headers={"If-Match": r.headers["etag"]})
        if r2 is not None and r2.status_code == 200:
            nb.did("reorder")

    def op_undo(self, nb):
        r = self.request("history", None, "GET", f"{nb.base}/history", params={"limit": 30})
        if r is None or r.status_code != 200 or not r.json()["items"]:
            return
        items = r.json()["items"]
        fresh = [i for i in items if not i["undone_by"] and i["op"] != "undo"]
        item = self.rng.choice(fresh if fresh and self.rng.random() < 0.85 else items)
        cid = item["cell_id"]
        if cid is not None and not nb.claim(cid):
            return
        try:
            r2 = self.request("undo", nb, "POST", f"{nb.base}/history/{item['id']}/undo", headers=self.maybe_if_match(nb))
            if r2 is not None and r2.status_code == 200:
                nb.did("undo", len(r2.json()["operations"]))
                if item["op"] == "insert":
                    nb.gone(cid)
                elif item["op"] == "delete":
                    nb.back(cid)
        finally:
            if cid is not None:
                nb.release(cid)

    def op_regen_race(self, nb):
        got = nb.claim_random(self.rng)
        if not got:
            return
        cid = got[0]
        try:
            r = self.request("get_cell", nb, "GET", f"{nb.base}/cells/{quote(cid)}")
            if r is None or r.status_code != 200:
                return
            same = self.rng.random() < 0.5
            headers = {"If-Match": r.headers["etag"]} if same else {}
            results: list[httpx.Response | None] = [None] * 3

            def one(k):
                results[k] = self.request("regen_race", nb, "PATCH", f"{nb.base}/cells/{quote(cid)}", json={"inputs": self.inputs()},
                                          headers=headers)

            threads = [threading.Thread(target=one, args=(k,)) for k in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wins = sum(1 for x in results if x is not None and x.status_code == 200)
            nb.did("regenerate", wins)
            if same and wins > 1:
                self.stats.bug(f"regen_race: {wins} PATCHes with the same If-Match succeeded on cell {cid}")
        finally:
            nb.release(cid)


class RssSampler(threading.Thread):
    def __init__(self, pid: int, period: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self.stop_event = threading.Event()

    def rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self.stop_event.is_set():
            mb = self.rss_mb()
            if mb is not None:
                self.samples.append((time.perf_counter() - t0, mb))
            self.stop_event.wait(self.period)


def slope_mb_per_min(samples) -> float:
    if len(samples) < 3:
        return float("nan")
    xs = [t for t, _ in samples]
    ys = [m for _, m in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx) * 60 if sxx else float("nan")


# -- the "no lost operation" check ----------------------------------------------------------


def replay(initial: list[str], journal: list[dict]) -> tuple[list[str], list[str]]:
    """The cell ids after applying the journal (oldest first) to ``initial``; and every inconsistency found."""
    cells = list(initial)
    problems = []
    for e in journal:
        before, after, cid = e["before"], e["after"], e["cell_id"]
        where = f"{e['op']} {e['id'][:8]} cell {cid}"
        if before is None and after and "cell" in after:  # a cell appears (insert, undo of a delete)
            if cid in cells:
                problems.append(f"{where}: inserted but already present")
                continue
            if not 0 <= after["index"] <= len(cells):
                problems.append(f"{where}: index {after['index']} out of range ({len(cells)} cells)")
            cells.insert(after["index"], cid)
        elif after is None and before and "cell" in before:  # a cell goes (delete, undo of an insert)
            if cid not in cells:
                problems.append(f"{where}: removed but not present")
                continue
            if cells.index(cid) != before["index"]:
                problems.append(f"{where}: removed from index {before['index']} but was at {cells.index(cid)}")
            cells.remove(cid)
        elif before and after and "cell" in before and "cell" in after:  # content change in place
            if cid not in cells or cells.index(cid) != before["index"]:
                problems.append(f"{where}: changed at index {before['index']} but was at {cells.index(cid) if cid in cells else 'nowhere'}")
        elif before and after and "order" in before:  # reorder
            if cells != before["order"]:
                problems.append(f"{where}: reorder started from another order")
            cells = list(after["order"])
        elif before and after and "index" in before:  # move
            if cid not in cells or cells.index(cid) != before["index"]:
                problems.append(f"{where}: moved from index {before['index']} but was at {cells.index(cid) if cid in cells else 'nowhere'}")
                if cid not in cells:
                    continue
            cells.remove(cid)
            cells.insert(after["index"], cid)
        else:
            problems.append(f"{where}: journal entry of an unknown shape")
    return cells, problems


def check_notebook(http: httpx.Client, nb: Notebook) -> tuple[bool, list[str], dict]:
    problems: list[str] = []
    items, cursor = [], None
    while True:  # the whole journal, page by page (newest first)
        r = http.get(f"{nb.base}/history", params={"limit": 500, **({"cursor": cursor} if cursor else {})})
        if r.status_code != 200:
            return False, [f"history -> {r.status_code} {r.text[:300]}"], {}
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    journal = list(reversed(items))
    model = http.get(f"api/contents/{nb.folder}/{nb.name}", params={"content": 1})
    if model.status_code != 200:
        return False, [f"contents -> {model.status_code} {model.text[:300]}"], {}
    content = nbformat.from_dict(model.json()["content"])
    try:
        nbformat.validate(content)
    except nbformat.ValidationError as exc:
        problems.append(f"the file is not valid nbformat: {exc.message[:200]}")
    final = [c.get("id") for c in content.cells]
    replayed, replay_problems = replay(nb.initial, journal)
    problems += replay_problems[:10]
    if replayed != final:
        missing = set(replayed) - set(final)
        extra = set(final) - set(replayed)
        problems.append(f"replayed journal != file: {len(replayed)} vs {len(final)} cells, {len(missing)} missing from the file, "
                        f"{len(extra)} not in the journal, same set but other order: {set(replayed) == set(final)}")
    by_op = Counter(e["op"] for e in journal)
    if +by_op != +nb.done:
        problems.append(f"journal {dict(sorted(by_op.items()))} != successful requests {dict(sorted(nb.done.items()))}")
    journaled_inserts = {e["cell_id"] for e in journal if e["op"] == "insert"}
    removed = {e["cell_id"] for e in journal if e["after"] is None}
    unaccounted = [c for c in nb.inserted if c not in journaled_inserts or (c not in final and c not in removed)]
    if unaccounted:
        problems.append(f"{len(unaccounted)} inserted cells neither journaled-and-present nor journaled-removed: {unaccounted[:5]}")
    ids = {e["id"] for e in journal}
    pending = [e["id"] for e in journal if e["undone_by"] and str(e["undone_by"]).startswith("pending:")]
    if pending:
        problems.append(f"{len(pending)} operations left with a pending undo claim")
    dangling = [e["id"] for e in journal if e["undone_by"] and not str(e["undone_by"]).startswith("pending:") and e["undone_by"] not in ids]
    if dangling:
        problems.append(f"{len(dangling)} operations marked undone by an operation not in the journal")
    undone = sum(1 for e in journal if e["undone_by"])
    undo_targets = {e["undoes"] for e in journal if e["op"] == "undo" and e["undoes"]}
    if undone != len(undo_targets):
        problems.append(f"{undone} operations marked undone, {len(undo_targets)} undone according to the undo entries")
    info = {"journal": len(journal), "by_op": dict(sorted(by_op.items())), "initial": len(nb.initial), "final": len(final),
            "inserted": len(nb.inserted)}
    return not problems, problems, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients run (default 60)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--cells", type=int, default=30, help="cells per notebook at the start (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-slope", type=float, default=2.0, help="MB/min over the second half below which memory is flat")
    parser.add_argument("--json", default=None, help="also write the summary as JSON to this file")
    args = parser.parse_args()
    if not 0 < args.seconds <= 3600:
        parser.error("--seconds must be in (0, 3600]")

    stats = Stats()
    with Server() as srv:
        setup = httpx.Client(base_url=srv.base, headers={"Authorization": f"token {srv.token}"}, timeout=60)
        notebooks: list[Notebook] = []
        for pname, names in (("Load A", ["one.ipynb", "two.ipynb"]), ("Load B", ["three.ipynb"])):
            r = setup.post("api/datadive/projects", json={"name": pname})
            assert r.status_code == 201, r.text
            project = r.json()
            for name in names:
                make_notebook(srv.root / project["path"] / name, args.cells)
                cells = setup.get(f"api/datadive/projects/{project['id']}/notebooks/{quote(name)}/cells")
                assert cells.status_code == 200, cells.text
                notebooks.append(Notebook(project["id"], project["path"], name, [c["id"] for c in cells.json()["cells"]]))

        sampler = RssSampler(srv.pid)
        sampler.start()
        clients = [Client(srv, notebooks, stats, args.seed * 1000 + i) for i in range(args.clients)]
        t0 = time.perf_counter()
        deadline = t0 + args.seconds
        threads = [threading.Thread(target=c.run, args=(deadline,), daemon=True) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.perf_counter()) + 120)
        elapsed = time.perf_counter() - t0
        stuck = sum(t.is_alive() for t in threads)
        if stuck:
            stats.bug(f"{stuck} clients still waiting for an answer 120 s after the end")
        sampler.stop_event.set()
        sampler.join()

        checks = [(nb, *check_notebook(setup, nb)) for nb in notebooks]
        log = srv.log_path.read_text(errors="replace")
        server_errors = [line for line in log.splitlines() if "Traceback" in line or "[E " in line][:10]
        setup.close()

    # -- report ---------------------------------------------------------------------------
    total = sum(stats.by.values())
    all_ms = [ms for v in stats.latency.values() for ms in v]
    print(f"load test: {args.clients} clients, {elapsed:.1f} s, {len(notebooks)} notebooks of {args.cells} cells at the start, "
          f"loopback server pid {srv.pid}")
    print(f"\n{'kind':14} {'status':>6} {'count':>7}")
    for (kind, status), n in sorted(stats.by.items()):
        flag = "" if 200 <= status < 300 or status in ALLOWED else "  <- ERROR"
        print(f"{kind:14} {status:>6} {n:>7}{flag}")
    print(f"\n{total} requests, {total / elapsed:.1f}/s; latency p50 {median(all_ms):.1f} ms, p99 {percentile(all_ms, 99):.1f} ms")
    print(f"{'kind':14} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in sorted(stats.latency):
        v = stats.latency[kind]
        print(f"{kind:14} {len(v):>6} {median(v):8.1f} {percentile(v, 99):8.1f}")
    statuses = Counter()
    for (kind, status), n in stats.by.items():
        statuses["2xx" if 200 <= status < 300 else str(status)] += n
    print("by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))

    samples = sampler.samples
    half = [s for s in samples if s[0] >= samples[-1][0] / 2] if samples else []
    mbs = [m for _, m in samples]
    slope_all, slope_half = slope_mb_per_min(samples), slope_mb_per_min(half)
    writes_per_s = sum(n for (k, s), n in stats.by.items() if k not in ("list_projects", "list_cells", "get_cell", "history")) / elapsed
    per_op_kb = slope_half / 60 * 1024 / writes_per_s if writes_per_s else float("nan")
    flat = slope_half < args.max_slope
    print(f"\nserver RSS ({len(samples)} samples, 1 s apart): first {mbs[0]:.1f} MB, last {mbs[-1]:.1f} MB, max {max(mbs):.1f} MB; "
          f"slope {slope_all:+.2f} MB/min over the run, {slope_half:+.2f} MB/min over the second half "
          f"({per_op_kb:+.2f} KB per write request) -> {'flat' if flat else 'GROWING'} (criterion: second-half slope < {args.max_slope} MB/min)")
    print("RSS every 10 s (MB): " + " ".join(f"{m:.1f}" for t, m in samples if round(t) % 10 == 0))

    lost = False
    print("\nno lost operation:")
    for nb, ok, problems, info in checks:
        lost |= not ok
        print(f"  {nb.name}: {'ok' if ok else 'FAILED'}: {info.get('initial')} cells -> {info.get('final')} cells, "
              f"{info.get('journal')} journal entries {info.get('by_op')}, {info.get('inserted')} cells inserted"
              + ("; replayed journal = file, journal = successful requests" if ok else ""))
        for p in problems:
            print(f"    - {p}")
    if stats.errors:
        print(f"\nerrors ({stats.error_count}):")
        for e in stats.errors:
            print("  " + e)
    if server_errors:
        print("\nserver log errors:")
        for line in server_errors:
            print("  " + line[:300])
    verdict = 1 if stats.error_count or lost else (0 if flat else 2)
    print(f"\nsummary: {total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s), "
          f"{statuses.get('409', 0)} x 409, {statuses.get('412', 0)} x 412, {stats.error_count} errors; "
          f"p50 {median(all_ms):.1f} ms, p99 {percentile(all_ms, 99):.1f} ms; RSS {mbs[0]:.0f} -> {mbs[-1]:.0f} MB (max {max(mbs):.0f}), "
          f"{'flat' if flat else 'GROWING'}; lost operations: {'none' if not lost else 'YES'}; exit status {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "seconds": elapsed, "clients": args.clients, "requests": total, "by": {f"{k} {s}": n for (k, s), n in stats.by.items()},
            "p50_ms": median(all_ms), "p99_ms": percentile(all_ms, 99), "errors": stats.errors, "rss_mb": samples,
            "slope_mb_min": slope_all, "slope_second_half_mb_min": slope_half, "flat": flat,
            "checks": {nb.name: {"ok": ok, "problems": p, **info} for nb, ok, p, info in checks},
        }, indent=1))
    return verdict


if __name__ == "__main__":
    sys.exit(main())
