"""Keyset pagination: ``?limit=&cursor=`` in, ``{"items", "next_cursor"}`` out.

A cursor is the sort key of the last item of the previous page, as URL-safe
base64 of JSON: opaque to clients, stable while rows are added or removed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import NamedTuple

from .errors import Invalid


class Page(NamedTuple):
    items: list
    next_cursor: str | None

    def to_dict(self) -> dict:
        return {"items": self.items, "next_cursor": self.next_cursor}


def encode_cursor(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: tuple = (str,), path: str = "/cursor") -> list:
    """The key in ``cursor``; it must have exactly the types in ``shape`` (one per position)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        key = None
    ok = (
        isinstance(key, list)
        and len(key) == len(shape)
        and all(type(k) is t for k, t in zip(key, shape))
        and all(-(2**63) <= k < 2**63 for k in key if type(k) is int)
    )
    if not ok:
        raise Invalid("invalid cursor", [{"path": path, "message": "is not a cursor returned by this API"}], code="invalid_cursor")
    return key
