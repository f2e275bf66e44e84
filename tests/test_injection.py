"""Injection tests: no input value can become code.

Every hostile string of ``hostile_strings.py`` goes through every kind of input
position a template can have. For each (position, value) the render is either
refused with ``InputError`` / ``TemplateError`` (carrying a non-empty
``errors`` list of ``{path, message}``), or it must produce code that is
structurally identical to the code rendered from a benign value of the same
type (same AST apart from constant values, same non-literal tokens, same number
of lines) and that evaluates back to exactly the hostile value. Any other
exception fails the test.

Which outcome is acceptable is fixed per position: a plain string always
renders (DESIGN.md: "every value lands in code as a Python literal by default,
whatever its content"), a number field given a string is an ``InputError``, a
variable name made of a hostile string is refused, and so on.
"""

from __future__ import annotations

import ast
import builtins
import copy
import io
import json
import keyword
import math
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import pytest

from cell_templates import InputError, Template, TemplateError, builtin_templates
from cell_templates.literals import Code, to_literal

try:  # the corpus module sits next to this file
    from hostile_strings import HOSTILE_STRINGS, HOSTILE_VALUES
except ImportError:  # pragma: no cover - tests/ imported as a package
    from tests.hostile_strings import HOSTILE_STRINGS, HOSTILE_VALUES

BENIGN = "x"

# ---------------------------------------------------------------------------
# helpers: outcome checks
# ---------------------------------------------------------------------------


def assert_refusal_shape(exc: InputError | TemplateError) -> None:
    """A refusal (caught as InputError / TemplateError) carries a non-empty list of {path, message} without tracebacks."""
    assert isinstance(exc.errors, list) and exc.errors, "a refusal must list its errors"
    for err in exc.errors:
        assert isinstance(err, dict)
        assert isinstance(err.get("path"), str), err
        assert err["path"] == "" or err["path"].startswith("/"), err
        assert isinstance(err.get("message"), str) and err["message"].strip(), err
        assert "Traceback" not in err["message"]
        assert 'File "' not in err["message"]


def assert_refused(expected: type, paths: list[str], fn, *args) -> Exception:
    """``fn(*args)`` must raise exactly ``expected`` (InputError or TemplateError) with these error paths;
    anything else is named concisely."""
    try:
        result = fn(*args)
    except (InputError, TemplateError) as exc:
        assert type(exc) is expected, f"{type(exc).__name__} instead of {expected.__name__}: {exc.errors}"[:300]
        assert_refusal_shape(exc)
        assert sorted(e["path"] for e in exc.errors) == sorted(paths), exc.errors
        return exc
    except Exception as exc:
        caught = exc
    else:
        raise AssertionError(f"not refused: {result!r:.200}")
    raise AssertionError(f"{type(caught).__name__} instead of {expected.__name__}: {caught}"[:300]) from None


def skeleton(tree: ast.AST) -> str:
    """ast.dump with every Constant value blanked: what is left is the code's structure."""
    tree = copy.deepcopy(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.value = "<const>"
            node.kind = None
    return ast.dump(tree, include_attributes=False)


def node_types(tree: ast.AST) -> list[str]:
    return [type(n).__name__ for n in ast.walk(tree)]


def code_facts(tree: ast.AST) -> dict:
    """Everything a literal must never change: names, attributes, calls, imports."""
    facts = {"names": set(), "attrs": set(), "calls": set(), "imports": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            facts["names"].add(node.id)
        elif isinstance(node, ast.Attribute):
            facts["attrs"].add(node.attr)
        elif isinstance(node, ast.Call):
            facts["calls"].add(ast.unparse(node.func))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            facts["imports"].update(a.name for a in node.names)
            if isinstance(node, ast.ImportFrom):
                facts["imports"].add(f"from:{node.module}")
    return facts


_LITERAL_TOKENS = {tokenize.STRING, tokenize.NUMBER}


def code_tokens(source: str) -> list[tuple]:
    """Tokens with literal texts blanked (comments keep only their presence)."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _LITERAL_TOKENS:
            out.append((tok.type,))
        elif tok.type == tokenize.COMMENT:
            out.append((tok.type,))
        else:
            out.append((tok.type, tok.string))
    return out


def assert_same_code(source: str, benign: str) -> None:
    """``source`` differs from ``benign`` only in the values of its literals."""
    tree, btree = ast.parse(source), ast.parse(benign)
    assert node_types(tree) == node_types(btree)
    assert code_facts(tree) == code_facts(btree)
    assert skeleton(tree) == skeleton(btree)
    assert code_tokens(source) == code_tokens(benign)
    assert source.count("\n") == benign.count("\n")
    assert len(source.splitlines()) == len(benign.splitlines()), "a value added a line break"
    assert source.isascii() or all(ch.isprintable() or ch == "\n" for ch in source), (
        "the rendered code holds a non-printable character"
    )


class Recorder:
    """Stands in for functions and frames in exec checks: returns what it gets."""

    def __call__(self, *args, **kwargs):
        return (args, kwargs)

    def __getitem__(self, key):
        return key


class FakeFrame:
    shape = (0, 0)


class FakePandas:
    @staticmethod
    def read_csv(*args, **kwargs):
        frame = FakeFrame()
        frame.args, frame.kwargs = args, kwargs
        return frame


def _fake_import(name, *args, **kwargs):
    if name == "pandas":
        return FakePandas
    raise ImportError(f"no import of {name!r} in tests")


def run_cell(source: str, **names) -> dict:
    """Execute a rendered cell with no builtins (only a fake ``import pandas``)."""
    ns = {"__builtins__": {"__import__": _fake_import}, **names}
    exec(compile(source, "<cell>", "exec"), ns)
    return ns


# ---------------------------------------------------------------------------
# the positions a value can take
# ---------------------------------------------------------------------------

STR = {"type": "string"}
RENDER, INPUT_ERROR, TEMPLATE_ERROR = "render", InputError, TemplateError


@dataclass(frozen=True)
class Position:
    id: str
    source: str
    props: dict
    inputs: Callable[[object], dict]
    # value -> set of acceptable outcomes: RENDER and/or error classes
    expect: Callable[[str], set] = lambda v: {RENDER}
    # (namespace after exec, value) -> None; asserts the value came back exactly
    check: Callable[[dict, object], None] | None = None
    names: Callable[[], dict] = dict  # extra names for exec
    cell_type: str = "code"
    template: str | None = None  # a built-in template id instead of source/props
    example: dict | None = None  # example inputs when inputs(BENIGN) is not valid


def _eq(name):
    def check(ns, value):
        assert ns[name] == value and type(ns[name]) is type(value), f"{name} = {ns[name]!r:.80}"
    return check


def _check_with(name, build):
    def check(ns, value):
        expected = build(value)
        assert ns[name] == expected, f"{name} = {ns[name]!r:.80}, expected {expected!r:.80}"
    return check


def _lone_surrogate(v) -> bool:
    """Lone surrogates are valid JSON but not text a notebook file can hold: inputs refuse them."""
    try:
        str(v).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _nonempty(v):
    return {RENDER} if v != "" else {TEMPLATE_ERROR}


def _sep(v):
    return {RENDER} if 1 <= len(v) <= 4 else {INPUT_ERROR}


def _path(v):
    return {RENDER} if v else {INPUT_ERROR}


def _check_load_csv(field_name, build):
    def check(ns, value):
        frame = ns["df"]
        args, kwargs = frame.args, frame.kwargs
        got = {"path": args[0], **kwargs}
        assert got[field_name] == build(value)
    return check


POSITIONS: list[Position] = [
    Position("expr", "x = {{ v }}", {"v": STR}, lambda v: {"v": v}, check=_eq("x")),
    Position("literal-filter", "x = {{ v|literal }}", {"v": STR}, lambda v: {"v": v}, check=_eq("x")),
    Position(
        "call-args",
        "r = f({{ v }}, key={{ v }})",
        {"v": STR},
        lambda v: {"v": v},
        check=_check_with("r", lambda v: ((v,), {"key": v})),
        names=lambda: {"f": Recorder()},
    ),
    Position(
        "multiline-call",
        "r = f(\n    {{ v }},\n    sep={{ v }},\n)\nr",
        {"v": STR},
        lambda v: {"v": v},
        check=_check_with("r", lambda v: ((v,), {"sep": v})),
        names=lambda: {"f": Recorder()},
    ),
    Position(
        "dict-in-template",
        "d = { {{ v }}: {{ v }} }",
        {"v": STR},
        lambda v: {"v": v},
        check=_check_with("d", lambda v: {v: v}),
    ),
    Position(
        "dict-value",
        "d = {{ d }}",
        {"d": {"type": "object", "additionalProperties": STR}},
        lambda v: {"d": {v: v}},
        check=_check_with("d", lambda v: {v: v}),
    ),
    Position(
        "list-in-template",
        "xs = [{{ v }}, {{ v }}]",
        {"v": STR},
        lambda v: {"v": v},
        check=_check_with("xs", lambda v: [v, v]),
    ),
    Position(
        "list-value",
        "xs = {{ xs }}",
        {"xs": {"type": "array", "items": STR}},
        lambda v: {"xs": [v, "y", v]},
        check=_check_with("xs", lambda v: [v, "y", v]),
    ),
    Position(
        "tuple-in-template",
        "t = ({{ v }},)",
        {"v": STR},
        lambda v: {"v": v},
        check=_check_with("t", lambda v: (v,)),
    ),
    Position(
        "nested-dict-of-lists",
        "cfg = {{ cfg }}",
        {"cfg": {"type": "object", "additionalProperties": {"type": "array", "items": STR}}},
        lambda v: {"cfg": {v: [v, v]}},
        check=_check_with("cfg", lambda v: {v: [v, v]}),
    ),
    Position(
        "loop",
        "{% for c in xs %}\nout.append({{ c }})\n{% endfor %}",
        {"xs": {"type": "array", "items": STR}},
        lambda v: {"xs": [v, v]},
        check=lambda ns, v: None,  # checked through the 'out' list below
        names=lambda: {"out": []},
    ),
    Position(
        "column",
        "s = df[{{ col }}]",
        {"col": STR},
        lambda v: {"col": v},
        check=_eq("s"),
        names=lambda: {"df": Recorder()},
    ),
    Position(
        "column-filter",
        "s = df[{{ col|column }}]",
        {"col": STR},
        lambda v: {"col": v},
        expect=_nonempty,
        check=_eq("s"),
        names=lambda: {"df": Recorder()},
    ),
    Position(
        "columns-filter",
        "s = df[{{ cols|columns }}]",
        {"cols": {"type": "array", "items": STR}},
        lambda v: {"cols": [v, "b"]},
        expect=_nonempty,
        check=_check_with("s", lambda v: [v, "b"]),
        names=lambda: {"df": Recorder()},
    ),
    Position(
        "comment",
        "# note: {{ v }}\nx = 1",
        {"v": STR},
        lambda v: {"v": v},
        check=lambda ns, v: None,
    ),
    Position(
        "trailing-comment",
        "x = {{ v }}  # was {{ v }}",
        {"v": STR},
        lambda v: {"v": v},
        check=_eq("x"),
    ),
    Position(
        "ident-with-pattern",
        "{{ name|ident }} = 1",
        {"name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}},
        lambda v: {"name": v},
        expect=lambda v: {INPUT_ERROR, TEMPLATE_ERROR},
    ),
    Position(
        "ident-without-pattern",
        "{{ name|ident }} = 1",
        {"name": STR},
        lambda v: {"name": v},
        expect=lambda v: {TEMPLATE_ERROR},
    ),
    Position(
        "number-field",
        "n = {{ n }}",
        {"n": {"type": "number"}},
        lambda v: {"n": v},
        expect=lambda v: {INPUT_ERROR},
        example={"n": 1.5},
    ),
    Position(
        "integer-field",
        "n = {{ n }}",
        {"n": {"type": "integer"}},
        lambda v: {"n": v},
        expect=lambda v: {INPUT_ERROR},
        example={"n": 1},
    ),
    Position(
        "number-list-field",
        "ns = {{ ns }}",
        {"ns": {"type": "array", "items": {"type": "number"}}},
        lambda v: {"ns": [1, v]},
        expect=lambda v: {INPUT_ERROR},
        example={"ns": [1, 2.5]},
    ),
    # the shipped load-csv template, field by field
    Position(
        "load-csv-path", "", {}, lambda v: {"path": v}, expect=_path,
        check=_check_load_csv("path", lambda v: v), template="load-csv",
    ),
    Position(
        "load-csv-sep", "", {}, lambda v: {"path": "a.csv", "sep": v}, expect=_sep,
        check=_check_load_csv("sep", lambda v: v), template="load-csv",
    ),
    Position(
        "load-csv-encoding", "", {}, lambda v: {"path": "a.csv", "encoding": v},
        check=_check_load_csv("encoding", lambda v: v), template="load-csv",
    ),
    Position(
        "load-csv-na-values", "", {}, lambda v: {"path": "a.csv", "na_values": [v, v]},
        check=_check_load_csv("na_values", lambda v: [v, v]), template="load-csv",
    ),
    Position(
        "load-csv-name", "", {}, lambda v: {"path": "a.csv", "name": v},
        expect=lambda v: {INPUT_ERROR, TEMPLATE_ERROR}, template="load-csv",
    ),
]

def _md_expect(v):
    # a rendered cell is capped (render.MAX_CELL_CHARS); two copies of a 100 000-character
    # value may be refused for size, anything shorter must render
    return {RENDER} if len(v) < 50_000 else {RENDER, TEMPLATE_ERROR}


MARKDOWN_POSITIONS: list[Position] = [
    Position("md-inline", "Note: {{ v }}.", {"v": STR}, lambda v: {"v": v}, _md_expect, cell_type="markdown"),
    Position("md-line-start", "Summary\n{{ v }}\n\nEnd.", {"v": STR}, lambda v: {"v": v}, _md_expect, cell_type="markdown"),
    Position("md-in-heading", "## Results for {{ v }}\n\nText.", {"v": STR}, lambda v: {"v": v}, _md_expect, cell_type="markdown"),
    Position(
        "md-list-value",
        "Columns: {{ xs }}",
        {"xs": {"type": "array", "items": STR}},
        lambda v: {"xs": [v, v]},
        _md_expect,
        cell_type="markdown",
    ),
]


@lru_cache(maxsize=None)
def template_for(pos_id: str) -> Template:
    pos = {p.id: p for p in POSITIONS + MARKDOWN_POSITIONS}[pos_id]
    if pos.template:
        return builtin_templates()[pos.template]
    return Template.from_dict(
        {
            "id": "t-" + pos.id,
            "title": pos.id,
            "inputs": {"type": "object", "properties": pos.props},
            "cells": [{"cell_type": pos.cell_type, "source": pos.source}],
            "examples": [{"inputs": pos.example if pos.example is not None else pos.inputs(BENIGN)}],
        }
    )


def render(pos: Position, value):
    """(outcome, result): RENDER and the sources, or the exception's class and the exception.

    Exceptions other than the two refusals are returned too (not raised), so that
    the assertion names them without a page of traceback.
    """
    template = template_for(pos.id)
    try:
        cells = template.render(pos.inputs(value))
    except (InputError, TemplateError) as exc:
        assert_refusal_shape(exc)
        return type(exc), exc
    except Exception as exc:  # reported by the caller's assertion (RecursionError, ...)
        return type(exc), exc
    assert isinstance(cells, list) and cells
    return RENDER, [c["source"] for c in cells]


@lru_cache(maxsize=None)
def benign_sources(pos_id: str) -> tuple[str, ...]:
    pos = {p.id: p for p in POSITIONS + MARKDOWN_POSITIONS}[pos_id]
    outcome, sources = render(pos, BENIGN)
    assert outcome is RENDER, sources
    return tuple(sources)


def _describe(outcome, result) -> str:
    if outcome is RENDER:
        return "rendered"
    if isinstance(result, (InputError, TemplateError)):
        return f"{outcome.__name__} {result.errors}"[:300]
    return f"{outcome.__name__}: {result}"[:300]


def _outcome_name(o):
    return o if isinstance(o, str) else o.__name__


# ---------------------------------------------------------------------------
# the corpus through every code position
# ---------------------------------------------------------------------------


def _over_corpus(check, pos: Position) -> None:
    """Run ``check(pos, value)`` for every corpus entry; report every failing entry at once.

    One test per position (rather than one per position and value) keeps the
    run fast; the failure message names each failing corpus id.
    """
    failures = []
    for value_id, value in HOSTILE_STRINGS:
        try:
            check(pos, value)
        except AssertionError as exc:
            message = " ".join(str(exc).split("\nassert ")[0].split())
            failures.append(f"[{pos.id} / {value_id}] {message[:400]}")
    assert not failures, f"{len(failures)} corpus entries failed:\n" + "\n".join(failures)


@pytest.mark.parametrize("pos", POSITIONS, ids=[p.id for p in POSITIONS])
def test_hostile_strings_in_code_position(pos: Position):
    _over_corpus(check_code_position, pos)


def check_code_position(pos: Position, value: str):
    outcome, result = render(pos, value)
    allowed = {INPUT_ERROR} if _lone_surrogate(value) else pos.expect(value)
    assert outcome in allowed, (
        f"{pos.id}: got {_describe(outcome, result)}; expected one of {sorted(map(_outcome_name, allowed))}"
    )
    if outcome is not RENDER:
        if outcome is InputError and pos.template is None:
            # the error points at the offending field
            field_name = next(iter(pos.inputs(value)))
            assert any(e["path"].startswith("/" + field_name) for e in result.errors), result.errors
        if outcome is TemplateError:
            assert all(e["path"].startswith("/cells/") for e in result.errors), result.errors
        return

    benign = benign_sources(pos.id)
    assert len(result) == len(benign)
    for source, benign_source in zip(result, benign):
        assert_same_code(source, benign_source)
    ns = run_cell("\n".join(result), **pos.names())
    if pos.check:
        pos.check(ns, value)
    if pos.id == "loop":
        assert ns["out"] == [value, value]
    if pos.id == "comment":
        first = result[0].split("\n", 1)[0]
        assert first.startswith("# note: ") and ns["x"] == 1


def test_corpus_is_large_and_covers_the_required_families():
    assert len(HOSTILE_STRINGS) >= 40
    values = set(HOSTILE_VALUES)
    for required in [
        "'", '"', "'''", '"""', "\nimport os", "\r\nos.system('x')", "abc\\", "\\'", "\\\n",
        "__import__('os').system('id')", "{__import__('os')}", "{{7*7}}", "{{ ''.__class__ }}",
        "{# c #}", "a\x00b", "\ud800", "# comment\nimport os", "); exec('x'); (", "; import os",
    ]:
        assert required in values, required
    for sep in "\u2028\u2029\x85\x0b\x0c\u202e":
        assert any(sep in v for v in values), repr(sep)
    assert any(len(v) >= 100_000 for v in values)
    assert any(not v.isascii() and v.isalpha() for v in values)  # lookalike letters


_INDEPENDENT_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def test_no_corpus_entry_is_an_acceptable_variable_name():
    """So that 'ident must refuse them all' is the right expectation."""
    for value in HOSTILE_VALUES:
        acceptable = (
            bool(_INDEPENDENT_IDENT.match(value))
            and not keyword.iskeyword(value)
            and not keyword.issoftkeyword(value)
            and not value.startswith("__")
            and value not in dir(builtins)
        )
        assert not acceptable, value


def test_corpus_survives_json():
    """Every hostile string can reach the server as JSON, lone surrogates included."""
    for value in HOSTILE_VALUES:
        assert json.loads(json.dumps(value)) == value


# ---------------------------------------------------------------------------
# markdown cells
# ---------------------------------------------------------------------------

_HEADING = re.compile(r" {0,3}#{1,6}(\s|$)")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_ENTITY_OK = re.compile(r"&(amp|lt|gt|quot|#x27|#39|#34);")
_MD_ACTIVE = set("`*_[]<>|~$")


def _unescaped_specials(text: str) -> set:
    """Markdown-active characters in ``text`` that are not backslash-escaped."""
    found, i = set(), 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            i += 2
            continue
        if ch in _MD_ACTIVE:
            found.add(ch)
        i += 1
    return found


@pytest.mark.parametrize("pos", MARKDOWN_POSITIONS, ids=[p.id for p in MARKDOWN_POSITIONS])
def test_hostile_strings_in_markdown(pos: Position):
    _over_corpus(check_markdown_position, pos)


def check_markdown_position(pos: Position, value: str):
    outcome, result = render(pos, value)
    allowed = {INPUT_ERROR} if _lone_surrogate(value) else pos.expect(value)
    assert outcome in allowed, f"a markdown value must render escaped, got {_describe(outcome, result)}"
    if outcome is INPUT_ERROR:
        assert all(e["path"].startswith(("/v", "/xs")) for e in result.errors), result.errors
        return
    if outcome is not RENDER:
        assert all(e["path"] == "/cells/0/source" for e in result.errors), result.errors
        return
    text = result[0]
    (benign,) = benign_sources(pos.id)
    assert "<" not in text and ">" not in text, "raw HTML in a markdown cell"
    assert "\x00" not in text
    assert not re.sub(_ENTITY_OK, "", text).count("&"), "a value wrote an HTML entity"
    assert text.count("\n") == benign.count("\n")
    lines, benign_lines = text.splitlines(), benign.splitlines()
    assert len(lines) == len(benign_lines), "a value added a line break"
    for line, benign_line in zip(lines, benign_lines):
        assert bool(_HEADING.match(line)) == bool(_HEADING.match(benign_line)), f"heading: {line[:60]!r}"
        assert bool(_SETEXT.match(line)) == bool(_SETEXT.match(benign_line)), f"setext underline: {line[:60]!r}"
    # the cell must be storable: nbformat writes UTF-8
    text.encode("utf-8")
    if pos.id == "md-inline":
        part = text[len("Note: "):-1]
        assert text.startswith("Note: ") and text.endswith(".")
        assert not _unescaped_specials(part), f"unescaped Markdown in {part[:60]!r}"


def test_markdown_value_cannot_break_out_of_an_html_attribute():
    """A template author may put a value inside an attribute of their own HTML."""
    from html.parser import HTMLParser

    t = Template.from_dict(
        {
            "id": "md-attr",
            "title": "attr",
            "inputs": {"type": "object", "properties": {"v": STR}},
            "cells": [{"cell_type": "markdown", "source": '<span title="{{ v }}">label</span>'}],
            "examples": [{"inputs": {"v": "x"}}],
        }
    )
    (cell,) = t.render({"v": '" onmouseover="alert(1)" x="'})

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, [name for name, _ in attrs]))

    parser = Tags()
    parser.feed(cell["source"])
    assert parser.tags == [("span", ["title"])], cell["source"]


# ---------------------------------------------------------------------------
# Python-API-only values (not reachable through JSON)
# ---------------------------------------------------------------------------


class EvilStr(str):
    def __repr__(self):
        return "__import__('os').system('id')"


class EvilInt(int):
    def __repr__(self):
        return "__import__('os').system('id')"


class EvilFloat(float):
    def __repr__(self):
        return "__import__('os').system('id')"


class EvilList(list):
    def __repr__(self):
        return "__import__('os').system('id')"


class EvilDict(dict):
    def __repr__(self):
        return "__import__('os').system('id')"


def _nest(depth: int):
    """``depth`` lists around 1: the 1 sits at nesting level ``depth``."""
    value = 1
    for _ in range(depth):
        value = [value]
    return value


API_VALUES = [
    ("nan", float("nan")),
    ("inf", float("inf")),
    ("-inf", float("-inf")),
    ("-0.0", -0.0),
    ("tiny", 5e-324),
    ("max-float", 1.7976931348623157e308),
    ("big-int", 10**100),
    ("neg-big-int", -(10**100)),
    ("int64-overflow", 2**63),
    ("int-near-digit-limit", 10**4000),
    ("true", True),
    ("false", False),
    ("none", None),
    ("empty-list", []),
    ("empty-dict", {}),
    ("empty-tuple", ()),
    ("one-tuple", (1,)),
    ("tuple-of-hostile", tuple(HOSTILE_VALUES[:20])),
    ("nested-lists", [[1, [2, [3, [float("nan"), [float("-inf")]]]]]]),
    ("nested-dicts", {"a": [1, {"b": (2, 3)}], "c": {"d": {"e": None}}}),
    ("hostile-keys", {v: i for i, v in enumerate(HOSTILE_VALUES[:30])}),
    ("non-str-keys", {1: "a", None: "b", (1, "x"): "c", 2.5: "d"}),
    ("deep-32", _nest(32)),
    ("evil-str", EvilStr("a")),
    ("evil-int", EvilInt(3)),
    ("evil-float", EvilFloat(2.5)),
    ("evil-list", EvilList(["a"])),
    ("evil-dict", EvilDict(a=1)),
    ("code-instance", Code("__import__('os').system('id')")),
    ("code-in-list", [Code("__import__('os').system('id')")]),
]

UNWRITABLE = [
    ("set", {1, 2}),
    ("bytes", b"\x00'"),
    ("complex", 1j),
    ("object", object()),
    ("function", print),
    ("type", type),
    ("int-over-digit-limit", 10**5000),
    ("too-deep", _nest(40)),
]


def _is_literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _is_literal(node.operand)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_literal(k) for k in node.keys) and all(_is_literal(v) for v in node.values)
    if isinstance(node, ast.Call):  # float('nan') / float('inf'): the only call allowed
        return (
            isinstance(node.func, ast.Name)
            and node.func.id == "float"
            and not node.keywords
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in ("nan", "inf", "-inf")
        )
    return False


class _Collapse(ast.NodeTransformer):
    def visit(self, node):
        if isinstance(node, ast.expr) and _is_literal(node):
            return ast.Constant(value="<literal>")
        return super().visit(node)


def _same_value(a, b) -> bool:
    """Equality that also checks types, NaN and the sign of zero."""
    if type(a) is not type(b):
        # a str / int / float / list / dict subclass comes back as the base type
        base = next((t for t in (bool, str, int, float, list, tuple, dict) if isinstance(b, t)), None)
        if base is None or type(a) is not base:
            return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a.keys()) == list(b.keys()) and all(_same_value(a[k], b[k]) for k in a)
    return a == b


@lru_cache(maxsize=None)
def _any_template() -> Template:
    return Template.from_dict(
        {
            "id": "any",
            "title": "any value",
            "inputs": {"type": "object", "properties": {"v": {}}},
            "cells": [{"cell_type": "code", "source": "x = {{ v }}\ny = f({{ v }})"}],
            "examples": [{"inputs": {"v": "x"}}],
        }
    )


@pytest.mark.parametrize("value", [v for _, v in API_VALUES], ids=[k for k, _ in API_VALUES])
def test_python_api_values_land_as_literals(value):
    t = _any_template()
    try:
        (cell,) = t.render({"v": value})
    except (InputError, TemplateError) as exc:  # refusing is allowed, crashing is not
        assert_refusal_shape(exc)
        return
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}"[:300]) from None
    source = cell["source"]
    (benign,) = t.render({"v": "x"})
    tree, btree = ast.parse(source), ast.parse(benign["source"])
    assert ast.dump(_Collapse().visit(tree)) == ast.dump(_Collapse().visit(btree)), source[:200]
    assert len(source.splitlines()) == 2
    ns = run_cell(source, f=lambda v: v, float=float)
    # a subclass may come back as its base type, never as anything else
    assert _same_value(ns["x"], value), f"{ns['x']!r:.80} != {value!r:.80}"
    assert _same_value(ns["y"], value)


# Nested deeper than the 32 levels a literal may: refused as an input, where it first goes too deep.
TOO_DEEP_PATH = "/v" + "/0" * 31


@pytest.mark.parametrize("value", [v for _, v in UNWRITABLE], ids=[k for k, _ in UNWRITABLE])
def test_values_without_a_literal_are_refused(value):
    if isinstance(value, list):  # too deep
        assert_refused(InputError, [TOO_DEEP_PATH], _any_template().render, {"v": value})
    else:  # the schema takes any value; writing the placeholder of the first cell that uses it fails
        assert_refused(TemplateError, ["/cells/0/source"], _any_template().render, {"v": value})


def _nested_json(depth: int):
    return json.loads("[" * depth + "]" * depth)


@pytest.mark.parametrize("schema", [STR, {"type": "array"}, {}], ids=["string", "array", "any"])
def test_deeply_nested_json_input_is_refused_not_crashing(schema):
    """A 600-deep JSON array parses with json.loads, so a REST client can send it."""
    value = _nested_json(600)
    t = Template.from_dict(
        {
            "id": "deep",
            "title": "deep",
            "inputs": {"type": "object", "properties": {"v": schema}},
            "cells": [{"cell_type": "code", "source": "x = {{ v }}"}],
            "examples": [{"inputs": {"v": []} if schema.get("type") == "array" else {"v": "a"}}],
        }
    )
    assert_refused(InputError, [TOO_DEEP_PATH], t.render, {"v": value})


def test_cyclic_python_input_is_refused_not_crashing():
    cyclic: list = []
    cyclic.append(cyclic)
    assert_refused(InputError, ["/v/0"], _any_template().render, {"v": cyclic})


def test_sentinel_lookalike_values_are_plain_literals():
    """Values that look like the renderer's internal sentinels stay data."""
    t = Template.from_dict(
        {
            "id": "sent",
            "title": "sentinels",
            "inputs": {"type": "object", "properties": {"a": STR, "b": STR}},
            "cells": [{"cell_type": "code", "source": "x = {{ a }}\ny = {{ b }}"}],
            "examples": [{"inputs": {"a": "x", "b": "y"}}],
        }
    )
    for a, b in [("_dd000000000000_1__", "_dd000000000000_0__"), ("_dd", "__"), ("\\1", "\\g<0>")]:
        (cell,) = t.render({"a": a, "b": b})
        ns = run_cell(cell["source"])
        assert (ns["x"], ns["y"]) == (a, b)


def test_values_do_not_leak_between_placeholders():
    """Each placeholder gets its own value even when one value contains another's literal."""
    t = Template.from_dict(
        {
            "id": "two",
            "title": "two",
            "inputs": {"type": "object", "properties": {"a": STR, "b": {"type": "array", "items": STR}}},
            "cells": [{"cell_type": "code", "source": "x = {{ a }}\ny = {{ b }}\nz = {{ a }}"}],
            "examples": [{"inputs": {"a": "x", "b": []}}],
        }
    )
    a, b = "'x'\ny = 1", ["'x'", "\\'", "]", "y = 2"]
    (cell,) = t.render({"a": a, "b": b})
    ns = run_cell(cell["source"])
    assert (ns["x"], ns["y"], ns["z"]) == (a, b, a)
    assert len(cell["source"].splitlines()) == 3


def test_rerender_provenance_keeps_hostile_value_exactly():
    """The stored inputs in metadata are the hostile values themselves (for re-generation)."""
    t = template_for("expr")
    for value in HOSTILE_VALUES:
        if _lone_surrogate(value):
            continue  # refused as input (see test_hostile_strings_in_code_position)
        (cell,) = t.render({"v": value})
        assert cell["metadata"]["datadive"]["inputs"] == {"v": value}


# ---------------------------------------------------------------------------
# the literal writer itself (cell_templates.literals.to_literal)
# ---------------------------------------------------------------------------

LITERAL_VALUES = [
    ("win-path", r"C:\data\survey 2024.csv"),
    ("win-path-escapes", "C:\\new\\table\\x41\\u0041\\N{x}.csv"),
    ("win-path-trailing", "C:\\"),
    ("win-long-path", "\\\\?\\C:\\very\\long\\path"),
    ("unc-path", "\\\\server\\share\\file.csv"),
    ("nan", float("nan")),
    ("inf", float("inf")),
    ("-inf", float("-inf")),
    ("-0.0", -0.0),
    ("0.0", 0.0),
    ("subnormal", 5e-324),
    ("max-float", 1.7976931348623157e308),
    ("tenth", 0.1),
    ("neg-float", -2.5e-10),
    ("zero", 0),
    ("neg-int", -1),
    ("big-int", 10**100),
    ("neg-huge-int", -(2**1000)),
    ("int-4000-digits", 10**3999),
    ("true", True),
    ("false", False),
    ("none", None),
    ("empty-str", ""),
    ("empty-list", []),
    ("empty-dict", {}),
    ("empty-tuple", ()),
    ("one-tuple", ("a",)),
    ("nested-tuple", ((1,), ((2,),), ())),
    ("nested-list", [1, [2.5, [None, [True, ["x", [float("nan")]]]]]]),
    ("nested-dict", {"a": {"b": {"c": [1, {"d": (float("-inf"), -0.0)}]}}}),
    ("dict-non-str-keys", {1: "a", None: "b", (1, "t"): "c", -2.5: "d", False: "e"}),
    ("dict-hostile-keys", {"'": 1, '"': 2, "\n": 3, "\\": 4, "\x00": 5, "\u2028": 6}),
    ("list-of-non-finite", [float("nan"), float("inf"), float("-inf"), -0.0]),
    ("unicode-letters", "caf\u00e9 \u65e5\u672c\u8a9e \u0645\u0631\u062d\u0628\u0627"),
    ("unicode-astral", "\U0001f600\U0001d518\U00010348"),
    ("combining", "e\u0301"),
    ("nbsp", "a\u00a0b"),
    ("ideographic-space", "a\u3000b"),
    ("all-ascii-controls", "".join(map(chr, range(32))) + "\x7f"),
    ("c1-controls", "".join(map(chr, range(0x80, 0xA0)))),
    ("line-separators", "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e"),
    ("surrogates", "\ud800\udbff\udc00\udfff"),
    ("bidi", "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"),
    ("private-use", "\ue000\U000f0000"),
    ("noncharacter", "\uffff\ufffe"),
    ("tuple-of-corpus", tuple(HOSTILE_VALUES)),
    ("dict-of-corpus", {k: v for k, v in HOSTILE_STRINGS}),
]


def _has_non_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_non_finite(k) or _has_non_finite(v) for k, v in value.items())
    return False


def check_literal(value, style: str = "repr") -> None:
    lit = to_literal(value, style=style) if style != "repr" else to_literal(value)
    assert isinstance(lit, str)
    assert lit.isprintable(), f"non-printable character in {lit[:80]!r}"  # so also no line break
    assert len(lit.splitlines()) == 1
    if style == "papermill":
        assert lit.isascii(), lit[:80]
    tree = ast.parse(lit, mode="eval")
    assert _is_literal(tree.body), f"not a pure literal: {lit[:80]}"
    back = eval(compile(tree, "<literal>", "eval"), {"__builtins__": {"float": float}})
    assert _same_value(back, value), f"{back!r:.80} != {value!r:.80}"
    if not _has_non_finite(value):
        assert _same_value(ast.literal_eval(lit), value)


@pytest.mark.parametrize("style", ["repr", "papermill"])
@pytest.mark.parametrize("value", [v for _, v in LITERAL_VALUES], ids=[k for k, _ in LITERAL_VALUES])
def test_to_literal_round_trips(value, style):
    check_literal(value, style)


@pytest.mark.parametrize("style", ["repr", "papermill"])
def test_to_literal_round_trips_the_corpus(style):
    failures = []
    for value_id, value in HOSTILE_STRINGS:
        for v in (value, [value], {value: value}, (value, value)):
            try:
                check_literal(v, style)
            except AssertionError as exc:
                failures.append(f"{value_id}: {exc}"[:200])
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "value",
    [{1, 2}, frozenset(), b"\x00'", bytearray(b"x"), 1j, object(), print, type, _nest(40), Ellipsis],
    ids=["set", "frozenset", "bytes", "bytearray", "complex", "object", "function", "type", "too-deep", "ellipsis"],
)
def test_to_literal_refuses_values_without_a_literal(value):
    with pytest.raises((TypeError, ValueError)):
        to_literal(value)


def test_to_literal_refuses_cycles_without_recursion_error():
    cyclic: list = []
    cyclic.append(cyclic)
    d: dict = {}
    d["self"] = d
    for value in (cyclic, d):
        try:
            to_literal(value)
        except (TypeError, ValueError):
            pass
        else:  # pragma: no cover - a cycle has no literal
            raise AssertionError("a cyclic value was written")


def test_to_literal_beyond_the_int_digit_limit_round_trips_or_refuses():
    value = 10**5000
    try:
        lit = to_literal(value)
    except ValueError:
        return
    assert eval(lit, {"__builtins__": {}}) == value
