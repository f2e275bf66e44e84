"""Reorder, delete and undo on a notebook open in a live room, seen by a collaboration client.

The same real server and pycrdt client as ``test_cells_live.py`` (its fixtures and
helpers are reused). Every operation edits the room's shared document, with its
journal row written in the same database transaction, and every undo is a lookup
of the operation's inverse applied to the shared document.
"""

from __future__ import annotations

from test_cells_live import client_cells, join, jp_server_config, make_project, wait_for  # noqa: F401 - the fixture is used

NB = "open.ipynb"


async def test_reorder_delete_and_their_undos_in_a_live_room(api, http_server_client, jp_base_url, jp_auth_header, jp_http_port):
    project = await make_project(api)
    pid = project["id"]
    ws, ynb, provider = await join(http_server_client, jp_base_url, jp_auth_header, jp_http_port, f"{project['path']}/{NB}")
    async with provider:
        await provider.synced.wait()
        await wait_for(lambda: len(ynb.ycells) >= 1)
        first = [cid for cid, _ in client_cells(ynb)]  # a room opens an empty notebook with one empty cell
        made = []
        for body in ({"cell_type": "markdown", "source": "# title"},
                     {"template": {"id": "value-counts"}, "inputs": {"column": "species"}},
                     {"cell_type": "code", "source": "x = 1"}):
            r = await api("POST", "projects", pid, "notebooks", NB, "cells", body=body)
            assert r.status == 201 and r.headers["ETag"].startswith('"y'), r.text
            made.append(r.json["cells"][0]["id"])
        await wait_for(lambda: [cid for cid, _ in client_cells(ynb)] == first + made)

        listing = await api("GET", "projects", pid, "notebooks", NB, "cells")
        assert [(c["id"], c["state"]) for c in listing.json["cells"]][len(first):] == [
            (made[0], "plain"), (made[1], "generated"), (made[2], "plain")]
        assert listing.headers["ETag"].startswith('"y')

        before = first + made
        order = [made[2], made[0], *first, made[1]]
        r = await api("PUT", "projects", pid, "notebooks", NB, "cells", "order", body={"order": order},
                      headers={"If-Match": listing.headers["ETag"]})
        assert r.status == 200, r.text
        assert [(c["id"], c["index"]) for c in r.json["cells"]] == [(cid, i) for i, cid in enumerate(order)]
        assert r.json["cells"][-1]["state"] == "generated" and r.json["cells"][-1]["template"] == "value-counts"
        await wait_for(lambda: [cid for cid, _ in client_cells(ynb)] == order)

        r = await api("DELETE", "projects", pid, "notebooks", NB, "cells", made[1])
        assert r.status == 204, r.text
        await wait_for(lambda: [cid for cid, _ in client_cells(ynb)] == order[:-1])

        history = (await api("GET", "projects", pid, "notebooks", NB, "history")).json["items"]
        assert [h["op"] for h in history[:2]] == ["delete", "reorder"]
        for entry, expected in ((history[0], order), (history[1], before)):  # newest first
            r = await api("POST", "projects", pid, "notebooks", NB, "history", entry["id"], "undo")
            assert r.status == 200, r.text
            assert r.json["undone"] == entry["id"] and len(r.json["operations"]) == 1
            await wait_for(lambda expected=expected: [cid for cid, _ in client_cells(ynb)] == expected)
        assert "df['species']" in dict(client_cells(ynb))[made[1]]  # the deleted cell is back, as it was

        history = (await api("GET", "projects", pid, "notebooks", NB, "history")).json["items"]
        assert [h["op"] for h in history[:4]] == ["undo", "undo", "delete", "reorder"]
        assert history[2]["undone_by"] == history[1]["id"] and history[3]["undone_by"] == history[0]["id"]
        r = await api("POST", "projects", pid, "notebooks", NB, "history", history[2]["id"], "undo")
        assert r.status == 409 and r.json["code"] == "already_undone", r.text
    ws.close()
