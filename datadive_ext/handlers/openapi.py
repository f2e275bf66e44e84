"""The OpenAPI description of this API, served with the server's base URL."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..openapi import served_spec
from .base import PREFIX, DatadiveHandler

AUTH_RESOURCE = "datadive:templates"


class OpenAPIHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self):
        self.reply(served_spec(url_path_join(self.base_url, PREFIX)))


def routes(prefix: str) -> list:
    return [(rf"{prefix}/openapi\.json", OpenAPIHandler)]
