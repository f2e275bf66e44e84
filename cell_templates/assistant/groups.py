"""Independent groups with a numeric or ordinal outcome: two or k groups, factorial designs, ANCOVA."""

from __future__ import annotations

import math

import numpy as np

from . import checks as ck
from .build import PRETEST, _alt, _effect, _safe, _safe_num, _suggestion
from .common import ALPHA, fmt_p
from .design import Design, factor_like, regression_inputs
from .finding import Finding, Sampler, cell_inputs, found


def groups(d: Design, oc: str, factor) -> Finding:
    """One factor: t-tests, Mann-Whitney, Brunner-Munzel (two groups); ANOVA, Welch, Kruskal-Wallis (k groups)."""
    data, col, g = d.data, d.outcome, factor
    sampler = Sampler()
    y = data.numeric(col)
    codes, labels = data.codes(factor)
    k = len(labels)
    ns = np.bincount(codes, minlength=k)
    facts = {"layout": "two_groups" if k == 2 else "k_groups", "groups": {str(labels[j]): int(ns[j]) for j in range(min(k, 50))}}
    inputs = cell_inputs(outcome=col, group=g)
    warn = []
    small = [str(labels[j]) for j in range(k) if ns[j] < 5]
    if small:
        warn.append(f"small groups ({', '.join(small[:6])} with fewer than 5 observations): little power, assumption checks unreliable")
    if k > 20:
        warn.append(f"{k} groups: check that {g!r} is really a grouping factor")
    if ns.max() > 1.5 * max(ns.min(), 1) and oc == "continuous":
        warn.append(f"unequal group sizes ({ns.min()}..{ns.max()})")
    full = [y[codes == j] for j in range(k)]
    samp = [sampler.sample(a) for a in full]
    sums = np.bincount(codes, weights=y, minlength=k)
    means = sums / np.maximum(ns, 1)
    grand = y.mean()
    sst = float(np.sum((y - grand) ** 2))
    eta2 = float(np.sum(ns * (means - grand) ** 2) / sst) if sst > 0 else None
    lev = _safe(ck.levene, "equal variances", samp)
    gdesc = ", ".join(f"{labels[j]} n = {ns[j]}" for j in range(min(k, 6))) + (" ..." if k > 6 else "")
    what = f"{col!r} is {data.level(col)} and {g!r} defines {k} independent groups ({gdesc}). "
    simpson = _simpson(d, y, codes, labels) if k == 2 and d.strata is not None else None
    if simpson:
        warn.append(simpson)

    def finding(*suggestions):
        return found(suggestions, sampler=sampler, **facts)

    if oc == "ordinal":
        ordwhy = (f"{col!r} is ordinal ({data.entry(col)['reason']}), so a rank-based test fits whatever normality says. ")
        if k == 2:
            eff = _effect("rank-biserial r", _safe_num(ck.rank_biserial_mw, samp[1], samp[0]))
            top = _suggestion("mann_whitney", what + ordwhy + "Mann-Whitney U compares the two groups' distributions.",
                              inputs, [lev], warn, eff)
            return finding(top,
                           _alt("brunner_munzel", "also rank-based and robust to unequal spreads; less familiar and "
                                "needs moderate samples.", inputs, effect=eff),
                           _alt("independent_t", "treats the ordinal scores as interval numbers.", inputs,
                                effect=_effect("Cohen's d", _safe_num(ck.cohen_d, full[1], full[0]))))
        eps = _epsilon2(samp)
        top = _suggestion("kruskal_wallis", what + ordwhy + "The Kruskal-Wallis H test compares the groups' distributions.",
                          inputs, [lev], warn, eps, posthoc="Dunn's test (pairwise rank comparisons) with Holm correction")
        return finding(top, _alt("one_way_anova", "treats the ordinal scores as interval numbers.", inputs,
                                 effect=_effect("eta squared", eta2), posthoc="Tukey HSD"))
    sws = [ck.shapiro(samp[j], f"{g} = {labels[j]}", int(ns[j])) for j in range(k)]
    verdict = ck.normality_verdict(sws, [int(x) for x in ns])
    equal = lev["passed"] is not False
    normal_text = {"normal": "Shapiro-Wilk finds no departure from normality in any group",
                   "mild": "Shapiro-Wilk rejects normality in some group, but every group has n >= 30 and the departure is mild "
                           "(|skew| < 1), so the means are close to normal and the parametric test stays valid",
                   "non-normal": "Shapiro-Wilk rejects normality in " + ", ".join(
                       r["name"][len("normality ("):-1] for r in sws if r["passed"] is False) +
                   (" and some group is small or clearly skewed" if verdict == "non-normal" else "")}[verdict]
    var_text = ("Levene's test (median-centred) finds no difference in variances" if lev["passed"] else
                "Levene's test (median-centred) finds unequal variances" if lev["passed"] is False else
                "the variances could not be compared")
    checks = sws + [lev]
    if k == 2:
        dd = _effect("Cohen's d", _safe_num(ck.cohen_d, full[1], full[0]))
        rb = _effect("rank-biserial r", _safe_num(ck.rank_biserial_mw, samp[1], samp[0]))
        ps = _effect("probability of superiority", None if rb is None else (rb["value"] + 1) / 2)
        if verdict != "non-normal":
            if equal:
                top = _suggestion("independent_t", what + f"{normal_text}; {var_text}. So Student's t-test fits. " + PRETEST,
                                  inputs, checks, warn, dd)
                return finding(top,
                               _alt("welch_t", "does not assume equal variances and loses little power; many statisticians use it "
                                    "by default, which also avoids the pre-test.", inputs, effect=dd),
                               _alt("mann_whitney", "rank-based: no normality needed, slightly less power with normal data.", inputs, effect=rb))
            top = _suggestion("welch_t", what + f"{normal_text}; {var_text}, so Welch's t-test (no equal-variance assumption) fits. " + PRETEST,
                              inputs, checks, warn, dd)
            return finding(top,
                           _alt("independent_t", "assumes equal variances, which Levene's test rejects.", inputs, effect=dd),
                           _alt("brunner_munzel", "rank-based and robust to unequal variances; less power with normal data.", inputs, effect=ps))
        if equal:
            top = _suggestion("mann_whitney", what + f"{normal_text}; {var_text}. So the rank-based Mann-Whitney U test fits. " + PRETEST,
                              inputs, checks, warn, rb)
            return finding(top,
                           _alt("brunner_munzel", "rank-based and also valid with unequal spreads; not needed when the spreads are similar.",
                                inputs, effect=ps),
                           _alt("welch_t", "compares means assuming normal sampling distributions, doubtful here.", inputs, effect=dd))
        top = _suggestion("brunner_munzel", what + f"{normal_text}; {var_text}. Mann-Whitney assumes equal shapes and spreads, "
                          "so the Brunner-Munzel test (rank-based, unequal variances allowed) fits. " + PRETEST, inputs, checks, warn, ps)
        return finding(top,
                       _alt("mann_whitney", "rank-based but sensitive to unequal spreads (its null is identical distributions).", inputs, effect=rb),
                       _alt("welch_t", "handles unequal variances but assumes normal sampling distributions.", inputs, effect=dd))
    eta = _effect("eta squared", eta2)
    if verdict != "non-normal":
        if equal:
            top = _suggestion("one_way_anova", what + f"{normal_text}; {var_text}. So the one-way ANOVA fits. " + PRETEST,
                              inputs, checks, warn, eta, posthoc="Tukey HSD (all pairs)")
            return finding(top,
                           _alt("welch_anova", "does not assume equal variances and loses little power; a safe default.", inputs,
                                effect=eta, posthoc="Games-Howell"),
                           _alt("kruskal_wallis", "rank-based: no normality needed, less power with normal data.", inputs,
                                effect=_epsilon2(samp), posthoc="Dunn's test with Holm correction"))
        top = _suggestion("welch_anova", what + f"{normal_text}; {var_text}, so Welch's ANOVA fits, with Games-Howell "
                          "pairwise comparisons. " + PRETEST, inputs, checks, warn, eta, posthoc="Games-Howell (unequal variances)")
        return finding(top,
                       _alt("one_way_anova", "assumes equal variances, which Levene's test rejects.", inputs, effect=eta, posthoc="Tukey HSD"),
                       _alt("kruskal_wallis", "rank-based; with unequal spreads it no longer compares medians only.", inputs,
                            effect=_epsilon2(samp), posthoc="Dunn's test with Holm correction"))
    if not equal:
        warn.append("the spreads differ between groups: Kruskal-Wallis then tests whether the distributions differ, not only their medians")
    top = _suggestion("kruskal_wallis", what + f"{normal_text}; {var_text}. So the rank-based Kruskal-Wallis H test fits. " + PRETEST,
                      inputs, checks, warn, _epsilon2(samp), posthoc="Dunn's test (pairwise rank comparisons) with Holm correction")
    return finding(top,
                   _alt("welch_anova", "compares means without equal variances but assumes normal sampling distributions.", inputs,
                        effect=eta, posthoc="Games-Howell"),
                   _alt("one_way_anova", "assumes normality and equal variances.", inputs, effect=eta, posthoc="Tukey HSD"))


def _epsilon2(samp):
    try:
        from scipy.stats import kruskal

        usable = [s for s in samp if s.size]
        h, _ = kruskal(*usable)
        n = sum(s.size for s in usable)
        return _effect("epsilon squared", h / (n - 1))
    except Exception:
        return None


def _simpson(d: Design, y, codes, labels):
    """A warning when every stratum's group difference has the opposite sign of the pooled one."""
    s_codes, s_labels = d.data.codes(d.strata)
    pooled = y[codes == 1].mean() - y[codes == 0].mean()
    diffs = []
    for j in range(len(s_labels)):
        m = s_codes == j
        a, b = y[m & (codes == 0)], y[m & (codes == 1)]
        if a.size and b.size:
            diffs.append(b.mean() - a.mean())
    if len(diffs) >= 2 and pooled != 0 and all(np.sign(dv) == -np.sign(pooled) for dv in diffs if dv != 0) and any(diffs):
        return (f"Simpson-type reversal: pooled over {d.strata!r}, {labels[1]!r} minus {labels[0]!r} is {pooled:.3g}, "
                f"but within every stratum the difference has the opposite sign; analyse within strata")
    return None


def factorial(d: Design, factors) -> Finding:
    """Several between-subjects factors: factorial ANOVA."""
    data = d.data
    sampler = Sampler()
    y = data.numeric(d.outcome)
    cell = np.zeros(y.size, dtype=np.int64)
    sizes = []
    for f in factors:
        c, labels = data.codes(f)
        cell = cell * len(labels) + c
        sizes.append(len(labels))
    ucell, cell = np.unique(cell, return_inverse=True)
    kc = ucell.size
    ncell = np.bincount(cell, minlength=kc)
    means = np.bincount(cell, weights=y, minlength=kc) / ncell
    resid = y - means[cell]
    warn = []
    if kc < int(np.prod(sizes)):
        warn.append(f"{int(np.prod(sizes)) - kc} empty cells in the {' x '.join(map(str, sizes))} design: "
                    "not every interaction can be estimated")
    if ncell.min() != ncell.max():
        warn.append(f"unbalanced design (cell sizes {ncell.min()}..{ncell.max()}): Type I, II and III sums of squares differ; "
                    "the cell uses Type III (sum-to-zero contrasts, the SPSS / JASP / jamovi default)")
    if ncell.min() < 3:
        warn.append("some cells have fewer than 3 observations")
    if d.strata is not None and d.strata in factors and len(factors) == 2:
        other = factors[0] if factors[1] == d.strata else factors[1]
        oc_codes, oc_labels = data.codes(other)
        if len(oc_labels) == 2:
            simpson = _simpson(d, y, oc_codes, oc_labels)
            if simpson:
                warn.append(simpson)
    sw = ck.shapiro(sampler.sample(resid), "residuals", y.size)
    verdict = ck.normality_verdict([sw], [int(ncell.min())] * 1)
    samp = [sampler.sample(y[cell == j]) for j in range(kc)]
    lev = _safe(ck.levene, "equal variances (across cells)", samp, "equal variances (across cells)")
    eff = _partial_eta_first(d, sampler, y, factors)
    inputs = cell_inputs(outcome=d.outcome, between=list(factors))
    text = (f"{d.outcome!r} is {data.level(d.outcome)} with {len(factors)} between-subjects factors "
            f"({' x '.join(f'{f!r} ({s})' for f, s in zip(factors, sizes))}): a factorial ANOVA tests each main effect and the interaction. ")
    if verdict == "normal":
        text += "The residuals look normal"
    elif verdict == "mild":
        text += "Shapiro-Wilk rejects normality of the residuals but every cell has n >= 30 and the departure is mild"
    else:
        text += "The residuals depart from normality"
        warn.append("residuals not normal: interpret p-values with care (consider a transformation or robust standard errors); "
                    "no rank-based factorial test is in the vocabulary")
    text += "; " + ("Levene's test finds similar variances across cells." if lev["passed"] is not False else
                    "Levene's test finds unequal variances across cells.")
    if lev["passed"] is False:
        warn.append("unequal variances across cells: prefer heteroscedasticity-robust (HC3) standard errors")
    top = _suggestion("factorial_anova", text, inputs, [sw, lev], warn, eff,
                      posthoc="simple-effects tests if the interaction is significant, else Tukey HSD on significant main effects")
    return found([top,
                  _alt("linear_regression", "the same model written as a regression; gives coefficients rather than an ANOVA table, "
                       "and robust standard errors if variances differ.", regression_inputs(d, list(factors))),
                  _alt("kruskal_wallis", f"rank-based, but one factor at a time ({factors[0]!r}): loses the other factor and the interaction.",
                       cell_inputs(outcome=d.outcome, group=factors[0]), posthoc="Dunn's test with Holm correction")],
                 sampler=sampler, layout="factorial")


def _partial_eta_first(d: Design, sampler: Sampler, y, factors):
    try:
        blocks = []
        for f in factors:
            c, labels = d.data.codes(f)
            blocks.append(ck.dummies(c, len(labels)))
        ys = y
        idx = sampler.rows(y.size)
        if idx is not None:
            ys, blocks = y[idx], [b[idx] for b in blocks]
        full = ck.design_matrix(blocks)
        without = ck.design_matrix(blocks[1:]) if len(blocks) > 1 else np.ones((ys.size, 1))
        _, _, rss_full, _ = ck.ols(ys, full)
        _, _, rss_wo, _ = ck.ols(ys, without)
        ss_a = rss_wo - rss_full
        return _effect(f"partial eta squared ({factors[0]})", ss_a / (ss_a + rss_full) if ss_a + rss_full > 0 else None)
    except Exception:
        return None


def ancova(d: Design, factor, covs) -> Finding:
    """One factor and numeric covariates: ANCOVA, with the homogeneous-slopes check."""
    data = d.data
    sampler = Sampler()
    y = data.numeric(d.outcome)
    codes, labels = data.codes(factor)
    k = len(labels)
    xs = []
    for c in covs:
        e = data.entry(c)
        if factor_like(e) and e["level"] in ("binary", "nominal"):
            cc, lab = data.codes(c)
            xs.append(ck.dummies(cc, len(lab)))
        else:
            xs.append(data.numeric(c))
    idx = sampler.rows(y.size)
    pick = (lambda a: a if idx is None else a[idx])
    ys, cs, xs_ = pick(y), pick(codes), [pick(x) for x in xs]
    dg = ck.dummies(cs, k)
    x_main = ck.design_matrix([dg] + xs_)
    inter = [dg * x[:, None] for x in xs_ if x.ndim == 1]
    x_int = ck.design_matrix([dg] + xs_ + inter)
    _, resid, rss, _ = ck.ols(ys, x_main)
    sw = ck.shapiro(sampler.sample(resid), "residuals", y.size)
    lev = _safe(ck.levene, "equal variances (residuals by group)", [sampler.sample(resid[cs == j]) for j in range(k)],
                "equal variances (residuals by group)")
    slopes = ck.record("homogeneous regression slopes", passed=None, detail="no numeric covariate")
    if inter:
        f, p, df1, df2 = ck.f_compare(ys, x_main, x_int)
        if math.isfinite(f):
            slopes = ck.record("homogeneous regression slopes", f, p, bool(p >= ALPHA),
                               f"group x covariate interaction F({df1}, {df2}) = {f:.2f}, {fmt_p(p)}")
    x_wo = ck.design_matrix(xs_) if xs_ else np.ones((ys.size, 1))
    _, _, rss_wo, _ = ck.ols(ys, x_wo)
    ss_g = rss_wo - rss
    eff = _effect(f"partial eta squared ({factor})", ss_g / (ss_g + rss) if ss_g + rss > 0 else None)
    warn = []
    if slopes["passed"] is False:
        warn.append("heterogeneous regression slopes: the covariate's effect differs between groups, so adjusted means "
                    "depend on the covariate value; model the interaction (linear regression with group x covariate)")
    if sw["passed"] is False and ck.normality_verdict([sw], [y.size]) == "non-normal":
        warn.append("residuals depart from normality: interpret p-values with care")
    if lev["passed"] is False:
        warn.append("unequal residual variances between groups: prefer robust (HC3) standard errors")
    inputs = cell_inputs(outcome=d.outcome, group=factor, covariates=list(covs))
    text = (f"{d.outcome!r} is {data.level(d.outcome)}, {factor!r} defines {k} groups and "
            f"{', '.join(map(repr, covs))} {'is a covariate' if len(covs) == 1 else 'are covariates'}: ANCOVA compares the groups "
            "adjusted for the covariate(s). Checked: normal residuals, equal variances and homogeneous slopes.")
    top = _suggestion("ancova", text, inputs, [sw, lev, slopes], warn, eff,
                      posthoc="pairwise comparisons of adjusted (estimated marginal) means with Holm correction")
    return found([top,
                  _alt("linear_regression", "the same model as a regression; preferable if the slopes differ (add the interaction).",
                       regression_inputs(d, [factor] + list(covs))),
                  _alt("one_way_anova" if k > 2 else "independent_t", "ignores the covariate: less power and no adjustment.",
                       cell_inputs(outcome=d.outcome, group=factor))],
                 sampler=sampler, layout="ancova")
