"""Helpers shared by the test modules: server configs, the reply of one request, the error check.

Test modules import these by name (``from datadive_testing import assert_error``);
the fixtures that use them (``api``, ``jp_server_config``) come from the pytest
plugin ``datadive_fixtures``, registered in ``tests/conftest.py``.

- ``base_config(jp_data_dir, **extra)`` is the server config of one test: the
  extension enabled (pytest-jupyter isolates config dirs, so the installed config
  file is not seen) and the SQLite file in the test's data dir.
- ``multi_user_config(...)`` adds an identity provider that maps tokens to users
  (``token-alice`` -> ``alice``...), for role tests: a test module sets
  ``jp_server_config`` from it.
- ``Reply`` is what the ``api`` fixture returns: ``status``, ``json``, ``headers``,
  ``text``, and the ``started`` / ``ended`` times of the request
  (``time.monotonic()``), from which ``max_in_flight`` tells whether concurrent
  requests really overlapped.
- ``assert_error(reply, status, code, paths)`` checks the one error body.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User

USERS = ("alice", "bob", "carol", "dave", "erin")


class TokenUsers(IdentityProvider):
    """Test identity provider: ``Authorization: token token-<name>`` is user ``<name>``."""

    def get_user(self, handler):
        header = handler.request.headers.get("Authorization", "")
        token = header[6:].strip() if header.lower().startswith("token ") else ""
        name = token[6:] if token.startswith("token-") else ""
        if name in USERS:
            handler._token_authenticated = True  # token requests skip the XSRF check, as with the default provider
        return User(username=name, name=name, display_name=name) if name in USERS else None


class ReadOnlyAuthorizer(Authorizer):
    """Allows reads only: every write route must answer 403."""

    def is_authorized(self, handler, user, action, resource):
        return action == "read"


def base_config(jp_data_dir, **extra) -> dict:
    config = {
        "ServerApp": {"jpserver_extensions": {"datadive_ext": True}},
        "DatadiveApp": {"db_path": str(jp_data_dir / "datadive-test.sqlite")},
        "ContentsManager": {"delete_to_trash": False},
    }
    for section, values in extra.items():
        config.setdefault(section, {}).update(values)
    return config


def multi_user_config(jp_data_dir, **extra) -> dict:
    extra.setdefault("ServerApp", {})["identity_provider_class"] = TokenUsers
    return base_config(jp_data_dir, **extra)


@dataclass
class Reply:
    status: int
    json: object
    headers: object
    text: str
    started: float = field(default=0.0, compare=False)  # time.monotonic() when the request was sent
    ended: float = field(default=0.0, compare=False)  # ... and when its answer was read
    request: str = field(default="", compare=False)  # "METHOD url body", for messages


def max_in_flight(intervals) -> int:
    """The largest number of requests that were in flight at one instant.

    ``intervals``: ``Reply`` objects or ``(started, ended)`` pairs. Two requests
    overlap when one started before the other ended.
    """
    events = []
    for item in intervals:
        started, ended = (item.started, item.ended) if isinstance(item, Reply) else item
        assert started <= ended, (started, ended)
        events += [(started, 1), (ended, -1)]
    # At equal times an end comes first: requests that merely touch did not overlap.
    events.sort(key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


# For ``assert_error``: the error paths this answer gives look wrong by the API contract and are
# reported for a decision, so a test does not pin them (status and code are still asserted).
# Every use names, beside it, the path the server gives and the one the contract suggests.
def assert_error(reply: Reply, status: int, code: str, paths) -> None:
    """The one error shape: status, code, message, reason and the error paths.

    ``paths``: a list is the exact paths of ``errors`` (in any order, one entry per
    error); a set is the distinct paths (for answers where one path may carry
    several messages). ``[]`` means an error about no field (``errors == []``).
    """
    assert reply.status == status, (reply.status, reply.request, reply.text)
    body = reply.json
    assert isinstance(body, dict) and set(body) >= {"message", "reason", "code", "errors"}, reply.text
    assert body["code"] == code, (reply.request, body)
    assert body["message"], body
    assert isinstance(body["errors"], list), body
    assert all(isinstance(e, dict) and isinstance(e.get("path"), str) and e.get("message") for e in body["errors"]), body["errors"]
    if isinstance(paths, (set, frozenset)):
        assert {e["path"] for e in body["errors"]} == paths, body["errors"]
    else:
        assert isinstance(paths, (list, tuple)), f"paths must be a list or a set, not {paths!r}"
        assert sorted(e["path"] for e in body["errors"]) == sorted(paths), body["errors"]


def counting_template_doc(tid: str = "my-template", **changes) -> dict:
    """A valid user template: a markdown and a code cell, a required ``column`` and an integer ``n``."""
    doc = {
        "id": tid,
        "title": f"Template {tid}",
        "description": "Counts the rows of one column.",
        "category": "custom",
        "tags": ["mine", "counting"],
        "inputs": {
            "type": "object",
            "required": ["column"],
            "properties": {
                "df": {"type": "string", "default": "df", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "column": {"type": "string", "minLength": 1},
                "n": {"type": "integer", "minimum": 1, "default": 5},
            },
        },
        "cells": [
            {"cell_type": "markdown", "source": "## Counting {{ column }}"},
            {"cell_type": "code", "source": "{{ df|ident }}[{{ column }}].head({{ n }})"},
        ],
        "requires": ["pandas"],
        "examples": [{"title": "Group", "inputs": {"column": "group"}}],
    }
    doc.update(changes)
    return doc
