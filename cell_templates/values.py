"""The value grammar of ``%datadive`` lines: how a value is typed, read back and written.

Nothing is ever evaluated. A value is read as JSON first (``5``, ``0.01``,
``true``, ``null``, ``["a","b"]``, ``"two words"``), then as a Python *literal*
(``ast.literal_eval``: ``'two words'``, ``True``, ``None``, tuples become lists),
else it is the text as typed (``species``, ``data/x.csv``). Text that starts with
a quote or a bracket must be a complete literal. :func:`format_value` writes a
value so that :func:`parse_value` reads it back unchanged, which is how
``%datadive insert`` lines are written by the reports and the forms.

Pure: no IPython import. A line that cannot be read raises :class:`LineError`
(the magics show it as IPython's ``UsageError``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping

from .errors import pointer

MAX_VALUE_CHARS = 100_000
MAX_DEPTH = 32

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")


class LineError(ValueError):
    """A line that cannot be split into tokens, or a token that is not ``key=value``."""


def _jsonable(value, depth=0):
    """``value`` (from ``ast.literal_eval``) as JSON types; tuples become lists.

    Raises ValueError for sets, bytes, complex numbers and non-string keys.
    """
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError("object keys must be strings")
            out[k] = _jsonable(v, depth + 1)
        return out
    raise ValueError(f"a {type(value).__name__} is not a JSON value")


def parse_value(text: str):
    """The value of a ``key=value`` token, without ever evaluating code.

    JSON first; then a Python literal (``ast.literal_eval``: strings in single
    quotes, ``True`` / ``False`` / ``None``, lists, tuples -> lists, dicts); else
    the text itself. Text starting with a quote or a bracket must parse, else
    ``ValueError``. The empty text is the empty string.
    """
    if not isinstance(text, str):
        raise TypeError("text must be a str")
    if text == "":
        return ""
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"value longer than {MAX_VALUE_CHARS} characters")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if text[0] in "\"'[{(":
            raise ValueError(f"{text[:60]!r} is not a complete JSON or Python literal (quote text that has spaces or quotes)") from None
        return text
    return _jsonable(value)


def format_value(value) -> str:
    """``value`` written so that :func:`parse_value` reads it back unchanged."""
    if isinstance(value, str) and _BARE.fullmatch(value):
        try:
            if parse_value(value) == value:
                return value
        except ValueError:
            pass
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    if not text.isprintable():
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    return text


def insert_command(template_id: str, inputs: dict) -> str:
    """The ``%datadive insert`` line that renders ``template_id`` with ``inputs``."""
    parts = ["%datadive", "insert", template_id]
    parts += [f"{k}={format_value(v)}" for k, v in inputs.items()]
    return " ".join(parts)


def split_line(line: str) -> list[str]:
    """Split at whitespace outside quotes and brackets; quotes are kept (values are parsed later)."""
    tokens, buf = [], []
    quote = None
    depth = 0
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < n:
                buf.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch in "[{(":
            depth += 1
            buf.append(ch)
        elif ch in "]})":
            depth -= 1
            if depth < 0:
                raise LineError(f"unbalanced {ch!r} in: {line.strip()}")
            buf.append(ch)
        elif ch.isspace() and depth == 0:
            if buf:
                tokens.append("".join(buf))
                buf = []
        else:
            buf.append(ch)
        i += 1
    if quote:
        raise LineError(f"a quote ({quote}) is not closed in: {line.strip()}\n"
                        "Put values that hold quotes or spaces in double quotes, e.g. title=\"Tom's data\".")
    if depth:
        raise LineError(f"a bracket is not closed in: {line.strip()}")
    if buf:
        tokens.append("".join(buf))
    return tokens


def _schema_type(schema) -> str | None:
    t = schema.get("type") if isinstance(schema, Mapping) else None
    return t if isinstance(t, str) else None


def parse_assignments(tokens, properties) -> tuple[dict, list[dict]]:
    """``key=value`` tokens -> (inputs, errors as ``{path, message}``).

    An input whose schema type is exactly ``string`` keeps an unquoted value as
    text (``column=2019`` is the column ``"2019"``). A token without ``=`` raises
    :class:`LineError`.
    """
    values, errors = {}, []
    for token in tokens:
        key, sep, raw = token.partition("=")
        if not sep:
            raise LineError(f"expected key=value, got {token!r}")
        if not _KEY.fullmatch(key):
            errors.append({"path": pointer((key,)), "message": "is not a valid input name"})
            continue
        if key in values:
            errors.append({"path": "/" + key, "message": "is given twice"})
            continue
        try:
            value = parse_value(raw)
        except ValueError as exc:
            errors.append({"path": "/" + key, "message": str(exc)})
            continue
        schema = properties.get(key)
        if (_schema_type(schema) == "string" and not isinstance(value, str)
                and raw and raw[0] not in "\"'[{(" and not isinstance(value, (list, dict))):
            value = raw  # column=2019, title=true: an unquoted value of a text input is its text
        if schema is None:
            errors.append({"path": "/" + key, "message": "is not an input of this template"})
            continue
        values[key] = value
    return values, errors


__all__ = ["LineError", "MAX_VALUE_CHARS", "parse_value", "format_value", "insert_command", "split_line", "parse_assignments"]
