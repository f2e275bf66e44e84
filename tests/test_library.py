"""The built-in template library: every template renders valid cells, and the code it writes works.

Run checks: for every template with code, a fresh Python process gets a small
deterministic data set written by pandas, runs the cells rendered from the
template's examples the way a Jupyter kernel would (a bare expression ending a
cell is its displayed value), and asserts concrete values derived from the
data. One process per template; the processes run in parallel.
"""

from __future__ import annotations

import ast
import concurrent.futures
import copy
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import nbformat
import numpy as np
import pandas as pd
import pytest

from cell_templates import builtin_templates

LIBRARY = builtin_templates()
CATEGORIES = {"data", "explore", "wrangle", "plot", "notes", "stats"}
IDENT_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
# Top-level modules the generated code may import, and the distribution that provides each.
DISTRIBUTIONS = {"pandas": "pandas", "numpy": "numpy", "matplotlib": "matplotlib", "openpyxl": "openpyxl", "pyarrow": "pyarrow",
                 "scipy": "scipy", "pingouin": "pingouin", "statsmodels": "statsmodels", "patsy": "patsy"}


def examples(template) -> list[dict]:
    # Template.examples is a read-only view; render() wants plain dicts.
    return template.to_dict()["examples"]


def render(template_id: str, inputs: dict) -> list[dict]:
    return LIBRARY[template_id].render(copy.deepcopy(inputs))


def has_code(template) -> bool:
    return any(cell["cell_type"] == "code" for cell in template.cells)


# ---------------------------------------------------------------- documents and rendering


def test_library_size_and_layout():
    assert len(LIBRARY) >= 20
    assert list(LIBRARY) == sorted(LIBRARY)
    for tid, t in LIBRARY.items():
        assert t.category in CATEGORIES, (tid, t.category)
        assert t.description and t.tags, tid
        assert len(t.examples) >= 1, tid
        assert t.language == "python"


@pytest.mark.parametrize("template_id", sorted(LIBRARY))
def test_input_schemas_are_form_ready(template_id):
    t = LIBRARY[template_id]
    doc = t.to_dict()
    props = doc["inputs"].get("properties", {})
    for name, schema in props.items():
        assert schema.get("title"), f"{template_id}: input {name} has no title"
        assert schema.get("description"), f"{template_id}: input {name} has no description"
        if name in ("df", "name", "fig_name"):
            assert schema.get("pattern") == IDENT_PATTERN and "default" in schema, (template_id, name)
    order = doc["ui"].get("ui:order")
    if order is not None:
        assert sorted(order) == sorted(props), f"{template_id}: ui:order must list every input"
    for name, hints in doc["ui"].items():
        if isinstance(hints, dict) and "ui:enumNames" in hints:
            assert len(hints["ui:enumNames"]) == len(props[name]["enum"]), f"{template_id}: ui:enumNames of {name}"
    for cell in doc["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for name in ("df", "name", "fig_name"):
            if name in props:
                assert "{{ " + name + " }}" not in source, f"{template_id}: {name} must go through |ident"


@pytest.mark.parametrize("template_id", sorted(LIBRARY))
def test_examples_render_valid_nbformat_cells(template_id):
    t = LIBRARY[template_id]
    for i, example in enumerate(examples(t)):
        cells = t.render(example["inputs"])
        assert len(cells) == len(t.cells)
        for cell in cells:
            assert cell["id"] and cell["metadata"]["datadive"]["template"] == template_id
            if cell["cell_type"] == "code":
                ast.parse(cell["source"])
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.from_dict(cell) for cell in cells]
        assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
        nbformat.validate(nb)


@pytest.mark.parametrize("template_id", sorted(LIBRARY))
def test_requires_lists_every_import(template_id):
    t = LIBRARY[template_id]
    imported = set()
    for example in examples(t):
        for cell in t.render(example["inputs"]):
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse(cell["source"])):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom):
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names)
    assert third_party <= set(DISTRIBUTIONS), f"{template_id}: unknown imports {third_party - set(DISTRIBUTIONS)}"
    missing = {DISTRIBUTIONS[m] for m in third_party} - set(t.requires)
    assert not missing, f"{template_id}: requires lacks {sorted(missing)}"


def test_notes_renders_escaped_markdown():
    t = LIBRARY["notes"]
    (cell,) = t.render({"heading": "Results *draft*", "level": 3, "paragraphs": ["First <b>line</b>.", "Second"], "bullets": ["a_b", "[link](x)"]})
    assert cell["cell_type"] == "markdown"
    assert cell["source"] == (
        "### Results \\*draft\\*\n\nFirst &lt;b&gt;line&lt;/b&gt;\\.\n\nSecond\n\n- a\\_b\n- \\[link\\]\\(x\\)"
    )
    (cell,) = t.render(examples(t)[1]["inputs"])
    assert cell["source"] == "# Survey 2024: analysis"


def test_filter_rows_refuses_incomplete_conditions():
    from cell_templates import InputError

    t = LIBRARY["filter-rows"]
    with pytest.raises(InputError) as err:
        t.render({"conditions": [{"column": "a", "op": ">"}, {"column": "b", "op": "isin"}, {"column": "c", "op": "contains", "value": 3}]})
    paths = {e["path"] for e in err.value.errors}
    assert {"/conditions/0/value", "/conditions/1/values", "/conditions/2/value"} <= paths
    # a column name is data, never code
    hostile = "x')]\nimport os\n#"
    (cell,) = t.render({"conditions": [{"column": hostile, "op": "isna"}]})
    tree = ast.parse(cell["source"])
    assert not any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree))
    assert any(isinstance(node, ast.Constant) and node.value == hostile for node in ast.walk(tree))


# ---------------------------------------------------------------- the data the run checks use

N = 40


def make_frame() -> pd.DataFrame:
    """40 patients; categorical columns follow fixed patterns so some answers are known by construction."""
    rng = np.random.default_rng(20240501)
    i = np.arange(N)
    height = 150.0 + (i * 5) % 40  # multiples of 5 from 150 to 185
    score = np.round(rng.normal(50, 10, N), 1)
    score[i % 7 == 3] = np.nan  # 6 missing
    comments = ["no pain", "Pain in knee", None, "fine", "mild PAIN"]
    return pd.DataFrame({
        "id": i + 1,
        "group": np.where(i % 3 == 0, "control", "treatment"),  # 14 control, 26 treatment
        "sex": np.where(i % 2 == 0, "female", "male"),  # 20 / 20
        "age": rng.integers(20, 71, N),
        "height (cm)": height,
        "weight": np.round(0.9 * height - 85 + rng.normal(0, 4, N), 1),
        "score": score,
        "smoker": (i % 4 == 1).astype(int),  # 10 smokers
        "visit_date": pd.date_range("2024-01-01", periods=N, freq="D").strftime("%Y-%m-%d"),
        "comment": [comments[k % 5] for k in i],  # 8 missing, 24 mention pain
        "dose": [["10", "20", "unknown", "5"][k % 4] for k in i],  # 10 unknown
    })


def write_report_xlsx(path):
    """A workbook whose header sits on the third row, under a title, with 'n/a' for a missing count."""
    table = pd.DataFrame({"site": ["north", "south", "east"], "count": [3, "n/a", 7]})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name="report", startrow=2, index=False)
        writer.sheets["report"]["A1"] = "Visits per site"


def write_data(directory, kinds):
    frame = make_frame()
    frame.to_csv(directory / "data.csv", index=False)  # always: the reference RAW of every check
    if "tsv" in kinds:
        frame.to_csv(directory / "measurements.tsv", sep="\t", index=False, na_rep="-")
    if "xlsx" in kinds:
        with pd.ExcelWriter(directory / "data.xlsx", engine="openpyxl") as writer:
            pd.DataFrame({"note": ["not the data"]}).to_excel(writer, sheet_name="notes", index=False)
            frame.to_excel(writer, sheet_name="measurements", index=False)
        write_report_xlsx(directory / "report.xlsx")
    if "parquet" in kinds:
        frame.to_parquet(directory / "data.parquet", index=False)
    if "json" in kinds:
        frame.to_json(directory / "data.jsonl", orient="records", lines=True)
        frame.to_json(directory / "data.json", orient="records")


# ---------------------------------------------------------------- run checks

LOAD_CSV = ("load-csv", {"path": "data.csv", "name": "df"})


@dataclass
class RunCheck:
    """Check code per example index. Before each example, the ``before`` cells run (by default the CSV loader).

    The check code runs after the example's cells in the same namespace. It sees
    ``OUT`` (the displayed value of each of the example's cells, None if none),
    ``STDOUT`` (what they printed), ``RAW`` (data.csv read by pandas directly),
    and ``_pd`` / ``_np`` (pandas and numpy, imported by the harness under
    names no template uses, so a template that forgets an import still fails).
    """

    checks: dict
    before: list = field(default_factory=lambda: [LOAD_CSV])
    files: tuple = ()


RUN_CHECKS: dict[str, RunCheck] = {}


def run_check(template_id, before=None, files=(), **checks):
    RUN_CHECKS[template_id] = RunCheck(
        checks={int(k[2:]): textwrap.dedent(v) for k, v in checks.items()},
        before=[LOAD_CSV] if before is None else before,
        files=files,
    )


# -- data: load / export

run_check("load-csv", before=[], files=("tsv",), ex0="""
    assert OUT[0] == (40, 11), OUT[0]
    assert list(df.columns) == list(RAW.columns)
    assert df["group"].value_counts()["treatment"] == 26
    """, ex1="""
    assert df.shape == (40, 11)
    assert df["score"].dtype == "float64" and df["score"].isna().sum() == 6
    assert df["comment"].isna().sum() == 8
    assert _np.allclose(df["weight"], RAW["weight"])
    """)

run_check("load-excel", before=[], files=("xlsx",), ex0="""
    assert OUT[0] == (40, 11), OUT[0]
    _pd.testing.assert_frame_equal(df, RAW, check_dtype=False)
    """, ex1="""
    assert list(report.columns) == ["site", "count"], report.columns
    assert report["site"].tolist() == ["north", "south", "east"]
    assert report["count"].isna().sum() == 1 and report["count"].sum() == 10
    """)

run_check("load-parquet", before=[], files=("parquet",), ex0="""
    assert OUT[0] == (40, 11)
    _pd.testing.assert_frame_equal(df, RAW, check_dtype=False)
    """, ex1="""
    assert list(scores.columns) == ["group", "score"] and OUT[0] == (40, 2)
    assert scores["score"].isna().sum() == 6
    assert abs(scores["score"].mean() - RAW["score"].mean()) < 1e-12
    """)

run_check("load-json", before=[], files=("json",), ex0="""
    assert OUT[0] == (40, 11)
    assert _np.allclose(df["weight"], RAW["weight"])
    assert df["score"].isna().sum() == 6 and df["group"].tolist() == RAW["group"].tolist()
    """, ex1="""
    assert OUT[0] == (40, 11)
    assert df["id"].tolist() == list(range(1, 41))
    assert abs(df["score"].sum() - RAW["score"].sum()) < 1e-9
    """)

run_check("export-table", ex0="""
    _pd.testing.assert_frame_equal(_pd.read_csv("results/table.csv"), RAW)
    assert "Wrote 40 rows to results/table.csv" in STDOUT, STDOUT
    """, ex1="""
    back = _pd.read_excel("results/table.xlsx", sheet_name="results")
    _pd.testing.assert_frame_equal(back, RAW, check_dtype=False)
    """, ex2="""
    _pd.testing.assert_frame_equal(_pd.read_parquet("results/table.parquet"), df)
    """)

# -- explore

run_check("overview", ex0="""
    columns = OUT[0]
    assert list(columns.index) == list(RAW.columns)
    assert columns.loc["score", "missing"] == 6 and columns.loc["comment", "non-null"] == 32
    assert columns.loc["group", "unique"] == 2 and columns.loc["weight", "dtype"] == "float64"
    assert OUT[1]["id"].tolist() == [1, 2, 3, 4, 5]
    assert STDOUT.startswith("40 rows x 11 columns"), STDOUT
    """, ex1="""
    assert len(OUT[1]) == 10 and OUT[1]["id"].tolist() == list(range(1, 11))
    """)

run_check("missing-values", ex0="""
    assert missing.index.tolist() == ["comment", "score"], missing
    assert missing.loc["score", "missing"] == 6 and missing.loc["comment", "percent"] == 20.0
    rows = int(RAW.isna().any(axis=1).sum())
    assert f"{rows} of 40 rows" in STDOUT, STDOUT
    assert OUT[0] is missing
    """, ex1="""
    assert len(missing_all) == 11 and missing_all.loc["weight", "missing"] == 0
    assert missing_all.index[0] == "comment"
    """)

run_check("summary-stats", ex0="""
    assert set(stats.index) == set(RAW.select_dtypes("number").columns)
    assert abs(stats.loc["weight", "mean"] - RAW["weight"].mean()) <= 5e-4
    assert stats.loc["score", "count"] == 34 and stats.loc["score", "missing"] == 6
    assert stats.loc["age", "50%"] == round(RAW["age"].median(), 3)
    """, ex1="""
    assert list(stats.index) == ["weight", "score"]
    assert {"10%", "50%", "90%"} <= set(stats.columns)
    assert abs(stats.loc["score", "90%"] - RAW["score"].quantile(0.9)) <= 0.005
    """)

run_check("group-summary", ex0="""
    assert list(summary.columns) == ["group", "weight_count", "weight_mean", "weight_std", "score_count", "score_mean", "score_std"]
    control = summary.set_index("group").loc["control"]
    assert control["weight_count"] == 14
    assert abs(control["weight_mean"] - RAW.loc[RAW["group"] == "control", "weight"].mean()) < 1e-9
    assert control["score_count"] == RAW.loc[RAW["group"] == "control", "score"].notna().sum()
    """, ex1="""
    expected = RAW[(RAW["group"] == "treatment") & (RAW["sex"] == "female")]["weight"]
    assert by_group_sex.loc[("treatment", "female"), ("weight", "median")] == round(expected.median(), 1)
    assert by_group_sex.loc[("treatment", "female"), ("weight", "max")] == expected.max()
    assert by_group_sex.shape == (4, 2)
    """)

run_check("value-counts", ex0="""
    assert counts.index.tolist() == ["treatment", "control"]
    assert counts.loc["treatment", "count"] == 26 and counts.loc["control", "percent"] == 35.0
    """, ex1="""
    assert sex_counts.index.tolist() == ["female", "male"] and sex_counts["count"].tolist() == [20, 20]
    assert sex_counts["percent"].tolist() == [50.0, 50.0]
    """, ex2="""
    assert len(top_ages) == 3
    assert top_ages["count"].tolist() == RAW["age"].value_counts().head(3).tolist()
    """)

run_check("crosstab", ex0="""
    assert table.loc["control", "female"] == ((RAW["group"] == "control") & (RAW["sex"] == "female")).sum()
    assert table.loc["treatment", "Total"] == 26 and table.loc["Total", "Total"] == 40
    """, ex1="""
    share = RAW.loc[RAW["group"] == "control", "smoker"].mean() * 100
    assert smoker_pct.loc["control", 1] == round(share, 1), smoker_pct
    assert abs(smoker_pct.loc["treatment"].sum() - 100) < 0.11
    """)

run_check("pivot-table", ex0="""
    expected = RAW[(RAW["group"] == "control") & (RAW["sex"] == "female")]["weight"].mean()
    assert abs(pivot.loc["control", "female"] - round(expected, 2)) < 1e-9, pivot
    assert pivot.shape == (2, 2)
    """, ex1="""
    assert score_counts.loc["All", "All"] == 34
    assert score_counts.loc["control", 1] == RAW[(RAW["group"] == "control") & (RAW["smoker"] == 1)]["score"].notna().sum()
    """)

# -- wrangle

run_check("filter-rows", ex0="""
    expected = ((RAW["group"] == "treatment") & (RAW["age"] >= 40)).sum()
    assert len(filtered) == expected and 0 < expected < 40
    assert (filtered["group"] == "treatment").all() and (filtered["age"] >= 40).all()
    assert f"{expected} of 40 rows kept" in STDOUT, STDOUT
    """, ex1="""
    assert len(subset) == ((RAW["sex"] == "female") | RAW["score"].isna()).sum()
    """, ex2="""
    assert len(pain) == 24 and pain["comment"].str.lower().str.contains("pain").all()
    """, ex3="""
    h = RAW["height (cm)"]
    expected = RAW[~h.isin([160.0, 170.0]) & (h < 175) & RAW["score"].notna() & (RAW["sex"] != "male")]
    assert subset2["id"].tolist() == expected["id"].tolist() and len(expected) > 0
    """)

run_check("select-columns", ex0="""
    assert list(selected.columns) == ["id", "group", "weight"] and len(selected) == 40
    assert len(OUT[0]) == 5
    """, ex1="""
    assert list(df.columns) == [c for c in RAW.columns if c not in ("comment", "dose")]
    """)

run_check("rename-columns", ex0="""
    assert OUT[0] == ["id", "group", "sex", "age", "height_cm", "weight", "score", "smoker", "date", "comment", "dose"], OUT[0]
    assert df["height_cm"].tolist() == RAW["height (cm)"].tolist()
    """, ex1="""
    assert "height_cm" in clean.columns and "height (cm)" in df.columns
    assert clean.columns.tolist()[:5] == ["id", "group", "sex", "age", "height_cm"]
    """)

run_check("sort-rows", ex0="""
    assert df["weight"].iloc[0] == RAW["weight"].max() and df["weight"].is_monotonic_decreasing
    assert len(df) == 40
    """, ex1="""
    assert len(best) == 5 and (best["group"] == "treatment").all()
    assert best["score"].iloc[0] == RAW.loc[RAW["group"] == "treatment", "score"].max()
    """)

run_check("drop-missing", ex0="""
    assert len(df) == 34 and df["score"].notna().all()
    assert "Dropped 6 of 40 rows; 34 left" in STDOUT, STDOUT
    """, ex1="""
    assert len(complete) == len(RAW.dropna()) and complete.notna().all().all()
    assert complete.index.tolist() == list(range(len(complete)))
    """)

run_check("fill-missing", ex0="""
    holes = RAW["score"].isna()
    assert OUT[0]["score"] == 0
    assert (df.loc[holes, "score"] == RAW["score"].median()).all()
    assert df.loc[~holes, "score"].tolist() == RAW.loc[~holes, "score"].tolist()
    """, ex1="""
    assert (filled["comment"] == "none").sum() == 8 and df["comment"].isna().sum() == 8
    """, ex2="""
    holes = RAW.index[RAW["score"].isna()]
    assert carried["score"].notna().all()
    assert carried.loc[holes, "score"].tolist() == RAW.loc[holes - 1, "score"].tolist()
    """)

run_check("convert-types", ex0="""
    assert str(df["visit_date"].dtype).startswith("datetime64")
    assert df["visit_date"].iloc[-1] == _pd.Timestamp("2024-02-09")
    assert df["dose"].isna().sum() == 10 and df["dose"].sum() == 10 * (10 + 20 + 5)
    assert isinstance(df["group"].dtype, _pd.CategoricalDtype) and list(df["group"].cat.categories) == ["control", "treatment"]
    assert df["smoker"].dtype == "boolean" and df["smoker"].sum() == 10
    assert str(OUT[0]["smoker"]) == "boolean"
    """, ex1="""
    assert converted["dose"].dtype == "Int64" and converted["dose"].isna().sum() == 10
    assert converted["id"].dtype == "string" and converted["id"].iloc[0] == "1"
    """)

# -- plot

run_check("histogram", ex0="""
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == _np.histogram(RAW["weight"], bins=10)[0].tolist(), heights
    assert sum(heights) == 40 and ax.get_xlabel() == "weight"
    """, ex1="""
    ax = fig_score.axes[0]
    assert len(ax.patches) == 16 and sum(p.get_height() for p in ax.patches) == 34
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["control", "treatment"]
    assert ax.get_title() == "Score by group"
    """)

run_check("boxplot-by-group", ex0="""
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["control", "treatment"]
    for position, (level, median) in enumerate(RAW.groupby("group")["weight"].median().items(), start=1):
        assert any(list(line.get_ydata()) == [median, median] and _np.isclose(_np.mean(line.get_xdata()), position)
                   for line in ax.lines), (level, median)
    """, ex1="""
    ax = fig_box.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["female", "male"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 34
    median = RAW.loc[RAW["sex"] == "male", "score"].median()
    assert any(list(line.get_ydata()) == [median, median] for line in ax.lines), median
    """)

run_check("scatter-trend", ex0="""
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 40
    slope, intercept = _np.polyfit(RAW["height (cm)"], RAW["weight"], 1)
    xs, ys = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    assert _np.isclose((ys[-1] - ys[0]) / (xs[-1] - xs[0]), slope) and 0.6 < slope < 1.2
    r = RAW["height (cm)"].corr(RAW["weight"])
    assert f"r = {r:.2f}" in ax.get_legend().get_texts()[0].get_text()
    """, ex1="""
    ax = fig_age.axes[0]
    assert len(ax.collections) == 2 and not ax.lines
    assert sum(len(c.get_offsets()) for c in ax.collections) == 34
    """)

run_check("correlation-heatmap", ex0="""
    numeric = RAW.select_dtypes("number")
    assert corr.shape == (numeric.shape[1],) * 2
    assert _np.isclose(corr.loc["height (cm)", "weight"], numeric["height (cm)"].corr(numeric["weight"]))
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == corr.shape and len(ax.texts) == corr.size
    assert len(fig.axes) == 2  # the colour bar
    """, ex1="""
    assert _np.isclose(rank_corr.loc["age", "weight"], RAW["age"].corr(RAW["weight"], method="spearman"))
    ax = fig_corr.axes[0]
    assert not ax.texts and ax.get_title() == "Spearman correlations"
    """)

run_check("bar-chart", ex0="""
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [26, 14]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["treatment", "control"]
    """, ex1="""
    ax = fig_bar.axes[0]
    expected = RAW.groupby("age")["weight"].mean().sort_values(ascending=False, kind="stable").head(3)
    assert _np.allclose([p.get_width() for p in ax.patches][::-1], expected.to_numpy())
    assert ax.get_xlabel() == "mean of weight"
    """)

run_check("save-figure", before=[LOAD_CSV, ("histogram", {"column": "weight", "bins": 10})], ex0="""
    data = open("figures/histogram.png", "rb").read()
    assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    width = int.from_bytes(data[16:20], "big")
    assert 600 < width <= 6 * 150, width  # 6 inches at 150 dpi, trimmed
    """, ex1="""
    assert open("figures/histogram.pdf", "rb").read(5) == b"%PDF-"
    """)


HARNESS = '''\
# Generated by tests/test_library.py for the template {template_id!r}.
import matplotlib
matplotlib.use("Agg")

import ast as _ast
import contextlib as _contextlib
import io as _io
import linecache as _linecache
import sys as _sys
import warnings as _warnings

import numpy as _np
import pandas as _pd

# Generated code must not use deprecated pandas / matplotlib API (their warnings point at the caller).
_warnings.filterwarnings("error", category=DeprecationWarning, module="__main__")
_warnings.filterwarnings("error", category=FutureWarning, module="__main__")


def _run_cells(label, sources):
    """Run cells as a Jupyter kernel does; return the displayed value of each and what they printed."""
    values, printed = [], _io.StringIO()
    for k, source in enumerate(sources):
        filename = "<" + label + " cell " + str(k) + ">"
        _linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        tree = _ast.parse(source, filename)
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = _ast.Expression(tree.body.pop().value)
        buffer = _io.StringIO()
        with _contextlib.redirect_stdout(buffer):
            exec(compile(tree, filename, "exec"), globals())
            values.append(eval(compile(last, filename, "eval"), globals()) if last is not None else None)
        printed.write(buffer.getvalue())
        _sys.stdout.write(buffer.getvalue())
    return values, printed.getvalue()


RAW = _pd.read_csv("data.csv")
'''


def build_script(template_id: str) -> str:
    check = RUN_CHECKS[template_id]
    parts = [HARNESS.format(template_id=template_id)]
    for index, example in enumerate(examples(LIBRARY[template_id])):
        before = [cell["source"] for tid, inputs in check.before for cell in render(tid, inputs) if cell["cell_type"] == "code"]
        cells = [cell["source"] for cell in render(template_id, example["inputs"]) if cell["cell_type"] == "code"]
        label = f"{template_id} example {index}"
        parts.append(
            f"\n# ---- {label}: {example.get('title', '')}\n"
            f"_run_cells({label + ' setup'!r}, {before!r})\n"
            f"OUT, STDOUT = _run_cells({label!r}, {cells!r})\n"
            f"{check.checks[index]}"
            f"print({'checked ' + label!r})\n"
        )
    return "".join(parts)


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 2


def _execute(script, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def library_runs(request, tmp_path_factory):
    """Start the run checks of every selected template at once, in parallel; tests then wait for their own."""
    wanted = [
        item.callspec.params["template_id"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_template_runs" and hasattr(item, "callspec")
    ]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=_workers())
    runs = {}

    def start(template_id):
        directory = tmp_path_factory.mktemp(template_id)
        write_data(directory, RUN_CHECKS[template_id].files)
        script = directory / "check.py"
        script.write_text(build_script(template_id), encoding="utf-8")
        runs[template_id] = (script, pool.submit(_execute, script, directory))

    for template_id in dict.fromkeys(wanted):
        if template_id in RUN_CHECKS:
            start(template_id)

    def get(template_id):
        if template_id not in runs:
            start(template_id)
        return runs[template_id]

    yield get
    pool.shutdown(wait=True, cancel_futures=True)


def test_every_code_template_has_a_run_check():
    # The statistics templates (category "stats") are run, and their results compared
    # with the libraries called directly, by tests/test_stats_templates.py.
    code_templates = {tid for tid, t in LIBRARY.items() if has_code(t) and t.category != "stats"}
    assert code_templates - set(RUN_CHECKS) == set(), "templates without a run check"
    assert set(RUN_CHECKS) - code_templates == set(), "run checks for unknown templates"
    for tid, check in RUN_CHECKS.items():
        assert sorted(check.checks) == list(range(len(LIBRARY[tid].examples))), f"{tid}: every example needs a check"


@pytest.mark.parametrize("template_id", sorted(RUN_CHECKS))
def test_template_runs(template_id, library_runs):
    script, future = library_runs(template_id)
    proc = future.result()
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr}\n--- stdout:\n{proc.stdout[-2000:]}"
    for index in range(len(LIBRARY[template_id].examples)):
        assert f"checked {template_id} example {index}" in proc.stdout
