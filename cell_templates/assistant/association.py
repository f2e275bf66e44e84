"""Association between two numeric or ordinal variables: Pearson, Spearman, Kendall, robust correlation."""

from __future__ import annotations

import numpy as np

from . import checks as ck
from .build import PRETEST, _alt, _effect, _suggestion
from .common import SAMPLE_ROWS
from .design import Design, outcome_class
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
    checks = [swx, swy, out_rec]
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
