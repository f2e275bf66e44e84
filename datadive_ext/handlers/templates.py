"""The template library: list, read, create, new versions, retire, preview.

The service's ``*_async`` methods do the work that grows with what a template's
author or a form's user wrote (checking a document, loading a stored version,
rendering) in the worker pool, so a slow template never holds up other requests.
"""

from __future__ import annotations

import re

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import Invalid
from ..services import nbtemplates
from .base import DatadiveHandler

AUTH_RESOURCE = "datadive:templates"
TID = r"(?P<tid>[^/]+)"
KINDS = ("cell", "notebook")


def etag(version: int) -> str:
    return f'"{version}"'


class TemplatesHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self):
        arg = self.get_query_argument
        kind = arg("kind", None) or "cell"
        if kind not in KINDS:
            raise Invalid("unknown kind", [{"path": "/kind", "message": "must be one of " + ", ".join(KINDS)}])
        if kind == "notebook":
            # Notebook templates (docs/notebook-templates.md): the same page shape and filters.
            filters = dict(q=arg("q", None), source=arg("source", None), category=arg("category", None), tag=arg("tag", None),
                           **self.page_args())
            nbtemplates.page([], **filters)  # the arguments are checked before any file is read
            self.reply(nbtemplates.page(await self.app.nbtemplates.list(), **filters).to_dict())
            return
        page = await self.templates.list_async(
            category=arg("category", None), tag=arg("tag", None), q=arg("q", None), source=arg("source", None),
            retired=self.bool_arg("retired"), **self.page_args(),
        )
        self.reply(page.to_dict())

    @web.authenticated
    @authorized
    async def post(self):
        # The document is checked by Template.from_dict (the same schema, plus
        # inputs, sources and examples), so every problem has one code.
        template = await self.templates.create_async(self.body(), self.user)
        self.set_header("ETag", etag(template["version"]))
        self.reply(template, 201, location=self.url("templates", template["id"]))


class TemplateHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, tid):
        template = await self.templates.get_async(tid, self.int_arg("version"))
        self.set_header("ETag", etag(template["version"]))
        self.reply(template)

    @web.authenticated
    @authorized
    async def put(self, tid):
        template = await self.templates.update_async(tid, self.body(), self.user, self._if_match())
        self.set_header("ETag", etag(template["version"]))
        self.reply(template)

    @web.authenticated
    @authorized
    async def delete(self, tid):
        await self.templates.retire_async(tid, self.user)
        self.no_content()

    def _if_match(self) -> int | None:
        raw = self.request.headers.get("If-Match")
        if raw is None:
            return None
        m = re.fullmatch(r'\s*(?:W/)?"?(\d+)"?\s*', raw)
        if not m:
            raise Invalid("If-Match must be a template version such as \"3\"", [{"path": "/headers/If-Match", "message": "is not a version"}])
        return int(m.group(1))


class TemplateVersionsHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, tid):
        self.reply({"items": await self.templates.versions_async(tid)})


class TemplateRenderHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized(action="read")  # a preview changes nothing
    async def post(self, tid):
        data = self.body("TemplateRender") if (self.request.body or b"").strip() else {}
        self.reply({"cells": await self.templates.render_async(tid, data.get("inputs", {}), data.get("version"))})


def routes(prefix: str) -> list:
    return [
        (rf"{prefix}/templates", TemplatesHandler),
        (rf"{prefix}/templates/{TID}", TemplateHandler),
        (rf"{prefix}/templates/{TID}/versions", TemplateVersionsHandler),
        (rf"{prefix}/templates/{TID}/render", TemplateRenderHandler),
    ]
