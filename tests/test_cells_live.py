"""Cell operations on a notebook open in a live collaboration room (jupyter-collaboration).

A Python collaboration client (pycrdt over the room's websocket, as a browser
would connect) joins the room, makes an unsaved edit of its own, and then sees
our inserted, moved and re-generated cells arrive as document updates: no
reload, its own edit kept. A notebook nobody has open is written to disk.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import nbformat
import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Doc, Provider
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from datadive_testing import assert_error, base_config


@pytest.fixture
def jp_server_config(jp_data_dir, tmp_path):
    return base_config(
        jp_data_dir,
        ServerApp={"jpserver_extensions": {"datadive_ext": True, "jupyter_server_ydoc": True, "jupyter_server_fileid": True}},
        SQLiteYStore={"db_path": str(tmp_path / "ystore.db")},
        BaseFileIdManager={"db_path": str(tmp_path / "fileid.db")},
        YDocExtension={"document_save_delay": 0.2},
    )


class TornadoChannel:
    """A pycrdt channel over a tornado websocket client connection."""

    def __init__(self, ws, path):
        self.ws = ws
        self._path = path

    @property
    def path(self):
        return self._path

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


async def wait_for(predicate, timeout=10.0):
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the collaboration client")


async def make_project(api):
    project = (await api("POST", "projects", body={"name": "Live"})).json
    for name in ("open", "closed"):
        assert (await api("POST", "projects", project["id"], "notebooks", body={"name": name})).status == 201
    return project


async def join(http_server_client, jp_base_url, jp_auth_header, jp_http_port, path):
    """Open a collaboration session and connect to its room, as JupyterLab does."""
    session = await http_server_client.fetch(
        f"{jp_base_url}api/collaboration/session/{urllib.parse.quote(path)}", method="PUT",
        body=json.dumps({"format": "json", "type": "notebook"}), headers=jp_auth_header,
    )
    info = json.loads(session.body)
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}api/collaboration/room/json:notebook:{info['fileId']}?sessionId={info['sessionId']}"
    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
    doc = Doc()
    ynb = YNotebook(doc)
    provider = Provider(doc, TornadoChannel(ws, path))
    return ws, ynb, provider


def client_cells(ynb):
    return [(c["id"], c["source"]) for c in ynb.get()["cells"]]


async def test_live_room_sees_insert_move_and_regenerate_without_reload(
    api, http_server_client, jp_base_url, jp_auth_header, jp_http_port, jp_root_dir
):
    project = await make_project(api)
    pid, folder = project["id"], project["path"]
    path = f"{folder}/open.ipynb"
    ws, ynb, provider = await join(http_server_client, jp_base_url, jp_auth_header, jp_http_port, path)
    async with provider:
        await provider.synced.wait()
        # The room's document has reached the client (an empty YNotebook says nbformat 0), and the client
        # has the cells our API sees in the room.
        await wait_for(lambda: ynb.get()["nbformat"] == 4)
        room = (await api("GET", "projects", pid, "notebooks", "open.ipynb", "cells")).json["cells"]
        assert client_cells(ynb) == [(c["id"], c["source"]) for c in room]
        # The client has a cell of its own with an unsaved edit: a reload would lose it.
        ynb.append_cell({"cell_type": "markdown", "source": "my notes", "metadata": {}, "id": "mine"})
        await asyncio.sleep(0.1)
        deletes = []  # cells removed by each change the client receives: a reload would remove them all

        def on_change(event):
            deletes.append(sum(d.get("delete", 0) for d in event.delta))

        ynb.ycells.observe(on_change)

        r = await api("POST", "projects", pid, "notebooks", "open.ipynb", "cells",
                      body={"template": {"id": "value-counts"}, "inputs": {"column": "species"}, "index": 0})
        assert r.status == 201, r.text
        new_id = r.json["cells"][0]["id"]
        await wait_for(lambda: [cid for cid, _ in client_cells(ynb)][:1] == [new_id])
        assert "df['species']" in dict(client_cells(ynb))[new_id]

        moved = await api("POST", "projects", pid, "notebooks", "open.ipynb", "cells", new_id, "move", body={"after": "mine"})
        assert moved.status == 200, moved.text
        await wait_for(lambda: [cid for cid, _ in client_cells(ynb)][-2:] == ["mine", new_id])

        regen = await api("PATCH", "projects", pid, "notebooks", "open.ipynb", "cells", new_id, body={"inputs": {"column": "island"}})
        assert regen.status == 200, regen.text
        await wait_for(lambda: "df['island']" in dict(client_cells(ynb)).get(new_id, ""))

        # No reload: every change arrived as a small update (the move and the
        # re-generation remove one cell each; nothing replaced the whole list),
        # and the client's own unsaved cell is still there with its text.
        assert deletes and max(deletes) <= 1, deletes
        assert dict(client_cells(ynb))["mine"] == "my notes"
        # Our view of the notebook is the live one, the client's cell included.
        listing = await api("GET", "projects", pid, "notebooks", "open.ipynb", "cells")
        assert [c["id"] for c in listing.json["cells"]][-2:] == ["mine", new_id]
        assert listing.json["cells"][-1]["state"] == "generated"
        assert listing.headers["ETag"].startswith('"y')
        # The room saves the file itself: the regenerated cell reaches the disk.
        nb_file = jp_root_dir / path

        def saved():
            try:
                nb = nbformat.read(nb_file, as_version=4)
            except Exception:
                return False
            return any(c.get("id") == new_id and "df['island']" in c.source for c in nb.cells)

        await wait_for(saved)
        nbformat.validate(nbformat.read(nb_file, as_version=4))
    ws.close()


async def test_stale_if_match_in_a_live_room(api, http_server_client, jp_base_url, jp_auth_header, jp_http_port):
    project = await make_project(api)
    pid = project["id"]
    path = f"{project['path']}/open.ipynb"
    ws, ynb, provider = await join(http_server_client, jp_base_url, jp_auth_header, jp_http_port, path)
    async with provider:
        await provider.synced.wait()
        first = await api("GET", "projects", pid, "notebooks", "open.ipynb", "cells")
        etag = first.headers["ETag"]
        ynb.append_cell({"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None})
        listing = None
        for _ in range(250):  # the collaborator's change reaches the server's copy of the room
            listing = await api("GET", "projects", pid, "notebooks", "open.ipynb", "cells")
            if listing.headers["ETag"] != etag:
                break
            await asyncio.sleep(0.02)
        assert listing.headers["ETag"] != etag
        r = await api("POST", "projects", pid, "notebooks", "open.ipynb", "cells",
                      body={"cell_type": "markdown", "source": "late"}, headers={"If-Match": etag})
        assert_error(r, 412, "stale", ["/headers/If-Match"])
        after = await api("GET", "projects", pid, "notebooks", "open.ipynb", "cells")
        assert after.json["cells"] == listing.json["cells"] and after.headers["ETag"] == listing.headers["ETag"]
        assert [c["source"] for c in after.json["cells"]][-1] == "x = 1" and "late" not in [c["source"] for c in after.json["cells"]]
    ws.close()


async def test_without_a_room_the_file_changes_at_once(api, jp_root_dir):
    project = await make_project(api)
    pid = project["id"]
    r = await api("POST", "projects", pid, "notebooks", "closed.ipynb", "cells", body={"cell_type": "markdown", "source": "# on disk"})
    assert r.status == 201, r.text
    assert not r.headers["ETag"].startswith('"y')
    nb = nbformat.read(jp_root_dir / project["path"] / "closed.ipynb", as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells] == ["# on disk"]
