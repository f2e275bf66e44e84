"""Notebook templates through the Python client and the ``datadive`` command, against a real server.

A notebook template is an ``.ipynb`` under the contents folder ``templates/`` with a
papermill-style ``parameters`` cell (docs/notebook-templates.md). The client lists
them (``kind="notebook"``) and makes notebooks from them; so do ``datadive templates
list --kind notebook`` and ``datadive notebooks create --from-template``.
"""

from __future__ import annotations

import nbformat
import pytest
from test_cli import failed, in_thread, json_error, live, ok, out_json, run  # noqa: F401  (live: the fixture)

from datadive_ext.client import BadRequest, NotFound

PARAMETERS = 'sample: str = "S-1"  # the sample id\nreplicates: int = 3\n'


@pytest.fixture
def template(jp_root_dir):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Sample QC"))
    cell = nbformat.v4.new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    nb.cells.append(nbformat.v4.new_code_cell("print(sample, replicates)"))
    folder = jp_root_dir / "templates"
    folder.mkdir()
    (folder / "qc-{sample}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    return "qc-{sample}.ipynb"


def injected_source(path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return cells[0].source


async def test_client_lists_and_creates_from_notebook_templates(live, template):
    def scenario():
        dd = live.client()
        listed = dd.list_templates(kind="notebook")
        assert [(t["id"], t["kind"], t["title"]) for t in listed["items"]] == [(template, "notebook", "Sample QC")]
        assert listed["items"][0]["inputs"]["properties"]["replicates"] == {"type": "integer", "default": 3}
        assert {t["kind"] for t in dd.iter_templates()} == {"cell"}  # the default list is cell templates, as before
        assert [t["id"] for t in dd.iter_templates(kind="notebook")] == [template]

        project = dd.create_project("QC")
        made = dd.create_notebook(project["id"], from_template=template, parameters={"sample": "B-7", "replicates": 5})
        assert made["path"] == "qc-B-7.ipynb"
        source = injected_source(live.root / project["path"] / "qc-B-7.ipynb")
        assert source == '# Parameters\nsample = "B-7"\nreplicates = 5\n'

        with pytest.raises(BadRequest) as e:
            dd.create_notebook(project["id"], from_template=template, parameters={"replicates": "many", "os": 1})
        err = e.value
        assert (err.status, err.code, sorted(err.paths)) == (400, "invalid_parameters", ["/parameters/os", "/parameters/replicates"])
        with pytest.raises(NotFound) as e:
            dd.create_notebook(project["id"], from_template="nope.ipynb")
        assert (e.value.status, e.value.code, e.value.paths) == (404, "template_not_found", ["/from_template"])

    await in_thread(scenario)


async def test_cli_lists_and_creates_from_notebook_templates(live, template):
    def scenario():
        table = ok(run(live, "templates", "list", "--kind", "notebook")).stdout
        assert template in table and "Sample QC" in table
        assert [t["id"] for t in out_json(run(live, "templates", "list", "--kind", "notebook", "--json"))] == [template]

        pid = live.client().create_project("QC")["id"]
        made = out_json(run(live, "notebooks", "create", pid, "--from-template", template, "-P", "sample=C 9",
                            "-P", "replicates=2", "--json"))
        assert made["path"] == "qc-C 9.ipynb"
        folder = live.root / live.client().get_project(pid)["path"]
        assert injected_source(folder / "qc-C 9.ipynb") == '# Parameters\nsample = "C 9"\nreplicates = 2\n'
        # The same values again: a new name, nothing overwritten.
        again = out_json(run(live, "notebooks", "create", pid, "--from-template", template,
                             "--parameters", '{"sample": "C 9", "replicates": 2}', "--json"))
        assert again["path"] == "qc-C 9-1.ipynb"

        body = json_error(run(live, "notebooks", "create", pid, "--from-template", template, "-P", "replicates=x", "--json"),
                          4, 400, "invalid_parameters")
        assert [e["path"] for e in body["errors"]] == ["/parameters/replicates"]
        failed(run(live, "notebooks", "create", pid), 2, "give NAME")
        failed(run(live, "notebooks", "create", pid, "x.ipynb", "-P", "a=1"), 2, "give NAME")

    await in_thread(scenario)
