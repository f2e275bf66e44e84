"""The demo project `make run` creates on a first start."""

import json
import os
import subprocess
import sys

import nbformat
import pytest

from cell_templates import cell_state
from datadive_testing import base_config
from datadive_ext.demo import demo_csv, demo_notebook


@pytest.fixture
def jp_server_config(jp_data_dir):
    return base_config(jp_data_dir, DatadiveApp={"demo_project": True})


async def wait_for_demo(api):
    import asyncio

    for _ in range(200):
        listing = await api("GET", "projects")
        if listing.json["items"]:
            project = listing.json["items"][0]
            notebooks = await api("GET", "projects", project["id"], "notebooks")
            if notebooks.status == 200 and [n["path"] for n in notebooks.json["items"]] == ["analysis.ipynb"]:
                return project
        await asyncio.sleep(0.05)
    raise AssertionError("no demo project was created")


async def test_first_start_creates_the_demo_project_once(api, jp_root_dir, jp_serverapp):
    project = await wait_for_demo(api)
    assert project["name"] == "Demo study"
    folder = jp_root_dir / project["path"]
    assert (folder / "study.csv").read_text() == demo_csv()
    nb = nbformat.read(folder / "analysis.ipynb", as_version=4)
    nbformat.validate(nb)
    generated = [c for c in nb.cells if cell_state(c) == "generated"]
    assert [c.metadata["datadive"]["template"] for c in generated][:2] == ["load-csv", "overview"]
    # A second start does not add another one.
    app = next(iter(jp_serverapp.extension_manager.extension_apps["datadive_ext"]))
    await app._seed_demo()
    assert len((await api("GET", "projects")).json["items"]) == 1


def test_demo_notebook_runs_on_its_data(tmp_path):
    """The demo's code cells, run in a fresh interpreter next to its data, give the group means of the file."""
    (tmp_path / "study.csv").write_text(demo_csv())
    code = "\n\n".join(c.source for c in demo_notebook().cells if c.cell_type == "code")
    script = tmp_path / "demo.py"
    script.write_text(
        "import matplotlib\nmatplotlib.use('Agg')\n" + code + "\n"
        "import json, pandas as pd\n"
        "means = pd.read_csv('study.csv').groupby('group')['score'].mean().round(6).to_dict()\n"
        "print(json.dumps({'rows': len(df), 'means': means}))\n"
    )
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rows"] == 90
    assert out["means"]["high dose"] > out["means"]["low dose"] > out["means"]["control"]
