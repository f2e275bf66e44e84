"""Untrusted regular expressions and slow templates cannot stall the server.

Patterns in the input schemas of user templates (``pattern``, ``patternProperties``
keys, ``format: regex`` values) run on RE2, a linear-time engine, or are refused
when the template is created, at the pattern's JSON pointer, saying why. Checking
a user document and rendering a user template run in the worker pool: while one
request does slow work, the server answers others (shown with timestamps).

A real server (pytest-jupyter) and a real SQLite file; every error test asserts
status, code and error paths.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from datadive_testing import assert_error

HOSTILE_40 = "a" * 40 + "!"  # (a+)+$ on this takes Python's re longer than a lifetime
HOSTILE_10K = "a" * 10_000 + "!"
FAST = 1.0  # seconds: "answers within 1 s"
LINEAR = 0.5  # seconds: a check over 10,000 characters on a linear-time engine


def pattern_doc(tid: str, schema: dict, example: dict, **changes) -> dict:
    """A user template with one input ``name`` described by ``schema``."""
    doc = {
        "id": tid,
        "title": f"Pattern {tid}",
        "inputs": {"type": "object", "properties": {"name": schema}},
        "cells": [{"cell_type": "code", "source": "name = {{ name }}"}],
        "examples": [{"inputs": example}],
    }
    doc.update(changes)
    return doc


def slow_doc(tid: str = "slow-examples", examples: int = 30) -> dict:
    """A valid template whose check is slow on purpose: every example renders 100,000 loop steps
    (the most a render may take), about 45 ms each on the development machine."""
    return {
        "id": tid,
        "title": "Slow to check",
        "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "cells": [{"cell_type": "code", "source": "{% for i in range(1000) %}{% for j in range(99) %}{% endfor %}{% endfor %}x = {{ n }}"}],
        "examples": [{"inputs": {"n": i}} for i in range(examples)],
    }


async def timed(coro):
    started = time.monotonic()
    reply = await coro
    return reply, time.monotonic() - started


async def served_meanwhile(api, slow_request) -> None:
    """While ``slow_request`` is in flight, GET /templates answers: its whole exchange lies
    inside the slow one's, by the client's timestamps."""
    slow = asyncio.ensure_future(slow_request)
    await asyncio.sleep(0.1)  # the slow request has reached the server and is working
    quick = []
    while not slow.done() and len(quick) < 20:
        reply = await api("GET", "templates", params={"limit": 5})
        assert reply.status == 200, reply.text
        quick.append(reply)
    slow_reply = await slow
    inside = [q for q in quick if slow_reply.started < q.started and q.ended < slow_reply.ended]
    assert inside, (
        f"no request was answered while the slow one ran ({slow_reply.ended - slow_reply.started:.2f} s): "
        + str([(q.started - slow_reply.started, q.ended - slow_reply.started) for q in quick])
    )
    return slow_reply


# ---- (a+)+$: the reported hang ----------------------------------------------------------


async def test_catastrophic_pattern_and_hostile_example_answers_at_once(api):
    doc = pattern_doc("catastrophic", {"type": "string", "pattern": "(a+)+$"}, {"name": HOSTILE_40})
    reply, took = await timed(api("POST", "templates", body=doc))
    # RE2 answers at once: the example does not match ((a+)+$ needs the text to end in "a"),
    # so the document is refused, at the example's input.
    assert_error(reply, 400, "invalid_template", ["/examples/0/inputs/name"])
    assert "does not match" in reply.json["errors"][0]["message"]
    assert took < FAST, took
    # The same pattern with an example that matches is a fine template.
    ok, took = await timed(api("POST", "templates", body=pattern_doc("catastrophic", {"type": "string", "pattern": "(a+)+$"}, {"name": "aaaa"})))
    assert ok.status == 201, ok.text
    assert took < FAST, took

    # While a slow request (a document that takes long to check) is in flight, a listing
    # is answered: its exchange lies inside the slow one's. The same hostile POST waits for the
    # one CPU thread of the worker pool (datadive_ext/offload.py) and is answered as soon as the
    # slow check is done: queued, never hung.
    slow = asyncio.ensure_future(api("POST", "templates", body=slow_doc()))
    await asyncio.sleep(0.1)
    hostile_request = asyncio.ensure_future(
        api("POST", "templates", body=pattern_doc("catastrophic-again", {"type": "string", "pattern": "(a+)+$"}, {"name": HOSTILE_40})))
    await asyncio.sleep(0.05)
    listing = await api("GET", "templates")
    slow_reply, hostile = await slow, await hostile_request
    assert slow_reply.status == 201, slow_reply.text
    assert_error(hostile, 400, "invalid_template", ["/examples/0/inputs/name"])
    assert listing.status == 200, listing.text
    assert slow_reply.started < listing.started and listing.ended < slow_reply.ended, (
        listing.started - slow_reply.started, listing.ended - slow_reply.ended)
    assert hostile.ended - max(slow_reply.ended, hostile.started) < FAST


async def test_hostile_value_at_render_answers_at_once(api):
    doc = pattern_doc("render-check", {"type": "string", "pattern": "(a+)+$"}, {"name": "aaa"})
    assert (await api("POST", "templates", body=doc)).status == 201
    for value in (HOSTILE_40, HOSTILE_10K):
        reply, took = await timed(api("POST", "templates", "render-check", "render", body={"inputs": {"name": value}}))
        assert_error(reply, 400, "invalid_inputs", ["/name"])
        assert took < FAST, (len(value), took)
    fine = await api("POST", "templates", "render-check", "render", body={"inputs": {"name": "a" * 10_000}})
    assert fine.status == 200, fine.text
    assert fine.json["cells"][0]["source"] == f"name = '{'a' * 10_000}'"


async def test_a_slow_create_does_not_hold_up_other_requests(api):
    reply = await served_meanwhile(api, api("POST", "templates", body=slow_doc()))
    assert reply.status == 201, reply.text


async def test_a_slow_update_and_render_do_not_hold_up_other_requests(api):
    created = await api("POST", "templates", body=slow_doc(examples=1))
    assert created.status == 201, created.text
    updated = await served_meanwhile(api, api("PUT", "templates", "slow-examples", body=slow_doc(), headers={"If-Match": '"1"'}))
    assert updated.status == 200 and updated.json["version"] == 2, updated.text

    # A render that takes about a second: 49 code cells of 2,000 placeholders each (just under
    # the 100,000 loop steps a render may take), every one checked and written as a literal.
    heavy = {
        "id": "heavy-render", "title": "Heavy to render",
        "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "cells": [{"cell_type": "code", "source": "{% for i in range(40) %}{% for j in range(50) %}x = {{ 50 * i + j + n }}\n{% endfor %}{% endfor %}"}] * 49,
        "examples": [{"inputs": {"n": 1}}],
    }
    created = await api("POST", "templates", body=heavy)
    assert created.status == 201, created.text
    rendered = await served_meanwhile(api, api("POST", "templates", "heavy-render", "render", body={"inputs": {"n": 2}}))
    assert rendered.status == 200, rendered.text
    assert len(rendered.json["cells"]) == 49 and rendered.json["cells"][0]["source"].startswith("x = 2\nx = 3\n")


# ---- the hostile corpus ---------------------------------------------------------------------

REFUSED = [
    ("(a)\\1", "backreferences are not supported: patterns run on a linear-time engine"),
    ("(?<n>a)\\k<n>", "backreferences are not supported"),
    ("(?P<n>a)(?P=n)", "backreferences and recursion"),
    ("(?=a)a", "lookahead ((?=...), (?!...)) is not supported"),
    ("(?!b)a", "lookahead"),
    ("(?<=a)b", "lookbehind ((?<=...), (?<!...)) is not supported"),
    ("(?<!a)b", "lookbehind"),
    ("a++", "possessive quantifiers (++) are not supported"),
    ("a*+b", "possessive quantifiers"),
    ("(?>a+)b", "atomic groups ((?>...)) are not supported"),
    ("a{1000}{1000}", "a quantifier may not follow another one"),
    ("(a{1000}){1000}", "the repetition {1000} is not supported: counts go up to 1000"),
    ("a{1001}", "the repetition {1001} is not supported"),
    ("((a{10}){10}){11}", "nested counted repetitions may multiply to at most 1000"),
    ("\\Z", "use \\z"),
    ("(", "missing )"),
]


@pytest.mark.parametrize("pattern, why", REFUSED, ids=[p for p, _ in REFUSED])
async def test_patterns_the_linear_engine_cannot_run_are_refused(api, pattern, why):
    reply, took = await timed(api("POST", "templates", body=pattern_doc("refused", {"type": "string", "pattern": pattern}, {"name": "a"})))
    assert_error(reply, 400, "invalid_template", ["/inputs/properties/name/pattern"])
    assert why in reply.json["errors"][0]["message"], reply.json["errors"]
    assert took < FAST, took
    assert (await api("GET", "templates", "refused")).status == 404  # nothing stored


# (pattern, hostile value, whether RE2 finds a match in it): each runs in linear time.
RUNS = [
    ("(a+)+$", HOSTILE_10K, False),
    ("^(a+)+$", HOSTILE_10K, False),
    ("(a*)*", HOSTILE_10K, True),  # the empty match
    ("(a*)*b", HOSTILE_10K, False),
    ("(a|a)*$", HOSTILE_10K, True),  # the empty match at the end
    ("^(a|a)*$", HOSTILE_10K, False),
    ("(a|aa)+$", HOSTILE_10K, False),
    ("(.*a){20}", HOSTILE_10K, True),
    ("(.*a){20}!$", HOSTILE_10K, True),
    ("^(.*a){20}b", HOSTILE_10K, False),
    ("(x+x+)+y", "x" * 10_000, False),
    ("^(\\w+\\s?)*$", "word " * 2_000 + "!", False),
    ("^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$", "a" * 10_000 + "!", False),
    ("(.{0,100})*x", HOSTILE_10K, False),  # a program of about 900 instructions
    ("(.*a){100}", HOSTILE_10K, True),
    ("\\u0061+$", HOSTILE_10K, False),  # ECMA-262 \\uXXXX escapes are understood
]


@pytest.mark.parametrize("pattern, value, matches", RUNS, ids=[p[:30] for p, _, _ in RUNS])
async def test_hostile_patterns_run_in_linear_time(api, pattern, value, matches):
    created = await api("POST", "templates", body=pattern_doc("hostile", {"type": "string", "pattern": pattern}, {}))
    assert created.status == 201, created.text
    reply, took = await timed(api("POST", "templates", "hostile", "render", body={"inputs": {"name": value}}))
    if matches:
        assert reply.status == 200, reply.text
    else:
        assert_error(reply, 400, "invalid_inputs", ["/name"])
        assert reply.json["errors"][0]["message"] == f"does not match the pattern {pattern!r}"
    assert took < LINEAR, took


@pytest.mark.parametrize("pattern", ["(.*a){1000}", "(.{0,1000})*x"])
async def test_a_check_too_long_for_the_pattern_is_refused_not_run(api, pattern):
    """RE2's time is linear in the text times the program's size (these compile to about 9,000
    instructions); the checks of one input set may take 5 x 10^7 steps together, and a value
    that would need more is refused, naming the longest value that pattern accepts."""
    doc = pattern_doc("bounded", {"type": "string", "pattern": pattern}, {}, examples=[{"inputs": {"name": "a" * 1000 + "x"}}])
    assert (await api("POST", "templates", body=doc)).status == 201
    reply, took = await timed(api("POST", "templates", "bounded", "render", body={"inputs": {"name": HOSTILE_10K}}))
    assert_error(reply, 400, "invalid_inputs", ["/name"])
    message = reply.json["errors"][0]["message"]
    assert message.startswith(f"is too long to be checked against the pattern {pattern!r} (at most 5,5") and message.endswith(" characters)"), message
    assert took < FAST, took
    # Several values share the budget: two 4,000-character values pass one at a time, not together.
    schema = {"type": "array", "items": {"type": "string", "pattern": pattern}}
    doc = pattern_doc("bounded-list", schema, {}, examples=[{"inputs": {"name": ["a" * 1000 + "x"]}}])
    assert (await api("POST", "templates", body=doc)).status == 201
    one = await api("POST", "templates", "bounded-list", "render", body={"inputs": {"name": ["a" * 4000 + "x"]}})
    assert one.status == 200, one.text
    two = await api("POST", "templates", "bounded-list", "render", body={"inputs": {"name": ["a" * 4000 + "x"] * 2}})
    assert_error(two, 400, "invalid_inputs", ["/name/1"])


async def test_pattern_properties_and_property_names_run_on_the_linear_engine(api):
    schema = {
        "type": "object",
        "patternProperties": {"(a+)+$": {"type": "integer"}},
        "additionalProperties": False,
        "propertyNames": {"pattern": "^(a|aa)+$|^[a-z]+!$"},
    }
    doc = pattern_doc("keys", schema, {"name": {"aaa": 1}})
    created = await api("POST", "templates", body=doc)
    assert created.status == 201, created.text
    # The hostile key matches no pattern property (it ends in "!"): not an allowed property.
    reply, took = await timed(api("POST", "templates", "keys", "render", body={"inputs": {"name": {"a" * 5_000 + "!": 1}}}))
    assert_error(reply, 400, "invalid_inputs", ["/name/" + "a" * 5_000 + "!"])
    assert reply.json["errors"][0]["message"] == "is not an allowed property"
    assert took < FAST, took
    # A key matching a pattern property is checked against its schema.
    reply = await api("POST", "templates", "keys", "render", body={"inputs": {"name": {"a" * 5_000: "one"}}})
    assert_error(reply, 400, "invalid_inputs", ["/name/" + "a" * 5_000])
    assert reply.json["errors"][0]["message"] == "must be of type integer"


@pytest.mark.parametrize(
    "schema, path, why",
    [
        ({"type": "object", "patternProperties": {"^(?!_)": {}}}, "/inputs/properties/name/patternProperties/^(?!_)", "lookahead"),
        ({"type": "object", "patternProperties": {"a/b(?=c)": {}}}, "/inputs/properties/name/patternProperties/a~1b(?=c)", "lookahead"),
        ({"type": "object", "propertyNames": {"pattern": "(x)\\1"}}, "/inputs/properties/name/propertyNames/pattern", "backreferences"),
        ({"type": "array", "items": {"type": "string", "pattern": "(?<=x)y"}}, "/inputs/properties/name/items/pattern", "lookbehind"),
        ({"anyOf": [{"type": "string"}, {"type": "string", "pattern": "a++"}]}, "/inputs/properties/name/anyOf/1/pattern", "possessive"),
        ({"$ref": "#/$defs/word"}, "/inputs/$defs/word/pattern", "backreferences"),
        (
            {"type": "object", "patternProperties": {"^x": {}}, "unevaluatedProperties": False},
            "/inputs/properties/name/unevaluatedProperties",
            "cannot be combined with patternProperties",
        ),
    ],
)
async def test_patterns_in_every_position_are_checked(api, schema, path, why):
    doc = pattern_doc("positions", schema, {})
    doc["examples"] = [{"inputs": {}}]
    if "$ref" in schema:
        doc["inputs"]["$defs"] = {"word": {"type": "string", "pattern": "(w)\\1"}}
    reply = await api("POST", "templates", body=doc)
    assert_error(reply, 400, "invalid_template", [path])
    assert why in reply.json["errors"][0]["message"], reply.json["errors"]


async def test_format_regex_values_are_linear_patterns(api):
    doc = pattern_doc("regex-input", {"type": "string", "format": "regex"}, {"name": "^[a-z]+$"})
    assert (await api("POST", "templates", body=doc)).status == 201
    # A hostile pattern typed into the form is a valid pattern (it is compiled, never run here).
    fine = await api("POST", "templates", "regex-input", "render", body={"inputs": {"name": "(a+)+$"}})
    assert fine.status == 200, fine.text
    refused = await api("POST", "templates", "regex-input", "render", body={"inputs": {"name": "(a)\\1"}})
    assert_error(refused, 400, "invalid_inputs", ["/name"])
    assert refused.json["errors"][0]["message"] == "is not a valid regex: backreferences are not supported: patterns run on a linear-time engine"


async def test_iri_format_checks_in_linear_time(api):
    """jsonschema's IRI grammar takes seconds on a few thousand characters; IRIs are checked as URIs."""
    doc = pattern_doc("iri-input", {"type": "string", "format": "iri"}, {"name": "https://example.org/caf\u00e9"})
    assert (await api("POST", "templates", body=doc)).status == 201
    for value in ("http://" + "a." * 5_000 + " ", "P" + "1Y" * 5_000 + "!", "a@" + "a." * 5_000 + "!"):
        reply, took = await timed(api("POST", "templates", "iri-input", "render", body={"inputs": {"name": value}}))
        assert_error(reply, 400, "invalid_inputs", ["/name"])
        assert reply.json["errors"][0]["message"] == "is not a valid iri"
        assert took < LINEAR, took
    ok = await api("POST", "templates", "iri-input", "render", body={"inputs": {"name": "https://例え.jp/パス?q=1#frag"}})
    assert ok.status == 200, ok.text


async def test_builtin_templates_keep_their_fast_path(api):
    """Built-in templates are trusted: compiled checks, Python patterns, rendered inline when small."""
    reply = await api("POST", "templates", "value-counts", "render", body={"inputs": {"column": "species", "df": "not a name"}})
    assert_error(reply, 400, "invalid_inputs", ["/df"])
    ok = await api("POST", "templates", "value-counts", "render", body={"inputs": {"column": "species"}})
    assert ok.status == 200, ok.text


async def test_a_stored_template_the_engine_now_refuses_stays_readable(api, jp_serverapp):
    """A user template stored before patterns ran on RE2 (written here straight into the store):
    its document can still be read and replaced, but it renders nothing."""
    import json

    [app] = jp_serverapp.extension_manager.extension_apps["datadive_ext"]
    doc = pattern_doc("legacy", {"type": "string", "pattern": "^(?!tmp)[a-z]+$"}, {"name": "abc"}, version=1)
    with app.store.transaction():
        app.store.db.insert("templates", {
            "id": "legacy", "latest_version": 1, "author": app.owner_name, "title": doc["title"], "description": "",
            "category": "general", "tags": "[]", "locked": 0, "assistant_test": None, "search": "legacy",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "retired_at": None,
        })
        app.store.db.insert("template_versions", {
            "template_id": "legacy", "version": 1, "doc": json.dumps(doc), "author": app.owner_name, "created_at": "2026-01-01T00:00:00Z",
        })
    got = await api("GET", "templates", "legacy")
    assert got.status == 200, got.text
    assert got.json["document"] == doc and (got.json["version"], got.json["source"]) == (1, "user")
    rendered = await api("POST", "templates", "legacy", "render", body={"inputs": {"name": "abc"}})
    assert_error(rendered, 400, "invalid_template", ["/inputs/properties/name/pattern"])
    assert rendered.json["message"].startswith("template 'legacy' version 1 no longer loads"), rendered.json

    fixed = pattern_doc("legacy", {"type": "string", "pattern": "^[a-z]+$", "not": {"pattern": "^tmp"}}, {"name": "abc"})
    put = await api("PUT", "templates", "legacy", body=fixed, headers={"If-Match": '"1"'})
    assert put.status == 200 and put.json["version"] == 2, put.text
    ok = await api("POST", "templates", "legacy", "render", body={"inputs": {"name": "abc"}})
    assert ok.status == 200, ok.text
    refused = await api("POST", "templates", "legacy", "render", body={"inputs": {"name": "tmpx"}})
    assert_error(refused, 400, "invalid_inputs", ["/name"])
