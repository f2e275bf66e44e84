"""JSON Schema validation that reports every problem with its JSON-pointer path."""

from __future__ import annotations

import re
from collections.abc import Mapping

from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import pointer

MAX_MESSAGE = 300

# Inputs from Python may hold tuples: they validate as JSON arrays.
InputValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("array", lambda _checker, value: isinstance(value, (list, tuple))),
)


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
        _report(err, list(prefix) + list(err.absolute_path), out)
    seen, unique = set(), []
    for e in sorted(out, key=lambda e: e["path"]):
        key = (e["path"], e["message"])
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique


def _report(err, base: list, out: list[dict]) -> None:
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
        # Report the branch the instance meant, not a dump of all: the branch whose
        # required properties are present, then the one with the fewest problems,
        # then the one whose problem lies deepest.
        branches: dict = {}
        for sub in err.context:
            branches.setdefault(sub.schema_path[0] if sub.schema_path else 0, []).append(sub)

        def rank(subs):
            missing = sum(1 for e in subs if e.validator == "required" and not e.relative_path)
            return (missing, len(subs), -max(len(e.relative_path) for e in subs))

        for sub in min(branches.values(), key=rank):
            _report(sub, base + list(sub.relative_path), out)
    else:
        out.append({"path": pointer(base), "message": _message(err)})


class FrozenList(tuple):
    """A read-only view of a JSON array in a frozen document; copied back as a list."""

    __slots__ = ()


_SCALARS = frozenset({str, int, float, bool, type(None)})


def copy_json(value):
    """A deep copy of JSON-like data, much cheaper than ``copy.deepcopy``.

    Any mapping becomes a dict and a frozen view a list, so read-only views (such
    as ``Template.examples``) can be passed back as inputs; tuples stay tuples; a
    ``str`` subclass (such as a checked-name marker) becomes plain text.
    """
    t = type(value)
    if t in _SCALARS:
        return value
    if t is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if t is list or t is FrozenList:
        return [copy_json(v) for v in value]
    if isinstance(value, dict) or isinstance(value, Mapping):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if isinstance(value, tuple):
        return tuple(copy_json(v) for v in value)
    if isinstance(value, str):
        return str.__str__(value)
    return value


def apply_defaults(schema: dict, instance):
    """Fill in ``default`` values of object properties, recursively (also inside array items), in place."""
    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, (list, tuple)):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in instance:
                apply_defaults(items, item)
        return instance
    if not isinstance(instance, dict):
        return instance
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if name not in instance and "default" in sub:
            instance[name] = copy_json(sub["default"])
        if name in instance:
            apply_defaults(sub, instance[name])
    return instance


# Keywords whose meaning differs between Draft 2020-12 and the drafts the fast
# validator implements, or that it does not check the same way. A schema that
# uses any of them (or a property so named: the walk is deliberately blunt) is
# validated by jsonschema alone.
_NOT_FAST = frozenset({
    "$schema", "$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
    "$vocabulary", "prefixItems", "unevaluatedItems", "unevaluatedProperties", "dependentRequired",
    "dependentSchemas", "dependencies", "contains", "minContains", "maxContains", "additionalItems",
    "format", "contentEncoding", "contentMediaType", "contentSchema", "if", "then", "else",
})


def _keys(schema):
    if isinstance(schema, dict):
        for k, v in schema.items():
            yield k
            yield from _keys(v)
    elif isinstance(schema, list):
        for v in schema:
            yield from _keys(v)


def fast_validator(schema: dict):
    """A compiled accept-only pre-check for a *trusted* schema, or None.

    fastjsonschema turns the schema into Python code, which is why it is used
    only for schemas that ship with the product or come from an administrator's
    folder, never for schemas written by users. It answers "valid" far faster
    than jsonschema; whenever it says anything else, jsonschema decides and
    reports every error. Schemas using keywords where the two could disagree
    in the accepting direction get no fast path.
    """
    if any(k in _NOT_FAST for k in _keys(schema)):
        return None
    try:
        import fastjsonschema

        check = fastjsonschema.compile(schema, use_default=False, use_formats=False)
    except Exception:  # not installed, or a schema it cannot handle: jsonschema alone
        return None

    def accepts(instance) -> bool:
        try:
            check(instance)
        except Exception:
            return False
        return True

    return accepts


def value_problems(value, max_depth: int = 32) -> list[dict]:
    """Problems no schema can express, found without recursion: nesting deeper than
    ``max_depth``, containers that contain themselves, and strings that are not
    valid Unicode text (lone surrogates cannot be saved in a notebook file)."""
    problems: list[dict] = []
    stack = [(value, (), 0, frozenset())]
    while stack and len(problems) < 50:
        item, path, depth, parents = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                problems.append({"path": pointer(path), "message": "is not valid Unicode text (lone surrogate)"})
            continue
        if isinstance(item, (Mapping, list, tuple)):
            if id(item) in parents:
                problems.append({"path": pointer(path), "message": "contains itself"})
                continue
            if depth >= max_depth:
                problems.append({"path": pointer(path), "message": f"is nested deeper than {max_depth} levels"})
                continue
            inner = parents | {id(item)}
            pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    try:
                        key.encode("utf-8")
                    except UnicodeEncodeError:
                        problems.append({"path": pointer(path + (key.encode("utf-8", "replace").decode(),)), "message": "key is not valid Unicode text"})
                        continue
                stack.append((child, path + (key,), depth + 1, inner))
    return sorted(problems, key=lambda p: p["path"])


def _refuse_retrieve(uri: str):
    raise ValueError(f"input schemas may not refer to other documents ({uri})")


NO_REMOTE = Registry(retrieve=_refuse_retrieve)


def ref_problems(schema, prefix=()) -> list[dict]:
    """References in a template's input schema must point inside it, and resolve.

    A reference to another document would make the server fetch a URL the
    template author chose: refused. Local ones are resolved now, so that a
    dangling reference is the author's error at load, not a failure at render.
    """
    problems: list[dict] = []
    refs: list[tuple[tuple, str]] = []
    stack = [(schema, tuple(prefix))]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                    refs.append((path + (key,), value))
                else:
                    stack.append((value, path + (key,)))
        elif isinstance(node, list):
            stack.extend((v, path + (i,)) for i, v in enumerate(node))
    if not refs:
        return problems
    resolver = NO_REMOTE.resolver_with_root(Resource.from_contents(schema, default_specification=DRAFT202012))
    for path, ref in refs:
        if not ref.startswith("#"):
            problems.append({"path": pointer(path), "message": "must refer inside this schema (start with '#')"})
            continue
        try:
            resolver.lookup(ref)
        except Exception:
            problems.append({"path": pointer(path), "message": f"{ref!r} does not resolve"})
    return sorted(problems, key=lambda p: p["path"])
