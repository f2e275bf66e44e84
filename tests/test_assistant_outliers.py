"""Masked bivariate outliers (issue 14 item 3): the robust (MCD) check next to the classical one.

Data: the 50 Iris setosa flowers of scikit-learn's bundled iris data (Fisher 1936;
Anderson's measurements), sepal length against sepal width, a textbook bivariate-normal
pair (Pearson r about 0.74). ``masked_iris`` plants four flowers that cannot exist in
that species, a tight cluster of long, narrow sepals against the trend (index labels
900-903, at sepal length 6.10-6.25 cm and width 2.10-2.25 cm, about 3.5 SD from the
means in opposite directions). Four nearly identical points among 54 can never be
flagged by the classical check: a point of a cluster of k identical points among n has
a squared Mahalanobis distance of at most (n - 1)(n - k) / (n k) = 12.3 here, below its
cutoff 2 ln(20 n) = 14.0, since the cluster inflates the covariance that judges it
(masking). The minimum covariance determinant, fitted on the most concentrated half,
is not inflated by them.

Expected values are computed here independently: the skipped correlation by its
definition (Rousselet and Pernet 2012, pingouin's documentation and Wilcox 2004): the
MCD location (scikit-learn ``MinCovDet``, random_state 42 as pingouin uses), every
point projected on the line from the location through each point, a point removed when
a projection exceeds median + sqrt(chi2(2).ppf(.975)) x the ideal-fourths IQR of those
projections; Spearman's rho (scipy) on the rest.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import datasets as skd
from sklearn.covariance import MinCovDet

from cell_templates import builtin_templates
from cell_templates.assistant import checks as ck
from cell_templates.assistant import suggest

PLANTED = pd.DataFrame({"sepal_length": [6.10, 6.20, 6.15, 6.25], "sepal_width": [2.20, 2.10, 2.25, 2.15]},
                       index=[900, 901, 902, 903])


def setosa() -> pd.DataFrame:
    frame = skd.load_iris(as_frame=True).frame.iloc[:50, :2]
    return frame.set_axis(["sepal_length", "sepal_width"], axis=1)


def masked_iris() -> pd.DataFrame:
    return pd.concat([setosa(), PLANTED])


def check(suggestion, name):
    return next(a for a in suggestion["assumptions"] if a["name"] == name)


def ideal_fourths_iqr(values: np.ndarray) -> float:
    """Wilcox's ideal fourths (interquartile range), written out."""
    n = len(values)
    j = int(np.floor(n / 4 + 5 / 12))
    v = np.sort(values)
    g = n / 4 - j + 5 / 12
    low = (1 - g) * v[j - 1] + g * v[j]
    k = n - j + 1
    up = (1 - g) * v[k - 1] + g * v[k - 2]
    return up - low


def skipped_by_definition(x: np.ndarray, y: np.ndarray):
    """(rho, p, removed mask) of the skipped correlation, from its definition (module docstring)."""
    xy = np.column_stack([x, y])
    centre = MinCovDet(random_state=42).fit(xy).location_
    b = xy - centre
    removed = np.zeros(len(xy), dtype=bool)
    for i in range(len(xy)):
        norm = np.sqrt(b[i] @ b[i])
        if norm == 0:
            continue
        proj = np.abs(b @ b[i]) / norm  # length of every point's projection on the line through point i
        removed |= proj > np.median(proj) + np.sqrt(stats.chi2.ppf(0.975, 2)) * ideal_fourths_iqr(proj)
    rho, p = stats.spearmanr(x[~removed], y[~removed])
    return rho, p, removed


def classical_distances(xy: np.ndarray) -> np.ndarray:
    d = xy - xy.mean(axis=0)
    return np.einsum("ij,jk,ik->i", d, np.linalg.inv(np.cov(xy, rowvar=False)), d)


# ---------------------------------------------------------------- the checks and the ranking


def test_planted_cluster_is_masked_for_the_classical_check_but_not_for_mcd():
    df = masked_iris()
    xy = df.to_numpy()
    n = len(xy)
    # the classical check: every planted point stays under its cutoff (the bound of the module docstring)
    assert classical_distances(xy).max() < 2 * np.log(20 * n)
    assert (n - 1) * (n - 4) / (n * 4) < 2 * np.log(20 * n)
    # an MCD written here (scikit-learn, raw distances to its reweighted fit) sees them far away
    mcd = MinCovDet(random_state=0).fit(xy)
    d = mcd.mahalanobis(xy)
    assert set(df.index[np.argsort(d)[-4:]]) == set(PLANTED.index)
    assert d[-4:].min() > 5 * stats.chi2.isf(0.05 / n, 2)


def test_masked_outliers_rank_the_skipped_correlation_first():
    df = masked_iris()
    result = suggest(df, "sepal_width", predictors=["sepal_length"])
    top = result["suggestions"][0]
    assert top["test"] == "robust_correlation" and top["template"] == "stat-robust-correlation"
    assert top["inputs"] == {"df": "df", "x": "sepal_length", "y": "sepal_width", "method": "skipped"}
    classical = check(top, "no bivariate outliers")
    robust = check(top, "no bivariate outliers (robust MCD)")
    assert classical["passed"] is True and classical["statistic"] == 0
    assert robust["passed"] is False and robust["statistic"] == 4
    assert "900, 901, 902, 903" in robust["detail"]
    warning = next(w for w in top["warnings"] if "robust (MCD) check" in w)
    assert "rows 900, 901, 902, 903" in warning and "masking" in warning
    # Pearson with and without the planted rows, computed here
    r_all = np.corrcoef(df["sepal_length"], df["sepal_width"])[0, 1]
    r_clean = np.corrcoef(setosa()["sepal_length"], setosa()["sepal_width"])[0, 1]
    assert f"{r_all:.3f} to {r_clean:.3f}" in warning
    assert abs(r_all) < 0.1 and r_clean > 0.7  # the four points wipe out the correlation
    rho_clean = stats.spearmanr(setosa()["sepal_length"], setosa()["sepal_width"])[0]
    assert top["effect_size"]["value"] == pytest.approx(rho_clean, abs=1e-4)
    ranked = [s["test"] for s in result["suggestions"]]
    assert ranked[0] == "robust_correlation" and {"spearman", "pearson"} <= set(ranked[1:])
    # deterministic: the same data, the same answer
    assert suggest(df, "sepal_width", predictors=["sepal_length"]) == result
    # the suggested inputs are valid for the template, and the template's default stays percbend
    template = builtin_templates()["stat-robust-correlation"]
    template.validate_inputs(top["inputs"])
    assert template.to_dict()["inputs"]["properties"]["method"]["default"] == "percbend"


def test_flagged_rows_are_named_by_label_and_capped():
    # 12 planted points, string labels: ten shown, then "and 2 more"
    base = setosa()
    rows = pd.DataFrame({"sepal_length": 6.1 + 0.01 * np.arange(12), "sepal_width": 2.2 - 0.01 * np.arange(12)},
                        index=[f"bad{i}" for i in range(12)])
    df = pd.concat([base, base.set_axis(base.index + 100), rows])  # n = 112: the cluster is 11%
    top = suggest(df, "sepal_width", predictors=["sepal_length"])["suggestions"][0]
    assert top["test"] == "robust_correlation"
    warning = next(w for w in top["warnings"] if "robust (MCD) check" in w)
    assert "'bad0', 'bad1'" in warning and "'bad9' and 2 more" in warning and "'bad10'" not in warning
    assert ck.labels_text(list(range(3))) == "0, 1, 2"


def test_clean_data_keeps_pearson_first():
    df = setosa()
    result = suggest(df, "sepal_width", predictors=["sepal_length"])
    top = result["suggestions"][0]
    assert top["test"] == "pearson"
    assert check(top, "no bivariate outliers")["passed"] is True
    robust = check(top, "no bivariate outliers (robust MCD)")
    assert robust["passed"] is True and robust["statistic"] == 0
    assert "robust_correlation" not in [s["test"] for s in result["suggestions"]]
    assert top["effect_size"]["value"] == pytest.approx(np.corrcoef(df["sepal_length"], df["sepal_width"])[0, 1], abs=1e-4)


def test_robust_check_false_alarms_are_rare_on_bivariate_normal_data():
    """Simulated clean data (seeded): the robust check flags something in few data sets (the classical
    one in fewer); with n = 2000 the MCD is fitted on a seeded sample of 500 rows."""
    for n, reps, limit in ((20, 200, 0.12), (60, 200, 0.09), (2000, 40, 0.125)):
        alarms = 0
        for seed in range(reps):
            r = np.random.default_rng(seed)
            xy = r.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], n)
            flagged, _, _, n_fit = ck.outliers_robust(xy, np.random.default_rng(seed))
            assert n_fit == min(n, ck.MCD_FIT_ROWS)
            alarms += bool(flagged.any())
        assert alarms / reps <= limit, (n, alarms / reps)


# ---------------------------------------------------------------- the inserted cell, in a fresh kernel


def test_suggested_cell_reproduces_the_skipped_correlation_in_a_fresh_kernel(tmp_path):
    from test_stats_templates import FreshKernel, Step  # the harness of the stats templates' kernel runs

    df = masked_iris()
    top = suggest(df, "sepal_width", predictors=["sepal_length"])["suggestions"][0]
    csv = tmp_path / "masked_iris.csv"
    df.to_csv(csv)
    cells = [c["source"] for c in builtin_templates()[top["template"]].render(top["inputs"]) if c["cell_type"] == "code"]
    steps = [Step("load", f"import pandas as pd\ndf = pd.read_csv({str(csv)!r}, index_col=0)")]
    steps += [Step(f"cell {k}", source) for k, source in enumerate(cells)]
    steps.append(Step("report", "import json\nprint(json.dumps({k: (v.item() if hasattr(v, 'item') else v) "
                                "for k, v in result.iloc[0].items()}))"))
    with FreshKernel("outliers", tmp_path) as kernel:
        printed = [kernel.execute(step) for step in steps]
    row = json.loads(printed[-1].strip().splitlines()[-1])
    rho, p, removed = skipped_by_definition(df["sepal_length"].to_numpy(), df["sepal_width"].to_numpy())
    assert row["method"] == "skipped"
    assert row["n"] == len(df) and row["outliers_removed"] == removed.sum()
    assert row["statistic"] == pytest.approx(rho, rel=1e-9) and row["p_val"] == pytest.approx(p, rel=1e-6)
    # the definition removes the four planted points (and may trim a setosa flower or two at the edge)
    assert set(df.index[removed]) >= set(PLANTED.index)
    assert row["statistic"] > 0.6 and abs(row["pearson_r"]) < 0.1


def test_large_frames_keep_spearman_first_but_name_the_rows():
    """Above 5,000 rows pingouin's skipped correlation would hold an n x n matrix: Spearman first, the rows named."""
    r = np.random.default_rng(7)
    n = 6000
    x = r.normal(0, 1, n)
    df = pd.DataFrame({"x": x, "y": 0.7 * x + r.normal(0, 0.7, n)})
    df.loc[[5, 50, 500, 5000], ["x", "y"]] = [[4.0, -4.0], [4.1, -4.1], [4.05, -3.95], [3.95, -4.05]]
    xy = df[["x", "y"]].to_numpy()
    assert classical_distances(xy)[[5, 50, 500, 5000]].min() > 2 * np.log(20 * n)  # not masked here: far apart from n
    result = suggest(df, "y", predictors=["x"])
    top = result["suggestions"][0]
    assert top["test"] == "spearman"
    robust = check(top, "no bivariate outliers (robust MCD)")
    assert robust["passed"] is False and "seeded sample of 500 of 6000" in robust["detail"]
    warning = next(w for w in top["warnings"] if "robust (MCD) check" in w)
    assert "5, 50, 500, 5000" in warning
    alt = next(s for s in result["suggestions"] if s["test"] == "robust_correlation")
    assert alt["inputs"]["method"] == "skipped"
    assert result["design"]["sampled"] is True
