"""The cell API's tests again, with every notebook on the direct path (``notebook_direct_bytes = 0``).

Large notebooks on jupyter_server's file contents manager are read and written as
text, parsed, validated and signed in the worker pool (datadive_ext/notebooks.py).
Running the whole cell API suite through that path shows that it behaves as the
whole-notebook path does. The tests below it check what only the direct path
does: keeping a notebook's trust, and staying off it for other contents managers.
"""

from __future__ import annotations

import pytest
from test_cells_api import *  # noqa: F401,F403  (the same tests, collected here with the fixture below)

from datadive_testing import base_config


@pytest.fixture
def jp_server_config(jp_data_dir):
    return base_config(jp_data_dir, DatadiveApp={"notebook_direct_bytes": 0})


# -- what only the direct path does ---------------------------------------------------------------

HTML_OUTPUT = {"output_type": "display_data", "data": {"text/html": "<b>rich</b>", "text/plain": "rich"}, "metadata": {}}


def _with_rich_output(book, signed: bool, cm) -> None:
    """The notebook's file: one code cell with an HTML output, signed by the server's notary or not."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("show()", outputs=[nbformat.from_dict(HTML_OUTPUT)]))
    if signed:
        cm.notary.sign(nb)
    book.file.write_text(nbformat.writes(nb), encoding="utf-8")


async def _trusted_cells(cm, path) -> list:
    model = await cm.get(path, content=True)
    return [c["metadata"].get("trusted") for c in model["content"]["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("signed", [True, False])
async def test_a_trusted_notebook_stays_trusted_an_untrusted_one_does_not_become_trusted(api, jp_root_dir, jp_serverapp, signed):
    cm = jp_serverapp.contents_manager
    book = await new_book(api, jp_root_dir)
    _with_rich_output(book, signed, cm)
    path = book.file.relative_to(jp_root_dir).as_posix()
    assert await _trusted_cells(cm, path) == [signed]

    await ok(await book.insert({"cell_type": "code", "source": "x = 1"}), 201)

    assert [c.source for c in book.read().cells] == ["show()", "x = 1"]
    # As a whole-notebook save keeps it: signed again when it was trusted; else not
    # signed, because of the cell with the rich output (and an unsigned notebook's code
    # cells are all shown untrusted).
    assert await _trusted_cells(cm, path) == ([True, True] if signed else [False, False])


async def test_a_notebook_without_rich_output_is_signed_as_the_contents_manager_signs_it(api, jp_root_dir, jp_serverapp):
    cm = jp_serverapp.contents_manager
    book = await new_book(api, jp_root_dir)
    await ok(await book.insert({"cell_type": "code", "source": "y = 2"}), 201)
    path = book.file.relative_to(jp_root_dir).as_posix()
    assert await _trusted_cells(cm, path) == [True]


async def test_the_direct_path_reads_the_file_as_text_and_writes_it_as_the_file_manager_does(api, jp_root_dir, jp_serverapp, monkeypatch):
    cm = jp_serverapp.contents_manager
    book = await new_book(api, jp_root_dir)
    calls, events = [], []
    real_get, real_save = cm.get, cm.save

    async def get(path, content=True, type=None, format=None, **kw):
        calls.append(("get", content, type))
        return await real_get(path, content=content, type=type, format=format, **kw)

    async def save(model, path=""):
        calls.append(("save", model["type"]))
        return await real_save(model, path)

    async def listener(logger, schema_id, data):
        events.append(dict(data))

    monkeypatch.setattr(cm, "get", get)
    monkeypatch.setattr(cm, "save", save)
    jp_serverapp.event_logger.add_listener(schema_id=cm.event_schema_id, listener=listener)
    await ok(await book.insert({"cell_type": "code", "source": "z = 3"}), 201)
    path = book.file.relative_to(jp_root_dir).as_posix()
    assert ("get", True, "file") in calls and ("get", True, "notebook") not in calls
    assert not [c for c in calls if c[0] == "save"]  # written in the worker pool, not by cm.save on the loop
    assert {"action": "save", "path": path} in [{k: e.get(k) for k in ("action", "path")} for e in events]
    assert [c.source for c in book.read().cells] == ["z = 3"]
    assert not list(book.file.parent.glob(".~*"))  # the atomic write's backup is gone
    await book.check()


async def test_an_unreadable_file_is_reported_as_the_contents_manager_reports_it(api, jp_root_dir):
    book = await new_book(api, jp_root_dir)
    book.file.write_text("{ not json", encoding="utf-8")
    reply = await book.insert({"cell_type": "code", "source": "x"})
    assert_error(reply, 409, "notebook_unreadable", [""])
    assert book.raw() == b"{ not json"


def _recording_manager_class():
    """A contents manager class of another package (a subclass, as jupytext's is): never the direct path."""
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

    class Recording(AsyncLargeFileManager):
        saved_types: list = []

        async def save(self, model, path=""):
            Recording.saved_types.append(model["type"])
            return await super().save(model, path)

    Recording.__module__ = "some_other_package.contents"
    return Recording


class TestOtherContentsManagers:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, DatadiveApp={"notebook_direct_bytes": 0},
                           ServerApp={"contents_manager_class": _recording_manager_class()})

    async def test_a_subclass_gets_whole_notebook_saves(self, api, jp_root_dir, jp_serverapp):
        cm = jp_serverapp.contents_manager
        book = await new_book(api, jp_root_dir)
        type(cm).saved_types.clear()
        await ok(await book.insert({"cell_type": "code", "source": "x = 1"}), 201)
        assert type(cm).saved_types == ["notebook"]
        assert [c.source for c in book.read().cells] == ["x = 1"]
