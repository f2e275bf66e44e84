"""Building blocks of suggestions: titles, the pre-test caveat, effect sizes and safe checks."""

from __future__ import annotations

from . import checks as ck
from .common import num, template_id

TITLES = {
    "one_sample_t": "One-sample t-test",
    "one_sample_wilcoxon": "One-sample Wilcoxon signed-rank test",
    "sign_test": "Sign test",
    "binomial_test": "Exact binomial test",
    "one_proportion_z_test": "One-proportion z-test",
    "chi2_gof": "Chi-square goodness-of-fit test",
    "independent_t": "Student's t-test (independent samples)",
    "welch_t": "Welch's t-test",
    "mann_whitney": "Mann-Whitney U test",
    "brunner_munzel": "Brunner-Munzel test",
    "paired_t": "Paired t-test",
    "wilcoxon_signed_rank": "Wilcoxon signed-rank test (paired)",
    "mcnemar": "McNemar's test",
    "cochran_q": "Cochran's Q test",
    "one_way_anova": "One-way ANOVA",
    "welch_anova": "Welch's ANOVA",
    "kruskal_wallis": "Kruskal-Wallis H test",
    "rm_anova": "Repeated-measures ANOVA",
    "friedman": "Friedman test",
    "mixed_anova": "Mixed ANOVA (between x within)",
    "factorial_anova": "Factorial ANOVA",
    "ancova": "ANCOVA",
    "chi2_independence": "Chi-square test of independence",
    "fisher_exact": "Fisher's exact test",
    "cochran_mantel_haenszel": "Cochran-Mantel-Haenszel test",
    "pearson": "Pearson correlation",
    "spearman": "Spearman rank correlation",
    "kendall": "Kendall's tau-b",
    "robust_correlation": "Robust correlation (skipped / shepherd)",
    "linear_regression": "Linear regression",
    "logistic_regression": "Logistic regression",
    "ordinal_logistic_regression": "Ordinal logistic regression (proportional odds)",
    "poisson_regression": "Poisson regression",
    "negative_binomial_regression": "Negative binomial regression",
    "linear_mixed_model": "Linear mixed model",
    "generalized_estimating_equations": "Generalized estimating equations (GEE)",
}

PRETEST = ("Choosing a test by testing its assumptions on the same data has a cost: the two-stage procedure "
           "slightly changes the error rates of the test that follows, pre-tests miss real departures in small "
           "samples and flag trivial ones in large samples; when in doubt, prefer the test that needs fewer assumptions.")


def _dedupe(items):
    out = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def _effect(name, value):
    value = num(value, 4)
    return None if value is None else {"name": name, "value": value}


def _suggestion(test, rationale, inputs, assumptions=(), warnings=(), effect=None, posthoc=None, title=None):
    return {
        "test": test,
        "title": title or TITLES[test],
        "rationale": rationale,
        "assumptions": [a for a in assumptions if a],
        "warnings": list(warnings),
        "effect_size": effect,
        "posthoc": posthoc,
        "template": template_id(test),
        "inputs": inputs,
    }


def _alt(test, why, inputs, **kw):
    return _suggestion(test, "Alternative, ranked lower: " + why, inputs, **kw)


def _safe(fn, name, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # a check must never break the suggestion
        return ck.record(name, passed=None, detail=f"could not run: {exc}")


def _safe_num(fn, *args):
    try:
        return fn(*args)
    except Exception:
        return None


def _safe_pair(fn, W, label="sphericity"):
    try:
        return fn(W, label)
    except Exception as exc:
        return ck.record(label, passed=None, detail=f"could not run: {exc}"), None
