"""Shared pieces of the assistant: the error class, the vocabularies, JSON-safe numbers."""

from __future__ import annotations

import math

from ..errors import DatadiveError
from ..jsonsafe import json_safe

#: Levels of measurement a column can have (``profile`` gives one of these, or None
#: for a column whose values are all missing).
LEVELS = ("nominal", "ordinal", "interval", "ratio", "binary", "count", "datetime", "identifier", "text")

#: Test ids of ../shared/STATS.md: every suggestion's ``test`` is one of these.
VOCABULARY = (
    "one_sample_t", "one_sample_wilcoxon", "sign_test", "binomial_test", "one_proportion_z_test",
    "chi2_gof", "independent_t", "welch_t", "mann_whitney", "brunner_munzel", "paired_t",
    "wilcoxon_signed_rank", "mcnemar", "cochran_q", "one_way_anova", "welch_anova",
    "kruskal_wallis", "rm_anova", "friedman", "mixed_anova", "factorial_anova", "ancova",
    "chi2_independence", "fisher_exact", "cochran_mantel_haenszel", "pearson", "spearman",
    "kendall", "robust_correlation", "linear_regression", "logistic_regression",
    "ordinal_logistic_regression", "poisson_regression", "negative_binomial_regression",
    "linear_mixed_model", "generalized_estimating_equations",
)

GOALS = ("difference", "association", "prediction")

#: Assumption checks run on at most this many rows per group (a seeded sample).
SAMPLE_PER_GROUP = 5000
#: Correlations and regressions check assumptions on at most this many rows.
SAMPLE_ROWS = 5000
#: The seed of every sample: the same data always gives the same answer.
SEED = 20240601
ALPHA = 0.05


class AssistantError(DatadiveError):
    """The design cannot be analysed as given; ``errors`` name each problem's path
    (``/outcome``, ``/between/0``, ``/levels/age`` ...) and what is wrong."""

    code = "invalid_design"


def template_id(test: str) -> str:
    """``stat-`` + the test id with ``_`` -> ``-`` (``independent_t`` -> ``stat-independent-t``)."""
    return "stat-" + test.replace("_", "-")


def num(value, digits: int = 6):
    """A JSON-safe number (None for NaN / inf / None), rounded to ``digits`` significant figures."""
    value = json_safe(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if not isinstance(value, float):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def plain(value):
    """A JSON-safe version of a scalar read from a frame (numpy / pandas scalars -> Python, 2.0 -> 2)."""
    return json_safe(value, whole=True)


def fmt_p(p) -> str:
    if p is None or not math.isfinite(p):
        return "p = n/a"
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)
