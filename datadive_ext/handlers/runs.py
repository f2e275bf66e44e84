"""Headless runs: projects/{pid}/runs and projects/{pid}/runs/{rid} (service: services/runs.py)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_core.utils import ensure_async
from tornado import web

from ..errors import Forbidden
from .base import DatadiveHandler

AUTH_RESOURCE = "datadive:projects"
PID = r"(?P<pid>[A-Za-z0-9_-]+)"
RID = r"(?P<rid>[A-Za-z0-9_-]+)"


class RunsBase(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def runs(self):
        return self.extensionapp.runs

    async def require_permissions(self) -> None:
        """A run executes code in a kernel and writes a notebook: the server's authorizer must allow both
        (its answer awaited: an authorizer's ``is_authorized`` may be a coroutine)."""
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "execute", "kernels")):
            raise Forbidden("a run executes code in a kernel: this needs permission to execute in kernels", code="kernel_forbidden")
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "write", "contents")):
            raise Forbidden("a run writes its executed copy into the project: this needs permission to write contents",
                            code="forbidden")


class RunsHandler(RunsBase):
    @web.authenticated
    @authorized
    async def get(self, pid):
        self.reply((await self.runs.list(pid, self.user, **self.page_args())).to_dict())

    @web.authenticated
    @authorized
    async def post(self, pid):
        data = self.body("RunCreate")
        await self.require_permissions()
        run = await self.runs.create(pid, self.user, data)
        self.reply(run, 202, location=self.url("projects", pid, "runs", run["id"]))


class RunHandler(RunsBase):
    @web.authenticated
    @authorized
    async def get(self, pid, rid):
        self.reply(await self.runs.get(pid, self.user, rid))

    @web.authenticated
    @authorized
    async def delete(self, pid, rid):
        self.reply(await self.runs.cancel(pid, self.user, rid))


def routes(prefix: str) -> list:
    return [
        (rf"{prefix}/projects/{PID}/runs", RunsHandler),
        (rf"{prefix}/projects/{PID}/runs/{RID}", RunHandler),
    ]
