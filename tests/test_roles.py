"""Who may do what: the role matrix, members, authentication, single-user mode, authorizers.

Multi-user servers use the test identity provider of datadive_testing (``token-alice`` is
alice...). One server per role row; each row walks every project route.
"""

from __future__ import annotations

import inspect
import json
import warnings

import pytest
from datadive_testing import ReadOnlyAuthorizer, assert_error, base_config, multi_user_config
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.utils import JupyterServerAuthWarning
from tornado import web

from datadive_ext.handlers import routes
from datadive_ext.openapi import body_validator

RANK = {"viewer": 0, "editor": 1, "owner": 2}


def conforms(schema: str, instance) -> None:
    errors = sorted(body_validator(schema).iter_errors(instance), key=str)
    assert not errors, [e.message for e in errors]


def ext_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["datadive_ext"]))


async def ok(reply, status=200):
    assert reply.status == status, reply.text
    return reply.json


@pytest.fixture
def multi_config(jp_data_dir):
    return multi_user_config(jp_data_dir)


# -- the role matrix ---------------------------------------------------------------------------

# (label, method, segments after the project id, body, least role, success status)
ROUTES = [
    ("get project", "GET", (), None, "viewer", 200),
    ("list members", "GET", ("members",), None, "viewer", 200),
    ("list notebooks", "GET", ("notebooks",), None, "viewer", 200),
    ("get notebook", "GET", ("notebooks", "shared.ipynb"), None, "viewer", 200),
    ("get nested notebook", "GET", ("notebooks", "sub/nested.ipynb"), None, "viewer", 200),
    ("create notebook", "POST", ("notebooks",), {"name": "by-bob"}, "editor", 201),
    ("rename notebook", "PATCH", ("notebooks", "to-rename.ipynb"), {"name": "renamed"}, "editor", 200),
    ("delete notebook", "DELETE", ("notebooks", "to-delete.ipynb"), None, "editor", 204),
    ("patch project", "PATCH", (), {"name": "Renamed by bob"}, "owner", 200),
    ("add member", "PUT", ("members", "dave"), {"role": "viewer"}, "owner", 200),
    ("change member", "PUT", ("members", "carol"), {"role": "editor"}, "owner", 200),
    ("remove member", "DELETE", ("members", "carol"), None, "owner", 204),
    ("delete project", "DELETE", (), None, "owner", 204),  # last: it ends the project
]
START_NOTEBOOKS = ["shared.ipynb", "sub/nested.ipynb", "to-delete.ipynb", "to-rename.ipynb"]


class TestRoleMatrix:
    @pytest.fixture
    def jp_server_config(self, multi_config):
        return multi_config

    @pytest.mark.parametrize("role", ["viewer", "editor", "owner", "stranger"])
    async def test_every_route(self, api, jp_root_dir, role):
        project = await ok(await api("POST", "projects", body={"name": "Secret plans", "description": "top"}, user="alice"), 201)
        pid = project["id"]
        for name in START_NOTEBOOKS:
            await ok(await api("POST", "projects", pid, "notebooks", body={"name": name}, user="alice"), 201)
        await ok(await api("PUT", "projects", pid, "members", "carol", body={"role": "viewer"}, user="alice"))
        if role != "stranger":
            member = await ok(await api("PUT", "projects", pid, "members", "bob", body={"role": role}, user="alice"))
            conforms("Member", member)
            assert (member["user"], member["role"]) == ("bob", role)
        folder = jp_root_dir / project["path"]

        # Lists: a member sees the project with the role, a stranger sees no trace of it.
        listed = (await ok(await api("GET", "projects", user="bob")))["items"]
        searched = (await ok(await api("GET", "projects", params={"q": "secret"}, user="bob")))["items"]
        if role == "stranger":
            assert listed == [] and searched == []
        else:
            assert [(p["id"], p["role"]) for p in listed] == [(pid, role)]
            assert [p["id"] for p in searched] == [pid]

        missing = await api("GET", "projects", "000000000000", user="bob")  # no such project at all
        assert_error(missing, 404, "project_not_found", [])

        for label, method, segments, body, needed, success in ROUTES:
            reply = await api(method, "projects", pid, *segments, body=body, user="bob")
            if role == "stranger":
                assert_error(reply, 404, "project_not_found", [])
                # The same answer as for a project that does not exist; nothing of it leaks.
                assert reply.json["errors"] == missing.json["errors"]
                assert "Secret" not in reply.text and "secret" not in reply.text and project["path"] not in reply.text
            elif RANK[role] >= RANK[needed]:
                assert reply.status == success, (label, reply.status, reply.text)
                if label == "get project":
                    assert reply.json["role"] == role and reply.json["status"] == "ok"
            else:
                assert_error(reply, 403, "role_required", [])
                assert reply.json["message"]

        # The effects: done when allowed, nothing at all when refused.
        if role == "owner":
            assert_error(await api("GET", "projects", pid, user="alice"), 404, "project_not_found", [])
            assert folder.is_dir()  # deleted without delete_files: the files stay
            return
        after = await ok(await api("GET", "projects", pid, user="alice"))
        assert (after["name"], after["description"]) == ("Secret plans", "top")
        members = (await ok(await api("GET", "projects", pid, "members", user="alice")))["items"]
        expected_members = [("alice", "owner"), ("carol", "viewer")] + ([] if role == "stranger" else [("bob", role)])
        assert sorted((m["user"], m["role"]) for m in members) == sorted(expected_members)
        notebooks = [n["path"] for n in (await ok(await api("GET", "projects", pid, "notebooks", user="alice")))["items"]]
        if role == "editor":
            assert notebooks == ["by-bob.ipynb", "renamed.ipynb", "shared.ipynb", "sub/nested.ipynb"]
            assert (folder / "by-bob.ipynb").is_file() and not (folder / "to-delete.ipynb").exists()
        else:
            assert notebooks == START_NOTEBOOKS
            assert not (folder / "by-bob.ipynb").exists() and (folder / "to-delete.ipynb").is_file()


class TestMembers:
    @pytest.fixture
    def jp_server_config(self, multi_config):
        return multi_config

    async def test_add_change_remove(self, api):
        pid = (await ok(await api("POST", "projects", body={"name": "Team"}, user="alice"), 201))["id"]
        members = (await ok(await api("GET", "projects", pid, "members", user="alice")))["items"]
        assert [(m["user"], m["role"]) for m in members] == [("alice", "owner")]
        for m in members:
            conforms("Member", m)

        added = await ok(await api("PUT", "projects", pid, "members", "bob", body={"role": "editor"}, user="alice"))
        assert (added["user"], added["role"]) == ("bob", "editor") and added["added_at"]
        assert (await ok(await api("GET", "projects", pid, user="bob")))["role"] == "editor"

        changed = await ok(await api("PUT", "projects", pid, "members", "bob", body={"role": "viewer"}, user="alice"))
        assert changed["role"] == "viewer"
        assert changed["added_at"] == added["added_at"]  # a role change is not a new membership
        assert (await ok(await api("GET", "projects", pid, user="bob")))["role"] == "viewer"
        same = await ok(await api("PUT", "projects", pid, "members", "bob", body={"role": "viewer"}, user="alice"))
        assert same["role"] == "viewer"  # idempotent

        await ok(await api("PUT", "projects", pid, "members", "carol", body={"role": "owner"}, user="alice"))
        members = (await ok(await api("GET", "projects", pid, "members", user="bob")))["items"]
        assert [(m["user"], m["role"]) for m in members] == [("alice", "owner"), ("bob", "viewer"), ("carol", "owner")]
        # A co-owner has every right, including over the creator.
        await ok(await api("PUT", "projects", pid, "members", "alice", body={"role": "editor"}, user="carol"))
        assert (await ok(await api("GET", "projects", pid, user="alice")))["role"] == "editor"
        assert_error(await api("PUT", "projects", pid, "members", "dave", body={"role": "viewer"}, user="alice"), 403, "role_required", [])

        reply = await api("DELETE", "projects", pid, "members", "bob", user="carol")
        assert reply.status == 204 and reply.text == ""
        assert_error(await api("GET", "projects", pid, user="bob"), 404, "project_not_found", [])
        assert pid not in [p["id"] for p in (await ok(await api("GET", "projects", user="bob")))["items"]]
        assert_error(await api("DELETE", "projects", pid, "members", "bob", user="carol"), 404, "member_not_found", [])
        assert_error(await api("DELETE", "projects", pid, "members", "zed", user="carol"), 404, "member_not_found", [])
        members = (await ok(await api("GET", "projects", pid, "members", user="carol")))["items"]
        assert [(m["user"], m["role"]) for m in members] == [("alice", "editor"), ("carol", "owner")]

    async def test_last_owner_stays(self, api):
        pid = (await ok(await api("POST", "projects", body={"name": "Solo"}, user="alice"), 201))["id"]
        for role in ("editor", "viewer"):
            assert_error(await api("PUT", "projects", pid, "members", "alice", body={"role": role}, user="alice"), 409, "last_owner", ["/role"])
        assert_error(await api("DELETE", "projects", pid, "members", "alice", user="alice"), 409, "last_owner", ["/role"])
        assert (await ok(await api("PUT", "projects", pid, "members", "alice", body={"role": "owner"}, user="alice")))["role"] == "owner"

        # With a second owner, the first may step down or leave; then the second is the last one.
        await ok(await api("PUT", "projects", pid, "members", "bob", body={"role": "owner"}, user="alice"))
        await ok(await api("PUT", "projects", pid, "members", "alice", body={"role": "viewer"}, user="alice"))
        assert_error(await api("PUT", "projects", pid, "members", "bob", body={"role": "editor"}, user="bob"), 409, "last_owner", ["/role"])
        assert_error(await api("DELETE", "projects", pid, "members", "bob", user="bob"), 409, "last_owner", ["/role"])
        assert (await api("DELETE", "projects", pid, "members", "alice", user="bob")).status == 204
        assert_error(await api("GET", "projects", pid, user="alice"), 404, "project_not_found", [])
        members = (await ok(await api("GET", "projects", pid, "members", user="bob")))["items"]
        assert [(m["user"], m["role"]) for m in members] == [("bob", "owner")]

    async def test_invalid_member_requests(self, api):
        pid = (await ok(await api("POST", "projects", body={"name": "Strict"}, user="alice"), 201))["id"]
        for body, paths in [({"role": "admin"}, ["/role"]), ({}, ["/role"]), ({"role": None}, ["/role"]),
                            ({"role": "viewer", "extra": 1}, ["/extra"]), (["viewer"], [""])]:
            reply = await api("PUT", "projects", pid, "members", "bob", body=body, user="alice")
            assert_error(reply, 400, "invalid", set(paths))
        assert_error(await api("PUT", "projects", pid, "members", "bob", user="alice"), 400, "invalid_json", [""])
        assert_error(await api("PUT", "projects", pid, "members", "bob", raw_body="role=viewer", user="alice"), 400, "invalid_json", [""])
        assert_error(await api("PUT", "projects", "000000000000", "members", "bob", body={"role": "viewer"}, user="alice"), 404, "project_not_found", [])
        assert_error(await api("GET", "projects", "000000000000", "members", user="alice"), 404, "project_not_found", [])
        members = (await ok(await api("GET", "projects", pid, "members", user="alice")))["items"]
        assert [m["user"] for m in members] == ["alice"]
        # Odd user names travel as one URL segment.
        odd = await ok(await api("PUT", "projects", pid, "members", "j.doe@example.org", body={"role": "viewer"}, user="alice"))
        assert odd["user"] == "j.doe@example.org"
        assert (await api("DELETE", "projects", pid, "members", "j.doe@example.org", user="alice")).status == 204


# -- authentication -------------------------------------------------------------------------------


class TestUnauthenticated:
    @pytest.fixture
    def jp_server_config(self, multi_config):
        return multi_config

    async def test_no_or_wrong_token_is_403(self, api, jp_root_dir):
        pid = (await ok(await api("POST", "projects", body={"name": "Private"}, user="alice"), 201))["id"]
        cases = [
            ("GET", ("projects",), None), ("POST", ("projects",), {"name": "x"}),
            ("GET", ("projects", pid), None), ("PATCH", ("projects", pid), {"name": "x"}),
            ("DELETE", ("projects", pid), None), ("GET", ("projects", pid, "members"), None),
            ("PUT", ("projects", pid, "members", "mallory"), {"role": "owner"}),
            ("GET", ("projects", pid, "notebooks"), None), ("POST", ("projects", pid, "notebooks"), {"name": "x"}),
            ("GET", ("templates",), None), ("GET", ("openapi.json",), None),
        ]
        for headers in ({"Authorization": ""}, {"Authorization": "token token-mallory"}, {"Authorization": "token nonsense"}):
            for method, segments, body in cases:
                reply = await api(method, *segments, body=body, headers=headers)
                assert_error(reply, 403, "forbidden", [])
                assert reply.headers["Content-Type"].startswith("application/json")
        project = await ok(await api("GET", "projects", pid, user="alice"))
        assert project["name"] == "Private"
        members = (await ok(await api("GET", "projects", pid, "members", user="alice")))["items"]
        assert [m["user"] for m in members] == ["alice"]
        assert sorted(p.name for p in (jp_root_dir / "projects").iterdir()) == ["private"]


class TestSingleUser:
    """The default config: the token names no one; every request is the server's one owner."""

    async def test_anonymous_identities_share_everything(self, api, jp_fetch, jp_serverapp):
        me1 = json.loads((await jp_fetch("api", "me")).body)["identity"]["username"]
        me2 = json.loads((await jp_fetch("api", "me")).body)["identity"]["username"]
        assert me1 != me2  # two requests, two random anonymous identities
        owner = ext_app(jp_serverapp).owner_name

        created = await ok(await api("POST", "projects", body={"name": "Mine"}), 201)
        assert created["owner"] == owner and created["role"] == "owner"
        listed = (await ok(await api("GET", "projects")))["items"]
        assert [(p["id"], p["role"], p["owner"]) for p in listed] == [(created["id"], "owner", owner)]
        members = (await ok(await api("GET", "projects", created["id"], "members")))["items"]
        assert [(m["user"], m["role"]) for m in members] == [(owner, "owner")]
        await ok(await api("POST", "projects", created["id"], "notebooks", body={"name": "n"}), 201)
        await ok(await api("PATCH", "projects", created["id"], body={"name": "Still mine"}))
        assert (await api("DELETE", "projects", created["id"])).status == 204


class TestSingleUserWithoutToken:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        # pytest-jupyter replaces an empty IdentityProvider.token with a random one; ServerApp.token it leaves alone.
        return base_config(jp_data_dir, ServerApp={"token": "", "disable_check_xsrf": True})

    async def test_token_less_requests_share_everything(self, api, jp_serverapp):
        assert not jp_serverapp.identity_provider.auth_enabled
        bare = {"Authorization": ""}
        created = await ok(await api("POST", "projects", body={"name": "Open"}, headers=bare), 201)
        other = await ok(await api("GET", "projects", headers=bare))
        assert [p["id"] for p in other["items"]] == [created["id"]]
        assert other["items"][0]["role"] == "owner"
        assert (await ok(await api("GET", "projects", created["id"], headers=bare)))["owner"] == ext_app(jp_serverapp).owner_name


class TestForcedSingleUser:
    """``DatadiveApp.users = "single"``: even named users all act as the server owner."""

    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return multi_user_config(jp_data_dir, DatadiveApp={"users": "single", "owner_name": "labowner"})

    async def test_everyone_is_the_owner(self, api):
        created = await ok(await api("POST", "projects", body={"name": "Lab"}, user="alice"), 201)
        assert created["owner"] == "labowner"
        seen = await ok(await api("GET", "projects", created["id"], user="bob"))
        assert seen["role"] == "owner"
        assert (await api("DELETE", "projects", created["id"], user="carol")).status == 204


# -- authorizers ------------------------------------------------------------------------------------


class TestReadOnlyAuthorizer:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, ServerApp={"authorizer_class": ReadOnlyAuthorizer})

    async def test_writes_refused_reads_served(self, api, jp_serverapp, jp_root_dir):
        app = ext_app(jp_serverapp)
        # Seeded through the service: the API refuses every write here.
        project = await app.projects.create(app.owner_name, "Seeded")
        pid = project["id"]
        await app.projects.create_notebook(pid, app.owner_name, "existing")
        templates = (await ok(await api("GET", "templates")))["items"]
        assert templates
        tid = templates[0]["id"]
        template = await ok(await api("GET", "templates", tid))
        document = template["document"]
        example = document["examples"][0]["inputs"]

        reads = [
            ("GET", ("projects",), None), ("GET", ("projects", pid), None),
            ("GET", ("projects", pid, "members"), None), ("GET", ("projects", pid, "notebooks"), None),
            ("GET", ("projects", pid, "notebooks", "existing.ipynb"), None),
            ("GET", ("templates",), None), ("GET", ("templates", tid), None),
            ("GET", ("templates", tid, "versions"), None),
            ("POST", ("templates", tid, "render"), {"inputs": example}),  # a preview is a read
            ("GET", ("openapi.json",), None),
        ]
        for method, segments, body in reads:
            reply = await api(method, *segments, body=body)
            assert reply.status == 200, (method, segments, reply.status, reply.text)

        writes = [
            ("POST", ("projects",), {"name": "New"}),
            ("PATCH", ("projects", pid), {"name": "Changed"}),
            ("DELETE", ("projects", pid), None),
            ("PUT", ("projects", pid, "members", "bob"), {"role": "viewer"}),
            ("DELETE", ("projects", pid, "members", app.owner_name), None),
            ("POST", ("projects", pid, "notebooks"), {"name": "new"}),
            ("PATCH", ("projects", pid, "notebooks", "existing.ipynb"), {"name": "moved"}),
            ("DELETE", ("projects", pid, "notebooks", "existing.ipynb"), None),
            ("POST", ("templates",), {**document, "id": "brand-new"}),
            ("PUT", ("templates", tid), document),
            ("DELETE", ("templates", tid), None),
        ]
        for method, segments, body in writes:
            reply = await api(method, *segments, body=body)
            assert_error(reply, 403, "forbidden", [])

        # Nothing changed.
        after = await ok(await api("GET", "projects"))
        assert [(p["id"], p["name"]) for p in after["items"]] == [(pid, "Seeded")]
        notebooks = (await ok(await api("GET", "projects", pid, "notebooks")))["items"]
        assert [n["path"] for n in notebooks] == ["existing.ipynb"]
        members = (await ok(await api("GET", "projects", pid, "members")))["items"]
        assert [m["user"] for m in members] == [app.owner_name]
        assert sorted(p.name for p in (jp_root_dir / "projects").iterdir()) == ["seeded"]
        assert (await ok(await api("GET", "templates", tid)))["version"] == template["version"]


class RecordingAuthorizer(Authorizer):
    """Allows everything and records each (method, path, action, resource) it was asked about."""

    calls: list = []

    def is_authorized(self, handler, user, action, resource):
        RecordingAuthorizer.calls.append((handler.request.method, handler.request.path, action, resource))
        return True


class TestAuthResources:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        RecordingAuthorizer.calls = []
        return base_config(jp_data_dir, ServerApp={"authorizer_class": RecordingAuthorizer})

    async def test_actions_and_resources(self, api, jp_base_url):
        pid = (await ok(await api("POST", "projects", body={"name": "Audited"}), 201))["id"]
        await ok(await api("POST", "projects", pid, "notebooks", body={"name": "a"}), 201)
        await ok(await api("GET", "projects", pid, "notebooks", "a.ipynb"))
        await ok(await api("PATCH", "projects", pid, "notebooks", "a.ipynb", body={"name": "b"}))
        assert (await api("DELETE", "projects", pid, "notebooks", "b.ipynb")).status == 204
        await ok(await api("GET", "projects", pid, "members"))
        await ok(await api("PATCH", "projects", pid, body={"name": "Audited 2"}))
        await ok(await api("GET", "templates"))
        assert (await api("DELETE", "projects", pid)).status == 204

        prefix = f"{jp_base_url}api/datadive/"
        seen = [(m, p[len(prefix):].replace(pid, "{pid}"), a, r) for m, p, a, r in RecordingAuthorizer.calls if p.startswith(prefix)]
        assert seen == [
            ("POST", "projects", "write", "datadive:projects"),
            ("POST", "projects/{pid}/notebooks", "write", "contents"),
            ("GET", "projects/{pid}/notebooks/a.ipynb", "read", "datadive:projects"),
            ("PATCH", "projects/{pid}/notebooks/a.ipynb", "write", "contents"),
            ("DELETE", "projects/{pid}/notebooks/b.ipynb", "write", "contents"),
            ("GET", "projects/{pid}/members", "read", "datadive:projects"),
            ("PATCH", "projects/{pid}", "write", "datadive:projects"),
            ("GET", "templates", "read", "datadive:templates"),
            ("DELETE", "projects/{pid}", "write", "datadive:projects"),
        ]


# -- every handler is authenticated and authorized ------------------------------------------------------


def _verb_methods(handler):
    """The verbs this extension implements (OPTIONS, inherited from APIHandler, is jupyter_server's)."""
    for verb in handler.SUPPORTED_METHODS:
        method = getattr(handler, verb.lower())
        if method is not web.RequestHandler._unimplemented_method and inspect.unwrap(method).__module__.startswith("datadive_ext."):
            yield verb, method


def _registered(router) -> list[tuple[str, type]]:
    """Every (pattern, handler class) of a tornado router, nested routers included."""
    out = []
    for rule in router.rules:
        if hasattr(rule.target, "rules"):
            out += _registered(rule.target)
        elif isinstance(rule.target, type):
            out.append((getattr(rule.matcher, "regex", None) and rule.matcher.regex.pattern, rule.target))
    return out


def test_every_handler_method_is_authenticated_then_authorized():
    table = routes()
    assert len(table) >= 11
    checked = 0
    for pattern, handler, *_ in table:
        # The API, and the HTML pages for other platforms (SampleDB) under datadive/templates.
        assert pattern.startswith(("/api/datadive/", "/datadive/templates")), pattern
        assert getattr(handler, "auth_resource", None) in ("datadive:projects", "datadive:templates", "datadive:assistant", "contents"), handler
        for verb, method in _verb_methods(handler):
            where = f"{verb} of {handler.__name__} ({pattern})"
            if (handler.__name__, verb) == ("SampleDBTemplateHandler", "POST"):
                # The one exception: SampleDB's cross-site POST reaches an anonymous
                # browser without its login cookie; it is sent to the authenticated GET
                # of the same page with its params (tests/test_sampledb.py), never served.
                assert method.__code__.co_qualname.startswith("allow_unauthenticated"), where
                method = method.__wrapped__
                assert method.__code__.co_qualname.startswith("_login_through_get"), where
            else:
                assert method.__code__.co_qualname.startswith("authenticated"), f"{where}: outermost is not @web.authenticated"
            inner = method.__wrapped__
            assert inner.__code__.co_qualname.startswith("authorized."), f"{where}: not @authorized under @web.authenticated"
            # jupyter_server's decorator fills a None resource in on the first call: either is fine.
            resource = inspect.getclosurevars(inner).nonlocals.get("resource")
            assert resource in (None, handler.auth_resource, "contents"), where
            if handler.__name__.startswith("Notebook") and verb != "GET":
                assert resource == "contents", f"{where}: a notebook write is a contents write"
            else:
                assert resource in (None, handler.auth_resource), where
            checked += 1
    assert checked >= 20


class TestOnlyThisExtension:
    """A server with nothing but this extension (no terminals) starts without an auth warning."""

    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, ServerApp={"jpserver_extensions": {"datadive_ext": True, "jupyter_server_terminals": False}})

    def test_no_auth_warning(self, jp_configurable_serverapp):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            app = jp_configurable_serverapp()
        auth = [str(w.message) for w in caught if issubclass(w.category, JupyterServerAuthWarning)]
        assert auth == []
        enabled = {name for name, ext in app.extension_manager.extensions.items() if ext.enabled}
        assert enabled == {"datadive_ext"}
        ours = {handler for _, handler, *_ in routes()}
        registered = [(p, h) for p, h in _registered(app.web_app.default_router) + _registered(app.web_app.wildcard_router) if h in ours]
        assert {h for _, h in registered} == ours
        assert all(p.startswith(("/a%40b/api/datadive/", "/a%40b/datadive/templates")) for p, _ in registered), registered
        for pattern, handler in registered:
            assert app.web_app._check_handler_auth(pattern, handler) == []
