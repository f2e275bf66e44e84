"""Folder templates (``DatadiveApp.template_folders``): re-read when a file changes, never in a request.

- The folders are scanned (one ``os.scandir`` per folder) at most once per request,
  whatever the request looks up: counted here by wrapping ``os.scandir``.
- A changed file is read and validated in the worker pool; requests meanwhile get the
  previous state, and a later request gets the new one.
- A file that fails validation keeps its previous version (or, new, is skipped), with
  a warning in the server log that gives the problem's path.

A real server (pytest-jupyter) whose template folder is a real directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from datadive_testing import assert_error, base_config

WAIT = 10.0  # seconds a change may take to show (a scan every 0.5 s, then the background read)


def folder_doc(tid: str = "org-note", title: str = "One", **changes) -> dict:
    doc = {
        "id": tid,
        "title": title,
        "category": "org",
        "inputs": {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$", "default": "x"}}},
        "cells": [{"cell_type": "code", "source": "name = {{ name }}"}],
        "examples": [{"inputs": {"name": "abc"}}],
    }
    doc.update(changes)
    return doc


def slow_doc(title: str) -> dict:
    """Valid, and slow to check on purpose: 30 examples of 100,000 loop steps each (over a second)."""
    return folder_doc(
        "org-slow", title,
        inputs={"type": "object", "properties": {"n": {"type": "integer"}}},
        cells=[{"cell_type": "code", "source": "{% for i in range(1000) %}{% for j in range(99) %}{% endfor %}{% endfor %}x = {{ n }}"}],
        examples=[{"inputs": {"n": i}} for i in range(30)],
    )


def write(folder, name: str, doc) -> None:
    """Write a file and move its mtime on, so that a rewrite within one clock tick is still a change."""
    path = folder / name
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    stamp = max(path.stat().st_mtime_ns, before + 1_000_000)
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def org_folder(tmp_path):
    folder = tmp_path / "org-templates"
    folder.mkdir()
    write(folder, "note.json", folder_doc())
    return folder


@pytest.fixture
def jp_server_config(jp_data_dir, org_folder):
    return base_config(jp_data_dir, DatadiveApp={"template_folders": [str(org_folder)]})


async def until(check, what: str, timeout: float = WAIT):
    """Poll ``await check()`` until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not seen within {timeout} s"
        await asyncio.sleep(0.1)


async def title_of(api, tid: str):
    reply = await api("GET", "templates", tid)
    return reply.json["title"] if reply.status == 200 else None


def folder_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "template folder" in r.getMessage()]


async def test_an_edited_file_is_picked_up_by_a_later_request(api, org_folder):
    got = await api("GET", "templates", "org-note")
    assert got.status == 200, got.text
    assert (got.json["source"], got.json["title"]) == ("path", "One")

    write(org_folder, "note.json", folder_doc(title="Two"))
    await until(lambda: _is(title_of(api, "org-note"), "Two"), "the edited title")
    listed = await api("GET", "templates", params={"source": "path"})
    assert [(t["id"], t["title"]) for t in listed.json["items"]] == [("org-note", "Two")]

    # A new file appears, a removed one goes.
    write(org_folder, "late.json", folder_doc("org-late", "Late"))
    await until(lambda: _is(title_of(api, "org-late"), "Late"), "the new file")
    (org_folder / "note.json").unlink()
    await until(lambda: _is(title_of(api, "org-note"), None), "the removed file")
    assert_error(await api("GET", "templates", "org-note"), 404, "template_not_found", [])


async def _is(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def test_revalidation_runs_in_the_background_not_in_the_request(api, org_folder):
    """The file takes over a second to validate: the request that finds the change answers at
    once, from the previous state, and the new version shows up later."""
    write(org_folder, "slow.json", slow_doc("Slow one"))
    await until(lambda: _is(title_of(api, "org-slow"), "Slow one"), "the slow template")

    write(org_folder, "slow.json", slow_doc("Slow two"))
    await asyncio.sleep(0.6)  # past the scan interval: the next request scans and finds the change
    started = time.monotonic()
    first = await api("GET", "templates", "org-slow")
    took = time.monotonic() - started
    assert first.status == 200, first.text
    assert first.json["title"] == "Slow one"  # the previous state, served while the new one is checked
    assert took < 0.5, took  # far less than the check takes: it did not run in this request
    others = await api("GET", "templates", params={"source": "path"})
    assert others.status == 200 and [t["title"] for t in others.json["items"]] == ["One", "Slow one"]
    await until(lambda: _is(title_of(api, "org-slow"), "Slow two"), "the re-validated version")


async def test_a_file_that_fails_validation_keeps_the_previous_version(api, org_folder, caplog):
    assert await title_of(api, "org-note") == "One"
    broken = folder_doc(title="Broken", inputs={"type": "object", "properties": {"name": {"type": "string", "pattern": "^(?!x)"}}})
    write(org_folder, "note.json", broken)
    await until(lambda: _found(api, caplog, "note.json"), "the warning about note.json")
    [warning] = [w for w in folder_warnings(caplog) if "note.json" in w]
    assert "/inputs/properties/name/pattern: lookahead ((?=...), (?!...)) is not supported" in warning, warning
    assert warning.endswith("; keeping the version read before (template 'org-note')"), warning
    # Still served, and still renders, as it was.
    got = await api("GET", "templates", "org-note")
    assert got.status == 200 and got.json["title"] == "One", got.text
    rendered = await api("POST", "templates", "org-note", "render", body={"inputs": {"name": "abc"}})
    assert rendered.status == 200 and rendered.json["cells"][0]["source"] == "name = 'abc'", rendered.text

    # A new file that fails is skipped (with its warning); the others stay.
    write(org_folder, "bad.json", folder_doc("org-bad", "Bad", cells=[]))
    await until(lambda: _found(api, caplog, "bad.json"), "the warning about bad.json")
    [warning] = [w for w in folder_warnings(caplog) if "bad.json" in w]
    assert "/cells: must have at least 1 items" in warning and warning.endswith("; skipped"), warning
    assert_error(await api("GET", "templates", "org-bad"), 404, "template_not_found", [])
    listed = await api("GET", "templates", params={"source": "path"})
    assert [t["id"] for t in listed.json["items"]] == ["org-note"]

    # Repaired, the file's new version is served.
    write(org_folder, "note.json", folder_doc(title="Repaired"))
    await until(lambda: _is(title_of(api, "org-note"), "Repaired"), "the repaired version")


async def _found(api, caplog, name: str) -> bool:
    """A request (folders are scanned only when someone asks), then: is there a warning about ``name``?"""
    assert (await api("GET", "templates", params={"source": "path"})).status == 200
    return any(name in w for w in folder_warnings(caplog))


async def test_at_most_one_scan_per_request(api, org_folder, jp_root_dir, monkeypatch):
    """Counted by wrapping ``os.scandir``: whatever a request looks up (a notebook of 30 cells
    generated from the folder template included), it lists the folder at most once."""
    scans = []
    real_scandir = os.scandir

    def counting_scandir(path="."):
        if os.fspath(path) == str(org_folder):
            scans.append(time.monotonic())
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting_scandir)

    project = await api("POST", "projects", body={"name": "Folder cells"})
    assert project.status == 201, project.text
    pid = project.json["id"]
    assert (await api("POST", "projects", pid, "notebooks", body={"name": "a.ipynb"})).status == 201
    for k in range(30):
        reply = await api("POST", "projects", pid, "notebooks", "a.ipynb", "cells", body={"template": {"id": "org-note"}, "inputs": {"name": "abc"}})
        assert reply.status == 201, reply.text

    requests = [
        ("GET", ("projects", pid, "notebooks", "a.ipynb", "cells"), None),
        ("GET", ("templates",), None),
        ("GET", ("templates", "org-note"), None),
        ("GET", ("templates", "org-note", "versions"), None),
        ("POST", ("templates", "org-note", "render"), {"inputs": {"name": "abc"}}),
    ]
    per_request = []
    for paced in (True, False):  # with a scan due at every request, then as fast as they come
        for method, segments, body in requests * 2:
            if paced:
                await asyncio.sleep(0.55)
            before = len(scans)
            reply = await api(method, *segments, body=body)
            assert reply.status == 200, reply.text
            per_request.append((method, segments[-1], len(scans) - before))
    assert max(n for *_, n in per_request) == 1, per_request  # never more than one
    assert all(n == 1 for *_, n in per_request[: len(requests) * 2]), per_request  # a due scan does happen
    builtin = await api("GET", "templates", "load-csv")  # a built-in id needs no scan at all
    assert builtin.status == 200 and builtin.json["source"] == "builtin"
    listed = await api("GET", "projects", pid, "notebooks", "a.ipynb", "cells")
    assert [c["template"] for c in listed.json["cells"]] == ["org-note"] * 30


# ---- looking many templates up at once (what the cells service does for a listing) -----------


def datadive_app(jp_serverapp):
    [app] = jp_serverapp.extension_manager.extension_apps["datadive_ext"]
    return app


async def test_resolve_many_reads_each_source_once(api, jp_serverapp, monkeypatch):
    """1,000 references to 23 templates of three sources: one folder scan, two SQL statements, and
    the stored versions not yet parsed are parsed together in the worker pool."""
    from datadive_ext.services.templates import TemplateService

    for k in range(20):
        created = await api("POST", "templates", body=folder_doc(f"user-{k:02d}", f"User {k}"))
        assert created.status == 201, created.text
        if k % 4 == 0:
            updated = await api("PUT", "templates", f"user-{k:02d}", body=folder_doc(f"user-{k:02d}", f"User {k}, v2"), headers={"If-Match": '"1"'})
            assert updated.status == 200, updated.text
    app = datadive_app(jp_serverapp)
    fresh = TemplateService(app.store, (), app.log)  # nothing parsed yet
    queries = []
    real_query = app.store.query

    def counting_query(sql, params=()):
        queries.append(sql)
        return real_query(sql, params)

    monkeypatch.setattr(app.store, "query", counting_query)

    refs = []
    for i in range(1000):
        k = i % 25
        if k < 20:
            refs.append(f"user-{k:02d}" if i % 2 else (f"user-{k:02d}", 1 + (k % 4 == 0 and i % 3 == 0)))
        else:
            refs.append([("value-counts", None), ("value-counts", 2), ("no-such", None), ("user-01", 7), ("user-02", 0)][k - 20])
    found = await fresh.resolve_many(refs)
    assert len(queries) == 2, queries  # the heads, then the versions not cached
    assert found[("value-counts", None)].id == "value-counts"
    assert found[("value-counts", 2)] is None and found[("no-such", None)] is None
    assert found[("user-01", 7)] is None and found[("user-02", 0)] is None
    for k in range(20):
        latest = found[(f"user-{k:02d}", None)]
        assert (latest.id, latest.version, latest.title) == (f"user-{k:02d}", 2 if k % 4 == 0 else 1, f"User {k}, v2" if k % 4 == 0 else f"User {k}")
        assert found[(f"user-{k:02d}", 1)].title == f"User {k}"
    queries.clear()
    again = await fresh.resolve_many(refs)
    assert len(queries) == 1 and again == found  # cached: the heads only (a template may have a new version)

    # The server's own service: the folder source too, scanned at most once.
    queries.clear()
    served = await app.templates.resolve_many(["org-note", ("org-note", 1), ("org-note", 2), "user-03"] * 50)
    assert served[("org-note", None)].title == "One" and served[("org-note", 1)] is served[("org-note", None)]
    assert served[("org-note", 2)] is None and served[("user-03", None)].title == "User 3"
    assert len(queries) <= 2, queries


async def test_running_templates_where_they_belong(api, jp_serverapp):
    """The public coroutines other services call: render, validate and re-render, inline for a
    small built-in render, in the worker pool for the others."""
    from cell_templates import InputError

    from datadive_ext.errors import NotFound

    service = datadive_app(jp_serverapp).templates
    assert (await api("POST", "templates", body=folder_doc("mine"))).status == 201
    [cell] = await service.render_async("mine", {"name": "abc"})
    assert cell["source"] == "name = 'abc'" and cell["metadata"]["datadive"]["template"] == "mine"
    assert await service.validate_async("mine", {}) == {"name": "x"}
    with pytest.raises(InputError) as refused:
        await service.validate_async("mine", {"name": "a" * 10_000 + "!"})
    assert refused.value.errors == [{"path": "/name", "message": "does not match the pattern '^[a-z]+$'"}]
    template, source, info = await service.resolve_async("mine")
    assert (source, info["latest_version"]) == ("user", 1)
    again = await service.rerender_async(cell, template, {"name": "xyz"})
    assert again["id"] == cell["id"] and again["source"] == "name = 'xyz'"
    with pytest.raises(NotFound):
        await service.resolve_async("mine", 2)
    with pytest.raises(InputError):
        await service.render_async("org-note", {"name": 1})  # a folder template: the input is checked in the pool

    builtin, _, _ = await service.resolve_async("value-counts")
    await service.render_async("value-counts", {"column": "species"})  # compiles its sources
    assert service.runs_inline(builtin, {"column": "species"})
    assert not service.runs_inline(builtin, {"column": "s" * 30_000})  # large inputs: the pool
    assert not service.runs_inline(template, {"name": "abc"})  # user templates: always the pool
