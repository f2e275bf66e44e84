"""Cell insert latency over HTTP beside a client doing GET + PUT of the same notebook, same server, same run.

For notebooks of 10, 100 and 1000 cells: the median of N template inserts
(``POST .../cells``, no If-Match) against the median of N client round trips
that add one cell the only way the contents API allows (``GET /api/contents``
then ``PUT`` of the whole notebook). Target: the insert at most 0.5x the
baseline at every size.

Run: ``python benchmarks/bench_cells.py`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import Server, quote  # noqa: E402

from cell_templates import builtin_templates  # noqa: E402

SIZES = (10, 100, 1000)
REPEATS = {10: 30, 100: 30, 1000: 12}
TARGET = 0.5


def make_notebook(path: Path, n: int) -> None:
    t = builtin_templates()["value-counts"]
    nb = nbformat.v4.new_notebook()
    while len(nb.cells) < n:
        nb.cells.extend(nbformat.from_dict(c) for c in t.render({"column": f"c{len(nb.cells)}"}))
    nb.cells = nb.cells[:n]
    nbformat.write(nb, path)


def median_ms(fn, repeats: int) -> float:
    fn()  # warm up (first read, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    rows, ok = [], True
    with Server() as srv:
        status, project, _ = srv.call("POST", "api/datadive/projects", {"name": "bench"})
        assert status == 201, project
        pid, folder = project["id"], project["path"]
        for n in SIZES:
            for name in (f"ours-{n}.ipynb", f"base-{n}.ipynb"):
                make_notebook(srv.root / folder / name, n)
            ours = f"api/datadive/projects/{pid}/notebooks/{quote(f'ours-{n}.ipynb')}/cells"
            body = {"template": {"id": "value-counts"}, "inputs": {"column": "species"}}

            def insert():
                status, _, _ = srv.call("POST", ours, body)
                assert status == 201, status

            contents = f"api/contents/{folder}/base-{n}.ipynb"
            new_cell = builtin_templates()["value-counts"].render({"column": "species"})[0]

            def get_put():
                status, model, _ = srv.call("GET", contents + "?content=1")
                assert status == 200
                model["content"]["cells"].append(new_cell)
                status, _, _ = srv.call("PUT", contents, {"type": "notebook", "format": "json", "content": model["content"]})
                assert status == 200, status

            base = median_ms(get_put, REPEATS[n])
            mine = median_ms(insert, REPEATS[n])
            ratio = mine / base
            ok &= ratio <= TARGET
            rows.append((f"insert at {n} cells (ms)", mine, base, ratio))
    print(f"{'figure':32} {'value':>9} {'baseline':>9} {'ratio':>7}  target")
    for name, mine, base, ratio in rows:
        print(f"{name:32} {mine:9.1f} {base:9.1f} {ratio:7.2f}  <= {TARGET}x GET+PUT {'ok' if ratio <= TARGET else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
