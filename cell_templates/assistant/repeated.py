"""Repeated measures: paired tests, RM ANOVA / Friedman, mixed ANOVA, McNemar / Cochran's Q, mixed models."""

from __future__ import annotations

import math

import numpy as np

from . import checks as ck
from .build import PRETEST, _alt, _effect, _safe, _safe_pair, _suggestion
from .common import plain
from .data import SUCCESS_WORDS, fail
from .design import Design, numeric_codes, outcome_class
from .finding import NO_NOTES, Finding, Sampler, cell_inputs, found


def repeated(d: Design) -> Finding:
    """The subjects x conditions table (wide, or built from the long layout), then the test that fits the outcome."""
    data, df = d.data, d.df
    notes, facts = NO_NOTES, {"layout": "repeated"}
    success_input = None
    between = list(d.between)
    if d.wide:
        cols = list(d.outcome)
        classes = {outcome_class(data, c) for c in cols}
        if "binary" in classes and len(classes) > 1:
            classes.discard("binary")
        oc = "binary" if classes == {"binary"} else ("nominal" if "nominal" in classes else
                                                  "ordinal" if "ordinal" in classes else "continuous")
        mask = data.mask if data.mask is not None else np.ones(len(df), dtype=bool)
        if oc in ("binary", "nominal"):
            coded = [data.codes(c) for c in cols]
            labels = sorted({str(x) for _, labs in coded for x in labs})
            if oc == "binary" and len(labels) != 2:
                oc = "nominal"
            if oc == "binary":
                typed = {str(x): x for _, labs in coded for x in labs}
                lowered = [x.lower() for x in labels]
                if set(lowered) in ({"0", "1"}, {"false", "true"}):
                    success = labels[1]
                else:
                    success = next((lab for lab in labels if lab.lower() in SUCCESS_WORDS), labels[1])
                    success_input = typed[success]
                    if success.lower() not in SUCCESS_WORDS:
                        notes = notes.assume(f"{success!r} counted as the event / success (the second of {labels[0]!r}, {labels[1]!r})")
                facts["success"] = typed[success]
                target = {lab: float(lab == success) for lab in labels}
            else:
                target = {lab: float(i) for i, lab in enumerate(labels)}
            cols_out = []
            for codes, labs in coded:
                lookup = np.array([target[str(x)] for x in labs] + [np.nan])
                cols_out.append(lookup[np.where(codes < 0, len(labs), codes)])
            wide = np.column_stack(cols_out)
        else:
            wide = np.column_stack([df[c][mask].to_numpy(dtype="float64", na_value=np.nan) if numeric_codes(df[c])
                                    else data.numeric(c) for c in cols])
        cond_labels = [plain(c) for c in cols]
        bcodes = data.codes(between[0])[0] if between else None
        w = data.weights()
        subj_desc = f"each row is a subject ({', '.join(map(repr, cols[:6]))}{' ...' if len(cols) > 6 else ''} are its conditions)"
    else:
        if d.subject is None:
            fail("/subject", "repeated measures need the subject column")
        oc = outcome_class(data, d.outcome)
        s_codes, s_labels = data.codes(d.subject)
        cell = np.zeros(d.n_used, dtype=np.int64)
        parts = []
        for f in d.within:
            c, lab = data.codes(f)
            cell = cell * len(lab) + c
            parts.append(lab)
        ucell, cell = np.unique(cell, return_inverse=True)
        K, S = ucell.size, len(s_labels)
        if oc == "binary":
            yv, success, explicit, assumed = data.success(d.outcome)
            if assumed:
                notes = notes.assume(assumed)
            if explicit:
                success_input = success
            facts["success"] = plain(success)
        elif oc == "nominal":
            yv = data.codes(d.outcome)[0].astype(float)
        else:
            yv = data.numeric(d.outcome)
        key = s_codes * K + cell
        cnt = np.bincount(key, minlength=S * K)
        sums = np.bincount(key, weights=yv, minlength=S * K)
        with np.errstate(invalid="ignore", divide="ignore"):
            wide = (sums / cnt).reshape(S, K)
        wide[cnt.reshape(S, K) == 0] = np.nan
        if cnt.max() > 1:
            notes = notes.warn(f"some subjects have several rows in the same condition (up to {cnt.max()}): averaged per subject and condition")
            if oc in ("binary", "nominal"):
                wide = np.round(wide)
        cond_labels = []
        for u in ucell:
            lab, rest = [], int(u)
            for p in reversed(parts):
                lab.append(str(p[rest % len(p)]))
                rest //= len(p)
            cond_labels.append(" / ".join(reversed(lab)))
        bcodes = None
        if between:
            bc, _ = data.codes(between[0])
            bcodes = np.full(S, -1)
            bcodes[s_codes[::-1]] = bc[::-1]
        w = None
        subj_desc = f"{d.subject!r} identifies {S} subjects measured under {', '.join(map(repr, d.within))}"
    k = wide.shape[1]
    if k < 2:
        fail("/within" if not d.wide else "/outcome", "repeated measures need at least two conditions")
    complete = ~np.isnan(wide).any(axis=1)
    n_all, n_c = wide.shape[0], int(complete.sum())
    warn_missing = None
    if n_c < n_all:
        warn_missing = (f"{n_all - n_c} of {n_all} subjects miss at least one condition: the repeated-measures test uses the "
                        f"{n_c} complete subjects only; a {'linear mixed model' if oc in ('continuous', 'ordinal') else 'GEE model'} "
                        "uses every observation")
        if d.wide:
            warn_missing += " (reshape to the long layout with DataFrame.melt for that)"
        notes = notes.warn(warn_missing)
    if n_c < 2 and (d.wide or oc == "nominal"):
        fail("/outcome" if d.wide else "/subject", f"only {n_c} subject(s) have every condition: too few for a repeated-measures test")
    W = wide[complete]
    bW = None if bcodes is None else bcodes[complete]
    wW = None if w is None else w[complete]
    facts.update(conditions=cond_labels[:50], n_subjects=int(n_c), paired=True)
    if d.wide:
        inputs_base = dict(outcome=list(d.outcome), subject=d.subject)
    else:
        inputs_base = dict(outcome=d.outcome, subject=d.subject, within=d.within[0] if len(d.within) == 1 else list(d.within))
    conts = d.numeric
    if d.wide:
        # The mixed-model cells take the long layout (one row per subject and condition).
        if conts:
            fail(d.roles.path(conts[0]) or "/covariates", "covariates with wide repeated measures: reshape to the long layout "
                 "(one row per subject and condition, DataFrame.melt) and pass within= and subject=, for a linear mixed model")
        if between and oc == "binary":
            fail(d.path(between[0]), "a between factor with a binary outcome in the wide layout: reshape to the long layout "
                 "(DataFrame.melt) and pass within= and subject=, for a GEE model")
        lmm_inputs, lmm = None, None
    else:
        lmm_inputs = cell_inputs(outcome=d.outcome, subject=d.subject, within=d.within[0],
                                 predictors=list(d.within[1:]) or None, between=list(between) or None,
                                 covariates=conts or None)
        why = ("uses every observation, including the subjects with missing conditions that the repeated-measures test drops; "
               "more modelling choices." if warn_missing else
               "uses every observation and allows covariates and unbalanced data; more modelling choices.")
        lmm = _alt("linear_mixed_model", why, lmm_inputs)
    success = {"success": plain(success_input)} if success_input is not None else {}
    if n_c < 2:  # no repeated-measures test can run; the model uses every observation
        why = f"{subj_desc}; only {n_c} subject(s) have every condition, so no repeated-measures test can run: "
        if oc == "binary":
            top = _suggestion("generalized_estimating_equations", why + "a logistic GEE model (exchangeable correlation within "
                              "subject) uses every observation.", dict(lmm_inputs, family="binomial", **success))
        else:
            top = _suggestion("linear_mixed_model", why + "a linear mixed model (random intercept per subject) uses every observation.",
                              lmm_inputs,
                              warnings=["the outcome is ordinal and is treated as interval by the linear mixed model"] if oc == "ordinal" else [])
        return found([top]).after(notes, **facts)
    if conts:
        top = _suggestion("linear_mixed_model", f"repeated measures ({subj_desc}) with numeric covariates: a linear mixed model "
                          "(random intercept per subject) handles both.", lmm_inputs,
                          warnings=["the outcome is ordinal and is treated as interval by the linear mixed model"] if oc == "ordinal" else [])
        if oc == "binary":
            top = _suggestion("generalized_estimating_equations", f"repeated binary measures ({subj_desc}) with numeric covariates: "
                              "a logistic GEE model (exchangeable correlation within subject) handles both.",
                              dict(lmm_inputs, family="binomial", **success))
        return found([top]).after(notes, **facts)
    if oc == "binary":
        gee_inputs = None if lmm_inputs is None else dict(lmm_inputs, family="binomial", **success)
        finding = _repeated_binary(d, W, wW, between, inputs_base, subj_desc, gee_inputs, success_input)
    elif oc == "nominal":
        fail("/outcome", "a nominal outcome with more than two categories measured repeatedly: no test of the vocabulary "
             "handles it; recode it as binary (one category against the rest)")
    elif between:
        finding = _mixed(d, W, bW, between, inputs_base, cond_labels, subj_desc, oc, lmm)
    elif len(d.within) > 1:
        finding = _rm_two_way(d, W, inputs_base, subj_desc, lmm)
    else:
        finding = _rm_one_way(d, W, inputs_base, cond_labels, subj_desc, oc, lmm)
    return finding.after(notes, **facts)


def _rm_one_way(d: Design, W, inputs_base, cond_labels, subj_desc, oc, lmm) -> Finding:
    """One within factor: paired t / Wilcoxon (two conditions), RM ANOVA / Friedman (more)."""
    sampler = Sampler()
    n, k = W.shape
    inputs = cell_inputs(**inputs_base)
    warn = [f"small sample ({n} subjects)"] if n < 10 else []
    what = f"{subj_desc}; the outcome is {'ordinal' if oc == 'ordinal' else 'numeric'} and measured {k} times on the same subjects. "
    from scipy.stats import rankdata

    def kendall_w():
        r = rankdata(W, axis=1)
        rs = r.sum(axis=0)
        chi2 = 12 / (n * k * (k + 1)) * float(np.sum(rs**2)) - 3 * n * (k + 1)
        return _effect("Kendall's W", chi2 / (n * (k - 1)))

    def finding(*suggestions):
        return found(suggestions, sampler=sampler)

    if k == 2:
        diff = W[:, 1] - W[:, 0]
        if np.all(diff == 0):
            fail("/outcome", "every subject has the same value in both conditions: nothing to test")
        ds = sampler.sample(diff)
        sw = ck.shapiro(ds, f"differences {cond_labels[1]} - {cond_labels[0]}", n)
        verdict = ck.normality_verdict([sw], [n])
        sd = float(np.std(diff, ddof=1))
        dz = _effect("Cohen's dz", float(np.mean(diff)) / sd if sd > 0 else None)
        nz = ds[ds != 0]
        r = rankdata(np.abs(nz))
        rb = _effect("matched-pairs rank-biserial r", (r[nz > 0].sum() - r[nz < 0].sum()) / r.sum() if r.size else None)
        if oc == "ordinal":
            top = _suggestion("wilcoxon_signed_rank", what + "The outcome is ordinal, so the Wilcoxon signed-rank test on the paired "
                              "differences fits whatever normality says.", inputs, [sw], warn, rb)
            return finding(top, _alt("paired_t", "treats the ordinal scores as interval numbers.", inputs, effect=dz))
        if verdict != "non-normal":
            why = ("the paired differences look normal" if verdict == "normal" else
                   "Shapiro-Wilk rejects normality of the differences, but n >= 30 and the departure is mild")
            top = _suggestion("paired_t", what + f"Paired: {why}, so the paired t-test fits. " + PRETEST, inputs, [sw], warn, dz)
            return finding(top, _alt("wilcoxon_signed_rank", "rank-based: no normality needed, slightly less power.", inputs, effect=rb), lmm)
        top = _suggestion("wilcoxon_signed_rank", what + "Shapiro-Wilk rejects normality of the paired differences, so the Wilcoxon "
                          "signed-rank test fits (it assumes the differences are roughly symmetric). " + PRETEST, inputs, [sw], warn, rb)
        return finding(top, _alt("paired_t", "assumes normal differences, rejected here.", inputs, effect=dz), lmm)
    resid = W - W.mean(axis=1, keepdims=True) - W.mean(axis=0, keepdims=True) + W.mean()
    sw = ck.shapiro(sampler.sample(resid.ravel()), "residuals", resid.size)
    sph, eps = _safe_pair(ck.mauchly, W)
    verdict = ck.normality_verdict([sw], [n])
    ss_c = n * float(np.sum((W.mean(axis=0) - W.mean()) ** 2))
    ss_e = float(np.sum(resid**2))
    peta = _effect("partial eta squared", ss_c / (ss_c + ss_e) if ss_c + ss_e > 0 else None)
    gg = ""
    if sph["passed"] is False:
        gg = f" Mauchly's test rejects sphericity, so the cell reports the Greenhouse-Geisser correction (epsilon = {eps:.3f}); the test stays the same."
        warn.append(f"sphericity violated: read the Greenhouse-Geisser corrected p-value (epsilon = {eps:.3f})")
    if oc == "ordinal":
        top = _suggestion("friedman", what + "The outcome is ordinal, so the Friedman test (ranks within subject) fits.",
                          inputs, [sw, sph], warn, kendall_w(), posthoc="pairwise Wilcoxon signed-rank tests with Holm correction")
        return finding(top, _alt("rm_anova", "treats the ordinal scores as interval numbers.", inputs, effect=peta,
                                 posthoc="pairwise paired t-tests with Holm correction"), lmm)
    if verdict != "non-normal":
        why = ("the residuals look normal" if verdict == "normal" else
               "Shapiro-Wilk rejects normal residuals, but with n >= 30 subjects the departure is mild")
        top = _suggestion("rm_anova", what + f"{why}, so the repeated-measures ANOVA fits.{gg} " + PRETEST, inputs, [sw, sph], warn, peta,
                          posthoc="pairwise paired t-tests with Holm correction")
        return finding(top, _alt("friedman", "rank-based: no normality needed, less power.", inputs, effect=kendall_w(),
                                 posthoc="pairwise Wilcoxon signed-rank tests with Holm correction"), lmm)
    top = _suggestion("friedman", what + "The residuals depart from normality, so the rank-based Friedman test fits. " + PRETEST,
                      inputs, [sw, sph], warn, kendall_w(), posthoc="pairwise Wilcoxon signed-rank tests with Holm correction")
    return finding(top, _alt("rm_anova", "assumes normal residuals, rejected here.", inputs, effect=peta,
                             posthoc="pairwise paired t-tests with Holm correction"), lmm)


def _rm_two_way(d: Design, W, inputs_base, subj_desc, lmm) -> Finding:
    """Two or more within factors: a two-way repeated-measures ANOVA."""
    sampler = Sampler()
    n, k = W.shape
    inputs = cell_inputs(**inputs_base)
    resid = W - W.mean(axis=1, keepdims=True) - W.mean(axis=0, keepdims=True) + W.mean()
    sw = ck.shapiro(sampler.sample(resid.ravel()), "residuals", resid.size)
    checks = [sw]
    warn = []
    sizes = [len(d.data.codes(f)[1]) for f in d.within]
    if int(np.prod(sizes)) == k:
        cube = W.reshape(n, *sizes)
        for ax, f in enumerate(d.within):
            other = tuple(i + 1 for i in range(len(sizes)) if i != ax)
            marg = cube.mean(axis=other)
            rec, eps = _safe_pair(ck.mauchly, marg, f"sphericity ({f})")
            checks.append(rec)
            if rec["passed"] is False:
                warn.append(f"sphericity violated for {f!r}: read the Greenhouse-Geisser corrected p-value (epsilon = {eps:.3f})")
    if ck.normality_verdict([sw], [n]) == "non-normal":
        warn.append("residuals depart from normality: no rank-based two-way repeated-measures test is in the vocabulary; "
                    "interpret with care or use a mixed model on a transformed outcome")
    ss_c = n * float(np.sum((W.mean(axis=0) - W.mean()) ** 2))
    ss_e = float(np.sum(resid**2))
    top = _suggestion("rm_anova", f"{subj_desc}; two within-subject factors ({' x '.join(map(repr, d.within))}): a two-way "
                      "repeated-measures ANOVA tests both main effects and the interaction (Greenhouse-Geisser correction where sphericity fails).",
                      inputs, checks, warn, _effect("partial eta squared (all conditions)", ss_c / (ss_c + ss_e) if ss_c + ss_e else None),
                      posthoc="pairwise paired t-tests with Holm correction within each factor")
    return found([top, lmm], sampler=sampler)


def _mixed(d: Design, W, bW, between, inputs_base, cond_labels, subj_desc, oc, lmm) -> Finding:
    """A within factor and a between factor: mixed ANOVA."""
    sampler = Sampler()
    n, k = W.shape
    _, blabels = d.data.codes(between[0])
    groups = [j for j in range(len(blabels)) if np.any(bW == j)]
    if len(groups) < 2:
        fail(d.path(between[0]), f"{between[0]!r} has only one group among the complete subjects")
    inputs = cell_inputs(**inputs_base, between=between[0])
    warn = []
    if len(between) > 1:
        warn.append("more than one between factor: the mixed ANOVA uses the first; a linear mixed model takes them all")
    if len(d.within) > 1:
        warn.append("more than one within factor with a between factor: a linear mixed model is the general tool")
    gm = np.vstack([W[bW == j].mean(axis=0) for j in groups])
    fitted = W.mean(axis=1, keepdims=True) + gm[np.searchsorted(groups, bW)] - gm[np.searchsorted(groups, bW)].mean(axis=1, keepdims=True)
    resid = W - fitted
    sw = ck.shapiro(sampler.sample(resid.ravel()), "residuals", resid.size)
    levs = []
    for j in range(k):
        levs.append(_safe(ck.levene, f"equal variances across {between[0]} ({cond_labels[j]})",
                          [W[bW == g, j] for g in groups], f"equal variances across {between[0]} ({cond_labels[j]})"))
    worst = min(levs, key=lambda r: r["p"] if r["p"] is not None else 1.0)
    centred = W - gm[np.searchsorted(groups, bW)]
    sph, eps = _safe_pair(ck.mauchly, centred)
    if sph["passed"] is False:
        warn.append(f"sphericity violated: read the Greenhouse-Geisser corrected p-value (epsilon = {eps:.3f})")
    if worst["passed"] is False:
        warn.append("variances differ between groups in some condition: the between-subjects F-test is less reliable with unequal group sizes")
    if ck.normality_verdict([sw], [n]) == "non-normal":
        warn.append("residuals depart from normality: interpret with care (no rank-based mixed ANOVA in the vocabulary)")
    if oc == "ordinal":
        warn.append("the outcome is ordinal and is treated as interval by the mixed ANOVA")
    resid_w = W - W.mean(axis=1, keepdims=True) - W.mean(axis=0, keepdims=True) + W.mean()
    ss_c = n * float(np.sum((W.mean(axis=0) - W.mean()) ** 2))
    ss_e = float(np.sum(resid_w**2))
    eff = _effect("partial eta squared (within factor)", ss_c / (ss_c + ss_e) if ss_c + ss_e else None)
    text = (f"{subj_desc}; {between[0]!r} splits the subjects into {len(groups)} independent groups: a mixed ANOVA tests the "
            "within factor, the between factor and their interaction. Checked: normal residuals, equal variances between groups at "
            "each condition (Levene), sphericity (Mauchly; a violation means the Greenhouse-Geisser correction).")
    top = _suggestion("mixed_anova", text, inputs, [sw, worst, sph], warn, eff,
                      posthoc="pairwise tests (Holm) for the within factor, the between factor and within each group")
    return found([top, lmm], sampler=sampler)


def _repeated_binary(d: Design, W, wW, between, inputs_base, subj_desc, gee_inputs, success_input) -> Finding:
    """A binary outcome measured repeatedly: McNemar (two conditions), Cochran's Q (more), GEE (with groups)."""
    n, k = W.shape
    weights = wW if wW is not None else np.ones(n)
    gee = None if gee_inputs is None else _alt(
        "generalized_estimating_equations", "models the repeated binary outcome with covariates or unbalanced data; "
        "population-averaged, needs more subjects.", gee_inputs)
    if between:
        top = _suggestion("generalized_estimating_equations", f"{subj_desc}; the outcome is binary and {between[0]!r} splits the "
                          "subjects into groups: a logistic GEE (exchangeable correlation within subject) models the condition, "
                          "the group and their interaction.", gee_inputs)
        return found([top])
    if k == 2:
        a, b = W[:, 0], W[:, 1]
        n01 = float(np.sum(weights[(a == 1) & (b == 0)]))
        n10 = float(np.sum(weights[(a == 0) & (b == 1)]))
        disc = n01 + n10
        rec = ck.record("discordant pairs for the chi-square version (>= 25)", disc, None, bool(disc >= 25),
                        f"{int(n01)} + {int(n10)} = {int(disc)} discordant pairs; with fewer than 25 the exact (binomial) McNemar test is used")
        warn = [] if disc >= 25 else [f"only {int(disc)} discordant pairs: use the exact McNemar test"]
        if disc == 0:
            warn.append("no discordant pairs: the two conditions never differ")
        if d.wide:
            inputs = cell_inputs(outcome=d.outcome[0], group=d.outcome[1], weights=d.weights)
        else:
            inputs = cell_inputs(**inputs_base)
        orr = _effect("odds ratio (discordant pairs)", (n10 / n01) if n01 > 0 else None)
        top = _suggestion("mcnemar", f"{subj_desc}; the outcome is binary and measured twice on the same subjects "
                          f"(N = {int(weights.sum())} pairs{', counts from ' + repr(d.weights) if d.weights else ''}): McNemar's "
                          "test compares the two proportions using the discordant pairs.", inputs, [rec], warn, orr)
        alts = [gee] if gee else []
        if not d.weights:
            alts.insert(0, _alt("cochran_q", "Cochran's Q with two conditions equals McNemar's chi-square without continuity "
                                "correction; McNemar is the usual name and offers the exact version.",
                                cell_inputs(**inputs_base, success=success_input)))
        return found([top] + alts)
    row = W.sum(axis=1)
    col = (W * weights[:, None]).sum(axis=0)
    N = float((row * weights).sum())
    informative = float(np.sum(weights[(row > 0) & (row < k)]))
    den = k * N - float(np.sum(weights * row**2))
    q = (k - 1) * (k * float(np.sum(col**2)) - N**2) / den if den > 0 else float("nan")
    eff = _effect("eta squared (Q / (n (k - 1)))", q / (float(weights.sum()) * (k - 1)) if math.isfinite(q) else None)
    rec = ck.record("enough informative subjects (n x k >= 24)", informative * k, None, bool(informative * k >= 24),
                    f"{int(informative)} subjects are not all-0 or all-1; with {k} conditions that is {int(informative * k)} "
                    "(>= 24 for the chi-square approximation)")
    warn = [] if rec["passed"] else ["few informative subjects: the chi-square approximation of Cochran's Q is rough; "
                                     "an exact permutation test is safer"]
    inputs = cell_inputs(**inputs_base, success=success_input)
    notes = NO_NOTES
    if d.weights:
        notes = notes.warn("Cochran's Q on an aggregated table: expand the rows by the counts first (the cell takes one row per subject)")
    top = _suggestion("cochran_q", f"{subj_desc}; the outcome is binary and measured {k} times on the same subjects: Cochran's Q "
                      "tests whether the proportion is the same in every condition.", inputs, [rec], warn, eff,
                      posthoc="pairwise McNemar tests with Holm correction")
    return found([top, gee], notes)
