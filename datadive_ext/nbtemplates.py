"""Notebook templates, the pure part: a notebook's parameters, their JSON Schema, and the injected cell.

A notebook template is a whole notebook whose inputs are declared in a
papermill-style ``parameters`` cell (a code cell tagged ``parameters``). This
module does no I/O (the service in ``services/nbtemplates.py`` reads and writes):

- ``read_parameters(nb)`` parses that cell with ``ast`` (nothing is executed) into
  a ``ParameterSpec``: the parameter names, their literal defaults and a JSON
  Schema (Draft 2020-12) with types from annotations or defaults and descriptions
  from trailing comments;
- ``validate_values(spec, values)`` checks a set of values against it, every
  problem at once, each at ``/parameters/<name>``;
- ``inject(nb, values, spec)`` returns a new notebook with papermill's
  ``injected-parameters`` cell after the parameters cell, every value written by
  ``cell_templates.literals.to_literal`` (papermill's string style);
- ``fill_name(pattern, values)`` fills ``{name}`` placeholders of a file name and
  sanitises what the values bring in.

The rules and the reasons are in docs/notebook-templates.md.
"""

from __future__ import annotations

import ast
import copy
import io
import keyword
import math
import re
import tokenize
import unicodedata
from dataclasses import dataclass

import nbformat
from jsonschema import Draft202012Validator

from cell_templates.cells import source_text
from cell_templates.errors import pointer
from cell_templates.literals import to_literal
from cell_templates.validation import iter_errors, value_problems

from .errors import Invalid

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
INVALID_PARAMETERS = "invalid_parameters"
INVALID_TEMPLATE = "invalid_notebook_template"
# A parameters cell longer than this is not parsed (its template is refused).
MAX_PARAMETERS_SOURCE = 200_000
# Longest file-name stem made from a pattern, in UTF-8 bytes (a segment may have 255 with ".ipynb").
MAX_STEM_BYTES = 200
MAX_DESCRIPTION = 500

_SIMPLE_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean", "list": "array",
                 "dict": "object", "tuple": "array", "List": "array", "Dict": "object", "Tuple": "array",
                 "Sequence": "array", "Mapping": "object", "None": "null", "NoneType": "null"}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAGIC_LINE = re.compile(r"^[ \t]*[%!]")
# Bidirectional-text embeddings, overrides and isolates (also refused in notebook names).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


@dataclass(frozen=True)
class ParameterSpec:
    """The parameters a notebook declares.

    ``cell_index``: the index of its ``parameters`` cell; ``names``: the parameters in
    the order they first appear; ``schema``: the JSON Schema of a set of values;
    ``defaults``: ``{name: value}`` for the parameters whose default is a literal
    (Python values: a default of ``float('nan')`` is here, not in the schema).
    """

    cell_index: int
    names: tuple[str, ...]
    schema: dict
    defaults: dict


# ---- reading the parameters cell ---------------------------------------------------------


def _tags(cell) -> list:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return tags if isinstance(tags, list) else []


def parameters_cell_index(nb) -> int | None:
    """The index of the first code cell tagged ``parameters`` (papermill uses the first), or None."""
    for i, cell in enumerate(nb.get("cells") or []):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell):
            return i
    return None


def read_parameters(nb) -> ParameterSpec | None:
    """The parameters declared by ``nb``'s ``parameters`` cell; None when no cell is tagged so.

    Raises ``Invalid`` (code ``invalid_notebook_template``, path
    ``/cells/<i>/source``) when that cell is not Python that parses.
    """
    index = parameters_cell_index(nb)
    if index is None:
        return None
    where = f"/cells/{index}/source"
    source = source_text(nb["cells"][index].get("source"))
    if len(source) > MAX_PARAMETERS_SOURCE:
        raise Invalid("the parameters cell is too long", [{"path": where, "message": f"is longer than {MAX_PARAMETERS_SOURCE} characters"}],
                      code=INVALID_TEMPLATE)
    try:
        code, tree = source, _parse_cell(source)
    except SyntaxError:
        # IPython magics and shell escapes (``%matplotlib inline``, ``!pip ...``) are not Python: blanked, lines kept.
        code = "\n".join("" if _MAGIC_LINE.match(line) else line for line in source.split("\n"))
        try:
            tree = _parse_cell(code)
        except SyntaxError as exc:
            line = f" (line {exc.lineno})" if exc.lineno else ""
            raise Invalid("the parameters cell is not valid Python", [{"path": where, "message": f"does not parse{line}: {exc.msg}"}],
                          code=INVALID_TEMPLATE) from None
    comments = _comments(code)

    found: dict[str, dict] = {}  # name -> {"schema", "default"?}, in order of first appearance
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, annotation, value = stmt.targets, None, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.simple:
            targets, annotation, value = [stmt.target], stmt.annotation, stmt.value
        else:
            continue  # imports, calls, augmented assignments, blocks: run by the notebook, not parameters
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if len(names) != len(targets):
            continue  # ``a, b = 1, 2`` / ``d["k"] = 1`` / ``obj.x = 1``: not parameters
        comment = comments.get(stmt.end_lineno) or comments.get(stmt.lineno)
        for name in names:
            if name.startswith("_"):
                continue  # private to the notebook
            previous = found.get(name)
            if annotation is None and previous is not None and "annotated" in previous:
                # ``x: int = 1`` then ``x = 2``: the annotation still types x; the last value is the default.
                found[name] = _parameter(previous["annotated"], value, comment or previous.get("comment"))
            else:
                found[name] = _parameter(annotation, value, comment)
    names = tuple(found)  # a name assigned again keeps its place
    properties, defaults, required = {}, {}, []
    for name in names:
        entry = found[name]
        properties[name] = entry["schema"]
        if "default" in entry:
            defaults[name] = entry["default"]
        elif entry.get("required"):
            required.append(name)
    schema = {"$schema": SCHEMA_DIALECT, "type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = required
    return ParameterSpec(index, names, schema, defaults)


def _parse_cell(code: str) -> ast.Module:
    """``ast.parse``; every failure of the parser (deep nesting included) as ``SyntaxError``."""
    try:
        return ast.parse(code)
    except SyntaxError:
        raise
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SyntaxError(str(exc) or type(exc).__name__) from None


def _comments(code: str) -> dict[int, str]:
    """``{line number: comment text}`` for the comments of ``code`` (which parses)."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                text = tok.string.lstrip("#").strip()
                if text:
                    out[tok.start[0]] = text[:MAX_DESCRIPTION]
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


class _NotLiteral(Exception):
    pass


def literal_value(node: ast.AST):
    """The JSON-like value of a literal expression; ``_NotLiteral`` otherwise.

    Literals: strings, numbers (a sign included), True / False / None, lists and
    tuples (as lists), dicts with string keys, and ``float('nan')`` / ``float('inf')``
    / ``-float('inf')``. Sets, bytes, complex numbers and everything else are not.
    """
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, (bool, int, float, str)):
            return node.value
        raise _NotLiteral
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = literal_value(node.operand)
        if isinstance(inner, bool) or not isinstance(inner, (int, float)):
            raise _NotLiteral
        return -inner if isinstance(node.op, ast.USub) else +inner
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                raise _NotLiteral  # ``{**other}``
            key = literal_value(k)
            if not isinstance(key, str):
                raise _NotLiteral
            out[key] = literal_value(v)
        return out
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float" and len(node.args) == 1
            and not node.keywords and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            and node.args[0].value.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity")):
        return float(node.args[0].value)
    raise _NotLiteral


def _json_default(value) -> bool:
    """Whether a default can be written as a JSON Schema ``default`` (finite numbers only)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_default(v) for v in value)
    if isinstance(value, dict):
        return all(_json_default(v) for v in value.values())
    return True


def _parameter(annotation, value, comment) -> dict:
    entry: dict = {}
    schema: dict | None = None
    if annotation is not None:
        entry["annotated"] = annotation
        try:
            schema = _annotation_schema(annotation)
        except RecursionError:
            schema = None
    default, has_default = None, False
    if value is not None:
        try:
            default, has_default = literal_value(value), True
        except (_NotLiteral, RecursionError):
            pass
    if schema is None:
        schema = _value_schema(default) if has_default else {}
    schema = dict(schema)
    if has_default:
        if default is None and not _accepts_null(schema):
            schema = _with_null(schema)  # ``x: str = None``: optional, as PEP 484 once implied
        entry["default"] = default
        if _json_default(default):
            schema["default"] = default
    elif value is None:
        entry["required"] = True  # ``x: int`` with no value: the notebook needs it from outside
    if comment:
        schema["description"] = comment
        entry["comment"] = comment
    entry["schema"] = schema
    return entry


def _value_schema(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        kinds = {_value_schema(v).get("type") for v in value}
        if kinds == {"integer", "number"}:
            kinds = {"number"}
        if len(kinds) == 1 and None not in kinds and kinds <= {"string", "integer", "number", "boolean"}:
            return {"type": "array", "items": {"type": kinds.pop()}}
        return {"type": "array"}
    return {"type": "object"}


def _accepts_null(schema: dict) -> bool:
    if not schema or "type" not in schema and "anyOf" not in schema and "enum" not in schema:
        return True
    t = schema.get("type")
    if t == "null" or (isinstance(t, list) and "null" in t):
        return True
    if "enum" in schema:
        return None in schema["enum"]
    return any(_accepts_null(s) for s in schema.get("anyOf", []))


def _with_null(schema: dict) -> dict:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    t = schema.get("type")
    if isinstance(t, str) and set(schema) == {"type"}:
        return {"type": [t, "null"]}
    if isinstance(t, list) and set(schema) == {"type"}:
        return {"type": [*t, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _annotation_name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("typing", "t", "collections", "abc"):
        return node.attr
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):  # collections.abc.Sequence
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return None


def _annotation_schema(node) -> dict | None:
    """The JSON Schema of an annotation, or None when it says nothing JSON can check (then the default decides)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # ``x: "int" = 1``
        try:
            return _annotation_schema(ast.parse(node.value, mode="eval").body)
        except (SyntaxError, ValueError, RecursionError):
            return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # ``int | None``
        return _union([_flatten_or(node)])
    name = _annotation_name(node)
    if name is not None:
        if name == "Any":
            return {}
        simple = _SIMPLE_TYPES.get(name)
        return {"type": simple} if simple else None
    if isinstance(node, ast.Subscript):
        outer = _annotation_name(node.value)
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer == "Optional" and len(args) == 1:
            inner = _annotation_schema(args[0])
            return None if inner is None else _with_null(inner) if not _accepts_null(inner) else inner
        if outer == "Union":
            return _union([args])
        if outer == "Literal":
            values = []
            for a in args:
                try:
                    values.append(literal_value(a))
                except _NotLiteral:
                    return None
            types = {_value_schema(v).get("type") for v in values}
            out = {"enum": values}
            if len(types) == 1 and None not in types:
                out = {"type": types.pop(), "enum": values}
            return out
        if outer in ("list", "List", "Sequence", "tuple", "Tuple", "set", "Set") and args:
            if outer in ("tuple", "Tuple") and not (len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis):
                items = [_annotation_schema(a) or {} for a in args]
                return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
            item = _annotation_schema(args[0])
            return {"type": "array", "items": item} if item else {"type": "array"}
        if outer in ("dict", "Dict", "Mapping") and len(args) == 2:
            value = _annotation_schema(args[1])
            return {"type": "object", "additionalProperties": value} if value else {"type": "object"}
        simple = _SIMPLE_TYPES.get(outer or "")
        return {"type": simple} if simple else None
    return None


def _flatten_or(node) -> list:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _flatten_or(node.left) + _flatten_or(node.right)
    return [node]


def _union(groups) -> dict | None:
    members = [_annotation_schema(a) for a in groups[0]]
    if any(m is None for m in members):
        return None
    if any(m == {} for m in members):
        return {}
    if all(set(m) == {"type"} and isinstance(m["type"], str) for m in members):
        types = list(dict.fromkeys(m["type"] for m in members))
        return {"type": types[0] if len(types) == 1 else types}
    nulls = [m for m in members if m == {"type": "null"}]
    others = [m for m in members if m != {"type": "null"}]
    if len(others) == 1:
        return _with_null(others[0]) if nulls else others[0]
    return {"anyOf": members}


# ---- values ----------------------------------------------------------------------------------


def _invalid(message: str, errors: list[dict]) -> Invalid:
    return Invalid(message, errors, code=INVALID_PARAMETERS)


def validate_values(spec: ParameterSpec | None, values, path: str = "/parameters") -> None:
    """Check ``values`` against the notebook's parameters; ``Invalid`` (``invalid_parameters``) lists every problem.

    Each error's path is ``<path>/<name>`` (or deeper); a name the notebook does not
    declare is refused (``is not a parameter of this notebook``). With ``spec`` None
    (no parameters cell), any value is refused.
    """
    if not isinstance(values, dict):
        raise _invalid("parameters must be an object", [{"path": path, "message": "must be of type object"}])
    errors = [{"path": path + p["path"], "message": p["message"]} for p in value_problems(values)]
    errors += [{"path": path + pointer([k]), "message": "must be a text key"} for k in values if not isinstance(k, str)]
    if errors:
        raise _invalid("invalid parameters", errors)
    if spec is None:
        if values:
            raise _invalid("this notebook declares no parameters (it has no cell tagged 'parameters')",
                           [{"path": path + pointer([k]), "message": "is not a parameter of this notebook (it has none)"} for k in values])
        return
    for name, value in values.items():
        try:
            to_literal(value)
        except (TypeError, ValueError) as exc:
            errors.append({"path": path + pointer([name]), "message": str(exc)})
    found = iter_errors(Draft202012Validator(spec.schema), values)
    for e in found:
        message = "is not a parameter of this notebook" if e["message"] == "is not an allowed property" else e["message"]
        errors.append({"path": path + e["path"], "message": message})
    if errors:
        raise _invalid("the parameters are invalid", sorted(errors, key=lambda e: e["path"]))


def _coerce(value, schema: dict):
    """A whole float for an ``integer`` parameter becomes an int, an int for a ``number`` parameter a float
    (``Optional`` ones too), so the notebook sees the declared type."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    t = schema.get("type")
    types = set(t) if isinstance(t, list) else {t}
    if "integer" in types and "number" not in types and isinstance(value, float) and value.is_integer():
        return int(value)
    if "number" in types and "integer" not in types and isinstance(value, int):
        return float(value)
    return value


def parameters_source(values: dict, spec: ParameterSpec | None = None, path: str = "/parameters") -> str:
    """papermill's parameter text: ``# Parameters`` then one ``name = literal`` line each, in the
    notebook's order of declaration. Names ``spec`` does not declare are refused (``Invalid`` at ``<path>/<name>``)."""
    properties = (spec.schema.get("properties") or {}) if spec is not None else {}
    order = [n for n in (spec.names if spec is not None else ()) if n in values]
    order += [n for n in values if n not in order]
    lines = ["# Parameters\n"]
    errors = []
    for name in order:
        if spec is None or name not in spec.names or not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            errors.append({"path": path + pointer([str(name)]), "message": "is not a parameter of this notebook"})
            continue
        try:
            lines.append(f"{name} = {to_literal(_coerce(values[name], properties.get(name, {})), style='papermill')}\n")
        except (TypeError, ValueError) as exc:
            errors.append({"path": path + pointer([name]), "message": str(exc)})
    if errors:
        raise _invalid("the parameters are invalid", errors)
    return "".join(lines)


def _ensure_cell_ids(nb) -> None:
    """Cell ids came with nbformat 4.5: an older notebook is upgraded so the new cell may carry one."""
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) < 5:
        nb["nbformat_minor"] = 5
    from nbformat.corpus.words import generate_corpus_id

    seen = set()
    for cell in nb.get("cells") or []:
        cid = cell.get("id")
        if not isinstance(cid, str) or not cid or cid in seen:
            cell["id"] = cid = generate_corpus_id()
        seen.add(cid)


def inject(nb, values: dict, spec: ParameterSpec | None) -> nbformat.NotebookNode:
    """A new notebook (``nb`` untouched): ``nb`` with an ``injected-parameters`` cell holding ``values``.

    The cell goes right after the ``parameters`` cell (at the top when ``spec`` is
    None), replacing any earlier ``injected-parameters`` cells, tagged and written as
    papermill writes it, with a fresh cell id. Only declared names are written
    (``Invalid`` otherwise); values go through ``to_literal``. Values are not
    validated here: call ``validate_values`` first.
    """
    source = parameters_source(dict(values), spec)
    out = nbformat.from_dict(copy.deepcopy(dict(nb)))
    out["cells"] = [c for c in (out.get("cells") or []) if INJECTED_TAG not in _tags(c)]
    _ensure_cell_ids(out)
    index = parameters_cell_index(out) if spec is not None else None
    cell = nbformat.v4.new_code_cell(source=source)
    cell.metadata["tags"] = [INJECTED_TAG]
    taken = {c.get("id") for c in out["cells"]}
    while cell.id in taken:
        cell.id = nbformat.v4.new_code_cell().id
    out["cells"].insert(0 if index is None else index + 1, cell)
    return out


# ---- title and description ------------------------------------------------------------------

# A Markdown ATX heading: its text is what follows the #s, with the closing #s and spaces
# trimmed in Python (a pattern that trims them backtracks on long runs of spaces).
_HEADING_START = re.compile(r"[ ]{0,3}#{1,6}[ \t]+")


def _heading(line: str) -> str | None:
    """The text of a heading line, or None when the line is no heading."""
    m = _HEADING_START.match(line)
    if m is None:
        return None
    return line[m.end():].rstrip().rstrip("#").rstrip()


def _plain(text) -> str:
    text = text if isinstance(text, str) else ""
    text = " ".join(text.split())
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 3] + "..."


def describe(nb, fallback: str) -> tuple[str, str]:
    """``(title, description)`` of a notebook template.

    The title is ``metadata.datadive.title``, else ``metadata.title``, else the first
    Markdown heading of the notebook, else ``fallback``. The description is
    ``metadata.datadive.description``, else ``metadata.description``, else the text
    that follows that heading in its cell (up to the next heading), else empty.
    Both are plain text on one line (at most 500 characters).
    """
    meta = nb.get("metadata") or {}
    own = meta.get("datadive") if isinstance(meta.get("datadive"), dict) else {}
    title = _plain(own.get("title")) or _plain(meta.get("title"))
    description = _plain(own.get("description")) or _plain(meta.get("description"))
    if not title or not description:
        for cell in nb.get("cells") or []:
            if cell.get("cell_type") != "markdown":
                continue
            lines = source_text(cell.get("source")).splitlines()
            for i, line in enumerate(lines):
                heading = _heading(line)
                if not heading:
                    continue
                rest = []
                for following in lines[i + 1:]:
                    if _heading(following) is not None:
                        break
                    rest.append(following)
                if not title:
                    title = _plain(heading)
                    description = description or _plain(" ".join(rest))
                break
            else:
                continue
            break
    return title or fallback, description


# ---- file names ----------------------------------------------------------------------------


def _value_text(name: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) or v is None for v in value):
        return "-".join(_value_text(name, v) for v in value)
    raise Invalid(f"the parameter {name!r} cannot fill a file name", [{"path": "/name", "message": f"{{{name}}} cannot hold an object"}],
                  code="invalid_path")


def sanitise(text: str) -> str:
    """Text that came from a value, made safe inside a file name.

    NFKC-normalised (fullwidth solidus and dots become ASCII first), then: control
    characters, format characters (bidirectional controls, zero-width characters)
    and line / paragraph separators removed; ``/`` and ``\\`` replaced by ``_``; runs
    of dots reduced to one; surrounding white space trimmed.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if c not in _BIDI and unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
    text = text.replace("/", "_").replace("\\", "_")
    text = re.sub(r"\.{2,}", ".", text)
    return text.strip()


def fill_name(pattern: str, values: dict) -> str:
    """The file name for a new notebook: ``pattern`` with each ``{name}`` replaced by ``values[name]``.

    ``{{`` and ``}}`` stand for braces; a placeholder naming no value stays as
    written. Each filled value is ``sanitise``d; the stem (the name without
    ``.ipynb``) is stripped of leading dots and white space and cut to
    ``MAX_STEM_BYTES``; ``.ipynb`` is added. Raises ``Invalid`` (path ``/name``,
    code ``invalid_path``) when nothing usable is left or a value cannot be text.
    """
    stem = pattern[:-len(".ipynb")] if pattern.endswith(".ipynb") else pattern

    def fill(m: re.Match) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        name = m.group(1)
        if name not in values:
            return m.group(0)
        return sanitise(_value_text(name, values[name]))

    filled = _PLACEHOLDER.sub(fill, stem)
    # The pattern itself is a file name that exists; the whole result is checked once more.
    filled = sanitise(filled).lstrip(". \t")
    encoded = filled.encode("utf-8")
    if len(encoded) > MAX_STEM_BYTES:
        filled = encoded[:MAX_STEM_BYTES].decode("utf-8", "ignore").rstrip(". \t")
    if not filled:
        raise Invalid("the file name made from the template's name and the parameters is empty",
                      [{"path": "/name", "message": f"the pattern {pattern!r} gives an empty name with these parameters: give a name"}],
                      code="invalid_path")
    name = filled + ".ipynb"
    if "/" in name or "\\" in name or name.startswith(".") or any(unicodedata.category(c) == "Cc" for c in name):
        raise Invalid("unsafe file name", [{"path": "/name", "message": "is not a safe file name"}], code="invalid_path")
    return name


__all__ = [
    "INJECTED_TAG", "PARAMETERS_TAG", "ParameterSpec", "describe", "fill_name", "inject", "literal_value", "parameters_cell_index",
    "parameters_source", "read_parameters", "sanitise", "validate_values",
]
