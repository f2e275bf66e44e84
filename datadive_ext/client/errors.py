"""Typed errors of the Datadive client.

Every answer of the server with a status of 400 or more becomes one of these, carrying
the server's error body: ``{"message", "reason", "code", "errors": [{"path", "message"}]}``.
A server that cannot be reached at all raises :class:`ServerUnreachable`. All of them
are :class:`DatadiveError`, so ``except DatadiveError`` catches everything the client
raises about the server.

Each class has an ``exit_code``: the exit status of the ``datadive`` command line for it.
"""

from __future__ import annotations

from http.client import responses

# Codes used when a body carries none (an answer from a proxy, or from Jupyter Server
# itself before the request reached Datadive, e.g. a missing token).
_DEFAULT_CODES = {
    400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 412: "stale",
    413: "too_large", 503: "unavailable", 504: "timeout", 507: "storage_full",
}


class DatadiveError(Exception):
    """An error answer of the server (or none at all: :class:`ServerUnreachable`).

    - ``status``: the HTTP status (``None`` when no answer came);
    - ``code``: the server's machine-readable code (``invalid``, ``cell_edited``, ``stale``...);
    - ``message``: the server's sentence for people;
    - ``errors``: a list of ``{"path", "message"}`` (JSON pointers into the request, or
      ``/headers/If-Match`` ...), empty when the error is about no single field;
    - ``reason``: the HTTP reason phrase;
    - ``headers``: the answer's headers (``None`` when no answer came);
    - ``body``: the parsed body (or its text when it was not JSON).
    """

    status: int | None = None
    exit_code = 1

    def __init__(self, status, code, message, errors=None, reason="", *, headers=None, body=None):
        self.status = status
        self.code = code
        self.message = message
        self.errors = list(errors or [])
        self.reason = reason
        self.headers = headers
        self.body = body
        super().__init__(self.__str__())

    def __str__(self) -> str:
        head = f"{self.status} {self.code}: {self.message}" if self.status is not None else f"{self.code}: {self.message}"
        details = "; ".join(f"{e.get('path', '')}: {e.get('message', '')}" for e in self.errors if isinstance(e, dict))
        return f"{head} ({details})" if details else head

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r}, errors={self.errors!r})"

    @property
    def paths(self) -> list[str]:
        """The ``path`` of every entry of ``errors``, in order."""
        return [e.get("path", "") for e in self.errors if isinstance(e, dict)]


class BadRequest(DatadiveError):
    """400: the request is invalid; ``errors`` names every problem with its path."""

    exit_code = 4


class Forbidden(DatadiveError):
    """403 (and 401): not allowed (role, read-only source, authorizer), or not logged in (no or a wrong token)."""

    exit_code = 5


class NotFound(DatadiveError):
    """404: no such resource, or not visible to this user."""

    exit_code = 6


class NotAvailable(NotFound):
    """404 ``no_route``: this server has no such route: an API that newer servers have (runs, on a server older than them)."""

    exit_code = 12


class Conflict(DatadiveError):
    """409: conflicts with the current state (``template_exists``, ``template_retired``...)."""

    exit_code = 7


class CellEdited(Conflict):
    """409 ``cell_edited``: the generated cell was edited by hand; pass ``force=True`` to regenerate anyway."""


class PreconditionFailed(DatadiveError):
    """412: the ``If-Match`` ETag is stale (or missing where required, code ``if_match_required``)."""

    exit_code = 8


class TooLarge(DatadiveError):
    """413: the request body (or a data file) is too large."""

    exit_code = 9


class Unavailable(DatadiveError):
    """503: the store is busy; retry after ``retry_after`` seconds (the ``Retry-After`` header)."""

    exit_code = 10

    @property
    def retry_after(self) -> float | None:
        try:
            return float((self.headers or {}).get("Retry-After"))
        except (TypeError, ValueError):
            return None


class KernelTimeout(DatadiveError):
    """504: a kernel (the assistant's ``kernel_id``) did not answer in time."""

    exit_code = 10


class StorageFull(DatadiveError):
    """507: the server's disk is full; nothing was written."""

    exit_code = 11


class ServerError(DatadiveError):
    """500 and any other status: a bug or a failure on the server's side."""


class ServerUnreachable(DatadiveError):
    """No answer: the connection failed or timed out (``status`` is None, ``code`` ``unreachable``)."""

    exit_code = 3

    def __init__(self, message, *, url=None):
        self.url = url
        super().__init__(None, "unreachable", message, [], "")


_BY_STATUS = {
    400: BadRequest, 401: Forbidden, 403: Forbidden, 404: NotFound, 409: Conflict, 412: PreconditionFailed,
    413: TooLarge, 503: Unavailable, 504: KernelTimeout, 507: StorageFull,
}
_BY_CODE = {"cell_edited": CellEdited, "no_route": NotAvailable}


def error_from_answer(status: int, body, headers=None) -> DatadiveError:
    """The typed error for an answer: its class from the status (and the code, for subclasses)."""
    reason = responses.get(status, "")
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = body.get("code") if isinstance(body.get("code"), str) else _DEFAULT_CODES.get(status, "error")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)] if isinstance(body.get("errors"), list) else []
        message, reason = body["message"], body.get("reason") or reason
    else:
        code = _DEFAULT_CODES.get(status, "error")
        text = body if isinstance(body, str) else ""
        snippet = " ".join(text.split())[:200]
        message = f"HTTP {status} {reason}".strip() + (f": {snippet}" if snippet else "")
        errors = []
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or (ServerError if status >= 500 else DatadiveError)
    if cls is NotAvailable and status != 404:
        cls = _BY_STATUS.get(status, DatadiveError)
    return cls(status, code, message, errors, reason, headers=headers, body=body)


__all__ = [
    "BadRequest", "CellEdited", "Conflict", "DatadiveError", "Forbidden", "KernelTimeout", "NotAvailable", "NotFound",
    "PreconditionFailed", "ServerError", "ServerUnreachable", "StorageFull", "TooLarge", "Unavailable",
    "error_from_answer",
]
