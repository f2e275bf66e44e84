"""The statistical-test assistant: profile a dataframe, suggest tests."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_core.utils import ensure_async
from tornado import web

from .base import DatadiveHandler

AUTH_RESOURCE = "datadive:assistant"


class AssistantHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    async def kernel_allowed(self) -> bool:
        """Reading a kernel's variable runs code in it: the user must be allowed to execute there
        (the authorizer's answer awaited: ``is_authorized`` may be a coroutine)."""
        return bool(await ensure_async(self.authorizer.is_authorized(self, self.current_user, "execute", "kernels")))

    async def analyse(self, function: str, body: dict) -> None:
        self.reply(await self.extensionapp.assistant.run(function, body, self.user, self.kernel_allowed))


class ProfileHandler(AssistantHandler):
    @web.authenticated
    @authorized(action="read")  # an analysis reads data and changes nothing
    async def post(self):
        await self.analyse("profile", self.body("AssistantProfile"))


class SuggestHandler(AssistantHandler):
    @web.authenticated
    @authorized(action="read")
    async def post(self):
        await self.analyse("suggest", self.body("AssistantSuggest"))


def routes(prefix: str) -> list:
    return [
        (rf"{prefix}/assistant/profile", ProfileHandler),
        (rf"{prefix}/assistant/suggest", SuggestHandler),
    ]
