"""The Datadive REST client, on httpx: one method per route of ``<base_url>api/datadive/``.

Return values follow one rule:

- a method returns the parsed JSON body of the answer (dicts and lists), ``None`` for
  204 No Content;
- a method of a route that answers an ``ETag`` (the cell routes, and one template)
  returns ``Tagged(data, etag)`` instead, a named tuple: ``cells, etag =
  client.list_cells(pid, nb)``. Its write methods take ``if_match=`` (the ETag of an
  earlier answer); a stale one raises :class:`PreconditionFailed`.

Lists answer ``{"items", "next_cursor"}``: ``list_...(limit=, cursor=)`` reads one page,
``iter_...()`` yields every item, page after page.

Errors are typed (:mod:`datadive_ext.client.errors`). This module imports neither
Jupyter Server nor tornado: a script on another machine uses it with httpx alone.

:class:`AsyncDatadiveClient` has the same methods as coroutines (and ``iter_...`` as
async iterators): every route method only builds a request and hands it to
``_call``, which is the one part that differs.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from .errors import DatadiveError, NotAvailable, ServerError, ServerUnreachable, error_from_answer

API_PREFIX = "api/datadive/"
DEFAULT_TIMEOUT = 60.0

# Every operation of the OpenAPI description (operationId) and the method that calls it.
# tests/test_client.py checks that every operation the server describes is here.
OPERATIONS = {
    "listProjects": "list_projects", "createProject": "create_project", "getProject": "get_project",
    "updateProject": "update_project", "deleteProject": "delete_project",
    "listMembers": "list_members", "setMember": "set_member", "removeMember": "remove_member",
    "listNotebooks": "list_notebooks", "createNotebook": "create_notebook", "getNotebook": "get_notebook",
    "renameNotebook": "rename_notebook", "deleteNotebook": "delete_notebook",
    "listCells": "list_cells", "insertCells": "insert_cells", "reorderCells": "reorder_cells", "getCell": "get_cell",
    "updateCell": "update_cell", "deleteCell": "delete_cell", "moveCell": "move_cell",
    "notebookHistory": "list_history", "undoOperation": "undo",
    "listTemplates": "list_templates", "createTemplate": "create_template", "getTemplate": "get_template",
    "updateTemplate": "update_template", "retireTemplate": "retire_template",
    "listTemplateVersions": "list_template_versions", "renderTemplate": "render_template",
    "assistantProfile": "assistant_profile", "assistantSuggest": "assistant_suggest",
    "getOpenAPI": "openapi",
    # Headless runs (issue 12, item 5). Older servers answer 404 no_route: NotAvailable.
    "listRuns": "list_runs", "createRun": "create_run", "getRun": "get_run", "cancelRun": "cancel_run",
}
# Operations the client knows before the server has them (none at the moment: runs landed).
FUTURE_OPERATIONS: frozenset = frozenset()
# The statuses of a run that has ended (the others: queued, running).
RUN_FINISHED = frozenset({"succeeded", "failed", "cancelled", "interrupted"})


class Tagged(NamedTuple):
    """The answer of a route with an ETag: the parsed body and the ``ETag`` header."""

    data: Any
    etag: str | None


def file_source(project: str, path: str) -> dict:
    """Assistant source: a data file (CSV, TSV, Excel, Parquet, JSON) relative to a project's folder."""
    return {"project": project, "path": path}


def kernel_source(kernel_id: str, variable: str) -> dict:
    """Assistant source: a DataFrame variable in a running kernel."""
    return {"kernel_id": kernel_id, "variable": variable}


def table_source(columns=None, rows=None, *, data=None) -> dict:
    """Assistant source: a small inline table, ``columns`` + ``rows`` or ``data={column: values}``."""
    if data is not None:
        return {"table": {"data": data}}
    return {"table": {"columns": list(columns or []), "rows": [list(r) for r in rows or []]}}


def api_root(url: str) -> str:
    """The API root ``<scheme>://<host><base_url>api/datadive/`` of a server URL.

    ``url`` is the server's URL with its base_url (``http://host:8888/`` or
    ``http://host:8888/user/ann/``); a URL that already ends in ``api/datadive`` is
    taken as it is. Percent-escapes in the base_url stay as they are.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("the server URL is empty: pass url= or set DATADIVE_URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the server URL must start with http:// or https:// and name a host, not {url!r}")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    if path.endswith("/" + API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return urlunsplit((parts.scheme, parts.netloc, path + API_PREFIX, "", ""))


def default_token() -> str | None:
    """The token from the environment: ``DATADIVE_TOKEN``, else ``JUPYTERHUB_API_TOKEN``."""
    return os.environ.get("DATADIVE_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN") or None


def _query(params: dict | None) -> dict:
    out = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _body(**fields) -> dict:
    """A request body from the fields that were given (None: left out)."""
    return {k: v for k, v in fields.items() if v is not None}


def _position(index=None, after=None, before=None) -> dict:
    return _body(index=index, after=after, before=before)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("datadive")
    except Exception:  # not installed (a copied file): the header is informational only
        return "0"


class _Base:
    """Route methods shared by the sync and the async client; ``_call`` sends."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT,
                 headers: dict | None = None, verify=True, transport=None):
        url = url if url is not None else os.environ.get("DATADIVE_URL", "")
        self.api_url = api_root(url)
        self.url = self.api_url[: -len(API_PREFIX)]
        self.token = token if token is not None else default_token()
        self.timeout = timeout
        hdrs = {"Accept": "application/json", "User-Agent": f"datadive-client/{_version()}"}
        if self.token:
            hdrs["Authorization"] = f"token {self.token}"
        hdrs.update(headers or {})
        self._http = self._make_http(hdrs, timeout, verify, transport)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- sending -----------------------------------------------------------------------

    def _request(self, method: str, segments, params=None, body=None, if_match=None, headers=None) -> httpx.Request:
        path = "/".join(quote(str(s), safe="") for s in segments)
        hdrs = dict(headers or {})
        if if_match is not None:
            hdrs["If-Match"] = if_match
        content = None
        if body is not None:
            content = json.dumps(body, allow_nan=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            content = b""
        return self._http.build_request(method, self.api_url + path, params=_query(params), content=content, headers=hdrs)

    @staticmethod
    def _unreachable(request: httpx.Request, exc: Exception) -> ServerUnreachable:
        kind = "no answer in time" if isinstance(exc, httpx.TimeoutException) else "cannot connect"
        return ServerUnreachable(f"{kind}: {request.method} {request.url}: {exc or type(exc).__name__}", url=str(request.url))

    @staticmethod
    def _finish(response: httpx.Response, tagged: bool, feature: str | None):
        status = response.status_code
        text = response.text if response.content else ""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        if not 200 <= status < 300:
            if 300 <= status < 400:
                location = response.headers.get("Location", "")
                raise DatadiveError(status, "redirect", f"the server redirected to {location!r}: check the URL (with its "
                                    "base_url) and the token", [], response.reason_phrase, headers=response.headers, body=data)
            error = error_from_answer(status, data, response.headers)
            if feature and isinstance(error, NotAvailable):
                error = NotAvailable(
                    404, error.code, f"{feature} are not available on this server (it has no such route yet): {error.message}",
                    error.errors, error.reason, headers=error.headers, body=error.body,
                )
            raise error
        if status == 204:
            data = None
        return Tagged(data, response.headers.get("ETag")) if tagged else data

    def request(self, method: str, *segments, params: dict | None = None, json: Any = None,
                if_match: str | None = None, headers: dict | None = None, tagged: bool = False):
        """Any route: ``request("GET", "projects", pid)``; each segment is URL-encoded as one path segment.

        Returns the parsed JSON body (``Tagged`` with ``tagged=True``); errors as for every method.
        """
        return self._call(method.upper(), segments, params=params, body=json, if_match=if_match, headers=headers, tagged=tagged)

    # -- projects ----------------------------------------------------------------------

    def list_projects(self, q: str | None = None, *, limit: int | None = None, cursor: str | None = None) -> dict:
        """GET projects: one page ``{"items": [project...], "next_cursor"}``; ``q`` finds text in name or description."""
        return self._call("GET", ["projects"], params={"q": q, "limit": limit, "cursor": cursor})

    def iter_projects(self, q: str | None = None, *, page_size: int | None = None):
        """Every project the user may see, page after page."""
        return self._iter_pages(self.list_projects, {"q": q}, page_size)

    def create_project(self, name: str, description: str | None = None) -> dict:
        """POST projects: the new project (its folder is created under the server's projects_dir)."""
        return self._call("POST", ["projects"], body=_body(name=name, description=description))

    def get_project(self, pid: str) -> dict:
        """GET projects/{pid}."""
        return self._call("GET", ["projects", pid])

    def update_project(self, pid: str, *, name: str | None = None, description: str | None = None) -> dict:
        """PATCH projects/{pid}: rename and/or describe; the updated project."""
        return self._call("PATCH", ["projects", pid], body=_body(name=name, description=description))

    def rename_project(self, pid: str, name: str) -> dict:
        """PATCH projects/{pid} ``{name}``."""
        return self.update_project(pid, name=name)

    def delete_project(self, pid: str, *, delete_files: bool = False) -> None:
        """DELETE projects/{pid}: keeps the folder unless ``delete_files``."""
        return self._call("DELETE", ["projects", pid], params={"delete_files": True} if delete_files else None)

    # -- members -----------------------------------------------------------------------

    def list_members(self, pid: str) -> dict:
        """GET projects/{pid}/members: ``{"items": [{user, role, added_at}...]}``."""
        return self._call("GET", ["projects", pid, "members"])

    def set_member(self, pid: str, user: str, role: str) -> dict:
        """PUT projects/{pid}/members/{user} ``{role}`` (owner, editor, viewer): adds or changes a member."""
        return self._call("PUT", ["projects", pid, "members", user], body={"role": role})

    def remove_member(self, pid: str, user: str) -> None:
        """DELETE projects/{pid}/members/{user}."""
        return self._call("DELETE", ["projects", pid, "members", user])

    # -- notebooks (``nb``: the notebook's path inside the project) ----------------------

    def list_notebooks(self, pid: str) -> dict:
        """GET projects/{pid}/notebooks: ``{"items": [{path, name, last_modified, created}...]}``."""
        return self._call("GET", ["projects", pid, "notebooks"])

    def create_notebook(self, pid: str, name: str | None = None, *, from_template: str | None = None,
                        parameters: dict | None = None) -> dict:
        """POST projects/{pid}/notebooks ``{name}`` ('.ipynb' is added when missing); with
        ``from_template`` (a notebook template's id) the new notebook is that template with
        ``parameters`` injected (its name from the template's file name when ``name`` is None)."""
        return self._call("POST", ["projects", pid, "notebooks"],
                          body=_body(name=name, from_template=from_template, parameters=parameters))

    def get_notebook(self, pid: str, nb: str) -> dict:
        """GET projects/{pid}/notebooks/{nb}."""
        return self._call("GET", ["projects", pid, "notebooks", nb])

    def rename_notebook(self, pid: str, nb: str, name: str) -> dict:
        """PATCH projects/{pid}/notebooks/{nb} ``{name}``: the renamed notebook."""
        return self._call("PATCH", ["projects", pid, "notebooks", nb], body={"name": name})

    def delete_notebook(self, pid: str, nb: str) -> None:
        """DELETE projects/{pid}/notebooks/{nb}."""
        return self._call("DELETE", ["projects", pid, "notebooks", nb])

    # -- cells (ETag routes: each returns Tagged(data, etag)) ----------------------------

    def _cells(self, pid, nb, *rest):
        return ["projects", pid, "notebooks", nb, *rest]

    def list_cells(self, pid: str, nb: str) -> Tagged:
        """GET .../cells: ``Tagged({"cells": [cell view...]}, etag)``."""
        return self._call("GET", self._cells(pid, nb, "cells"), tagged=True)

    def insert_cells(self, pid: str, nb: str, *, template: str | dict | None = None, inputs: dict | None = None,
                     version: int | None = None, cell_type: str | None = None, source: str | None = None,
                     index: int | None = None, after: str | None = None, before: str | None = None,
                     if_match: str | None = None) -> Tagged:
        """POST .../cells: the cells of a template (``template=id``, ``inputs``, ``version``) or one raw cell
        (``cell_type``, ``source``), at ``index`` / ``after`` / ``before`` a cell id (default: the end).
        ``Tagged({"cells": [new cell view...]}, etag)``.
        """
        if template is not None:
            ref = dict(template) if isinstance(template, dict) else {"id": template}
            if version is not None:
                ref["version"] = version
            body = _body(template=ref, inputs=inputs)
        else:
            body = _body(cell_type=cell_type, source=source)
        body.update(_position(index, after, before))
        return self._call("POST", self._cells(pid, nb, "cells"), body=body, if_match=if_match, tagged=True)

    def get_cell(self, pid: str, nb: str, cell_id: str) -> Tagged:
        """GET .../cells/{cell_id}: ``Tagged(cell view with outputs, etag)``."""
        return self._call("GET", self._cells(pid, nb, "cells", cell_id), tagged=True)

    def update_cell(self, pid: str, nb: str, cell_id: str, *, inputs: dict | None = None, force: bool | None = None,
                    template_version: int | str | None = None, source: str | None = None,
                    if_match: str | None = None) -> Tagged:
        """PATCH .../cells/{cell_id}: ``inputs`` (+ ``force``) re-generates, ``template_version`` ('latest' or N)
        upgrades, ``source`` edits. A generated cell edited by hand raises :class:`CellEdited` unless ``force``.
        """
        body = _body(inputs=inputs, force=force, template_version=template_version, source=source)
        return self._call("PATCH", self._cells(pid, nb, "cells", cell_id), body=body, if_match=if_match, tagged=True)

    def edit_cell(self, pid: str, nb: str, cell_id: str, source: str, *, if_match: str | None = None) -> Tagged:
        """PATCH .../cells/{cell_id} ``{source}``."""
        return self.update_cell(pid, nb, cell_id, source=source, if_match=if_match)

    def regenerate_cell(self, pid: str, nb: str, cell_id: str, inputs: dict, *, force: bool = False,
                        if_match: str | None = None) -> Tagged:
        """PATCH .../cells/{cell_id} ``{inputs, force}``: the generated cells again, from new inputs."""
        return self.update_cell(pid, nb, cell_id, inputs=inputs, force=force or None, if_match=if_match)

    def upgrade_cell(self, pid: str, nb: str, cell_id: str, version: int | str = "latest", *,
                     inputs: dict | None = None, force: bool = False, if_match: str | None = None) -> Tagged:
        """PATCH .../cells/{cell_id} ``{template_version}``: to another version of its template (default: the latest)."""
        return self.update_cell(pid, nb, cell_id, template_version=version, inputs=inputs, force=force or None,
                                if_match=if_match)

    def delete_cell(self, pid: str, nb: str, cell_id: str, *, if_match: str | None = None) -> Tagged:
        """DELETE .../cells/{cell_id}: ``Tagged(None, etag)``."""
        return self._call("DELETE", self._cells(pid, nb, "cells", cell_id), if_match=if_match, tagged=True)

    def move_cell(self, pid: str, nb: str, cell_id: str, *, index: int | None = None, after: str | None = None,
                  before: str | None = None, if_match: str | None = None) -> Tagged:
        """POST .../cells/{cell_id}/move: to ``index``, or ``after`` / ``before`` another cell; ``Tagged(cell, etag)``."""
        return self._call("POST", self._cells(pid, nb, "cells", cell_id, "move"), body=_position(index, after, before),
                          if_match=if_match, tagged=True)

    def reorder_cells(self, pid: str, nb: str, order: list[str], *, if_match: str | None = None) -> Tagged:
        """PUT .../cells/order ``{order}``: a full permutation of the cell ids; ``Tagged({"cells"}, etag)``."""
        return self._call("PUT", self._cells(pid, nb, "cells", "order"), body={"order": list(order)}, if_match=if_match,
                          tagged=True)

    def list_history(self, pid: str, nb: str, *, limit: int | None = None, cursor: str | None = None) -> dict:
        """GET .../history: one page of the notebook's cell operations, newest first."""
        return self._call("GET", self._cells(pid, nb, "history"), params={"limit": limit, "cursor": cursor})

    def iter_history(self, pid: str, nb: str, *, page_size: int | None = None):
        """Every operation of the notebook's history."""
        return self._iter_pages(self.list_history, {"pid": pid, "nb": nb}, page_size)

    def undo(self, pid: str, nb: str, op_id: str, *, if_match: str | None = None) -> Tagged:
        """POST .../history/{op_id}/undo: ``Tagged({"undone", "operations"}, etag)``."""
        return self._call("POST", self._cells(pid, nb, "history", op_id, "undo"), if_match=if_match, tagged=True)

    # -- templates ---------------------------------------------------------------------

    def list_templates(self, *, category: str | None = None, tag: str | None = None, q: str | None = None,
                       source: str | None = None, retired: bool | None = None, limit: int | None = None,
                       cursor: str | None = None, kind: str | None = None) -> dict:
        """GET templates: one page of summaries, sorted by id; ``source`` is builtin, path or user
        (contents or folder for notebook templates); ``kind`` is cell (the default) or notebook."""
        params = {"category": category, "tag": tag, "q": q, "source": source, "retired": retired or None,
                  "limit": limit, "cursor": cursor, "kind": kind}
        return self._call("GET", ["templates"], params=params)

    def iter_templates(self, *, category: str | None = None, tag: str | None = None, q: str | None = None,
                       source: str | None = None, retired: bool | None = None, page_size: int | None = None,
                       kind: str | None = None):
        """Every template summary that matches the filters."""
        filters = {"category": category, "tag": tag, "q": q, "source": source, "retired": retired, "kind": kind}
        return self._iter_pages(self.list_templates, filters, page_size)

    def get_template(self, tid: str, version: int | None = None) -> Tagged:
        """GET templates/{tid}: ``Tagged(template with its "document", etag)``; the ETag names the version."""
        return self._call("GET", ["templates", tid], params={"version": version}, tagged=True)

    def create_template(self, document: dict) -> Tagged:
        """POST templates: a user template from a template document; ``Tagged(template, etag)``."""
        return self._call("POST", ["templates"], body=document, tagged=True)

    def update_template(self, tid: str, document: dict, *, if_match: str | int) -> Tagged:
        """PUT templates/{tid}: a new version; ``if_match`` is the ETag (or the number) of the version it replaces."""
        tag = f'"{if_match}"' if isinstance(if_match, int) else if_match
        return self._call("PUT", ["templates", tid], body=document, if_match=tag, tagged=True)

    def retire_template(self, tid: str) -> None:
        """DELETE templates/{tid}: retires a user template (its versions stay readable)."""
        return self._call("DELETE", ["templates", tid])

    def list_template_versions(self, tid: str) -> dict:
        """GET templates/{tid}/versions: ``{"items": [{version, author, created_at}...]}``, oldest first."""
        return self._call("GET", ["templates", tid, "versions"])

    def render_template(self, tid: str, inputs: dict | None = None, version: int | None = None) -> dict:
        """POST templates/{tid}/render: ``{"cells": [...]}`` for these inputs; changes no notebook."""
        return self._call("POST", ["templates", tid, "render"], body=_body(inputs=inputs or {}, version=version))

    # -- assistant ---------------------------------------------------------------------

    def assistant_profile(self, source: dict, levels: dict | None = None) -> dict:
        """POST assistant/profile: the profile of a data source (``file_source``, ``kernel_source``, ``table_source``)."""
        return self._call("POST", ["assistant", "profile"], body=_body(source=source, levels=levels))

    def assistant_suggest(self, source: dict, design: dict) -> dict:
        """POST assistant/suggest: the statistical tests that fit the design, with template inputs."""
        return self._call("POST", ["assistant", "suggest"], body={"source": source, "design": design})

    # -- runs (a server without them answers 404 no_route: NotAvailable) -------------------

    def create_run(self, pid: str, notebook: str, parameters: dict | None = None, *, timeout: float | None = None) -> dict:
        """POST projects/{pid}/runs ``{notebook, parameters, timeout}``: queues a headless run (202); the run.

        The request is checked before anything runs: bad parameters raise ``BadRequest``
        with paths ``/parameters/<name>``, a missing notebook ``NotFound`` (path ``/notebook``).
        """
        body = _body(notebook=notebook, parameters=parameters, timeout=timeout)
        return self._call("POST", ["projects", pid, "runs"], body=body, feature="runs")

    def list_runs(self, pid: str, *, limit: int | None = None, cursor: str | None = None) -> dict:
        """GET projects/{pid}/runs: one page ``{"items": [run...], "next_cursor"}``, newest first."""
        return self._call("GET", ["projects", pid, "runs"], params={"limit": limit, "cursor": cursor}, feature="runs")

    def iter_runs(self, pid: str, *, page_size: int | None = None):
        """Every run of the project, newest first."""
        return self._iter_pages(self.list_runs, {"pid": pid}, page_size)

    def get_run(self, pid: str, rid: str) -> dict:
        """GET projects/{pid}/runs/{rid}: status, progress ``{done, total}``, timing, output path, error."""
        return self._call("GET", ["projects", pid, "runs", rid], feature="runs")

    def cancel_run(self, pid: str, rid: str) -> dict:
        """DELETE projects/{pid}/runs/{rid}: cancels a queued or running run; the run (``cancelled``).

        A run that has already ended raises ``Conflict`` (code ``run_finished``).
        """
        return self._call("DELETE", ["projects", pid, "runs", rid], feature="runs")

    # -- the API itself ----------------------------------------------------------------

    def openapi(self) -> dict:
        """GET openapi.json: the OpenAPI description of this server's API."""
        return self._call("GET", ["openapi.json"])


def _pages_guard(seen: set, cursor):
    if cursor in seen:
        raise ServerError(None, "bad_cursor", f"the server answered a cursor it had answered before ({cursor!r})")
    seen.add(cursor)


class DatadiveClient(_Base):
    """A synchronous client of one Datadive server.

    ``DatadiveClient(url, token=None, *, timeout=60.0)``: ``url`` is the server's URL
    with its base_url (``http://localhost:8888/``, ``https://hub.example.org/user/ann/``),
    default ``$DATADIVE_URL``; ``token`` is sent as ``Authorization: token ...``,
    default ``$DATADIVE_TOKEN``, else ``$JUPYTERHUB_API_TOKEN``. ``timeout`` is in seconds
    (None: wait for ever). ``headers``, ``verify`` (TLS) and ``transport`` go to httpx.

    Use it as a context manager, or call :meth:`close`.
    """

    def _make_http(self, headers, timeout, verify, transport):
        return httpx.Client(headers=headers, timeout=timeout, verify=verify, transport=transport, follow_redirects=False)

    def _call(self, method, segments, *, params=None, body=None, if_match=None, headers=None, tagged=False, feature=None):
        request = self._request(method, segments, params, body, if_match, headers)
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            raise self._unreachable(request, exc) from exc
        return self._finish(response, tagged, feature)

    def wait_run(self, pid: str, rid: str, *, poll: float = 0.5, timeout: float | None = None, on_update=None) -> dict:
        """Polls the run every ``poll`` seconds until it ends (succeeded, failed, cancelled, interrupted); the run.

        ``on_update(run)`` is called with every answer; ``timeout`` (seconds, None: no
        limit) raises the built-in ``TimeoutError`` and leaves the run going on the server.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.get_run(pid, rid)
            if on_update is not None:
                on_update(run)
            if run.get("status") in RUN_FINISHED:
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"the run {rid} had not ended after {timeout} s (it is {run.get('status')})")
            time.sleep(poll)

    def _iter_pages(self, list_page, kwargs: dict, page_size):
        cursor, seen = None, set()
        while True:
            page = list_page(**kwargs, limit=page_size, cursor=cursor)
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return
            _pages_guard(seen, cursor)

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncDatadiveClient(_Base):
    """The same methods as :class:`DatadiveClient`, as coroutines; ``iter_...`` are async iterators.

    ``async with AsyncDatadiveClient(url) as client: projects = await client.list_projects()``
    """

    def _make_http(self, headers, timeout, verify, transport):
        return httpx.AsyncClient(headers=headers, timeout=timeout, verify=verify, transport=transport, follow_redirects=False)

    async def _call(self, method, segments, *, params=None, body=None, if_match=None, headers=None, tagged=False, feature=None):
        request = self._request(method, segments, params, body, if_match, headers)
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise self._unreachable(request, exc) from exc
        return self._finish(response, tagged, feature)

    async def wait_run(self, pid: str, rid: str, *, poll: float = 0.5, timeout: float | None = None, on_update=None) -> dict:
        """As :meth:`DatadiveClient.wait_run`, awaiting between polls."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = await self.get_run(pid, rid)
            if on_update is not None:
                on_update(run)
            if run.get("status") in RUN_FINISHED:
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"the run {rid} had not ended after {timeout} s (it is {run.get('status')})")
            await asyncio.sleep(poll)

    async def _iter_pages(self, list_page, kwargs: dict, page_size):
        cursor, seen = None, set()
        while True:
            page = await list_page(**kwargs, limit=page_size, cursor=cursor)
            for item in page.get("items", []):
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return
            _pages_guard(seen, cursor)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()
