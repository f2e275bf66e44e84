"""Association between two numeric or ordinal variables: Pearson, Spearman, Kendall, robust correlation."""

from __future__ import annotations

import numpy as np

from . import checks as ck
from .build import PRETEST, _alt, _effect, _suggestion
from .common import SAMPLE_ROWS
from .design import Design, outcome_class
from .common import plain
from .finding import Finding, Sampler, cell_inputs, found


def correlation(d: Design, xcol) -> Finding:
    data, outcome = d.data, d.outcome
    sampler = Sampler()
    y = data.numeric(outcome)
    x = data.numeric(xcol)
    n = y.size
    inputs = cell_inputs(x=xcol, y=outcome)
    ex, ey = data.entry(xcol), data.entry(outcome)
    idx = sampler.rows(n, SAMPLE_ROWS)
    xs, ys = (x, y) if idx is None else (x[idx], y[idx])
    warn = [f"small sample (n = {n}): a correlation estimated this way is imprecise"] if n < 20 else []
    from scipy import stats

    def eff(kind):
        try:
            if kind == "pearson":
                return _effect("Pearson r", np.corrcoef(x, y)[0, 1])
            if kind == "spearman":
                return _effect("Spearman rho", stats.spearmanr(xs, ys)[0])
            return _effect("Kendall tau-b", stats.kendalltau(xs, ys)[0])
        except Exception:
            return None

    def finding(*suggestions):
        return found(suggestions, sampler=sampler, layout="correlation")

    ordinal = [c for c, e in ((xcol, ex), (outcome, ey)) if outcome_class(data, c) == "ordinal" or e["level"] == "ordinal"]
    if ordinal:
        ties = min(ex["distinct"], ey["distinct"]) <= 7
        first = "kendall" if ties else "spearman"
        second = "spearman" if ties else "kendall"
        why = (f"{', '.join(map(repr, ordinal))} {'is' if len(ordinal) == 1 else 'are'} ordinal, so a rank correlation fits. "
               + ("With few distinct values (many ties) Kendall's tau-b handles ties best." if ties else
                  "Spearman's rho is the usual rank correlation."))
        top = _suggestion(first, why, inputs, [], warn, eff(first))
        return finding(top,
                       _alt(second, "also a rank correlation; " + ("Spearman is less suited to many ties." if ties else
                                                                   "Kendall's tau is on a different scale and slower with many rows."),
                            inputs, effect=eff(second)),
                       _alt("pearson", "assumes interval data and a linear, bivariate-normal relation.", inputs, effect=eff("pearson")))
    swx = ck.shapiro(sampler.sample(x), repr(xcol), n)
    swy = ck.shapiro(sampler.sample(y), repr(outcome), n)
    verdict = ck.normality_verdict([swx, swy], [n, n])
    n_out = ck.outliers_bivariate(xs, ys)
    out_rec = ck.record("no bivariate outliers", n_out, None, n_out == 0,
                        f"{n_out} point(s) with squared Mahalanobis distance above {ck.outlier_cutoff(xs.size):.1f} "
                        "(unlikely even once among this many bivariate-normal points)" + (" (on a sample)" if idx is not None else ""))
    rob_rec, flagged = robust_check(d, np.column_stack([x, y]), sampler)
    checks = [swx, swy, out_rec, rob_rec]
    if flagged is not None and flagged.any():
        return masked(d, xcol, x, y, flagged, checks, warn, eff, finding, n_out)
    if verdict != "non-normal" and n_out == 0:
        why = ("Both variables look normal" if verdict == "normal" else
               "Shapiro-Wilk rejects normality, but n >= 30 and the departures are mild") + " and there are no outliers, so Pearson's r fits. "
        top = _suggestion("pearson", f"{outcome!r} and {xcol!r} are both numeric. " + why + PRETEST, inputs, checks, warn, eff("pearson"))
        return finding(top,
                       _alt("spearman", "rank-based: robust to non-normality and outliers but measures monotone, not linear, association.",
                            inputs, effect=eff("spearman")),
                       _alt("linear_regression", "answers prediction (the slope) rather than association.",
                            cell_inputs(outcome=outcome, predictors=[xcol])))
    reasons = []
    if verdict == "non-normal":
        reasons.append("normality is rejected (" + ", ".join(r["name"][len("normality ("):-1] for r in (swx, swy) if r["passed"] is False) + ")")
    if n_out:
        reasons.append(f"{n_out} bivariate outlier(s)")
    top = _suggestion("spearman", f"{outcome!r} and {xcol!r} are both numeric but {' and '.join(reasons)}, so the rank-based Spearman "
                      "correlation fits. " + PRETEST, inputs, checks, warn, eff("spearman"))
    alts = []
    if n_out:
        alts.append(_alt("robust_correlation", "keeps Pearson's linear meaning while down-weighting the outliers; less standard.",
                         inputs))
    alts.append(_alt("kendall", "rank-based too; better with small samples or many ties.", inputs, effect=eff("kendall")))
    alts.append(_alt("pearson", "assumes bivariate normality without outliers.", inputs, effect=eff("pearson")))
    return finding(top, *alts)


#: The skipped correlation (pingouin) holds an n x n matrix: above this many rows the cell would need gigabytes.
SKIPPED_MAX_ROWS = 5000


def robust_check(d: Design, xy: np.ndarray, sampler: Sampler):
    """The MCD outlier check over every complete row: (assumption record, flagged mask or None)."""
    name = "no bivariate outliers (robust MCD)"
    try:
        flagged, dist, cutoff, n_fit = ck.outliers_robust(xy, sampler.gen)
    except ImportError:
        return ck.record(name, passed=None, detail="could not run: scikit-learn (MinCovDet) is not installed"), None
    except Exception as exc:  # a check must never break the suggestion
        return ck.record(name, passed=None, detail=f"could not run: {exc}"), None
    if n_fit < xy.shape[0]:
        sampler.sampled = True  # the fit ran on a seeded sample (every row is measured)
    k = int(flagged.sum())
    fit = f"fitted on a seeded sample of {n_fit} of {xy.shape[0]} rows" if n_fit < xy.shape[0] else f"fitted on all {n_fit} rows"
    detail = (f"{k} point(s) with squared robust distance above {cutoff:.1f}: minimum covariance determinant "
              f"(scikit-learn MinCovDet, random_state {ck.MCD_RANDOM_STATE}, reweighted, with consistency and small-sample "
              f"factors; {fit}); a cluster of outliers cannot hide itself from it as it can from the classical check")
    if k:
        detail += f"; rows {ck.labels_text(flagged_labels(d, flagged))}"
    rec = ck.record(name, k, None, k == 0, detail)
    return rec, flagged


def flagged_labels(d: Design, flagged: np.ndarray) -> list:
    """The frame's index labels of the flagged rows (rows are the complete rows of the design, in order)."""
    data = d.data
    index = data.df.index
    if data.mask is not None and not data.mask.all():
        index = index[data.mask]
    return [plain(v) for v in index[np.flatnonzero(flagged)]]


def masked(d: Design, xcol, x, y, flagged, checks, warn, eff, finding, n_out) -> Finding:
    """The robust check flags points: the skipped correlation (pingouin method "skipped") ranks first."""
    from scipy import stats

    outcome = d.outcome
    n, k = x.size, int(flagged.sum())
    labels = ck.labels_text(flagged_labels(d, flagged))
    keep = ~flagged
    r_all = float(np.corrcoef(x, y)[0, 1])
    try:
        rho_kept = float(stats.spearmanr(x[keep], y[keep])[0]) if keep.sum() >= 3 else float("nan")
        r_kept = float(np.corrcoef(x[keep], y[keep])[0, 1]) if keep.sum() >= 3 else float("nan")
    except Exception:
        rho_kept = r_kept = float("nan")
    hidden = "" if n_out else " The classical Mahalanobis check misses them: together they inflate the covariance that judges them (masking)."
    change = (f" Without them Pearson's r goes from {r_all:.3f} to {r_kept:.3f} (Spearman's rho {rho_kept:.3f})."
              if np.isfinite(r_kept) else "")
    warning = (f"{k} bivariate outlier(s) found by the robust (MCD) check, rows {labels}: check them "
               f"(data errors? another population?) before reporting any correlation.{hidden}{change}")
    inputs = cell_inputs(x=xcol, y=outcome)
    skipped_inputs = {**inputs, "method": "skipped"}
    alts_common = [
        _alt("spearman", "rank-based, so it resists univariate extremes, but a cluster of bivariate outliers still pulls it.",
             inputs, effect=eff("spearman")),
        _alt("kendall", "rank-based too; the flagged points still count.", inputs, effect=eff("kendall")),
        _alt("pearson", f"the {k} flagged point(s) can drive Pearson's r.", inputs, effect=eff("pearson")),
    ]
    effect = _effect(f"skipped correlation: Spearman rho without the {k} flagged point(s)", rho_kept)
    if n > SKIPPED_MAX_ROWS:
        top = _suggestion("spearman", f"{outcome!r} and {xcol!r} are both numeric, but the robust (MCD) check flags {k} bivariate "
                          f"outlier(s). The skipped correlation would fit, but pingouin computes it with an n x n matrix "
                          f"(n = {n}), so the rank-based Spearman correlation comes first; remove or inspect the flagged rows "
                          "and run the skipped correlation on the rest. " + PRETEST, inputs, checks, warn + [warning], eff("spearman"))
        return finding(top, _alt("robust_correlation", f"the skipped correlation needs an n x n matrix (n = {n}).",
                                 skipped_inputs, effect=effect), *alts_common[1:])
    why = (f"{outcome!r} and {xcol!r} are both numeric, but the robust (minimum covariance determinant) check flags {k} "
           "bivariate outlier(s), so the skipped correlation fits: it removes the points that the MCD and a projection rule "
           "flag and computes Spearman's rho on the rest (pingouin method 'skipped', Rousselet and Pernet 2012). " + PRETEST)
    top = _suggestion("robust_correlation", why, skipped_inputs, checks, warn + [warning], effect,
                      title="Robust correlation (skipped)")
    return finding(top, *alts_common)
