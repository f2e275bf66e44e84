"""Project and notebook names that would display or resolve as something else are refused.

- Bidirectional-text controls (U+202A-U+202E, U+2066-U+2069) in a project or
  notebook name: 400 (``invalid`` for project names, ``invalid_path`` for notebook
  names), at ``/name``.
- Notebook-name segments that NFKC-normalise to '.' or '..' (fullwidth dots, one-dot
  leaders, small full stops; a fullwidth solidus separates segments then) or to a
  hidden name: 400 ``invalid_path`` at ``/name``.
- Nothing is created or renamed by a refused request. Project names stay display
  text (dots included); other Unicode stays allowed; a notebook already on disk
  under such a name stays reachable.
"""

from __future__ import annotations

import nbformat
from datadive_testing import assert_error

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
DOTS = [
    "\uff0e\uff0e", "\uff0e", "a/\uff0e\uff0e/b", "\uff0e\uff0e\uff0fsecret", "sub\uff3c\uff0e\uff0e", "\u2024\u2024", "\ufe52",
    "\uff0e\uff0e/x.ipynb", "\uff0ehidden", "sub/\uff0eipynb_checkpoints/x",
]


async def ok(reply, status=200):
    assert reply.status == status, (reply.status, reply.text)
    return reply.json


def tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


async def test_bidi_controls_are_refused_in_project_names(api, jp_root_dir):
    project = await ok(await api("POST", "projects", body={"name": "Kept"}), 201)
    before = tree(jp_root_dir)
    for control in BIDI:
        for name in (f"abc{control}def", control, f"{control}gpj.ipynb"):
            assert_error(await api("POST", "projects", body={"name": name}), 400, "invalid", ["/name"])
            assert_error(await api("PATCH", "projects", project["id"], body={"name": name}), 400, "invalid", ["/name"])
    assert tree(jp_root_dir) == before
    assert [p["name"] for p in (await ok(await api("GET", "projects")))["items"]] == ["Kept"]


async def test_bidi_controls_and_dot_lookalikes_are_refused_in_notebook_names(api, jp_root_dir):
    project = await ok(await api("POST", "projects", body={"name": "Names"}), 201)
    pid = project["id"]
    await ok(await api("POST", "projects", pid, "notebooks", body={"name": "book"}), 201)
    before = tree(jp_root_dir)
    names = [f"report{c}gnp.ipynb" for c in BIDI] + [f"{c}x" for c in BIDI] + DOTS
    for name in names:
        assert_error(await api("POST", "projects", pid, "notebooks", body={"name": name}), 400, "invalid_path", ["/name"])
        assert_error(await api("PATCH", "projects", pid, "notebooks", "book.ipynb", body={"name": name}), 400, "invalid_path", ["/name"])
    assert tree(jp_root_dir) == before
    assert [n["path"] for n in (await ok(await api("GET", "projects", pid, "notebooks")))["items"]] == ["book.ipynb"]


async def test_other_names_stay_allowed(api, jp_root_dir):
    # Project names are display text: dots and their lookalikes make a project with a slug folder.
    for name in ("..", "\uff0e\uff0e", "\u05e9\u05dc\u05d5\u05dd", "zero\u200bwidth"):
        project = await ok(await api("POST", "projects", body={"name": name}), 201)
        assert project["name"] == name and (jp_root_dir / project["path"]).is_dir()
    pid = project["id"]
    for name in ("a\uff0eb.ipynb", "zero\u200bwidth.ipynb", "\u05e9\u05dc\u05d5\u05dd.ipynb", "sub/x\uff0e\uff0e.ipynb", "\U0001f4ca.ipynb"):
        created = await ok(await api("POST", "projects", pid, "notebooks", body={"name": name}), 201)
        assert created["path"] == name and (jp_root_dir / project["path"] / name).is_file()


async def test_a_notebook_already_named_so_stays_reachable(api, jp_root_dir):
    """The rule is for new names: a file someone made with such a name can still be read, written and renamed away."""
    project = await ok(await api("POST", "projects", body={"name": "Old files"}), 201)
    pid = project["id"]
    name = "report\u202egnp.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / project["path"] / name)
    assert (await ok(await api("GET", "projects", pid, "notebooks", name)))["path"] == name
    await ok(await api("POST", "projects", pid, "notebooks", name, "cells", body={"cell_type": "code", "source": "x = 1"}), 201)
    assert [c["source"] for c in (await ok(await api("GET", "projects", pid, "notebooks", name, "cells")))["cells"]] == ["x = 1"]
    renamed = await ok(await api("PATCH", "projects", pid, "notebooks", name, body={"name": "report.ipynb"}))
    assert renamed["path"] == "report.ipynb"
    history = (await ok(await api("GET", "projects", pid, "notebooks", "report.ipynb", "history")))["items"]
    assert [h["op"] for h in history] == ["insert"]  # the journal followed the rename
