"""Models: linear, ordinal, count and logistic regression, and clustered rows (mixed model, GEE)."""

from __future__ import annotations

import math

import numpy as np

from . import checks as ck
from .build import _alt, _effect, _safe, _suggestion
from .common import plain
from .data import fail
from .design import Design, factor_like, numeric_codes, regression_inputs
from .finding import NO_NOTES, Finding, Sampler, cell_inputs, found


def model_matrix(d: Design, preds, idx=None):
    """Design matrix (with intercept), names of the numeric columns, their matrix, and the number of parameters."""
    data = d.data
    blocks, cont, cont_names, params = [], [], [], 0
    for c in preds:
        e = data.entry(c)
        if e["level"] in ("binary", "nominal") or (c in d.between and factor_like(e)):
            codes, labels = data.codes(c)
            dm = ck.dummies(codes if idx is None else codes[idx], len(labels))
            blocks.append(dm)
            params += dm.shape[1]
        else:
            v = data.numeric(c)
            v = v if idx is None else v[idx]
            blocks.append(v)
            cont.append(v)
            cont_names.append(c)
            params += 1
    x = ck.design_matrix(blocks) if blocks else np.ones((len(idx) if idx is not None else d.n_used, 1))
    return x, cont_names, (np.column_stack(cont) if cont else np.empty((x.shape[0], 0))), params


def regression(d: Design, oc: str, level, why=None) -> Finding:
    """A numeric, ordinal or count outcome explained by several predictors."""
    data, outcome = d.data, d.outcome
    sampler = Sampler()
    preds = list(d.between) + d.numeric
    notes = NO_NOTES
    if d.goal is None and why is None:
        notes = notes.assume("no goal given and several predictors: prediction / adjustment (a regression)")
    n = d.n_used
    idx = sampler.rows(n)
    x, cont_names, xc, params = model_matrix(d, preds, idx)
    y = data.numeric(outcome)
    y = y if idx is None else y[idx]
    inputs = regression_inputs(d, preds)
    warn = []
    if n < 10 * max(params, 1):
        warn.append(f"{n} observations for {params} predictor parameters: fewer than 10 per parameter, the model may overfit")
    v = _safe(ck.vif, "no severe multicollinearity (VIF)", xc, cont_names)

    def finding(*suggestions):
        return found(suggestions, notes, sampler, layout="regression")

    if level == "count" and data.entry(outcome)["summary"].get("min", 0) >= 0:
        return finding(*_count_regression(d, y, x, inputs, warn, v, preds))
    if oc == "ordinal":
        e = data.entry(outcome)
        text = (f"{outcome!r} is ordinal ({e['reason']}); " + (why + ": " if why else "") +
                "ordinal logistic regression (proportional odds) models it without treating the levels as equally spaced.")
        counts = e["summary"].get("counts") or {}
        if counts and min(counts.values()) < 5:
            warn.append("some outcome levels have fewer than 5 observations: consider merging adjacent levels")
        order = e["summary"].get("order")
        top = _suggestion("ordinal_logistic_regression", text, dict(inputs, order=order) if order else inputs,
                          [v] if v else [], warn, None, posthoc=None)
        if not numeric_codes(d.df[outcome]):  # text levels: a linear regression cell cannot use them as numbers
            return finding(top)
        return finding(top, _alt("linear_regression", "treats the ordinal levels as equally spaced numbers.", inputs))
    _, resid, rss, _ = ck.ols(y, x)
    tss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - rss / tss if tss > 0 else None
    sw = ck.shapiro(sampler.sample(resid), "residuals", n)
    bp = _safe(ck.breusch_pagan, "constant residual variance (Breusch-Pagan)", resid, x)
    checks = [sw, bp] + ([v] if v else [])
    if sw["passed"] is False and ck.normality_verdict([sw], [n]) == "non-normal":
        warn.append("residuals depart from normality: with a small sample the p-values are approximate (consider a transformation)")
    if bp["passed"] is False:
        warn.append("heteroscedastic residuals: use robust (HC3) standard errors")
    if v and v["passed"] is False:
        warn.append("strong multicollinearity: coefficients are unstable")
    text = (f"{outcome!r} is {level}; {len(preds)} predictor(s) ({', '.join(map(repr, preds))}) "
            f"{'with goal prediction / adjustment' if d.goal == 'prediction' else 'explain it jointly'}: "
            "ordinary least squares linear regression. Checked: normal residuals, constant variance, multicollinearity.")
    top = _suggestion("linear_regression", text, inputs, checks, warn, _effect("R squared", r2))
    alts = []
    between = list(d.between)
    if len(preds) == 1 and not between:
        alts.append(_alt("pearson", "measures association only (no prediction).", cell_inputs(x=preds[0], y=outcome)))
    if between and len(between) == len(preds) and len(preds) >= 2:
        alts.append(_alt("factorial_anova", "the same model as an ANOVA table.", cell_inputs(outcome=outcome, between=between)))
    if between and not (len(between) == len(preds)) and len(between) == 1:
        alts.append(_alt("ancova", "the same model read as adjusted group differences.",
                         cell_inputs(outcome=outcome, group=between[0], covariates=[p for p in preds if p != between[0]])))
    return finding(top, *alts)


def _count_regression(d: Design, y, x, inputs, warn, v, preds) -> list:
    fit = ck.glm(y, x, "poisson")
    mu = fit["mu"]
    dof = max(y.size - x.shape[1], 1)
    disp = float(np.sum((y - mu) ** 2 / np.maximum(mu, 1e-10)) / dof)
    over = disp > 1.5
    rec = ck.record("no overdispersion", disp, None, not over,
                    f"Pearson chi2 / df = {disp:.2f} from a Poisson fit (> 1.5 means the variance exceeds the mean)")
    zeros = float(np.mean(y == 0))
    exp_zeros = float(np.mean(np.exp(-mu)))
    if zeros > 2 * exp_zeros + 0.05:
        warn.append(f"more zeros than the model expects ({zeros:.0%} observed vs {exp_zeros:.0%}): consider a zero-inflated model")
    null = ck.glm(y, np.ones((y.size, 1)), "poisson")
    eff = _effect("McFadden pseudo R squared (Poisson)", 1 - fit["loglik"] / null["loglik"] if null["loglik"] else None)
    checks = [rec] + ([v] if v else [])
    base = (f"{d.outcome!r} holds counts ({d.data.entry(d.outcome)['reason']}) explained by {', '.join(map(repr, preds))}: "
            "a count regression. ")
    if over:
        top = _suggestion("negative_binomial_regression", base + f"The Poisson fit is overdispersed (Pearson chi2/df = {disp:.2f}), "
                          "so negative binomial regression, which estimates the extra variance, fits.", inputs, checks, warn, eff)
        return [top, _alt("poisson_regression", f"assumes variance = mean; overdispersion ({disp:.2f}) makes its standard errors too small.",
                          inputs, effect=eff)]
    top = _suggestion("poisson_regression", base + f"No overdispersion (Pearson chi2/df = {disp:.2f}), so Poisson regression fits.",
                      inputs, checks, warn, eff)
    return [top, _alt("negative_binomial_regression", "allows overdispersion, not needed here; one parameter more.", inputs, effect=eff)]


def logistic(d: Design, preds) -> Finding:
    """A binary outcome explained by predictors: logistic regression, with the events-per-parameter check."""
    data, outcome = d.data, d.outcome
    sampler = Sampler()
    notes = NO_NOTES
    y, success, explicit, assumed = data.success(outcome)
    if assumed:
        notes = notes.assume(assumed)
    w = data.weights()
    n = d.n_used
    idx = sampler.rows(n)
    x, cont_names, xc, params = model_matrix(d, preds, idx)
    ys = y if idx is None else y[idx]
    events = float(np.sum(y * (w if w is not None else 1)))
    total = float(np.sum(w)) if w is not None else float(n)
    minority = min(events, total - events)
    epv = minority / max(params, 1)
    epv_rec = ck.record("events per predictor parameter >= 10", epv, None, bool(epv >= 10),
                        f"{int(events)} events ({success!r}) and {int(total - events)} non-events; the smaller, {int(minority)}, "
                        f"over {params} parameter(s) = {epv:.1f}")
    warn = []
    if epv < 10:
        warn.append(f"only {epv:.1f} events per predictor parameter (fewer than 10): estimates are biased and unstable; "
                    "use fewer predictors or penalised (Firth) logistic regression")
    eff = None
    checks = [epv_rec]
    if w is None:
        fit = ck.glm(ys, x, "logistic")
        null_ll = ck.loglik(ys, np.full(ys.size, math.log(max(ys.mean(), 1e-9) / max(1 - ys.mean(), 1e-9))), "logistic")
        if null_ll:
            eff = _effect("McFadden pseudo R squared", 1 - fit["loglik"] / null_ll)
        if fit["separated"]:
            warn.append("(quasi-)complete separation: some predictor pattern predicts the outcome perfectly; coefficients diverge "
                        "(use Firth's penalised likelihood)")
    v = _safe(ck.vif, "no severe multicollinearity (VIF)", xc, cont_names)
    if v:
        checks.append(v)
    inputs = regression_inputs(d, list(preds), success=success if explicit else None, weights=d.weights)
    text = (f"{outcome!r} is binary ({int(events)} of {int(total)} are {success!r}) and is explained by "
            f"{', '.join(map(repr, preds))}: logistic regression models the log-odds of {success!r}.")
    top = _suggestion("logistic_regression", text, inputs, checks, warn, eff)
    alts = []
    factors = [p for p in preds if p in d.between]
    if len(preds) == 1 and factors:
        alts.append(_alt("chi2_independence", "tests the association without modelling it.",
                         cell_inputs(outcome=outcome, group=preds[0], weights=d.weights)))
    conts = [p for p in preds if p not in d.between]
    if len(preds) == 1 and conts:
        alts.append(_alt("mann_whitney", f"compares {conts[0]!r} between the two outcome groups (roles reversed): association only.",
                         cell_inputs(outcome=conts[0], group=outcome)))
    return found([top] + alts, notes, sampler, layout="regression", success=plain(success))


def clustered(d: Design, oc: str, factors, conts) -> Finding:
    """Several rows per subject but no within-subject factor: observations are clustered."""
    data, outcome, subject = d.data, d.outcome, d.subject
    n_subj = data.entry(subject)["distinct"]
    preds = list(factors) + list(conts)
    inputs = cell_inputs(outcome=outcome, subject=subject, between=list(factors) or None, covariates=list(conts) or None)
    base = (f"{d.n_used} rows come from {n_subj} {subject!r} units (several rows each), and "
            f"{', '.join(map(repr, preds))} {'does' if len(preds) == 1 else 'do'} not vary as a within-subject factor: the rows "
            "are not independent, so a model with the subject as a cluster is needed (an ordinary test would overstate the evidence).")
    level = data.level(outcome)
    if oc == "nominal":
        fail("/outcome", f"{outcome!r} is nominal with more than two categories and the rows are clustered within "
             f"{subject!r}: no test of the vocabulary handles it; recode it as binary (one category against the rest)")
    if oc == "binary":
        _, success, explicit, assumed = data.success(outcome)
        notes = NO_NOTES.assume(assumed) if assumed else NO_NOTES
        gee = dict(inputs, family="binomial", **({"success": plain(success)} if explicit else {}))
        top = _suggestion("generalized_estimating_equations", base + " The outcome is binary: a logistic GEE model (exchangeable "
                          "correlation within subject) gives population-averaged odds ratios.", gee)
        return found([top], notes, layout="clustered")
    gee = dict(inputs, family="poisson" if level == "count" else "gaussian")
    if level == "count":
        top = _suggestion("generalized_estimating_equations", base + " The outcome is a count: a Poisson GEE model (exchangeable "
                          "correlation within subject) gives population-averaged rate ratios.", gee)
        return found([top, _alt("linear_mixed_model", "treats the counts as normal.", inputs)], layout="clustered")
    top = _suggestion("linear_mixed_model", base + " A linear mixed model with a random intercept per subject does this "
                      "(for two numeric variables it gives the repeated-measures correlation's slope).", inputs,
                      warnings=["the outcome is ordinal and is treated as interval by the linear mixed model"] if oc == "ordinal" else [])
    return found([top, _alt("generalized_estimating_equations", "also accounts for clustering (population-averaged); fewer "
                            "distributional assumptions, needs more subjects.", gee)], layout="clustered")
