"""The statistical-test templates (cell_templates/library/stat-*.json): one per test id of the vocabulary.

Documents: one template per test id of STATS.md's vocabulary, named ``stat-<id with dashes>``,
with the agreed input names, a documented ``result`` table, valid nbformat cells and a
``requires`` list that covers every import.

Runs: every stat-* template gets a freshly started Jupyter kernel (ipykernel on the
.venv's python, started through jupyter_client with MPLBACKEND=Agg), and all of its
examples run in it, in order, as execute requests. For each example a loader puts a real
dataset that ships inside a pip package (pingouin, statsmodels) into ``df``; then the
rendered code cells go to the kernel one execute request per cell, displayed by the kernel
itself (notebook variables named ``Q`` and ``C`` are defined first, since statsmodels /
patsy formulas would pick them up); then a further execution computes the same test
directly with pingouin / scipy / statsmodels (or from its formula), written independently
here, and asserts that the statistic and the p-value in the template's ``result`` table
match to a relative 1e-6. It also asserts that the documented result columns and the
assumption table exist, that a matplotlib figure with data was drawn, and that ``df`` was
left unchanged. An error from any execution fails the template's test with the kernel's
traceback, and so does an execution that outlasts EXECUTION_TIMEOUT. Two kernels run at a
time, each shut down when its template is done (see ``stats_runs``); the executions of each
template are also written as a notebook, ``check.ipynb``, to rerun a failure by hand.
"""

from __future__ import annotations

import ast
import concurrent.futures
import copy
import dataclasses
import json
import os
import queue
import re
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager

from cell_templates import InputError, builtin_templates

LIBRARY = builtin_templates()
STATS = {tid: t for tid, t in LIBRARY.items() if tid.startswith("stat-")}
STATS_MD = Path("/work/shared/STATS.md")

VOCABULARY = (
    "one_sample_t, one_sample_wilcoxon, sign_test, binomial_test, one_proportion_z_test, chi2_gof, independent_t, "
    "welch_t, mann_whitney, brunner_munzel, paired_t, wilcoxon_signed_rank, mcnemar, cochran_q, one_way_anova, "
    "welch_anova, kruskal_wallis, rm_anova, friedman, mixed_anova, factorial_anova, ancova, chi2_independence, "
    "fisher_exact, cochran_mantel_haenszel, pearson, spearman, kendall, robust_correlation, linear_regression, "
    "logistic_regression, ordinal_logistic_regression, poisson_regression, negative_binomial_regression, "
    "linear_mixed_model, generalized_estimating_equations"
).split(", ")

# Columns every assumption table has.
ASSUMPTION_COLUMNS = ["check", "method", "statistic", "p_val", "passed"]


def examples(template) -> list[dict]:
    return template.to_dict()["examples"]


def documented_columns(template) -> list[str]:
    """The result columns a template's description promises: "`result` (...) has the columns a, b (note), c; ..."."""
    match = re.search(r"`result` \((.*?)\) has the columns (.*?);", template.description)
    assert match, f"{template.id}: the description does not list the result columns"
    listed = match.group(2)
    while re.search(r"\([^()]*\)", listed):
        listed = re.sub(r"\s*\([^()]*\)", "", listed)
    names = [name.strip() for name in listed.split(",")]
    assert all(name.isidentifier() for name in names), (template.id, names)
    return names


# ---------------------------------------------------------------- the documents


def test_vocabulary_matches_stats_md():
    if STATS_MD.exists():  # the shared design folder; the hard-coded list is the fallback
        text = STATS_MD.read_text(encoding="utf-8")
        block = text.split("## Vocabulary (test ids)", 1)[1].split("\n\n", 2)[1]
        assert [w.strip() for w in block.replace("\n", " ").split(",")] == VOCABULARY


def test_vocabulary_matches_the_template_schema():
    schema = json.loads((Path(__file__).parents[1] / "schemas" / "template.schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["test_id"]["enum"] == VOCABULARY


def test_one_template_per_test_id():
    by_test = {}
    for tid, t in STATS.items():
        assert t.assistant is not None and t.assistant.get("test"), f"{tid} names no test"
        by_test.setdefault(t.assistant["test"], []).append(tid)
    assert sorted(by_test) == sorted(VOCABULARY)
    for test_id, tids in by_test.items():
        assert tids == ["stat-" + test_id.replace("_", "-")], (test_id, tids)
    # no template outside stat-* claims a test
    others = [tid for tid, t in LIBRARY.items() if not tid.startswith("stat-") and t.assistant and t.assistant.get("test")]
    assert others == []


@pytest.mark.parametrize("template_id", sorted(STATS))
def test_document_contract(template_id):
    t = STATS[template_id]
    doc = t.to_dict()
    assert doc["category"] == "stats"
    assert "statistics" in doc["tags"]
    props = doc["inputs"]["properties"]
    assert props["df"]["default"] == "df" and props["df"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    assert props["result"]["default"] == "result" and props["result"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    if "alpha" in props:
        assert props["alpha"]["default"] == 0.05
    if "alternative" in props:
        assert props["alternative"]["enum"] == ["two-sided", "greater", "less"]
        assert props["alternative"]["default"] == "two-sided"
    for name, schema in props.items():
        assert schema.get("title") and schema.get("description"), (template_id, name)
    assert sorted(doc["ui"]["ui:order"]) == sorted(props)
    # the description documents the result columns, statistic and p_val among them
    assert {"statistic", "p_val"} <= set(documented_columns(t))
    for cell in doc["cells"]:
        source = "".join(cell["source"])
        for name in ("df", "result", "fig_name"):
            assert "{{ " + name + " }}" not in source, f"{template_id}: {name} must go through |ident"
    assert {"pandas", "matplotlib"} <= set(doc["requires"])


@pytest.mark.parametrize("template_id", sorted(STATS))
def test_examples_render_valid_cells(template_id):
    t = STATS[template_id]
    for example in examples(t):
        cells = t.render(copy.deepcopy(example["inputs"]))
        for cell in cells:
            if cell["cell_type"] == "code":
                tree = ast.parse(cell["source"])
                imported = set()
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        imported |= {a.name.split(".")[0] for a in node.names}
                    elif isinstance(node, ast.ImportFrom):
                        imported.add(node.module.split(".")[0])
                third_party = imported - set(sys.stdlib_module_names)
                assert third_party <= set(t.requires), (template_id, third_party - set(t.requires))
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.from_dict(cell) for cell in cells]
        nbformat.validate(nb)


def test_hostile_column_names_stay_data():
    hostile = "x')]\nimport os\n#"
    for tid, t in STATS.items():
        inputs = copy.deepcopy(examples(t)[0]["inputs"])
        for key in ("outcome", "group", "x", "y", "subject", "within", "strata", "weights", "predictors", "covariates", "between"):
            if isinstance(inputs.get(key), str):
                inputs[key] = hostile
            elif isinstance(inputs.get(key), list):
                inputs[key] = [hostile + str(i) for i in range(len(inputs[key]))]
        constants, imported = set(), set()
        for cell in t.render(inputs):
            if cell["cell_type"] == "code":
                for node in ast.walk(ast.parse(cell["source"])):
                    if isinstance(node, ast.Constant):
                        constants.add(node.value)
                    elif isinstance(node, ast.Import):
                        imported |= {a.name for a in node.names}
                    elif isinstance(node, ast.ImportFrom):
                        imported.add(node.module)
        assert "os" not in imported, tid
        assert hostile in constants or hostile + "0" in constants, tid


def test_inputs_are_checked():
    """Unknown inputs, missing roles and wrong types are refused before anything is rendered."""
    cases = [
        ("stat-independent-t", {"outcome": "y", "group": "g", "grouping": "g"}, ""),
        ("stat-independent-t", {"outcome": "y"}, ""),
        ("stat-independent-t", {"outcome": "y", "group": "g", "alternative": "two.sided"}, "/alternative"),
        ("stat-rm-anova", {"outcome": "y"}, ""),  # long layout needs within and subject
        ("stat-rm-anova", {"outcome": ["a"]}, "/outcome"),  # wide layout needs 2 columns or more
        ("stat-rm-anova", {"outcome": ["a", "b"], "within": ["w1", "w2"]}, ""),  # two within factors: long layout only
        ("stat-paired-t", {"outcome": ["a", "b", "c"]}, "/outcome"),
        ("stat-mixed-anova", {"outcome": "y", "within": "w", "subject": "s", "between": ["b1", "b2"]}, "/between"),
        ("stat-one-proportion-z-test", {"outcome": "y", "test_value": 1}, "/test_value"),
        ("stat-one-sample-t", {"outcome": "y", "result": "print"}, None),  # a builtin name: refused by |ident
        ("stat-chi2-gof", {"outcome": "y", "expected": {"a": -1, "b": 1}}, "/expected/a"),
    ]
    for tid, inputs, path in cases:
        with pytest.raises(Exception) as raised:
            STATS[tid].render(inputs)
        if path is not None:
            assert isinstance(raised.value, InputError), (tid, inputs, raised.value)
            assert any(e["path"].startswith(path) for e in raised.value.errors), (tid, inputs, raised.value.errors)


# ---------------------------------------------------------------- what each example runs on, and the reference computation
#
# RUNS[template_id] = [(loader, check), ...], one pair per example. The loader
# puts the dataset into ``df``. The check runs after the example's cells with
# ``R`` (the result table), ``RAW`` (a copy of df taken before the cells ran),
# the harness modules under underscore names, and ``close(actual, expected)``.

RUNS: dict[str, list[tuple[str, str]]] = {}

PENGUINS = 'df = _pg.read_dataset("penguins")'
TIPS = 'df = _pg.read_dataset("tips")'


# Ordinal outcomes stored as text (for the rank tests' `order` input): bands of real values.
TIPS_PARTY = TIPS + '\ndf["party"] = _pd.cut(df["size"], [0, 2, 4, 6], labels=["small", "medium", "large"]).astype(str)'
MIXED_BAND = 'df = _pg.read_dataset("mixed_anova")\ndf["band"] = _pd.qcut(df["Scores"], 3, labels=["low", "middle", "high"]).astype(str)'
SCORES = {"small": 1, "medium": 2, "large": 3, "low": 1, "middle": 2, "high": 3}


def run(template_id, *pairs):
    RUNS["stat-" + template_id] = [(textwrap.dedent(loader).strip(), textwrap.dedent(check).strip()) for loader, check in pairs]


# -- one sample

run("one-sample-t",
    (PENGUINS, """
        ref = _ss.ttest_1samp(RAW["body_mass_g"].dropna(), 4000)
        close(R["statistic"].iloc[0], ref.statistic); close(R["p_val"].iloc[0], ref.pvalue)
        assert R["n"].iloc[0] == 342
    """),
    (TIPS, """
        ref = _ss.ttest_1samp(RAW["tip"], 2.5, alternative="greater")
        close(tip_test["statistic"].iloc[0], ref.statistic); close(tip_test["p_val"].iloc[0], ref.pvalue)
        lo, hi = ref.confidence_interval(0.99)
        close(tip_test["ci_low"].iloc[0], lo)
    """))

run("one-sample-wilcoxon",
    (TIPS, """
        ref = _ss.wilcoxon(RAW["total_bill"] - 20, correction=True)  # pingouin corrects for continuity, as R does
        close(R["statistic"].iloc[0], ref.statistic); close(R["p_val"].iloc[0], ref.pvalue)
    """),
    (PENGUINS, """
        ref = _ss.wilcoxon(RAW["flipper_length_mm"].dropna() - 200, alternative="less", correction=True)
        close(flipper_test["statistic"].iloc[0], ref.statistic); close(flipper_test["p_val"].iloc[0], ref.pvalue)
    """))

run("sign-test",
    (TIPS, """
        from statsmodels.stats.descriptivestats import sign_test
        m, p = sign_test(RAW["tip"].to_numpy(), 2.5)
        close(R["p_val"].iloc[0], p)
        close(R["statistic"].iloc[0], (RAW["tip"] > 2.5).sum())
        assert R["n_ties"].iloc[0] == (RAW["tip"] == 2.5).sum() > 0
    """),
    ('df = _pg.read_dataset("rm_anova2").query("Metric == \'Product\'")', """
        from statsmodels.stats.descriptivestats import sign_test
        wide = RAW.pivot(index="Subject", columns="Time", values="Performance")
        d = wide["Post"] - wide["Pre"]  # levels in sorted order: Post, Pre
        m, p = sign_test(d.to_numpy(), 0)
        close(sign_paired["p_val"].iloc[0], p); close(sign_paired["statistic"].iloc[0], (d > 0).sum())
    """),
    ('df = _pg.read_dataset("rm_anova_wide")', """
        both = RAW[["Before", "3 week"]].dropna()
        d = both["Before"] - both["3 week"]
        ref = _ss.binomtest(int((d > 0).sum()), int((d != 0).sum()), 0.5, alternative="less")
        close(R["p_val"].iloc[0], ref.pvalue); close(R["statistic"].iloc[0], (d > 0).sum())
    """))

run("binomial-test",
    (PENGUINS, """
        sex = RAW["sex"].dropna()
        ref = _ss.binomtest(int((sex == "female").sum()), len(sex), 0.5)
        close(R["p_val"].iloc[0], ref.pvalue); close(R["statistic"].iloc[0], (sex == "female").sum())
    """),
    ('df = _sm.datasets.spector.load_pandas().data', """
        ref = _ss.binomtest(int(RAW["GRADE"].sum()), len(RAW), 0.5, alternative="less")
        close(grade_test["p_val"].iloc[0], ref.pvalue); close(grade_test["statistic"].iloc[0], RAW["GRADE"].sum())
        lo = ref.proportion_ci(0.95).low
        close(grade_test["ci_low"].iloc[0], lo)
    """),
    ('df = _pg.read_dataset("chi2_mcnemar")', """
        ref = _ss.binomtest(int(RAW["treatment_X"].sum()), len(RAW), 0.6)
        close(R["p_val"].iloc[0], ref.pvalue); close(R["statistic"].iloc[0], RAW["treatment_X"].sum())
    """),
    ('df = _pg.read_dataset("penguins").groupby("sex").size().rename("count").reset_index()', """
        sex = _pg.read_dataset("penguins")["sex"].dropna()
        ref = _ss.binomtest(int((sex == "female").sum()), len(sex), 0.5)
        close(R["p_val"].iloc[0], ref.pvalue); close(R["statistic"].iloc[0], (sex == "female").sum())
    """))

run("one-proportion-z-test",
    ('df = _sm.datasets.anes96.load_pandas().data', """
        phat, n = RAW["vote"].mean(), len(RAW)
        z = (phat - 0.5) / _np.sqrt(0.25 / n)
        close(R["statistic"].iloc[0], z); close(R["p_val"].iloc[0], 2 * _ss.norm.sf(abs(z)))
    """),
    (PENGUINS, """
        phat, n = (RAW["species"] == "Adelie").mean(), len(RAW)
        z = (phat - 0.4) / _np.sqrt(0.4 * 0.6 / n)
        close(adelie_test["statistic"].iloc[0], z); close(adelie_test["p_val"].iloc[0], _ss.norm.sf(z))
    """),
    ('df = _pg.read_dataset("penguins").groupby("species").size().rename("count").reset_index()', """
        from statsmodels.stats.proportion import proportions_ztest
        species = _pg.read_dataset("penguins")["species"]
        z, p = proportions_ztest(int((species == "Adelie").sum()), len(species), value=0.4, prop_var=0.4)
        close(R["statistic"].iloc[0], z); close(R["p_val"].iloc[0], p)
    """))


def _gof(observed, expected_share):
    return f"""
        o = _np.array({observed}, dtype=float); e = _np.array({expected_share}, dtype=float)
        e = e / e.sum() * o.sum()
        chi2 = ((o - e) ** 2 / e).sum()
        close(R["statistic"].iloc[0], chi2); close(R["p_val"].iloc[0], _ss.chi2.sf(chi2, len(o) - 1))
    """


run("chi2-gof",
    (PENGUINS, _gof('RAW["species"].value_counts().sort_index().tolist()', "[1, 1, 1]")),
    (PENGUINS, _gof('RAW["island"].value_counts().reindex(["Biscoe", "Dream", "Torgersen"]).tolist()', "[0.5, 0.3, 0.2]").replace("R[", "island_fit[")),
    ('df = _pg.read_dataset("tips").groupby("day").size().rename("n").reset_index()', _gof('RAW.sort_values("day")["n"].tolist()', "[1, 1, 1, 1]")),
    (TIPS, _gof('RAW["size"].value_counts().reindex([1, 2, 3, 4, 5, 6]).tolist()', "[1, 10, 3, 3, 1, 1]")))


# -- two independent groups


def _two(outcome, group, test, result="R", **kw):
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return f"""
        data = RAW[[{outcome!r}, {group!r}]].dropna()
        levels = sorted(data[{group!r}].unique())
        a = data.loc[data[{group!r}] == levels[0], {outcome!r}]
        b = data.loc[data[{group!r}] == levels[1], {outcome!r}]
        ref = {test}(a, b, {args})
        close({result}["statistic"].iloc[0], ref.statistic); close({result}["p_val"].iloc[0], ref.pvalue)
        assert {result}["group_a"].iloc[0] == levels[0]
    """


run("independent-t",
    (PENGUINS, _two("body_mass_g", "sex", "_ss.ttest_ind", equal_var=True)),
    (TIPS, _two("total_bill", "time", "_ss.ttest_ind", result="bill_test", equal_var=True, alternative="greater")))

run("welch-t",
    (PENGUINS, _two("flipper_length_mm", "sex", "_ss.ttest_ind", equal_var=False)),
    (TIPS, _two("tip", "smoker", "_ss.ttest_ind", equal_var=False, alternative="less")))

run("mann-whitney",
    (TIPS, _two("tip", "time", "_ss.mannwhitneyu", use_continuity=True)),
    (PENGUINS, _two("bill_depth_mm", "sex", "_ss.mannwhitneyu", result="depth_test", use_continuity=True, alternative="less")),
    (TIPS_PARTY, _two("party", "time", "_ss.mannwhitneyu", use_continuity=True).replace("data = RAW[", "data = RAW.assign(party=RAW['party'].map(SCORES))[")))

run("brunner-munzel",
    (TIPS, _two("total_bill", "smoker", "_ss.brunnermunzel")),
    (PENGUINS, _two("body_mass_g", "sex", "_ss.brunnermunzel", result="bm_test", alternative="less")),
    (TIPS_PARTY, _two("party", "smoker", "_ss.brunnermunzel").replace("data = RAW[", "data = RAW.assign(party=RAW['party'].map(SCORES))[")))

# -- paired

RM2_PRODUCT = 'df = _pg.read_dataset("rm_anova2").query("Metric == \'Product\'")'
WIDE4 = 'df = _pg.read_dataset("rm_anova_wide")'

run("paired-t",
    (WIDE4, """
        both = RAW[["Before", "3 week"]].dropna()
        ref = _ss.ttest_rel(both["Before"], both["3 week"])
        close(R["statistic"].iloc[0], ref.statistic); close(R["p_val"].iloc[0], ref.pvalue)
        assert R["n"].iloc[0] == len(both)
    """),
    (RM2_PRODUCT, """
        wide = RAW.pivot(index="Subject", columns="Time", values="Performance")
        ref = _ss.ttest_rel(wide["Post"], wide["Pre"], alternative="greater")
        close(paired_result["statistic"].iloc[0], ref.statistic); close(paired_result["p_val"].iloc[0], ref.pvalue)
    """))

run("wilcoxon-signed-rank",
    (WIDE4, """
        both = RAW[["Before", "1 week"]].dropna()
        ref = _ss.wilcoxon(both["Before"], both["1 week"], correction=True)
        close(R["statistic"].iloc[0], ref.statistic); close(R["p_val"].iloc[0], ref.pvalue)
    """),
    ('df = _pg.read_dataset("mixed_anova").query("Time != \'January\'")', """
        wide = RAW.pivot(index="Subject", columns="Time", values="Scores")
        ref = _ss.wilcoxon(wide["August"], wide["June"], correction=True)
        close(wsr["statistic"].iloc[0], ref.statistic); close(wsr["p_val"].iloc[0], ref.pvalue)
    """),
    (MIXED_BAND + '\ndf = df[df["Time"] != "January"]', """
        wide = RAW.assign(band=RAW["band"].map(SCORES)).pivot(index="Subject", columns="Time", values="band")
        ref = _ss.wilcoxon(wide["August"], wide["June"], correction=True)
        close(R["statistic"].iloc[0], ref.statistic); close(R["p_val"].iloc[0], ref.pvalue)
    """))

run("mcnemar",
    ('df = _pg.read_dataset("chi2_mcnemar")', """
        observed, ref = _pg.chi2_mcnemar(RAW, "treatment_X", "treatment_Y", correction=True)
        close(R["statistic"].iloc[0], ref["chi2"].iloc[0]); close(R["p_val"].iloc[0], ref["p_approx"].iloc[0])
    """),
    ('df = _pg.read_dataset("chi2_mcnemar").groupby(["treatment_X", "treatment_Y"]).size().rename("count").reset_index()', """
        raw = RAW.loc[RAW.index.repeat(RAW["count"])]
        observed, ref = _pg.chi2_mcnemar(raw, "treatment_X", "treatment_Y")
        close(mcnemar_exact["p_val"].iloc[0], ref["p_exact"].iloc[0])
        close(mcnemar_exact["statistic"].iloc[0], min(observed.iat[0, 1], observed.iat[1, 0]))
    """),
    ('df = _pg.read_dataset("chi2_mcnemar").melt(id_vars="subject", var_name="treatment", value_name="cured")', """
        wide = RAW.pivot(index="subject", columns="treatment", values="cured")
        observed, ref = _pg.chi2_mcnemar(wide, "treatment_X", "treatment_Y", correction=True)
        close(mcnemar_long["statistic"].iloc[0], ref["chi2"].iloc[0]); close(mcnemar_long["p_val"].iloc[0], ref["p_approx"].iloc[0])
    """))

COCHRAN = 'df = _pg.read_dataset("cochran")'
_cochran_check = """
    from statsmodels.stats.contingency_tables import cochrans_q
    ref = cochrans_q(_pg.read_dataset("cochran").pivot(index="Subject", columns="Time", values="Energetic").to_numpy())
    close(RES["statistic"].iloc[0], ref.statistic); close(RES["p_val"].iloc[0], ref.pvalue)
"""
run("cochran-q",
    (COCHRAN, _cochran_check.replace("RES", "R")),
    ('df = _pg.read_dataset("cochran").pivot(index="Subject", columns="Time", values="Energetic").reset_index()', _cochran_check.replace("RES", "q_wide")),
    ('df = _pg.read_dataset("cochran").assign(Energetic=lambda d: d["Energetic"].map({0: "no", 1: "yes"}))', _cochran_check.replace("RES", "R")))


# -- k groups, repeated measures, factorial designs

ANOVA = 'df = _pg.read_dataset("anova")'


def _k(outcome, group, call, result="R"):
    return f"""
        data = RAW[[{outcome!r}, {group!r}]].dropna()
        samples = [part[{outcome!r}].to_numpy(float) for _, part in data.groupby({group!r})]
        ref = {call}
        close({result}["statistic"].iloc[0], ref.statistic); close({result}["p_val"].iloc[0], ref.pvalue)
    """


run("one-way-anova",
    (ANOVA, _k("Pain threshold", "Hair color", "_ss.f_oneway(*samples)")),
    (PENGUINS, _k("body_mass_g", "species", "_ss.f_oneway(*samples)", result="mass_anova")))

_WELCH = "__import__('statsmodels.stats.oneway', fromlist=['x']).anova_oneway(samples, use_var='unequal', welch_correction=True)"
run("welch-anova",
    (PENGUINS, _k("body_mass_g", "species", _WELCH)),
    (TIPS, _k("tip", "day", _WELCH, result="tip_welch")))

run("kruskal-wallis",
    (ANOVA, _k("Pain threshold", "Hair color", "_ss.kruskal(*samples)")),
    (TIPS, _k("tip", "day", "_ss.kruskal(*samples)", result="kw")),
    (TIPS_PARTY, _k("party", "day", "_ss.kruskal(*samples)").replace("data = RAW[", "data = RAW.assign(party=RAW['party'].map(SCORES))[")))

MIXED = 'df = _pg.read_dataset("mixed_anova")'
_WIDE4_COLS = '["Before", "1 week", "2 week", "3 week"]'

run("rm-anova",
    (WIDE4, f"""
        from statsmodels.stats.anova import AnovaRM
        wide = RAW[{_WIDE4_COLS}].dropna()
        long = wide.reset_index().melt(id_vars="index", var_name="time", value_name="score")
        ref = AnovaRM(long, "score", "index", within=["time"]).fit().anova_table
        close(R["statistic"].iloc[0], ref["F Value"].iloc[0]); close(R["p_val"].iloc[0], ref["Pr > F"].iloc[0])
        assert R["n"].iloc[0] == len(wide) < len(RAW)
    """),
    (MIXED, """
        from statsmodels.stats.anova import AnovaRM
        ref = AnovaRM(RAW, "Scores", "Subject", within=["Time"]).fit().anova_table
        close(rm["statistic"].iloc[0], ref["F Value"].iloc[0]); close(rm["p_val"].iloc[0], ref["Pr > F"].iloc[0])
    """),
    ('df = _pg.read_dataset("rm_anova2")', """
        from statsmodels.stats.anova import AnovaRM
        ref = AnovaRM(RAW, "Performance", "Subject", within=["Time", "Metric"]).fit().anova_table
        assert list(rm2.index) == ["Time", "Metric", "Time * Metric"]
        for name, ref_name in zip(rm2.index, ref.index):
            close(rm2.loc[name, "statistic"], ref.loc[ref_name, "F Value"]); close(rm2.loc[name, "p_val"], ref.loc[ref_name, "Pr > F"])
        # Greenhouse-Geisser for the interaction, written out: orthonormal contrasts of each factor, their Kronecker
        # product for the interaction, epsilon = tr(S)^2 / (q tr(S^2)) with S the covariance of the contrast scores.
        def contrasts(k):
            basis = _np.linalg.qr(_np.column_stack([_np.ones(k), _np.eye(k)[:, : k - 1]]))[0]
            return basis[:, 1:]  # orthonormal, orthogonal to the constant
        cells = RAW.pivot_table(index="Subject", columns=["Time", "Metric"], values="Performance")  # sorted levels
        k_time, k_metric = RAW["Time"].nunique(), RAW["Metric"].nunique()
        scores = cells.to_numpy() @ _np.kron(contrasts(k_time), contrasts(k_metric))
        S = _np.cov(scores, rowvar=False)
        q = S.shape[0]
        eps = _np.trace(S) ** 2 / (q * _np.trace(S @ S))
        F, df1, df2 = (ref.loc["Time:Metric", c] for c in ("F Value", "Num DF", "Den DF"))
        close(rm2.loc["Time * Metric", "eps_gg"], eps)
        close(rm2.loc["Time * Metric", "p_gg_corr"], _ss.f.sf(F, eps * df1, eps * df2))
    """))

run("friedman",
    (WIDE4, f"""
        wide = RAW[{_WIDE4_COLS}].dropna()
        ref = _ss.friedmanchisquare(*[wide[c] for c in wide])
        close(R["statistic"].iloc[0], ref.statistic); close(R["p_val"].iloc[0], ref.pvalue)
    """),
    (MIXED, """
        wide = RAW.pivot(index="Subject", columns="Time", values="Scores")
        ref = _ss.friedmanchisquare(*[wide[c] for c in wide])
        close(fr["statistic"].iloc[0], ref.statistic); close(fr["p_val"].iloc[0], ref.pvalue)
    """),
    (MIXED_BAND, """
        wide = RAW.assign(band=RAW["band"].map(SCORES)).pivot(index="Subject", columns="Time", values="band")
        ref = _ss.friedmanchisquare(*[wide[c] for c in wide])
        close(R["statistic"].iloc[0], ref.statistic); close(R["p_val"].iloc[0], ref.pvalue)
    """))

_MIXED_CHECK = """
    # Between: one-way ANOVA on the subject means. Within and interaction: nested least-squares
    # models with subject dummies (the within-subject error term), written out here.
    LONG = _pg.read_dataset(DATASET)
    wide = LONG.pivot_table(index="Subject", columns="Time", values="Scores").dropna()
    group = LONG.groupby("Subject")["Group"].first().loc[wide.index]
    means = wide.mean(axis=1)
    between = _ss.f_oneway(*[means[group == g] for g in sorted(group.unique())])
    close(RES["statistic"].iloc[0], between.statistic); close(RES["p_val"].iloc[0], between.pvalue)
    long = wide.stack().rename("y").reset_index()
    long["Group"] = group.loc[long["Subject"]].to_numpy()
    S = _pd.get_dummies(long["Subject"].astype(str), drop_first=True, dtype=float)
    T = _pd.get_dummies(long["Time"], drop_first=True, dtype=float)
    G = _pd.get_dummies(long["Group"], drop_first=True, dtype=float)
    TG = _pd.concat([T[t] * G[g] for t in T for g in G], axis=1)
    rss = lambda *parts: _sm.OLS(long["y"], _sm.add_constant(_pd.concat(parts, axis=1))).fit().ssr
    full = _sm.OLS(long["y"], _sm.add_constant(_pd.concat([S, T, TG], axis=1))).fit()
    mse = full.ssr / full.df_resid
    f_time = (rss(S) - rss(S, T)) / T.shape[1] / mse
    f_inter = (rss(S, T) - full.ssr) / TG.shape[1] / mse
    close(RES["statistic"].iloc[1], f_time); close(RES["p_val"].iloc[1], _ss.f.sf(f_time, T.shape[1], full.df_resid))
    close(RES["statistic"].iloc[2], f_inter); close(RES["p_val"].iloc[2], _ss.f.sf(f_inter, TG.shape[1], full.df_resid))
"""
run("mixed-anova",
    (MIXED, _MIXED_CHECK.replace("RES", "R").replace("DATASET", '"mixed_anova"') + '    assert list(R.index) == ["Group", "Time", "Interaction"]\n'),
    ('df = _pg.read_dataset("mixed_anova_unbalanced")', _MIXED_CHECK.replace("RES", "mixed").replace("DATASET", '"mixed_anova_unbalanced"')),
    ('df = _pg.read_dataset("mixed_anova").pivot(index=["Subject", "Group"], columns="Time", values="Scores").reset_index()',
     _MIXED_CHECK.replace("RES", "mixed_wide").replace("DATASET", '"mixed_anova"')))




def _anova_lm(formula, typ, result="R", names=None):
    """Compare the result rows with statsmodels' anova_lm on an OLS formula (eval_env={}: the notebook's Q and C stay out)."""
    return f"""
        from statsmodels.stats.anova import anova_lm
        ref = anova_lm(_smf.ols({formula!r}, RAW, eval_env={{}}).fit(), typ={typ})
        ref = ref.drop(index=[i for i in ("Intercept", "Residual") if i in ref.index])
        ref.index = [i.replace(", Sum)", ")").replace("C(", "").replace('Q("', "").replace('")', "").replace(")", "").replace(":", " * ") for i in ref.index]
        names = {names!r} or list(ref.index)
        assert list({result}.index) == names, (list({result}.index), names)
        for name, ref_name in zip(names, ref.index):
            close({result}.loc[name, "statistic"], ref.loc[ref_name, "F"]); close({result}.loc[name, "p_val"], ref.loc[ref_name, "PR(>F)"])
    """


run("factorial-anova",
    ('df = _pg.read_dataset("anova2")', _anova_lm("Yield ~ C(Blend, Sum) * C(Crop, Sum)", 3)),
    ('df = _pg.read_dataset("anova3")', _anova_lm("Cholesterol ~ C(Sex) * C(Risk) * C(Drug)", 2, result="chol")),
    (PENGUINS, _anova_lm("body_mass_g ~ C(species, Sum) * C(sex, Sum)", 3)))

PENGUINS_SPACED = 'df = _pg.read_dataset("penguins").rename(columns={"body_mass_g": "body mass (g)", "flipper_length_mm": "flipper length (mm)"})'
run("ancova",
    ('df = _pg.read_dataset("ancova")', _anova_lm("Scores ~ C(Method) + Income + BMI", 2, names=["Method", "Income", "BMI"])),
    (PENGUINS_SPACED, _anova_lm('Q("body mass (g)") ~ C(species) + Q("flipper length (mm)")', 2, result="mass_ancova", names=["species", "flipper length (mm)"])))


# -- contingency tables

HEART = 'df = _pg.read_dataset("chi2_independence")'

run("chi2-independence",
    (HEART, """
        expected, observed, ref = _pg.chi2_independence(RAW, x="target", y="sex", correction=True)
        ref = ref.set_index("test").loc["pearson"]
        close(R["statistic"].iloc[0], ref["chi2"]); close(R["p_val"].iloc[0], ref["pval"])
        close(R["cramers_v"].iloc[0], _np.sqrt(_ss.chi2_contingency(_pd.crosstab(RAW["sex"], RAW["target"]), correction=False)[0] / len(RAW)))
    """),
    (PENGUINS, """
        expected, observed, ref = _pg.chi2_independence(RAW, x="species", y="island")
        ref = ref.set_index("test").loc["pearson"]
        close(islands["statistic"].iloc[0], ref["chi2"]); close(islands["p_val"].iloc[0], ref["pval"])
        assert assumptions["passed"].all()  # zero observed cells, but every expected count is >= 5
    """),
    ('df = _pg.read_dataset("penguins").groupby(["sex", "species"]).size().rename("count").reset_index()', """
        raw = RAW.loc[RAW.index.repeat(RAW["count"])]
        expected, observed, ref = _pg.chi2_independence(raw, x="species", y="sex", correction=False)
        ref = ref.set_index("test").loc["pearson"]
        close(R["statistic"].iloc[0], ref["chi2"]); close(R["p_val"].iloc[0], ref["pval"])
        assert R["n"].iloc[0] == RAW["count"].sum()
    """))

_FISHER_2X2 = """
    # written out: the hypergeometric distribution of the top-left cell given the margins
    a, b, c, d = TABLE
    M, n_row, n_col = a + b + c + d, a + b, a + c
    dist = _ss.hypergeom(M, n_row, n_col)
    support = _np.arange(max(0, n_row + n_col - M), min(n_row, n_col) + 1)
    pmf = dist.pmf(support)
    p_two = pmf[pmf <= dist.pmf(a) * (1 + 1e-7)].sum()
    P_CHECK
    close(RES["statistic"].iloc[0], (a * d) / (b * c))
"""

run("fisher-exact",
    ('df = _sm.datasets.spector.load_pandas().data', _FISHER_2X2.replace("TABLE", '_pd.crosstab(RAW["PSI"], RAW["GRADE"]).to_numpy().ravel()').replace("P_CHECK", 'close(R["p_val"].iloc[0], p_two)').replace("RES", "R")),
    (PENGUINS, """
        table = _pd.crosstab(RAW["species"], RAW["island"]).to_numpy()
        ref = _ss.fisher_exact(table, method=_ss.MonteCarloMethod(n_resamples=100000, rng=_np.random.default_rng(0)))
        close(islands["p_val"].iloc[0], ref.pvalue)
        close(islands["statistic"].iloc[0], _ss.random_table(table.sum(axis=1), table.sum(axis=0)).pmf(table))
    """),
    ('df = _pg.read_dataset("chi2_independence").query("age < 45").groupby(["sex", "target"]).size().rename("n").reset_index()',
     _FISHER_2X2.replace("TABLE", 'RAW.pivot(index="sex", columns="target", values="n").fillna(0).to_numpy().ravel()').replace("P_CHECK", 'close(R["p_val"].iloc[0], dist.cdf(a))').replace("RES", "R")))

CHINA = """
raw = _sm.datasets.china_smoking.load_pandas().data
df = raw.reset_index().melt(id_vars="Location", var_name="cell", value_name="count")
df["smoking"] = df["cell"].str.split("_").str[1]
df["cancer"] = df["cell"].str.split("_").str[3]
"""


def _cmh(counts_code, correction, result="R", pooled=None):
    return f"""
        # the Mantel-Haenszel statistic and pooled odds ratio written out
        counts = {counts_code}
        a_sum = e_sum = v_sum = r_sum = s_sum = 0.0
        for stratum, t in counts.items():
            t = _np.asarray(t, dtype=float)
            n = t.sum(); r1, r2 = t.sum(axis=1); c1, c2 = t.sum(axis=0)
            if min(r1, r2, c1, c2) == 0:
                continue
            a_sum += t[0, 0]; e_sum += r1 * c1 / n; v_sum += r1 * r2 * c1 * c2 / (n * n * (n - 1))
            r_sum += t[0, 0] * t[1, 1] / n; s_sum += t[0, 1] * t[1, 0] / n
        chi2 = (abs(a_sum - e_sum) - (0.5 if {correction} else 0)) ** 2 / v_sum
        close({result}["statistic"].iloc[0], chi2); close({result}["p_val"].iloc[0], _ss.chi2.sf(chi2, 1))
        close({result}["odds_ratio"].iloc[0], r_sum / s_sum)
    """


run("cochran-mantel-haenszel",
    (CHINA, _cmh('{loc: part.pivot(index="smoking", columns="cancer", values="count").to_numpy() for loc, part in RAW.groupby("Location")}', True)),
    (TIPS, _cmh('{day: _pd.crosstab(part["sex"], part["smoker"]).to_numpy() for day, part in RAW.groupby("day")}', False, result="cmh")))


# -- correlation

BIG5 = 'df = _pg.read_dataset("pairwise_corr")'
ANES = 'df = _sm.datasets.anes96.load_pandas().data'


def _corr(x, y, call, result="R", extra=""):
    return f"""
        pairs = RAW[[{x!r}, {y!r}]].dropna()
        ref = {call}
        close({result}["statistic"].iloc[0], ref.statistic); close({result}["p_val"].iloc[0], ref.pvalue)
        assert {result}["n"].iloc[0] == len(pairs)
        {extra}
    """


_PEARSON = """
    # r and its t test written out
    pairs = RAW[[X, Y]].dropna()
    n = len(pairs)
    r = _np.corrcoef(pairs[X], pairs[Y])[0, 1]
    t = r * _np.sqrt((n - 2) / (1 - r ** 2))
    close(RES["statistic"].iloc[0], r); close(RES["p_val"].iloc[0], P)
    z, half = _np.arctanh(r), _ss.norm.ppf(0.975) / _np.sqrt(n - 3)
    CI
"""
run("pearson",
    (PENGUINS, _PEARSON.replace("X", '"flipper_length_mm"').replace("Y", '"body_mass_g"').replace("RES", "R").replace("P", "2 * _ss.t.sf(abs(t), n - 2)")
     .replace("CI", 'close(R["ci_low"].iloc[0], _np.tanh(z - half)); close(R["ci_high"].iloc[0], _np.tanh(z + half))')),
    (BIG5, _PEARSON.replace("X", '"Neuroticism"').replace("Y", '"Extraversion"').replace("RES", "big5").replace("P", "_ss.t.cdf(t, n - 2)").replace("CI", "")))

run("spearman",
    (TIPS, _corr("total_bill", "tip", '_ss.spearmanr(pairs["total_bill"], pairs["tip"])')),
    (ANES, _corr("selfLR", "ClinLR", '_ss.spearmanr(pairs["selfLR"], pairs["ClinLR"], alternative="greater")', result="lr")))

run("kendall",
    (TIPS, _corr("size", "tip", '_ss.kendalltau(pairs["size"], pairs["tip"])')),
    (ANES, _corr("PID", "selfLR", '_ss.kendalltau(pairs["PID"], pairs["selfLR"], alternative="greater")', result="pid_lr")))

run("robust-correlation",
    (PENGUINS, """
        # the percentage bend correlation (Wilcox 1994), beta = 0.2, written out
        pairs = RAW[["bill_length_mm", "bill_depth_mm"]].dropna().to_numpy()
        n = len(pairs); m = int(_np.floor((1 - 0.2) * n))
        med = _np.median(pairs, axis=0)
        omega = _np.sort(_np.abs(pairs - med), axis=0)[m - 1]
        psi = (pairs - med) / omega
        i1 = (psi < -1).sum(axis=0); i2 = (psi > 1).sum(axis=0)
        s = _np.where(psi < -1, 0, pairs); s = _np.where(psi > 1, 0, s)
        phi = (omega * (i2 - i1) + s.sum(axis=0)) / (n - i1 - i2)
        ab = _np.clip((pairs - phi) / omega, -1, 1)
        r = (ab[:, 0] * ab[:, 1]).sum() / _np.sqrt((ab[:, 0] ** 2).sum() * (ab[:, 1] ** 2).sum())
        t = r * _np.sqrt((n - 2) / (1 - r ** 2))
        close(R["statistic"].iloc[0], r); close(R["p_val"].iloc[0], 2 * _ss.t.sf(abs(t), n - 2))
    """),
    (BIG5, """
        # Shepherd's pi (Schwarzkopf, De Haas & Rees 2012), written out: the Mahalanobis distance of every point,
        # averaged over 200 bootstrap resamples (drawn, as the cell's seed 0 fixes, from NumPy's global generator);
        # points at 6 or more are outliers; Spearman's rho (Pearson's r of the ranks) on the rest, t-test p-value.
        pairs = RAW[["Neuroticism", "Extraversion"]].dropna().to_numpy(dtype=float)
        n = len(pairs)
        _np.random.seed(0)
        resamples = _np.random.choice(n, size=(200, n), replace=True)
        distance = _np.zeros(n)
        for rows in resamples:
            boot = pairs[rows]
            centred = pairs - boot.mean(axis=0)
            distance += _np.einsum("ij,jk,ik->i", centred, _np.linalg.inv(_np.cov(boot, rowvar=False)), centred)
        kept = pairs[distance / 200 < 6]
        ranks = _np.column_stack([_ss.rankdata(kept[:, 0]), _ss.rankdata(kept[:, 1])])
        r = _np.corrcoef(ranks, rowvar=False)[0, 1]
        m = len(kept)
        t = r * _np.sqrt((m - 2) / (1 - r ** 2))
        assert robust["outliers_removed"].iloc[0] == n - m > 0
        close(robust["statistic"].iloc[0], r); close(robust["p_val"].iloc[0], 2 * _ss.t.sf(abs(t), m - 2))
    """))


# -- regression: the reference fits a statsmodels formula (eval_env={}: the notebook's Q and C stay out)


def _coefs(fit_code, result="R", model_row=None, terms="all"):
    """Compare every term's statistic and p-value; term names are mapped from the formula's spelling."""
    return rf"""
        import re as _re
        ref = {fit_code}
        def _name(term):
            term = _re.sub(r'Q\("([^"]*)"\)', r"\1", term)
            return _re.sub(r"C\(([^()]*)\)", r"\1", term)
        ref_stat = _pd.Series(_np.asarray(ref.tvalues), index=[_name(t) for t in ref.params.index])
        ref_p = _pd.Series(_np.asarray(ref.pvalues), index=ref_stat.index)
        table = {result}
        assert set(table.index) <= set(ref_stat.index), (list(table.index), list(ref_stat.index))
        assert len(table) >= 2 and ({terms!r} != "all" or len(table) == len(ref_stat)), (list(table.index), list(ref_stat.index))
        for term in table.index:
            close(table.loc[term, "statistic"], ref_stat[term]); close(table.loc[term, "p_val"], ref_p[term])
        {model_row or ""}
    """


run("linear-regression",
    (PENGUINS_SPACED, _coefs('_smf.ols(\'Q("body mass (g)") ~ Q("flipper length (mm)") + species + sex\', RAW, eval_env={}).fit()',
                             model_row='close(model_fit["statistic"].iloc[0], ref.fvalue); close(model_fit["p_val"].iloc[0], ref.f_pvalue); close(model_fit["r2"].iloc[0], ref.rsquared)')),
    ('df = _sm.datasets.fair.load_pandas().data', _coefs('_smf.ols("affairs ~ C(rate_marriage) + age + yrs_married + religious", RAW, eval_env={}).fit()', result="affairs_fit")))

run("logistic-regression",
    ('df = _sm.datasets.spector.load_pandas().data', _coefs('_smf.logit("GRADE ~ GPA + TUCE + PSI", RAW, eval_env={}).fit(disp=0)',
                                                           model_row='close(model_fit["statistic"].iloc[0], ref.llr); close(model_fit["p_val"].iloc[0], ref.llr_pvalue)')),
    (PENGUINS, _coefs('_smf.logit("male ~ body_mass_g + bill_depth_mm + species", RAW.dropna(subset=["sex", "body_mass_g", "bill_depth_mm", "species"]).assign(male=lambda d: (d["sex"] == "male").astype(int)), eval_env={}).fit(disp=0)', result="sex_model")),
    (HEART, _coefs('_smf.logit("target ~ age + sex + C(cp)", RAW, eval_env={}).fit(disp=0)')),
    # aggregated counts with frequency weights give the same fit as the individual rows
    ('df = _pg.read_dataset("chi2_independence").groupby(["sex", "cp", "target"]).size().rename("count").reset_index()',
     _coefs('_smf.logit("target ~ sex + C(cp)", _pg.read_dataset("chi2_independence"), eval_env={}).fit(disp=0)', result="aggregated",
            model_row='close(model_fit["statistic"].iloc[0], ref.llr); close(model_fit["p_val"].iloc[0], ref.llr_pvalue); assert model_fit["n"].iloc[0] == 303')))


ORDINAL_FIT = '__import__("statsmodels.miscmodels.ordinal_model", fromlist=["x"]).OrderedModel.from_formula({formula!r}, {data}, distr={link!r}, eval_env={{}}).fit(method="newton", maxiter=200, disp=False)'
IDEOLOGY = ANES + '\ndf["ideology"] = df["selfLR"].map({1: "liberal", 2: "liberal", 3: "liberal", 4: "moderate", 5: "conservative", 6: "conservative", 7: "conservative"})'

run("ordinal-logistic-regression",
    (ANES, _coefs(ORDINAL_FIT.format(formula="selfLR ~ age + educ + income", data="RAW", link="logit"), terms="predictors",
                  model_row='close(model_fit["statistic"].iloc[0], ref.llr); close(model_fit["p_val"].iloc[0], ref.llr_pvalue)')),
    ('df = _sm.datasets.fair.load_pandas().data', _coefs(ORDINAL_FIT.format(formula="rate_marriage ~ age + yrs_married + religious", data="RAW", link="logit"), result="marriage", terms="predictors")),
    (IDEOLOGY, _coefs(ORDINAL_FIT.format(formula="level ~ age + educ + income", link="probit",
                                         data='RAW.assign(level=_pd.Categorical(RAW["ideology"], categories=["liberal", "moderate", "conservative"], ordered=True))'), terms="predictors")))

RANDHIE = 'df = _sm.datasets.randhie.load_pandas().data'
RANDHIE_FORMULA = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"

run("poisson-regression",
    (RANDHIE, _coefs(f'_smf.glm({RANDHIE_FORMULA!r}, RAW, family=_sm.families.Poisson(), eval_env={{}}).fit()')),
    ('df = _sm.datasets.cpunish.load_pandas().data', _coefs('_smf.glm("EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + C(SOUTH)", RAW, family=_sm.families.Poisson(), eval_env={}).fit()', result="executions")))

run("negative-binomial-regression",
    (RANDHIE, _coefs(f'_smf.negativebinomial({RANDHIE_FORMULA!r}, RAW, eval_env={{}}).fit(disp=0, maxiter=200)', terms="predictors",
                     model_row='close(model_fit["alpha"].iloc[0], ref.params["alpha"], rel=1e-4)')),
    (ANES, _coefs('_smf.negativebinomial("TVnews ~ age + educ + income", RAW, eval_env={}).fit(disp=0, maxiter=200)', result="tv", terms="predictors")))


GRUNFELD = 'df = _sm.datasets.grunfeld.load_pandas().data'

run("linear-mixed-model",
    (GRUNFELD, _coefs('_smf.mixedlm("invest ~ value + capital", RAW, groups=RAW["firm"], eval_env={}).fit(reml=True)', terms="fixed")),
    (MIXED, _coefs('_smf.mixedlm("Scores ~ C(Time) + C(Group)", RAW, groups=RAW["Subject"], eval_env={}).fit(reml=True)', result="lmm", terms="fixed",
                   model_row='close(model_fit["icc"].iloc[0], ref.cov_re.iloc[0, 0] / (ref.cov_re.iloc[0, 0] + ref.scale))')),
    ('df = _pg.read_dataset("rm_corr")', _coefs('_smf.mixedlm("pH ~ PacO2", RAW, groups=RAW["Subject"], re_formula="~PacO2", eval_env={}).fit(reml=False)', terms="fixed")))

_GEE = '_smf.gee({formula!r}, "{group}", {data}, family=_sm.families.{family}(), cov_struct=_sm.cov_struct.{cov}(), eval_env={{}}).fit()'
run("generalized-estimating-equations",
    (COCHRAN, _coefs(_GEE.format(formula="Energetic ~ C(Time)", group="Subject", data="RAW", family="Binomial", cov="Exchangeable"))),
    (GRUNFELD, _coefs(_GEE.format(formula="invest ~ value + capital", group="firm", data="RAW", family="Gaussian", cov="Exchangeable"), result="gee_invest")),
    (MIXED, _coefs(_GEE.format(formula="Scores ~ C(Time) + C(Group)", group="Subject", data="RAW", family="Gaussian", cov="Independence"))),
    ('df = _pg.read_dataset("cochran").assign(Energetic=lambda d: d["Energetic"].map({0: "no", 1: "yes"}))',
     _coefs(_GEE.format(formula="yes ~ C(Time)", group="Subject", data='RAW.assign(yes=(RAW["Energetic"] == "yes").astype(float))', family="Binomial", cov="Exchangeable"), result="gee_yes")))


# ---------------------------------------------------------------- running the examples
#
# Each template's examples run in a freshly started Jupyter kernel: ipykernel on this
# interpreter (the .venv's python), started through jupyter_client with MPLBACKEND=Agg.
# Everything reaches the kernel as execute requests, in this order:
#   1. the setup: the reference libraries under underscore names, SCORES, the notebook
#      variables Q and C, close() and _check_common();
#   then for every example, in the order of the template's examples:
#   2. the reset of what the example before left (figures, ``assumptions``, the result and
#      figure variables), the loader into ``df``, and ``RAW = df.copy()``;
#   3. the rendered template cells, one execute request per code cell, each displayed by the
#      kernel itself (a cell that ends with a bare name must send an execute_result back);
#   4. the check: the common checks, ``df`` unchanged, then the reference computation.
# An error reply or an ``error`` message from any execution fails the template's test with
# the kernel's traceback; so does an execution that takes longer than EXECUTION_TIMEOUT.

KERNEL_ENV = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
KERNELS = 2  # kernels running at a time
STARTUP_TIMEOUT = 120  # seconds for a new kernel to answer a kernel_info request
EXECUTION_TIMEOUT = 300  # seconds for one execute request, from sending it to its reply and idle status

SETUP = """\
# The harness of tests/test_stats_templates.py for {template_id!r}; it runs before the examples.
import sys as _sys
assert (_sys.executable, _sys.prefix) == ({executable!r}, {prefix!r}), (_sys.executable, _sys.prefix)

import math as _math
import warnings as _warnings

import matplotlib as _matplotlib
import matplotlib.figure as _figure
import matplotlib.pyplot as _plt
import numpy as _np
import pandas as _pd
{references}

assert _matplotlib.get_backend().lower() == "agg", _matplotlib.get_backend()

# Generated code must not use deprecated pandas / matplotlib API (their warnings point at the caller).
_warnings.filterwarnings("error", category=DeprecationWarning, module="__main__")
_warnings.filterwarnings("error", category=FutureWarning, module="__main__")

# The scores of the ordinal text levels used by the rank tests' examples.
SCORES = {scores!r}

# Notebook variables that statsmodels / patsy formulas would pick up from the caller's namespace.
Q = "a notebook variable named Q"
C = "a notebook variable named C"


def close(actual, expected, rel={rel!r}):
    actual, expected = float(actual), float(expected)
    assert _math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-300), (actual, expected)


def _check_common(result_name, fig_name):
    table = globals()[result_name]
    assert isinstance(table, _pd.DataFrame) and len(table) >= 1, type(table)
    assert set({documented!r}) <= set(table.columns), (set({documented!r}) - set(table.columns), list(table.columns))
    assert _np.isfinite(table["statistic"].astype(float)).any(), table
    assert table["p_val"].astype(float).between(0, 1).any(), table
    assert list(assumptions.columns) == {assumption_columns!r}, list(assumptions.columns)
    figure = globals()[fig_name]
    assert isinstance(figure, _figure.Figure) and _plt.get_fignums(), "no figure"
    assert any(ax.has_data() for ax in figure.axes), "an empty figure"
    return table
"""

LOAD = """\
# ---- {label}: {title}
_plt.close("all")
for _name in ("assumptions", {result!r}, {fig_name!r}):
    globals().pop(_name, None)
{loader}
RAW = df.copy()
"""

CHECK = """\
R = _check_common({result!r}, {fig_name!r})
_pd.testing.assert_frame_equal(df, RAW)  # the cells leave the data alone
{check}
"""


# The reference libraries, each imported by the setup only where the template's loaders or checks
# use it (statsmodels alone takes about 2 s to import; the template's cells import their own).
REFERENCES = {
    "_pg": "import pingouin as _pg",
    "_ss": "import scipy.stats as _ss",
    "_sm": "import statsmodels.api as _sm",
    "_smf": "import statsmodels.formula.api as _smf",
}


@dataclasses.dataclass
class Step:
    """One execute request: ``label`` names it in failures; ``displays``: the kernel must display a value."""

    label: str
    code: str
    displays: bool = False


def _ends_with_a_name(source: str) -> bool:
    body = ast.parse(source).body
    return bool(body) and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Name) and not source.rstrip().endswith(";")


def build_steps(template_id: str) -> list[Step]:
    t = STATS[template_id]
    documented = documented_columns(t)
    harness_code = "\n".join(loader + "\n" + check for loader, check in RUNS[template_id])
    references = "\n".join(line for name, line in REFERENCES.items() if re.search(rf"\b{name}\b", harness_code))
    steps = [Step(f"{template_id} setup", SETUP.format(
        template_id=template_id, executable=sys.executable, prefix=sys.prefix, references=references, rel=1e-6,
        scores=SCORES, documented=documented, assumption_columns=ASSUMPTION_COLUMNS))]
    for index, (example, (loader, check)) in enumerate(zip(examples(t), RUNS[template_id])):
        cells = t.render(copy.deepcopy(example["inputs"]))
        inputs = cells[0]["metadata"]["datadive"]["inputs"]  # with defaults applied
        label = f"{template_id} example {index}"
        names = {"result": inputs["result"], "fig_name": inputs["fig_name"]}
        steps.append(Step(f"{label} loader", LOAD.format(label=label, title=example.get("title", ""), loader=loader, **names)))
        code_cells = [cell["source"] for cell in cells if cell["cell_type"] == "code"]
        steps += [Step(f"{label} cell {k}", source, _ends_with_a_name(source)) for k, source in enumerate(code_cells)]
        steps.append(Step(f"{label} check", CHECK.format(check=check, **names)))
    return steps


def write_notebook(steps: list[Step], path: Path) -> None:
    """The same executions as a notebook, to rerun a failing template by hand."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(step.code, metadata={"tags": [step.label]}) for step in steps]
    nbformat.write(nb, str(path))


class KernelCheckFailed(AssertionError):
    """An execution failed or timed out in the kernel; the message holds the kernel's traceback."""


class VenvKernelSpecs(KernelSpecManager):
    """Resolves every kernel name to ipykernel on this interpreter (the .venv's python)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name="Python 3 (ipykernel)", language="python", env=KERNEL_ENV)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class FreshKernel:
    """A newly started ipykernel on this interpreter, working in ``workdir``; its stdout and stderr go to kernel.log there."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.log_path = workdir / "kernel.log"
        self.km = KernelManager(kernel_name="python3", kernel_spec_manager=VenvKernelSpecs(), connection_file=str(workdir / "kernel.json"))
        self.kc = None

    def __enter__(self) -> FreshKernel:
        try:
            with open(self.log_path, "w", encoding="utf-8") as log:  # the kernel process keeps its own copy
                env = dict(os.environ, IPYTHONDIR=str(self.workdir / "ipython"))  # and KERNEL_ENV, from the kernel spec
                self.km.start_kernel(cwd=str(self.workdir), env=env, stdout=log, stderr=log)
            self.kc = self.km.client()
            self.kc.start_channels()
            try:
                self.kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
            except RuntimeError as error:
                raise KernelCheckFailed(f"{self.name}: the new kernel did not answer within {STARTUP_TIMEOUT} s: {error}{self.log()}") from error
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=False)  # a shutdown request; terminated only if it does not exit in time
        else:
            self.km.cleanup_resources()

    def log(self) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return f"\n--- kernel.log:\n{text[-3000:]}" if text.strip() else ""

    def execute(self, step: Step) -> str:
        """Send one execute request and wait for its reply and idle status; return what it printed and displayed."""
        msg_id = self.kc.execute(step.code, store_history=True, allow_stdin=False, stop_on_error=True)
        deadline = time.monotonic() + EXECUTION_TIMEOUT
        printed, errors, displayed, idle, reply = [], [], False, False, None

        def wait() -> float:
            """How long to block for the next message: at most 1 s, so that a dead kernel is noticed."""
            if not self.km.is_alive():
                raise KernelCheckFailed(f"{step.label}: the kernel died\n--- the execution:\n{step.code}{self.log()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelCheckFailed(
                    f"{step.label}: no reply and idle status within {EXECUTION_TIMEOUT} s (EXECUTION_TIMEOUT); the kernel is shut down"
                    f"\n--- the execution:\n{step.code}\n--- printed so far:\n{''.join(printed)[-3000:]}{self.log()}")
            return min(left, 1.0)

        while not idle:
            try:
                msg = self.kc.get_iopub_msg(timeout=wait())
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                displayed = displayed or kind == "execute_result"
                printed.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                errors.append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        while reply is None:
            try:
                msg = self.kc.get_shell_msg(timeout=wait())
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg["content"]
        if reply["status"] != "ok" and not errors:
            errors.append(reply)
        if errors:
            error = errors[0]
            traceback = _ANSI.sub("", "\n".join(error.get("traceback") or []))
            raise KernelCheckFailed(
                f"{step.label} failed in the kernel: {error.get('ename')}: {error.get('evalue')}\n{traceback}\n"
                f"--- the execution:\n{step.code}\n--- printed before:\n{''.join(printed)[-3000:]}")
        if step.displays and not displayed:
            raise KernelCheckFailed(f"{step.label}: the cell ends with a name, but the kernel displayed no value\n{step.code}")
        return "".join(printed)


def run_in_fresh_kernel(template_id: str, steps: list[Step], workdir: Path, stopping: threading.Event) -> list[str]:
    """Start a kernel, run the steps in it in order and shut it down (also on failure); return the labels of the steps run."""
    done = []
    with FreshKernel(template_id, workdir) as kernel:
        for step in steps:
            if stopping.is_set():
                raise RuntimeError("the test session is stopping")
            kernel.execute(step)
            done.append(step.label)
    return done


@pytest.fixture(scope="session")
def stats_runs(request, tmp_path_factory):
    """Start the kernel run of every selected template on a pool of KERNELS threads, longest first; each test waits for its own."""
    selected = {item.callspec.params["template_id"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_template_matches_the_library"}
    stopping = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=KERNELS, thread_name_prefix="stats-kernel")
    runs = {}
    try:
        for template_id in sorted(selected, key=lambda tid: -len(RUNS.get(tid, ()))):
            if template_id not in RUNS:
                continue
            steps = build_steps(template_id)
            workdir = tmp_path_factory.mktemp(template_id)
            notebook = workdir / "check.ipynb"
            write_notebook(steps, notebook)
            runs[template_id] = (notebook, pool.submit(run_in_fresh_kernel, template_id, steps, workdir, stopping))
        yield runs
    finally:
        stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)


def test_every_stats_template_has_run_checks():
    assert set(STATS) == set(RUNS), (set(STATS) ^ set(RUNS))
    for tid in STATS:
        assert len(RUNS[tid]) == len(STATS[tid].examples), f"{tid}: one (loader, check) per example"


@pytest.mark.parametrize("template_id", sorted(STATS))
def test_template_matches_the_library(template_id, stats_runs):
    notebook, future = stats_runs[template_id]
    failure = done = None
    try:
        done = future.result()
    except KernelCheckFailed as error:
        failure = f"{error}\n--- the same executions as a notebook: {notebook}"
    if failure is not None:  # outside the except clause: the kernel's traceback is shown once
        pytest.fail(failure, pytrace=False)
    checked = [label for label in done if label.endswith(" check")]
    assert checked == [f"{template_id} example {index} check" for index in range(len(STATS[template_id].examples))], done
