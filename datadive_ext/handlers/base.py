"""The base handler: services, JSON bodies validated by name, pagination, one error shape."""

from __future__ import annotations

import json
from http.client import responses

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from cell_templates.errors import DatadiveError
from cell_templates.validation import iter_errors, value_problems

from ..errors import ApiError, Invalid, NotFound, TooLarge, environment_error, error_body
from ..offload import run_blocking
from ..openapi import body_validator

PREFIX = "/api/datadive"
# As deep as json.loads goes; the specific limits (template documents, inputs) come later, with their own codes.
MAX_BODY_DEPTH = 1000


class DatadiveHandler(ExtensionHandlerMixin, APIHandler):
    """Feature handlers read, call a service and write; errors are mapped here, once."""

    # -- services ----------------------------------------------------------------------

    @property
    def app(self):
        return self.extensionapp

    @property
    def projects(self):
        return self.extensionapp.projects

    @property
    def templates(self):
        return self.extensionapp.templates

    @property
    def user(self) -> str:
        return self.extensionapp.acting_user(self.current_user)

    # -- input -------------------------------------------------------------------------

    def body(self, schema: str | None = None):
        """The JSON body, validated against ``#/components/schemas/<schema>`` of the OpenAPI description."""
        raw = self.request.body or b""
        if len(raw) > self.extensionapp.max_body_bytes:
            raise TooLarge(f"the request body is larger than {self.extensionapp.max_body_bytes} bytes")
        if not raw.strip():
            raise Invalid("a JSON body is required", [{"path": "", "message": "is required"}], code="invalid_json")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Invalid(f"the body is not valid JSON: {exc}", [{"path": "", "message": "is not valid JSON"}], code="invalid_json") from None
        except RecursionError:
            raise Invalid("the body is nested too deeply", [{"path": "", "message": "is nested too deeply"}], code="invalid_json") from None
        problems = value_problems(data, max_depth=MAX_BODY_DEPTH)
        if problems:
            # Text that is not valid Unicode could reach neither SQLite nor a notebook file,
            # and schema validators recurse: both are refused here, at their paths.
            raise Invalid("the request body holds text that is not valid Unicode or is nested too deeply", problems)
        if schema is not None:
            errors = iter_errors(body_validator(schema), data)
            if errors:
                raise Invalid("the request body is invalid", errors)
        return data

    def page_args(self) -> dict:
        app = self.extensionapp
        raw = self.get_query_argument("limit", None)
        limit = app.default_page_size
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError:
                limit = -1
            if not 1 <= limit <= app.max_page_size:
                raise Invalid("invalid limit", [{"path": "/limit", "message": f"must be an integer from 1 to {app.max_page_size}"}])
        return {"limit": limit, "cursor": self.get_query_argument("cursor", None) or None}

    def int_arg(self, name: str) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return None
        try:
            value = int(raw)
            if value >= 1:
                return value
        except ValueError:
            pass
        raise Invalid(f"invalid {name}", [{"path": f"/{name}", "message": "must be a positive integer"}])

    def bool_arg(self, name: str) -> bool:
        raw = (self.get_query_argument(name, "false") or "").lower()
        if raw in ("1", "true", "yes"):
            return True
        if raw in ("0", "false", "no", ""):
            return False
        raise Invalid(f"invalid {name}", [{"path": f"/{name}", "message": "must be true or false"}])

    # -- output ------------------------------------------------------------------------

    def reply(self, data, status: int = 200, location: str | None = None) -> None:
        self.set_status(status)
        if location:
            self.set_header("Location", location)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, allow_nan=False))

    async def reply_large(self, data, status: int = 200, location: str | None = None) -> None:
        """``reply`` for a body that grows with a notebook (a thousand cells): encoded in the worker pool."""
        text = await run_blocking(_encode_in_pieces, data)
        self.set_status(status)
        if location:
            self.set_header("Location", location)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    def url(self, *parts: str) -> str:
        from urllib.parse import quote

        from jupyter_server.utils import url_path_join

        return url_path_join(self.base_url, PREFIX, *(quote(p, safe="") for p in parts))

    # -- errors --------------------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if exc is not None and not isinstance(exc, (ApiError, DatadiveError)):
            exc = environment_error(exc) or exc
        if isinstance(exc, (ApiError, DatadiveError)):
            status_code, body = error_body(exc)
            self.set_status(status_code)
            for name, value in getattr(exc, "headers", {}).items():
                self.set_header(name, value)
        else:
            message = responses.get(status_code, "Unknown HTTP Error")
            if isinstance(exc, web.HTTPError) and exc.log_message:
                message = exc.log_message % exc.args if exc.args else exc.log_message
            code = {400: "invalid", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status_code, "error")
            if status_code >= 500:
                code, message = "internal_error", "an internal error occurred; the server log has the details"
            body = {"message": message, "reason": responses.get(status_code, ""), "code": code, "errors": []}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (ApiError, DatadiveError)):
            self.log.debug("Datadive %s: %s", type(value).__name__, value)
            return
        mapped = environment_error(value)
        if mapped is not None:
            self.log.warning("Datadive %s (%s): %s", mapped.code, type(value).__name__, value)
            return
        super().log_exception(typ, value, tb)


class NoRouteHandler(DatadiveHandler):
    """Paths under the prefix that name no resource (an id of the wrong form included): 404 in JSON."""

    auth_resource = "datadive:projects"

    def _no_route(self, *args):
        raise NotFound("no such resource in the Datadive API", [{"path": "", "message": "names no resource"}], code="no_route")

    get = post = put = patch = delete = web.authenticated(authorized(_no_route))


def _encode_in_pieces(data: dict) -> str:
    """``json.dumps(data)`` of a dict of large lists, item by item: the C encoder holds the
    interpreter lock for a whole call, so one call per item lets the event loop's thread
    have the lock back between items rather than after the whole answer."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list):
            body = "[" + ", ".join(json.dumps(item, allow_nan=False) for item in value) + "]"
        else:
            body = json.dumps(value, allow_nan=False)
        parts.append(json.dumps(key) + ": " + body)
    return "{" + ", ".join(parts) + "}"


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


__all__ = ["DatadiveHandler", "NoRouteHandler", "PREFIX"]
