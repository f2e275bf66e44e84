"""Template documents: validation with JSON paths, immutability, inputs, rendering to nbformat cells."""

import ast
import copy
import math

import nbformat
import pytest

from cell_templates import InputError, Template, TemplateError, source_hash


def make_doc(**overrides):
    doc = {
        "id": "mean-of-column",
        "title": "Mean of a column",
        "category": "explore",
        "inputs": {
            "type": "object",
            "required": ["column"],
            "properties": {
                "df": {"type": "string", "default": "df", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "column": {"type": "string", "minLength": 1},
                "digits": {"type": "integer", "minimum": 0, "maximum": 10, "default": 2},
                "options": {
                    "type": "object",
                    "properties": {"skipna": {"type": "boolean", "default": True}},
                    "default": {},
                },
            },
        },
        "cells": [
            {"cell_type": "markdown", "source": "## Mean of {{ column }}"},
            {"cell_type": "code", "source": "result = round({{ df|ident }}[{{ column }}].mean(skipna={{ options.skipna }}), {{ digits }})\nresult"},
        ],
        "examples": [{"title": "age", "inputs": {"column": "age"}}],
    }
    doc.update(overrides)
    return doc


def paths(exc):
    return sorted(e["path"] for e in exc.errors)


# ---- document validation -----------------------------------------------------

def test_valid_document_builds_frozen_template():
    t = Template.from_dict(make_doc())
    assert (t.id, t.version, t.language, t.locked) == ("mean-of-column", 1, "python", False)
    assert t.inputs["properties"]["column"]["type"] == "string"
    with pytest.raises(AttributeError):
        t.title = "changed"
    with pytest.raises(TypeError):
        t.inputs["properties"]["x"] = {}
    with pytest.raises(TypeError):
        t.inputs["properties"]["column"]["type"] = "integer"


def test_to_dict_is_an_independent_copy():
    doc = make_doc()
    t = Template.from_dict(doc)
    doc["cells"][1]["source"] = "changed = 1"  # the caller's dict is not shared
    out = t.to_dict()
    out["title"] = "other"
    assert t.title == "Mean of a column"
    assert "round(" in t.cells[1]["source"]
    assert Template.from_dict(t.to_dict()) == t


def test_every_document_problem_is_reported_with_its_path():
    doc = make_doc(id="Bad Id!", tags=["a", "a"], locked="yes", extra=1)
    doc["cells"].append({"cell_type": "raw", "source": "x"})
    doc["cells"][0]["bogus"] = True
    del doc["title"]
    with pytest.raises(TemplateError) as info:
        Template.from_dict(doc)
    assert paths(info.value) == ["/cells/0/bogus", "/cells/2/cell_type", "/extra", "/id", "/locked", "/tags", "/title"]
    assert info.value.code == "invalid_template"
    assert all(e["message"] for e in info.value.errors)


def test_inputs_must_be_an_object_schema_and_a_valid_json_schema():
    with pytest.raises(TemplateError) as info:
        Template.from_dict(make_doc(inputs={"type": "array"}))
    assert "/inputs/type" in paths(info.value)
    bad = make_doc()
    bad["inputs"]["properties"]["digits"]["minimum"] = "zero"
    bad["inputs"]["properties"]["bad name"] = {"type": "string"}
    with pytest.raises(TemplateError) as info:
        Template.from_dict(bad)
    assert "/inputs/properties/digits/minimum" in paths(info.value)
    assert "/inputs/properties" in paths(info.value)  # propertyNames: not usable as a placeholder name


def test_not_an_object():
    with pytest.raises(TemplateError) as info:
        Template.from_dict(["not", "a", "document"])
    assert info.value.errors == [{"path": "", "message": "must be of type object"}]


def test_jinja_syntax_error_and_unknown_placeholder_point_at_the_cell():
    doc = make_doc()
    doc["cells"][0]["source"] = "## {{ column "
    doc["cells"][1]["source"] = "x = {{ colum }}"
    with pytest.raises(TemplateError) as info:
        Template.from_dict(doc)
    errors = {e["path"]: e["message"] for e in info.value.errors}
    assert set(errors) == {"/cells/0/source", "/cells/1/source"}
    assert "syntax" in errors["/cells/0/source"]
    assert "colum" in errors["/cells/1/source"]


def test_examples_are_validated_and_rendered_at_load():
    doc = make_doc(examples=[{"inputs": {"column": "age"}}, {"inputs": {"digits": 99}}])
    with pytest.raises(TemplateError) as info:
        Template.from_dict(doc)
    assert paths(info.value) == ["/examples/1/inputs/column", "/examples/1/inputs/digits"]
    with pytest.raises(TemplateError) as info:
        Template.from_dict(make_doc(examples=[]))
    assert paths(info.value) == ["/examples"]


def test_source_may_be_a_list_of_lines():
    doc = make_doc()
    doc["cells"][1]["source"] = ["result = {{ df|ident }}[{{ column }}].mean()\n", "result"]
    cells = Template.from_dict(doc).render({"column": "a"})
    assert cells[1]["source"] == "result = df['a'].mean()\nresult"


# ---- inputs ---------------------------------------------------------------------

def test_defaults_are_applied_recursively_and_inputs_not_mutated():
    t = Template.from_dict(make_doc())
    given = {"column": "age", "options": {}}
    values = t.validate_inputs(given)
    assert values == {"column": "age", "df": "df", "digits": 2, "options": {"skipna": True}}
    assert given == {"column": "age", "options": {}}


def test_every_input_error_with_its_path():
    t = Template.from_dict(make_doc())
    with pytest.raises(InputError) as info:
        t.validate_inputs({"df": "1bad", "digits": 11, "options": {"skipna": "no"}})
    assert info.value.code == "invalid_inputs"
    assert paths(info.value) == ["/column", "/df", "/digits", "/options/skipna"]
    with pytest.raises(InputError) as info:
        t.validate_inputs("column=age")
    assert paths(info.value) == [""]


def test_error_messages_do_not_echo_huge_values():
    t = Template.from_dict(make_doc())
    with pytest.raises(InputError) as info:
        t.validate_inputs({"column": "x", "digits": "9" * 100_000})
    assert all(len(e["message"]) < 400 for e in info.value.errors)


# ---- rendering --------------------------------------------------------------------

def test_render_gives_valid_nbformat_cells_with_provenance():
    t = Template.from_dict(make_doc())
    cells = t.render({"column": "body mass (g)", "digits": 1})
    md, code = cells
    assert md["cell_type"] == "markdown" and md["source"] == r"## Mean of body mass \(g\)"
    assert code["source"] == "result = round(df['body mass (g)'].mean(skipna=True), 1)\nresult"
    assert code["outputs"] == [] and code["execution_count"] is None
    assert md["id"] != code["id"]
    meta = code["metadata"]["datadive"]
    assert meta == {
        "template": "mean-of-column",
        "version": 1,
        "part": 1,
        "inputs": {"column": "body mass (g)", "digits": 1, "df": "df", "options": {"skipna": True}},
        # sha256 of the source's UTF-8 text, computed apart (sha256sum of the exact source above)
        "source_hash": "sha256:7f50da8064d633a5f85e838693b251f9133b946c889cdb1dad396d335bda53c9",
    }
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.from_dict(c) for c in cells]
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.nbformat_minor >= 5
    ast.parse(code["source"])


def test_source_hash_is_the_sha256_of_the_text():
    # Known digests: sha256 of the empty string, and of "x = 1\nx" (a list of lines is its joined text).
    assert source_hash("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert source_hash("x = 1\nx") == "sha256:30119d38b62a5f049f691edaf37ba02b0ca33d0ba7c3ee635b830c11823ce66b"
    assert source_hash(["x = 1\n", "x"]) == source_hash("x = 1\nx")


def test_each_render_has_fresh_ids():
    t = Template.from_dict(make_doc())
    ids = {c["id"] for _ in range(20) for c in t.render({"column": "a"})}
    assert len(ids) == 40


def test_locked_template_marks_cells_not_editable():
    t = Template.from_dict(make_doc(locked=True))
    for cell in t.render({"column": "a"}):
        assert cell["metadata"]["editable"] is False
        assert cell["metadata"]["deletable"] is False


def test_values_become_literals_that_evaluate_back():
    doc = make_doc(
        inputs={"type": "object", "properties": {"v": {}}},
        cells=[{"cell_type": "code", "source": "v = {{ v }}"}],
        examples=[{"inputs": {"v": 1}}],
    )
    t = Template.from_dict(doc)
    for value in [
        "it's \"quoted\"", "C:\\Users\\new\\table.csv", "line\nbreak", "\u2028\x00é✓", 10**40, -0.0, 1.5e-300,
        float("inf"), float("-inf"), True, None, [1, "a", [None]], {"k": {"n": [1.5, False]}},
    ]:
        source = t.render({"v": value})[0]["source"]
        ns = {}
        exec(compile(source, "<cell>", "exec"), {"__builtins__": {"float": float}}, ns)
        assert ns["v"] == value and type(ns["v"]) is type(value)
    nan = t.render({"v": float("nan")})[0]
    assert nan["source"] == "v = float('nan')"
    assert nan["metadata"]["datadive"]["inputs"] == {"v": {"$float": "nan"}}  # strict JSON in the file


def test_optional_inputs_without_default_are_none_in_the_template():
    doc = make_doc(
        inputs={"type": "object", "properties": {"title": {"type": "string"}}},
        cells=[{"cell_type": "code", "source": "{% if title %}t = {{ title }}{% else %}t = None{% endif %}"}],
        examples=[{"inputs": {}}],
    )
    t = Template.from_dict(doc)
    assert t.render({})[0]["source"] == "t = None"
    assert t.render({"title": "x"})[0]["source"] == "t = 'x'"


def test_extra_cell_metadata_is_copied():
    doc = make_doc()
    doc["cells"][1]["metadata"] = {"tags": ["analysis"], "jupyter": {"source_hidden": True}}
    cell = Template.from_dict(doc).render({"column": "a"})[1]
    assert cell["metadata"]["tags"] == ["analysis"]
    assert cell["metadata"]["jupyter"] == {"source_hidden": True}


def test_with_version():
    t = Template.from_dict(make_doc())
    t3 = t.with_version(3)
    assert (t.version, t3.version) == (1, 3)
    assert t3.render({"column": "a"})[1]["metadata"]["datadive"]["version"] == 3


def test_render_does_not_share_inputs_with_the_caller():
    t = Template.from_dict(make_doc())
    inputs = {"column": "a", "options": {"skipna": False}}
    cell = t.render(inputs)[1]
    cell["metadata"]["datadive"]["inputs"]["options"]["skipna"] = "mutated"
    assert inputs == {"column": "a", "options": {"skipna": False}}
    assert copy.deepcopy(t.render(inputs)[1]["metadata"]["datadive"]["inputs"]["options"]) == {"skipna": False}


def test_non_finite_inputs_round_trip_through_strict_json():
    from cell_templates import decode_inputs, encode_inputs

    value = {"a": [float("nan"), float("inf"), -math.inf, 1.0], "b": {"$float": "nope"}}
    back = decode_inputs(encode_inputs(value))
    assert math.isnan(back["a"][0]) and back["a"][1:] == [math.inf, -math.inf, 1.0]
    assert back["b"] == {"$float": "nope"}


# ---- trusted templates: the compiled pre-check never changes an answer ----------------

def test_trusted_fast_path_agrees_with_jsonschema():
    plain = Template.from_dict(make_doc())
    trusted = Template.from_dict(make_doc(), trusted=True)
    assert plain._fast is None and trusted._fast is not None
    cases = [
        {"column": "a"}, {"column": ""}, {"column": 1}, {}, {"column": "a", "digits": 1.0}, {"column": "a", "digits": True},
        {"column": "a", "digits": -1}, {"column": "a", "df": "x y"}, {"column": "a", "options": {"skipna": 0}},
        {"column": "a", "options": []}, {"column": "a", "extra": [1, 2]}, {"column": "a", "digits": float("nan")},
    ]
    for inputs in cases:
        outcomes = []
        for t in (plain, trusted):
            try:
                outcomes.append(("ok", t.validate_inputs(inputs)))
            except InputError as exc:
                outcomes.append(("error", exc.errors))
        assert outcomes[0] == outcomes[1], inputs


def test_no_fast_path_where_drafts_could_disagree():
    from cell_templates.validation import fast_validator

    assert fast_validator({"type": "object", "properties": {"a": {"type": "string"}}}) is not None
    for schema in (
        {"type": "object", "properties": {"a": {"type": "string", "format": "date"}}},
        {"type": "object", "properties": {"a": {"type": "array", "prefixItems": [{"type": "string"}]}}},
        {"type": "object", "dependentRequired": {"a": ["b"]}},
        {"type": "object", "unevaluatedProperties": False},
    ):
        assert fast_validator(schema) is None, schema


def test_every_builtin_document_passes_the_full_checks():
    """The library loads its documents as already checked; here every one gets the full checks."""
    import json
    import os

    from cell_templates import builtin_templates, library

    folder = library.__path__[0]
    loaded = builtin_templates()
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            doc = json.load(f)
        full = Template.from_dict(doc)  # schema, inputs meta-schema, sources, every example rendered
        fast = loaded[full.id]
        assert fast.to_dict() == full.to_dict()
        for example in doc["examples"]:
            assert [c["source"] for c in fast.render(example["inputs"])] == [c["source"] for c in full.render(example["inputs"])]
