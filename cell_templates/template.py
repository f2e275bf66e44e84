"""The Template model: a validated, immutable cell template."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from types import MappingProxyType

from jsonschema import Draft202012Validator

from .cells import build_cell, encode_inputs, source_hash
from .errors import InputError, TemplateError, pointer
from .render import RenderError, compile_source, render_code, render_markdown
from .schemas import load_schema
from .validation import (
    LINEAR_FORMATS,
    NO_REMOTE,
    TRUSTED_FORMATS,
    FrozenList,
    InputValidator,
    LinearInputValidator,
    apply_defaults,
    copy_json,
    fast_validator,
    iter_errors,
    match_budget,
    pattern_problems,
    ref_problems,
    value_problems,
)

# A template document nested deeper than this is refused before any validator recurses into it.
MAX_DOC_DEPTH = 64

_DOC_VALIDATOR: Draft202012Validator | None = None
_META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def _doc_validator() -> Draft202012Validator:
    global _DOC_VALIDATOR
    if _DOC_VALIDATOR is None:
        _DOC_VALIDATOR = Draft202012Validator(load_schema("template"))
    return _DOC_VALIDATOR


def _freeze(value):
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(_freeze(v) for v in value)
    return value


def _join(source) -> str:
    return "".join(source) if isinstance(source, list) else source


class Template:
    """An immutable cell template built from a template document.

    Build one with :meth:`from_dict`; read its fields as attributes (nested
    values are read-only views); :meth:`to_dict` gives back a plain document.
    """

    __slots__ = (
        "id", "version", "title", "description", "category", "tags", "language",
        "inputs", "ui", "cells", "requires", "locked", "examples", "assistant",
        "_doc", "_validator", "_fast", "_compiled", "_input_names", "_verified", "_trusted", "_linear", "_frozen",
    )

    def __init__(self, *a, **k):  # pragma: no cover - guard against direct construction
        raise TypeError("use Template.from_dict(document)")

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError("Template is immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise AttributeError("Template is immutable")

    def __repr__(self) -> str:
        return f"<Template {self.id} v{self.version}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Template) and self._doc == other._doc

    def __hash__(self) -> int:
        return hash((self.id, self.version))

    # -- construction -------------------------------------------------------

    @classmethod
    def from_dict(cls, doc, *, trusted: bool = False, checked: bool = False, linear: bool | None = None) -> "Template":
        """Validate ``doc`` fully and return a Template; raise ``TemplateError`` listing every problem.

        ``trusted`` is for documents that ship with the product or come from an
        administrator's folder: their input schema may be compiled to Python
        code for a faster "valid" answer. Never pass it for user documents.

        ``checked`` (implies trusted) is for documents already validated when
        they were shipped (the built-in library, whose every document and
        example the test suite checks): loading skips the checks and compiles
        the sources on first use, so that starting a server stays fast.

        ``linear`` (default: neither trusted nor checked) runs the input schema's
        patterns (``pattern``, ``patternProperties``, ``format: regex`` values) on
        RE2, a linear-time engine, and refuses at load any pattern RE2 cannot run,
        with its path. A folder template is ``trusted=True, linear=True``: its
        schema may be compiled, but not its patterns.
        """
        linear = not (trusted or checked) if linear is None else bool(linear)
        if not isinstance(doc, dict):
            raise TemplateError("a template document must be a JSON object", [{"path": "", "message": "must be of type object"}])
        errors = [] if checked else value_problems(doc, max_depth=MAX_DOC_DEPTH)
        if errors:  # validators recurse: refuse what would exhaust the stack before they run
            raise TemplateError("the template document is invalid", errors)
        try:
            errors = [] if checked else iter_errors(_doc_validator(), doc)
            inputs_schema = doc.get("inputs")
            if isinstance(inputs_schema, dict) and not checked:
                errors += iter_errors(_META_VALIDATOR, inputs_schema, ("inputs",))
                if not errors:
                    errors += ref_problems(inputs_schema, ("inputs",))
                if not errors and linear:
                    errors += pattern_problems(inputs_schema, ("inputs",))
        except RecursionError:
            raise TemplateError("the template document is nested too deeply", [{"path": "/inputs", "message": "is nested too deeply"}]) from None
        if errors:
            raise TemplateError("the template document is invalid", errors)

        doc = copy.deepcopy(doc)
        doc.setdefault("version", 1)
        doc.setdefault("language", "python")
        doc.setdefault("locked", False)
        for key, empty in (("description", ""), ("category", "general"), ("tags", []), ("requires", []), ("ui", {})):
            doc.setdefault(key, empty)

        self = object.__new__(cls)
        object.__setattr__(self, "_frozen", False)
        self._doc = doc
        self._input_names = tuple(sorted((inputs_schema.get("properties") or {}).keys()))
        self._trusted = trusted or checked
        self._linear = linear
        self._compiled = self._verified = self._validator = self._fast = None
        for name in ("id", "version", "title", "description", "category", "language", "locked"):
            object.__setattr__(self, name, doc[name])
        for name in ("tags", "inputs", "ui", "cells", "requires", "examples"):
            object.__setattr__(self, name, _freeze(doc[name]))
        object.__setattr__(self, "assistant", _freeze(doc.get("assistant")))
        self._frozen = True
        if checked:
            return self

        errors = self._prepare()
        if errors:
            raise TemplateError("the template document is invalid", errors)
        for i, example in enumerate(doc["examples"]):
            try:
                self.render_sources(example["inputs"])
            except InputError as exc:
                errors += [{"path": pointer(("examples", i, "inputs")) + e["path"], "message": e["message"]} for e in exc.errors]
            except TemplateError as exc:
                errors += [{"path": e["path"], "message": f"example {i}: {e['message']}"} for e in exc.errors]
        if errors:
            raise TemplateError("the template document is invalid", errors)
        return self

    def _prepare(self) -> list[dict]:
        """Compile the sources and build the input validators (once). Returns the problems found."""
        if self._compiled is not None:
            return []
        errors, compiled = [], []
        declared = set(self._input_names)
        for i, cell in enumerate(self._doc["cells"]):
            path = pointer(("cells", i, "source"))
            try:
                tmpl, names = compile_source(_join(cell["source"]), cell["cell_type"])
            except RenderError as exc:
                errors.append({"path": path, "message": str(exc)})
                continue
            unknown = sorted(names - declared)
            if unknown:
                errors.append({"path": path, "message": "uses names that are not inputs: " + ", ".join(unknown)})
            compiled.append((cell["cell_type"], tmpl))
        if errors:
            return errors
        inputs = self._doc["inputs"]
        if self._linear:
            validator = LinearInputValidator(inputs, format_checker=LINEAR_FORMATS, registry=NO_REMOTE)
        else:
            validator = InputValidator(inputs, format_checker=TRUSTED_FORMATS, registry=NO_REMOTE)
        object.__setattr__(self, "_validator", validator)
        object.__setattr__(self, "_fast", fast_validator(inputs, patterns=not self._linear) if self._trusted else None)
        object.__setattr__(self, "_verified", tuple({} for _ in compiled))
        object.__setattr__(self, "_compiled", tuple(compiled))
        return []

    def _ready(self) -> None:
        if self._compiled is None:
            errors = self._prepare()
            if errors:
                raise TemplateError(f"template {self.id} is invalid", errors)

    @property
    def prepared(self) -> bool:
        """Whether the sources are compiled and the validators built (a first render does it)."""
        return self._compiled is not None

    def to_dict(self) -> dict:
        """A plain, independent copy of the document (with ``version``)."""
        return copy.deepcopy(self._doc)

    def with_version(self, version: int) -> "Template":
        """The same document under another version number (used by stores)."""
        doc = self.to_dict()
        doc["version"] = version
        return Template.from_dict(doc, trusted=self._trusted, linear=self._linear)

    # -- inputs -------------------------------------------------------------

    def validate_inputs(self, inputs=None) -> dict:
        """Inputs with schema defaults applied; raise ``InputError`` listing every problem."""
        self._ready()
        if inputs is None:
            inputs = {}
        if not isinstance(inputs, Mapping):
            raise InputError("inputs must be an object", [{"path": "", "message": "must be of type object"}])
        problems = value_problems(inputs)
        if problems:
            raise InputError(f"{len(problems)} invalid input{'s' if len(problems) > 1 else ''}", problems)
        values = apply_defaults(self._doc["inputs"], copy_json(inputs))
        if self._fast is not None and self._fast(values):
            return values
        if self._linear:
            with match_budget():  # the patterns of one input set share a bounded number of RE2 steps
                errors = iter_errors(self._validator, values)
        else:
            errors = iter_errors(self._validator, values)
        if errors:
            raise InputError(f"{len(errors)} invalid input{'s' if len(errors) > 1 else ''}", errors)
        return values

    # -- rendering ------------------------------------------------------------

    def render_sources(self, inputs=None) -> tuple[dict, list[tuple[str, str]]]:
        """Validated inputs and ``[(cell_type, source), ...]`` without building cells."""
        values = self.validate_inputs(inputs)
        context = dict.fromkeys(self._input_names)
        context.update(values)
        out, errors = [], []
        for i, (cell_type, tmpl) in enumerate(self._compiled):
            try:
                if cell_type == "code":
                    text = render_code(tmpl, context, self._verified[i])
                else:
                    text = render_markdown(tmpl, context)
            except RenderError as exc:
                errors.append({"path": pointer(("cells", i, "source")), "message": str(exc)})
                continue
            out.append((cell_type, text))
        if errors:
            raise TemplateError(f"template {self.id} could not be rendered", errors)
        return values, out

    def render(self, inputs=None) -> list[dict]:
        """nbformat 4.5 cells, each with a fresh id and ``metadata.datadive`` provenance."""
        values, sources = self.render_sources(inputs)
        return [
            build_cell(self, part, cell_type, source, encode_inputs(values), cell_id=str(uuid.uuid4()), owned=True)
            for part, (cell_type, source) in enumerate(sources)
        ]

    def render_part(self, part: int, inputs=None) -> tuple[dict, str, str]:
        """Validated inputs, cell type and source of one cell of the template."""
        values, sources = self.render_sources(inputs)
        cell_type, source = sources[part]
        return values, cell_type, source

    def cell_metadata(self, part: int) -> dict:
        """Extra metadata the document gives the template's cell ``part``."""
        return copy_json(self._doc["cells"][part].get("metadata", {}))


__all__ = ["Template", "source_hash"]
