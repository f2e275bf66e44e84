"""Categorical outcomes without a model: proportions, goodness of fit, contingency tables, strata."""

from __future__ import annotations

import math

import numpy as np

from . import checks as ck
from .build import _alt, _effect, _suggestion
from .common import plain
from .data import fail
from .design import Design, regression_inputs
from .finding import NO_NOTES, Finding, cell_inputs, found
from .models import logistic


def table(d: Design, row_col, col_col, extra=None):
    """Contingency table (rows: row_col levels, cols: col_col levels), counting weights when given."""
    data = d.data
    rc, rl = data.codes(row_col)
    cc, cl = data.codes(col_col)
    w = data.weights()
    key = rc * len(cl) + cc
    if extra is not None:
        sc, sl = data.codes(extra)
        key = sc * (len(rl) * len(cl)) + key
        t = np.bincount(key, weights=w, minlength=len(sl) * len(rl) * len(cl)).reshape(len(sl), len(rl), len(cl))
        return t, rl, cl, sl
    t = np.bincount(key, weights=w, minlength=len(rl) * len(cl)).reshape(len(rl), len(cl))
    return t, rl, cl


def proportions(d: Design, oc: str) -> Finding:
    """One categorical variable: a proportion against a value (binary), or counts against expected proportions."""
    data, outcome, weights = d.data, d.outcome, d.weights
    codes, labels = data.codes(outcome)
    w = data.weights()
    counts = np.bincount(codes, weights=w, minlength=len(labels))
    total = float(counts.sum())
    expected = d.roles.expected
    notes = NO_NOTES
    if oc == "binary" and not (expected is not None and len(expected) > 2):
        _, success, explicit, assumed = data.success(outcome)
        if assumed:
            notes = notes.assume(assumed)
        k_success = float(counts[labels.index(success)])
        p0 = d.roles.test_value
        if p0 is None and expected is not None:
            norm = sum(expected.values())
            match = {str(k): v / norm for k, v in expected.items()}
            if str(success) not in match:
                fail("/expected", f"the expected proportions must name the category {success!r}")
            p0 = match[str(success)]
        if p0 is None:
            p0 = 0.5
            notes = notes.assume("no test_value: the proportion is compared with 0.5")
        if not 0 < p0 < 1:
            fail("/test_value", f"a binary outcome needs a proportion strictly between 0 and 1, got {plain(p0)}")
        phat = k_success / total
        h = 2 * math.asin(math.sqrt(phat)) - 2 * math.asin(math.sqrt(p0))
        eff = _effect("Cohen's h", h)
        inputs = cell_inputs(outcome=outcome, test_value=p0, success=success if explicit else None, weights=weights)
        large = total * p0 >= 10 and total * (1 - p0) >= 10
        rec = ck.record("normal approximation (n p0 >= 10 and n (1 - p0) >= 10)", total * min(p0, 1 - p0), None, bool(large),
                        f"n = {int(total)}, p0 = {plain(p0)}: n p0 = {total * p0:.1f}, n (1 - p0) = {total * (1 - p0):.1f}")
        top = _suggestion("binomial_test", f"{outcome!r} is binary ({int(k_success)} of {int(total)} are {success!r}, "
                          f"{phat:.3f}); the exact binomial test compares this proportion with {plain(p0)} without any approximation.",
                          inputs, [], [], eff)
        return found([top,
                      _alt("one_proportion_z_test", "the normal approximation gives nearly the same p-value" +
                           (" here (large n)" if large else ", but n is too small for it here") + "; the exact test needs no condition.",
                           inputs, assumptions=[rec], effect=eff),
                      _alt("chi2_gof", "the same question as a goodness-of-fit test on two categories.",
                           cell_inputs(outcome=outcome, expected={str(success): p0, str(labels[1 - labels.index(success)]): 1 - p0},
                                       weights=weights))],
                     notes, layout="one_sample", test_value=plain(p0), success=plain(success))
    # several categories: goodness of fit
    if expected is None:
        exp = {str(lab): 1 / len(labels) for lab in labels}
        notes = notes.assume("no expected proportions: every category is equally likely")
        given = None
    else:
        names = {str(lab) for lab in labels}
        unknown = [k for k in expected if str(k) not in names]
        if unknown:
            fail(f"/expected/{unknown[0]}", f"{unknown[0]!r} is not a category of {outcome!r} (categories: {sorted(names)[:10]})")
        missing = [lab for lab in labels if str(lab) not in {str(k) for k in expected}]
        if missing:
            fail("/expected", f"the expected proportions leave out {missing[0]!r}")
        norm = float(sum(expected.values()))
        exp = {str(k): float(v) / norm for k, v in expected.items()}
        given = exp
    e_counts = np.array([exp[str(lab)] * total for lab in labels])
    low = float(np.mean(e_counts < 5))
    ok = bool(e_counts.min() >= 1 and low <= 0.2)
    rec = ck.record("expected counts (>= 1, at most 20% below 5)", float(e_counts.min()), None, ok,
                    f"smallest expected count {e_counts.min():.2f}, {low:.0%} below 5")
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.nansum((counts - e_counts) ** 2 / e_counts))
    eff = _effect("Cohen's w", math.sqrt(chi2 / total) if total else None)
    warn = [] if ok else ["expected counts too small for the chi-square approximation: merge rare categories or use an exact multinomial test"]
    inputs = cell_inputs(outcome=outcome, expected=given, weights=weights)
    top = _suggestion("chi2_gof", f"{outcome!r} is {data.level(outcome)} with {len(labels)} categories (N = {int(total)}): "
                      "the chi-square goodness-of-fit test compares the observed counts with the expected proportions.",
                      inputs, [rec], warn, eff, posthoc="standardized residuals per category")
    return found([top], notes, layout="one_sample")


def contingency(d: Design, factor) -> Finding:
    """Two categorical variables: chi-square test of independence, or Fisher's exact test when expected counts are small."""
    outcome, weights = d.outcome, d.weights
    t, rl, cl = table(d, outcome, factor)
    keep_r, keep_c = t.sum(axis=1) > 0, t.sum(axis=0) > 0
    t = t[keep_r][:, keep_c]
    r, c = t.shape
    if r < 2 or c < 2:
        fail(d.path(factor), f"the table of {outcome!r} by {factor!r} has a single row or column")
    facts = {"layout": "contingency",
             "table": {"rows": [plain(x) for x, k in zip(rl, keep_r) if k][:50], "columns": [plain(x) for x, k in zip(cl, keep_c) if k][:50],
                       "counts": t.astype(float).tolist() if r * c <= 400 else None}}
    rule = ck.expected_rule(t)
    inputs = cell_inputs(outcome=outcome, group=factor, weights=weights)
    v = _effect("Cramer's V", ck.cramers_v(t))
    eff = _effect("odds ratio", ck.odds_ratio(t)) if (r, c) == (2, 2) else v
    warn = []
    size = f"{r}x{c}"
    total = int(t.sum())
    base = (f"{outcome!r} and {factor!r} are categorical (a {size} table, N = {total}"
            f"{', counts from ' + repr(weights) if weights else ''}): a test of independence. ")
    posthoc = None if (r, c) == (2, 2) else "adjusted standardized residuals per cell (or pairwise 2x2 tests with Holm correction)"
    notes = NO_NOTES
    if d.goal == "prediction":
        notes = notes.warn("goal prediction with one categorical predictor: a logistic regression gives the same test as an odds ratio")
    ffh = "Fisher's exact test" if (r, c) == (2, 2) else "the Fisher-Freeman-Halton exact test (Fisher's test for an RxC table)"
    if rule["passed"]:
        text = base + f"Cochran's rule holds ({rule['detail'].split(': ', 1)[1]}), so the chi-square test fits" + \
            (" (the cell applies Yates' continuity correction to a 2x2 table)." if (r, c) == (2, 2) else ".")
        top = _suggestion("chi2_independence", text, inputs, [rule], warn, eff, posthoc=posthoc)
        return found([top, _alt("fisher_exact", f"{ffh} is exact but the chi-square approximation is adequate here; "
                                 "exact RxC tests get slow with large N.", inputs, effect=eff,
                                 title=None if (r, c) == (2, 2) else "Fisher-Freeman-Halton exact test")], notes, **facts)
    if total > 5000 and (r, c) != (2, 2):
        warn.append("a large RxC table: the exact test may be slow; a Monte Carlo p-value is an option")
    text = base + f"Cochran's rule fails ({rule['detail'].split(': ', 1)[1]}), so the chi-square approximation is unreliable and {ffh} fits."
    top = _suggestion("fisher_exact", text, inputs, [rule], warn, eff, posthoc=posthoc,
                      title=None if (r, c) == (2, 2) else "Fisher-Freeman-Halton exact test")
    return found([top, _alt("chi2_independence", "its p-value is unreliable with expected counts this small.", inputs,
                            assumptions=[rule], effect=eff)], notes, **facts)


def stratified(d: Design, factor) -> Finding:
    """Two binary variables within strata: Cochran-Mantel-Haenszel with the Breslow-Day check."""
    data, outcome, weights, strata = d.data, d.outcome, d.weights, d.strata
    t3 = table(d, outcome, factor, extra=strata)[0]
    inputs = cell_inputs(outcome=outcome, group=factor, strata=strata, weights=weights)
    if t3.shape[1] != 2 or t3.shape[2] != 2:
        if t3.shape[1] != 2:
            fail("/outcome", f"{outcome!r} has {t3.shape[1]} categories: a stratified analysis of a nominal outcome "
                 "(more than two categories) is not in the vocabulary; recode it as binary (one category against the rest)")
        notes = NO_NOTES.warn("Cochran-Mantel-Haenszel needs 2x2 tables per stratum: the outcome or the group has more than two "
                              "levels; a logistic regression with the strata as a factor is used instead")
        return logistic(d, [factor, strata]).after(notes, layout="stratified")
    # tables as group x outcome for odds ratios
    tables = np.transpose(t3, (0, 2, 1))
    tables = tables[tables.sum(axis=(1, 2)) > 0]
    pooled = tables.sum(axis=0)
    bd = ck.breslow_day(tables)
    mh = ck.mantel_haenszel_or(tables)
    or_pooled = ck.odds_ratio(pooled)
    strata_or = [ck.odds_ratio(t) for t in tables if t.sum() > 0]
    warn = []
    if mh and or_pooled and math.log(or_pooled) * math.log(mh) < 0 and abs(math.log(or_pooled)) > 0.05 and abs(math.log(mh)) > 0.05:
        warn.append(f"Simpson-type reversal: the pooled odds ratio ({or_pooled:.3g}) points the other way from the "
                    f"stratum-adjusted Mantel-Haenszel odds ratio ({mh:.3g}); the pooled table is confounded by {strata!r}")
    elif strata_or and or_pooled and all(math.log(o) * math.log(or_pooled) < 0 for o in strata_or if abs(math.log(o)) > 1e-9):
        warn.append(f"Simpson-type reversal: every stratum's odds ratio lies on the other side of 1 from the pooled one ({or_pooled:.3g})")
    if bd["passed"] is False:
        warn.append("the odds ratio differs between strata (Breslow-Day): report the strata separately or model the interaction in a logistic regression")
    small = int(np.sum(tables.sum(axis=(1, 2)) < 10))
    if small:
        warn.append(f"{small} strata with fewer than 10 observations")
    text = (f"{outcome!r} and {factor!r} are binary, stratified by {strata!r} ({tables.shape[0]} strata"
            f"{', counts from ' + repr(weights) if weights else ''}): the Cochran-Mantel-Haenszel test asks whether they are "
            "associated within strata and estimates a common odds ratio; Breslow-Day checks that the odds ratio is homogeneous.")
    top = _suggestion("cochran_mantel_haenszel", text, inputs, [bd], warn, _effect("Mantel-Haenszel odds ratio", mh))
    alts = []
    if not weights:  # the logistic-regression cell takes one row per observation
        _, success, explicit, _ = data.success(outcome)
        alts.append(_alt("logistic_regression", "models the same adjustment (and the interaction if Breslow-Day fails), with more "
                         "assumptions.", regression_inputs(d, [factor, strata], success=success if explicit else None)))
    return found([top] + alts + [
        _alt("chi2_independence", f"ignores {strata!r}: the pooled table can be confounded.",
             cell_inputs(outcome=outcome, group=factor, weights=weights),
             effect=_effect("odds ratio (pooled)", or_pooled))], layout="stratified")
