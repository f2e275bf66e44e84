"""The package as installed: a pure cell_templates, and schemas found by editable and wheel installs."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_python(code, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cell_templates_imports_no_server_code(tmp_path):
    out = run_python(
        "import sys, json, cell_templates\n"
        "lib = cell_templates.builtin_templates()\n"
        "t = next(iter(lib.values())); t.render(t.examples[0]['inputs'])\n"
        "bad = [m for m in ('tornado', 'jupyter_server', 'datadive_ext', 'nbformat') if m in sys.modules]\n"
        "print(json.dumps({'bad': bad, 'n': len(lib)}))",
        cwd=tmp_path,
    )
    assert out["bad"] == []
    assert out["n"] >= 20


def test_editable_install_finds_the_repository_schemas():
    from cell_templates.schemas import load_schema, schema_dir

    assert schema_dir() == REPO / "schemas"
    assert load_schema("template")["$schema"].endswith("2020-12/schema")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # The build hook builds the front end with jlpm, which lives beside this Python.
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("*.whl")
    return whl


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cell_templates/schemas/template.schema.json" in names
    assert "cell_templates/library/load-csv.json" in names
    assert "datadive_ext/__init__.py" in names
    assert any(n.endswith("data/etc/jupyter/jupyter_server_config.d/datadive_ext.json") for n in names)
    assert not any(n.startswith("tests/") for n in names)
    # The JupyterLab front end, prebuilt: JupyterLab finds it in share/jupyter/labextensions.
    labext = "datadive-0.1.0.data/data/share/jupyter/labextensions/datadive/"
    assert labext + "package.json" in names
    assert labext + "install.json" in names
    assert labext + "schemas/datadive/plugin.json" in names
    assert any(n.startswith(labext + "static/remoteEntry.") and n.endswith(".js") for n in names)
    meta = json.loads(zipfile.ZipFile(wheel).read(labext + "package.json"))
    assert meta["name"] == "datadive" and meta["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")


def test_installed_wheel_finds_its_schemas_and_library(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = run_python(
        "import json, cell_templates\n"
        "from cell_templates.schemas import schema_dir\n"
        "lib = cell_templates.builtin_templates()\n"
        "print(json.dumps({'file': cell_templates.__file__, 'schemas': str(schema_dir()), 'n': len(lib)}))",
        cwd=tmp_path,
        env_extra={"PYTHONPATH": str(target)},
    )
    assert out["file"].startswith(str(target))
    assert out["schemas"] == str(target / "cell_templates" / "schemas")
    assert out["n"] >= 20
