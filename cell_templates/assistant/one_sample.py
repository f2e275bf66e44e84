"""One numeric or ordinal sample compared with a value: one-sample t, Wilcoxon signed-rank, sign test."""

from __future__ import annotations

import numpy as np

from . import checks as ck
from .build import PRETEST, _alt, _effect, _suggestion
from .common import plain
from .data import fail
from .design import Design
from .finding import NO_NOTES, Finding, Sampler, cell_inputs, found


def one_sample(d: Design, oc: str) -> Finding:
    data, col = d.data, d.outcome
    sampler = Sampler()
    notes, facts = NO_NOTES, {"layout": "one_sample"}
    y = data.numeric(col)
    n = y.size
    mu = d.roles.test_value
    if mu is None:
        if oc == "ordinal":
            mu = float((np.min(y) + np.max(y)) / 2)
            notes = notes.assume(f"no test_value: compared with the middle of the observed scale, {plain(mu)}")
        else:
            mu = 0.0
            notes = notes.assume("no test_value: compared with 0")
        facts["test_value"] = plain(mu)
    inputs = cell_inputs(outcome=col, test_value=mu)
    diff = y - mu
    xs = sampler.sample(y)
    sw = ck.shapiro(xs, repr(col), n)
    verdict = ck.normality_verdict([sw], [n])
    skew, _ = ck.skew_kurt(xs)
    sd = float(np.std(y, ddof=1)) if n > 1 else float("nan")
    eff_d = _effect("Cohen's d", (float(np.mean(y)) - mu) / sd if sd > 0 else None)
    ds = sampler.sample(diff)
    nz = ds[ds != 0]
    eff_r = None
    if nz.size:
        from scipy.stats import rankdata

        r = rankdata(np.abs(nz))
        eff_r = _effect("matched-pairs rank-biserial r", (r[nz > 0].sum() - r[nz < 0].sum()) / r.sum())
    above = float(np.mean(y > mu)) if n else None
    eff_sign = _effect(f"proportion above {plain(mu)}", above)
    warn = [f"small sample (n = {n}): the test has little power"] if n < 10 else []
    if np.all(diff == 0):
        fail("/test_value", f"every value equals the test value {plain(mu)}")

    def finding(*suggestions):
        return found(suggestions, notes, sampler, **facts)

    if oc == "ordinal":
        top = _suggestion(
            "one_sample_wilcoxon",
            f"{col!r} is ordinal ({data.entry(col)['reason']}), so a rank-based test compares it with {plain(mu)} "
            "whatever normality says; the Wilcoxon signed-rank test uses the ranks of the distances to the test value.",
            inputs, [sw], warn, eff_r)
        return finding(top,
                       _alt("sign_test", "uses only whether each value is above or below the test value: fewer assumptions "
                            "(no symmetry), less power.", inputs, effect=eff_sign),
                       _alt("one_sample_t", "treats the ratings as interval numbers with equal spacing.", inputs, effect=eff_d))
    base = f"{col!r} is {data.level(col)} (n = {n}); one sample compared with the value {plain(mu)}. "
    if verdict in ("normal", "mild"):
        why = ("Shapiro-Wilk finds no departure from normality" if verdict == "normal" else
               f"Shapiro-Wilk rejects normality, but n = {n} >= 30 and the departure is mild (skew {skew:.2f}), so the t-test stays valid")
        top = _suggestion("one_sample_t", base + why + ", so the one-sample t-test fits. " + PRETEST, inputs, [sw], warn, eff_d)
        return finding(top,
                       _alt("one_sample_wilcoxon", "does not need normality but has less power when the data are normal.", inputs, effect=eff_r),
                       _alt("sign_test", "uses only the signs: the least power.", inputs, effect=eff_sign))
    if abs(skew) >= 1:
        top = _suggestion("sign_test", base + f"Shapiro-Wilk rejects normality and the distribution is skewed (skew {skew:.2f}); "
                          "the Wilcoxon signed-rank test assumes a symmetric distribution, so the sign test on the median fits. " + PRETEST,
                          inputs, [sw], warn, eff_sign)
        return finding(top,
                       _alt("one_sample_wilcoxon", f"assumes symmetry around the median, doubtful with skew {skew:.2f}.", inputs, effect=eff_r),
                       _alt("one_sample_t", "assumes normality (rejected)" +
                            (", though with n >= 30 the mean's distribution may be close to normal." if n >= 30 else "."),
                            inputs, effect=eff_d))
    top = _suggestion("one_sample_wilcoxon", base + f"Shapiro-Wilk rejects normality but the distribution is roughly symmetric "
                      f"(skew {skew:.2f}), so the Wilcoxon signed-rank test fits. " + PRETEST, inputs, [sw], warn, eff_r)
    return finding(top,
                   _alt("sign_test", "fewer assumptions (no symmetry) but less power.", inputs, effect=eff_sign),
                   _alt("one_sample_t", "assumes normality, which Shapiro-Wilk rejects.", inputs, effect=eff_d))
