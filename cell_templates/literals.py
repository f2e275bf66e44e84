"""Python literals and checked names: the only ways a value reaches generated code.

``to_literal`` turns a JSON-like value into source text that evaluates back to
an equal value and cannot be anything but a literal: strings go through
``repr`` (which escapes quotes, backslashes, newlines, NUL, unicode line
separators and every other non-printable character, so the result is always
one line of printable text), numbers through ``repr`` with NaN and infinities
spelled ``float('nan')`` / ``float('inf')``.

``check_identifier`` is the gate for values that must become *names* in code
(a variable that receives a DataFrame, say): a plain ASCII identifier that is
not a keyword, not a builtin and not a dunder name. ``identifier_problem(name,
existing=True)`` is the same gate for the name of a variable that already exists
and is only read (the DataFrame the assistant analyses in a kernel).
"""

from __future__ import annotations

import builtins
import keyword
import math
import re

MAX_DEPTH = 32

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_EXISTING_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
_BUILTIN_NAMES = frozenset(dir(builtins))


class Code(str):
    """Source text that the renderer emits verbatim (only made by checked filters)."""

    __slots__ = ()


def _double_quoted(text: str) -> str:
    """A double-quoted, ASCII-only string literal (the style papermill writes)."""
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def to_literal(value, _depth: int = 0, *, style: str = "repr") -> str:
    """Python source for ``value``; raises ``TypeError`` / ``ValueError`` otherwise.

    ``style="repr"`` writes strings as ``repr`` does; ``style="papermill"``
    writes them double-quoted and ASCII-only, as papermill's parameter cells do.
    """
    if _depth > MAX_DEPTH:
        raise ValueError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return repr(value)
    if isinstance(value, str):
        return _double_quoted(str(value)) if style == "papermill" else repr(str(value))
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        value = float(value)
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(to_literal(v, _depth + 1, style=style) for v in value)
        if isinstance(value, tuple):
            return "(" + items + ("," if len(value) == 1 else "") + ")"
        return "[" + items + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(
            f"{to_literal(k, _depth + 1, style=style)}: {to_literal(v, _depth + 1, style=style)}" for k, v in value.items()
        ) + "}"
    raise TypeError(f"a value of type {type(value).__name__} cannot be written as a Python literal")


def identifier_problem(name, *, existing: bool = False) -> str | None:
    """Why ``name`` cannot be used as a variable name in generated code (None if it can).

    A name the code assigns has at most 64 characters and is neither a soft keyword
    nor a builtin; ``existing=True``: a variable that already exists and is only
    read may have up to 128 characters and the name of a builtin or a soft keyword.
    """
    if not isinstance(name, str):
        return f"expected a string, got {type(name).__name__}"
    if not (_EXISTING_RE if existing else _IDENT_RE).match(name):
        return ("must be an ASCII identifier (letters, digits, _; not starting with a digit; "
                f"at most {128 if existing else 64} characters)")
    if keyword.iskeyword(name) or (not existing and keyword.issoftkeyword(name)):
        return f"{name!r} is a Python keyword"
    if name.startswith("__"):
        return "names starting with '__' are reserved"
    if not existing and name in _BUILTIN_NAMES:
        return f"{name!r} would shadow a Python builtin"
    return None


def check_identifier(name) -> str:
    problem = identifier_problem(name)
    if problem:
        raise ValueError(f"invalid name {name!r}: {problem}" if isinstance(name, str) else problem)
    return name
