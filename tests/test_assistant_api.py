"""The assistant over REST: data files in a project (bounded reading), live kernel variables, inline tables."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pandas as pd
import pytest

from cell_templates import builtin_templates
from datadive_testing import assert_error, base_config, max_in_flight


def study(n=120, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.repeat(["control", "treated"], n // 2)
    score = np.where(group == "control", rng.normal(50, 5, n), rng.normal(58, 5, n))
    return pd.DataFrame({"id": np.arange(n), "group": group, "score": score.round(2), "age": rng.integers(20, 70, n)})


async def new_project(api, jp_root_dir, frame=None, name="data.csv"):
    project = (await api("POST", "projects", body={"name": "Assist"})).json
    folder = jp_root_dir / project["path"]
    frame = study() if frame is None else frame
    if name.endswith(".csv"):
        frame.to_csv(folder / name, index=False)
    elif name.endswith(".parquet"):
        frame.to_parquet(folder / name, index=False, row_group_size=max(len(frame) // 7, 1))
    elif name.endswith(".xlsx"):
        frame.to_excel(folder / name, index=False)
    return project


def check_suggestions(result):
    library = builtin_templates()
    assert result["suggestions"], result
    for s in result["suggestions"]:
        template = library[s["template"]]
        template.validate_inputs(s["inputs"])


async def test_suggest_on_a_project_file(api, jp_root_dir):
    project = await new_project(api, jp_root_dir)
    r = await api("POST", "assistant", "suggest", body={"source": {"project": project["id"], "path": "data.csv"},
                                                         "design": {"outcome": "score", "between": "group"}})
    assert r.status == 200, r.text
    assert r.json["suggestions"][0]["test"] in ("independent_t", "welch_t", "mann_whitney")
    assert r.json["source"]["rows_read"] == 120 and r.json["source"]["sampled"] is False
    check_suggestions(r.json)
    # the profile of the file: every column when asked for a profile
    p = await api("POST", "assistant", "profile", body={"source": {"project": project["id"], "path": "data.csv"}})
    assert p.status == 200, p.text
    text = json.dumps(p.json)
    for column in ("id", "group", "score", "age"):
        assert column in text


@pytest.fixture
def jp_server_config(jp_data_dir):
    return base_config(jp_data_dir, DatadiveApp={"assistant_full_read_bytes": 20000, "assistant_sample_rows": 300,
                                                 "assistant_kernel_timeout": 6.0})


@pytest.mark.parametrize("name", ["data.csv", "data.parquet"])
async def test_large_files_are_sampled_deterministically(api, jp_root_dir, name):
    frame = study(n=3000)
    project = await new_project(api, jp_root_dir, frame, name)
    body = {"source": {"project": project["id"], "path": name}, "design": {"outcome": "score", "between": "group"}}
    first = await api("POST", "assistant", "suggest", body=body)
    assert first.status == 200, first.text
    info = first.json["source"]
    assert info["sampled"] is True and info["rows_read"] == 300 and info["rows_total"] == 3000
    second = await api("POST", "assistant", "suggest", body=body)
    assert second.json == first.json


async def test_small_other_formats_and_refusals(api, jp_root_dir):
    project = await new_project(api, jp_root_dir, study(n=40), "data.xlsx")
    ok = await api("POST", "assistant", "suggest", body={"source": {"project": project["id"], "path": "data.xlsx"},
                                                          "design": {"outcome": "score", "between": "group"}})
    assert ok.status == 200, ok.text
    assert ok.json["source"]["rows_read"] == 40
    (jp_root_dir / project["path"] / "big.json").write_text(json.dumps([{"score": i} for i in range(3000)]))
    big = await api("POST", "assistant", "profile", body={"source": {"project": project["id"], "path": "big.json"}})
    assert_error(big, 413, "too_large", [])
    for path, status, code in (("missing.csv", 404, "file_not_found"), ("notes.docx", 400, "unsupported_file"),
                               ("../x.csv", 400, "invalid_path"), (".hidden.csv", 400, "invalid_path")):
        r = await api("POST", "assistant", "profile", body={"source": {"project": project["id"], "path": path}})
        assert_error(r, status, code, ["/source/path"])


async def test_inline_table_and_bad_designs(api):
    table = {"columns": ["g", "y"], "rows": [["a", 1.0], ["a", 2.0], ["a", 1.5], ["b", 3.0], ["b", 3.5], ["b", 4.0]] * 3}
    r = await api("POST", "assistant", "suggest", body={"source": {"table": table}, "design": {"outcome": "y", "between": "g"}})
    assert r.status == 200, r.text
    check_suggestions(r.json)
    unknown = await api("POST", "assistant", "suggest", body={"source": {"table": table}, "design": {"outcome": "nope", "between": "g"}})
    # Design problems carry paths relative to the design, as the Python API reports them (docs/assistant.md).
    assert_error(unknown, 400, "invalid_design", ["/outcome"])
    empty = await api("POST", "assistant", "suggest", body={"source": {"table": {"columns": ["g", "y"], "rows": []}}, "design": {"outcome": "y", "between": "g"}})
    assert_error(empty, 400, "invalid_design", [""])
    schema = await api("POST", "assistant", "suggest", body={"source": {"table": table}, "design": {"between": "g"}})
    assert_error(schema, 400, "invalid", ["/design/outcome"])


async def start_kernel(api_fetch, jp_serverapp, code: str | None = None) -> str:
    km = jp_serverapp.kernel_manager
    kid = await km.start_kernel()
    if code:
        client = km.get_kernel(kid).client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute(code, reply=True, timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]
        finally:
            client.stop_channels()
    return kid


KERNEL_SETUP = """
import cell_templates.assistant  # imported up front: the first import costs seconds, more than this module's short timeout
import scipy.stats  # what suggest() imports on first use, for the same reason
cell_templates.builtin_templates()
import numpy as np, pandas as pd
rng = np.random.default_rng(5)
df = pd.DataFrame({"group": np.repeat(["a", "b", "c"], 20), "score": np.r_[rng.normal(0, 1, 20), rng.normal(1, 1, 20), rng.normal(2, 1, 20)]})
not_a_frame = [1, 2, 3]
"""


async def test_kernel_variable(api, jp_serverapp):
    kid = await start_kernel(api, jp_serverapp, KERNEL_SETUP)
    try:
        r = await api("POST", "assistant", "suggest", body={"source": {"kernel_id": kid, "variable": "df"},
                                                             "design": {"outcome": "score", "between": "group"}})
        assert r.status == 200, r.text
        assert r.json["suggestions"][0]["test"] in ("one_way_anova", "welch_anova", "kruskal_wallis")
        check_suggestions(r.json)
        p = await api("POST", "assistant", "profile", body={"source": {"kernel_id": kid, "variable": "df"}})
        assert p.status == 200 and "score" in json.dumps(p.json), p.text
        nf = await api("POST", "assistant", "profile", body={"source": {"kernel_id": kid, "variable": "not_a_frame"}})
        assert_error(nf, 400, "not_a_dataframe", ["/source/variable"])
        missing = await api("POST", "assistant", "profile", body={"source": {"kernel_id": kid, "variable": "nothing_here"}})
        assert_error(missing, 400, "unknown_variable", ["/source/variable"])
        # Not a name: the request schema refuses it; a name the server will not look up: invalid_variable.
        for hostile, code in (("df; import os", "invalid"), ("__import__('os')", "invalid"), ("1df", "invalid"),
                              ("df.__class__", "invalid"), ("", "invalid"), ("__builtins__", "invalid_variable"),
                              ("def", "invalid_variable")):
            bad = await api("POST", "assistant", "profile", body={"source": {"kernel_id": kid, "variable": hostile}})
            assert_error(bad, 400, code, ["/source/variable"])
        # the analysis left no trace in the kernel's namespace
        client = jp_serverapp.kernel_manager.get_kernel(kid).client()
        client.start_channels()
        try:
            reply = await client.execute("sorted(n for n in dir() if 'datadive' in n)", reply=True, user_expressions={"x": "sorted(n for n in dir() if 'datadive' in n)"}, timeout=30)
            assert reply["content"]["user_expressions"]["x"]["data"]["text/plain"] == "[]"
        finally:
            client.stop_channels()
        unknown = await api("POST", "assistant", "profile", body={"source": {"kernel_id": "0" * 32, "variable": "df"}})
        assert_error(unknown, 404, "kernel_not_found", ["/source/kernel_id"])
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kid, now=True)


async def test_hung_kernel_times_out_and_server_stays_responsive(api, jp_serverapp):
    kid = await start_kernel(api, jp_serverapp, KERNEL_SETUP)
    client = jp_serverapp.kernel_manager.get_kernel(kid).client()
    client.start_channels()
    try:
        client.execute("import time; time.sleep(30)")  # the kernel is busy: our request queues behind it
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        profile = asyncio.ensure_future(api("POST", "assistant", "profile", body={"source": {"kernel_id": kid, "variable": "df"}}))
        await asyncio.sleep(0.2)
        other = await api("GET", "templates", params={"limit": 1})  # served while the kernel hangs
        assert other.status == 200
        assert not profile.done()
        r = await profile
        assert max_in_flight([r, other]) == 2 and r.started < other.started and other.ended < r.ended
        assert_error(r, 504, "kernel_timeout", [])
        assert time.monotonic() - t0 < 25  # the timeout answered, not the 30 s sleep
    finally:
        client.stop_channels()
        await jp_serverapp.kernel_manager.shutdown_kernel(kid, now=True)
