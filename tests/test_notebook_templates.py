"""Notebook templates over REST: a real server, real notebooks in the contents root and in a template folder.

A notebook template is a whole ``.ipynb`` whose papermill-style ``parameters`` cell
declares its inputs (docs/notebook-templates.md). These tests list them
(``GET templates?kind=notebook``), check the JSON Schema derived from a realistic
parameters cell against one written out here by hand, create notebooks from them
(``POST projects/{pid}/notebooks {from_template, parameters}``), run such a
notebook with papermill, and send hostile names and values. Every error test
asserts the status, the ``code`` and the error paths.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import sys

import nbformat
import pytest
from datadive_testing import assert_error, base_config, multi_user_config

from datadive_ext.errors import Invalid
from datadive_ext.nbtemplates import fill_name, inject, read_parameters, validate_values
from datadive_ext.openapi import body_validator

# -- the templates -------------------------------------------------------------------------------

PARAMETERS = '''\
# Parameters of the QC report
%precision 3
import os
from typing import Literal, Optional
sample = "S-001"  # Sample id in SampleDB
threshold: float = 0.5  # QC cut-off (0-1)
replicates: int = 3  # biological replicates
normalise = True  # divide by library size
genes: list[str] = ["ACTB", "GAPDH"]  # genes to plot
method: Literal["mean", "median"] = "median"  # summary statistic
batch: Optional[int] = None  # sequencing batch, if known
note: str | None = None
limits = {"low": 0, "high": 10}
out_dir = os.path.join("results", sample)  # computed by the notebook
_cache = {}
'''

# Written out by hand from the cell above: not computed by the code under test.
EXPECTED_INPUTS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "sample": {"type": "string", "default": "S-001", "description": "Sample id in SampleDB"},
        "threshold": {"type": "number", "default": 0.5, "description": "QC cut-off (0-1)"},
        "replicates": {"type": "integer", "default": 3, "description": "biological replicates"},
        "normalise": {"type": "boolean", "default": True, "description": "divide by library size"},
        "genes": {"type": "array", "items": {"type": "string"}, "default": ["ACTB", "GAPDH"], "description": "genes to plot"},
        "method": {"type": "string", "enum": ["mean", "median"], "default": "median", "description": "summary statistic"},
        "batch": {"type": ["integer", "null"], "default": None, "description": "sequencing batch, if known"},
        "note": {"type": ["string", "null"], "default": None},
        "limits": {"type": "object", "default": {"low": 0, "high": 10}},
        "out_dir": {"description": "computed by the notebook"},
    },
}

REPORT_CODE = '''\
import json
names = ["sample", "threshold", "replicates", "normalise", "genes", "method", "batch", "note", "limits", "out_dir"]
seen = {n: [repr(globals()[n]), type(globals()[n]).__name__] for n in names}
print(json.dumps(seen))'''


def report_notebook(title: str = "QC report", nbformat_minor: int = 5) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = nbformat_minor
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = nbformat.v4.new_code_cell(REPORT_CODE)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="output of the template's own run\n")]
    code.execution_count = 7
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\nQuality control of one sample.\n\n## Details\nmore"),
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        code,
    ]
    if nbformat_minor < 5:
        for cell in nb.cells:
            cell.pop("id", None)
    return nb


def plain_notebook(parameters: str | None, metadata: dict | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata.update(metadata or {})
    nb.cells = [nbformat.v4.new_markdown_cell("No heading here, just text.")]
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell("print('done')"))
    return nb


def write_nb(path, nb) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def read_nb(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def tree(root) -> set[str]:
    out = set()
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        for name in dirs + files:
            out.add(os.path.normpath(os.path.join(rel, name)).replace(os.sep, "/"))
    return out


def conforms(schema: str, instance) -> None:
    errors = sorted(body_validator(schema).iter_errors(instance), key=str)
    assert not errors, [e.message for e in errors]


def ext_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["datadive_ext"]))


async def new_project(api, name="Notebook templates", user=None) -> dict:
    reply = await api("POST", "projects", body={"name": name}, user=user)
    assert reply.status == 201, reply.text
    return reply.json


async def from_template(api, pid, template, parameters=None, name=None, user=None):
    body = {"from_template": template}
    if parameters is not None:
        body["parameters"] = parameters
    if name is not None:
        body["name"] = name
    return await api("POST", "projects", pid, "notebooks", body=body, user=user)


def injected(nb) -> tuple[int, dict]:
    found = [(i, c) for i, c in enumerate(nb.cells) if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(found) == 1, [c.metadata for c in nb.cells]
    return found[0]


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def org_library(jp_data_dir):
    """The administrator's template folder (``DatadiveApp.template_folders``)."""
    path = jp_data_dir / "org-library"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def jp_server_config(jp_data_dir, org_library):
    return base_config(jp_data_dir, DatadiveApp={"template_folders": [str(org_library)]})


@pytest.fixture
def templates(jp_root_dir, org_library):
    """The notebook templates of most tests, in both sources."""
    write_nb(org_library / "qc" / "report-{sample}.ipynb", report_notebook("QC report"))
    # The same id in the contents folder: hidden by the folder's.
    write_nb(jp_root_dir / "templates" / "qc" / "report-{sample}.ipynb", report_notebook("Shadowed copy"))
    write_nb(jp_root_dir / "templates" / "simple.ipynb",
             plain_notebook('alpha = 0.05  # significance level\n', {"datadive": {"title": "Simple one", "description": "A test.",
                                                                                   "category": "stats", "tags": ["t"]}}))
    write_nb(jp_root_dir / "templates" / "no-params.ipynb", plain_notebook(None))
    write_nb(jp_root_dir / "templates" / "broken.ipynb", plain_notebook("x = = 1\n"))
    write_nb(jp_root_dir / "templates" / ".hidden.ipynb", plain_notebook("x = 1\n"))
    (jp_root_dir / "templates" / "notes.txt").write_text("not a notebook")
    (org_library / "not-json.ipynb").write_text("{ not json")
    (jp_root_dir / "templates" / "garbage.ipynb").write_text('{"cells": "nope"')
    return {"org": org_library, "contents": jp_root_dir / "templates"}


REPORT_ENTRY = {
    "kind": "notebook",
    "id": "qc/report-{sample}.ipynb",
    "title": "QC report",
    "description": "Quality control of one sample.",
    "category": "notebook",
    "tags": [],
    "source": "folder",
    "file_name": "report-{sample}.ipynb",
    "inputs": EXPECTED_INPUTS,
}


# -- listing ------------------------------------------------------------------------------------


async def test_list_notebook_templates_from_both_sources(api, templates):
    reply = await api("GET", "templates", params={"kind": "notebook"})
    assert reply.status == 200, reply.text
    assert reply.json["next_cursor"] is None
    items = {item["id"]: item for item in reply.json["items"]}
    # Unusable ones (no JSON, a parameters cell that does not parse), hidden files and other files are not listed.
    assert list(items) == ["no-params.ipynb", "qc/report-{sample}.ipynb", "simple.ipynb"]
    assert items["qc/report-{sample}.ipynb"] == REPORT_ENTRY  # the folder's copy wins over the contents one
    assert items["simple.ipynb"] == {
        "kind": "notebook", "id": "simple.ipynb", "title": "Simple one", "description": "A test.", "category": "stats",
        "tags": ["t"], "source": "contents", "file_name": "simple.ipynb",
        "inputs": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
                   "properties": {"alpha": {"type": "number", "default": 0.05, "description": "significance level"}}},
    }
    assert items["no-params.ipynb"]["title"] == "no-params"  # no heading, no metadata: the file name
    assert items["no-params.ipynb"]["inputs"]["properties"] == {}

    # Filters and pages, as for cell templates.
    only = await api("GET", "templates", params={"kind": "notebook", "source": "contents"})
    assert [i["id"] for i in only.json["items"]] == ["no-params.ipynb", "simple.ipynb"]
    found = await api("GET", "templates", params={"kind": "notebook", "q": "quality"})
    assert [i["id"] for i in found.json["items"]] == ["qc/report-{sample}.ipynb"]
    tagged = await api("GET", "templates", params={"kind": "notebook", "tag": "t", "category": "stats"})
    assert [i["id"] for i in tagged.json["items"]] == ["simple.ipynb"]
    first = await api("GET", "templates", params={"kind": "notebook", "limit": 2})
    assert [i["id"] for i in first.json["items"]] == ["no-params.ipynb", "qc/report-{sample}.ipynb"]
    rest = await api("GET", "templates", params={"kind": "notebook", "limit": 2, "cursor": first.json["next_cursor"]})
    assert [i["id"] for i in rest.json["items"]] == ["simple.ipynb"] and rest.json["next_cursor"] is None

    # A change to a template is seen by the next listing.
    write_nb(templates["contents"] / "simple.ipynb", plain_notebook("alpha: float = 0.01\n"))
    again = await api("GET", "templates", params={"kind": "notebook", "source": "contents"})
    simple = next(i for i in again.json["items"] if i["id"] == "simple.ipynb")
    assert simple["inputs"]["properties"] == {"alpha": {"type": "number", "default": 0.01}}


async def test_cell_template_list_is_unchanged_without_kind(api, templates):
    plain = await api("GET", "templates", params={"limit": 500})
    cells = await api("GET", "templates", params={"limit": 500, "kind": "cell"})
    assert plain.status == cells.status == 200
    assert plain.json == cells.json
    assert plain.json["items"] and all(item["kind"] == "cell" for item in plain.json["items"])
    assert not any(item["id"].endswith(".ipynb") for item in plain.json["items"])
    got = await api("GET", "templates", "value-counts")
    assert got.status == 200 and got.json["kind"] == "cell"


async def test_list_refuses_unknown_kind_and_source(api, templates):
    for kind in ("notebooks", "NOTEBOOK", "cells"):
        assert_error(await api("GET", "templates", params={"kind": kind}), 400, "invalid", ["/kind"])
    assert_error(await api("GET", "templates", params={"kind": "notebook", "source": "builtin"}), 400, "invalid", ["/source"])
    assert_error(await api("GET", "templates", params={"kind": "notebook", "limit": 0}), 400, "invalid", ["/limit"])


async def test_nothing_to_list_without_folders(api):
    reply = await api("GET", "templates", params={"kind": "notebook"})
    assert reply.status == 200 and reply.json == {"items": [], "next_cursor": None}


# -- the schema -----------------------------------------------------------------------------------


def test_schema_from_a_realistic_parameters_cell():
    spec = read_parameters(report_notebook())
    assert spec.cell_index == 1
    assert spec.names == ("sample", "threshold", "replicates", "normalise", "genes", "method", "batch", "note", "limits", "out_dir")
    assert spec.schema == EXPECTED_INPUTS
    assert spec.defaults == {"sample": "S-001", "threshold": 0.5, "replicates": 3, "normalise": True, "genes": ["ACTB", "GAPDH"],
                             "method": "median", "batch": None, "note": None, "limits": {"low": 0, "high": 10}}


def test_schema_rules_for_the_unusual_cases():
    cell = '''\
a = b = 1  # both
x, y = 1, 2
d["k"] = 3
__dunder = 1
required_one: int
count = 1
count = 2.5
typed: int = 1
typed = 2
nan = float("nan")
neg = -4
pair: tuple[int, str] = (1, "a")
anything: Any = 3
either: Union[int, str] = 1
obj: SomeClass = 5
wrong: str = 3
shh = {1, 2}
if True:
    inside = 1
'''
    spec = read_parameters(plain_notebook(cell))
    assert spec.cell_index == 1
    assert spec.schema["properties"] == {
        "a": {"type": "integer", "default": 1, "description": "both"},
        "b": {"type": "integer", "default": 1, "description": "both"},
        "required_one": {"type": "integer"},
        "count": {"type": "number", "default": 2.5},
        "typed": {"type": "integer", "default": 2},
        "nan": {"type": "number"},
        "neg": {"type": "integer", "default": -4},
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "minItems": 2, "maxItems": 2,
                 "default": [1, "a"]},
        "anything": {"default": 3},
        "either": {"type": ["integer", "string"], "default": 1},
        "obj": {"type": "integer", "default": 5},
        "wrong": {"type": "string", "default": 3},
        "shh": {},
    }
    assert spec.schema["required"] == ["required_one"]
    assert spec.defaults["nan"] != spec.defaults["nan"]  # NaN: a default of the notebook, not of the JSON schema
    assert read_parameters(plain_notebook(None)) is None

    with pytest.raises(Invalid) as info:
        read_parameters(plain_notebook("x = = 1\n"))
    assert info.value.code == "invalid_notebook_template"
    assert [e["path"] for e in info.value.errors] == ["/cells/1/source"]


# -- creating notebooks -------------------------------------------------------------------------


async def test_create_from_template_with_typed_values(api, templates, jp_root_dir):
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    values = {"sample": "S-042", "threshold": 1, "replicates": 4.0, "normalise": False, "genes": ["TP53", "MYC"],
              "method": "mean", "batch": 7, "note": 'say "hi"\nbye'}
    reply = await from_template(api, pid, "qc/report-{sample}.ipynb", values)
    assert reply.status == 201, reply.text
    conforms("Notebook", reply.json)
    assert reply.json["path"] == "report-S-042.ipynb"
    assert reply.headers["Location"].endswith(f"/api/datadive/projects/{pid}/notebooks/report-S-042.ipynb")

    nb = read_nb(folder / "report-S-042.ipynb")
    template = read_nb(templates["org"] / "qc" / "report-{sample}.ipynb")
    index, cell = injected(nb)
    assert index == 2  # right after the parameters cell
    assert cell.cell_type == "code" and cell.metadata == {"tags": ["injected-parameters"]}
    assert cell.source == (
        "# Parameters\n"
        'sample = "S-042"\n'
        "threshold = 1.0\n"
        "replicates = 4\n"
        "normalise = False\n"
        'genes = ["TP53", "MYC"]\n'
        'method = "mean"\n'
        "batch = 7\n"
        'note = "say \\"hi\\"\\nbye"\n'
    )
    assert cell.id and cell.id not in {c.id for c in template.cells}
    # Everything else is the template's, outputs of its own run cleared.
    others = [c for i, c in enumerate(nb.cells) if i != index]
    assert [c.source for c in others] == [c.source for c in template.cells]
    assert [c.id for c in others] == [c.id for c in template.cells]
    assert others[2].outputs == [] and others[2].execution_count is None
    assert nb.metadata["kernelspec"] == template.metadata["kernelspec"]
    assert nb.metadata["datadive"]["notebook_template"] == {"id": "qc/report-{sample}.ipynb", "source": "folder", "parameters": values}

    # The same again: a derived name that is taken becomes unique; an explicit one that is taken is a conflict.
    again = await from_template(api, pid, "qc/report-{sample}.ipynb", {"sample": "S-042"})
    assert again.status == 201 and again.json["path"] == "report-S-042-1.ipynb"
    third = await from_template(api, pid, "qc/report-{sample}.ipynb", {"sample": "S-042"})
    assert third.json["path"] == "report-S-042-2.ipynb"
    named = await from_template(api, pid, "qc/report-{sample}.ipynb", {"sample": "S-7"}, name="analysis/first")
    assert named.status == 201 and named.json["path"] == "analysis/first.ipynb"
    assert_error(await from_template(api, pid, "qc/report-{sample}.ipynb", {"sample": "S-8"}, name="analysis/first.ipynb"),
                 409, "notebook_exists", ["/name"])
    # Defaults fill the name when no value is given.
    default = await from_template(api, pid, "qc/report-{sample}.ipynb")
    assert default.status == 201 and default.json["path"] == "report-S-001.ipynb"
    assert injected(read_nb(folder / "report-S-001.ipynb"))[1].source == "# Parameters\n"
    # From the contents source too; a template with no parameters cell gets no injected cell.
    simple = await from_template(api, pid, "simple.ipynb", {"alpha": 0.01})
    assert simple.status == 201 and simple.json["path"] == "simple.ipynb"
    assert injected(read_nb(folder / "simple.ipynb"))[1].source == "# Parameters\nalpha = 0.01\n"
    bare = await from_template(api, pid, "no-params.ipynb", {})
    assert bare.status == 201
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in read_nb(folder / "no-params.ipynb").cells)

    listed = await api("GET", "projects", pid, "notebooks")
    assert [n["path"] for n in listed.json["items"]] == [
        "analysis/first.ipynb", "no-params.ipynb", "report-S-001.ipynb", "report-S-042-1.ipynb", "report-S-042-2.ipynb",
        "report-S-042.ipynb", "simple.ipynb",
    ]
    # The templates themselves are untouched.
    assert read_nb(templates["org"] / "qc" / "report-{sample}.ipynb") == template


async def test_an_old_notebook_format_gets_cell_ids(api, jp_root_dir):
    write_nb(jp_root_dir / "templates" / "old.ipynb", report_notebook(nbformat_minor=4))
    project = await new_project(api)
    reply = await from_template(api, project["id"], "old.ipynb", {"sample": "A"})
    assert reply.status == 201, reply.text
    nb = read_nb(jp_root_dir / project["path"] / "old.ipynb")
    assert nb.nbformat_minor >= 5 and all(c.get("id") for c in nb.cells)
    nbformat.validate(nb)
    assert injected(nb)[0] == 2


async def test_create_errors_have_status_code_and_path(api, templates, jp_root_dir):
    project = await new_project(api)
    pid = project["id"]
    before = tree(jp_root_dir)
    report = "qc/report-{sample}.ipynb"

    # Unknown names are refused (papermill would inject them silently), every problem at once.
    reply = await from_template(api, pid, report, {"sampel": "S-1", "threshold": "high", "replicates": 2.5, "method": "mode",
                                                   "genes": ["A", 3], "batch": "7", "_cache": {}, "os": 1})
    assert_error(reply, 400, "invalid_parameters", ["/parameters/sampel", "/parameters/threshold", "/parameters/replicates",
                                                     "/parameters/method", "/parameters/genes/1", "/parameters/batch",
                                                     "/parameters/_cache", "/parameters/os"])
    messages = {e["path"]: e["message"] for e in reply.json["errors"]}
    assert messages["/parameters/sampel"] == "is not a parameter of this notebook"
    assert messages["/parameters/threshold"] == "must be of type number"
    # Keys that look like code are only unknown names; '/' in a name is escaped in the pointer.
    assert_error(await from_template(api, pid, report, {"x = 1\nimport os\ny": 1, "a/b": 2, "": 3}), 400, "invalid_parameters",
                 ["/parameters/x = 1\nimport os\ny", "/parameters/a~1b", "/parameters/"])
    assert_error(await from_template(api, pid, "no-params.ipynb", {"x": 1}), 400, "invalid_parameters", ["/parameters/x"])
    assert_error(await from_template(api, pid, report, [1, 2]), 400, "invalid", ["/parameters"])

    # Missing templates and ids that would leave their folder.
    assert_error(await from_template(api, pid, "nope.ipynb"), 404, "template_not_found", ["/from_template"])
    assert_error(await from_template(api, pid, "value-counts"), 404, "template_not_found", ["/from_template"])
    assert_error(await from_template(api, pid, "notes.txt"), 404, "template_not_found", ["/from_template"])
    for bad in ("../templates/simple.ipynb", "qc/../../simple.ipynb", "/simple.ipynb", "qc\\report.ipynb", "./simple.ipynb",
                ".hidden.ipynb", "qc//x.ipynb", "C:/x.ipynb", "a\x00.ipynb"):
        assert_error(await from_template(api, pid, bad), 400, "invalid_template_id", ["/from_template"])
    assert_error(await from_template(api, pid, "broken.ipynb"), 400, "invalid_notebook_template", ["/from_template"])
    assert_error(await from_template(api, pid, "not-json.ipynb"), 400, "invalid_notebook_template", ["/from_template"])
    assert_error(await from_template(api, pid, "garbage.ipynb"), 400, "invalid_notebook_template", ["/from_template"])

    # The body itself.
    assert_error(await api("POST", "projects", pid, "notebooks", body={"parameters": {}}), 400, "invalid", ["/from_template", "/name"])
    assert_error(await api("POST", "projects", pid, "notebooks", body={"from_template": ""}), 400, "invalid", ["/from_template"])
    assert_error(await api("POST", "projects", pid, "notebooks", body={"from_template": report, "extra": 1}), 400, "invalid", ["/extra"])
    nan_body = '{"from_template": "simple.ipynb", "parameters": {"alpha": NaN}}'
    assert_error(await api("POST", "projects", pid, "notebooks", raw_body=nan_body),
                 400, "invalid_json", [""])
    # Explicit names follow the createNotebook rules.
    for bad_name in ("../out", "/abs", "a\\b", ".hidden", "x\u202egnp"):
        assert_error(await from_template(api, pid, report, {}, name=bad_name), 400, "invalid_path", ["/name"])
    # No project, no access.
    assert_error(await from_template(api, "nosuchproject", report), 404, "project_not_found", [])

    assert tree(jp_root_dir) == before  # nothing was written


async def test_hostile_names_in_the_file_name_pattern(api, jp_root_dir):
    write_nb(jp_root_dir / "templates" / "{sample}.ipynb", plain_notebook('sample = "x"\nn = 1\n'))
    write_nb(jp_root_dir / "templates" / "run-{sample}-{n}.ipynb", plain_notebook('sample = "x"\nn = 1\n'))
    project = await new_project(api)
    pid, folder = project["id"], jp_root_dir / project["path"]
    outside = tree(jp_root_dir) - {p for p in tree(jp_root_dir) if p.startswith(project["path"])}

    cases = [
        ("../../../etc/evil", "{sample}.ipynb", "_._._etc_evil.ipynb"),
        ("..\\..\\win", "{sample}.ipynb", "_._win.ipynb"),
        ("\uff0e\uff0e\uff0fup", "{sample}.ipynb", "_up.ipynb"),  # fullwidth '../' once normalised
        ("a\nb\rc\x00d\x1b", "{sample}.ipynb", "abcd.ipynb"),
        ("report\u202egnp.exe", "{sample}.ipynb", "reportgnp.exe.ipynb"),  # bidi override removed
        (".bashrc", "{sample}.ipynb", "bashrc.ipynb"),  # no leading dot
        ("x" * 400, "{sample}.ipynb", "x" * 200 + ".ipynb"),
        ("S/1", "run-{sample}-{n}.ipynb", "run-S_1-1.ipynb"),
    ]
    for sample, template, expected in cases:
        reply = await from_template(api, pid, template, {"sample": sample})
        assert reply.status == 201, (sample, reply.text)
        assert reply.json["path"] == expected, sample
        assert (folder / expected).is_file()
    # Nothing usable left: refused, at /name (give a name).
    for sample in ("\u202e\u2066", "...", "  ", ""):
        assert_error(await from_template(api, pid, "{sample}.ipynb", {"sample": sample}), 400, "invalid_path", ["/name"])
    # An object cannot fill a name.
    write_nb(jp_root_dir / "templates" / "cfg-{cfg}.ipynb", plain_notebook("cfg = {}\n"))
    assert_error(await from_template(api, pid, "cfg-{cfg}.ipynb", {"cfg": {"a": 1}}), 400, "invalid_path", ["/name"])
    # Nothing was written outside the project folder.
    assert {p for p in tree(jp_root_dir) if not p.startswith(project["path"])} == outside | {"templates/cfg-{cfg}.ipynb"}


def test_fill_name_unit():
    assert fill_name("report-{sample}-{n}.ipynb", {"sample": "A", "n": 3}) == "report-A-3.ipynb"
    assert fill_name("{{literal}}-{x}.ipynb", {"x": True}) == "{literal}-true.ipynb"
    assert fill_name("{missing}.ipynb", {}) == "{missing}.ipynb"
    assert fill_name("f-{x}.ipynb", {"x": None}) == "f-.ipynb"
    assert fill_name("f-{x}.ipynb", {"x": 2.0}) == "f-2.ipynb"
    assert fill_name("f-{x}.ipynb", {"x": ["a", "b/c"]}) == "f-a-b_c.ipynb"
    assert fill_name("{x}.ipynb", {"x": "//a"}) == "__a.ipynb"
    with pytest.raises(Invalid) as info:
        fill_name("{x}.ipynb", {"x": "..."})
    assert info.value.code == "invalid_path" and [e["path"] for e in info.value.errors] == ["/name"]


# -- hostile values ---------------------------------------------------------------------------------


async def test_hostile_values_become_literals(api, jp_root_dir):
    write_nb(jp_root_dir / "templates" / "hostile.ipynb", plain_notebook('title = "t"\nconfig = {}\nitems = []\nn = None\n'))
    project = await new_project(api)
    values = {
        "title": "'); __import__('os').system('touch pwned'); ('",
        "config": {"a\nb": 'x"\\y', "__import__('os')": [None, True, 1.5]},
        "items": ["\u2028line\u2029sep", "caf\u00e9", "\\\\server\\share", "${x}{y}"],
        "n": "__import__('os')",
    }
    reply = await from_template(api, project["id"], "hostile.ipynb", values)
    assert reply.status == 201, reply.text
    _, cell = injected(read_nb(jp_root_dir / project["path"] / "hostile.ipynb"))
    assert cell.source == (
        "# Parameters\n"
        "title = \"'); __import__('os').system('touch pwned'); ('\"\n"
        "config = {\"a\\nb\": \"x\\\"\\\\y\", \"__import__('os')\": [None, True, 1.5]}\n"
        "items = [\"\\u2028line\\u2029sep\", \"caf\\xe9\", \"\\\\\\\\server\\\\share\", \"${x}{y}\"]\n"
        "n = \"__import__('os')\"\n"
    )
    # Each line is one assignment of a literal that evaluates back to the value sent.
    tree_ = ast.parse(cell.source)
    assert all(isinstance(s, ast.Assign) for s in tree_.body)
    assert {s.targets[0].id: ast.literal_eval(s.value) for s in tree_.body} == values


def test_inject_and_validate_outside_the_server():
    nb = report_notebook()
    spec = read_parameters(nb)
    # NaN and infinities (which JSON bodies cannot carry, but Python callers can) are written as float(...) calls.
    validate_values(spec, {"threshold": float("nan")})
    out = inject(nb, {"threshold": float("nan"), "limits": {"low": -float("inf")}}, spec)
    assert out.cells[2].source == "# Parameters\nthreshold = float('nan')\nlimits = {\"low\": -float('inf')}\n"
    assert len(nb.cells) == 3  # the input is untouched
    # The declared type wins over JSON's: 7.0 for an Optional[int] is 7, 2 for a float is 2.0.
    assert inject(nb, {"batch": 7.0, "threshold": 2}, spec).cells[2].source == "# Parameters\nthreshold = 2.0\nbatch = 7\n"
    # Injecting again replaces the earlier injected cell.
    twice = inject(out, {"sample": "B"}, read_parameters(out))
    assert [c.source for c in twice.cells if "injected-parameters" in c.metadata.get("tags", [])] == ['# Parameters\nsample = "B"\n']
    assert len(twice.cells) == 4 and twice.cells[2].id != out.cells[2].id
    # Without a parameters cell the injected cell goes first; with no spec nothing may be injected.
    top = inject(plain_notebook(None), {}, None)
    assert top.cells[0].source == "# Parameters\n" and top.cells[0].metadata["tags"] == ["injected-parameters"]
    with pytest.raises(Invalid) as info:
        inject(plain_notebook(None), {"x": 1}, None)
    assert [e["path"] for e in info.value.errors] == ["/parameters/x"]
    # inject refuses undeclared names even when the caller skipped validation.
    with pytest.raises(Invalid) as info:
        inject(nb, {"os.system('x') #": 1}, spec)
    assert info.value.code == "invalid_parameters"
    for values, paths in [
        ({"replicates": float("nan")}, ["/parameters/replicates"]),
        ({"sample": "\ud800"}, ["/parameters/sample"]),
        ({"genes": {1, 2}}, ["/parameters/genes", "/parameters/genes"]),
        ({"unknown": 1}, ["/run/unknown"]),
    ]:
        with pytest.raises(Invalid) as info:
            validate_values(spec, values, path="/run" if "unknown" in values else "/parameters")
        assert info.value.code == "invalid_parameters"
        assert sorted(e["path"] for e in info.value.errors) == sorted(paths), info.value.errors
    with pytest.raises(Invalid) as info:
        validate_values(None, {"a": 1})
    assert [e["path"] for e in info.value.errors] == ["/parameters/a"]
    validate_values(None, {})


# -- papermill ---------------------------------------------------------------------------------------


async def test_papermill_runs_a_notebook_made_from_a_template(api, templates, jp_root_dir, tmp_path):
    import papermill  # noqa: F401  (a test dependency: imported, never skipped)

    project = await new_project(api)
    values = {"sample": "S-042", "threshold": 1, "replicates": 4, "normalise": False, "genes": ["TP53", "MYC"],
              "method": "mean", "batch": 7, "note": 'say "hi"\nbye', "limits": {"low": -1.5}}
    reply = await from_template(api, project["id"], "qc/report-{sample}.ipynb", values)
    assert reply.status == 201, reply.text
    made = jp_root_dir / project["path"] / reply.json["path"]
    executed = tmp_path / "executed.ipynb"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "papermill", str(made), str(executed), "-k", "python3", "--cwd", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    nb = read_nb(executed)
    # papermill ran the notebook as it was: our injected cell is where it put it, not replaced.
    index, cell = injected(nb)
    assert index == 2 and cell.source.startswith("# Parameters\nsample = \"S-042\"\n")
    report = nb.cells[3]
    text = "".join(o.get("text", "") for o in report.outputs if o.output_type == "stream")
    seen = json.loads(text)
    assert seen == {
        "sample": ["'S-042'", "str"],
        "threshold": ["1.0", "float"],
        "replicates": ["4", "int"],
        "normalise": ["False", "bool"],
        "genes": ["['TP53', 'MYC']", "list"],
        "method": ["'mean'", "str"],
        "batch": ["7", "int"],
        "note": ["'say \"hi\"\\nbye'", "str"],
        "limits": ["{'low': -1.5}", "dict"],
        # Computed in the parameters cell, before the injected values: papermill's order.
        "out_dir": ["'results/S-001'", "str"],
    }


def test_the_injected_cell_is_the_one_papermill_writes():
    """papermill's own parameterize (the reference) writes the same cell for the same values."""
    import copy

    from papermill.parameterize import parameterize_notebook

    nb = plain_notebook('a = "x"\nb = 1\nc = 1.5\nd = True\ne = None\nf = []\ng = {}\n')
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["papermill"] = {}
    for cell in nb.cells:  # what papermill's execute_notebook sets up before it parameterizes
        cell.metadata.setdefault("tags", [])
    values = {"a": 'q"uo\'te\n\\ caf\u00e9 \u2028', "b": -3, "c": 2.5, "d": False, "e": None, "f": [1, "x", None, True],
              "g": {"k": [1.0, {"z": "w"}]}}
    theirs = parameterize_notebook(copy.deepcopy(nb), values)
    ours = inject(nb, values, read_parameters(nb))
    assert [c.source for c in ours.cells] == [c.source for c in theirs.cells]
    assert [c.metadata.get("tags") for c in ours.cells] == [c.metadata.get("tags") for c in theirs.cells] == [
        [], ["parameters"], ["injected-parameters"], []]


# -- the service, as other parts of the server call it --------------------------------------------


async def test_service_create_into_a_folder(api, templates, jp_serverapp, jp_root_dir):
    service = ext_app(jp_serverapp).nbtemplates
    template = await service.get("qc/report-{sample}.ipynb")
    assert (template.id, template.source, template.title) == ("qc/report-{sample}.ipynb", "folder", "QC report")
    assert template.spec.schema == EXPECTED_INPUTS

    path = await service.create("qc/report-{sample}.ipynb", {"sample": "S-9"}, folder="sampledb")
    assert path == "sampledb/report-S-9.ipynb" and (jp_root_dir / path).is_file()
    assert await service.create("qc/report-{sample}.ipynb", {"sample": "S-9"}, folder="sampledb") == "sampledb/report-S-9-1.ipynb"
    with pytest.raises(Exception) as info:
        await service.create("qc/report-{sample}.ipynb", {"sample": "S-9"}, folder="sampledb", unique=False)
    assert (info.value.status, info.value.code, [e["path"] for e in info.value.errors]) == (409, "notebook_exists", ["/name"])
    with pytest.raises(Invalid) as info:
        await service.create("qc/report-{sample}.ipynb", {"sample": 1}, folder="sampledb")
    assert (info.value.code, [e["path"] for e in info.value.errors]) == ("invalid_parameters", ["/parameters/sample"])
    with pytest.raises(Invalid) as info:
        await service.create("simple.ipynb", {}, folder="../outside")
    assert info.value.code == "invalid_path"
    # validate=False: the caller validated (with its own paths); undeclared names are still refused.
    assert await service.create("simple.ipynb", {"alpha": 0.2}, folder="sampledb", validate=False) == "sampledb/simple.ipynb"
    with pytest.raises(Invalid):
        await service.create("simple.ipynb", {"beta": 0.2}, folder="sampledb", validate=False)
    made = sorted(p.name for p in (jp_root_dir / "sampledb").iterdir() if not p.name.startswith("."))
    assert made == ["report-S-9-1.ipynb", "report-S-9.ipynb", "simple.ipynb"]


async def test_concurrent_creates_never_overwrite(api, templates, jp_root_dir):
    project = await new_project(api)
    replies = await asyncio.gather(*[from_template(api, project["id"], "simple.ipynb", {"alpha": i / 100}) for i in range(6)])
    assert all(r.status == 201 for r in replies), [r.text for r in replies]
    paths = sorted(r.json["path"] for r in replies)
    assert paths == sorted(["simple.ipynb"] + [f"simple-{i}.ipynb" for i in range(1, 6)])
    written = {injected(read_nb(jp_root_dir / project["path"] / p))[1].source for p in paths}
    assert len(written) == 6  # six different notebooks, none overwritten


# -- the OpenAPI description ----------------------------------------------------------------------------


async def test_responses_and_bodies_match_the_served_description(api, templates):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = (await api("GET", "openapi.json")).json
    uri = "urn:test:spec"
    registry = Registry().with_resource(uri, Resource.from_contents(spec, default_specification=DRAFT202012))

    def check(path: str, verb: str, reply) -> None:
        response = spec["paths"][path][verb]["responses"][str(reply.status)]
        pointer = response["$ref"] if "$ref" in response else "#/paths/" + path.replace("/", "~1") + f"/{verb}/responses/{reply.status}"
        validator = Draft202012Validator({"$ref": f"{uri}{pointer}/content/application~1json/schema"}, registry=registry)
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(reply.json)]
        assert not errors, (path, verb, reply.status, errors)

    def body_ok(body) -> bool:
        return body_validator("NotebookCreate").is_valid(body)

    check("/templates", "get", await api("GET", "templates", params={"kind": "notebook"}))
    check("/templates", "get", await api("GET", "templates", params={"limit": 3}))
    check("/templates", "get", await api("GET", "templates", params={"kind": "bad"}))
    # A notebook entry is not a cell summary, and the other way round.
    listed = (await api("GET", "templates", params={"kind": "notebook"})).json["items"]
    assert not body_validator("TemplateSummary").is_valid(listed[0])
    project = await new_project(api)
    path = "/projects/{pid}/notebooks"
    for body in ({"from_template": "simple.ipynb", "parameters": {"alpha": 0.2}}, {"from_template": "simple.ipynb", "name": "n"},
                 {"name": "plain"}):
        assert body_ok(body)
        reply = await api("POST", "projects", project["id"], "notebooks", body=body)
        assert reply.status == 201, reply.text
        check(path, "post", reply)
    for body in ({}, {"parameters": {}}, {"name": "x", "parameters": {}}, {"from_template": 1}, {"from_template": "a", "parameters": []}):
        assert not body_ok(body)
    for reply in (await from_template(api, project["id"], "nope.ipynb"), await from_template(api, project["id"], "simple.ipynb", {"z": 1}),
                  await from_template(api, project["id"], "simple.ipynb", name="plain")):
        assert reply.status in (400, 404, 409)
        check(path, "post", reply)


# -- roles -------------------------------------------------------------------------------------------


class TestRoles:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir, org_library):
        return multi_user_config(jp_data_dir, DatadiveApp={"template_folders": [str(org_library)]})

    async def test_a_viewer_cannot_create_from_a_template(self, api, templates, jp_root_dir):
        project = await new_project(api, user="alice")
        pid = project["id"]
        assert (await api("PUT", "projects", pid, "members", "bob", body={"role": "viewer"}, user="alice")).status == 200
        assert (await api("PUT", "projects", pid, "members", "carol", body={"role": "editor"}, user="alice")).status == 200
        # The role is checked before the template or the values are looked at.
        assert_error(await from_template(api, pid, "nope.ipynb", user="bob"), 403, "role_required", [])
        assert_error(await from_template(api, pid, "qc/report-{sample}.ipynb", {"sample": "S"}, user="dave"), 404, "project_not_found", [])
        made = await from_template(api, pid, "qc/report-{sample}.ipynb", {"sample": "S"}, user="carol")
        assert made.status == 201 and made.json["path"] == "report-S.ipynb"
        listed = await api("GET", "templates", params={"kind": "notebook"}, user="bob")
        assert listed.status == 200
        assert [i["id"] for i in listed.json["items"]] == ["no-params.ipynb", "qc/report-{sample}.ipynb", "simple.ipynb"]


def test_the_title_of_a_hostile_heading_is_found_in_linear_time():
    # A heading line with a long run of spaces (a pattern that trims trailing spaces and #s
    # backtracks on it for hours at this length); the title is found at once.
    from datadive_ext.nbtemplates import describe

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# a" + " " * 20_000 + "x\n\n##" + " " * 20_000 + "\nBody text"))
    title, description = describe(nb, "fallback.ipynb")
    assert title.startswith("a") and title.endswith("x") and len(title) <= 500  # one line, at most 500 characters
    nb.cells[0].source = "#   Sample QC  ##  \nWhat it does"
    assert describe(nb, "fallback.ipynb") == ("Sample QC", "What it does")
