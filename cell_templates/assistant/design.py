"""The design of one suggestion, resolved once and then frozen.

:func:`resolve` checks each column for its role, infers what the caller left
open (the role of each predictor, the subject column, which factors vary within
subjects), drops incomplete rows once (listwise, as the generated cells do) and
returns a :class:`Design`. Nothing changes a design afterwards: the families of
tests read it and return a :class:`~cell_templates.assistant.finding.Finding`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .common import SAMPLE_PER_GROUP, SEED, plain
from .data import Data, Roles, fail, find_subject, within_structure
from .finding import NO_NOTES, Notes, cell_inputs

CONTINUOUS = ("interval", "ratio")
MAX_GROUPS = 200


@dataclass(frozen=True)
class Design:
    """The roles after inference, over the complete rows.

    ``outcome`` is a column, or a tuple of columns for wide repeated measures
    (``wide``); ``between`` / ``within`` are the factors, ``covariates`` the
    covariates as given and ``numeric_predictors`` the predictors used as
    numbers; ``notes`` are what resolving assumed and warned about.
    """

    roles: Roles
    data: Data
    outcome: object
    wide: bool
    between: tuple
    within: tuple
    covariates: tuple
    numeric_predictors: tuple
    subject: object
    weights: object
    strata: object
    goal: str | None
    n_rows: int
    n_used: int
    n_dropped: int
    notes: Notes = NO_NOTES

    @property
    def df(self) -> pd.DataFrame:
        return self.roles.df

    @property
    def outcomes(self) -> list:
        """The outcome columns (one unless wide)."""
        return list(self.outcome) if self.wide else [self.outcome]

    @property
    def numeric(self) -> list:
        """Covariates and numeric predictors: the columns a model uses as numbers."""
        return list(self.covariates) + list(self.numeric_predictors)

    def path(self, col) -> str:
        """The JSON path of the role that names ``col`` (``/between`` for an inferred factor)."""
        p = self.roles.path(col)
        if p:
            return p
        if col == self.strata:
            return "/strata"
        return "/between"

    def describe(self) -> dict:
        """The result's ``design`` before the families add their facts."""
        return {
            "outcome": [plain(c) for c in self.outcome] if self.wide else plain(self.outcome),
            "outcome_level": None if self.wide else self.data.level(self.outcome),
            "layout": None,
            "format": "wide" if self.wide else ("long" if self.within else None),
            "paired": bool(self.wide or self.within),
            "between": [plain(c) for c in self.between],
            "within": [plain(c) for c in self.within],
            "covariates": [plain(c) for c in self.numeric],
            "subject": plain(self.subject),
            "weights": plain(self.weights),
            "strata": plain(self.strata),
            "goal": self.goal,
            "test_value": self.roles.test_value,
            "n_rows": self.n_rows,
            "n_used": self.n_used,
            "n_dropped": self.n_dropped,
            "sample_per_group": SAMPLE_PER_GROUP,
            "seed": SEED,
            "sampled": False,
            "assumed": list(self.notes.assumed),
        }


def factor_like(e) -> bool:
    """A profile entry whose values can define groups: categories, or few ordered values / counts."""
    level, d = e["level"], e["distinct"]
    if level in ("binary", "nominal"):
        return True
    return level in ("ordinal", "count") and d <= 10


def outcome_class(data: Data, col) -> str:
    """``binary``, ``nominal``, ``ordinal`` or ``continuous``: what decides the family of tests."""
    e = data.entry(col)
    level, d = e["level"], e["distinct"]
    if level == "binary" or d == 2:
        return "binary"
    if level == "nominal":
        return "nominal"
    if level == "ordinal":
        return "ordinal"
    if level == "count":
        return "ordinal" if d <= 10 else "continuous"
    return "continuous"


def numeric_codes(series) -> bool:
    """Numbers (not booleans): a cell can use the values as they are."""
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def raw_codes(series) -> np.ndarray:
    codes, _ = pd.factorize(series)
    return codes.astype(np.int64)


# ---------------------------------------------------------------------------------- resolve


def _check_column(data: Data, col, path, *, role):
    e = data.entry(col)
    if e["level"] is None:
        fail(path, f"every value of {col!r} is missing")
    if e["distinct"] == 1 and role in ("outcome", "factor", "covariate", "strata"):
        value = next(iter(e["summary"].get("counts", {"": 0})), None) if e["summary"].get("counts") else e["summary"].get("min")
        what = "only one group" if role in ("factor", "strata") else "constant"
        fail(path, f"{col!r} is {what} (every value is {value!r}): nothing to compare")
    return e


def _check_outcomes(roles: Roles, data: Data):
    outs = roles.outcome if roles.wide else [roles.outcome]
    for i, col in enumerate(outs):
        path = f"/outcome/{i}" if roles.wide else roles.path(col)
        e = data.entry(col)
        if e["level"] is None:
            fail(path, f"every value of {col!r} is missing")
        if e["level"] in ("datetime", "text", "identifier"):
            fail(path, f"{col!r} is {e['level']} ({e['reason']}): it cannot be an outcome; set levels={{{col!r}: ...}} if it is a measurement")
        if e["distinct"] == 1 and not roles.wide:
            fail(path, f"{col!r} is constant: there is nothing to test")


def _check_given_roles(roles: Roles, data: Data) -> Notes:
    notes = NO_NOTES
    for col in roles.lists["between"]:
        e = _check_column(data, col, roles.path(col), role="factor")
        if e["level"] in ("text", "datetime"):
            fail(roles.path(col), f"{col!r} is {e['level']}: it cannot define groups")
        if e["level"] in CONTINUOUS and e["distinct"] > 20:
            notes = notes.warn(f"{col!r} has {e['distinct']} distinct numeric values but was given as a between factor: each value is a group")
    for col in roles.lists["within"]:
        _check_column(data, col, roles.path(col), role="factor")
    for col in roles.lists["covariates"]:
        e = _check_column(data, col, roles.path(col), role="covariate")
        if e["level"] in ("text", "datetime", "identifier"):
            fail(roles.path(col), f"{col!r} is {e['level']}: it cannot be a covariate")
        if e.get("in_models") == "categories":
            notes = notes.warn(f"{col!r} holds {e['distinct']} integer codes and was given as a covariate: the model uses it as "
                               f"a number; pass it as between=... if the codes are categories")
    strata, weights, subject = roles.single["strata"], roles.single["weights"], roles.single["subject"]
    if strata is not None:
        _check_column(data, strata, "/strata", role="strata")
    if weights is not None:
        e = data.entry(weights)
        if e["level"] is None:
            fail("/weights", f"every value of {weights!r} is missing")
        if e["level"] not in ("count", "ratio", "ordinal", "binary", "interval") or e["summary"].get("min") is None:
            fail("/weights", f"{weights!r} must hold counts (non-negative numbers)")
        if e["summary"]["min"] < 0:
            fail("/weights", f"{weights!r} has negative values: weights are counts of an aggregated table")
    if subject is not None:
        e = data.entry(subject)
        if e["level"] is None:
            fail("/subject", f"every value of {subject!r} is missing")
    return notes


@dataclass(frozen=True)
class _Roles:
    """The roles while they are being inferred (each step returns a new one)."""

    between: tuple
    within: tuple
    numeric_predictors: tuple
    subject: object
    notes: Notes


def _predictors(roles: Roles, data: Data, r: _Roles) -> _Roles:
    """Infer each predictor's role: a factor, a number, or the subject id."""
    between, numeric, subject, notes = list(r.between), list(r.numeric_predictors), r.subject, r.notes
    ordered_as_groups = []
    codes_as_numbers = []
    for col in roles.lists["predictors"]:
        path = roles.path(col)
        e = _check_column(data, col, path, role="factor")
        level = e["level"]
        if level in ("text", "datetime"):
            fail(path, f"{col!r} is {level} ({e['reason']}): it cannot be a predictor")
        if level == "identifier":
            if subject is None and not roles.wide and e["distinct"] < e["n"]:
                subject = col
                notes = notes.assume(f"{col!r} identifies subjects (it is an identifier that repeats), so rows with the same {col!r} are paired")
                continue
            fail(path, f"{col!r} is an identifier ({e['reason']}): it cannot be a predictor")
        if level in ("binary", "nominal"):
            between.append(col)
        elif factor_like(e):
            ordered_as_groups.append(col)
        else:
            numeric.append(col)
            if e.get("in_models") == "numbers":
                codes_as_numbers.append(col)
    # Ordered predictors with few values (a dose, a month, a rating) are groups when they stand
    # alone with the outcome; beside numeric predictors, or for prediction / association, they
    # enter a model: integer codes as categories (the profile's ``in_models``), others as numbers.
    numeric_context = roles.goal in ("prediction", "association") or bool(numeric) or bool(roles.lists["covariates"])
    two_ordinal = (not roles.wide and len(roles.lists["predictors"]) == 1 and bool(ordered_as_groups) and not between
                   and data.level(roles.outcome) == "ordinal" and roles.goal != "difference")
    if two_ordinal:
        numeric_context = True  # two ordinal variables: an association (rank correlation)
    # One predictor and the question is association: a correlation, which reads codes as ordered values.
    correlation = (two_ordinal or roles.goal == "association") and roles.goal != "prediction" \
        and _single_predictor(roles) and outcome_class(data, roles.outcome) not in ("binary", "nominal")
    for col in ordered_as_groups:
        e = data.entry(col)
        if numeric_context and e.get("in_models") == "categories" and not correlation:
            between.append(col)
            notes = notes.assume(f"{col!r} holds {e['distinct']} integer codes: the model uses them as categories, C({col}); "
                                 f"pass levels={{{col!r}: 'interval'}} to use it as a number")
        elif numeric_context:
            numeric.append(col)
            notes = notes.assume(f"{col!r} ({e['distinct']} ordered values) is used as a number; pass it as between=... to treat it as groups")
        else:
            between.append(col)
            notes = notes.assume(f"{col!r} ({e['distinct']} ordered values) is treated as groups; pass it as a covariate or "
                                 "goal='association' to treat it as a number")
    for col in codes_as_numbers:
        notes = notes.warn(f"{col!r} holds {data.entry(col)['distinct']} integer codes, used as a number as levels says "
                           f"{roles.overrides[col]!r}: equal steps between the codes are assumed")
    return _Roles(tuple(between), r.within, tuple(numeric), subject, notes)


def _single_predictor(roles: Roles) -> bool:
    """One predictor and no other role besides the outcome (a pair of variables)."""
    return (not roles.wide and len(roles.lists["predictors"]) == 1 and not roles.lists["between"]
            and not roles.lists["within"] and not roles.lists["covariates"] and roles.single["subject"] is None)


def _pairing(roles: Roles, data: Data, r: _Roles) -> _Roles:
    """Decide which factors vary within subjects (pairing through a repeated subject id)."""
    between, within, subject, notes = list(r.between), list(r.within), r.subject, r.notes
    df = roles.df
    if roles.wide:
        if within:
            notes = notes.warn("the outcome is a list of columns (wide format): 'within' only names the factor they form")
        return _Roles(r.between, r.within, r.numeric_predictors, subject, notes)
    if subject is None and within:
        found = find_subject(data, set(roles.used()))
        if not found:
            fail("/subject", "a within-subject factor needs the subject column (which rows belong to the same subject)")
        subject = found[0]
        notes = notes.assume(f"{subject!r} identifies the subjects (its name says identifier and its values repeat)")
    if subject is None and between:
        for cand in find_subject(data, set(roles.used())):
            s_codes = raw_codes(df[cand])
            moved = []
            for col in list(between):
                f_codes = raw_codes(df[col])
                ok = (s_codes >= 0) & (f_codes >= 0)
                share, most = within_structure(s_codes[ok], f_codes[ok])
                if share >= 0.8 and most == 1:
                    moved.append(col)
            if moved:
                subject = cand
                for col in moved:
                    between.remove(col)
                    within.append(col)
                notes = notes.assume(f"pairing inferred: {cand!r} repeats and each {cand!r} has one row in each level of "
                                     f"{', '.join(map(repr, moved))}, so these are within-subject (repeated) measures")
                break
        return _Roles(tuple(between), tuple(within), r.numeric_predictors, subject, notes)
    if subject is None:
        return _Roles(r.between, r.within, r.numeric_predictors, subject, notes)
    s_codes = raw_codes(df[subject])
    if (s_codes >= 0).sum() == np.unique(s_codes[s_codes >= 0]).size:
        if within:
            fail(roles.path(within[0]) or "/within",
                 f"each {subject!r} has a single row, so nothing varies within subjects; for wide data pass the "
                 "conditions as a list of outcome columns")
        return _Roles(r.between, r.within, r.numeric_predictors, subject, notes)
    for col in list(between):
        f_codes = raw_codes(df[col])
        ok = (s_codes >= 0) & (f_codes >= 0)
        share, _ = within_structure(s_codes[ok], f_codes[ok])
        if share > 0.5:
            between.remove(col)
            within.append(col)
            if col in roles.lists["between"]:
                notes = notes.warn(f"{col!r} was given as a between factor but varies within {subject!r}: treated as within-subject")
            else:
                notes = notes.assume(f"{col!r} varies within {subject!r}: a within-subject (repeated) factor")
        elif share > 0:
            notes = notes.warn(f"some subjects appear in several levels of {col!r}: observations are not fully independent")
    for col in list(within):
        f_codes = raw_codes(df[col])
        ok = (s_codes >= 0) & (f_codes >= 0)
        share, _ = within_structure(s_codes[ok], f_codes[ok])
        if share == 0:
            within.remove(col)
            between.append(col)
            notes = notes.warn(f"{col!r} was given as within-subject but never varies within {subject!r}: treated as between-subjects")
    return _Roles(tuple(between), tuple(within), r.numeric_predictors, subject, notes)


def resolve(roles: Roles) -> Design:
    """The design of ``roles``: every column checked, open roles inferred, incomplete rows dropped."""
    data = Data(roles)
    _check_outcomes(roles, data)
    r = _Roles(tuple(roles.lists["between"]), tuple(roles.lists["within"]), (), roles.single["subject"],
               _check_given_roles(roles, data))
    r = _pairing(roles, data, _predictors(roles, data, r))
    between, notes = list(r.between), r.notes
    strata, weights, wide = roles.single["strata"], roles.single["weights"], roles.wide
    # strata with a non-categorical outcome become a further factor
    if strata is not None and not wide and not r.within:
        oc = outcome_class(data, roles.outcome)
        if oc not in ("binary", "nominal"):
            between.append(strata)
            notes = notes.assume(f"strata {strata!r} with a {oc} outcome: analysed as a further between-subjects factor")
    if weights is not None:
        cats = wide and all(outcome_class(data, c) in ("binary", "nominal") for c in roles.outcome)
        if not cats and not (not wide and outcome_class(data, roles.outcome) in ("binary", "nominal")):
            fail("/weights", "weights are the counts of an aggregated table: they apply to a categorical outcome "
                 "(contingency tables, proportions, McNemar); expand the rows for a numeric outcome")
    # complete rows
    used = [c for c in roles.used() if c is not None and not (wide and c in roles.outcome)]
    if r.subject is not None and r.subject not in used:
        used.append(r.subject)
    if not wide:
        used = list(dict.fromkeys([roles.outcome] + used))
    data, kept, dropped = data.restricted(used)
    if dropped:
        notes = notes.warn(f"{dropped} of {len(roles.df)} rows have a missing value in the columns used and are left out")
    size = kept if weights is None else float(np.nansum(data.numeric(weights)))
    if kept == 0 or size < 3:
        fail("", f"only {plain(size)} complete {'rows' if weights is None else 'counted observations'} "
             "in the columns used: too few to analyse")
    design = Design(
        roles=roles, data=data, outcome=tuple(roles.outcome) if wide else roles.outcome, wide=wide,
        between=tuple(between), within=r.within, covariates=tuple(roles.lists["covariates"]),
        numeric_predictors=r.numeric_predictors, subject=r.subject, weights=weights, strata=strata, goal=roles.goal,
        n_rows=int(len(roles.df)), n_used=kept, n_dropped=dropped, notes=notes)
    for col in design.between + design.within + ((strata,) if strata is not None else ()):
        _, labels = data.codes(col)
        if len(labels) < 2:
            fail(design.path(col), f"{col!r} has only one group ({labels[0]!r}) in the complete rows: nothing to compare")
        if len(labels) > MAX_GROUPS:
            fail(design.path(col), f"{col!r} has {len(labels)} distinct values: too many groups to compare "
                 f"(at most {MAX_GROUPS}); pass it as a covariate or predictor if it is a measurement")
    return design


def regression_inputs(d: Design, preds, **kw) -> dict:
    """Inputs of a regression cell: predictors, plus ``categorical`` for numeric codes treated as groups."""
    coded = [c for c in preds if c in d.between and numeric_codes(d.df[c]) and d.data.entry(c)["distinct"] > 2]
    return cell_inputs(outcome=d.outcome, predictors=list(preds), categorical=coded or None, **kw)
