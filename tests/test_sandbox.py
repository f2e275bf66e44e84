"""Template-source sandbox tests: authors cannot reach Python internals.

Template sources are written by people who are not trusted with the server.
Every source below tries to reach Python internals, mutate data, do unbounded
work, escape the placeholder rules or write invalid code. Each must be refused
with ``TemplateError`` - when the template is loaded (its examples are rendered
then) or when it is rendered - with the error pointing at the offending cell
(``/cells/N/source``) and no traceback in the message. No other exception type
may escape.

The bounded-work tests run the render under a CPU-time alarm and a memory
tracer: refusing is fine, finishing within the budget is fine, anything else
fails.
"""

from __future__ import annotations

import ast
import signal
import time
import tracemalloc

import pytest

from cell_templates import InputError, Template, TemplateError

CELL = 1  # the hostile source is cell 1; cell 0 is a harmless neighbour
PATH = f"/cells/{CELL}/source"

PROPS = {
    "x": {"type": "string"},
    "v": {"type": "string"},
    "y": {"type": "array"},
}
EXAMPLE = {"x": "a", "v": "b", "y": [1]}


def doc(source: str, cell_type: str = "code", props=None, example=None) -> dict:
    return {
        "id": "sandbox",
        "title": "sandbox test",
        "inputs": {"type": "object", "properties": props or PROPS},
        "cells": [
            {"cell_type": "code", "source": "a = 1"},
            {"cell_type": cell_type, "source": source},
        ],
        "examples": [{"inputs": example or EXAMPLE}],
    }


def assert_template_error(exc: BaseException, path: str = PATH) -> None:
    assert isinstance(exc, TemplateError), f"{type(exc).__name__}: {exc}"[:300]
    assert isinstance(exc.errors, list) and exc.errors, "TemplateError without errors"
    paths = [e.get("path") for e in exc.errors]
    assert path in paths, exc.errors
    for err in exc.errors:
        assert set(err) >= {"path", "message"}, err
        assert err["path"].startswith(f"/cells/{CELL}/"), f"error blamed on the wrong place: {err}"
        assert isinstance(err["message"], str) and err["message"].strip()
        assert "Traceback" not in err["message"], err["message"]
        assert 'File "' not in err["message"], err["message"]
    assert "Traceback" not in str(exc)


def outcome(fn, *args):
    """('ok', value) | ('refused', TemplateError/InputError) | ('crash', other exception)."""
    try:
        return "ok", fn(*args)
    except (TemplateError, InputError) as exc:
        return "refused", exc
    except Exception as exc:
        return "crash", exc


def load_must_fail(source: str, **kw) -> TemplateError:
    kind, result = outcome(Template.from_dict, doc(source, **kw))
    assert kind != "crash", f"{type(result).__name__} escaped instead of TemplateError: {result}"[:400]
    assert kind == "refused", f"loaded; cell renders as {result.render(EXAMPLE)[CELL]['source']!r:.200}"
    assert_template_error(result)
    return result


# ---------------------------------------------------------------------------
# refused when the template is loaded
# ---------------------------------------------------------------------------

REFUSED_AT_LOAD = [
    # reaching Python internals
    ("subclasses", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("input-class", "{{ x.__class__ }}"),
    ("tuple-bases", "{{ ().__class__.__bases__ }}"),
    ("self", "{{ self }}"),
    ("self-globals", "{{ self.__init__.__globals__ }}"),
    ("self-context", "{{ self._TemplateReference__context }}"),
    ("lipsum-globals", "{{ lipsum.__globals__ }}"),
    ("cycler-globals", "{{ cycler.__init__.__globals__ }}"),
    ("joiner-globals", "{{ joiner.__init__.__globals__ }}"),
    ("namespace", "{{ namespace }}"),
    ("config", "{{ config }}"),
    ("request", "{{ request }}"),
    ("lipsum", "{{ lipsum() }}"),
    ("range-self", "{{ range.__self__ }}"),
    ("range-globals", "{{ range.__globals__ }}"),
    ("range-object", "{{ range }}"),
    ("dict-subclasses", "{{ dict.__base__.__subclasses__() }}"),
    ("dict-mro", "{{ dict.mro() }}"),
    ("dict-type", "{{ dict }}"),
    ("attr-filter", "{{ x|attr('__class__') }}"),
    ("attr-filter-escaped", r"{{ ''|attr('\x5f\x5fclass\x5f\x5f') }}"),
    ("attr-filter-unicode-escaped", r"{{ ''|attr('\u005f\u005fclass\u005f\u005f') }}"),
    ("getitem-dunder", "{{ x['__class__'] }}"),
    ("private-attr", "{{ x._private }}"),
    ("dunder-method", "{{ x.__len__() }}"),
    ("map-attribute", "{{ y|map(attribute='__class__')|list }}"),
    ("loop-object", "{% for i in y %}{{ loop }}{% endfor %}"),
    ("loop-internals", "{% for i in y %}{{ loop.cycle.__self__ }}{% endfor %}"),
    ("method-object", "{{ 'a'.format }}"),
    ("format-attr", "{{ '{0.__class__}'.format(x) }}"),
    ("format-via-attr-filter", "{{ '{0.__class__}'|attr('format')(x) }}"),
    ("format-map", "{{ '{a.__class__}'.format_map(dict(a=x)) }}"),
    ("format-globals", "{{ '{0.__init__.__globals__}'.format(range) }}"),
    ("bytes-value", "{{ x.encode('utf-8') }}"),
    # mutation
    ("append-local", "{% set a = [] %}{{ a.append(1) }}"),
    ("update-local", "{% set d = {} %}{{ d.update({'k': 1}) }}"),
    ("append-input", "{{ y.append(1) }}"),
    ("pop-input", "{{ y.pop() }}"),
    ("clear-input", "{{ y.clear() }}"),
    ("setdefault", "{% set d = dict() %}{{ d.setdefault('k', 1) }}"),
    # unbounded work that is refused outright
    ("pow-right-assoc", "{{ 9**(9**9) }}"),
    ("str-repeat", "{{ 'a' * 10**9 }}"),
    ("str-repeat-reversed", "{{ 10**9 * 'a' }}"),
    ("list-repeat", "{{ [0] * 10**9 }}"),
    ("big-range", "{% for i in range(10**9) %}{% endfor %}"),
    ("big-range-list", "{{ range(10**9)|list|length }}"),
    ("three-deep-loops", "{% for a in y %}{% for b in y %}{% for c in y %}{% endfor %}{% endfor %}{% endfor %}"),
    ("output-cap", "{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}"),
    ("macro-recursion", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"),
    ("macro", "{% macro m() %}1{% endmacro %}x = {{ m() }}"),
    ("call-block", "{% call range(1) %}{% endcall %}"),
    ("include", "{% include 'x' %}"),
    ("import", "{% import 'x' as y %}"),
    ("from-import", "{% from 'x' import y %}"),
    ("extends", "{% extends 'x' %}"),
    ("block", "{% block b %}{% endblock %}"),
    ("recursive-loop", "{% for x in y recursive %}{{ loop(x) }}{% endfor %}"),
    # placeholders that are not whole expressions
    ("in-double-quotes", 'print("{{ v }}")'),
    ("in-single-quotes", "print('{{ v }}')"),
    ("in-triple-quotes", 'print("""{{ v }}""")'),
    ("in-bytes", "print(b'{{ v }}')"),
    ("in-raw-string", "print(r'{{ v }}')"),
    ("in-fstring-text", 'print(f"{{ v }}")'),
    ("in-fstring-expression", 'y = f"{ {{ v }} }"'),
    ("in-fstring-format-spec", 'y = f"{1:{{ v }}}"'),
    ("glued-before", "x{{ v }} = 1"),
    ("glued-after", "{{ v }}x = 1"),
    ("glued-number", "x = 1{{ v }}"),
    ("glued-placeholders", "x = {{ v }}{{ x }}"),
    ("as-attribute", "import os\nos.{{ v }}"),
    ("as-import", "import {{ v }}"),
    ("as-def-name", "def {{ v }}():\n    pass"),
    ("as-keyword-name", "f({{ v }}=1)"),
    # output that is not valid Python
    ("nul-byte", "x = 1\x00"),
    ("nul-byte-in-comment", "# \x00\nx = 1"),
    ("nul-via-filter-block", "{% filter replace('a', '\\x00') %}x = 'a'{% endfilter %}"),
    ("not-python", "x = = 1"),
    ("unclosed", "x = ("),
    ("bad-indent", "if True:\nx = 1"),
    ("value-makes-invalid", "x = {{ v }} {{ v }}"),
    # template errors of other kinds
    ("syntax-error", "{{ x "),
    ("undefined-name", "{{ nope }}"),
    ("unknown-filter", "{{ x|nope }}"),
    ("unknown-test", "{{ x is nope }}"),
    ("unknown-filter-block", "{% filter nope %}a{% endfilter %}"),
    ("unknown-tag", "{% do y.append(1) %}"),
    ("division-by-zero", "{{ 1 // 0 }}"),
]


@pytest.mark.parametrize("source", [s for _, s in REFUSED_AT_LOAD], ids=[k for k, _ in REFUSED_AT_LOAD])
def test_hostile_source_is_refused_at_load(source):
    load_must_fail(source)


MARKDOWN_REFUSED_AT_LOAD = [
    ("md-subclasses", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("md-attr-filter", "{{ x|attr('__class__') }}"),
    ("md-format", "{{ '{0.__class__}'.format(x) }}"),
    ("md-mutation", "{{ y.append(1) }}"),
    ("md-macro", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"),
    ("md-include", "{% include 'x' %}"),
    ("md-big-range", "{% for i in range(10**9) %}{% endfor %}"),
    ("md-output-cap", "{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}"),
    ("md-unknown-filter", "{{ x|nope }}"),
]


@pytest.mark.parametrize(
    "source", [s for _, s in MARKDOWN_REFUSED_AT_LOAD], ids=[k for k, _ in MARKDOWN_REFUSED_AT_LOAD]
)
def test_hostile_markdown_source_is_refused_at_load(source):
    load_must_fail(source, cell_type="markdown")


# ---------------------------------------------------------------------------
# refused when rendered (the hostile branch is not taken by the example)
# ---------------------------------------------------------------------------

REFUSED_AT_RENDER = [
    ("subclasses", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("input-class", "{{ x.__class__ }}"),
    ("attr-filter", "{{ x|attr('__class__') }}"),
    ("format-attr", "{{ '{0.__class__}'.format(x) }}"),
    ("append-input", "{{ y.append(1) }}"),
    ("str-repeat", "{{ 'a' * 10**9 }}"),
    ("big-range", "{% for i in range(10**9) %}{% endfor %}"),
    ("output-cap", "{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}"),
    ("not-python", "x = = 1"),
    ("nul-byte", "x = 1\x00"),
    ("method-object", "{{ x.upper }}"),
    ("division-by-zero", "{{ 1 // 0 }}"),
    ("unknown-test-at-runtime", "{% if x is nope %}1{% endif %}"),
]


@pytest.mark.parametrize("body", [s for _, s in REFUSED_AT_RENDER], ids=[k for k, _ in REFUSED_AT_RENDER])
def test_hostile_branch_is_refused_at_render(body):
    source = "{% if v == 'go' %}" + body + "{% endif %}\nz = 1"
    kind, template = outcome(Template.from_dict, doc(source))
    assert kind == "ok", f"the benign branch should load: {template}"
    kind, result = outcome(template.render, {**EXAMPLE, "v": "go"})
    assert kind != "crash", f"{type(result).__name__} escaped instead of TemplateError: {result}"[:400]
    assert kind == "refused", f"rendered: {result[CELL]['source']!r:.200}"
    assert_template_error(result)
    # the benign branch still renders afterwards (no state left behind)
    cells = template.render(EXAMPLE)
    assert cells[CELL]["source"] == "z = 1"


# ---------------------------------------------------------------------------
# Jinja's own globals are not reachable, even under an input's name
# ---------------------------------------------------------------------------

JINJA_GLOBALS = ["lipsum", "cycler", "joiner", "namespace", "config", "request", "range", "dict"]


@pytest.mark.parametrize("name", JINJA_GLOBALS)
def test_input_named_like_a_global_is_just_the_input(name):
    props = {name: {"type": "string"}}
    t = Template.from_dict(doc(f"x = {{{{ {name} }}}}", props=props, example={name: "v"}))
    (_, cell) = t.render({name: "__import__('os')"})
    assert cell["source"] == "x = \"__import__('os')\""  # the input's value as a string literal, nothing else


# ---------------------------------------------------------------------------
# {% filter %} blocks: their output does not go through the literal writer
# ---------------------------------------------------------------------------

FILTER_BLOCKS = [
    ("replace", "{% filter replace('VALUE', v) %}x = VALUE{% endfilter %}"),
    ("format", "{% filter format(v) %}x = %s{% endfilter %}"),
    ("replace-in-call", "{% filter replace('ARG', v) %}print(ARG){% endfilter %}"),
]


@pytest.mark.parametrize("source", [s for _, s in FILTER_BLOCKS], ids=[k for k, _ in FILTER_BLOCKS])
def test_filter_block_cannot_turn_a_value_into_code(source):
    """Either filter blocks are refused at load, or a value passed through one stays data."""
    kind, template = outcome(Template.from_dict, doc(source, example={**EXAMPLE, "v": "1"}))
    assert kind != "crash", template
    if kind == "refused":
        assert_template_error(template)
        return
    hostile = "__import__('os').system('id')"
    kind, result = outcome(template.render, {**EXAMPLE, "v": hostile})
    assert kind != "crash", result
    if kind == "refused":
        assert_template_error(result)
        return
    code = result[CELL]["source"]
    tree = ast.parse(code)
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "__import__" not in names and not (calls - {"print"}), f"the value became code: {code!r}"


def test_markdown_filter_block_cannot_write_raw_html():
    source = "{% filter replace('X', v) %}Note: X{% endfilter %}"
    kind, template = outcome(Template.from_dict, doc(source, cell_type="markdown"))
    assert kind != "crash", template
    if kind == "refused":
        assert_template_error(template)
        return
    (_, cell) = template.render({**EXAMPLE, "v": "<img src=x onerror=alert(1)>"})
    assert "<" not in cell["source"], cell["source"]


# ---------------------------------------------------------------------------
# what the sandbox must still allow (so the refusals above mean something)
# ---------------------------------------------------------------------------

ALLOWED = [
    ("upper", "x = {{ x|upper }}", "x = 'A'"),
    ("loop", "{% for c in y %}\nprint({{ c }})\n{% endfor %}", "print(1)"),
    ("two-deep-loops", "{% for a in range(2) %}{% for b in range(2) %}\nt = ({{ a }}, {{ b }})\n{% endfor %}{% endfor %}",
     "t = (0, 0)\nt = (0, 1)\nt = (1, 0)\nt = (1, 1)"),
    ("dict-global", "d = {{ dict(k=x) }}", "d = {'k': 'a'}"),
    ("range-list", "r = {{ range(3)|list }}", "r = [0, 1, 2]"),
    ("small-pow", "p = {{ 2**10 }}", "p = 1024"),
    ("small-repeat", "s = {{ 'ab' * 3 }}", "s = 'ababab'"),
    ("comment", "# about {{ x }}\nz = 1", "# about 'a'\nz = 1"),
    ("ident", "{{ v|ident }} = 1", "b = 1"),
    ("literal", "z = {{ y|literal }}", "z = [1]"),
    ("set", "{% set n = y|length %}\nn = {{ n }}", "n = 1"),
]


@pytest.mark.parametrize("source,expected", [(s, e) for _, s, e in ALLOWED], ids=[k for k, _, _ in ALLOWED])
def test_ordinary_templates_still_render(source, expected):
    kind, template = outcome(Template.from_dict, doc(source))
    assert kind == "ok", template
    cells = template.render(EXAMPLE)
    assert cells[CELL]["source"] == expected


# ---------------------------------------------------------------------------
# bounded work: refuse, or finish within a CPU and memory budget
# ---------------------------------------------------------------------------

TIME_BUDGET = 2.0  # seconds
MEMORY_BUDGET = 32 * 1024 * 1024  # bytes traced by tracemalloc


class _OverTime(BaseException):
    """Raised by the alarm; a BaseException so that no `except Exception` swallows it."""


def run_with_budget(fn):
    """(kind, result, seconds, peak bytes); kind is ok / refused / crash / timeout."""

    def on_alarm(signum, frame):
        raise _OverTime()

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_BUDGET)
    start = time.perf_counter()
    try:
        try:
            kind, result = outcome(fn)
        except _OverTime:
            kind, result = "timeout", None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        if not was_tracing:
            tracemalloc.stop()
    return kind, result, elapsed, peak


BOUNDED = [
    # Jinja's ** is left-associative: this is (9**9)**9, a 78-digit number
    ("pow-tower", "x = {{ 9**9**9 }}", False),
    # MAX_POWER bounds the exponent only; the base can be the result of another **.
    # This builds a 262 145-digit number in milliseconds; one more `**64` takes ~30 s.
    ("pow-chain", "x = {{ ((10**64)**64)**64 > 0 }}", True),
    # `*` is bounded for sequences only; repeated squaring of an int is not
    ("mul-chain", "{% set a = 10**64 %}" + "{% set a = a * a %}" * 12 + "x = {{ a > 0 }}", True),
    ("str-ljust", "x = {{ 'a'.ljust(10**8)|length }}", False),
    ("center-filter", "x = {{ 'a'|center(10**8)|length }}", False),
    ("join-amplifies-repeat", "{% set s = 'a' * 10000 %}x = {{ ([s] * 10000)|join|length }}", False),
    ("list-loops", "{% for a in [0] * 10000 %}{% for b in [0] * 10000 %}{% endfor %}{% endfor %}x = 1", False),
    ("range-loops-small", "{% for a in range(1000) %}{% for b in range(100) %}{% endfor %}{% endfor %}x = 1", False),
    ("str-repeat", "x = {{ 'a' * 10**9 }}", True),
    ("big-range", "{% for i in range(10**9) %}{% endfor %}x = 1", True),
]


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
@pytest.mark.parametrize("source,must_refuse", [(s, m) for _, s, m in BOUNDED], ids=[k for k, _, _ in BOUNDED])
def test_template_work_is_bounded(source, must_refuse):
    kind, result, elapsed, peak = run_with_budget(lambda: Template.from_dict(doc(source)))
    assert kind != "timeout", f"the render ran for more than {TIME_BUDGET} s"
    assert kind != "crash", f"{type(result).__name__} escaped: {result}"[:300]
    assert elapsed < TIME_BUDGET
    assert peak < MEMORY_BUDGET, f"the render allocated {peak / 2**20:.0f} MiB"
    if kind == "refused":
        assert_template_error(result)
    else:
        source_out = result.render(EXAMPLE)[CELL]["source"]
        assert not must_refuse, f"not refused: {source_out[:100]!r}"
        assert len(source_out) < 1000


# ---------------------------------------------------------------------------
# errors are reported, not raised as something else, and list every cell
# ---------------------------------------------------------------------------


def test_every_bad_cell_is_reported_at_once():
    d = doc("{% macro m() %}{% endmacro %}")
    d["cells"].append({"cell_type": "code", "source": "{% include 'x' %}"})
    d["cells"].append({"cell_type": "markdown", "source": "{{ nope }}"})
    with pytest.raises(TemplateError) as info:
        Template.from_dict(d)
    paths = {e["path"] for e in info.value.errors}
    assert {"/cells/1/source", "/cells/2/source", "/cells/3/source"} <= paths
    assert "/cells/0/source" not in paths
    for e in info.value.errors:
        assert "Traceback" not in e["message"]


def test_refusal_at_render_names_the_right_cell():
    d = doc("z = 1")
    d["cells"].append({"cell_type": "code", "source": "{% if v == 'go' %}{{ x.__class__ }}{% endif %}"})
    t = Template.from_dict(d)
    with pytest.raises(TemplateError) as info:
        t.render({**EXAMPLE, "v": "go"})
    assert [e["path"] for e in info.value.errors] == ["/cells/2/source"]


def test_sandbox_state_does_not_leak_between_renders():
    """A render cannot leave anything behind that a later render could see."""
    t = Template.from_dict(doc("{% set n = y|length %}\nn = {{ n }}\nm = {{ y }}"))
    first = t.render({**EXAMPLE, "y": [1, 2, 3]})
    second = t.render(EXAMPLE)
    assert first[CELL]["source"] == "n = 3\nm = [1, 2, 3]"
    assert second[CELL]["source"] == "n = 1\nm = [1]"
