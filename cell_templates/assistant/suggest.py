"""Suggest the statistical test a statistician would pick, following ../shared/STATS.md.

``suggest(df, outcome, ...)`` returns ``{"profile", "suggestions", "design"}``:
``suggestions[0]`` is the recommendation and the rest are alternatives, each saying
why it ranks lower. Every suggestion carries the assumption checks that led to it,
an effect size, a post-hoc where one applies, warnings, and ``template`` + ``inputs``
that insert a runnable cell (template ``stat-<test id with dashes>``).

Policy, in order: the level of measurement of the outcome first; then the layout
(one sample, independent groups, repeated measures, several factors, covariates,
a contingency table, two variables' association, prediction); then the assumption
checks (Shapiro-Wilk per group / on differences / on residuals, Levene centred on the
median, Mauchly, Cochran's expected-count rule, Breslow-Day, slopes, events per
predictor). Checks run on a seeded sample (5000 per group) so large data cost little
and the answer is always the same.

How the work is split: :func:`~cell_templates.assistant.design.resolve` turns the
roles into a frozen :class:`~cell_templates.assistant.design.Design`; this module
picks the family of tests for it; one function per layout (``one_sample``,
``groups``, ``factorial``, ``ancova``, ``correlation``, ``regression``, ``logistic``,
``clustered``, ``proportions``, ``contingency``, ``stratified``, ``repeated``) checks
the assumptions and returns a :class:`~cell_templates.assistant.finding.Finding`.
"""

from __future__ import annotations

import dataclasses

from .association import correlation
from .build import TITLES, _dedupe
from .data import Roles
from .design import Design, numeric_codes, outcome_class, resolve
from .finding import NO_NOTES, Finding
from .groups import ancova, factorial, groups
from .models import clustered, logistic, regression
from .one_sample import one_sample
from .repeated import repeated
from .tables import contingency, proportions, stratified


def suggest(df, outcome, predictors=(), between=None, within=None, covariates=None, subject=None, weights=None,
            strata=None, test_value=None, expected=None, goal=None, levels=None) -> dict:
    """Profile the columns of the design and rank the tests that fit it (see the module doc).

    ``outcome`` is a column, or a list of columns for wide repeated measures (one row per
    subject). ``predictors`` are columns whose role the assistant infers (factor, covariate,
    within-subject factor, subject id); ``between`` / ``within`` / ``covariates`` / ``subject``
    fix roles; ``weights`` is the count column of an aggregated table; ``strata`` a
    stratification factor; ``test_value`` the value (or proportion) of a one-sample test;
    ``expected`` maps categories to expected proportions; ``goal`` is ``difference``,
    ``association`` or ``prediction``; ``levels`` overrides the inferred level of columns.

    Raises :class:`AssistantError` (code ``invalid_design``) with one ``{path, message}`` per
    problem when the design cannot be analysed.
    """
    roles = Roles(df, outcome, predictors, between, within, covariates, subject, weights, strata,
                  test_value, expected, goal, levels)
    d = resolve(roles)
    finding = decide(d)
    notes = d.notes + finding.notes
    suggestions = _text_levels(d, finding.suggestions)
    for s in suggestions:
        s["warnings"] = _dedupe(list(notes.warnings) + s["warnings"])
        s["assumptions"] = [{k: a.get(k) for k in ("name", "statistic", "p", "passed", "detail")} for a in s["assumptions"]]
    design = d.describe()
    design.update(finding.facts)
    design["sampled"] = finding.sampled
    design["assumed"] = list(notes.assumed)
    design["warnings"] = _dedupe(list(notes.warnings))
    design["goal_given"] = roles.goal
    design["goal"] = roles.goal or _GOAL_OF_LAYOUT.get(design.get("layout"), "difference")
    return {"profile": d.data.profile(), "suggestions": suggestions, "design": design}


_GOAL_OF_LAYOUT = {"correlation": "association", "regression": "prediction", "clustered": "prediction"}


def decide(d: Design) -> Finding:
    """The family of tests for the design: repeated measures, a categorical or a numeric outcome."""
    if d.wide or d.within:
        return repeated(d)
    oc = outcome_class(d.data, d.outcome)
    finding = categorical_outcome(d, oc) if oc in ("binary", "nominal") else numeric_outcome(d, oc)
    return finding.after(outcome_class=oc)


def _clustered_rows(d: Design) -> bool:
    """Several rows per subject and something to compare: a model with the subject as a cluster."""
    return (d.subject is not None and d.data.entry(d.subject)["distinct"] < d.n_used
            and bool(d.between or d.numeric))


def numeric_outcome(d: Design, oc: str) -> Finding:
    """A continuous or ordinal outcome."""
    factors, conts = list(d.between), d.numeric
    level = d.data.level(d.outcome)
    if _clustered_rows(d):
        return clustered(d, oc, factors, conts)
    if d.goal == "prediction" and (factors or conts):
        return regression(d, oc, level)
    if not factors and not conts:
        return one_sample(d, oc)
    if not factors:
        if len(conts) == 1 and d.goal != "prediction":
            notes = NO_NOTES
            if d.goal is None:
                notes = notes.assume("no goal given and one numeric predictor: association (a correlation); "
                                     "pass goal='prediction' for a regression")
            return correlation(d, conts[0]).after(notes)
        return regression(d, oc, level)
    if not conts:
        if len(factors) == 1:
            return groups(d, oc, factors[0])
        if oc == "ordinal":
            return regression(d, oc, level, why="an ordinal outcome with several factors")
        return factorial(d, factors)
    if oc == "ordinal":
        return regression(d, oc, level, why="an ordinal outcome with a factor and covariates")
    if len(factors) == 1:
        return ancova(d, factors[0], conts)
    notes = NO_NOTES.warn("several factors with covariates: analysed as a linear regression (an ANCOVA with several factors)")
    return regression(d, oc, level).after(notes)


def categorical_outcome(d: Design, oc: str) -> Finding:
    """A binary or nominal outcome."""
    data = d.data
    factors, conts = list(d.between), d.numeric
    if _clustered_rows(d):
        return clustered(d, oc, factors, conts)
    if not factors and not conts:
        return proportions(d, oc)
    if oc == "nominal" and conts and not factors:
        x, old = conts[0], d.outcome
        notes = NO_NOTES.assume(f"{old!r} is nominal with {data.entry(old)['distinct']} categories and {x!r} is numeric: "
                                f"compared {x!r} across the {old!r} groups (multinomial regression is not offered)")
        swapped = dataclasses.replace(d, outcome=x, between=(old,), covariates=(), numeric_predictors=())
        return groups(swapped, outcome_class(data, x), old).after(notes)
    if oc == "binary" and (d.goal == "prediction" or conts or len(factors) >= 2):
        notes = NO_NOTES
        if d.goal is None and len(factors) + len(conts) >= 1:
            notes = notes.assume(f"binary outcome {d.outcome!r} with {'numeric predictors' if conts else 'several factors'}: "
                                 "a logistic regression (prediction / adjustment)")
        return logistic(d, factors + conts).after(notes)
    factor = factors[0]
    notes = NO_NOTES
    if len(factors) > 1:
        notes = notes.warn(f"only {factor!r} is crossed with {d.outcome!r}; the other factors are ignored")
    if d.strata is not None:
        return stratified(d, factor).after(notes)
    return contingency(d, factor).after(notes)


_NUMERIC_ONLY = {"independent_t", "welch_t", "one_way_anova", "welch_anova", "one_sample_t", "paired_t", "rm_anova",
                 "linear_regression", "pearson", "mixed_anova"}


def _text_levels(d: Design, suggestions) -> list[dict]:
    """An ordinal outcome stored as text (or an ordered categorical of text): the cells read numbers,
    so parametric alternatives go and the rank tests say how to recode."""
    suggestions = list(suggestions)
    data = d.data
    texty = [c for c in d.outcomes if data.level(c) == "ordinal" and not numeric_codes(d.df[c])]
    if not texty:
        return suggestions
    order = data.entry(texty[0])["summary"].get("order") or data.entry(texty[0])["summary"].get("categories")
    how = (f"the cell needs numbers: recode the ordered levels of {', '.join(map(repr, texty))} as 1..k first, e.g. "
           f"df[{texty[0]!r}] = pd.Categorical(df[{texty[0]!r}], categories={order!r}, ordered=True).codes + 1")
    out = [suggestions[0]] + [s for s in suggestions[1:] if s["test"] not in _NUMERIC_ONLY]
    from .. import builtin_templates

    library = builtin_templates()
    for s in out:
        template = library.get(s["template"])
        takes_order = template is not None and "order" in (template.inputs.get("properties") or {})
        if takes_order and order and len(texty) == 1:
            s["inputs"] = {**s["inputs"], "order": list(order)}  # the cell ranks the text levels in this order
        elif s["test"] != "ordinal_logistic_regression":
            s["warnings"].append(how)
    return out


__all__ = ["suggest", "decide", "numeric_outcome", "categorical_outcome", "TITLES"]
