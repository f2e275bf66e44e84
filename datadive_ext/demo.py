"""A demo project for a first start: a small generated data file and a notebook built from templates."""

from __future__ import annotations

import csv
import io
import random

import nbformat
from jupyter_core.utils import ensure_async

from cell_templates import builtin_templates

DEMO_NAME = "Demo study"
DATA_FILE = "study.csv"


def demo_csv(n: int = 90, seed: int = 7) -> str:
    """A deterministic table: three treatment groups, a score that differs by group, age, sex."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["subject", "group", "sex", "age", "score"])
    shift = {"control": 0.0, "low dose": 4.0, "high dose": 9.0}
    for i in range(n):
        group = ("control", "low dose", "high dose")[i % 3]
        writer.writerow([f"s{i + 1:03d}", group, rng.choice(["f", "m"]), rng.randint(19, 70), round(50 + shift[group] + rng.gauss(0, 6), 1)])
    return out.getvalue()


def demo_notebook() -> nbformat.NotebookNode:
    library = builtin_templates()
    steps = [
        ("load-csv", {"path": DATA_FILE, "name": "df"}),
        ("overview", {"df": "df"}),
        ("group-summary", {"df": "df", "by": ["group"], "values": ["score", "age"], "aggs": ["count", "mean", "std"]}),
        ("boxplot-by-group", {"df": "df", "value": "score", "group": "group"}),
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "# Demo study\nEach code cell below was generated from a Datadive template; "
        "its inputs are kept in the cell metadata so it can be re-generated."
    ))
    for tid, inputs in steps:
        nb.cells.extend(nbformat.from_dict(c) for c in library[tid].render(inputs))
    return nb


async def seed_demo(projects, user: str, log=None) -> str | None:
    """Create the demo project for ``user`` unless they already have projects. Returns its id."""
    if projects.list(user, limit=1).items:
        return None
    project = await projects.create(user, DEMO_NAME, "A small generated data set and an analysis built from cell templates.")
    cm = projects.cm
    await ensure_async(cm.save({"type": "file", "format": "text", "content": demo_csv()}, f"{project['path']}/{DATA_FILE}"))
    nb = demo_notebook()
    nb.metadata.update(projects.new_notebook().metadata)
    await ensure_async(cm.save({"type": "notebook", "format": "json", "content": nb}, f"{project['path']}/analysis.ipynb"))
    if log:
        log.info("Datadive: created the demo project at %s", project["path"])
    return project["id"]
