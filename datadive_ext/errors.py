"""Errors of the services, each with an HTTP status, a ``code`` and a list of ``{path, message}``.

Services raise these (they import no tornado); the base handler turns any of them,
and the cell_templates errors, into one body shape:
``{"message", "reason", "code", "errors": [{"path", "message"}]}``.
"""

from __future__ import annotations

from http.client import responses

from cell_templates.errors import CellEditedError, CellError, DatadiveError, InputError, TemplateError


class ApiError(Exception):
    status = 500
    code = "error"

    def __init__(self, message: str, errors: list[dict] | None = None, *, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = list(errors or [])
        if code:
            self.code = code
        self.headers = headers or {}


class Invalid(ApiError):
    status, code = 400, "invalid"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Stale(ApiError):
    status, code = 412, "stale"


class TooLarge(ApiError):
    status, code = 413, "too_large"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


_LIBRARY_STATUS = {
    TemplateError: 400,
    InputError: 400,
    CellEditedError: 409,
    CellError: 400,
}


def error_body(exc: BaseException, status: int | None = None) -> tuple[int, dict]:
    """``(status, body)`` for one of our errors, or None-status for anything else."""
    if isinstance(exc, ApiError):
        status = exc.status
        code, message, errors = exc.code, exc.message, exc.errors
    elif isinstance(exc, DatadiveError):
        status = next((s for cls, s in _LIBRARY_STATUS.items() if isinstance(exc, cls)), 400)
        code, message, errors = exc.code, exc.message, exc.errors
    else:
        raise TypeError(exc)
    return status, {"message": message, "reason": responses.get(status, ""), "code": code, "errors": errors}
