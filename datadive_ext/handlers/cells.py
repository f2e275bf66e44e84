"""Cells of a notebook in a project: list, insert, read, update, delete, move, reorder, history, undo."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..notebooks import OFFLOAD_CELLS
from .base import DatadiveHandler
from .projects import PID, SEGMENT

AUTH_RESOURCE = "contents"
NB = SEGMENT.format("nb")
CELL = SEGMENT.format("cell_id")
OP = r"(?P<op_id>[0-9a-f]{32})"


class CellsBase(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def cells(self):
        return self.extensionapp.cells

    @property
    def if_match(self) -> str | None:
        return self.request.headers.get("If-Match")

    def with_etag(self, etag: str):
        self.set_header("ETag", etag)
        return self


class CellsHandler(CellsBase):
    @web.authenticated
    @authorized
    async def get(self, pid, nb):
        cells, etag = await self.cells.list(pid, self.user, nb)
        if len(cells) > OFFLOAD_CELLS:
            await self.with_etag(etag).reply_large({"cells": cells})
        else:
            self.with_etag(etag).reply({"cells": cells})

    @web.authenticated
    @authorized
    async def post(self, pid, nb):
        cells, etag = await self.cells.insert(pid, self.user, nb, self.body("CellInsert"), self.if_match)
        location = self.url("projects", pid, "notebooks", nb, "cells", cells[0]["id"])
        self.with_etag(etag).reply({"cells": cells}, 201, location=location)


class CellHandler(CellsBase):
    @web.authenticated
    @authorized
    async def get(self, pid, nb, cell_id):
        cell, etag = await self.cells.get(pid, self.user, nb, cell_id)
        self.with_etag(etag).reply(cell)

    @web.authenticated
    @authorized
    async def patch(self, pid, nb, cell_id):
        cell, etag = await self.cells.update(pid, self.user, nb, cell_id, self.body("CellUpdate"), self.if_match)
        self.with_etag(etag).reply(cell)

    @web.authenticated
    @authorized
    async def delete(self, pid, nb, cell_id):
        etag = await self.cells.delete(pid, self.user, nb, cell_id, self.if_match)
        self.with_etag(etag).no_content()


class CellMoveHandler(CellsBase):
    @web.authenticated
    @authorized
    async def post(self, pid, nb, cell_id):
        cell, etag = await self.cells.move(pid, self.user, nb, cell_id, self.body("CellMove"), self.if_match)
        self.with_etag(etag).reply(cell)


class CellOrderHandler(CellsBase):
    @web.authenticated
    @authorized
    async def put(self, pid, nb):
        cells, etag = await self.cells.reorder(pid, self.user, nb, self.body("CellOrder")["order"], self.if_match)
        self.with_etag(etag).reply({"cells": cells})


class HistoryHandler(CellsBase):
    @web.authenticated
    @authorized
    async def get(self, pid, nb):
        page = await self.cells.history(pid, self.user, nb, **self.page_args())
        self.reply(page.to_dict())


class UndoHandler(CellsBase):
    @web.authenticated
    @authorized
    async def post(self, pid, nb, op_id):
        result, etag = await self.cells.undo(pid, self.user, nb, op_id, self.if_match)
        self.with_etag(etag).reply(result)


def routes(prefix: str) -> list:
    base = rf"{prefix}/projects/{PID}/notebooks/{NB}"
    return [
        (rf"{base}/cells", CellsHandler),
        (rf"{base}/cells/order", CellOrderHandler),
        (rf"{base}/cells/{CELL}/move", CellMoveHandler),
        (rf"{base}/cells/{CELL}", CellHandler),
        (rf"{base}/history", HistoryHandler),
        (rf"{base}/history/{OP}/undo", UndoHandler),
    ]
