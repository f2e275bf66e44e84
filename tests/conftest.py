"""Shared fixtures: a real Jupyter server (pytest-jupyter) with the extension, and an API client.

- ``jp_server_config`` enables the extension (pytest-jupyter isolates config dirs,
  so the installed config file is not seen) and keeps the SQLite file in the
  test's data dir.
- ``MULTI_USER`` is a server config adding an identity provider that maps tokens to
  users (``token-alice`` -> ``alice``...), for role tests: a test module sets
  ``jp_server_config`` from ``multi_user_config()``.
- ``api(method, *segments, user=None, body=None, params=None, headers=None)``
  sends one request; each segment is URL-encoded as one path segment, so a
  notebook path ``a/b.ipynb`` travels as ``a%2Fb.ipynb``. It returns a
  ``Reply`` with ``status``, ``json`` and ``headers`` and never raises on 4xx/5xx.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

import pytest
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User

pytest_plugins = ["pytest_jupyter.jupyter_server"]

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


@pytest.fixture
def jp_server_config(jp_data_dir):
    return base_config(jp_data_dir)


@dataclass
class Reply:
    status: int
    json: object
    headers: object
    text: str


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_base_url, jp_auth_header):
    async def send(method, *segments, user=None, body=None, params=None, headers=None, raw_body=None):
        path = "/".join(urllib.parse.quote(str(s), safe="") for s in segments)
        url = f"{jp_base_url}api/datadive/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        hdrs = dict(jp_auth_header) if user is None else {"Authorization": f"token token-{user}"}
        hdrs.update(headers or {})
        if raw_body is not None:
            data = raw_body
        elif body is not None:
            data = json.dumps(body)
        else:
            data = "" if method in ("POST", "PUT", "PATCH") else None
        resp = await http_server_client.fetch(
            url, method=method, body=data, headers=hdrs, raise_error=False,
            allow_nonstandard_methods=True, request_timeout=60,
        )
        text = resp.body.decode("utf-8", "replace") if resp.body else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Reply(resp.code, parsed, resp.headers, text)

    return send


def assert_error(reply: Reply, status: int, code: str, paths=None) -> None:
    """The one error shape: status, code, message, reason and (optionally) the exact error paths."""
    assert reply.status == status, (reply.status, reply.text)
    body = reply.json
    assert isinstance(body, dict) and set(body) >= {"message", "reason", "code", "errors"}, reply.text
    assert body["code"] == code, body
    assert body["message"], body
    if paths is not None:
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
