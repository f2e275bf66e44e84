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
   internal attributes and mutation of containers. On top of it: the only
   globals are ``range`` (capped) and ``dict``; only a list of harmless filters
   and of ``str`` / ``dict`` / ``list`` methods may be called; ``*``, ``**``,
   ``+``, ``~`` and ``join`` / ``replace`` are checked for the size of what
   they would build *before* building it; ``%`` formatting is refused.
3. **Bounded work.** Only ``if``, ``for``, ``set`` and ``with`` statements are
   allowed (no macros, call or filter blocks, includes, imports, inheritance);
   loops nest at most two deep and every render has a budget of loop steps;
   each cell's output is capped.

Markdown cells get the value's text with Markdown and HTML specials escaped,
unless the template passes it through ``|markdown``.
"""

from __future__ import annotations

import ast
import contextvars
import html
import io
import re
import secrets
import tokenize

from jinja2 import TemplateSyntaxError, Undefined, meta, nodes
from jinja2.visitor import NodeTransformer
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .literals import Code, check_identifier, to_literal

MAX_CELL_CHARS = 200_000
MAX_RANGE = 1_000
MAX_LOOP_DEPTH = 2
MAX_LOOP_STEPS = 100_000
MAX_POWER = 64
MAX_INT_BITS = 4_096
MAX_SIZE = 1_000_000

_ALLOWED_STATEMENTS = (nodes.Output, nodes.For, nodes.If, nodes.Assign, nodes.With)
_STATEMENT_NAMES = {
    nodes.Macro: "macros", nodes.CallBlock: "call blocks", nodes.FilterBlock: "filter blocks",
    nodes.Include: "include", nodes.Import: "import", nodes.FromImport: "import", nodes.Extends: "extends",
    nodes.Block: "blocks", nodes.AssignBlock: "block assignments ({% set %}...{% endset %})",
}
_LOOP_GLOBAL = "_dd_loop"
_CONCAT_GLOBAL = "_dd_concat"

_collector: contextvars.ContextVar = contextvars.ContextVar("datadive_render_collector")


class RenderError(Exception):
    """A cell source failed to render safely; the message is meant for template authors."""


def _safe_range(*args):
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items in templates")
    return rng


def _loop_budget(iterable):
    """Wraps every ``for`` loop's iterable: counts steps against the render's budget."""
    state = _collector.get(None)
    for item in iterable:
        if state is not None:
            state.steps += 1
            if state.steps > MAX_LOOP_STEPS:
                raise SecurityError(f"a render may take at most {MAX_LOOP_STEPS} loop steps")
        yield item


def _concat(*parts) -> str:
    """``a ~ b``: the same string concatenation, with its size checked first."""
    texts = [str(p) for p in parts]
    _check_size(sum(map(len, texts)), "concatenation")
    return "".join(texts)


def _size(value) -> int:
    """What a value weighs: characters of a string, items (recursively, one level) of a container."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(len(v) if isinstance(v, (str, list, tuple, dict)) else 1 for v in value) + len(value)
    if isinstance(value, dict):
        return len(value) * 2
    return 1


def _check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise SecurityError(f"{what} would exceed {MAX_SIZE:,} characters or items in a template")


# ---- filters -------------------------------------------------------------

def _f_ident(value):
    """A variable name: checked, then written as a bare name."""
    return Code(check_identifier(value))


def _f_column(value):
    """A column name: any non-empty string, written as a string literal."""
    if not isinstance(value, str) or value == "":
        raise ValueError("a column name must be a non-empty string")
    return str.__str__(value)


def _f_columns(value):
    """A list of column names, written as a list of string literals."""
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of column names")
    return [_f_column(v) for v in value]


def _f_literal(value):
    """Explicit form of the default: the value as a Python literal."""
    return Code(to_literal(value))


class MarkdownText(str):
    """Text a markdown cell shows as Markdown (HTML still escaped); a plain string in code cells."""

    __slots__ = ()


def _f_markdown(value):
    """Let a value's own Markdown through in a markdown cell (HTML is still escaped)."""
    return MarkdownText("" if value is None else str(value))


def _f_join(value, d="", attribute=None):
    if attribute is not None:
        raise SecurityError("join(attribute=...) is not supported in templates; use map(attribute=...) first")
    items = [str(v) for v in value]
    _check_size(sum(map(len, items)) + len(d) * len(items), "join")
    return str(d).join(items)


def _f_replace(value, old, new, count=None):
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None:
        hits = min(hits, max(int(count), 0))
    _check_size(len(text) + hits * len(new), "replace")
    return text.replace(old, new) if count is None else text.replace(old, new, int(count))


# Jinja2's built-in filters that cannot blow up a render; the others (center,
# indent, wordwrap, format, batch, slice, pprint, urlize, xmlattr, random) are
# left out, and join / replace are replaced by size-checked versions.
_KEPT_FILTERS = (
    "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "forceescape", "groupby", "int", "items", "last", "length", "list", "lower", "map", "max", "min",
    "reject", "rejectattr", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
    "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
)

FILTERS = {
    "join": _f_join,
    "replace": _f_replace,
    "ident": _f_ident,
    "column": _f_column,
    "columns": _f_columns,
    "literal": _f_literal,
    "markdown": _f_markdown,
}


# ---- environments --------------------------------------------------------

def _code_finalize(value):
    """Every ``{{ }}`` output in code: register its text, emit a sentinel."""
    state = _collector.get()
    if isinstance(value, Undefined):
        raise RenderError(f"undefined value: {value._undefined_message}")
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


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=])")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def _markdown_text(value) -> str:
    if isinstance(value, Undefined):
        raise RenderError(f"undefined value: {value._undefined_message}")
    if value is None:
        return ""
    if isinstance(value, MarkdownText):
        return html.escape(str(value).replace("\x00", ""), quote=True)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        return ", ".join(_markdown_text(v) for v in value)
    else:
        text = str(value)
    text = _LINE_BREAKS.sub(" ", text).replace("\x00", "")
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=True)


def _md_finalize(value):
    return _markdown_text(value)


_SAFE_METHODS = {
    str: frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit",
        "splitlines", "title", "capitalize", "casefold", "swapcase", "isdigit", "isalpha", "isalnum",
        "isidentifier", "isspace", "islower", "isupper", "isnumeric", "isdecimal", "count", "find",
        "rfind", "index", "rindex", "partition", "rpartition", "removeprefix", "removesuffix",
        "replace", "join",
    }),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
    LoopContext: frozenset({"cycle", "changed"}),
}


def _method_owner(obj):
    owner = getattr(obj, "__self__", None)
    if owner is None:
        return None, None
    for base in type(owner).__mro__:
        if base in _SAFE_METHODS:
            return base, owner
    return None, owner


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def getattr(self, obj, attribute):
        """``item.values`` means the input named ``values``, not the dict method."""
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        if __obj is _safe_range or __obj is _loop_budget or __obj is _concat or __obj is dict:
            return super().call(__context, __obj, *args, **kwargs)
        base, owner = _method_owner(__obj)
        name = getattr(__obj, "__name__", type(__obj).__name__)
        if base is None or name not in _SAFE_METHODS[base]:
            raise SecurityError(f"calling {name!r} is not allowed in templates")
        if base is str and name == "join":
            return _f_join(args[0] if args else (), owner)
        if base is str and name == "replace":
            return _f_replace(owner, *args, **kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        numbers = (int, float)
        if operator == "%":
            if isinstance(left, str):
                raise SecurityError("%-formatting is not allowed in templates; use separate placeholders")
        elif operator == "**":
            if isinstance(right, numbers) and abs(right) > MAX_POWER:
                raise SecurityError(f"exponents above {MAX_POWER} are not allowed in templates")
            if isinstance(left, int) and isinstance(right, int) and right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise SecurityError(f"integers above {MAX_INT_BITS} bits are not allowed in templates")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    _check_size(max(n, 0) * max(_size(seq), 1), "repetition")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SecurityError(f"integers above {MAX_INT_BITS} bits are not allowed in templates")
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                _check_size(_size(left) + _size(right), "concatenation")
        return super().call_binop(context, operator, left, right)


def _make_env(finalize) -> _Sandbox:
    env = _Sandbox(
        undefined=Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
        finalize=finalize,
    )
    env.globals.clear()
    env.globals.update({"range": _safe_range, "dict": dict, _LOOP_GLOBAL: _loop_budget, _CONCAT_GLOBAL: _concat})
    kept = {name: env.filters[name] for name in _KEPT_FILTERS}
    env.filters.clear()
    env.filters.update(kept)
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
    for node in tree.find_all(nodes.Stmt):
        if not isinstance(node, _ALLOWED_STATEMENTS):
            what = next((n for t, n in _STATEMENT_NAMES.items() if isinstance(node, t)), type(node).__name__)
            raise RenderError(f"{what} are not allowed in cell templates (line {node.lineno})")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise RenderError("recursive loops are not allowed in cell templates")
    if _loop_depth(tree) > MAX_LOOP_DEPTH:
        raise RenderError(f"loops may be nested at most {MAX_LOOP_DEPTH} deep in cell templates")
    tree = _Guard().visit(tree)  # loops count their steps, ~ checks its size
    try:
        names = meta.find_undeclared_variables(tree) - GLOBAL_NAMES
        compiled = env.from_string(tree)
    except TemplateSyntaxError as exc:  # unknown filters and tests are found here
        raise RenderError(f"template error on line {exc.lineno}: {exc.message}") from None
    return compiled, frozenset(names)


class _Guard(NodeTransformer):
    def visit_For(self, node):
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_LOOP_GLOBAL, "load"), [node.iter], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node):
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_CONCAT_GLOBAL, "load"), list(node.nodes), [], None, None, lineno=node.lineno)


# ---- rendering -------------------------------------------------------------

_SENTINEL_RE = re.compile(r"_dd[0-9a-f]{12}_\d+__")
_VERIFIED_CACHE_SIZE = 256


class _State:
    __slots__ = ("nonce", "prefix", "texts", "steps")

    def __init__(self):
        self.nonce = secrets.token_hex(6)
        self.prefix = f"_dd{self.nonce}_"
        self.texts: dict[str, str] = {}
        self.steps = 0


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
    token = _collector.set(_State())
    try:
        return _generate(compiled, context)
    finally:
        _collector.reset(token)


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
    as_names = _count_names(tree, keys)
    if as_names == text.count(state.prefix):
        return
    # Slow path: find where the other sentinels are.
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:  # pragma: no cover - parse succeeded above
        raise RenderError(f"rendered code cannot be tokenized: {exc}") from None
    fstring_depth = 0
    for tok in tokens:
        if tok.type == _FSTRING_START:
            fstring_depth += 1
        elif tok.type == _FSTRING_END:
            fstring_depth -= 1
        if state.prefix not in tok.string:
            continue
        if tok.type == tokenize.COMMENT:
            continue
        if tok.type == tokenize.NAME and tok.string in keys and not fstring_depth:
            continue
        if fstring_depth:
            raise RenderError(f"a placeholder sits inside an f-string (line {tok.start[0]}); compute the value outside it")
        where = f"line {tok.start[0]}"
        if tok.type == tokenize.STRING or tok.type not in (tokenize.NAME, tokenize.OP, tokenize.NUMBER):
            raise RenderError(
                f"a placeholder sits inside a string literal ({where}); "
                "write the placeholder as a whole expression, e.g. title={{ name }}"
            )
        raise RenderError(f"a placeholder is glued to other text ({where}); it must stand alone as an expression")


_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)
_FSTRING_END = getattr(tokenize, "FSTRING_END", -1)


def _count_names(tree: ast.AST, keys) -> int:
    """Sentinels standing as names in code, not counting those inside f-strings."""
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.JoinedStr):
            continue
        if isinstance(node, ast.Name) and node.id in keys:
            count += 1
        stack.extend(ast.iter_child_nodes(node))
    return count
