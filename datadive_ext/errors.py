"""Errors of the services, each with an HTTP status, a ``code`` and a list of ``{path, message}``.

Services raise these (they import no tornado); the base handler turns any of them,
and the cell_templates errors, into one body shape:
``{"message", "reason", "code", "errors": [{"path", "message"}]}``.
"""

from __future__ import annotations

import errno
import sqlite3
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


class ReadOnly(ApiError):
    status, code = 403, "read_only"


class StorageFull(ApiError):
    status, code = 507, "storage_full"


# errno values of a write the disk refused: nothing was written, retrying will not help
# until someone frees space (StorageFull) or makes the folder writable (ReadOnly).
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
RETRY_AFTER = "1"


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__  # explicit causes only: a bug raised while handling one of these stays a bug


def environment_error(exc: BaseException) -> ApiError | None:
    """The client error for a failure of the server's environment, or None.

    - A disk that is full or a folder that cannot be written (the contents manager
      wraps the ``OSError`` in an HTTP 403 / 500, keeping it as the cause):
      507 ``storage_full`` / 403 ``read_only``; the contents manager writes
      atomically, so the file is as it was.
    - The SQLite file locked by another process for longer than the busy timeout:
      503 ``unavailable`` with ``Retry-After``; its disk full or the file read-only:
      507 / 403 as above (SQLite rolls the transaction back).
    """
    for cause in _causes(exc):
        if isinstance(cause, sqlite3.Error):
            code = getattr(cause, "sqlite_errorcode", None)
            text = str(cause).lower()
            if code == sqlite3.SQLITE_FULL or (code is None and "is full" in text):
                return StorageFull("the disk holding the database is full: nothing was changed", [{"path": "", "message": "no space left for the database"}])
            if code == sqlite3.SQLITE_READONLY or (code is None and "readonly" in text):
                return ReadOnly("the database cannot be written on the server: nothing was changed", [{"path": "", "message": "read-only"}])
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (code is None and ("locked" in text or "busy" in text)):
                return Unavailable(
                    "the database is busy (another process holds a lock on it); nothing was changed, retry shortly",
                    headers={"Retry-After": RETRY_AFTER},
                )
        elif isinstance(cause, OSError) and cause.errno is not None:
            if cause.errno in _FULL:
                return StorageFull("the disk is full: nothing was written", [{"path": "", "message": "no space left on the server's disk"}])
            if cause.errno in _READ_ONLY:
                return ReadOnly("the folder cannot be written on the server: nothing was written", [{"path": "", "message": "read-only"}])
    return None


def contents_error(exc: BaseException, *, reading: bool) -> ApiError | None:
    """The client error for a contents-manager failure on a notebook, or None (a bug: 500).

    The caller has checked that the notebook exists. jupyter_server's file manager
    writes a notebook in place (after a backup copy), and a reader that finds it
    half-written renames it and puts the backup back, so clients of the contents API
    reading or writing a notebook while we use it can make our read or write fail
    part-way. That is a retryable condition, not a server error:

    - the read of an existing notebook refused as a bad request (HTTP 400: the file
      is not a readable notebook right now): 409 ``notebook_unreadable``;
    - the file gone in the middle (HTTP 404, or a ``FileNotFoundError`` among the
      causes): 503 ``notebook_busy``;

    both with ``Retry-After``. A full disk or a folder that cannot be written keep
    their own answers (``environment_error``). The status codes and exception
    classes decide; no upstream message text is matched.
    """
    if isinstance(exc, ApiError):
        return None
    mapped = environment_error(exc)
    if mapped is not None:
        return mapped
    status = getattr(exc, "status_code", None)
    retry = {"Retry-After": RETRY_AFTER}
    if reading and status == 400:
        return Conflict("the notebook file cannot be read as a notebook; another client may be writing it: retry",
                        [{"path": "", "message": "the file is not a readable notebook right now"}], code="notebook_unreadable", headers=retry)
    if status == 404 or any(isinstance(c, FileNotFoundError) for c in _causes(exc)):
        return Unavailable("the notebook file was moved away while it was read or written (another client is writing it): retry",
                           [{"path": "", "message": "the file is being replaced"}], code="notebook_busy", headers=retry)
    return None


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
