"""HTML pages for other platforms: the notebook-template list and the SampleDB-compatible endpoint.

Routes (under the server's base_url, outside the REST API):

- ``datadive/templates/``: the list of notebook templates, each linking to its page.
- ``datadive/templates/t/<template path>``: what SampleDB opens (a top-level
  cross-site ``POST`` with a form field ``params``, or a ``GET`` with ``?params=``).
  It changes nothing: it answers a confirmation page carrying a signed token.
- ``datadive/templates/confirm``: the confirmation's same-origin ``POST`` (XSRF
  checked): creates the notebook in ``DatadiveApp.sampledb_folder`` and answers
  303 to it in JupyterLab.

Errors are HTML pages with the status, an ``X-Datadive-Error`` header holding the
code, and the ``{path, message}`` problems (``data-path``). See docs/sampledb.md.
"""

from __future__ import annotations

import functools
import os
import posixpath
import weakref
from http.client import responses
from urllib.parse import quote, urlencode

import jinja2
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from markupsafe import Markup
from tornado import web

from cell_templates.errors import DatadiveError, pointer

from ..errors import ApiError, Forbidden, Invalid, TooLarge, environment_error, error_body
from ..nbtemplates import fill_name, parameters_source, validate_values
from ..offload import run_blocking
from ..sampledb import MAX_LOGIN_QUERY_CHARS, LinkSigner, check_template_path, compact, name_text, parse_params, placeholders

PAGES = "/datadive/templates"
TEMPLATES_RESOURCE = "datadive:templates"
WRITE_RESOURCE = "contents"
ERROR_HEADER = "X-Datadive-Error"
# What the confirmation page shows of one value (the notebook gets all of it).
SHOWN_LITERAL_CHARS = 4000

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(os.path.dirname(__file__)), "pages")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

# One signer per running extension app (its key derives from that server's cookie secret).
_SIGNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class PageHandler(ExtensionHandlerMixin, JupyterHandler):
    """An HTML page of Datadive: one error page for every error, strict headers."""

    @property
    def nbtemplates(self):
        return self.extensionapp.nbtemplates

    @property
    def user(self) -> str:
        return self.extensionapp.acting_user(self.current_user)

    @property
    def signer(self) -> LinkSigner:
        app = self.extensionapp
        signer = _SIGNERS.get(app)
        if signer is None:
            signer = _SIGNERS[app] = LinkSigner(self.settings["cookie_secret"], app.sampledb_link_max_age)
        return signer

    @property
    def content_security_policy(self) -> str:
        # Nothing on these pages runs script or loads anything; forms post to this server only.
        return "; ".join([
            super().content_security_policy,
            "default-src 'none'", "style-src 'unsafe-inline'", "form-action 'self'", "base-uri 'none'",
        ])

    def page_url(self, *parts: str) -> str:
        return url_path_join(self.base_url, PAGES, *parts)

    def page(self, name: str, http_status: int = 200, **ns) -> None:
        self.set_status(http_status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(_ENV.get_template(name).render(**ns))

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if exc is not None and not isinstance(exc, (ApiError, DatadiveError)):
            exc = environment_error(exc) or exc
        if isinstance(exc, (ApiError, DatadiveError)):
            status_code, body = error_body(exc)
            for name, value in getattr(exc, "headers", {}).items():
                self.set_header(name, value)
        else:
            message = responses.get(status_code, "Unknown HTTP Error")
            if isinstance(exc, web.HTTPError) and exc.log_message:
                message = exc.log_message % exc.args if exc.args else exc.log_message
            code = {400: "invalid", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status_code, "error")
            if status_code == 403 and not getattr(self, "_jupyter_current_user", None):
                code, message = "login_required", "you are not logged in to this server: log in, then open the link in SampleDB again"
            if status_code >= 500:
                code, message = "internal_error", "an internal error occurred; the server log has the details"
            body = {"message": message, "reason": responses.get(status_code, ""), "code": code, "errors": []}
        self.set_header(ERROR_HEADER, body["code"])
        self.page("error.html", status_code, status=status_code, **body)

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (ApiError, DatadiveError)):
            self.log.debug("Datadive page %s: %s", type(value).__name__, value)
            return
        super().log_exception(typ, value, tb)

    def check_body_size(self) -> None:
        limit = self.extensionapp.max_body_bytes
        if len(self.request.body or b"") > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes", [{"path": "", "message": f"is larger than {limit} bytes"}])

    def form_field(self, name: str) -> str | None:
        """A form field of the body, then of the query; text that is not UTF-8 is a 400 with its path."""
        try:
            value = self.get_body_argument(name, None)
            if value is None:
                value = self.get_query_argument(name, None)
        except web.HTTPError:
            raise Invalid(f"the field {name!r} is not valid UTF-8 text", [{"path": f"/{name}", "message": "is not valid UTF-8"}],
                          code=f"invalid_{name}") from None
        return value


def _login_through_get(method):
    """``@web.authenticated`` for the SampleDB POST: an anonymous browser is sent to the GET.

    Tornado's ``authenticated`` answers 403 to an anonymous POST. Browsers send the
    cross-site POST from SampleDB without the (SameSite=Lax) login cookie, so the
    params would be lost; instead the POST answers 303 to the same page as a GET
    carrying ``?params=`` (compact JSON). That GET is ``@web.authenticated``: a user
    who is not logged in goes to the login page with ``next`` = that URL, so the
    params survive the login. The redirect changes nothing.
    """

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        if self.current_user:
            return await method(self, *args, **kwargs)
        self.check_body_size()
        params = parse_params(self.form_field("params"))
        query = urlencode({"params": compact(params)}) if params else ""
        if len(query) > MAX_LOGIN_QUERY_CHARS:
            raise TooLarge(
                f"the params are too long ({len(query)} characters once URL-encoded) to carry through the login page "
                f"(at most {MAX_LOGIN_QUERY_CHARS}): log in to this server first, then open the link in SampleDB again",
                [{"path": "/params", "message": f"is longer than {MAX_LOGIN_QUERY_CHARS} characters in a URL"}],
                code="params_too_long_for_login",
            )
        url = self.page_url("t", quote(kwargs.get("path") or (args[0] if args else ""), safe="/"))
        if query:
            url += "?" + query
        self.redirect(url, status=303)

    return wrapper


class TemplateListHandler(PageHandler):
    auth_resource = TEMPLATES_RESOURCE

    @web.authenticated
    @authorized(action="read")
    async def get(self):
        items = []
        for entry in await self.nbtemplates.list():
            path = _template_path(entry)
            items.append({
                "path": path, "title": entry.get("title") or path, "description": entry.get("description") or "",
                "href": self.page_url("t", quote(path, safe="/")),
            })
        self.page("templates.html", templates=items, folder=self.extensionapp.sampledb_folder or "/",
                  templates_url=self.page_url() + "/")


class SampleDBTemplateHandler(PageHandler):
    """What SampleDB opens. Neither verb changes anything: both answer the confirmation page."""

    auth_resource = TEMPLATES_RESOURCE

    def check_xsrf_cookie(self) -> None:
        # The POST comes from SampleDB's form on another site: it cannot carry our
        # _xsrf token. It only shows a page; the confirmation (ConfirmHandler) is checked.
        return None

    @web.authenticated
    @authorized(action="read")
    async def get(self, path):
        await self._confirmation(path)

    @allow_unauthenticated  # handled by _login_through_get, which never acts for an anonymous user
    @_login_through_get
    @authorized(action="read")
    async def post(self, path):
        await self._confirmation(path)

    async def _confirmation(self, path: str) -> None:
        self.check_body_size()
        path = check_template_path(path)
        params = parse_params(self.form_field("params"))
        template = await _template(self.nbtemplates, path)
        # Every problem is shown now, before anything is confirmed (the confirmation checks again).
        await run_blocking(validate_values, template.spec, params, "/params")
        destination = self._destination(path, params)
        token = self.signer.issue(path, params, destination, self.user)
        shown = []
        # The lines the parameters cell will hold, exactly (the notebook's order of declaration).
        for line in parameters_source(params, template.spec).splitlines()[1:]:
            name = line.split(" = ", 1)[0]
            if len(line) > SHOWN_LITERAL_CHARS:
                line = line[:SHOWN_LITERAL_CHARS] + " …"
            shown.append({"name": name, "literal": line})
        self.page(
            "confirm.html",
            title=template.title or path, template=path, destination=destination, params=shown, link=token,
            action=self.page_url("confirm"), xsrf_form_html=Markup(self.xsrf_form_html()),
            origin=_origin(self.request.headers.get("Origin") or self.request.headers.get("Referer") or ""),
            valid_for=_duration(self.extensionapp.sampledb_link_max_age),
        )

    def _destination(self, path: str, params: dict) -> str:
        """``<sampledb_folder>/<template's folder>/<file name filled from the params>``."""
        folder, pattern = posixpath.split(path)
        missing = [name for name in placeholders(pattern) if name not in params]
        if missing:
            raise Invalid(
                f"the template's file name needs the parameter(s) {', '.join(missing)}, which SampleDB did not send",
                [{"path": pointer(("params", name)), "message": "is required by the file name"} for name in dict.fromkeys(missing)],
                code="missing_parameter",
            )
        name = fill_name(pattern, {key: name_text(value) for key, value in params.items()})
        return posixpath.join(self.extensionapp.sampledb_folder, folder, name).lstrip("/")


class ConfirmHandler(PageHandler):
    """The user's confirmation: XSRF-checked, one use per token, creates the notebook, 303 to it."""

    auth_resource = WRITE_RESOURCE

    def check_xsrf_cookie(self) -> None:
        try:
            super().check_xsrf_cookie()
        except web.HTTPError:
            raise Forbidden(
                "the confirmation did not come from this server's page (XSRF check failed): open the link in SampleDB again",
                [{"path": "/_xsrf", "message": "is missing or does not match the _xsrf cookie"}], code="xsrf_failed",
            ) from None

    @web.authenticated
    @authorized(action="write")
    async def post(self):
        self.check_body_size()
        link = self.signer.verify(self.form_field("link"), self.user)
        self.signer.claim(link)
        folder, name = posixpath.split(link.destination)
        try:
            created = await self.nbtemplates.create(link.template, link.params, folder=folder, name=name, unique=True)
        except BaseException as exc:
            self.signer.release(link)  # nothing was created: the same page may be confirmed again
            if isinstance(exc, ApiError):
                raise _repath(exc) from None
            raise
        self.redirect(url_path_join(self.base_url, "lab", "tree", quote(created, safe="/")), status=303)


def _template_path(entry: dict) -> str:
    return entry["id"]  # a notebook template's id is its path in its folder, as in SampleDB's URLs


async def _template(service, path: str):
    try:
        return await service.get(path)
    except ApiError as exc:
        raise _repath(exc) from None


_PATHS = (("/from_template", "/template"), ("/parameters", "/params"))


def _repath(exc: ApiError) -> ApiError:
    """The service's error paths in this page's terms: ``/template``, ``/params/<name>``."""
    for error in exc.errors:
        for old, new in _PATHS:
            if error.get("path") == old or str(error.get("path", "")).startswith(old + "/"):
                error["path"] = new + error["path"][len(old):]
    return exc


def _duration(seconds: int) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def routes() -> list:
    return [
        (rf"{PAGES}/?", TemplateListHandler),
        (rf"{PAGES}/confirm", ConfirmHandler),
        (rf"{PAGES}/t/(?P<path>.+)", SampleDBTemplateHandler),
    ]
