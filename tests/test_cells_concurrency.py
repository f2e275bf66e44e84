"""Cell operations under concurrency (issue 4): serialised writes, If-Match, external writers.

All clients are concurrent requests (``asyncio.gather``) against one real server
per test; each phase asserts from the requests' start and end times that they
really were in flight together (``max_in_flight``). The notebook is read back with
nbformat (and validated) after each phase. Notebooks stay small (short sources)
so the suite stays fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.parse

import nbformat
from datadive_testing import assert_error, max_in_flight
from test_cells_api import Book, new_book, ok, read_nb, write_nb

CLIENTS = 8
INSERTS = 50


async def contents(http_server_client, jp_base_url, jp_auth_header, method, path, body=None):
    """The stock contents REST API of the same server (what JupyterLab uses to load and save)."""
    url = f"{jp_base_url}api/contents/{urllib.parse.quote(path)}"
    if method == "GET":
        url += "?type=notebook&content=1"
    resp = await http_server_client.fetch(
        url, method=method, headers=jp_auth_header, raise_error=False,
        body=json.dumps(body) if body is not None else None,
    )
    assert resp.code in (200, 201), (resp.code, resp.body)
    return json.loads(resp.body)


def rel_path(book: Book, jp_root_dir) -> str:
    return book.file.relative_to(jp_root_dir).as_posix()


# -- without If-Match: serialised, nothing lost ----------------------------------------------------


async def test_eight_clients_fifty_inserts_each_without_if_match(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    seed = await book.code("seed")

    async def client(k: int):
        got = []
        for i in range(INSERTS):
            body = {"cell_type": "code", "source": f"c{k}-{i}"}
            if k % 4 == 1:
                body["index"] = 0  # some clients insert at the top
            elif k % 4 == 2:
                body["after"] = seed["id"]  # some right after the seed cell
            r = await book.insert(body)
            assert r.status == 201, (k, i, r.status, r.text)
            assert len(r.json["cells"]) == 1 and r.json["cells"][0]["source"] == f"c{k}-{i}"
            got.append(r.json["cells"][0]["id"])
        return got

    started = time.monotonic()
    mark = len(api.log)
    results = await asyncio.gather(*[client(k) for k in range(CLIENTS)])
    elapsed = time.monotonic() - started
    storm = api.log[mark:]
    assert len(storm) == CLIENTS * INSERTS
    assert max_in_flight(storm) == CLIENTS, "the clients' inserts did not overlap"
    new_ids = [cid for ids in results for cid in ids]
    assert len(new_ids) == len(set(new_ids)) == CLIENTS * INSERTS

    listed, nb = await book.check()
    ids = [c.id for c in nb.cells]
    assert len(ids) == CLIENTS * INSERTS + 1
    assert set(ids) == set(new_ids) | {seed["id"]}
    assert len(set(ids)) == len(ids)
    sources = [c.source for c in nb.cells]
    assert sorted(sources) == sorted(["seed"] + [f"c{k}-{i}" for k in range(CLIENTS) for i in range(INSERTS)])
    # Each client's own cells keep the order its inserts imply.
    for k in range(CLIENTS):
        mine = [int(s.split("-")[1]) for s in sources if s.startswith(f"c{k}-")]
        expected = list(range(INSERTS))
        assert mine == (expected if k % 4 in (0, 3) else expected[::-1]), k
    assert [c["id"] for c in listed] == ids

    items = await book.history(limit=500)
    inserts = [i for i in items if i["op"] == "insert"]
    assert len(items) == len(inserts) == CLIENTS * INSERTS + 1
    assert {i["cell_id"] for i in inserts} == set(ids)
    print(f"{CLIENTS * INSERTS} concurrent inserts in {elapsed:.2f} s")


async def test_concurrent_mixed_operations_without_if_match(api, jp_root_dir):
    """Clients insert, edit, re-generate, move, delete and reorder at once: every acknowledged change is in the file."""
    book = await new_book(api, jp_root_dir)
    anchor = await book.code("anchor")

    async def client(k: int):
        made = [(await book.insert_ok({"cell_type": "code", "source": f"k{k}-{i}", "after": anchor["id"]}))[0]["id"] for i in range(4)]
        gen = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": f"col{k}"}, "index": 0}))[0]
        await ok(await book.patch(made[0], {"source": f"k{k}-0 edited"}))
        await ok(await book.patch(gen["id"], {"inputs": {"column": f"new{k}"}}))
        await ok(await book.move(made[1], {"index": 0}))
        await ok(await book.move(made[2], {"before": anchor["id"]}))
        r = await book.delete(made[3])
        assert r.status == 204, r.text
        if k == 0:
            await ok(await book.order(list(reversed([c["id"] for c in await book.cells()]))))
        return {made[0]: f"k{k}-0 edited", made[1]: f"k{k}-1", made[2]: f"k{k}-2"}, gen["id"], made[3]

    mark = len(api.log)
    results = await asyncio.gather(*[client(k) for k in range(CLIENTS)])
    assert max_in_flight(api.log[mark:]) == CLIENTS, "the clients' operations did not overlap"
    _, nb = await book.check()
    by_id = {c.id: c for c in nb.cells}
    assert len(nb.cells) == 1 + CLIENTS * 4
    for k, (expected, gen_id, deleted) in enumerate(results):
        for cid, source in expected.items():
            assert by_id[cid].source == source
        assert deleted not in by_id
        assert "'new%d'" % k in by_id[gen_id].source and by_id[gen_id].metadata["datadive"]["inputs"]["column"] == f"new{k}"
    items = await book.history(limit=500)
    assert len(items) == 1 + CLIENTS * (4 + 1 + 2 + 2 + 1) + 1


# -- with If-Match: losers get 412, nothing lost ------------------------------------------------------


async def test_if_match_losers_get_412_and_nothing_is_lost(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    target = await book.code("target = 0")
    won: list[str] = [target["id"]]

    # Rounds where every client read the same ETag: exactly one write wins each round.
    for round_ in range(4):
        etags = [e for _, e in await asyncio.gather(*[book.listing() for _ in range(CLIENTS)])]
        assert len(set(etags)) == 1
        replies = await asyncio.gather(*[
            book.insert({"cell_type": "code", "source": f"r{round_}-c{k}"}, headers={"If-Match": etags[k]})
            for k in range(CLIENTS)
        ])
        assert max_in_flight(replies) == CLIENTS, "the round's writes did not overlap"
        statuses = sorted(r.status for r in replies)
        assert statuses == [201] + [412] * (CLIENTS - 1), [r.text for r in replies]
        for r in replies:
            if r.status == 201:
                won += [c["id"] for c in r.json["cells"]]
                assert r.headers["ETag"] == await book.etag()
            else:
                assert_error(r, 412, "stale", ["/headers/If-Match"])
        _, nb = await book.check()
        assert [c.id for c in nb.cells] == won

    # The same for edits of one cell: one PATCH wins, its source is the one in the file.
    etags = [e for _, e in await asyncio.gather(*[book.listing() for _ in range(CLIENTS)])]
    replies = await asyncio.gather(*[
        book.patch(target["id"], {"source": f"target = {k + 1}"}, headers={"If-Match": etags[k]}) for k in range(CLIENTS)
    ])
    assert max_in_flight(replies) == CLIENTS, "the PATCHes did not overlap"
    winners = [k for k, r in enumerate(replies) if r.status == 200]
    assert len(winners) == 1 and sorted(r.status for r in replies) == [200] + [412] * (CLIENTS - 1)
    for r in replies:
        if r.status == 412:
            assert_error(r, 412, "stale", ["/headers/If-Match"])
    assert book.sources()[0] == f"target = {winners[0] + 1}"
    await book.check()

    # Free for all: read, write with If-Match, retry on 412 until each client has made 3 cells.
    async def client(k: int):
        mine, refused = [], 0
        while len(mine) < 3:
            _, etag = await book.listing()
            body = {"cell_type": "markdown", "source": f"free-{k}-{len(mine)}"}
            if len(mine) == 1:
                body["index"] = 0
            r = await book.insert(body, headers={"If-Match": etag})
            if r.status == 412:
                assert_error(r, 412, "stale", ["/headers/If-Match"])
                refused += 1
                assert refused < 500, "livelock"
                continue
            assert r.status == 201, r.text
            mine += [c["id"] for c in r.json["cells"]]
        return mine, refused

    mark = len(api.log)
    results = await asyncio.gather(*[client(k) for k in range(CLIENTS)])
    assert max_in_flight(api.log[mark:]) == CLIENTS, "the clients did not overlap"
    made = [cid for mine, _ in results for cid in mine]
    assert sum(refused for _, refused in results) > 0, "no client ever lost: the test did not race"
    _, nb = await book.check()
    ids = [c.id for c in nb.cells]
    # Every 201 is in the file, and nothing is in the file that had no 201.
    assert sorted(ids) == sorted(won + made)
    assert sorted(c.source for c in nb.cells if c.source.startswith("free-")) == sorted(
        f"free-{k}-{i}" for k in range(CLIENTS) for i in range(3)
    )
    assert len([i for i in await book.history(limit=500) if i["op"] == "insert"]) == len(ids)


# -- external writers ---------------------------------------------------------------------------------


async def test_contents_api_write_between_get_and_patch_is_stale(api, jp_root_dir, jp_base_url, http_server_client, jp_auth_header):
    book = await new_book(api, jp_root_dir)
    a = await book.code("x = 1")
    b = (await book.insert_ok({"template": {"id": "value-counts"}, "inputs": {"column": "group"}}))[0]
    _, etag = await book.listing()
    path = rel_path(book, jp_root_dir)

    # JupyterLab (or a script) loads and saves the notebook through the contents API: same size, one character.
    model = await contents(http_server_client, jp_base_url, jp_auth_header, "GET", path)
    model["content"]["cells"][0]["source"] = "x = 2"
    saved = await contents(http_server_client, jp_base_url, jp_auth_header, "PUT", path,
                           {"type": "notebook", "format": "json", "content": model["content"]})
    assert saved["path"] == path
    assert book.sources()[0] == "x = 2"

    before = book.raw()
    for reply in (
        await book.patch(b["id"], {"inputs": {"column": "age"}}, headers={"If-Match": etag}),
        await book.patch(a["id"], {"source": "x = 3"}, headers={"If-Match": etag}),
        await book.insert({"cell_type": "code", "source": "late"}, headers={"If-Match": etag}),
        await book.delete(a["id"], headers={"If-Match": etag}),
    ):
        assert_error(reply, 412, "stale", ["/headers/If-Match"])
        assert book.raw() == before
    listed, nb = await book.check()
    assert listed[0]["source"] == "x = 2"

    # With the new ETag the write goes through, and the external change is kept.
    fresh = await book.etag()
    assert fresh != etag
    r = await book.patch(b["id"], {"inputs": {"column": "age"}}, headers={"If-Match": fresh})
    await ok(r)
    _, nb = await book.check()
    assert nb.cells[0].source == "x = 2" and "'age'" in nb.cells[1].source

    # Another contents-API save, then a write without If-Match: serialised after it, nothing lost.
    model = await contents(http_server_client, jp_base_url, jp_auth_header, "GET", path)
    model["content"]["cells"][0]["source"] = "x = 4"
    model["content"]["metadata"]["from_lab"] = True
    await contents(http_server_client, jp_base_url, jp_auth_header, "PUT", path,
                   {"type": "notebook", "format": "json", "content": model["content"]})
    await book.code("after the save")
    _, nb = await book.check()
    assert nb.cells[0].source == "x = 4" and nb.metadata.get("from_lab") is True
    assert nb.cells[-1].source == "after the save"


async def test_write_on_disk_makes_the_etag_stale(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    a = await book.code("x = 1")
    await book.code("y = 1")
    _, etag = await book.listing()

    nb = read_nb(book.file)
    nb.cells[0].source = "x = 9"  # same size
    write_nb(book.file, nb)
    before = book.raw()
    reply = await book.patch(a["id"], {"source": "x = 5"}, headers={"If-Match": etag})
    assert_error(reply, 412, "stale", ["/headers/If-Match"])
    assert book.raw() == before
    listed, _ = await book.check()
    assert listed[0]["source"] == "x = 9"

    # Without If-Match the write applies to what is on disk now.
    await ok(await book.move(a["id"], {"index": 1}))
    _, nb = await book.check()
    assert [c.source for c in nb.cells] == ["y = 1", "x = 9"]


async def test_write_on_disk_in_the_same_timestamp_tick_is_still_seen(api, jp_root_dir):
    """A same-size change whose modification time equals the last one (a coarse clock, NFS, FAT, a quick
    autosave) is still a change: the old ETag is stale and a write without If-Match keeps it."""
    book = await new_book(api, jp_root_dir)
    a = await book.code("x = 1")
    await book.code("y = 1")
    _, etag = await book.listing()
    stat = os.stat(book.file)

    nb = read_nb(book.file)
    nb.cells[0].source = "x = 9"
    write_nb(book.file, nb)
    os.utime(book.file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same tick as our own last write
    assert os.stat(book.file).st_size == stat.st_size

    listed, _ = await book.listing()
    assert listed[0]["source"] == "x = 9", "the API still serves the copy from before the change"
    reply = await book.patch(a["id"], {"source": "x = 5"}, headers={"If-Match": etag})
    assert_error(reply, 412, "stale", ["/headers/If-Match"])
    await book.code("z = 1")
    _, nb = await book.check()
    assert [c.source for c in nb.cells] == ["x = 9", "y = 1", "z = 1"], "an external change was lost"
