"""Cell state, re-generation and papermill parameter cells."""

import nbformat
import pytest

from cell_templates import (
    CellEditedError,
    CellError,
    InputError,
    Template,
    cell_state,
    parameters_cell,
    rerender,
)


def doc(version=1, source="n = {{ n }}\nlabel = {{ label }}", locked=False, cells=None):
    return {
        "id": "counter",
        "version": version,
        "title": "Counter",
        "locked": locked,
        "inputs": {
            "type": "object",
            "properties": {"n": {"type": "integer", "default": 1}, "label": {"type": "string", "default": "a"}},
        },
        "cells": cells or [{"cell_type": "code", "source": source}],
        "examples": [{"inputs": {}}],
    }


def validate(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.from_dict(c) for c in cells]
    nbformat.validate(nb)


def test_states():
    t1 = Template.from_dict(doc())
    t2 = Template.from_dict(doc(version=2))
    cell = t1.render({"n": 3})[0]
    assert cell_state(cell) == "generated"
    assert cell_state(cell, t1) == "generated"
    assert cell_state(cell, t2) == "outdated"
    assert cell_state(cell, Template.from_dict({**doc(version=5), "id": "other"})) == "generated"
    edited = {**cell, "source": cell["source"] + "\nprint(n)"}
    assert cell_state(edited) == "edited"
    assert cell_state(edited, t2) == "edited"  # an edit wins: re-generating would lose it
    as_lines = {**cell, "source": cell["source"].splitlines(keepends=True)}
    assert cell_state(as_lines) == "generated"  # nbformat's list-of-lines form is the same source
    assert cell_state(nbformat.v4.new_code_cell("x = 1")) == "plain"
    assert cell_state({"cell_type": "code", "source": "", "metadata": {"datadive": "junk"}}) == "plain"


def test_rerender_keeps_id_and_other_metadata_and_clears_outputs():
    t = Template.from_dict(doc())
    cell = t.render({"n": 3})[0]
    cell["metadata"]["tags"] = ["keep-me"]
    cell["metadata"]["collapsed"] = True
    cell["execution_count"] = 7
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "3\n"}]
    new = rerender(cell, t, {"n": 4, "label": "b"})
    assert new["id"] == cell["id"]
    assert new["source"] == "n = 4\nlabel = 'b'"
    assert new["outputs"] == [] and new["execution_count"] is None
    assert new["metadata"]["tags"] == ["keep-me"] and new["metadata"]["collapsed"] is True
    assert new["metadata"]["datadive"]["inputs"] == {"n": 4, "label": "b"}
    assert cell_state(new) == "generated"
    assert cell["source"] == "n = 3\nlabel = 'a'"  # the original is not modified
    validate([new])


def test_rerender_refuses_an_edited_cell_unless_forced():
    t = Template.from_dict(doc())
    cell = t.render({"n": 3})[0]
    cell["source"] += "  # my note"
    with pytest.raises(CellEditedError) as info:
        rerender(cell, t, {"n": 4})
    assert info.value.code == "cell_edited"
    assert info.value.errors == [{"path": "/source", "message": "differs from the generated source"}]
    forced = rerender(cell, t, {"n": 4}, force=True)
    assert forced["source"] == "n = 4\nlabel = 'a'"


def test_upgrade_with_recorded_inputs():
    t1 = Template.from_dict(doc())
    t2 = Template.from_dict(doc(version=2, source="n = {{ n }} * 2\nlabel = {{ label }}"))
    cell = t1.render({"n": 5, "label": "x"})[0]
    up = rerender(cell, t2)
    assert up["source"] == "n = 5 * 2\nlabel = 'x'"
    assert up["metadata"]["datadive"]["version"] == 2
    assert cell_state(up, t2) == "generated"


def test_upgrade_to_a_schema_the_old_inputs_no_longer_fit():
    t1 = Template.from_dict(doc())
    newer = doc(version=2)
    newer["inputs"]["properties"]["n"] = {"type": "integer", "maximum": 2}
    t2 = Template.from_dict(newer)
    cell = t1.render({"n": 5})[0]
    with pytest.raises(InputError) as info:
        rerender(cell, t2)
    assert [e["path"] for e in info.value.errors] == ["/n"]


def test_rerender_part_of_a_multi_cell_template_and_lock_changes():
    cells_doc = [
        {"cell_type": "markdown", "source": "# Count {{ n }}"},
        {"cell_type": "code", "source": "n = {{ n }}"},
    ]
    t1 = Template.from_dict(doc(cells=cells_doc, locked=True))
    md, code = t1.render({"n": 2})
    assert code["metadata"]["datadive"]["part"] == 1
    assert code["metadata"]["editable"] is False
    t2 = Template.from_dict(doc(version=2, cells=cells_doc, locked=False))
    new_code = rerender(code, t2, {"n": 9})
    assert new_code["source"] == "n = 9"
    assert "editable" not in new_code["metadata"] and "deletable" not in new_code["metadata"]
    assert rerender(md, t2, {"n": 9})["source"] == "# Count 9"
    shorter = Template.from_dict(doc(version=3, cells=[cells_doc[1]]))
    with pytest.raises(CellError) as info:
        rerender(code, shorter, {"n": 1})
    assert info.value.errors[0]["path"] == "/metadata/datadive/part"


def test_rerender_refuses_plain_cells_and_other_templates():
    t = Template.from_dict(doc())
    with pytest.raises(CellError) as info:
        rerender(nbformat.v4.new_code_cell("x = 1"), t, {})
    assert info.value.errors[0]["path"] == "/metadata/datadive"
    other = Template.from_dict({**doc(), "id": "other"})
    with pytest.raises(CellError) as info:
        rerender(t.render({})[0], other, {})
    assert info.value.errors[0]["path"] == "/metadata/datadive/template"


# ---- parameters cells ------------------------------------------------------------

def test_parameters_cell_is_papermill_style_and_evaluates_back():
    params = {
        "input_path": 'C:\\data\\"q" é.csv',
        "alpha": 0.05,
        "n": 10,
        "flag": False,
        "nothing": None,
        "groups": ["a", "b"],
        "limits": {"lo": -1.5, "hi": float("inf")},
    }
    cell = parameters_cell(params)
    assert cell["metadata"]["tags"] == ["parameters"]
    assert cell["cell_type"] == "code" and cell["outputs"] == []
    lines = cell["source"].splitlines()
    assert lines[0] == "# Parameters"
    assert lines[1] == 'input_path = "C:\\\\data\\\\\\"q\\" \\xe9.csv"'  # double quotes, ASCII only
    assert cell["source"].isascii()
    ns = {}
    exec(cell["source"], {"__builtins__": {"float": float}}, ns)
    assert ns == params
    validate([cell])


def test_parameters_cell_checks_names():
    with pytest.raises(InputError) as info:
        parameters_cell({"ok": 1, "1bad": 2, "class": 3, "x; import os": 4, "__dunder": 5, "print": 6, "obj": object()})
    assert sorted(e["path"] for e in info.value.errors) == ["/1bad", "/__dunder", "/class", "/obj", "/print", "/x; import os"]
