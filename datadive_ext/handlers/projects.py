"""Projects, members and notebooks."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import DatadiveHandler

AUTH_RESOURCE = "datadive:projects"
PID = r"(?P<pid>[A-Za-z0-9_-]+)"
SEGMENT = r"(?P<{}>[^/]+)"


class ProjectsHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self):
        q = self.get_query_argument("q", None)
        self.reply(self.projects.list(self.user, q=q, **self.page_args()).to_dict())

    @web.authenticated
    @authorized
    async def post(self):
        data = self.body("ProjectCreate")
        project = await self.projects.create(self.user, data["name"], data.get("description", ""))
        self.reply(project, 201, location=self.url("projects", project["id"]))


class ProjectHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, pid):
        self.reply(await self.projects.get(pid, self.user))

    @web.authenticated
    @authorized
    async def patch(self, pid):
        self.reply(await self.projects.update(pid, self.user, self.body("ProjectUpdate")))

    @web.authenticated
    @authorized
    async def delete(self, pid):
        await self.projects.delete(pid, self.user, delete_files=self.bool_arg("delete_files"))
        self.no_content()


class MembersHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, pid):
        self.reply({"items": self.projects.members(pid, self.user)})


class MemberHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def put(self, pid, user):
        data = self.body("MemberPut")
        self.reply(await self.projects.set_member(pid, self.user, user, data["role"]))

    @web.authenticated
    @authorized
    async def delete(self, pid, user):
        await self.projects.remove_member(pid, self.user, user)
        self.no_content()


class NotebooksHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, pid):
        self.reply({"items": await self.projects.notebooks(pid, self.user)})

    @web.authenticated
    @authorized(resource="contents")
    async def post(self, pid):
        data = self.body("NotebookCreate")
        if "from_template" in data:
            notebook = await self.projects.create_notebook_from_template(
                pid, self.user, self.app.nbtemplates, data["from_template"], data.get("parameters", {}), data.get("name"),
            )
        else:
            notebook = await self.projects.create_notebook(pid, self.user, data["name"])
        self.reply(notebook, 201, location=self.url("projects", pid, "notebooks", notebook["path"]))


class NotebookHandler(DatadiveHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, pid, nb):
        self.reply(await self.projects.notebook(pid, self.user, nb))

    @web.authenticated
    @authorized(resource="contents")
    async def patch(self, pid, nb):
        data = self.body("NotebookRename")
        self.reply(await self.projects.rename_notebook(pid, self.user, nb, data["name"]))

    @web.authenticated
    @authorized(resource="contents")
    async def delete(self, pid, nb):
        await self.projects.delete_notebook(pid, self.user, nb)
        self.no_content()


def routes(prefix: str) -> list:
    return [
        (rf"{prefix}/projects", ProjectsHandler),
        (rf"{prefix}/projects/{PID}", ProjectHandler),
        (rf"{prefix}/projects/{PID}/members", MembersHandler),
        (rf"{prefix}/projects/{PID}/members/{SEGMENT.format('user')}", MemberHandler),
        (rf"{prefix}/projects/{PID}/notebooks", NotebooksHandler),
        (rf"{prefix}/projects/{PID}/notebooks/{SEGMENT.format('nb')}", NotebookHandler),
    ]
