"""JSON Schema validation that reports every problem with its JSON-pointer path."""

from __future__ import annotations

import contextvars
import re
import urllib.parse
from collections.abc import Mapping
from functools import lru_cache

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import pointer

MAX_MESSAGE = 300

# Inputs from Python may hold tuples: they validate as JSON arrays.
InputValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("array", lambda _checker, value: isinstance(value, (list, tuple))),
)


# ---- untrusted patterns: a linear-time engine ------------------------------------------
#
# jsonschema matches ``pattern`` and ``patternProperties`` with Python's backtracking
# ``re``: ``(a+)+$`` against forty ``a`` and a ``!`` does not finish in a lifetime.
# Input schemas written by users (and read from template folders) are validated by
# ``LinearInputValidator`` instead, whose keywords match with RE2 (google-re2): time
# linear in the text, and the constructs that need backtracking (backreferences,
# lookaround, possessive and atomic groups) are refused when the template is loaded
# (``pattern_problems``), each with the path of its pattern and the reason.

# RE2 is linear in the text, but each character can cost up to one step per
# instruction of the compiled program (a counted repetition is unrolled) in RE2's
# slowest mode, about 4-5 ns a step. The checks of one input set (``match_budget``)
# may take at most this many steps together, so validating stays under about 0.25 s
# whatever the patterns and the values; a value that would overrun it is refused.
MAX_MATCH_STEPS = 50_000_000
# Memory RE2 may use for one pattern (program and matching cache); a pattern that
# needs more is refused as too large.
RE2_MAX_MEM = 1 << 20
_LINEAR = "patterns run on a linear-time engine"


class PatternError(ValueError):
    """A pattern the linear-time engine cannot run (or a text too long for it); the message says why."""


_re2_options = None


def _re2():
    """google-re2, imported on first use (a kernel that never loads a user template does not pay for it)."""
    global _re2_options
    import re2

    if _re2_options is None:
        options = re2.Options()
        options.log_errors = False  # refusals are reported to the author, not to stderr
        options.never_capture = True  # only "does it match" is asked: RE2 can stay in its fastest mode
        options.max_mem = RE2_MAX_MEM
        _re2_options = options
    return re2


_U4 = re.compile(r"\\u([0-9A-Fa-f]{4})")
_U_BRACED = re.compile(r"\\u\{([0-9A-Fa-f]{1,6})\}")


def ecma_to_re2(pattern: str) -> str:
    """A JSON Schema pattern (ECMA-262 syntax) spelled for RE2: ``\\uXXXX`` (surrogate
    pairs joined), ``\\u{X}``, ``\\cX`` and ``[\\b]`` become ``\\x{...}``. Everything else
    is passed as written; what RE2 cannot run is refused by ``compile_pattern``."""
    if "\\" not in pattern:
        return pattern
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c != "\\" or i + 1 == n:
            if c == "[" and not in_class:
                in_class = True
            elif c == "]" and in_class:
                in_class = False
            out.append(c)
            i += 1
            continue
        nxt = pattern[i + 1]
        m = _U4.match(pattern, i) if nxt == "u" else None
        if m:
            code = int(m.group(1), 16)
            low = _U4.match(pattern, m.end()) if 0xD800 <= code < 0xDC00 else None
            if low and 0xDC00 <= int(low.group(1), 16) < 0xE000:
                code = 0x10000 + ((code - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
                m = low
            out.append(f"\\x{{{code:X}}}")
            i = m.end()
            continue
        m = _U_BRACED.match(pattern, i) if nxt == "u" else None
        if m:
            out.append(f"\\x{{{m.group(1)}}}")
            i = m.end()
            continue
        if nxt == "c" and i + 2 < n and pattern[i + 2].isascii() and pattern[i + 2].isalpha():
            out.append(f"\\x{{{ord(pattern[i + 2]) % 32:02X}}}")
            i += 3
            continue
        if nxt == "b" and in_class:
            out.append("\\x{08}")
        else:
            out.append(pattern[i : i + 2])
        i += 2
    return "".join(out)


def _why(exc: Exception) -> str:
    """RE2's refusal, said for a template author."""
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    kind, _, arg = str(text).partition(": ")
    if kind == "invalid escape sequence":
        if re.fullmatch(r"\\[1-9k]", arg):
            return f"backreferences are not supported: {_LINEAR}"
        if arg == "\\Z":
            return "\\Z is not supported: use \\z (the end of the text) or $"
        return f"the escape {arg} is not supported by the linear-time engine"
    if kind == "invalid perl operator":
        if arg.startswith(("(?=", "(?!")):
            return f"lookahead ((?=...), (?!...)) is not supported: {_LINEAR}"
        if arg.startswith(("(?<=", "(?<!")):
            return f"lookbehind ((?<=...), (?<!...)) is not supported: {_LINEAR}"
        if arg.startswith("(?>"):
            return f"atomic groups ((?>...)) are not supported: {_LINEAR}"
        if arg.startswith("(?P"):
            return f"backreferences and recursion ((?P=name), (?P>name)) are not supported: {_LINEAR}"
        return f"the group {arg} is not supported by the linear-time engine"
    if kind == "bad repetition operator":
        if len(arg) >= 2 and arg.endswith("+") and arg[-2] in "*+?}":
            return f"possessive quantifiers ({arg}) are not supported: {_LINEAR}"
        return f"a quantifier may not follow another one ({arg}); group the first: (?:a{{2}}){{3}}"
    if kind == "invalid repetition size":
        return (f"the repetition {arg} is not supported: counts go up to 1000, nested counted repetitions "
                "may multiply to at most 1000, and a minimum may not exceed its maximum")
    if kind.startswith("pattern too large"):
        return ("is too large for the linear-time engine: shorten it, or use fewer or smaller counted "
                "repetitions (a `+` with maxLength instead of {1,500})")
    return f"is not a valid pattern for the linear-time engine (RE2): {text}"


def _compile(pattern: str):
    re2 = _re2()
    try:
        return re2.compile(ecma_to_re2(pattern), _re2_options)
    except re2.error as exc:
        raise PatternError(_why(exc)) from None


@lru_cache(maxsize=128)
def compile_pattern(pattern: str):
    """The RE2 program of a JSON Schema pattern (cached); ``PatternError`` saying why it cannot run."""
    return _compile(pattern)


_steps_left: contextvars.ContextVar = contextvars.ContextVar("datadive_match_steps", default=None)


class match_budget:
    """``with match_budget():`` the pattern checks inside share ``MAX_MATCH_STEPS`` (one input set)."""

    def __enter__(self):
        self._token = _steps_left.set([MAX_MATCH_STEPS])
        return self

    def __exit__(self, *exc):
        _steps_left.reset(self._token)
        return False


def linear_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``, with RE2.

    ``PatternError`` when the pattern cannot run, or when the check could take more
    steps (text length x program size) than are left of the ``match_budget`` (or
    than ``MAX_MATCH_STEPS`` outside one).
    """
    regex = compile_pattern(pattern)
    size = max(regex.programsize, 1)
    cost = len(text) * size
    left = _steps_left.get()
    limit = left[0] if left is not None else MAX_MATCH_STEPS
    if cost > limit:
        raise PatternError(f"is too long to be checked against the pattern {_short(pattern)} (at most {limit // size:,} characters)")
    if left is not None:
        left[0] -= cost
    return regex.search(text) is not None


def _matches(pattern: str, text: str) -> bool:
    """``linear_search`` where a pattern that cannot run (or a text too long) matches nothing."""
    try:
        return linear_search(pattern, text)
    except PatternError:
        return False


def _linear_pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = linear_search(pattern, instance)
    except PatternError as exc:
        yield ValidationError(str(exc), cause=exc)
        return
    if not matched:
        yield ValidationError(f"does not match {pattern!r}")


def _linear_pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            try:
                matched = linear_search(pattern, key)
            except PatternError as exc:
                yield ValidationError(f"property name: {exc}", path=[key], cause=exc)
                continue
            if matched:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _extra_properties(instance, schema, search=_matches):
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for name in instance:
        if name not in properties and not any(search(p, name) for p in patterns):
            yield name


def _linear_additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    extras = sorted(set(_extra_properties(instance, schema)), key=str)
    if validator.is_type(additional, "object"):
        for name in extras:
            yield from validator.descend(instance[name], additional, path=name)
    elif not additional and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, extras))} unexpected)")


def _is_linear_regex(instance) -> bool:
    """``format: regex``: the value must be a pattern the linear-time engine runs (compiled, never matched)."""
    if isinstance(instance, str):
        _compile(instance)  # not cached: values typed into forms do not crowd out the schemas' patterns
    return True


def _iri_via_uri(check):
    """An IRI check through the URI one (RFC 3987 section 3.1: non-ASCII characters
    percent-encoded as UTF-8). The IRI grammar jsonschema uses (rfc3987-syntax) takes
    seconds on a few thousand characters; the URI grammar is linear."""

    def is_iri(instance) -> bool:
        if not isinstance(instance, str):
            return True
        return check("".join(c if c < "\x80" else urllib.parse.quote(c, safe="") for c in instance))

    return is_iri


def _format_checker(linear: bool) -> FormatChecker:
    base = Draft202012Validator.FORMAT_CHECKER
    checker = FormatChecker(formats=())
    checker.checkers = dict(base.checkers)
    for iri, uri in (("iri", "uri"), ("iri-reference", "uri-reference")):
        checker.checkers.pop(iri, None)
        if uri in base.checkers:
            check, raises = base.checkers[uri]
            checker.checkers[iri] = (_iri_via_uri(check), raises)
    if linear:
        checker.checkers["regex"] = (_is_linear_regex, PatternError)
    return checker


# Formats of trusted (built-in) schemas, and of user and folder ones.
TRUSTED_FORMATS = _format_checker(linear=False)
LINEAR_FORMATS = _format_checker(linear=True)

# The validator of user and folder templates: every pattern keyword runs on RE2.
LinearInputValidator = validators.extend(
    InputValidator,
    validators={
        "pattern": _linear_pattern,
        "patternProperties": _linear_pattern_properties,
        "additionalProperties": _linear_additional_properties,
    },
)

# Keywords whose values are subschemas (Draft 2020-12): where ``pattern_problems`` looks.
_ONE_SCHEMA = ("additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
               "unevaluatedItems", "unevaluatedProperties")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def pattern_problems(schema, prefix=()) -> list[dict]:
    """Every pattern of an input schema that the linear-time engine cannot run, at its JSON pointer.

    Looks at ``pattern`` values and ``patternProperties`` keys in every subschema.
    ``unevaluatedProperties`` cannot be combined with ``patternProperties``: jsonschema
    evaluates that pair with Python's ``re``, out of this module's reach.
    """
    problems: list[dict] = []
    found = {"patternProperties": None, "unevaluatedProperties": None}
    stack = [(schema, tuple(prefix))]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict):
            continue
        for key in found:
            if key in node and found[key] is None:
                found[key] = path + (key,)
        checks = []
        if isinstance(node.get("pattern"), str):
            checks.append((node["pattern"], path + ("pattern",)))
        if isinstance(node.get("patternProperties"), dict):
            checks += [(key, path + ("patternProperties", key)) for key in node["patternProperties"]]
        for pattern, where in checks:
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                problems.append({"path": pointer(where), "message": str(exc)})
        for key in _ONE_SCHEMA:
            if isinstance(node.get(key), dict):
                stack.append((node[key], path + (key,)))
        for key in _SCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend((sub, path + (key, name)) for name, sub in node[key].items())
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack.extend((sub, path + (key, i)) for i, sub in enumerate(node[key]))
    if not all(found.values()):  # a blunt second look: anywhere at all, subschema or not
        for key in found:
            found[key] = found[key] or _first_key(schema, key, tuple(prefix))
    if all(found.values()):
        problems.append({
            "path": pointer(found["unevaluatedProperties"]),
            "message": "cannot be combined with patternProperties in a user or folder template (that pair "
                       "would be evaluated by a backtracking engine); use additionalProperties instead",
        })
    return sorted(problems, key=lambda p: p["path"])


def _first_key(schema, wanted: str, prefix: tuple):
    stack = [(schema, prefix)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if wanted in node:
                return path + (wanted,)
            stack.extend((v, path + (k,)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, path + (i,)) for i, v in enumerate(node))
    return None


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
    if isinstance(err.cause, PatternError):
        return f"is not a valid regex: {err.cause}" if v == "format" else str(err.cause)
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
    search = _matches if isinstance(validator, LinearInputValidator) else re.search
    for err in validator.iter_errors(instance):
        _report(err, list(prefix) + list(err.absolute_path), out, search)
    seen, unique = set(), []
    for e in sorted(out, key=lambda e: e["path"]):
        key = (e["path"], e["message"])
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique


def _report(err, base: list, out: list[dict], search=re.search) -> None:
    if err.validator == "required" and isinstance(err.instance, dict):
        for name in err.validator_value:
            if name not in err.instance:
                out.append({"path": pointer(base + [name]), "message": "is required"})
    elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        patterns = err.schema.get("patternProperties", {})
        for name in err.instance:
            if name not in allowed and not any(search(p, name) for p in patterns):
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
            _report(sub, base + list(sub.relative_path), out, search)
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


def fast_validator(schema: dict, *, patterns: bool = True):
    """A compiled accept-only pre-check for a *trusted* schema, or None.

    fastjsonschema turns the schema into Python code, which is why it is used
    only for schemas that ship with the product or come from an administrator's
    folder, never for schemas written by users. It answers "valid" far faster
    than jsonschema; whenever it says anything else, jsonschema decides and
    reports every error. Schemas using keywords where the two could disagree
    in the accepting direction get no fast path; nor, with ``patterns=False``
    (folder templates, whose patterns must run on RE2), do schemas with patterns:
    the compiled code would match them with Python's ``re``.
    """
    refused = _NOT_FAST if patterns else _NOT_FAST | {"pattern", "patternProperties"}
    if any(k in refused for k in _keys(schema)):
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
