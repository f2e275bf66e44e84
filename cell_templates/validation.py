"""JSON Schema validation that reports every problem with its JSON-pointer path."""

from __future__ import annotations

import copy
import re

from jsonschema import Draft202012Validator

from .errors import pointer

MAX_MESSAGE = 300


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err) -> str:
    """A readable message that does not echo a whole (possibly huge or hostile) value."""
    v, val = err.validator, err.validator_value
    if v == "type":
        wanted = " or ".join(val) if isinstance(val, list) else val
        return f"must be of type {wanted}"
    if v == "enum":
        return "must be one of " + ", ".join(_short(x) for x in val)
    if v == "const":
        return f"must be {_short(val)}"
    if v == "pattern":
        return f"does not match the pattern {val!r}"
    if v in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        what = {"Length": "characters", "Items": "items", "Properties": "properties"}[v[3:]]
        return f"must have {'at least' if v.startswith('min') else 'at most'} {val} {what}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        return f"must be {op} {val}"
    if v == "uniqueItems":
        return "items must be unique"
    if v == "format":
        return f"is not a valid {val}"
    message = err.message
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


def iter_errors(validator: Draft202012Validator, instance, prefix=()) -> list[dict]:
    """Every error as ``{"path", "message"}``, sorted by path, one per offending location.

    ``required`` points at each missing property and ``additionalProperties``
    at each extra one, so a form can mark the exact field.
    """
    out: list[dict] = []
    for err in validator.iter_errors(instance):
        base = list(prefix) + list(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            for name in err.validator_value:
                if name not in err.instance:
                    out.append({"path": pointer(base + [name]), "message": "is required"})
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            patterns = err.schema.get("patternProperties", {})
            for name in err.instance:
                if name not in allowed and not any(re.search(p, name) for p in patterns):
                    out.append({"path": pointer(base + [name]), "message": "is not an allowed property"})
        elif err.validator in ("oneOf", "anyOf") and err.context:
            # Report the branch that came closest (deepest path), not a dump of all.
            best = max(err.context, key=lambda e: len(e.absolute_path))
            out.append({"path": pointer(base + list(best.relative_path)), "message": _message(best)})
        else:
            out.append({"path": pointer(base), "message": _message(err)})
    seen, unique = set(), []
    for e in sorted(out, key=lambda e: e["path"]):
        key = (e["path"], e["message"])
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique


def apply_defaults(schema: dict, instance):
    """Fill in ``default`` values of object properties, recursively, in place."""
    if not isinstance(schema, dict) or not isinstance(instance, dict):
        return instance
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
        if name in instance:
            apply_defaults(sub, instance[name])
    return instance
