"""pytest plugin of the Datadive tests: a real Jupyter server with the extension, and an API client.

Registered in ``tests/conftest.py`` (``pytest_plugins``), after pytest-jupyter's
own plugin, whose fixtures these use.

- ``jp_server_config`` enables the extension and keeps the SQLite file in the
  test's data dir (``datadive_testing.base_config``); a test module or class
  overrides it for other configs.
- ``api(method, *segments, user=None, body=None, params=None, headers=None,
  raw_body=None)`` sends one request to ``/api/datadive/...``; each segment is
  URL-encoded as one path segment, so a notebook path ``a/b.ipynb`` travels as
  ``a%2Fb.ipynb``. It returns a ``datadive_testing.Reply`` and never raises on
  4xx/5xx. ``api.log`` holds every reply of the test, in the order they were
  sent, for checks that requests overlapped.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from datadive_testing import Reply, base_config


@pytest.fixture
def jp_server_config(jp_data_dir):
    return base_config(jp_data_dir)


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_base_url, jp_auth_header):
    log: list[Reply] = []

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
        started = time.monotonic()
        resp = await http_server_client.fetch(
            url, method=method, body=data, headers=hdrs, raise_error=False,
            allow_nonstandard_methods=True, request_timeout=60,
        )
        ended = time.monotonic()
        text = resp.body.decode("utf-8", "replace") if resp.body else ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        shown = data if isinstance(data, str) else (data or b"").decode("utf-8", "replace")
        reply = Reply(resp.code, parsed, resp.headers, text, started, ended, f"{method} {url} {shown[:200]}".strip())
        log.append(reply)
        return reply

    send.log = log
    return send
