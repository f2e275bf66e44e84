"""The OpenAPI description: valid OpenAPI 3.1, in step with the routes, and true of real responses.

The served document (``GET /api/datadive/openapi.json``) is checked, not only the
file in ``schemas/``: that is what clients read. It is validated structurally
(required fields of path items, operations, parameters and responses; every
``$ref`` resolves inside the document; every schema is a valid Draft 2020-12
schema) and by the reference validator, ``openapi-spec-validator`` (OpenAPI 3.1
rules), which the ``test`` extra installs: without it this module fails to import,
it is never skipped.
"""

from __future__ import annotations

import copy
import inspect
import re
from urllib.parse import unquote

import pytest
from datadive_testing import assert_error
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from datadive_ext.handlers import routes
from datadive_ext.handlers.base import PREFIX, NoRouteHandler

VERBS = ("get", "put", "post", "delete", "patch")
PATH_ITEM_KEYS = {"$ref", "summary", "description", "servers", "parameters", *VERBS, "options", "head", "trace"}
SPEC_URI = "urn:test:served-openapi"


async def fetch_spec(api) -> dict:
    """The description as the server serves it (pytest-jupyter has no async fixtures)."""
    r = await api("GET", "openapi.json")
    assert r.status == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json


# ---- helpers ------------------------------------------------------------------------------


def resolve_pointer(doc: dict, ref: str):
    """The node a local ``#/...`` reference points at (RFC 6901); KeyError/IndexError if none."""
    assert ref.startswith("#"), f"non-local $ref {ref!r}: the served document must be self-contained"
    node = doc
    for part in ref[1:].split("/")[1:]:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def deref(doc: dict, node: dict) -> dict:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and set(node) <= {"$ref", "summary", "description"}:
        node = resolve_pointer(doc, node["$ref"])
        seen += 1
        assert seen < 20, "reference cycle"
    return node


def walk_refs(node, where=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from walk_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk_refs(value, f"{where}/{i}")


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for verb in VERBS:
            if verb in item:
                yield path, verb, item, item[verb]


def route_to_path(regex: str) -> tuple[str, list[str]]:
    """``/api/datadive/templates/(?P<tid>[^/]+)`` -> ``("/templates/{tid}", ["tid"])``."""
    assert regex.startswith(PREFIX), regex
    rest, out, names, i = regex[len(PREFIX):], [], [], 0
    while i < len(rest):
        if rest.startswith("(?P<", i):
            end = rest.index(">", i)
            name = rest[i + 4:end]
            depth, j = 1, end + 1
            while depth:
                if rest[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(rest[j], 0)
                j += 1
            out.append("{" + name + "}")
            names.append(name)
            i = j
        else:
            assert rest[i] not in "()", f"unnamed group in route {regex!r}"
            out.append(rest[i + 1] if rest[i] == "\\" else rest[i])
            i += 2 if rest[i] == "\\" else 1
    return "".join(out).rstrip("$"), names


def documented_routes():
    """Every API route but the last-resort JSON 404 for paths that name nothing (not an
    operation); the HTML pages for other platforms (datadive/templates/...) are no API."""
    table = routes()
    assert table[-1][1] is NoRouteHandler, "the catch-all must come last"
    return [route for route in table[:-1] if route[0].startswith(PREFIX + "/")]


def implemented_verbs(handler) -> set[str]:
    """Verbs the handler class (or a base class of this project) implements."""
    return {
        verb for verb in VERBS
        if any(verb in cls.__dict__ for cls in handler.__mro__ if cls.__module__.startswith("datadive_ext"))
    }


def path_parameters(item: dict, operation: dict, doc: dict) -> dict:
    params = {}
    for p in [*item.get("parameters", []), *operation.get("parameters", [])]:
        p = deref(doc, p)
        if p["in"] == "path":
            params[p["name"]] = p
    return params


def response_validator(doc: dict, path: str, verb: str, status: int) -> Draft202012Validator:
    """A validator for the JSON body the spec promises for ``verb path`` answering ``status``."""
    responses = doc["paths"][path][verb]["responses"]
    assert str(status) in responses, f"{verb.upper()} {path} answered {status}, which the spec does not document"
    response = deref(doc, responses[str(status)])
    schema = response["content"]["application/json"]["schema"]
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
    if "$ref" in schema:  # re-root the reference in the served document
        schema = {**schema, "$ref": SPEC_URI + schema["$ref"]}
    else:
        schema = {"$ref": SPEC_URI + "#/paths/" + path.replace("~", "~0").replace("/", "~1") + f"/{verb}/responses/{status}/content/application~1json/schema"}
        if "$ref" in responses[str(status)]:
            schema = {"$ref": SPEC_URI + responses[str(status)]["$ref"] + "/content/application~1json/schema"}
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_request_valid(doc: dict, path: str, verb: str, body) -> None:
    """A body the server accepts is one the spec's requestBody schema accepts too."""
    schema = deref(doc, doc["paths"][path][verb]["requestBody"])["content"]["application/json"]["schema"]
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
    assert "$ref" in schema, schema
    validator = Draft202012Validator({"$ref": SPEC_URI + schema["$ref"]}, registry=registry)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(body)]
    assert not errors, (verb, path, errors)


def assert_matches(doc: dict, path: str, verb: str, reply) -> None:
    validator = response_validator(doc, path, verb, reply.status)
    errors = sorted(validator.iter_errors(reply.json), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors]


# ---- the document itself -------------------------------------------------------------------


async def test_served_description_is_valid_openapi_31(api):
    served = await fetch_spec(api)
    doc = served
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"]), doc["openapi"]
    assert isinstance(doc["info"]["title"], str) and isinstance(doc["info"]["version"], str)
    assert doc.get("jsonSchemaDialect", "https://spec.openapis.org/oas/3.1/dialect/base") in (
        "https://json-schema.org/draft/2020-12/schema", "https://spec.openapis.org/oas/3.1/dialect/base",
    )
    problems = []

    # Every $ref resolves inside the document.
    for where, ref in walk_refs(doc):
        try:
            resolve_pointer(doc, ref)
        except (KeyError, IndexError, ValueError, AssertionError) as exc:
            problems.append(f"{where}: $ref {ref!r} does not resolve ({exc})")

    operation_ids = []
    for path, item in doc["paths"].items():
        if not path.startswith("/"):
            problems.append(f"path {path!r} must start with '/'")
        extra = set(item) - PATH_ITEM_KEYS
        if extra:
            problems.append(f"{path}: unknown path item fields {sorted(extra)}")
        templated = set(re.findall(r"\{([^}]+)\}", path))
        for verb in VERBS:
            if verb not in item:
                continue
            op = item[verb]
            where = f"{verb.upper()} {path}"
            if "operationId" in op:
                operation_ids.append(op["operationId"])
            declared = path_parameters(item, op, doc)
            if set(declared) != templated:
                problems.append(f"{where}: path parameters {sorted(declared)} != templated {sorted(templated)}")
            for p in [*item.get("parameters", []), *op.get("parameters", [])]:
                p = deref(doc, p)
                if not isinstance(p.get("name"), str) or p.get("in") not in ("query", "header", "path", "cookie"):
                    problems.append(f"{where}: parameter needs name and in: {p}")
                if p.get("in") == "path" and p.get("required") is not True:
                    problems.append(f"{where}: path parameter {p.get('name')} must be required")
                if ("schema" in p) == ("content" in p):
                    problems.append(f"{where}: parameter {p.get('name')} needs exactly one of schema / content")
            if "requestBody" in op:
                body = deref(doc, op["requestBody"])
                if not body.get("content"):
                    problems.append(f"{where}: requestBody without content")
            responses = op.get("responses")
            if not isinstance(responses, dict) or not responses:
                problems.append(f"{where}: no responses")
                continue
            for status, response in responses.items():
                if not re.fullmatch(r"[1-5](\d\d|XX)|default", status):
                    problems.append(f"{where}: bad response key {status!r}")
                response = deref(doc, response)
                if not isinstance(response.get("description"), str):
                    problems.append(f"{where} {status}: response without description")
                for media in (response.get("content") or {}).values():
                    if "schema" in media:
                        try:
                            Draft202012Validator.check_schema(media["schema"])
                        except Exception as exc:  # SchemaError
                            problems.append(f"{where} {status}: invalid schema: {exc}"[:300])
    duplicates = {o for o in operation_ids if operation_ids.count(o) > 1}
    if duplicates:
        problems.append(f"duplicate operationIds {sorted(duplicates)}")
    missing_ids = [f"{v.upper()} {p}" for p, v, _, op in operations(doc) if "operationId" not in op]
    if missing_ids:
        problems.append(f"operations without operationId: {missing_ids}")

    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # SchemaError
            problems.append(f"components/schemas/{name}: {exc}"[:300])
    schemes = doc.get("components", {}).get("securitySchemes", {})
    for requirement in doc.get("security", []):
        for name in requirement:
            if name not in schemes:
                problems.append(f"security scheme {name!r} is not defined")
    assert not problems, "\n".join(problems)

    # The reference validator, told the version: it must not guess from the document it checks.
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:300] for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == [], "\n".join(errors)
    # ...and it does check: the same document with a number for info.version and an operation whose
    # response is not a response object is refused.
    broken = copy.deepcopy(doc)
    broken["info"]["version"] = 1
    _, _, _, operation = next(operations(broken))
    operation["responses"] = {"200": "fine"}
    refused = [list(e.absolute_path) for e in OpenAPIV31SpecValidator(broken).iter_errors()]
    assert ["info", "version"] in refused and any(p[-2:] == ["responses", 200] for p in refused), refused


async def test_served_document_is_self_contained(api):
    served = await fetch_spec(api)
    refs = [ref for _, ref in walk_refs(served)]
    assert refs and all(ref.startswith("#/") for ref in refs), [r for r in refs if not r.startswith("#/")]
    # The template document schema is inlined and still validates a real template.
    from cell_templates import builtin_templates

    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(served, default_specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": SPEC_URI + "#/components/schemas/TemplateDocument"}, registry=registry)
    for template in builtin_templates().values():
        assert not list(validator.iter_errors(template.to_dict())), template.id
    assert list(validator.iter_errors({"id": "Not A Slug"}))


async def test_servers_url_carries_the_base_url(api, jp_base_url):
    served = await fetch_spec(api)
    assert jp_base_url == "/a%40b/"
    url = served["servers"][0]["url"]
    assert url == f"{jp_base_url}api/datadive", url


async def test_every_4xx_response_is_the_error_shape(api):
    served = await fetch_spec(api)
    error = served["components"]["schemas"]["Error"]
    assert set(error["required"]) >= {"message", "reason", "code", "errors"}
    problems = []
    for path, verb, _, op in operations(served):
        statuses = set(op["responses"])
        for status, response in op["responses"].items():
            if not status.startswith("4"):
                continue
            response = deref(served, response)
            schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
            if schema.get("$ref") != "#/components/schemas/Error":
                problems.append(f"{verb.upper()} {path} {status}: {schema}")
        if "requestBody" in op and "400" not in statuses:
            problems.append(f"{verb.upper()} {path}: takes a body but documents no 400")
        if "requestBody" in op and "413" not in statuses:
            problems.append(f"{verb.upper()} {path}: takes a body but documents no 413")
        if "{" in path and "404" not in statuses:
            problems.append(f"{verb.upper()} {path}: has a path parameter but documents no 404")
    assert not problems, "\n".join(problems)


# ---- the document and the code agree -------------------------------------------------------


def test_every_route_is_documented_and_every_operation_has_a_handler():
    from datadive_ext.openapi import spec

    doc = spec()
    problems, documented = [], set()
    for regex, handler in documented_routes():
        path, names = route_to_path(regex)
        if path not in doc["paths"]:
            problems.append(f"route {regex} ({handler.__name__}) has no path {path} in the spec")
            continue
        documented.add(path)
        item = doc["paths"][path]
        spec_verbs = {v for v in VERBS if v in item}
        code_verbs = implemented_verbs(handler)
        for verb in sorted(code_verbs - spec_verbs):
            problems.append(f"{verb.upper()} {path}: implemented by {handler.__name__} but not documented")
        for verb in sorted(spec_verbs - code_verbs):
            problems.append(f"{verb.upper()} {path}: documented but {handler.__name__} does not implement it")
        for verb in sorted(spec_verbs & code_verbs):
            declared = path_parameters(item, item[verb], doc)
            if set(declared) != set(names):
                problems.append(f"{verb.upper()} {path}: spec path parameters {sorted(declared)} != route groups {names}")
    for path in sorted(set(doc["paths"]) - documented):
        problems.append(f"spec path {path} has no route")
    assert not problems, "\n".join(problems)


def test_request_bodies_are_validated_with_the_documented_schema():
    """A handler that reads ``self.body("X")`` is documented with requestBody ``X``, and the other way round."""
    from datadive_ext.openapi import spec

    doc = spec()
    problems = []
    for regex, handler in documented_routes():
        path, _ = route_to_path(regex)
        item = doc["paths"].get(path, {})
        for verb in implemented_verbs(handler):
            source = inspect.getsource(getattr(handler, verb))
            used = set(re.findall(r"self\.body\(\s*[\"'](\w+)[\"']", source))
            if re.search(r"self\.templates\.(create|update)(_async)?\((tid, )?self\.body\(\)", source):
                used.add("TemplateDocument")  # validated by Template.from_dict against the same schema
            op = item.get(verb, {})
            ref = (((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema", {}).get("$ref", "")
            documented = {ref.rsplit("/", 1)[-1]} if ref else set()
            if used != documented:
                problems.append(f"{verb.upper()} {path}: handler validates {sorted(used)}, spec documents {sorted(documented)}")
            for name in used:
                if name not in doc["components"]["schemas"]:
                    problems.append(f"{verb.upper()} {path}: no components/schemas/{name}")
    assert not problems, "\n".join(problems)


def test_routes_are_what_the_server_registered(jp_serverapp, jp_base_url):
    """``routes()`` is the table the running server uses, each under the base_url."""

    def rules(router):
        for rule in getattr(router, "rules", []):
            yield rule
            yield from rules(rule.target)

    registered = {}
    for rule in rules(jp_serverapp.web_app.default_router):
        target = rule.target
        if isinstance(target, type) and target.__module__.startswith("datadive_ext"):
            registered[rule.matcher.regex.pattern.rstrip("$")] = target
    base = jp_base_url.rstrip("/")
    expected = {base + regex: handler for regex, handler in routes()}
    assert registered == expected


# ---- real responses match the document ----------------------------------------------------


async def test_real_responses_match_the_spec(api):
    served = await fetch_spec(api)
    doc = served

    project_body = {"name": "Spec check", "description": "checked against openapi.json"}
    created = await api("POST", "projects", body=project_body)
    assert created.status == 201, created.text
    assert_request_valid(doc, "/projects", "post", project_body)
    assert_matches(doc, "/projects", "post", created)
    pid = created.json["id"]
    assert_matches(doc, "/projects/{pid}", "get", await api("GET", "projects", pid))
    assert_matches(doc, "/projects", "get", await api("GET", "projects", params={"limit": 1}))

    listed = await api("GET", "templates", params={"limit": 5})
    assert listed.status == 200 and listed.json["items"]
    assert_matches(doc, "/templates", "get", listed)
    got = await api("GET", "templates", "load-csv")
    assert got.status == 200
    assert_matches(doc, "/templates/{tid}", "get", got)
    assert_matches(doc, "/templates/{tid}/versions", "get", await api("GET", "templates", "load-csv", "versions"))
    rendered = await api("POST", "templates", "value-counts", "render", body={"inputs": {"column": "a"}})
    assert rendered.status == 200
    assert_matches(doc, "/templates/{tid}/render", "post", rendered)

    doc_in = got.json["document"]
    mine = {k: v for k, v in doc_in.items() if k != "version"}
    mine.update(id="spec-copy", title="A copy")
    made = await api("POST", "templates", body=mine)
    assert made.status == 201, made.text
    assert_request_valid(doc, "/templates", "post", mine)
    assert_request_valid(doc, "/templates/{tid}", "put", mine)
    assert_request_valid(doc, "/templates/{tid}/render", "post", {"inputs": {"column": "a"}, "version": 1})
    assert_matches(doc, "/templates", "post", made)
    updated = await api("PUT", "templates", "spec-copy", body={**mine, "title": "v2"}, headers={"If-Match": made.headers["ETag"]})
    assert updated.status == 200, updated.text
    assert_matches(doc, "/templates/{tid}", "put", updated)
    assert_matches(doc, "/templates/{tid}", "get", await api("GET", "templates", "spec-copy", params={"version": 1}))

    # Errors: each status is documented for its operation and has the Error shape.
    errors = [
        ("/templates/{tid}", "get", await api("GET", "templates", "no-such-template"), 404),
        ("/templates", "get", await api("GET", "templates", params={"limit": 0}), 400),
        ("/templates", "post", await api("POST", "templates", body={"id": "Bad Id"}), 400),
        ("/templates", "post", await api("POST", "templates", body=mine), 409),
        ("/templates/{tid}", "put", await api("PUT", "templates", "spec-copy", body=mine, headers={"If-Match": '"1"'}), 412),
        ("/templates/{tid}", "put", await api("PUT", "templates", "spec-copy", body=mine), 412),
        ("/templates/{tid}", "put", await api("PUT", "templates", "load-csv", body=doc_in, headers={"If-Match": '"1"'}), 403),
        ("/templates/{tid}", "delete", await api("DELETE", "templates", "load-csv"), 403),
        ("/templates/{tid}/render", "post", await api("POST", "templates", "value-counts", "render", body={"inputs": {}}), 400),
        ("/templates/{tid}/render", "post", await api("POST", "templates", "nope", "render", body={"inputs": {}}), 404),
        ("/templates/{tid}", "get", await api("GET", "templates", "load-csv", params={"version": "x"}), 400),
        ("/templates/{tid}", "put", await api("PUT", "templates", "spec-copy", body=mine, headers={"If-Match": "nonsense"}), 400),
        ("/templates/{tid}", "put", await api("PUT", "templates", "no-such-template", body=mine, headers={"If-Match": '"1"'}), 404),
        ("/templates/{tid}", "delete", await api("DELETE", "templates", "no-such-template"), 404),
        ("/templates/{tid}/versions", "get", await api("GET", "templates", "no-such-template", "versions"), 404),
        ("/projects", "post", await api("POST", "projects", body={}), 400),
        ("/projects/{pid}", "get", await api("GET", "projects", "p-does-not-exist"), 404),
    ]
    for path, verb, reply, status in errors:
        assert reply.status == status, (path, verb, reply.status, reply.text)
        assert_matches(doc, path, verb, reply)

    retired = await api("DELETE", "templates", "spec-copy")
    assert retired.status == 204 and "204" in doc["paths"]["/templates/{tid}"]["delete"]["responses"]
    assert_matches(doc, "/templates/{tid}", "put", await api("PUT", "templates", "spec-copy", body=mine, headers={"If-Match": '"2"'}))


async def test_openapi_json_needs_authentication(http_server_client, jp_base_url):
    r = await http_server_client.fetch(f"{jp_base_url}api/datadive/openapi.json", raise_error=False)
    assert r.code == 403


@pytest.mark.parametrize("method,segments", [
    ("GET", ["nonexistent"]),
    ("GET", ["projects", "a.b"]),                       # not of the form of a project id
    ("DELETE", ["projects", "a.b", "members", "x"]),
    ("POST", ["projects", "abc", "notebooks", "n.ipynb", "history", "zz", "undo"]),
])
async def test_paths_naming_nothing_get_the_json_error(api, method, segments):
    reply = await api(method, *segments, body={} if method == "POST" else None)
    assert reply.headers["Content-Type"].startswith("application/json"), reply.text[:200]
    assert_error(reply, 404, "no_route", [""])
