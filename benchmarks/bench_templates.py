"""Listing 1,000 user templates over HTTP, beside Jupyter's own listing of 1,000 files, same server, same run.

Set-up: 1,000 user templates are created through the REST API
(``POST /api/datadive/templates``), and the same 1,000 template documents are
written as JSON files into one folder of the server's root.

Figures (median of N requests, keep-alive HTTP client, loopback):

- all 1,000 user templates: ``GET /api/datadive/templates?source=user&limit=500``
  and then the ``next_cursor`` pages until none is left (the list pages by a
  keyset cursor; 500 is the server's default ``max_page_size``, so 2 requests).
  Target: under 50 ms.
- one page at the largest page size (``limit=500``): no target of its own.

Baseline: ``GET /api/contents/<folder>?content=1`` on the folder holding the
same 1,000 documents as files: the server's own list of 1,000 items (what the
JupyterLab file browser asks for), over the same HTTP stack, auth and JSON
encoding, so the ratio says what Datadive's listing costs beside a listing
every Jupyter user already waits for. ``GET /api/status`` (the transport floor)
is printed too.

Run: ``python benchmarks/bench_templates.py [--quick]`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, exit_code, fmt, quick_parser  # noqa: E402
from _server import Server  # noqa: E402

COUNT = 1000
PAGE = 500  # DatadiveApp.max_page_size's default
TARGET_MS = 50.0


def template_doc(i: int) -> dict:
    return {
        "id": f"bulk-{i:04d}",
        "title": f"Bulk template {i}",
        "description": f"Counts the values of one column (number {i}).",
        "category": "bulk" if i % 2 else "bulk-even",
        "tags": ["bulk", f"n{i % 10}"],
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
        "requires": ["pandas"],
        "examples": [{"inputs": {"column": "group"}}],
    }


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    args = quick_parser(__doc__).parse_args()
    repeats = 15 if args.quick else 50
    with Server() as srv, httpx.Client(base_url=srv.base, headers={"Authorization": f"token {srv.token}"}, timeout=120) as http:
        t0 = time.perf_counter()
        folder = srv.root / "template-files"
        folder.mkdir()
        for i in range(COUNT):
            doc = template_doc(i)
            r = http.post("api/datadive/templates", json=doc)
            assert r.status_code == 201, (r.status_code, r.text[:500])
            (folder / f"{doc['id']}.json").write_text(json.dumps(doc), encoding="utf-8")
        created = time.perf_counter() - t0

        def list_all() -> list[str]:
            ids, cursor = [], None
            while True:
                params = {"source": "user", "limit": PAGE}
                if cursor:
                    params["cursor"] = cursor
                r = http.get("api/datadive/templates", params=params)
                assert r.status_code == 200, (r.status_code, r.text[:500])
                page = r.json()
                ids += [t["id"] for t in page["items"]]
                cursor = page["next_cursor"]
                if not cursor:
                    return ids

        def one_page():
            r = http.get("api/datadive/templates", params={"source": "user", "limit": PAGE})
            assert r.status_code == 200 and len(r.json()["items"]) == PAGE, r.status_code

        def contents():
            r = http.get("api/contents/template-files", params={"content": 1})
            assert r.status_code == 200 and len(r.json()["content"]) == COUNT, r.status_code

        def status():
            assert http.get("api/status").status_code == 200

        listed = list_all()
        assert listed == [f"bulk-{i:04d}" for i in range(COUNT)], "the listing does not give every template once, in order"
        pages = -(-COUNT // PAGE)
        # Interleave the measurements in rounds, so that a burst of load on the machine hits both alike.
        mine_all, mine_page, base = [], [], []
        floor = median_ms(status, repeats)
        for _ in range(3):
            base.append(median_ms(contents, repeats // 3 + 1))
            mine_all.append(median_ms(list_all, repeats // 3 + 1))
            mine_page.append(median_ms(one_page, repeats // 3 + 1))
        base_ms, all_ms, page_ms = statistics.median(base), statistics.median(mine_all), statistics.median(mine_page)

    ok = all_ms < TARGET_MS
    print(f"created {COUNT:,} user templates through the REST API in {created:.1f} s ({created / COUNT * 1000:.1f} ms each)")
    print(f"{'figure':52} {'value':>9} {'baseline':>9} {'ratio':>7}  target")
    print(f"{f'list {COUNT:,} user templates, {pages} pages of {PAGE} (ms)':52} {all_ms:9.1f} {base_ms:9.1f} {all_ms / base_ms:7.2f}  "
          f"< {TARGET_MS:g} ms {'ok' if ok else 'MISSED'}")
    print(f"{f'one page of {PAGE} user templates (ms)':52} {page_ms:9.1f} {base_ms:9.1f} {page_ms / base_ms:7.2f}  -")
    print(f"baseline: GET /api/contents of a folder of the same {COUNT:,} documents as files; "
          f"transport floor GET /api/status: {fmt(floor)} ms")
    emit(f"list {COUNT:,} user templates ({pages} pages of {PAGE}, median)", all_ms, "ms", baseline=base_ms,
         baseline_label=f"GET /api/contents, folder of {COUNT:,} files", target=f"< {TARGET_MS:g} ms", met=ok)
    emit(f"list one page of {PAGE} user templates (median)", page_ms, "ms", baseline=base_ms,
         baseline_label=f"GET /api/contents, folder of {COUNT:,} files")
    return exit_code(ok)


if __name__ == "__main__":
    sys.exit(main())
