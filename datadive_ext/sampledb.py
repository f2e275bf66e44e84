"""The SampleDB-compatible templating endpoint, its pure part: params, template paths, signed links.

SampleDB (``sciapp/sampledb``) sends the user to ``<templates url>/t/<template path>``
with one form field (or query argument) ``params``: a JSON object whose keys are the
template's parameter names and whose values are whatever SampleDB stored (strings,
numbers, booleans, null, or SampleDB data objects such as ``{"_type": "text",
"text": {"en": ...}}``, quantities and datetimes). This module checks that input,
and signs what the confirmation page carries so that the confirming POST cannot
change it. No tornado here: the handlers live in ``handlers/pages.py``.

- ``parse_params(text)``: the params object, or an ``ApiError`` with a path
  (``/params`` or ``/params/<key>...``).
- ``check_template_path(path)``: a relative '/'-separated template path, or 404.
- ``placeholders(pattern)`` and ``name_text(value)``: the ``{name}`` placeholders
  of a template's file name, and the text a SampleDB value gives a file name
  (``nbtemplates.fill_name`` fills and sanitises).
- ``LinkSigner``: HMAC-SHA256 over the link's JSON, with its time, a one-time nonce
  and the id of this server process; ``issue`` and ``redeem`` (once; expired,
  replayed, forged, other-user and pre-restart links are refused, each with its own
  code).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

from cell_templates.errors import pointer
from cell_templates.literals import identifier_problem
from cell_templates.validation import value_problems

from .errors import ApiError, Forbidden, Invalid, NotFound, TooLarge

# A SampleDB params object is a handful of metadata values; these bounds leave room
# for big ones (a table of measurements) while keeping every step cheap.
MAX_PARAMS_CHARS = 256 * 1024
# An anonymous user's params travel through the login redirect in the URL: the query
# ``?params=...`` (URL-encoded) may have this many characters. The login URL holds it
# encoded once more (``next=``), about 1.7 times as long; many proxies refuse URLs
# over 16 KiB, tornado request heads over 64 KiB.
MAX_LOGIN_QUERY_CHARS = 8 * 1024
# Levels below the params object; cell_templates' literal writer stops at 32.
MAX_DEPTH = 24
MAX_PARAMETERS = 500
# Longest template path accepted in a URL.
MAX_TEMPLATE_PATH = 1024

SALT = b"datadive.sampledb.link.v1"


class LinkGone(ApiError):
    """410: a confirmation link that has expired (or was issued before a restart)."""

    status, code = 410, "link_expired"


class LinkUsed(ApiError):
    status, code = 409, "link_used"


# -- params -------------------------------------------------------------------------------


def parse_params(text: str | None) -> dict:
    """The ``params`` object SampleDB sent (``{}`` when there is none)."""
    if text is None or not text.strip():
        return {}
    if len(text) > MAX_PARAMS_CHARS:
        raise TooLarge(
            f"the params are larger than {MAX_PARAMS_CHARS} characters",
            [{"path": "/params", "message": f"is longer than {MAX_PARAMS_CHARS} characters"}],
        )
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise Invalid("the params are nested too deeply", [{"path": "/params", "message": "is nested too deeply"}],
                      code="invalid_params") from None
    except ValueError as exc:
        raise Invalid(f"the params are not valid JSON: {exc}", [{"path": "/params", "message": "is not valid JSON"}],
                      code="invalid_params") from None
    if not isinstance(data, dict):
        raise Invalid("the params must be a JSON object (parameter name: value)",
                      [{"path": "/params", "message": f"must be an object, not {_json_type(data)}"}], code="invalid_params")
    if len(data) > MAX_PARAMETERS:
        raise Invalid(f"the params hold more than {MAX_PARAMETERS} parameters",
                      [{"path": "/params", "message": f"has more than {MAX_PARAMETERS} keys"}], code="invalid_params")
    problems = [{"path": "/params" + p["path"], "message": p["message"]} for p in value_problems(data, max_depth=MAX_DEPTH + 1)]
    if problems:
        raise Invalid("the params hold text that is not valid Unicode or are nested too deeply", problems, code="invalid_params")
    bad = []
    for key in data:
        problem = identifier_problem(key, existing=True)
        if problem:
            bad.append({"path": pointer(("params", key)), "message": f"is not usable as a Python variable name: {problem}"})
    if bad:
        raise Invalid("parameter names must be Python variable names", bad, code="invalid_parameter_name")
    return data


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(type(value), "a value")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def compact(params: dict) -> str:
    """The params as compact JSON (what SampleDB sends, and what the login redirect carries)."""
    return json.dumps(params, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# -- file names ----------------------------------------------------------------------------

_PLACEHOLDER_NAME = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z")


def placeholders(pattern: str) -> list[str]:
    """The ``{name}`` placeholders of a file-name pattern (``{{`` / ``}}`` are literal braces)."""
    return [m.group(1) for m in _PLACEHOLDER_NAME.finditer(pattern) if m.group(1)]


def name_text(value):
    """What a SampleDB value contributes to a file name (the notebook gets the value itself).

    SampleDB sends whole data objects when an action maps a parameter to a property
    rather than to one of its fields: text (``{"_type": "text", "text": ...}``, its
    text possibly multilingual ``{"en": ..., "de": ...}``: English, else the first),
    quantities (magnitude and units), datetimes (``utc_datetime``), booleans, object
    references (the object id) and users (the user id). Anything else is returned
    as it is (``fill_name`` refuses objects).
    """
    if isinstance(value, dict):
        kind = value.get("_type")
        if kind == "text":
            return name_text(value.get("text"))
        if kind == "quantity":
            magnitude = value.get("magnitude", value.get("magnitude_in_base_units"))
            units = value.get("units")
            if isinstance(magnitude, (int, float)) and not isinstance(magnitude, bool):
                return f"{name_text(magnitude)}{units}" if isinstance(units, str) and units and units != "1" else name_text(magnitude)
        if kind == "datetime" and isinstance(value.get("utc_datetime"), str):
            return value["utc_datetime"]
        if kind == "bool" and isinstance(value.get("value"), bool):
            return value["value"]
        if kind in ("sample", "measurement", "object_reference") and isinstance(value.get("object_id"), int):
            return value["object_id"]
        if kind == "user" and isinstance(value.get("user_id"), int):
            return value["user_id"]
        if value and "_type" not in value and all(isinstance(k, str) and _LANGUAGE.match(k) and isinstance(v, str) for k, v in value.items()):
            return value.get("en", next(iter(value.values())))
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return value


# -- template paths -----------------------------------------------------------------------

_BAD_SEGMENT = re.compile(r"[\x00-\x1f\x7f\\]")


def check_template_path(path: str) -> str:
    """A template path from the URL: relative, '/'-separated, no '..', hidden or empty segments."""
    segments = path.split("/")
    if (
        not path or len(path) > MAX_TEMPLATE_PATH or path.startswith("/")
        or any(not s or s in (".", "..") or s.startswith(".") or _BAD_SEGMENT.search(s) for s in segments)
    ):
        raise NotFound("no such notebook template", [{"path": "/template", "message": "is not a valid template path"}],
                       code="template_not_found")
    return path


# -- signed links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """What a confirmation page carries, as signed."""

    template: str
    params: dict
    destination: str
    user: str
    nonce: str
    issued_at: float


class LinkSigner:
    """Signs confirmation links and redeems each at most once.

    The key is derived from ``secret`` (the server's cookie secret), so nothing new
    needs to be stored. A link names this server process (``boot``): used nonces are
    kept in memory, so a link issued before a restart is refused as expired instead
    of becoming replayable. ``clock`` is injectable for tests of the pure logic.
    """

    def __init__(self, secret: bytes | str, max_age: float, *, clock=time.time):
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not secret:
            raise ValueError("a secret is required to sign SampleDB links")
        self._key = hmac.new(secret, SALT, hashlib.sha256).digest()
        self.max_age = float(max_age)
        self.clock = clock
        self.boot = secrets.token_urlsafe(12)
        self._used: dict[str, float] = {}  # nonce -> when it may be forgotten
        self._lock = threading.Lock()

    # -- signing ----------------------------------------------------------------------

    def issue(self, template: str, params: dict, destination: str, user: str) -> str:
        payload = {
            "v": 1, "t": template, "p": params, "d": destination, "u": user,
            "n": secrets.token_urlsafe(18), "i": round(self.clock(), 3), "b": self.boot,
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8"))
        return body + "." + _b64(self._mac(body))

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()

    def verify(self, token: str | None, user: str) -> Link:
        """The link in ``token`` if its signature is good, it is fresh and is ``user``'s (not yet spent)."""
        invalid = Invalid("the confirmation link is not valid: start again from SampleDB",
                          [{"path": "/link", "message": "is missing or its signature does not match"}], code="invalid_link")
        # Params of MAX_PARAMS_CHARS characters take at most 3 bytes each in UTF-8, 4/3 of that in base64.
        if not token or len(token) > 5 * MAX_PARAMS_CHARS or token.count(".") != 1:
            raise invalid
        body, mac = token.split(".")
        try:
            given = _unb64(mac)
            if not hmac.compare_digest(given, self._mac(body)):
                raise invalid
            payload = json.loads(_unb64(body))
        except (ValueError, binascii.Error, UnicodeError):
            raise invalid from None
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise invalid
        if payload.get("b") != self.boot:
            raise LinkGone("this confirmation link was issued before the server restarted: start again from SampleDB",
                           [{"path": "/link", "message": "has expired"}])
        age = self.clock() - float(payload["i"])
        if age > self.max_age or age < -60:
            raise LinkGone(
                f"this confirmation link has expired (links are valid for {int(self.max_age)} seconds): start again from SampleDB",
                [{"path": "/link", "message": "has expired"}],
            )
        if payload["u"] != user:
            raise Forbidden("this confirmation link was issued to another user",
                            [{"path": "/link", "message": "belongs to another user"}], code="link_other_user")
        return Link(payload["t"], payload["p"], payload["d"], payload["u"], payload["n"], float(payload["i"]))

    # -- one use ----------------------------------------------------------------------

    def claim(self, link: Link) -> None:
        """Mark the link used; a second claim raises ``LinkUsed`` (409)."""
        now = self.clock()
        with self._lock:
            if len(self._used) > 1024:
                self._used = {n: t for n, t in self._used.items() if t > now}
            if link.nonce in self._used:
                raise LinkUsed("this confirmation link has already been used: the notebook was created then",
                               [{"path": "/link", "message": "has been used"}])
            # Kept until the link would have expired anyway (plus the clock skew allowed).
            self._used[link.nonce] = link.issued_at + self.max_age + 120

    def release(self, link: Link) -> None:
        """Give a claimed link back (the notebook could not be created: the user may retry)."""
        with self._lock:
            self._used.pop(link.nonce, None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = [
    "LinkGone", "LinkSigner", "LinkUsed", "Link", "MAX_DEPTH", "MAX_LOGIN_QUERY_CHARS", "MAX_PARAMS_CHARS",
    "check_template_path", "compact", "name_text", "parse_params", "placeholders",
]
