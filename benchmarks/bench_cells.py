"""Cell insert latency over HTTP beside a client doing GET + PUT of the same notebook, same server, same run.

For notebooks of 10, 100 and 1000 cells: the median of N template inserts
(``POST .../cells``, no If-Match) against the median of N client round trips
that add one cell the only way the contents API allows (``GET /api/contents``
then ``PUT`` of the whole notebook). Target: the insert at most 0.5x the
baseline at every size.

With a live room (jupyter-collaboration, a pycrdt client connected as a
browser would be), the median insert at 1000 cells: target at most 10 ms;
beside it, on the same server, the same insert into a 1000-cell notebook
nobody has open (written through the contents manager).

Listing: the median ``GET .../cells`` of a notebook of 1,000 cells generated from
50 user templates (every fifth at a newer version, so cells are ``generated`` and
``outdated``), beside ``GET /api/contents/<nb>?content=1`` of the same notebook
(what JupyterLab reads to open it). Target: at most 1.2x that GET.

Run: ``python benchmarks/bench_cells.py [--quick]`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import asyncio
import copy
import statistics
import sys
import time
import uuid
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, exit_code, quick_parser  # noqa: E402
from _server import Server, quote  # noqa: E402

from cell_templates import builtin_templates  # noqa: E402

SIZES = (10, 100, 1000)
REPEATS = {10: 30, 100: 30, 1000: 12}
QUICK_REPEATS = {10: 10, 100: 10, 1000: 5}
LIVE_REPEATS, QUICK_LIVE_REPEATS = 30, 10
TARGET = 0.5
LIVE_TARGET_MS = 10.0
LIST_CELLS, LIST_TEMPLATES = 1000, 50
LIST_REPEATS, QUICK_LIST_REPEATS = 30, 10
LIST_TARGET = 1.2


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


def _user_template(tid: str) -> dict:
    """A user template of two cells (markdown and code) with a required ``column``."""
    return {
        "id": tid, "title": f"Count {tid}", "description": "Counts the rows of one column.", "category": "custom",
        "inputs": {"type": "object", "required": ["column"], "properties": {
            "df": {"type": "string", "default": "df"}, "column": {"type": "string", "minLength": 1},
            "n": {"type": "integer", "minimum": 1, "default": 5}}},
        "cells": [{"cell_type": "markdown", "source": "## Counting {{ column }}"},
                  {"cell_type": "code", "source": "{{ df|ident }}[{{ column }}].head({{ n }})"}],
        "examples": [{"inputs": {"column": "group"}}],
    }


def make_generated_notebook(srv: Server, path: Path, n: int, templates: int) -> None:
    """``n`` cells generated from ``templates`` user templates created over the API (every fifth then gets a version 2)."""
    rendered = []
    for k in range(templates):
        doc = _user_template(f"bench-count-{k:02d}")
        status, body, _ = srv.call("POST", "api/datadive/templates", doc)
        assert status == 201, body
        status, body, _ = srv.call("POST", f"api/datadive/templates/{doc['id']}/render", {"inputs": {"column": f"c{k}"}})
        assert status == 200, body
        rendered.append(body["cells"])
        if k % 5 == 0:
            status, body, _ = srv.call("PUT", f"api/datadive/templates/{doc['id']}", dict(doc, description="v2"), headers={"If-Match": '"1"'})
            assert status == 200, body
    nb = nbformat.v4.new_notebook()
    k = 0
    while len(nb.cells) < n:
        for cell in rendered[k % len(rendered)]:
            cell = copy.deepcopy(cell)
            cell["id"] = uuid.uuid4().hex[:8]
            nb.cells.append(nbformat.from_dict(cell))
        k += 1
    nb.cells = nb.cells[:n]
    nbformat.write(nb, path)


def list_vs_contents_ms(srv: Server, pid: str, folder: str, name: str, repeats: int) -> tuple[float, float]:
    """Median ``GET .../cells`` and median contents ``GET`` of the same notebook, interleaved."""
    ours = f"api/datadive/projects/{pid}/notebooks/{quote(name)}/cells"
    contents = f"api/contents/{folder}/{quote(name)}?content=1"

    def listing():
        status, body, _ = srv.call("GET", ours)
        assert status == 200 and len(body["cells"]) == LIST_CELLS, status

    def read():
        status, body, _ = srv.call("GET", contents)
        assert status == 200 and len(body["content"]["cells"]) == LIST_CELLS, status

    mine, base = [], []
    listing(), read()  # warm up (first read, caches)
    for _ in range(repeats):
        for fn, times in ((listing, mine), (read, base)):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(mine), statistics.median(base)


async def _live_insert_ms(srv: Server, n: int, repeats: int = 30) -> tuple[float, float]:
    """Median insert latency while a collaboration client has the notebook open, and into a notebook nobody has open."""
    import json
    import urllib.parse

    from jupyter_ydoc import YNotebook
    from pycrdt import Doc, Provider
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    class Channel:
        def __init__(self, ws):
            self.ws, self.path = ws, "bench"

        def __aiter__(self):
            return self

        async def __anext__(self):
            message = await self.ws.read_message()
            if message is None:
                raise StopAsyncIteration
            return bytes(message)

        async def send(self, message):
            await self.ws.write_message(bytes(message), binary=True)

        async def recv(self):
            return await self.__anext__()

    auth = {"Authorization": f"token {srv.token}"}
    status, project, _ = srv.call("POST", "api/datadive/projects", {"name": "live"})
    make_notebook(srv.root / project["path"] / "live.ipynb", n)
    make_notebook(srv.root / project["path"] / "closed.ipynb", n)
    client = AsyncHTTPClient()
    path = f"{project['path']}/live.ipynb"
    session = await client.fetch(f"{srv.base}api/collaboration/session/{urllib.parse.quote(path)}", method="PUT",
                                 body=json.dumps({"format": "json", "type": "notebook"}), headers=auth)
    info = json.loads(session.body)
    ws = await websocket_connect(HTTPRequest(
        f"ws://127.0.0.1:{srv.port}/api/collaboration/room/json:notebook:{info['fileId']}?sessionId={info['sessionId']}", headers=auth))
    doc = Doc()
    ynb = YNotebook(doc)
    url = f"{srv.base}api/datadive/projects/{project['id']}/notebooks/live.ipynb/cells"
    body = json.dumps({"template": {"id": "value-counts"}, "inputs": {"column": "species"}})
    async with Provider(doc, Channel(ws)) as provider:
        await provider.synced.wait()
        while len(ynb.ycells) < n:
            await asyncio.sleep(0.05)
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            resp = await client.fetch(url, method="POST", body=body, headers=auth)
            elapsed = (time.perf_counter() - t0) * 1000
            assert resp.code == 201 and resp.headers["ETag"].startswith('"y'), resp.headers.get("ETag")
            if i:
                times.append(elapsed)
        while len(ynb.ycells) < n + repeats + 1:  # every insert reached the collaborator
            await asyncio.sleep(0.05)
    ws.close()
    closed_times = []
    closed_url = url.replace("/live.ipynb/", "/closed.ipynb/")
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        resp = await client.fetch(closed_url, method="POST", body=body, headers=auth)
        elapsed = (time.perf_counter() - t0) * 1000
        assert resp.code == 201 and not resp.headers["ETag"].startswith('"y'), resp.headers.get("ETag")
        if i:
            closed_times.append(elapsed)
    return statistics.median(times), statistics.median(closed_times)


def main() -> int:
    args = quick_parser(__doc__).parse_args()
    repeats = QUICK_REPEATS if args.quick else REPEATS
    rows, floors, ok = [], [], True
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

            # The floor of any write through the contents manager: one PUT of the notebook
            # (its save signs, validates and writes the whole file), without the GET.
            _, model, _ = srv.call("GET", contents + "?content=1")
            model["content"]["cells"].append(new_cell)
            put_body = {"type": "notebook", "format": "json", "content": model["content"]}

            def put_only():
                status, _, _ = srv.call("PUT", contents, put_body)
                assert status == 200, status

            base = median_ms(get_put, repeats[n])
            mine = median_ms(insert, repeats[n])
            floor = median_ms(put_only, repeats[n])
            ratio = mine / base
            ok &= ratio <= TARGET
            rows.append((f"insert at {n} cells (ms)", mine, base, ratio))
            floors.append((n, floor, base))
        make_generated_notebook(srv, srv.root / folder / "listed.ipynb", LIST_CELLS, LIST_TEMPLATES)
        listed, read = list_vs_contents_ms(srv, pid, folder, "listed.ipynb", QUICK_LIST_REPEATS if args.quick else LIST_REPEATS)
    live_extensions = {"datadive_ext": True, "jupyter_server_ydoc": True, "jupyter_server_fileid": True}
    with Server(extensions=live_extensions, extra_args=["--SQLiteYStore.db_path=:memory:"]) as srv:
        live, closed = asyncio.run(_live_insert_ms(srv, 1000, QUICK_LIVE_REPEATS if args.quick else LIVE_REPEATS))
    print(f"{'figure':32} {'value':>9} {'baseline':>9} {'ratio':>7}  target")
    for name, mine, base, ratio in rows:
        print(f"{name:32} {mine:9.1f} {base:9.1f} {ratio:7.2f}  <= {TARGET}x GET+PUT {'ok' if ratio <= TARGET else 'MISSED'}")
        emit(f"cell insert, {name.split()[2]}-cell notebook (median)", mine, "ms", baseline=base,
             baseline_label="client GET + PUT via /api/contents", target=f"<= {TARGET}x baseline", met=ratio <= TARGET)
    for n, floor, base in floors:
        print(f"{f'contents PUT alone at {n} (ms)':32} {floor:9.1f} {base:9.1f} {floor / base:7.2f}  (the save any insert must make)")
        emit(f"contents PUT alone (one save), {n}-cell notebook (median)", floor, "ms", baseline=base,
             baseline_label="client GET + PUT via /api/contents", target="- (floor of a write through the contents manager)", met=None)
    list_ok = listed <= LIST_TARGET * read
    print(f"{'list 1000 generated cells (ms)':32} {listed:9.1f} {read:9.1f} {listed / read:7.2f}  <= {LIST_TARGET}x contents GET "
          f"{'ok' if list_ok else 'MISSED'}  (baseline: GET /api/contents of the same notebook)")
    emit(f"GET .../cells, {LIST_CELLS:,} cells from {LIST_TEMPLATES} user templates (median)", listed, "ms", baseline=read,
         baseline_label="GET /api/contents?content=1, same notebook", target=f"<= {LIST_TARGET}x baseline", met=list_ok)
    live_ok = live <= LIVE_TARGET_MS
    print(f"{'live-room insert at 1000 (ms)':32} {live:9.1f} {closed:9.1f} {live / closed:7.2f}  <= {LIVE_TARGET_MS} ms {'ok' if live_ok else 'MISSED'}"
          "  (baseline: the same insert into a 1000-cell notebook nobody has open)")
    emit("cell insert, 1000 cells, live room open (median)", live, "ms", baseline=closed,
         baseline_label="same insert, notebook not open (contents manager)", target=f"<= {LIVE_TARGET_MS:g} ms", met=live_ok)
    return exit_code(ok and live_ok and list_ok)


if __name__ == "__main__":
    sys.exit(main())
