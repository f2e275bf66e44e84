"""The SampleDB-compatible templating endpoint: a real server, a browser's requests byte for byte.

SampleDB's object page holds, per notebook template of the action, a form
``<form action="{templates url}/t/{template url}" method="post">`` with one hidden
field ``params`` whose value is ``{{ params | tojson }}`` (Flask with flask-orjson:
compact JSON, UTF-8, ``< > & '`` written as ``\\u003c``...). The browser submits it
cross-site as ``application/x-www-form-urlencoded``. These tests send exactly
that, with the headers a browser adds, through a small cookie-keeping client
(``Browser``): no ``Authorization`` header, so the login cookie and the ``_xsrf``
cookie + field are what a real browser has.

Every error test asserts the status, the code (header ``X-Datadive-Error`` and the
page's ``data-code``) and the problems' paths (``data-path``).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import html
import json
import os
import re
from urllib.parse import parse_qs, quote, quote_plus, urlencode, urlsplit

import nbformat
import pytest
from datadive_testing import ReadOnlyAuthorizer, base_config

from datadive_ext.errors import Forbidden, Invalid, TooLarge
from datadive_ext.sampledb import MAX_DEPTH, LinkGone, LinkSigner, LinkUsed, name_text, parse_params

SAMPLEDB = "https://sampledb.example.org"
TEMPLATE_ID = "instrument/Analysis_{measurement_name}.ipynb"

PARAMETERS_SOURCE = '''measurement_name = "unknown"  # the measurement's name
object_id = 0
sample = None
length = None
created = None
ok = False
note = ""
operator = None
title = None
temperature = 20.0
'''

# What SampleDB's get_notebook_templates makes of an action's "params" mapping: ids,
# plain fields, and whole data objects (multilingual text, a quantity, a datetime).
PARAMS = {
    "object_id": 42,
    "measurement_name": "Experiment-12345",
    "sample": {"_type": "text", "text": {"en": "Sample A", "de": "Probe Ä"}},
    "length": {"_type": "quantity", "dimensionality": "[length]", "magnitude": 1.5, "magnitude_in_base_units": 0.0015, "units": "mm"},
    "created": {"_type": "datetime", "utc_datetime": "2024-05-17 09:15:00"},
    "ok": True,
    "note": 'it\'s <b>"quoted"</b> & \\ \n__import__("os").system("id") #',
    "operator": None,
    "title": {"en": "Tensile test", "de": "Zugversuch"},
    "temperature": 21.5,
}

# The injected cell, written out by hand: papermill's header, the notebook's order of
# declaration, every value a literal (papermill's double-quoted ASCII strings).
EXPECTED_CELL = (
    "# Parameters\n"
    'measurement_name = "Experiment-12345"\n'
    "object_id = 42\n"
    'sample = {"_type": "text", "text": {"en": "Sample A", "de": "Probe \\xc4"}}\n'
    'length = {"_type": "quantity", "dimensionality": "[length]", "magnitude": 1.5, "magnitude_in_base_units": 0.0015, "units": "mm"}\n'
    'created = {"_type": "datetime", "utc_datetime": "2024-05-17 09:15:00"}\n'
    "ok = True\n"
    'note = "it\'s <b>\\"quoted\\"</b> & \\\\ \\n__import__(\\"os\\").system(\\"id\\") #"\n'
    "operator = None\n"
    'title = {"en": "Tensile test", "de": "Zugversuch"}\n'
    "temperature = 21.5\n"
)


@pytest.fixture
def jp_server_config(jp_data_dir):
    return base_config(jp_data_dir)


# -- what a browser sends ------------------------------------------------------------------


def sampledb_json(params) -> str:
    """``{{ params | tojson }}`` in SampleDB: orjson (compact, UTF-8), then Jinja's HTML-safe escapes."""
    text = json.dumps(params, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")


def form_urlencoded(fields) -> bytes:
    """A form as browsers encode it (WHATWG application/x-www-form-urlencoded, UTF-8): only
    ``*-._`` and alphanumerics stay, a space is ``+``."""
    def enc(text: str) -> str:
        return quote_plus(text, safe="*").replace("~", "%7E")

    return "&".join(f"{enc(k)}={enc(v)}" for k, v in fields).encode("ascii")


def sampledb_body(params) -> bytes:
    return form_urlencoded([("params", sampledb_json(params))])


class Browser:
    """A cookie-keeping client: the login cookie, the ``_xsrf`` cookie; redirects are not followed."""

    def __init__(self, client, base_url):
        self.client = client
        self.base = base_url
        self.cookies: dict[str, str] = {}
        self.origin = f"http://127.0.0.1:{client.get_http_port()}"

    async def login(self, serverapp) -> None:
        resp = await self.send("GET", f"{self.base}datadive/templates/?token={serverapp.identity_provider.token}")
        assert resp.code == 200, resp.body
        assert any(name.startswith("username-") for name in self.cookies), self.cookies

    async def send(self, method, url, *, body=None, headers=None, cookies=True):
        hdrs = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Accept-Language": "en"}
        if cookies and self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        hdrs.update(headers or {})
        resp = await self.client.fetch(url, method=method, body=body, headers=hdrs, follow_redirects=False,
                                       raise_error=False, request_timeout=60)
        for line in resp.headers.get_list("Set-Cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value and "expires=thu, 01 jan 1970" not in line.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        resp.text = resp.body.decode("utf-8", "replace") if resp.body else ""
        return resp

    async def sampledb_post(self, template_id, body: bytes, *, cookies=True):
        """The cross-site, top-level form POST from SampleDB's object page (no XSRF token)."""
        return await self.send("POST", f"{self.base}datadive/templates/t/{quote(template_id, safe='/')}", body=body, cookies=cookies, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": SAMPLEDB,
            "Referer": f"{SAMPLEDB}/",
            "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1",
            "Upgrade-Insecure-Requests": "1", "Cache-Control": "max-age=0",
        })

    async def confirm(self, page: str, *, xsrf: str | None = "page", token: str | None = None, headers=None):
        """Submit the confirmation page's form as the browser does (same origin, its cookies)."""
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
        fields = []
        if xsrf == "page":
            fields.append(("_xsrf", html.unescape(re.search(r'name="_xsrf" value="([^"]*)"', page).group(1))))
        elif xsrf is not None:
            fields.append(("_xsrf", xsrf))
        fields.append(("link", token if token is not None else form_token(page)))
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin, "Referer": f"{self.origin}{self.base}datadive/templates/t/x",
                "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        hdrs.update(headers or {})
        return await self.send("POST", action, body=form_urlencoded(fields), headers=hdrs)


def form_token(page: str) -> str:
    return html.unescape(re.search(r'name="link" value="([^"]*)"', page).group(1))


def assert_page_error(resp, status: int, code: str, paths: list[str]) -> None:
    """The error page: status, the code in a header and in the page, the exact problem paths."""
    assert resp.code == status, (resp.code, resp.text[:2000])
    assert resp.headers.get("X-Datadive-Error") == code, (resp.headers.get("X-Datadive-Error"), resp.text[:2000])
    assert resp.headers["Content-Type"].startswith("text/html")
    assert f'data-code="{code}"' in resp.text
    assert re.search(r'<p id="message">\S', resp.text), resp.text
    found = [html.unescape(p) for p in re.findall(r'<li data-path="([^"]*)"', resp.text)]
    assert sorted(found) == sorted(paths), found


def write_template(root, template_id: str, parameters: str = PARAMETERS_SOURCE, title: str | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Analysis of one measurement\nLoads the measurement and plots it."),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(measurement_name, object_id)"),
    ]
    if title is not None:
        nb.metadata["datadive"] = {"title": title}
    path = os.path.join(root, "templates", *template_id.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nbformat.write(nb, path)


def tree(root) -> set[str]:
    """Every file and folder under ``root`` (the contents manager's ``.ipynb_checkpoints`` aside)."""
    out = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints"]
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return out


def injected(root, path: str) -> str:
    nb = nbformat.read(os.path.join(root, *path.split("/")), as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, nb.cells
    return cells[0].source


@pytest.fixture
def browser(jp_serverapp, http_server_client, jp_base_url, jp_root_dir, jp_asyncio_loop):
    """A logged-in browser; the template ``TEMPLATE_ID`` exists."""
    write_template(jp_root_dir, TEMPLATE_ID)
    b = Browser(http_server_client, jp_base_url)
    jp_asyncio_loop.run_until_complete(b.login(jp_serverapp))
    return b


def lab_tree(base_url: str, path: str) -> str:
    return f"{base_url}lab/tree/{quote(path, safe='/')}"


# -- the flow ------------------------------------------------------------------------------


async def test_sampledb_post_confirm_create_redirect(browser, jp_root_dir, jp_base_url):
    before = tree(jp_root_dir)
    page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    assert page.code == 200, page.text
    assert page.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    # The page shows the template, the destination and every parameter, escaped.
    assert html.escape(TEMPLATE_ID) in page.text
    assert "sampledb/instrument/Analysis_Experiment-12345.ipynb" in page.text
    assert "Analysis of one measurement" in page.text
    assert "&lt;b&gt;" in page.text and "<b>" not in page.text
    # Each line of the parameters cell, exactly as it will be written (escaped for HTML).
    shown = [html.unescape(line) for line in re.findall(r"<pre>(.*?)</pre>", page.text, re.S)]
    assert shown == EXPECTED_CELL.splitlines()[1:]
    for name in PARAMS:
        assert f'data-param="{name}"' in page.text
    assert f"<code id=\"origin\">{SAMPLEDB}</code>" in page.text
    assert "valid for 15 minutes and can be used once" in page.text
    # It changed nothing.
    assert tree(jp_root_dir) == before

    done = await browser.confirm(page.text)
    assert done.code == 303, done.text
    created = "sampledb/instrument/Analysis_Experiment-12345.ipynb"
    assert done.headers["Location"] == lab_tree(jp_base_url, created)
    assert tree(jp_root_dir) - before == {"sampledb", "sampledb/instrument", created}
    source = injected(jp_root_dir, created)
    assert source == EXPECTED_CELL
    # Only assignments of literals: nothing a value held became code.
    for stmt in ast.parse(source).body:
        assert isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
        ast.literal_eval(stmt.value)
    namespace: dict = {}
    exec(compile(source, "params", "exec"), {"__builtins__": {}}, namespace)  # noqa: S102 - literals only, checked above
    assert namespace == PARAMS


async def test_get_with_params_query_shows_the_same_page(browser, jp_base_url):
    query = urlencode({"params": json.dumps({"measurement_name": "M-1", "object_id": 7}, separators=(",", ":"))})
    page = await browser.send("GET", f"{jp_base_url}datadive/templates/t/{TEMPLATE_ID.replace('{', '%7B').replace('}', '%7D')}?{query}")
    assert page.code == 200, page.text
    assert "sampledb/instrument/Analysis_M-1.ipynb" in page.text
    assert 'data-param="object_id"' in page.text


async def test_an_existing_notebook_is_never_overwritten(browser, jp_root_dir, jp_base_url):
    first = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    second = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    a = await browser.confirm(first.text)
    b = await browser.confirm(second.text)
    assert a.headers["Location"] == lab_tree(jp_base_url, "sampledb/instrument/Analysis_Experiment-12345.ipynb")
    assert b.headers["Location"] == lab_tree(jp_base_url, "sampledb/instrument/Analysis_Experiment-12345-1.ipynb")
    assert injected(jp_root_dir, "sampledb/instrument/Analysis_Experiment-12345-1.ipynb") == EXPECTED_CELL


# -- login -----------------------------------------------------------------------------------


async def test_anonymous_post_keeps_the_params_through_the_login(browser, http_server_client, jp_base_url, jp_serverapp):
    anonymous = Browser(http_server_client, jp_base_url)
    sent = await anonymous.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    # No login cookie (a browser drops the SameSite=Lax cookie on a cross-site POST): 303 to the GET.
    assert sent.code == 303, sent.text
    location = sent.headers["Location"]
    parts = urlsplit(location)
    assert parts.path == f"{jp_base_url}datadive/templates/t/{quote(TEMPLATE_ID, safe='/')}"
    assert json.loads(parse_qs(parts.query)["params"][0]) == PARAMS

    to_login = await anonymous.send("GET", location)
    assert to_login.code == 302, to_login.text
    login = urlsplit(to_login.headers["Location"])
    assert login.path == f"{jp_base_url}login"
    next_url = parse_qs(login.query)["next"][0]
    assert next_url == location
    assert json.loads(parse_qs(urlsplit(next_url).query)["params"][0]) == PARAMS

    # After logging in, the browser lands on ``next``: the confirmation, params intact.
    page = await browser.send("GET", next_url)
    assert page.code == 200, page.text
    assert "sampledb/instrument/Analysis_Experiment-12345.ipynb" in page.text
    done = await browser.confirm(page.text)
    assert done.code == 303
    assert injected(jp_serverapp.root_dir, "sampledb/instrument/Analysis_Experiment-12345.ipynb") == EXPECTED_CELL


async def test_anonymous_params_too_long_for_the_login_url(http_server_client, jp_base_url, jp_root_dir):
    write_template(jp_root_dir, TEMPLATE_ID)
    anonymous = Browser(http_server_client, jp_base_url)
    resp = await anonymous.sampledb_post(TEMPLATE_ID, sampledb_body({**PARAMS, "note": '"' * 3000}))
    assert_page_error(resp, 413, "params_too_long_for_login", ["/params"])


async def test_anonymous_params_near_the_limit_survive_the_login(browser, http_server_client, jp_base_url):
    params = {**PARAMS, "note": "x" * 7400}  # a query of 8075 characters, the limit 8192
    anonymous = Browser(http_server_client, jp_base_url)
    sent = await anonymous.sampledb_post(TEMPLATE_ID, sampledb_body(params))
    assert sent.code == 303, sent.text
    to_login = await anonymous.send("GET", sent.headers["Location"])
    assert to_login.code == 302
    next_url = parse_qs(urlsplit(to_login.headers["Location"]).query)["next"][0]
    page = await browser.send("GET", next_url)
    assert page.code == 200, page.text
    assert (await browser.confirm(page.text)).code == 303


class TestServerRequiringAuthenticationEverywhere:
    """``ServerApp.allow_unauthenticated_access = False``: the SampleDB POST still reaches the login."""

    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, ServerApp={"allow_unauthenticated_access": False})

    async def test_anonymous_post_still_redirects(self, browser, http_server_client, jp_base_url):
        anonymous = Browser(http_server_client, jp_base_url)
        sent = await anonymous.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
        assert sent.code == 303, sent.text
        to_login = await anonymous.send("GET", sent.headers["Location"])
        assert to_login.code == 302
        assert urlsplit(to_login.headers["Location"]).path == f"{jp_base_url}login"
        page = await browser.send("GET", sent.headers["Location"])
        assert (await browser.confirm(page.text)).code == 303


class TestAuthorizer:
    """The pages ask the server's authorizer: reading templates, then writing contents."""

    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, ServerApp={"authorizer_class": ReadOnlyAuthorizer})

    async def test_a_read_only_user_sees_the_page_but_cannot_create(self, browser, jp_root_dir):
        page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
        assert page.code == 200, page.text
        before = tree(jp_root_dir)
        resp = await browser.confirm(page.text)
        assert_page_error(resp, 403, "forbidden", [])
        assert "contents" in resp.text
        assert tree(jp_root_dir) == before


async def test_anonymous_confirmation_is_refused(browser, http_server_client, jp_base_url, jp_root_dir):
    page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    anonymous = Browser(http_server_client, jp_base_url)
    anonymous.cookies = {k: v for k, v in browser.cookies.items() if k == "_xsrf"}
    before = tree(jp_root_dir)
    resp = await anonymous.confirm(page.text)
    assert_page_error(resp, 403, "login_required", [])
    assert tree(jp_root_dir) == before


# -- signatures --------------------------------------------------------------------------------


async def test_replayed_confirmation_is_refused(browser, jp_root_dir):
    page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    first = await browser.confirm(page.text)
    assert first.code == 303
    before = tree(jp_root_dir)
    again = await browser.confirm(page.text)
    assert_page_error(again, 409, "link_used", ["/link"])
    assert tree(jp_root_dir) == before


async def test_forged_or_missing_token_is_refused(browser, jp_root_dir):
    page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    token = form_token(page.text)
    body, mac = token.split(".")
    before = tree(jp_root_dir)
    # Params changed after signing (here: the token's payload re-encoded with another name).
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["d"] = "../../outside.ipynb"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode() + "." + mac
    for bad in (forged, "", "garbage", token + "x", body + "." + "A" * 43):
        resp = await browser.confirm(page.text, token=bad)
        assert_page_error(resp, 400, "invalid_link", ["/link"])
    assert tree(jp_root_dir) == before
    assert (await browser.confirm(page.text)).code == 303  # the genuine one still works


class TestExpiry:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, DatadiveApp={"sampledb_link_max_age": 1})

    async def test_expired_confirmation_is_refused(self, browser, jp_root_dir):
        page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
        assert "valid for 1 second and can be used once" in page.text
        before = tree(jp_root_dir)
        await asyncio.sleep(1.6)
        resp = await browser.confirm(page.text)
        assert_page_error(resp, 410, "link_expired", ["/link"])
        assert tree(jp_root_dir) == before


# -- XSRF ----------------------------------------------------------------------------------------


async def test_confirmation_without_xsrf_is_refused(browser, jp_root_dir):
    page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(PARAMS))
    before = tree(jp_root_dir)
    missing = await browser.confirm(page.text, xsrf=None)
    assert_page_error(missing, 403, "xsrf_failed", ["/_xsrf"])
    wrong = await browser.confirm(page.text, xsrf="2|00000000|00000000000000000000000000000000|1700000000")
    assert_page_error(wrong, 403, "xsrf_failed", ["/_xsrf"])
    # A cross-site page submitting the form (its own origin, no token of ours).
    cross = await browser.confirm(page.text, xsrf=None, headers={"Origin": SAMPLEDB, "Referer": f"{SAMPLEDB}/", "Sec-Fetch-Site": "cross-site"})
    assert_page_error(cross, 403, "xsrf_failed", ["/_xsrf"])
    assert tree(jp_root_dir) == before
    assert (await browser.confirm(page.text)).code == 303  # the page itself still works


# -- hostile params --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "paths"),
    [
        ({"x = 1\nimport os\ny": 1}, ["/params/x = 1\nimport os\ny"]),
        ({"__import__('os').system('id')": 1}, ["/params/__import__('os').system('id')"]),
        ({"class": 1, "measurement_name": "m"}, ["/params/class"]),
        ({"__builtins__": 1}, ["/params/__builtins__"]),
        ({"a/b": 1, "é": 2}, ["/params/a~1b", "/params/é"]),
    ],
    ids=["newline-code", "call", "keyword", "dunder", "not-ascii-identifiers"],
)
async def test_code_in_keys_is_refused(browser, jp_root_dir, params, paths):
    before = tree(jp_root_dir)
    resp = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(params))
    assert_page_error(resp, 400, "invalid_parameter_name", paths)
    assert tree(jp_root_dir) == before


@pytest.mark.parametrize(
    ("value", "expected_name"),
    [
        ("../../../etc/passwd", "Analysis_._._._etc_passwd.ipynb"),
        ("/etc/passwd", "Analysis__etc_passwd.ipynb"),
        ("..", "Analysis_..ipynb"),
        ("a\\..\\..\\b", "Analysis_a_._._b.ipynb"),
        ("x\u202e\u0000\nlpt", "Analysis_xlpt.ipynb"),
    ],
    ids=["dotdot", "absolute", "bare-dotdot", "backslashes", "controls"],
)
async def test_paths_in_the_file_name_stay_inside_the_folder(browser, jp_root_dir, jp_base_url, value, expected_name):
    outside = os.path.dirname(jp_root_dir)  # the test's temporary folder, root_dir inside it
    before = tree(outside)
    page = await browser.sampledb_post(TEMPLATE_ID, sampledb_body({**PARAMS, "measurement_name": value}))
    assert page.code == 200, page.text
    done = await browser.confirm(page.text)
    assert done.code == 303, done.text
    created = f"sampledb/instrument/{expected_name}"
    assert done.headers["Location"] == lab_tree(jp_base_url, created)
    real = os.path.realpath(os.path.join(jp_root_dir, *created.split("/")))
    assert real.startswith(os.path.realpath(os.path.join(jp_root_dir, "sampledb")) + os.sep)
    assert os.path.isfile(real)
    root = os.path.relpath(jp_root_dir, outside)
    new = tree(outside) - before
    assert f"{root}/{created}" in new
    assert all(p == f"{root}/sampledb" or p.startswith(f"{root}/sampledb/") for p in new), new


@pytest.mark.parametrize(
    ("template_path", "code", "status"),
    [("%2E%2E/secret.ipynb", "template_not_found", 404), ("%2Fetc/passwd.ipynb", "template_not_found", 404),
     ("instrument/..%2F..%2Fsecret.ipynb", "template_not_found", 404), ("nope.ipynb", "template_not_found", 404),
     ("instrument/.hidden.ipynb", "template_not_found", 404)],
    ids=["dotdot", "absolute", "nested-dotdot", "missing", "hidden"],
)
async def test_template_paths_outside_the_folder_are_not_found(browser, jp_base_url, template_path, code, status):
    resp = await browser.send("GET", f"{jp_base_url}datadive/templates/t/{template_path}")
    assert_page_error(resp, status, code, ["/template"])


async def test_huge_body_is_refused(browser, jp_serverapp, jp_root_dir):
    before = tree(jp_root_dir)
    limit = next(iter(jp_serverapp.extension_manager.extension_apps["datadive_ext"])).max_body_bytes
    huge = sampledb_body({"note": "x" * (limit + 10)})
    resp = await browser.sampledb_post(TEMPLATE_ID, huge)
    assert_page_error(resp, 413, "too_large", [""])
    big_params = sampledb_body({"note": "y" * (300 * 1024)})
    assert len(big_params) < limit
    resp = await browser.sampledb_post(TEMPLATE_ID, big_params)
    assert_page_error(resp, 413, "too_large", ["/params"])
    assert tree(jp_root_dir) == before


@pytest.mark.parametrize(
    ("params_text", "paths"),
    [
        ("[1, 2]", ["/params"]),
        ('"text"', ["/params"]),
        ("null", ["/params"]),
        ("{not json", ["/params"]),
        ('{"x": NaN}', ["/params"]),
        ("[" * 100_000 + "]" * 100_000, ["/params"]),
        ('{"sample": ' + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "}", ["/params/sample" + "/0" * MAX_DEPTH]),
    ],
    ids=["array", "string", "null", "not-json", "nan", "very-deep", "too-deep"],
)
async def test_malformed_params_are_refused(browser, params_text, paths):
    resp = await browser.sampledb_post(TEMPLATE_ID, form_urlencoded([("params", params_text)]))
    assert_page_error(resp, 400, "invalid_params", paths)


async def test_params_the_template_does_not_take_are_shown_before_confirming(browser):
    resp = await browser.sampledb_post(TEMPLATE_ID, sampledb_body({**PARAMS, "unknown": 1, "ok": "yes"}))
    assert_page_error(resp, 400, "invalid_parameters", ["/params/ok", "/params/unknown"])


async def test_a_parameter_the_file_name_needs_is_required(browser):
    params = {k: v for k, v in PARAMS.items() if k != "measurement_name"}
    resp = await browser.sampledb_post(TEMPLATE_ID, sampledb_body(params))
    assert_page_error(resp, 400, "missing_parameter", ["/params/measurement_name"])


@pytest.mark.parametrize("value", ["", "..", " . ", "\u202e"], ids=["empty", "dotdot", "dot", "bidi"])
async def test_a_file_name_that_would_be_empty_is_refused(browser, jp_root_dir, value):
    write_template(jp_root_dir, "{measurement_name}.ipynb")
    before = tree(jp_root_dir)
    resp = await browser.sampledb_post("{measurement_name}.ipynb", sampledb_body({**PARAMS, "measurement_name": value}))
    assert_page_error(resp, 400, "invalid_path", ["/name"])
    assert tree(jp_root_dir) == before


async def test_a_file_name_from_a_data_object(browser, jp_root_dir, jp_base_url):
    """A parameter mapped to a whole SampleDB text property names the file by its English text."""
    write_template(jp_root_dir, "instrument/Run_{sample}.ipynb")
    params = {**PARAMS, "sample": {"_type": "text", "text": {"de": "Messung", "en": "Run 7"}}}
    page = await browser.sampledb_post("instrument/Run_{sample}.ipynb", sampledb_body(params))
    assert page.code == 200, page.text
    done = await browser.confirm(page.text)
    assert done.headers["Location"] == lab_tree(jp_base_url, "sampledb/instrument/Run_Run 7.ipynb")


# -- the list page ------------------------------------------------------------------------------------


async def test_the_list_page_escapes_a_hostile_title(browser, jp_root_dir, jp_base_url):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    write_template(jp_root_dir, "evil/<b>name</b>.ipynb", title=hostile)
    resp = await browser.send("GET", f"{jp_base_url}datadive/templates/")
    assert resp.code == 200, resp.text
    assert "<script>" not in resp.text and "<img" not in resp.text and "<b>name" not in resp.text
    titles = [html.unescape(t) for t in re.findall(r'<li data-template="[^"]*"><a href="[^"]*">(.*?)</a>', resp.text)]
    assert hostile in titles
    assert f'href="{jp_base_url}datadive/templates/t/{quote(TEMPLATE_ID, safe="/")}"' in resp.text
    assert f'href="{jp_base_url}datadive/templates/t/evil/%3Cb%3Ename%3C/b%3E.ipynb"' in resp.text
    assert "Analysis of one measurement" in resp.text


async def test_the_confirmation_page_escapes_a_hostile_title(browser, jp_root_dir):
    hostile = "<script>alert(1)</script>"
    write_template(jp_root_dir, "evil.ipynb", parameters='name = ""\n', title=hostile)
    resp = await browser.sampledb_post("evil.ipynb", sampledb_body({"name": "<i>x</i>"}))
    assert resp.code == 200, resp.text
    assert "<script>" not in resp.text and "<i>" not in resp.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text
    assert "&lt;i&gt;x&lt;/i&gt;" in resp.text


async def test_pages_need_a_login(http_server_client, jp_base_url):
    anonymous = Browser(http_server_client, jp_base_url)
    resp = await anonymous.send("GET", f"{jp_base_url}datadive/templates/")
    assert resp.code == 302
    assert urlsplit(resp.headers["Location"]).path == f"{jp_base_url}login"


# -- the pure part ------------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_signer_expiry_replay_user_and_restart():
    clock = Clock()
    signer = LinkSigner(b"secret", 900, clock=clock)
    token = signer.issue("t.ipynb", {"a": 1}, "sampledb/t.ipynb", "alice")
    link = signer.verify(token, "alice")
    assert (link.template, link.params, link.destination) == ("t.ipynb", {"a": 1}, "sampledb/t.ipynb")
    with pytest.raises(Forbidden) as other:
        signer.verify(token, "bob")
    assert other.value.code == "link_other_user"
    signer.claim(link)
    with pytest.raises(LinkUsed):
        signer.claim(signer.verify(token, "alice"))
    signer.release(link)
    signer.claim(link)  # released after a failed creation: usable again
    clock.now += 901
    with pytest.raises(LinkGone):
        signer.verify(token, "alice")
    # Another process (a restart) with the same secret: the signature holds, the link is refused.
    restarted = LinkSigner(b"secret", 900, clock=clock)
    fresh = signer.issue("t.ipynb", {}, "sampledb/t.ipynb", "alice")
    with pytest.raises(LinkGone) as gone:
        restarted.verify(fresh, "alice")
    assert "restarted" in gone.value.message
    with pytest.raises(Invalid) as bad:
        LinkSigner(b"other secret", 900, clock=clock).verify(fresh, "alice")
    assert bad.value.code == "invalid_link"


def test_parse_params_limits():
    assert parse_params(None) == {} and parse_params("  ") == {}
    assert parse_params('{"a":{"en":"x"},"b":null}') == {"a": {"en": "x"}, "b": None}
    with pytest.raises(TooLarge):
        parse_params('{"a":"' + "x" * 300_000 + '"}')
    with pytest.raises(Invalid) as many:
        parse_params(json.dumps({f"p{i}": i for i in range(501)}))
    assert many.value.errors == [{"path": "/params", "message": "has more than 500 keys"}]


def test_name_text_of_sampledb_values():
    assert name_text({"_type": "text", "text": "Run"}) == "Run"
    assert name_text({"_type": "text", "text": {"de": "Lauf", "en": "Run"}}) == "Run"
    assert name_text({"_type": "text", "text": {"de": "Lauf"}}) == "Lauf"
    assert name_text({"_type": "quantity", "magnitude": 2.5, "units": "mm", "dimensionality": "[length]", "magnitude_in_base_units": 0.0025}) == "2.5mm"
    assert name_text({"_type": "quantity", "magnitude_in_base_units": 3.0, "units": "1", "dimensionality": "dimensionless"}) == "3"
    assert name_text({"_type": "datetime", "utc_datetime": "2024-05-17 09:15:00"}) == "2024-05-17 09:15:00"
    assert name_text({"_type": "sample", "object_id": 12}) == 12
    assert name_text({"_type": "bool", "value": True}) is True
    assert name_text({"en": "Hello", "de": "Hallo"}) == "Hello"
    assert name_text({"x": 1}) == {"x": 1}
