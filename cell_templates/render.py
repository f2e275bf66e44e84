"""Safe rendering of template cell sources.

Template sources are Jinja2 text run in an immutable sandbox. Three layers keep
form values and template authors away from anything they should not reach:

1. **Values are literals.** Every ``{{ ... }}`` in a code cell is first written
   as a unique sentinel name; the sentinel source is parsed, and each sentinel
   must stand as a whole name token in code (or inside a comment). A
   placeholder inside a string literal, an f-string or glued to other text is
   refused. Only then is each sentinel replaced by the value's Python literal
   (``literals.to_literal``) or, for the output of a checking filter such as
   ``ident``, by the checked name. The final source must pass ``ast.parse``.
2. **The sandbox.** ``ImmutableSandboxedEnvironment`` refuses ``_``-prefixed and
   internal attributes and mutation of containers; ``**`` and ``*`` are
   bounded; ``range`` is capped; the only globals are ``range`` and ``dict``.
3. **Bounded work.** Macros, call blocks, recursive loops, includes, imports,
   inheritance and loops nested deeper than two are refused when the template
   is loaded; each cell's output is capped.

Markdown cells get the value's text with Markdown and HTML specials escaped.
"""

from __future__ import annotations

import ast
import contextvars
import html
import io
import re
import secrets
import tokenize

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .literals import Code, check_identifier, to_literal

MAX_CELL_CHARS = 200_000
MAX_RANGE = 1_000
MAX_LOOP_DEPTH = 2
MAX_POWER = 64
MAX_REPEAT = 10_000

_FORBIDDEN_NODES = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
}

_collector: contextvars.ContextVar = contextvars.ContextVar("datadive_render_collector")


class RenderError(Exception):
    """A cell source failed to render safely; the message is meant for template authors."""


def _safe_range(*args):
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items in templates")
    return rng


# ---- filters -------------------------------------------------------------

def _f_ident(value):
    """A variable name: checked, then written as a bare name."""
    return Code(check_identifier(value))


def _f_column(value):
    """A column name: any non-empty string, written as a string literal."""
    if not isinstance(value, str) or value == "":
        raise ValueError("a column name must be a non-empty string")
    return value


def _f_columns(value):
    """A list of column names, written as a list of string literals."""
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of column names")
    return [_f_column(v) for v in value]


def _f_literal(value):
    """Explicit form of the default: the value as a Python literal."""
    return Code(to_literal(value))


FILTERS = {
    "ident": _f_ident,
    "column": _f_column,
    "columns": _f_columns,
    "literal": _f_literal,
}


# ---- environments --------------------------------------------------------

def _code_finalize(value):
    """Every ``{{ }}`` output in code: register its text, emit a sentinel."""
    state = _collector.get()
    if isinstance(value, Code):
        text = str(value)
    else:
        try:
            text = to_literal(value)
        except (TypeError, ValueError) as exc:
            raise RenderError(str(exc)) from None
    key = f"{state.prefix}{len(state.texts)}__"
    state.texts[key] = text
    return key


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def _markdown_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        return ", ".join(_markdown_text(v) for v in value)
    else:
        text = str(value)
    text = _LINE_BREAKS.sub(" ", text).replace("\x00", "")
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=False)


def _md_finalize(value):
    return _markdown_text(value)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SecurityError(f"exponents above {MAX_POWER} are not allowed in templates")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    if n * max(len(seq), 1) > MAX_REPEAT:
                        raise SecurityError(f"repetition is limited to {MAX_REPEAT} items in templates")
        return super().call_binop(context, operator, left, right)


def _make_env(finalize) -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
        finalize=finalize,
    )
    env.globals.clear()
    env.globals.update(range=_safe_range, dict=dict)
    env.filters.update(FILTERS)
    return env


CODE_ENV = _make_env(_code_finalize)
MARKDOWN_ENV = _make_env(_md_finalize)
GLOBAL_NAMES = frozenset(CODE_ENV.globals)


# ---- compile-time checks ---------------------------------------------------

def _loop_depth(node, depth=0) -> int:
    deepest = depth
    for child in node.iter_child_nodes():
        d = depth + 1 if isinstance(child, nodes.For) else depth
        deepest = max(deepest, _loop_depth(child, d))
    return deepest


def compile_source(source: str, cell_type: str):
    """Parse and compile one cell source. Returns (compiled template, names it reads).

    Raises ``RenderError`` for syntax errors and constructs templates may not use.
    """
    env = CODE_ENV if cell_type == "code" else MARKDOWN_ENV
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    for node_type, what in _FORBIDDEN_NODES.items():
        if tree.find(node_type) is not None:
            raise RenderError(f"{what} are not allowed in cell templates")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise RenderError("recursive loops are not allowed in cell templates")
    if _loop_depth(tree) > MAX_LOOP_DEPTH:
        raise RenderError(f"loops may be nested at most {MAX_LOOP_DEPTH} deep in cell templates")
    from jinja2 import meta

    names = meta.find_undeclared_variables(tree) - GLOBAL_NAMES
    return env.from_string(tree), frozenset(names)


# ---- rendering -------------------------------------------------------------

_SENTINEL_RE = re.compile(r"_dd[0-9a-f]{12}_\d+__")
_VERIFIED_CACHE_SIZE = 256


class _State:
    __slots__ = ("nonce", "prefix", "texts")

    def __init__(self):
        self.nonce = secrets.token_hex(6)
        self.prefix = f"_dd{self.nonce}_"
        self.texts: dict[str, str] = {}


def _generate(compiled, context: dict) -> str:
    out, size = [], 0
    try:
        for chunk in compiled.generate(context):
            size += len(chunk)
            if size > MAX_CELL_CHARS:
                raise RenderError(f"a rendered cell may hold at most {MAX_CELL_CHARS} characters")
            out.append(chunk)
    except RenderError:
        raise
    except SecurityError as exc:
        raise RenderError(f"refused by the template sandbox: {exc}") from None
    except RecursionError:
        raise RenderError("template recursion too deep") from None
    except Exception as exc:  # any other failure of author code is the author's error, not a crash
        raise RenderError(f"{type(exc).__name__}: {exc}") from None
    return "".join(out).strip("\n")


def render_markdown(compiled, context: dict) -> str:
    return _generate(compiled, context)


def render_code(compiled, context: dict, verified: dict | None = None) -> str:
    """Render a code cell. ``verified`` caches placement checks already passed.

    The sentinel text depends only on the template and the branches its control
    flow took, not on the values, so a shape seen before (with the random nonce
    masked) need not be checked again: ``verified`` maps such shapes to True.
    The final ``ast.parse`` always runs.
    """
    state = _State()
    token = _collector.set(state)
    try:
        text = _generate(compiled, context)
    finally:
        _collector.reset(token)
    if not state.texts:
        _parse(text)
        return text
    shape = text.replace(state.nonce, "")
    # Only shapes in which every masked sentinel is a real one are cached, so
    # text written by the template itself can never pose as a sentinel.
    cacheable = verified is not None and shape.count("_dd_") == text.count(state.prefix)
    if not cacheable or shape not in verified:
        _check_placements(text, state)
        if cacheable:
            if len(verified) >= _VERIFIED_CACHE_SIZE:
                verified.pop(next(iter(verified)))
            verified[shape] = True
    texts = state.texts
    final = _SENTINEL_RE.sub(lambda m: texts.get(m.group(0), m.group(0)), text)
    _parse(final)
    return final


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise RenderError(f"rendered code is not valid Python (line {exc.lineno}): {exc.msg}") from None
    except ValueError as exc:  # e.g. a NUL byte written by the template itself
        raise RenderError(f"rendered code is not valid Python: {exc}") from None


def _check_placements(text: str, state: _State) -> None:
    """Each sentinel must be a whole name token in code, or sit in a comment."""
    tree = _parse(text)
    keys = state.texts
    as_names = sum(1 for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in keys)
    if as_names == text.count(state.prefix):
        return
    # Slow path: find where the other sentinels are.
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:  # pragma: no cover - parse succeeded above
        raise RenderError(f"rendered code cannot be tokenized: {exc}") from None
    for tok in tokens:
        if state.prefix not in tok.string:
            continue
        if tok.type == tokenize.COMMENT:
            continue
        if tok.type == tokenize.NAME and tok.string in keys:
            continue
        where = f"line {tok.start[0]}"
        if tok.type == tokenize.STRING or tok.type not in (tokenize.NAME, tokenize.OP, tokenize.NUMBER):
            raise RenderError(
                f"a placeholder sits inside a string literal ({where}); "
                "write the placeholder as a whole expression, e.g. title={{ name }}"
            )
        raise RenderError(f"a placeholder is glued to other text ({where}); it must stand alone as an expression")
