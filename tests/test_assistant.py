"""The statistical-test assistant (cell_templates.assistant): profile and suggest.

Every suggest case uses small seeded data built so that the right answer is known
by construction (normal vs skewed samples, equal vs unequal spreads, sparse
tables...), and asserts the recommendation, the checks that led to it and the
warnings the policy (../shared/STATS.md) asks for.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cell_templates import DatadiveError, builtin_templates
from cell_templates.assistant import LEVELS, VOCABULARY, AssistantError, profile, suggest, template_id


def rng(seed=0):
    return np.random.default_rng(seed)


def top(result) -> str:
    return result["suggestions"][0]["test"]


def ranked(result) -> list[str]:
    return [s["test"] for s in result["suggestions"]]


def check(result, name):
    """The assumption record whose name starts with ``name`` in the top suggestion."""
    for a in result["suggestions"][0]["assumptions"]:
        if a["name"].startswith(name):
            return a
    raise AssertionError(f"no check {name!r} in {[a['name'] for a in result['suggestions'][0]['assumptions']]}")


def warned(result, text) -> bool:
    return any(text in w for w in result["suggestions"][0]["warnings"])


def two_groups(a, b, labels=("ctl", "trt")):
    return pd.DataFrame({"y": np.concatenate([a, b]), "g": [labels[0]] * len(a) + [labels[1]] * len(b)})


def k_groups(samples):
    return pd.DataFrame({"y": np.concatenate(samples), "g": np.repeat([f"g{i}" for i in range(len(samples))], [len(s) for s in samples])})


# ------------------------------------------------------------------------------------ profile


@pytest.fixture(scope="module")
def mixed_frame():
    r = rng(1)
    n = 60
    likert = r.integers(1, 6, n).astype(float)
    likert[[3, 7]] = np.nan
    return pd.DataFrame({
        "likert": likert,
        "sex01": r.integers(0, 2, n),
        "dose": np.tile([0.5, 1.0, 2.0], 20),
        "month": np.repeat([5, 6, 7, 8, 9], 12),
        "flag": r.random(n) < 0.5,
        "color": pd.Categorical(r.choice(["red", "green", "blue"], n)),
        "size": pd.Categorical(r.choice(["S", "M", "L"], n), categories=["S", "M", "L"], ordered=True),
        "arm": pd.Categorical(r.choice(["a", "b"], n)),
        "treat": r.choice(["None", "Drug", "Placebo"], n),
        "id": np.arange(1, n + 1),
        "code": [f"P{i:03d}" for i in range(n)],
        "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        "datestr": [f"2024-02-{(i % 28) + 1:02d}" for i in range(n)],
        "comment": [f"the participant said thing number {i} about it" for i in range(n)],
        "weight": r.normal(70, 10, n),
        "change": r.normal(0, 1, n),
        "visits": r.poisson(2, n),
        "income": r.integers(1000, 90000, n),
        "year": np.arange(1950, 1950 + n),
        "agegrp": r.choice(["18-24", "25-34", "35-44", "65+"], n),
        "agree": r.choice(["Disagree", "Neutral", "Agree", "Strongly agree"], n),
        "empty": [np.nan] * n,
        "const": [3] * n,
        "Subject": np.repeat(np.arange(20), 3),
    })


EXPECTED_LEVELS = {
    "likert": ("ordinal", "stored as float because of missing values"),
    "sex01": ("binary", "0/1"),
    "dose": ("ordinal", "dose"),
    "month": ("ordinal", "5..9"),
    "flag": ("binary", "boolean"),
    "color": ("nominal", "unordered pandas categorical"),
    "size": ("ordinal", "ordered pandas categorical (S < M < L)"),
    "arm": ("binary", "two observed categories"),
    "treat": ("nominal", "text categories"),
    "id": ("identifier", "distinct whole number on every row"),
    "code": ("identifier", "distinct short label on every row"),
    "when": ("datetime", "dates"),
    "datestr": ("datetime", "date strings"),
    "comment": ("text", "free text"),
    "weight": ("ratio", "none negative"),
    "change": ("interval", "some negative"),
    "visits": ("count", "counts"),
    "income": ("ratio", "whole numbers"),
    "year": ("ratio", "whole numbers"),
    "agegrp": ("ordinal", "brackets (18-24 < 25-34 < 35-44 < 65+)"),
    "agree": ("ordinal", "Disagree < Neutral < Agree < Strongly agree"),
    "empty": (None, "every value is missing"),
    "const": ("nominal", "constant"),
    "Subject": ("identifier", "repeated across rows"),
}


def test_profile_gives_each_level_with_its_reason(mixed_frame):
    p = profile(mixed_frame)
    assert p["rows"] == 60
    assert list(p["columns"]) == list(mixed_frame.columns)
    for col, (level, reason) in EXPECTED_LEVELS.items():
        entry = p["columns"][col]
        assert entry["level"] == level, (col, entry["level"], entry["reason"])
        assert reason in entry["reason"], (col, entry["reason"])
        assert entry["name"] == col
        assert entry["n"] + entry["missing"] == 60
    covered = {lvl for lvl, _ in EXPECTED_LEVELS.values() if lvl}
    assert covered == set(LEVELS)
    json.dumps(p, allow_nan=False)


def test_profile_counts_and_summaries(mixed_frame):
    cols = profile(mixed_frame)["columns"]
    assert cols["likert"]["missing"] == 2 and cols["likert"]["n"] == 58 and cols["likert"]["distinct"] == 5
    assert any("float because of missing values" in n for n in cols["likert"]["notes"])
    assert sum(cols["likert"]["summary"]["counts"].values()) == 58
    w = cols["weight"]["summary"]
    assert w["min"] <= w["q1"] <= w["median"] <= w["q3"] <= w["max"]
    assert w["mean"] == pytest.approx(mixed_frame["weight"].mean(), rel=1e-5)
    assert w["sd"] == pytest.approx(mixed_frame["weight"].std(), rel=1e-5)
    assert w["median"] == pytest.approx(mixed_frame["weight"].median(), rel=1e-5)
    assert cols["month"]["summary"]["counts"] == {"5": 12, "6": 12, "7": 12, "8": 12, "9": 12}
    assert cols["size"]["summary"]["categories"] == ["S", "M", "L"]
    assert cols["agree"]["summary"]["order"] == ["Disagree", "Neutral", "Agree", "Strongly agree"]
    assert cols["when"]["summary"]["first"].startswith("2024-01-01")
    assert cols["empty"]["distinct"] == 0 and cols["empty"]["n"] == 0
    assert any("constant" in n for n in cols["const"]["notes"])
    assert cols["flag"]["summary"]["proportion_true"] == pytest.approx(mixed_frame["flag"].mean(), abs=1e-6)


def test_profile_histogram_of_numeric_columns():
    df = pd.DataFrame({
        "x": [1.5, 2.0, 3.0, 4.0, 5.0, 6.5, 6.5],        # 12 equal bins of width 5/12 over 1.5..6.5
        "temp": [-3, -2, -2, 0, 1, 1, 4],               # whole numbers over 8 values: a bin per value
        "group": list("aabbccc"),
    })
    cols = profile(df)["columns"]
    hx = cols["x"]["summary"]["histogram"]
    assert len(hx["edges"]) == 13 and hx["edges"][0] == 1.5 and hx["edges"][-1] == 6.5
    # 4.0 sits on the 7th edge (1.5 + 6 * 5/12) and counts in the bin it opens; the maximum in the last bin.
    assert hx["counts"] == [1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 2]
    temps = cols["temp"]["summary"]
    assert temps["histogram"]["edges"] == [-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5]
    assert temps["histogram"]["counts"] == [1, 2, 0, 1, 2, 0, 0, 1]
    assert "histogram" not in cols["group"]["summary"]


def test_profile_integer_codes_are_factors():
    df = pd.DataFrame({
        "treated": [0, 1] * 30,
        "dose": [0.5, 1.0, 2.0] * 20,
        "month": np.repeat([5, 6, 7, 8, 9], 12),
        "score_float": np.r_[np.tile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 8), [np.nan] * 4],
    })
    cols = profile(df)["columns"]
    assert cols["treated"]["level"] == "binary" and "0/1 indicator" in cols["treated"]["reason"]
    assert cols["dose"]["level"] == "ordinal" and "0.5, 1, 2" in cols["dose"]["reason"]
    assert cols["month"]["level"] == "ordinal" and "coded factor" in cols["month"]["reason"]
    assert cols["score_float"]["level"] == "ordinal" and "Likert" in cols["score_float"]["reason"]
    # what a model does with them: 3 to 5 whole-number codes are categories; 7 values of a scale and decimals are not codes
    assert cols["month"]["in_models"] == "categories"
    assert "5 integer codes (5, 6, 7, 8, 9): models use them as categories, C(month)" in cols["month"]["notes"][-1]
    assert "in_models" not in cols["score_float"] and "in_models" not in cols["dose"] and "in_models" not in cols["treated"]
    counted = profile(pd.DataFrame({"n_children": [0, 1, 2, 3] * 10}))["columns"]["n_children"]
    assert counted["level"] == "count" and counted["in_models"] == "numbers" and "the name says counts" in counted["notes"][-1]
    told = profile(df, levels={"month": "interval"})["columns"]["month"]
    assert told["in_models"] == "numbers" and "as levels says 'interval'" in told["notes"][-1]


def test_profile_booleans_and_categoricals():
    df = pd.DataFrame({
        "b": [True, False, True, True],
        "nb": pd.array([True, None, False, True], dtype="boolean"),
        "unordered": pd.Categorical(["x", "y", "z", "x"]),
        "ordered": pd.Categorical(["lo", "hi", "mid", "lo"], categories=["lo", "mid", "hi"], ordered=True),
        "unused": pd.Categorical(["a", "a", "b", "b"], categories=["a", "b", "c", "d"]),
    })
    cols = profile(df)["columns"]
    assert cols["b"]["level"] == "binary" and cols["b"]["reason"].startswith("boolean")
    assert cols["nb"]["level"] == "binary" and cols["nb"]["missing"] == 1
    assert cols["unordered"]["level"] == "nominal"
    assert cols["ordered"]["level"] == "ordinal" and "lo < mid < hi" in cols["ordered"]["reason"]
    assert cols["unused"]["level"] == "binary" and any("no rows" in n for n in cols["unused"]["notes"])


def test_profile_notes_none_strings():
    kept = pd.DataFrame({"treatment": ["None", "Drug", "Placebo", "None", "Drug", "Placebo"]})
    entry = profile(kept)["columns"]["treatment"]
    assert entry["level"] == "nominal" and entry["distinct"] == 3
    assert any("'None'" in n and "missing by default" in n for n in entry["notes"])
    # read_csv turns the category "None" into NaN: the profile says how that happens
    csv = "treatment\n" + "\n".join(["None", "Drug", "Placebo"] * 4)
    read = pd.read_csv(io.StringIO(csv))
    entry = profile(read)["columns"]["treatment"]
    assert entry["missing"] == 4 and entry["level"] == "binary"
    assert any("keep_default_na=False" in n for n in entry["notes"])


def test_profile_levels_override_and_errors(mixed_frame):
    cols = profile(mixed_frame, levels={"month": "nominal", "visits": "ordinal"})["columns"]
    assert cols["month"]["level"] == "nominal" and cols["month"]["reason"].startswith("set by the caller")
    assert cols["visits"]["level"] == "ordinal"
    with pytest.raises(AssistantError) as exc:
        profile(mixed_frame, levels={"nope": "nominal", "month": "weird"})
    paths = {e["path"] for e in exc.value.errors}
    assert paths == {"/levels/nope", "/levels/month"}
    with pytest.raises(AssistantError):
        profile([1, 2, 3])


# ------------------------------------------------------------------------------------ one sample


def test_one_sample_normal_is_t_and_skewed_is_sign_test():
    r = rng(2)
    res = suggest(pd.DataFrame({"y": r.normal(10.5, 2, 40)}), "y", test_value=10)
    assert top(res) == "one_sample_t"
    assert check(res, "normality")["passed"] is True
    assert res["suggestions"][0]["effect_size"]["name"] == "Cohen's d"
    assert ranked(res)[1:] == ["one_sample_wilcoxon", "sign_test"]
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "y", "test_value": 10.0}
    skewed = suggest(pd.DataFrame({"y": r.lognormal(0, 1, 60)}), "y", test_value=1)
    assert top(skewed) == "sign_test"
    assert "symmetric" in skewed["suggestions"][0]["rationale"]
    assert "same data" in skewed["suggestions"][0]["rationale"]  # the cost of pre-testing
    symmetric = suggest(pd.DataFrame({"y": r.laplace(0, 1, 25) + r.standard_t(2, 25)}), "y", test_value=0)
    assert top(symmetric) == "one_sample_t"  # 25 values: Shapiro-Wilk finds no departure


def test_one_sample_symmetric_heavy_tails_is_wilcoxon():
    y = np.array([-9, -3, -1.5, -1, -0.6, -0.3, -0.1, 0, 0.1, 0.2, 0.4, 0.7, 1, 1.6, 3.2, 9.5]) + 0.5
    res = suggest(pd.DataFrame({"y": y}), "y", test_value=0)
    assert check(res, "normality")["passed"] is False
    assert top(res) == "one_sample_wilcoxon"


def test_one_sample_ordinal_and_assumed_test_value():
    r = rng(3)
    df = pd.DataFrame({"rating": r.choice([1, 2, 3, 4, 5], 50, p=[.1, .1, .2, .3, .3]).astype(float)})
    df.loc[3, "rating"] = np.nan
    res = suggest(df, "rating")
    assert top(res) == "one_sample_wilcoxon"
    assert res["design"]["test_value"] == 3
    assert any("test_value" in a for a in res["design"]["assumed"])
    assert warned(res, "Assumed: no test_value")
    assert warned(res, "1 of 50 rows have a missing value")


def test_binomial_and_proportions():
    r = rng(4)
    df = pd.DataFrame({"answer": r.choice(["yes", "no"], 80, p=[.65, .35])})
    res = suggest(df, "answer", test_value=0.5)
    assert top(res) == "binomial_test"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "answer", "test_value": 0.5, "success": "yes"}
    assert res["design"]["success"] == "yes"
    assert ranked(res)[1] == "one_proportion_z_test"
    flags = suggest(pd.DataFrame({"ok": r.random(30) < 0.3}), "ok", test_value=0.2)
    assert top(flags) == "binomial_test" and "success" not in flags["suggestions"][0]["inputs"]
    # an aggregated table: counts in a weights column give the same proportion
    agg = pd.DataFrame({"answer": ["yes", "no"], "n": [52, 28]})
    res = suggest(agg, "answer", weights="n", test_value=0.5)
    assert top(res) == "binomial_test"
    assert res["suggestions"][0]["inputs"]["weights"] == "n"
    assert "52 of 80" in res["suggestions"][0]["rationale"]
    with pytest.raises(AssistantError) as exc:
        suggest(df, "answer", test_value=5)
    assert exc.value.errors[0]["path"] == "/test_value"


def test_goodness_of_fit():
    df = pd.DataFrame({"color": ["red"] * 50 + ["green"] * 30 + ["blue"] * 20})
    res = suggest(df, "color", expected={"red": 0.5, "green": 0.25, "blue": 0.25})
    assert top(res) == "chi2_gof"
    assert res["suggestions"][0]["inputs"]["expected"] == {"red": 0.5, "green": 0.25, "blue": 0.25}
    assert check(res, "expected counts")["passed"] is True
    uniform = suggest(df, "color")
    assert top(uniform) == "chi2_gof" and warned(uniform, "equally likely")
    with pytest.raises(AssistantError) as exc:
        suggest(df, "color", expected={"red": 0.5, "purple": 0.5})
    assert exc.value.errors[0]["path"] == "/expected/purple"
    with pytest.raises(AssistantError) as exc:
        suggest(df, "color", expected={"red": 0.5, "green": 0.5})
    assert exc.value.errors[0]["path"] == "/expected"
    with pytest.raises(AssistantError) as exc:
        suggest(df, "color", expected={"red": -1, "green": 1, "blue": 1})
    assert exc.value.errors[0]["path"] == "/expected/red"


# ------------------------------------------------------------------------------------ two and k groups


def test_two_groups_branches():
    r = rng(5)
    normal = two_groups(r.normal(10, 2, 40), r.normal(11, 2, 40))
    res = suggest(normal, "y", between="g")
    assert top(res) == "independent_t"
    assert check(res, "equal variances")["passed"] is True
    assert "median-centred" in check(res, "equal variances")["detail"]
    assert [a["name"] for a in res["suggestions"][0]["assumptions"]][:2] == ["normality (g = ctl)", "normality (g = trt)"]
    assert ranked(res)[1] == "welch_t" and "default" in res["suggestions"][1]["rationale"]
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "y", "group": "g"}
    assert res["design"]["groups"] == {"ctl": 40, "trt": 40}

    unequal = two_groups(r.normal(10, 1, 40), r.normal(11, 5, 40))
    res = suggest(unequal, "y", between="g")
    assert top(res) == "welch_t" and check(res, "equal variances")["passed"] is False

    skewed = two_groups(r.exponential(1, 25), r.exponential(1.8, 25))
    res = suggest(skewed, "y", between="g")
    assert top(res) == "mann_whitney" and check(res, "equal variances")["passed"] is True
    assert res["suggestions"][0]["effect_size"]["name"] == "rank-biserial r"

    skewed_equal = two_groups(r.lognormal(0, 1, 30), r.lognormal(0.5, 1, 30) * 1.0)
    res = suggest(skewed_equal.assign(y=np.log(skewed_equal.y) ** 3), "y", between="g")
    assert top(res) == "mann_whitney"

    spread = two_groups(r.exponential(1, 40), 3 + r.exponential(6, 40))
    res = suggest(spread, "y", between="g")
    assert top(res) == "brunner_munzel"
    assert ranked(res)[1] == "mann_whitney"


def test_mann_whitney_when_skewed_with_equal_spread():
    r = rng(6)
    a, b = r.exponential(1, 30), r.exponential(1, 30) + 0.4
    res = suggest(two_groups(a, b), "y", between="g")
    assert check(res, "equal variances")["passed"] is True
    assert top(res) == "mann_whitney"
    assert res["suggestions"][0]["effect_size"]["name"] == "rank-biserial r"


def test_mild_non_normality_with_large_groups_keeps_parametric():
    r = rng(7)
    res = suggest(two_groups(r.uniform(0, 10, 400), r.uniform(0.5, 10.5, 400)), "y", between="g")
    assert any(a["passed"] is False for a in res["suggestions"][0]["assumptions"] if a["name"].startswith("normality"))
    assert top(res) == "independent_t"
    assert "n >= 30" in res["suggestions"][0]["rationale"]


def test_ordinal_outcome_uses_ranks_whatever_normality_says():
    r = rng(8)
    df = pd.DataFrame({"rating": r.integers(1, 6, 60), "g": np.repeat(["a", "b"], 30)})
    assert top(suggest(df, "rating", between="g")) == "mann_whitney"
    df3 = pd.DataFrame({"rating": r.integers(1, 8, 90), "g": np.repeat(["a", "b", "c"], 30)})
    res = suggest(df3, "rating", between="g")
    assert top(res) == "kruskal_wallis" and "Dunn" in res["suggestions"][0]["posthoc"]
    likert = pd.DataFrame({"answer": pd.Categorical(r.choice(["low", "mid", "high"], 40), categories=["low", "mid", "high"], ordered=True),
                           "g": np.repeat(["a", "b"], 20)})
    assert top(suggest(likert, "answer", between="g")) == "mann_whitney"


def test_k_groups_branches():
    r = rng(9)
    res = suggest(k_groups([r.normal(m, 2, 30) for m in (10, 11, 12)]), "y", between="g")
    assert top(res) == "one_way_anova" and res["suggestions"][0]["posthoc"].startswith("Tukey")
    assert res["suggestions"][0]["effect_size"]["name"] == "eta squared"
    res = suggest(k_groups([r.normal(10, 1, 30), r.normal(11, 4, 30), r.normal(12, 8, 30)]), "y", between="g")
    assert top(res) == "welch_anova" and "Games-Howell" in res["suggestions"][0]["posthoc"]
    res = suggest(k_groups([r.exponential(s, 20) for s in (1, 1.5, 2)]), "y", between="g")
    assert top(res) == "kruskal_wallis"
    assert res["suggestions"][0]["effect_size"]["name"] == "epsilon squared"


def test_ordered_codes_as_groups_are_assumed():
    r = rng(10)
    df = pd.DataFrame({"len": np.concatenate([r.normal(m, 3, 20) for m in (10, 18, 26)]), "dose": np.repeat([0.5, 1.0, 2.0], 20)})
    res = suggest(df, "len", predictors=["dose"])
    assert top(res) == "one_way_anova"
    assert res["design"]["between"] == ["dose"]
    assert any("treated as groups" in a for a in res["design"]["assumed"])
    assoc = suggest(df, "len", predictors=["dose"], goal="association")
    assert top(assoc) == "kendall" and ranked(assoc)[1] == "spearman"  # 3 dose levels: many ties


# ------------------------------------------------------------------------------------ repeated measures


def test_paired_wide_and_long():
    r = rng(11)
    pre = r.normal(50, 10, 30)
    post = pre + r.normal(2, 3, 30)
    wide = pd.DataFrame({"pre": pre, "post": post})
    res = suggest(wide, ["pre", "post"])
    assert top(res) == "paired_t"
    assert check(res, "normality (differences post - pre)")["passed"] is True
    assert res["design"]["paired"] is True and res["design"]["format"] == "wide"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": ["pre", "post"]}
    assert res["suggestions"][0]["effect_size"]["name"] == "Cohen's dz"
    skew = pd.DataFrame({"pre": pre, "post": pre + r.exponential(2, 30) ** 2})
    assert top(suggest(skew, ["pre", "post"])) == "wilcoxon_signed_rank"
    long = wide.reset_index().melt(id_vars="index", var_name="time", value_name="score").rename(columns={"index": "subject"})
    res = suggest(long, "score", within="time", subject="subject")
    assert top(res) == "paired_t"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "score", "subject": "subject", "within": "time"}


def test_pairing_is_inferred_from_a_repeated_subject_id():
    r = rng(12)
    base = r.normal(50, 10, 25)
    long = pd.DataFrame({"participant": np.tile(np.arange(25), 2), "cond": np.repeat(["a", "b"], 25),
                         "rt": np.concatenate([base, base + r.normal(3, 2, 25)])})
    # subject named, factor given as a predictor: it varies within subjects
    res = suggest(long, "rt", predictors=["cond"], subject="participant")
    assert top(res) == "paired_t" and res["design"]["within"] == ["cond"]
    assert any("varies within" in a for a in res["design"]["assumed"])
    # subject not named: found through its name and the one-row-per-level structure
    res = suggest(long, "rt", between="cond")
    assert top(res) == "paired_t"
    assert res["design"]["subject"] == "participant"
    assert any("pairing inferred" in a for a in res["design"]["assumed"])
    assert warned(res, "Assumed: pairing inferred")


def test_repeated_measures_anova_sphericity_and_friedman():
    r = rng(13)
    n = 40
    subj = r.normal(0, 3, n)
    wide = pd.DataFrame({f"t{j}": 10 + j + subj + r.normal(0, 1, n) for j in range(3)})
    res = suggest(wide, ["t0", "t1", "t2"])
    assert top(res) == "rm_anova"
    assert check(res, "sphericity")["passed"] is True
    # sphericity violated: still rm_anova, with the Greenhouse-Geisser correction noted
    noise = np.column_stack([r.normal(0, s, n) for s in (0.3, 1, 6)])
    bad = pd.DataFrame({f"t{j}": 10 + j + subj + noise[:, j] for j in range(3)})
    res = suggest(bad, ["t0", "t1", "t2"])
    assert top(res) == "rm_anova"
    sph = check(res, "sphericity")
    assert sph["passed"] is False and "Greenhouse-Geisser" in sph["detail"]
    assert "Greenhouse-Geisser" in res["suggestions"][0]["rationale"] and warned(res, "Greenhouse-Geisser")
    # clearly non-normal residuals -> Friedman
    skew = pd.DataFrame({f"t{j}": subj + r.exponential(1 + j, n) ** 2 for j in range(3)})
    res = suggest(skew, ["t0", "t1", "t2"])
    assert top(res) == "friedman" and res["suggestions"][0]["effect_size"]["name"] == "Kendall's W"
    # ordinal ratings -> Friedman
    ratings = pd.DataFrame({f"judge{j}": r.integers(1, 6, 20) for j in range(4)})
    assert top(suggest(ratings, list(ratings.columns))) == "friedman"


def test_missing_cells_in_wide_data_are_reported_with_a_mixed_model_alternative():
    r = rng(14)
    wide = pd.DataFrame({f"t{j}": r.normal(10 + j, 1, 20) for j in range(3)})
    wide.iloc[[1, 4, 9], 2] = np.nan
    res = suggest(wide, ["t0", "t1", "t2"])
    assert top(res) == "rm_anova"
    assert warned(res, "3 of 20 subjects miss at least one condition")
    assert warned(res, "a linear mixed model uses every observation (reshape to the long layout")
    assert res["design"]["n_subjects"] == 17
    # in the long layout the mixed model is offered as a runnable alternative
    long = wide.reset_index().melt(id_vars="index", var_name="time", value_name="y").rename(columns={"index": "subject"})
    res = suggest(long, "y", within="time", subject="subject")
    assert top(res) == "rm_anova" and ranked(res)[-1] == "linear_mixed_model"
    assert res["suggestions"][-1]["inputs"] == {"df": "df", "outcome": "y", "subject": "subject", "within": "time"}
    assert "missing conditions" in res["suggestions"][-1]["rationale"]


def test_mixed_anova():
    r = rng(15)
    n = 20
    rows = []
    for g, shift in (("ctl", 0), ("trt", 2)):
        for s in range(n):
            base = r.normal(0, 2)
            for j, t in enumerate(("pre", "mid", "post")):
                rows.append({"id": f"{g}{s}", "group": g, "time": t, "y": 10 + base + j * shift * 0.5 + r.normal(0, 1)})
    df = pd.DataFrame(rows)
    res = suggest(df, "y", within="time", between="group", subject="id")
    assert top(res) == "mixed_anova"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "y", "subject": "id", "within": "time", "between": "group"}
    names = [a["name"] for a in res["suggestions"][0]["assumptions"]]
    assert names[0] == "normality (residuals)" and any(n.startswith("equal variances across group") for n in names) and "sphericity" in names
    # between given for a factor that varies within subjects is moved to within
    res = suggest(df, "y", between=["time", "group"], subject="id")
    assert top(res) == "mixed_anova" and res["design"]["within"] == ["time"]
    assert warned(res, "'time' was given as a between factor but varies within 'id'")


def test_repeated_binary_mcnemar_cochran_and_gee():
    r = rng(16)
    n = 60
    a = r.random(n) < 0.4
    b = np.where(r.random(n) < 0.7, a, r.random(n) < 0.7)
    wide = pd.DataFrame({"before": a, "after": b})
    res = suggest(wide, ["before", "after"])
    assert top(res) == "mcnemar"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "before", "group": "after"}
    assert check(res, "discordant pairs")["statistic"] == float(np.sum(a != b))
    # the aggregated 2x2 table of the same pairs
    agg = wide.value_counts().rename("n").reset_index()
    res2 = suggest(agg, ["before", "after"], weights="n")
    assert top(res2) == "mcnemar" and res2["suggestions"][0]["inputs"]["weights"] == "n"
    assert check(res2, "discordant pairs")["statistic"] == check(res, "discordant pairs")["statistic"]
    three = pd.DataFrame({"id": np.repeat(np.arange(30), 3), "day": np.tile(["mon", "tue", "wed"], 30),
                          "energetic": np.where(r.random(90) < np.tile([0.2, 0.5, 0.8], 30), "yes", "no")})
    res = suggest(three, "energetic", within="day", subject="id")
    assert top(res) == "cochran_q" and res["suggestions"][0]["inputs"]["success"] == "yes"
    three["group"] = np.repeat(np.where(np.arange(30) < 15, "a", "b"), 3)
    assert top(suggest(three, "energetic", within="day", between="group", subject="id")) == "generalized_estimating_equations"


def test_two_within_factors():
    r = rng(17)
    rows = [{"s": s, "a": a, "b": b, "y": r.normal(s % 5 + (a == "x") + 2 * (b == "q"), 1)}
            for s in range(20) for a in ("x", "y") for b in ("p", "q", "r")]
    res = suggest(pd.DataFrame(rows), "y", within=["a", "b"], subject="s")
    assert top(res) == "rm_anova"
    assert res["suggestions"][0]["inputs"]["within"] == ["a", "b"]


def test_clustered_rows_without_a_within_factor_need_a_mixed_model():
    r = rng(18)
    s = np.repeat(np.arange(12), 5)
    x = r.normal(0, 1, 60)
    df = pd.DataFrame({"subject": s, "x": x, "y": 0.5 * x + r.normal(0, 1, 12)[s] + r.normal(0, 0.3, 60)})
    res = suggest(df, "y", predictors=["x"], subject="subject")
    assert top(res) == "linear_mixed_model"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "y", "subject": "subject", "covariates": ["x"]}


# ------------------------------------------------------------------------------------ factorial, ANCOVA


def test_factorial_anova():
    r = rng(19)
    df = pd.DataFrame([{"a": a, "b": b, "y": r.normal(10 + (a == "a2") * 2 + (b == "b3"), 1)}
                       for a in ("a1", "a2") for b in ("b1", "b2", "b3") for _ in range(10)])
    res = suggest(df, "y", between=["a", "b"])
    assert top(res) == "factorial_anova"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "y", "between": ["a", "b"]}
    assert check(res, "normality (residuals)")["passed"] is True
    assert res["suggestions"][0]["effect_size"]["value"] > 0.3
    unbalanced = suggest(df.iloc[5:], "y", between=["a", "b"])
    assert warned(unbalanced, "unbalanced design")


def test_ancova_and_heterogeneous_slopes():
    r = rng(20)
    n = 30
    x = r.normal(50, 10, 3 * n)
    g = np.repeat(["a", "b", "c"], n)
    y = 5 + 0.5 * x + np.repeat([0, 2, 4], n) + r.normal(0, 2, 3 * n)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    res = suggest(df, "y", between="g", covariates="x")
    assert top(res) == "ancova"
    assert check(res, "homogeneous regression slopes")["passed"] is True
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "y", "group": "g", "covariates": ["x"]}
    # predictors without roles: the factor and the numeric covariate are recognised
    assert top(suggest(df, "y", predictors=["g", "x"])) == "ancova"
    slopes = np.repeat([0.1, 0.5, 1.5], n)
    df2 = df.assign(y=5 + slopes * x + r.normal(0, 2, 3 * n))
    res = suggest(df2, "y", between="g", covariates=["x"])
    assert top(res) == "ancova"
    assert check(res, "homogeneous regression slopes")["passed"] is False
    assert warned(res, "heterogeneous regression slopes")


# ------------------------------------------------------------------------------------ contingency tables


def test_contingency_chi2_fisher_and_freeman_halton():
    r = rng(21)
    big = pd.DataFrame({"smoker": r.choice(["yes", "no"], 200), "sex": r.choice(["f", "m"], 200)})
    res = suggest(big, "smoker", between="sex")
    assert top(res) == "chi2_independence" and check(res, "expected counts")["passed"] is True
    assert res["suggestions"][0]["effect_size"]["name"] == "odds ratio"
    assert ranked(res)[1] == "fisher_exact"
    sparse = pd.DataFrame({"cured": ["yes"] * 7 + ["no"] * 3 + ["yes"] * 2 + ["no"] * 8, "arm": ["drug"] * 10 + ["placebo"] * 10})
    res = suggest(sparse, "cured", between="arm")
    assert top(res) == "fisher_exact" and check(res, "expected counts")["passed"] is False
    assert res["suggestions"][0]["title"] == "Fisher's exact test"
    rxc = pd.DataFrame({"x": list("aaaaabbbbbccccc") * 2, "y": list("pqpqprrrrrpqrqp") * 2})
    res = suggest(rxc, "x", between="y")
    assert top(res) == "fisher_exact" and "Freeman-Halton" in res["suggestions"][0]["title"]
    assert res["suggestions"][0]["effect_size"]["name"] == "Cramer's V"


def test_aggregated_table_through_weights_matches_the_rows():
    r = rng(22)
    rows = pd.DataFrame({"a": r.choice(["x", "y", "z"], 300), "b": r.choice(["p", "q"], 300)})
    agg = rows.value_counts().rename("count").reset_index()
    one, two = suggest(rows, "a", between="b"), suggest(agg, "a", between="b", weights="count")
    assert top(one) == top(two) == "chi2_independence"
    assert two["design"]["table"]["counts"] == one["design"]["table"]["counts"]
    assert two["suggestions"][0]["effect_size"] == one["suggestions"][0]["effect_size"]
    assert two["suggestions"][0]["inputs"] == {"df": "df", "outcome": "a", "group": "b", "weights": "count"}
    with pytest.raises(AssistantError) as exc:
        suggest(agg.assign(count=-agg["count"]), "a", between="b", weights="count")
    assert exc.value.errors[0]["path"] == "/weights"
    numeric = pd.DataFrame({"y": r.normal(size=10), "g": ["a", "b"] * 5, "w": [1] * 10})
    with pytest.raises(AssistantError) as exc:
        suggest(numeric, "y", between="g", weights="w")
    assert exc.value.errors[0]["path"] == "/weights"


def test_stratified_2x2xk_with_breslow_day_and_simpson_reversal():
    # Within each hospital the treatment helps; pooled, it looks harmful (more severe cases get it).
    rows = []
    for hospital, (t_ok, t_n, c_ok, c_n) in {"A": (81, 87, 234, 270), "B": (192, 263, 55, 80)}.items():
        rows += [{"hospital": hospital, "arm": "treated", "outcome": "ok", "n": t_ok},
                 {"hospital": hospital, "arm": "treated", "outcome": "bad", "n": t_n - t_ok},
                 {"hospital": hospital, "arm": "control", "outcome": "ok", "n": c_ok},
                 {"hospital": hospital, "arm": "control", "outcome": "bad", "n": c_n - c_ok}]
    df = pd.DataFrame(rows)
    res = suggest(df, "outcome", between="arm", strata="hospital", weights="n")
    assert top(res) == "cochran_mantel_haenszel"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "outcome", "group": "arm", "strata": "hospital", "weights": "n"}
    assert check(res, "homogeneous odds ratios (Breslow-Day)")["passed"] is True
    assert warned(res, "Simpson-type reversal")
    assert res["suggestions"][0]["effect_size"]["name"] == "Mantel-Haenszel odds ratio"
    # heterogeneous odds ratios are flagged
    r = rng(23)
    het = []
    for k, (p1, p0) in enumerate([(0.8, 0.2), (0.2, 0.8), (0.7, 0.3)]):
        for arm, p in (("t", p1), ("c", p0)):
            het += [{"s": f"s{k}", "arm": arm, "y": "ok" if r.random() < p else "bad"} for _ in range(80)]
    res = suggest(pd.DataFrame(het), "y", between="arm", strata="s")
    assert top(res) == "cochran_mantel_haenszel"
    assert check(res, "homogeneous odds ratios")["passed"] is False and warned(res, "Breslow-Day")


# ------------------------------------------------------------------------------------ association and prediction


def test_correlations():
    r = rng(24)
    x = r.normal(0, 1, 80)
    df = pd.DataFrame({"x": x, "y": 0.6 * x + r.normal(0, 0.8, 80)})
    res = suggest(df, "y", predictors=["x"])
    assert top(res) == "pearson"
    assert res["suggestions"][0]["inputs"] == {"df": "df", "x": "x", "y": "y"}
    assert warned(res, "Assumed: no goal given and one numeric predictor")
    out = df.copy()
    out.loc[:2, ["x", "y"]] = [[8, -9], [9, -8], [-9, 9]]
    res = suggest(out, "y", predictors=["x"])
    # the robust (MCD) check flags them too: the skipped correlation ranks first (issue 14 item 3)
    assert top(res) == "robust_correlation" and check(res, "no bivariate outliers")["passed"] is False
    assert "spearman" in ranked(res)
    ords = pd.DataFrame({"a": r.integers(1, 6, 50)})
    ords["b"] = np.clip(ords["a"] + r.integers(-1, 2, 50), 1, 5)
    res = suggest(ords, "a", predictors=["b"])
    assert top(res) == "kendall" and ranked(res)[1] == "spearman"


def test_regressions():
    r = rng(25)
    n = 120
    X = r.normal(size=(n, 3))
    df = pd.DataFrame(X, columns=["x1", "x2", "x3"])
    df["y"] = X @ [1.0, -0.5, 0.2] + r.normal(0, 1, n)
    res = suggest(df, "y", predictors=["x1", "x2", "x3"])
    assert top(res) == "linear_regression"
    assert res["suggestions"][0]["effect_size"]["name"] == "R squared"
    assert {a["name"] for a in res["suggestions"][0]["assumptions"]} >= {"normality (residuals)", "constant residual variance (Breusch-Pagan)"}
    one = suggest(df, "y", predictors=["x1"], goal="prediction")
    assert top(one) == "linear_regression"
    # collinear predictors are flagged
    df["x4"] = df["x1"] + r.normal(0, 0.01, n)
    res = suggest(df, "y", predictors=["x1", "x4"])
    assert check(res, "no severe multicollinearity")["passed"] is False


def test_logistic_regression_with_events_per_predictor_warning():
    r = rng(26)
    n = 60
    X = r.normal(size=(n, 4))
    p = 1 / (1 + np.exp(-(X[:, 0] - 1.5)))
    df = pd.DataFrame(X, columns=list("abcd")).assign(died=np.where(r.random(n) < p, "died", "alive"))
    res = suggest(df, "died", predictors=list("abcd"))
    assert top(res) == "logistic_regression"
    epv = check(res, "events per predictor")
    assert epv["passed"] is False and epv["statistic"] < 10
    assert warned(res, "events per predictor parameter")
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "died", "predictors": list("abcd"), "success": "died"}
    big = pd.DataFrame(r.normal(size=(400, 1)), columns=["a"])
    big["y"] = (r.random(400) < 1 / (1 + np.exp(-big["a"]))).astype(int)
    res = suggest(big, "y", predictors=["a"])
    assert top(res) == "logistic_regression" and check(res, "events per predictor")["passed"] is True
    assert "success" not in res["suggestions"][0]["inputs"]
    # a binary outcome with one factor and goal prediction
    df2 = pd.DataFrame({"y": r.integers(0, 2, 100), "g": r.choice(["a", "b", "c"], 100)})
    assert top(suggest(df2, "y", predictors=["g"], goal="prediction")) == "logistic_regression"


def test_ordinal_and_count_regressions():
    r = rng(27)
    n = 200
    x = r.normal(size=n)
    latent = x + r.logistic(size=n)
    df = pd.DataFrame({"x": x, "z": r.normal(size=n), "grade": pd.Categorical(np.digitize(latent, [-1, 0, 1]).astype(str),
                                                                             categories=["0", "1", "2", "3"], ordered=True)})
    res = suggest(df, "grade", predictors=["x", "z"])
    assert top(res) == "ordinal_logistic_regression"
    mu = np.exp(0.5 + 0.4 * x)
    df["events"] = r.poisson(mu)
    res = suggest(df, "events", predictors=["x", "z"], goal="prediction")
    assert top(res) == "poisson_regression" and check(res, "no overdispersion")["passed"] is True
    df["events"] = r.negative_binomial(1.0, 1 / (1 + mu))
    res = suggest(df, "events", predictors=["x", "z"], goal="prediction")
    assert top(res) == "negative_binomial_regression" and check(res, "no overdispersion")["passed"] is False


def coded_frame(n=600, seed=60):
    """A binary outcome whose risk differs by site (codes 1/2/3, not in order: site 2 highest, site 3 lowest) and rises with z."""
    r = rng(seed)
    site = r.choice([1, 2, 3], n)
    z = r.normal(size=n)
    logit = np.array([0.0, 1.2, -0.8])[site - 1] + 0.5 * z
    return pd.DataFrame({"y": (r.random(n) < 1 / (1 + np.exp(-logit))).astype(int), "site": site, "z": z,
                         "score": 10 + np.array([0.0, 2.0, -1.0])[site - 1] + z + r.normal(size=n)})


def model_terms(suggestion, df, prefix):
    """The terms of the fitted model the suggested cells build, that start with ``prefix``."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        model = run_cells(suggestion, df)["model"]
    return [t for t in model.params.index if t.startswith(prefix)]


def test_integer_codes_in_a_logistic_regression_are_categories_by_default():
    df = coded_frame()
    res = suggest(df, "y", predictors=["site", "z"])
    assert top(res) == "logistic_regression"
    s = res["suggestions"][0]
    assert s["inputs"] == {"df": "df", "outcome": "y", "predictors": ["site", "z"], "categorical": ["site"]}
    assert res["profile"]["columns"]["site"]["in_models"] == "categories"
    assert warned(res, "'site' holds 3 integer codes: the model uses them as categories, C(site); pass levels={'site': 'interval'}")
    assert model_terms(s, df, "site") == ["site[T.2]", "site[T.3]"]  # two dummy terms, site 1 the reference
    # the caller says the codes are interval: one numeric term, with a warning that says so
    res = suggest(df, "y", predictors=["site", "z"], levels={"site": "interval"})
    s = res["suggestions"][0]
    assert top(res) == "logistic_regression"
    assert s["inputs"] == {"df": "df", "outcome": "y", "predictors": ["site", "z"]}
    assert res["profile"]["columns"]["site"]["in_models"] == "numbers"
    assert warned(res, "'site' holds 3 integer codes, used as a number as levels says 'interval'")
    assert model_terms(s, df, "site") == ["site"]


def test_integer_codes_follow_the_same_rule_in_every_model():
    df = coded_frame()
    # a linear regression (goal prediction, the codes alone)
    res = suggest(df, "score", predictors=["site"], goal="prediction")
    assert top(res) == "linear_regression" and res["suggestions"][0]["inputs"]["categorical"] == ["site"]
    assert model_terms(res["suggestions"][0], df, "site") == ["site[T.2]", "site[T.3]"]
    # beside a numeric predictor the codes are a factor: the model adjusts the site comparison for z (ANCOVA)
    res = suggest(df, "score", predictors=["site", "z"])
    assert top(res) == "ancova" and res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "score", "group": "site", "covariates": ["z"]}
    assert warned(res, "C(site)")
    # a binary outcome and the codes, asked as an association: a contingency table, not a logistic slope
    assert top(suggest(df, "y", predictors=["site"], goal="association")) == "chi2_independence"
    # a correlation reads the codes as ordered values (the caller asked for an association of two variables)
    res = suggest(df, "score", predictors=["site"], goal="association")
    assert top(res) == "kendall" and warned(res, "'site' (3 ordered values) is used as a number")
    # codes whose name says counts stay numbers
    counted = df.rename(columns={"site": "n_children"})
    res = suggest(counted, "y", predictors=["n_children", "z"])
    assert top(res) == "logistic_regression" and "categorical" not in res["suggestions"][0]["inputs"]
    assert warned(res, "'n_children' (3 ordered values) is used as a number")
    # codes given as a covariate: used as a number, with a warning
    res = suggest(df, "score", between="y", covariates=["site"])
    assert warned(res, "'site' holds 3 integer codes and was given as a covariate")


def test_nominal_outcome_with_a_numeric_predictor_swaps_roles():
    r = rng(28)
    df = pd.DataFrame({"species": np.repeat(["a", "b", "c"], 30), "len": np.concatenate([r.normal(m, 1, 30) for m in (1, 2, 3)])})
    res = suggest(df, "species", predictors=["len"])
    assert top(res) == "one_way_anova"  # normal groups, equal spreads
    assert res["suggestions"][0]["inputs"] == {"df": "df", "outcome": "len", "group": "species"}
    assert any("multinomial" in a for a in res["design"]["assumed"])


# ------------------------------------------------------------------------------------ contract, determinism, sampling


DESIGNS = [
    (lambda r: pd.DataFrame({"y": r.normal(size=50)}), dict(outcome="y", test_value=0.1)),
    (lambda r: two_groups(r.normal(0, 1, 30), r.normal(1, 1, 30)), dict(outcome="y", between="g")),
    (lambda r: k_groups([r.exponential(1, 20) for _ in range(3)]), dict(outcome="y", between="g")),
    (lambda r: pd.DataFrame({"a": r.normal(size=30), "b": r.normal(size=30), "c": r.normal(size=30)}), dict(outcome=["a", "b", "c"])),
    (lambda r: pd.DataFrame({"a": r.random(40) < .5, "b": r.random(40) < .5}), dict(outcome=["a", "b"])),
    (lambda r: pd.DataFrame({"x": r.choice(list("pq"), 90), "y": r.choice(list("rst"), 90)}), dict(outcome="x", between="y")),
    (lambda r: pd.DataFrame({"x": r.normal(size=40), "y": r.normal(size=40)}), dict(outcome="y", predictors=["x"])),
    (lambda r: pd.DataFrame({"x": r.normal(size=40), "z": r.normal(size=40), "y": r.integers(0, 2, 40)}), dict(outcome="y", predictors=["x", "z"])),
]


def designs():
    for make, design in DESIGNS:
        yield make(rng(99)), design


def test_every_suggestion_follows_the_contract():
    for df, design in designs():
        res = suggest(df, **design)
        assert set(res) == {"profile", "suggestions", "design"}
        json.dumps(res, allow_nan=False)
        assert len(res["suggestions"]) >= 1
        seen = set()
        for s in res["suggestions"]:
            assert set(s) == {"test", "title", "rationale", "assumptions", "warnings", "effect_size", "posthoc", "template", "inputs"}
            assert s["test"] in VOCABULARY and s["test"] not in seen
            seen.add(s["test"])
            assert s["template"] == template_id(s["test"]) == "stat-" + s["test"].replace("_", "-")
            assert s["inputs"]["df"] == "df"
            assert s["rationale"] and s["title"]
            for a in s["assumptions"]:
                assert {"name", "statistic", "p", "passed", "detail"} <= set(a)
                assert a["passed"] in (True, False, None)
            assert s["effect_size"] is None or set(s["effect_size"]) == {"name", "value"}
        for alt in res["suggestions"][1:]:
            assert alt["rationale"].startswith("Alternative, ranked lower")


def test_profile_in_suggest_covers_every_column_cheaply_for_unused_ones():
    r = rng(30)
    df = two_groups(r.normal(size=20), r.normal(size=20)).assign(other=r.normal(size=40), label=["x"] * 40)
    res = suggest(df, "y", between="g")
    cols = res["profile"]["columns"]
    assert list(cols) == ["y", "g", "other", "label"]
    assert cols["y"]["profiled"] and cols["g"]["profiled"]
    assert cols["other"]["profiled"] is False and cols["other"]["distinct"] is None and cols["other"]["level"] == "ratio"


def test_results_are_deterministic():
    for df, design in designs():
        assert json.dumps(suggest(df, **design), sort_keys=True) == json.dumps(suggest(df.copy(), **design), sort_keys=True)


def test_large_data_checks_run_on_a_seeded_sample():
    r = rng(31)
    n = 30_000
    df = pd.DataFrame({"y": np.concatenate([r.normal(0, 1, n), r.normal(0.1, 1, n)]), "g": np.repeat(["a", "b"], n)})
    first = suggest(df, "y", between="g")
    assert first["design"]["sampled"] is True and first["design"]["sample_per_group"] == 5000
    norm = check(first, "normality (g = a)")
    assert "seeded sample of 5000 of 30000" in norm["detail"]
    assert top(first) == "welch_t" and check(first, "equal variances")["passed"] is False  # on the seeded sample, p = .011
    again = suggest(df.sample(frac=1.0, random_state=0).sort_index(), "y", between="g")
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    small = suggest(df.iloc[::20], "y", between="g")
    assert small["design"]["sampled"] is False


# ------------------------------------------------------------------------------------ bad input


def errors_of(call):
    with pytest.raises(AssistantError) as exc:
        call()
    err = exc.value
    assert isinstance(err, DatadiveError) and err.code == "invalid_design"
    assert err.to_dict()["code"] == "invalid_design" and err.errors
    return err.errors


def test_bad_inputs_name_their_paths():
    r = rng(32)
    df = pd.DataFrame({"y": r.normal(size=20), "g": ["a", "b"] * 10, "one": ["x"] * 20, "k": [1.0] * 20,
                       "nan": [np.nan] * 20, "id": np.repeat(np.arange(10), 2)})
    assert errors_of(lambda: suggest(df, "nope"))[0] == {"path": "/outcome", "message": "unknown column 'nope'"}
    errs = errors_of(lambda: suggest(df, "y", between=["g", "zz"], predictors=["qq"], covariates="cc"))
    assert {e["path"] for e in errs} == {"/between/1", "/predictors/0", "/covariates"}
    assert errors_of(lambda: suggest(df, "Y"))[0]["message"].endswith("(did you mean 'y'?)")
    assert errors_of(lambda: suggest(df, ["y", "nope"]))[0]["path"] == "/outcome/1"
    assert errors_of(lambda: suggest(df.iloc[:0], "y"))[0]["path"] == ""
    assert errors_of(lambda: suggest(pd.DataFrame(), "y"))[0]["path"] == ""
    assert errors_of(lambda: suggest("not a frame", "y"))[0]["path"] == ""
    errs = errors_of(lambda: suggest(df, "y", between="one"))
    assert errs[0]["path"] == "/between" and "only one group" in errs[0]["message"]
    assert errors_of(lambda: suggest(df, "k", between="g"))[0]["path"] == "/outcome"
    errs = errors_of(lambda: suggest(df, "nan", between="g"))
    assert errs[0]["path"] == "/outcome" and "missing" in errs[0]["message"]
    assert errors_of(lambda: suggest(df, "y", predictors=["g", "nan"]))[0]["path"] == "/predictors/1"
    assert errors_of(lambda: suggest(df, "y", between="y"))[0]["path"] == "/between"
    assert errors_of(lambda: suggest(df, "y", goal="explain"))[0]["path"] == "/goal"
    assert errors_of(lambda: suggest(df, "y", test_value="3"))[0]["path"] == "/test_value"
    assert errors_of(lambda: suggest(df, "y", levels={"y": "fancy"}))[0]["path"] == "/levels/y"
    assert errors_of(lambda: suggest(df.drop(columns="id"), "y", within="g"))[0]["path"] == "/subject"
    inferred = suggest(df, "y", within="g")  # 'id' repeats and its name says identifier
    assert inferred["design"]["subject"] == "id" and top(inferred) == "paired_t"
    assert errors_of(lambda: suggest(df, None))[0]["path"] == "/outcome"
    assert errors_of(lambda: suggest(df, "id"))[0]["path"] == "/outcome"  # an identifier is not an outcome
    # one group left after dropping missing rows
    partly = df.assign(g=["a"] * 10 + [None] * 10, y2=[1.0] * 10 + list(range(10)))
    assert errors_of(lambda: suggest(partly, "y2", between="g"))[0]["path"] == "/between"
    # every subject has one row: nothing varies within subjects
    flat = pd.DataFrame({"y": r.normal(size=10), "t": ["a", "b"] * 5, "s": range(10)})
    assert errors_of(lambda: suggest(flat, "y", within="t", subject="s"))[0]["path"] == "/within"


def test_awkward_but_valid_inputs_give_warnings_not_errors():
    r = rng(33)
    df = pd.DataFrame({"y": r.normal(size=12), "g": ["a"] * 11 + ["b"]})
    res = suggest(df, "y", between="g")
    assert top(res) == "independent_t"
    assert warned(res, "small groups")
    tiny = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0]})
    assert top(suggest(tiny, "y", test_value=0)) == "one_sample_wilcoxon"  # whole numbers 1..4: an ordinal scale
    assert errors_of(lambda: suggest(pd.DataFrame({"y": [1.0, np.nan, np.nan]}), "y"))


def test_assistant_imports_no_server_code():
    code = ("import sys, cell_templates.assistant as a; "
            "bad = [m for m in ('tornado', 'jupyter_server', 'datadive_ext', 'pingouin', 'statsmodels') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------ the cells it inserts


def battery():
    """(frame, design) pairs whose suggestions cover every test of the vocabulary."""
    r = rng(40)
    n = 60
    x = r.normal(size=n)
    long2 = pd.DataFrame({"s": np.repeat(np.arange(20), 2), "t": np.tile(["pre", "post"], 20), "y": r.normal(size=40)})
    bin3 = pd.DataFrame({"s": np.repeat(np.arange(30), 3), "t": np.tile(list("abc"), 30), "y": r.integers(0, 2, 90),
                         "g": np.repeat(np.where(np.arange(30) < 15, "p", "q"), 3)})
    mixed = pd.DataFrame({"s": np.repeat(np.arange(10), 6) // 2, "t": np.tile(list("abc"), 20), "g": np.repeat(list("pq"), 30),
                          "y": r.normal(size=60)})
    mixed["s"] = np.repeat(np.arange(20), 3)
    strat = pd.DataFrame({"y": r.choice(list("ab"), 300), "g": r.choice(list("cd"), 300), "s": r.choice(list("efg"), 300)})
    outliers = pd.DataFrame({"x": x, "y": 0.5 * x + r.normal(size=n)})
    outliers.loc[:2, ["x", "y"]] = [[8, -9], [9, -8], [-9, 9]]
    ordinal_pair = pd.DataFrame({"a": r.integers(1, 6, n)})
    ordinal_pair["b"] = np.clip(ordinal_pair["a"] + r.integers(-1, 2, n), 1, 5)
    mu = np.exp(0.5 + 0.4 * x)
    clustered = pd.DataFrame({"subject": np.repeat(np.arange(12), 5), "x": x, "y": x + r.normal(size=n),
                              "event": np.where(r.random(n) < 0.4, "yes", "no")})
    yield pd.DataFrame({"y": r.normal(10, 1, 40)}), dict(outcome="y", test_value=10.2)
    yield pd.DataFrame({"answer": r.choice(["yes", "no"], 40)}), dict(outcome="answer", test_value=0.4)
    yield pd.DataFrame({"c": r.choice(list("abc"), 60)}), dict(outcome="c", expected={"a": 0.2, "b": 0.3, "c": 0.5})
    yield two_groups(r.normal(0, 1, 30), r.normal(1, 1, 30)), dict(outcome="y", between="g")
    yield two_groups(r.exponential(1, 40), 3 + r.exponential(6, 40)), dict(outcome="y", between="g")
    yield k_groups([r.normal(m, 1, 30) for m in (0, 1, 2)]), dict(outcome="y", between="g")
    yield k_groups([r.normal(0, s, 30) for s in (1, 4, 8)]), dict(outcome="y", between="g")
    yield pd.DataFrame({c: r.normal(size=30) for c in "abc"}), dict(outcome=["a", "b", "c"])
    yield pd.DataFrame({"a": r.random(40) < .5, "b": r.random(40) < .5}), dict(outcome=["a", "b"])
    yield pd.DataFrame({c: r.choice(["yes", "no"], 40) for c in "abc"}), dict(outcome=["a", "b", "c"])
    yield bin3, dict(outcome="y", within="t", subject="s")
    yield bin3, dict(outcome="y", within="t", between="g", subject="s")
    yield long2, dict(outcome="y", within="t", subject="s")
    yield mixed, dict(outcome="y", within="t", between="g", subject="s")
    yield pd.DataFrame({"y": r.normal(size=60), "a": r.choice(list("pq"), 60), "b": r.choice(list("rs"), 60)}), dict(outcome="y", between=["a", "b"])
    yield pd.DataFrame({"y": r.normal(size=60), "g": r.choice([1, 2, 3], 60), "x": r.normal(size=60)}), dict(outcome="y", between="g", covariates=["x"])
    yield pd.DataFrame({"x": r.choice(list("pq"), 90), "y": r.choice(list("rst"), 90)}), dict(outcome="x", between="y")
    yield pd.DataFrame({"x": ["p", "p", "q", "q"], "y": ["r", "s", "r", "s"], "n": [3, 1, 1, 4]}), dict(outcome="x", between="y", weights="n")
    yield strat, dict(outcome="y", between="g", strata="s")
    yield strat.value_counts().rename("n").reset_index(), dict(outcome="y", between="g", strata="s", weights="n")
    yield pd.DataFrame({"x": x, "y": 0.6 * x + r.normal(size=n)}), dict(outcome="y", predictors=["x"])
    yield outliers, dict(outcome="y", predictors=["x"])
    yield ordinal_pair, dict(outcome="a", predictors=["b"])
    yield pd.DataFrame({"x": x, "z": r.normal(size=n), "y": x + r.normal(size=n)}), dict(outcome="y", predictors=["x", "z"])
    yield pd.DataFrame({"x": x, "cp": r.choice([0, 1, 2, 3], n), "died": np.where(r.random(n) < .5, "died", "alive")}), \
        dict(outcome="died", predictors=["x", "cp"], levels={"cp": "nominal"})
    yield pd.DataFrame({"x": x, "z": r.normal(size=n), "grade": r.choice(["low", "medium", "high"], n)}), \
        dict(outcome="grade", predictors=["x", "z"], goal="prediction")
    yield pd.DataFrame({"x": x, "y": r.integers(1, 5, n)}), dict(outcome="y", predictors=["x"], goal="prediction")
    yield pd.DataFrame({"x": x, "visits": r.poisson(mu)}), dict(outcome="visits", predictors=["x"], goal="prediction")
    yield pd.DataFrame({"x": x, "visits": r.negative_binomial(1.0, 1 / (1 + mu))}), dict(outcome="visits", predictors=["x"], goal="prediction")
    yield pd.DataFrame({"answer": ["yes", "no"], "n": [52, 28]}), dict(outcome="answer", weights="n", test_value=0.5)
    yield pd.DataFrame({"y": ["a", "b"] * 4, "g": ["p", "p", "q", "q"] * 2, "h": ["r"] * 4 + ["s"] * 4, "n": [5, 3, 2, 6, 4, 4, 3, 5]}), \
        dict(outcome="y", predictors=["g", "h"], weights="n")
    yield clustered, dict(outcome="y", predictors=["x"], subject="subject")
    yield clustered, dict(outcome="event", predictors=["x"], subject="subject")


def all_suggestions():
    for df, design in list(designs()) + list(battery()):
        for s in suggest(df, **design)["suggestions"]:
            yield s


def test_the_battery_covers_the_whole_vocabulary():
    seen = {s["test"] for s in all_suggestions()}
    assert seen == set(VOCABULARY), sorted(set(VOCABULARY) - seen)


def test_every_suggestion_inserts_a_runnable_cell_from_a_builtin_template():
    """Each suggestion's template exists in the built-in library and accepts its inputs."""
    library = builtin_templates()
    problems = []
    for s in all_suggestions():
        template = library.get(s["template"])
        if template is None:
            problems.append(f"{s['template']}: not in the built-in library (cell_templates/library/{s['template']}.json)")
            continue
        try:
            template.validate_inputs(s["inputs"])
        except DatadiveError as exc:
            problems.append(f"{s['template']} {s['inputs']}: {exc.errors}")
    assert not problems, "\n".join(sorted(set(problems)))


def run_cells(suggestion, df):
    """Render the suggestion's cells and run them on ``df`` as a kernel would (plots on the Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace = {"df": df.copy()}
    try:
        for cell in builtin_templates()[suggestion["template"]].render(suggestion["inputs"]):
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), suggestion["template"], "exec"), namespace)
    finally:
        plt.close("all")
    return namespace


def test_every_suggested_cell_runs_on_its_data():
    """Not only valid inputs: the inserted cells run on the data the suggestion was made for."""
    import pingouin  # noqa: F401  (in the test extra: missing is a failure)
    import statsmodels  # noqa: F401  (in the test extra: missing is a failure)
    failures = []
    for df, design in list(designs()) + list(battery()):
        for s in suggest(df, **design)["suggestions"]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with contextlib.redirect_stdout(io.StringIO()):
                        run_cells(s, df)
            except Exception as exc:  # report every failing cell, not only the first
                failures.append(f"{s['template']} {s['inputs']} ({design}): {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


def _gap_mcnemar_long():
    df = pd.DataFrame({"s": np.repeat(np.arange(30), 2), "t": np.tile(["pre", "post"], 30), "y": rng(41).integers(0, 2, 60)})
    return df, suggest(df, "y", within="t", subject="s")


def _gap_rm_two_within():
    r = rng(42)
    df = pd.DataFrame([{"s": s, "a": a, "b": b, "y": r.normal()} for s in range(12) for a in ("x", "y") for b in ("p", "q", "r")])
    return df, suggest(df, "y", within=["a", "b"], subject="s")


def _gap_mixed_wide():
    r = rng(43)
    df = pd.DataFrame({"t1": r.normal(size=20), "t2": r.normal(size=20), "t3": r.normal(size=20), "g": np.repeat(["a", "b"], 10)})
    return df, suggest(df, ["t1", "t2", "t3"], between="g")


def _gap_text_ordinal_rank_test():
    df = pd.DataFrame({"answer": rng(44).choice(["Disagree", "Neutral", "Agree"], 40), "g": np.repeat(["a", "b"], 20)})
    return df, suggest(df, "answer", between="g")


@pytest.mark.parametrize("make", [_gap_mcnemar_long, _gap_rm_two_within, _gap_mixed_wide,
                                  _gap_text_ordinal_rank_test],
                         ids=["mcnemar-long", "rm-two-within", "mixed-wide", "text-ordinal"])
def test_layouts_the_templates_must_still_accept(make):
    df, result = make()
    top_suggestion = result["suggestions"][0]
    builtin_templates()[top_suggestion["template"]].validate_inputs(top_suggestion["inputs"])
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        run_cells(top_suggestion, df)


def test_messy_frames_give_a_result_or_an_assistant_error_never_another_exception():
    r = rng(50)
    n = 40
    messy = pd.DataFrame({
        "num": np.where(r.random(n) < 0.1, np.nan, r.normal(size=n)),
        "inf": np.r_[np.inf, -np.inf, r.normal(size=n - 2)],
        "int": r.integers(0, 4, n),
        "mixed": pd.Series([1, "a", 2.5, None] * 10, dtype=object),
        "text": [f"free text number {i} here" for i in range(n)],
        "when": pd.date_range("2024-01-01", periods=n),
        "delta": pd.to_timedelta(r.integers(0, 5, n), unit="D"),
        "cat": pd.Categorical(r.choice(["x", "y", "z"], n)),
        "bool": r.random(n) < 0.5,
        "nbool": pd.array(np.where(r.random(n) < 0.2, None, r.random(n) < 0.5), dtype="boolean"),
        "const": 1.0,
        "none": None,
        "id": np.arange(n),
        7: r.normal(size=n),
    })
    cols = list(messy.columns)
    outcomes = 0
    for y in cols:
        for design in ({}, {"between": "cat"}, {"predictors": ["num"]}, {"predictors": ["bool", "int"]}, {"within": "cat", "subject": "id"},
                       {"outcome": ["num", 7]}):
            design = dict(design)
            outcome = design.pop("outcome", y)
            if y in design.values() or any(y in v for v in design.values() if isinstance(v, list)):
                continue
            try:
                res = suggest(messy, outcome, **design)
            except AssistantError as exc:
                assert exc.errors and all(e["path"] == "" or e["path"].startswith("/") for e in exc.errors)
                continue
            json.dumps(res, allow_nan=False)
            assert res["suggestions"][0]["test"] in VOCABULARY
            outcomes += 1
    assert outcomes > 10


def test_simpson_reversal_with_a_numeric_outcome():
    # Within each clinic the treated recover more; the treated are mostly in the clinic with sicker patients.
    r = rng(51)
    rows = []
    for clinic, base, n_t, n_c in (("mild", 20.0, 10, 40), ("severe", 5.0, 40, 10)):
        rows += [{"clinic": clinic, "arm": "treated", "score": base + 2 + r.normal(0, 1)} for _ in range(n_t)]
        rows += [{"clinic": clinic, "arm": "control", "score": base + r.normal(0, 1)} for _ in range(n_c)]
    res = suggest(pd.DataFrame(rows), "score", between="arm", strata="clinic")
    assert top(res) == "factorial_anova" and res["design"]["between"] == ["arm", "clinic"]
    assert warned(res, "Simpson-type reversal")
    assert any("strata 'clinic'" in a for a in res["design"]["assumed"])
