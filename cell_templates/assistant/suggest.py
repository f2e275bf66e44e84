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
"""

from __future__ import annotations

import math

import numpy as np

from . import checks as ck
from .build import PRETEST, TITLES, _alt, _dedupe, _effect, _safe, _safe_num, _suggestion
from .common import ALPHA, SAMPLE_PER_GROUP, SAMPLE_ROWS, SEED, AssistantError, fmt_p, plain
from .data import Data, Roles, fail, find_subject, within_structure
from .repeated import RepeatedMixin
from .tables import CategoricalMixin

CONTINUOUS = ("interval", "ratio")
MAX_GROUPS = 200


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
    run = _Run(roles)
    run.prepare()
    suggestions = run.text_levels(run.decide())
    for s in suggestions:
        s["warnings"] = _dedupe(run.warnings + s["warnings"])
        s["assumptions"] = [{k: a.get(k) for k in ("name", "statistic", "p", "passed", "detail")} for a in s["assumptions"]]
    run.design["warnings"] = _dedupe(run.warnings)
    run.design["goal_given"] = roles.goal
    run.design["goal"] = roles.goal or _GOAL_OF_LAYOUT.get(run.design.get("layout"), "difference")
    return {"profile": run.data.profile(), "suggestions": suggestions, "design": run.design}


_GOAL_OF_LAYOUT = {"correlation": "association", "regression": "prediction", "clustered": "prediction"}


class _Run(CategoricalMixin, RepeatedMixin):
    """One suggestion run: roles resolved, columns profiled, then the policy's branches."""

    def __init__(self, roles: Roles):
        self.roles = roles
        self.data = Data(roles)
        self.df = roles.df
        self.warnings: list[str] = []
        self.assumed: list[str] = []
        self.gen = np.random.default_rng(SEED)
        self.sampled = False
        self.goal = roles.goal
        self.outcome = roles.outcome
        self.wide = roles.wide
        self.between = list(roles.lists["between"])
        self.within = list(roles.lists["within"])
        self.covariates = list(roles.lists["covariates"])
        self.cont_preds: list = []
        self.subject = roles.single["subject"]
        self.weights = roles.single["weights"]
        self.strata = roles.single["strata"]
        self.design: dict = {}
        self.success_input = None

    # -- preparation ---------------------------------------------------------

    def assume(self, text):
        self.assumed.append(text)
        self.warnings.append("Assumed: " + text)

    def _check_column(self, col, path, *, role):
        e = self.data.entry(col)
        if e["level"] is None:
            fail(path, f"every value of {col!r} is missing")
        if e["distinct"] == 1 and role in ("outcome", "factor", "covariate", "strata"):
            value = next(iter(e["summary"].get("counts", {"": 0})), None) if e["summary"].get("counts") else e["summary"].get("min")
            what = "only one group" if role in ("factor", "strata") else "constant"
            fail(path, f"{col!r} is {what} (every value is {value!r}): nothing to compare")
        return e

    def prepare(self):
        roles, data = self.roles, self.data
        outs = self.outcome if self.wide else [self.outcome]
        for i, col in enumerate(outs):
            path = f"/outcome/{i}" if self.wide else roles.path(col)
            e = data.entry(col)
            if e["level"] is None:
                fail(path, f"every value of {col!r} is missing")
            if e["level"] in ("datetime", "text", "identifier"):
                fail(path, f"{col!r} is {e['level']} ({e['reason']}): it cannot be an outcome; set levels={{{col!r}: ...}} if it is a measurement")
            if e["distinct"] == 1 and not self.wide:
                fail(path, f"{col!r} is constant: there is nothing to test")
        for col in self.between:
            e = self._check_column(col, roles.path(col), role="factor")
            if e["level"] in ("text", "datetime"):
                fail(roles.path(col), f"{col!r} is {e['level']}: it cannot define groups")
            if e["level"] in CONTINUOUS and e["distinct"] > 20:
                self.warnings.append(f"{col!r} has {e['distinct']} distinct numeric values but was given as a between factor: each value is a group")
        for col in self.within:
            self._check_column(col, roles.path(col), role="factor")
        for col in self.covariates:
            e = self._check_column(col, roles.path(col), role="covariate")
            if e["level"] in ("text", "datetime", "identifier"):
                fail(roles.path(col), f"{col!r} is {e['level']}: it cannot be a covariate")
        if self.strata is not None:
            self._check_column(self.strata, "/strata", role="strata")
        if self.weights is not None:
            e = data.entry(self.weights)
            if e["level"] is None:
                fail("/weights", f"every value of {self.weights!r} is missing")
            if e["level"] not in ("count", "ratio", "ordinal", "binary", "interval") or e["summary"].get("min") is None:
                fail("/weights", f"{self.weights!r} must hold counts (non-negative numbers)")
            if e["summary"]["min"] < 0:
                fail("/weights", f"{self.weights!r} has negative values: weights are counts of an aggregated table")
        if self.subject is not None:
            e = data.entry(self.subject)
            if e["level"] is None:
                fail("/subject", f"every value of {self.subject!r} is missing")
        # predictors: infer each one's role
        ordered_as_groups = []
        for i, col in enumerate(roles.lists["predictors"]):
            path = roles.path(col)
            e = self._check_column(col, path, role="factor")
            level = e["level"]
            if level in ("text", "datetime"):
                fail(path, f"{col!r} is {level} ({e['reason']}): it cannot be a predictor")
            if level == "identifier":
                if self.subject is None and not self.wide and e["distinct"] < e["n"]:
                    self.subject = col
                    self.assume(f"{col!r} identifies subjects (it is an identifier that repeats), so rows with the same {col!r} are paired")
                    continue
                fail(path, f"{col!r} is an identifier ({e['reason']}): it cannot be a predictor")
            if level in ("binary", "nominal"):
                self.between.append(col)
            elif self._factor_like(e):
                ordered_as_groups.append(col)
            else:
                self.cont_preds.append(col)
        # Ordered predictors with few values (a dose, a month, a rating) are groups when they stand
        # alone with the outcome; beside numeric predictors, or for prediction / association, numbers.
        numeric_context = self.goal in ("prediction", "association") or bool(self.cont_preds) or bool(self.covariates)
        if not self.wide and len(roles.lists["predictors"]) == 1 and ordered_as_groups and not self.between \
                and self.data.level(self.outcome) == "ordinal" and self.goal != "difference":
            numeric_context = True  # two ordinal variables: an association (rank correlation)
        for col in ordered_as_groups:
            e = self.data.entry(col)
            if numeric_context:
                self.cont_preds.append(col)
                self.assume(f"{col!r} ({e['distinct']} ordered values) is used as a number; pass it as between=... to treat it as groups")
            else:
                self.between.append(col)
                self.assume(f"{col!r} ({e['distinct']} ordered values) is treated as groups; pass it as a covariate or "
                            "goal='association' to treat it as a number")
        self._pairing()
        # strata with a non-categorical outcome become a further factor
        if self.strata is not None and not self.wide and not self.within:
            oc = self._oclass(self.outcome)
            if oc not in ("binary", "nominal"):
                self.between.append(self.strata)
                self.assume(f"strata {self.strata!r} with a {oc} outcome: analysed as a further between-subjects factor")
        if self.weights is not None:
            cats = self.wide and all(self._oclass(c) in ("binary", "nominal") for c in self.outcome)
            if not cats and not (not self.wide and self._oclass(self.outcome) in ("binary", "nominal")):
                fail("/weights", "weights are the counts of an aggregated table: they apply to a categorical outcome "
                     "(contingency tables, proportions, McNemar); expand the rows for a numeric outcome")
        # complete rows
        used = [c for c in self.roles.used() if c is not None and not (self.wide and c in self.outcome)]
        for extra in (self.subject,):
            if extra is not None and extra not in used:
                used.append(extra)
        if not self.wide:
            used = list(dict.fromkeys([self.outcome] + used))
        kept, dropped = data.set_rows(used)
        if dropped:
            self.warnings.append(f"{dropped} of {len(self.df)} rows have a missing value in the columns used and are left out")
        size = kept if self.weights is None else float(np.nansum(data.numeric(self.weights)))
        if kept == 0 or size < 3:
            fail("", f"only {plain(size)} complete {'rows' if self.weights is None else 'counted observations'} "
                 "in the columns used: too few to analyse")
        self.n_used = kept
        for col in self.between + self.within + ([self.strata] if self.strata is not None else []):
            codes, labels = data.codes(col)
            if len(labels) < 2:
                fail(self._path(col), f"{col!r} has only one group ({labels[0]!r}) in the complete rows: nothing to compare")
            if len(labels) > MAX_GROUPS:
                fail(self._path(col), f"{col!r} has {len(labels)} distinct values: too many groups to compare "
                     f"(at most {MAX_GROUPS}); pass it as a covariate or predictor if it is a measurement")
        self.design = {
            "outcome": plain(self.outcome) if not self.wide else [plain(c) for c in self.outcome],
            "outcome_level": None if self.wide else data.level(self.outcome),
            "layout": None,
            "format": "wide" if self.wide else ("long" if self.within else None),
            "paired": bool(self.wide or self.within),
            "between": [plain(c) for c in self.between],
            "within": [plain(c) for c in self.within],
            "covariates": [plain(c) for c in self.covariates + self.cont_preds],
            "subject": plain(self.subject),
            "weights": plain(self.weights),
            "strata": plain(self.strata),
            "goal": self.goal,
            "test_value": self.roles.test_value,
            "n_rows": int(len(self.df)),
            "n_used": kept,
            "n_dropped": dropped,
            "sample_per_group": SAMPLE_PER_GROUP,
            "seed": SEED,
            "sampled": False,
            "assumed": self.assumed,
        }

    def _path(self, col):
        p = self.roles.path(col)
        if p:
            return p
        if col == self.strata:
            return "/strata"
        return "/between"

    @staticmethod
    def _factor_like(e) -> bool:
        level, d = e["level"], e["distinct"]
        if level in ("binary", "nominal"):
            return True
        return level in ("ordinal", "count") and d <= 10

    def _oclass(self, col) -> str:
        e = self.data.entry(col)
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

    def _pairing(self):
        """Decide which factors vary within subjects (pairing through a repeated subject id)."""
        data = self.data
        if self.wide:
            if self.within:
                self.warnings.append("the outcome is a list of columns (wide format): 'within' only names the factor they form")
            return
        if self.subject is None and self.within:
            found = find_subject(data, set(self.roles.used()))
            if not found:
                fail("/subject", "a within-subject factor needs the subject column (which rows belong to the same subject)")
            self.subject = found[0]
            self.assume(f"{self.subject!r} identifies the subjects (its name says identifier and its values repeat)")
        if self.subject is None and self.between:
            for cand in find_subject(data, set(self.roles.used())):
                s_codes = _raw_codes(self.df[cand])
                moved = []
                for col in list(self.between):
                    f_codes = _raw_codes(self.df[col])
                    ok = (s_codes >= 0) & (f_codes >= 0)
                    share, most = within_structure(s_codes[ok], f_codes[ok])
                    if share >= 0.8 and most == 1:
                        moved.append(col)
                if moved:
                    self.subject = cand
                    for col in moved:
                        self.between.remove(col)
                        self.within.append(col)
                    self.assume(f"pairing inferred: {cand!r} repeats and each {cand!r} has one row in each level of "
                                f"{', '.join(map(repr, moved))}, so these are within-subject (repeated) measures")
                    break
            return
        if self.subject is None:
            return
        s_codes = _raw_codes(self.df[self.subject])
        if (s_codes >= 0).sum() == np.unique(s_codes[s_codes >= 0]).size:
            if self.within:
                fail(self.roles.path(self.within[0]) or "/within",
                     f"each {self.subject!r} has a single row, so nothing varies within subjects; for wide data pass the "
                     "conditions as a list of outcome columns")
            return
        for col in list(self.between):
            f_codes = _raw_codes(self.df[col])
            ok = (s_codes >= 0) & (f_codes >= 0)
            share, _ = within_structure(s_codes[ok], f_codes[ok])
            if share > 0.5:
                self.between.remove(col)
                self.within.append(col)
                if col in self.roles.lists["between"]:
                    self.warnings.append(f"{col!r} was given as a between factor but varies within {self.subject!r}: treated as within-subject")
                else:
                    self.assume(f"{col!r} varies within {self.subject!r}: a within-subject (repeated) factor")
            elif share > 0:
                self.warnings.append(f"some subjects appear in several levels of {col!r}: observations are not fully independent")
        for col in list(self.within):
            f_codes = _raw_codes(self.df[col])
            ok = (s_codes >= 0) & (f_codes >= 0)
            share, _ = within_structure(s_codes[ok], f_codes[ok])
            if share == 0:
                self.within.remove(col)
                self.between.append(col)
                self.warnings.append(f"{col!r} was given as within-subject but never varies within {self.subject!r}: treated as between-subjects")

    # -- sampling --------------------------------------------------------------

    def sample(self, values, size=SAMPLE_PER_GROUP):
        if values.shape[0] > size:
            self.sampled = True
            self.design["sampled"] = True
        return ck.sample(values, size, self.gen)

    def group_arrays(self, y, codes, k):
        full = [y[codes == j] for j in range(k)]
        return full, [self.sample(g) for g in full]

    # -- dispatch --------------------------------------------------------------

    def decide(self) -> list[dict]:
        if self.wide or self.within:
            out = self._repeated()
        else:
            oc = self._oclass(self.outcome)
            self.design["outcome_class"] = oc
            if oc in ("binary", "nominal"):
                out = self._categorical()
            else:
                out = self._numeric(oc)
        self.design["sampled"] = self.sampled
        return out

    def text_levels(self, suggestions):
        """An ordinal outcome stored as text (or an ordered categorical of text): the cells read numbers,
        so parametric alternatives go and the rank tests say how to recode."""
        cols = self.outcome if self.wide else [self.outcome]
        texty = [c for c in cols if self.data.level(c) == "ordinal" and not _numeric_codes(self.df[c])]
        if not texty:
            return suggestions
        order = self.data.entry(texty[0])["summary"].get("order") or self.data.entry(texty[0])["summary"].get("categories")
        how = (f"the cell needs numbers: recode the ordered levels of {', '.join(map(repr, texty))} as 1..k first, e.g. "
               f"df[{texty[0]!r}] = pd.Categorical(df[{texty[0]!r}], categories={order!r}, ordered=True).codes + 1")
        numeric_only = {"independent_t", "welch_t", "one_way_anova", "welch_anova", "one_sample_t", "paired_t", "rm_anova",
                        "linear_regression", "pearson", "mixed_anova"}
        out = [suggestions[0]] + [s for s in suggestions[1:] if s["test"] not in numeric_only]
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

    def _reg_inputs(self, preds, **kw):
        """Inputs of a regression cell: predictors, plus ``categorical`` for numeric codes treated as groups."""
        coded = [c for c in preds if c in self.between and _numeric_codes(self.df[c]) and self.data.entry(c)["distinct"] > 2]
        return self._inputs(outcome=self.outcome, predictors=list(preds), categorical=coded or None, **kw)

    def _inputs(self, **kw):
        out = {"df": "df"}
        for k, v in kw.items():
            if v is None:
                continue
            if isinstance(v, list):
                out[k] = [plain(x) for x in v]
            elif isinstance(v, dict):
                out[k] = v
            else:
                out[k] = plain(v)
        return out

    # -- numeric outcomes (continuous / ordinal) --------------------------------

    def _numeric(self, oc):
        factors, conts = self.between, self.covariates + self.cont_preds
        level = self.data.level(self.outcome)
        if self.subject is not None and self.data.entry(self.subject)["distinct"] < self.n_used and (factors or conts):
            return self._clustered(oc, factors, conts)
        if self.goal == "prediction" and (factors or conts):
            return self._regression(oc, level)
        if not factors and not conts:
            return self._one_sample(oc)
        if not factors:
            if len(conts) == 1 and self.goal != "prediction":
                if self.goal is None:
                    self.assume("no goal given and one numeric predictor: association (a correlation); "
                                "pass goal='prediction' for a regression")
                return self._correlation(oc, conts[0])
            return self._regression(oc, level)
        if not conts:
            if len(factors) == 1:
                return self._groups(oc, factors[0])
            if oc == "ordinal":
                return self._regression(oc, level, why="an ordinal outcome with several factors")
            return self._factorial(factors)
        if oc == "ordinal":
            return self._regression(oc, level, why="an ordinal outcome with a factor and covariates")
        if len(factors) == 1:
            return self._ancova(factors[0], conts)
        self.warnings.append("several factors with covariates: analysed as a linear regression (an ANCOVA with several factors)")
        return self._regression(oc, level)

    def _clustered(self, oc, factors, conts):
        """Several rows per subject but no within-subject factor: observations are clustered."""
        self.design["layout"] = "clustered"
        n_subj = self.data.entry(self.subject)["distinct"]
        preds = list(factors) + list(conts)
        inputs = self._inputs(outcome=self.outcome, subject=self.subject, between=list(factors) or None, covariates=list(conts) or None)
        base = (f"{self.n_used} rows come from {n_subj} {self.subject!r} units (several rows each), and "
                f"{', '.join(map(repr, preds))} {'does' if len(preds) == 1 else 'do'} not vary as a within-subject factor: the rows "
                "are not independent, so a model with the subject as a cluster is needed (an ordinary test would overstate the evidence).")
        level = self.data.level(self.outcome)
        if oc == "nominal":
            fail("/outcome", f"{self.outcome!r} is nominal with more than two categories and the rows are clustered within "
                 f"{self.subject!r}: no test of the vocabulary handles it; recode it as binary (one category against the rest)")
        if oc == "binary":
            _, success, explicit, assumed = self.data.success(self.outcome)
            if assumed:
                self.assume(assumed)
            gee = dict(inputs, family="binomial", **({"success": plain(success)} if explicit else {}))
            top = _suggestion("generalized_estimating_equations", base + " The outcome is binary: a logistic GEE model (exchangeable "
                              "correlation within subject) gives population-averaged odds ratios.", gee)
            return [top]
        gee = dict(inputs, family="poisson" if level == "count" else "gaussian")
        if level == "count":
            top = _suggestion("generalized_estimating_equations", base + " The outcome is a count: a Poisson GEE model (exchangeable "
                              "correlation within subject) gives population-averaged rate ratios.", gee)
            return [top, _alt("linear_mixed_model", "treats the counts as normal.", inputs)]
        top = _suggestion("linear_mixed_model", base + " A linear mixed model with a random intercept per subject does this "
                          "(for two numeric variables it gives the repeated-measures correlation's slope).", inputs,
                          warnings=["the outcome is ordinal and is treated as interval by the linear mixed model"] if oc == "ordinal" else [])
        return [top, _alt("generalized_estimating_equations", "also accounts for clustering (population-averaged); fewer "
                          "distributional assumptions, needs more subjects.", gee)]

    def _one_sample(self, oc):
        self.design["layout"] = "one_sample"
        y = self.data.numeric(self.outcome)
        n = y.size
        mu = self.roles.test_value
        if mu is None:
            if oc == "ordinal":
                mu = float((np.min(y) + np.max(y)) / 2)
                self.assume(f"no test_value: compared with the middle of the observed scale, {plain(mu)}")
            else:
                mu = 0.0
                self.assume("no test_value: compared with 0")
            self.design["test_value"] = plain(mu)
        inputs = self._inputs(outcome=self.outcome, test_value=mu)
        col = self.outcome
        d = y - mu
        xs = self.sample(y)
        sw = ck.shapiro(xs, repr(col), n)
        verdict = ck.normality_verdict([sw], [n])
        skew, _ = ck.skew_kurt(xs)
        sd = float(np.std(y, ddof=1)) if n > 1 else float("nan")
        eff_d = _effect("Cohen's d", (float(np.mean(y)) - mu) / sd if sd > 0 else None)
        ds = self.sample(d)
        nz = ds[ds != 0]
        eff_r = None
        if nz.size:
            from scipy.stats import rankdata

            r = rankdata(np.abs(nz))
            eff_r = _effect("matched-pairs rank-biserial r", (r[nz > 0].sum() - r[nz < 0].sum()) / r.sum())
        above = float(np.mean(y > mu)) if n else None
        eff_sign = _effect(f"proportion above {plain(mu)}", above)
        warn = [f"small sample (n = {n}): the test has little power"] if n < 10 else []
        if np.all(d == 0):
            fail("/test_value", f"every value equals the test value {plain(mu)}")
        if oc == "ordinal":
            top = _suggestion(
                "one_sample_wilcoxon",
                f"{col!r} is ordinal ({self.data.entry(col)['reason']}), so a rank-based test compares it with {plain(mu)} "
                "whatever normality says; the Wilcoxon signed-rank test uses the ranks of the distances to the test value.",
                inputs, [sw], warn, eff_r)
            return [top,
                    _alt("sign_test", "uses only whether each value is above or below the test value: fewer assumptions "
                         "(no symmetry), less power.", inputs, effect=eff_sign),
                    _alt("one_sample_t", "treats the ratings as interval numbers with equal spacing.", inputs, effect=eff_d)]
        base = f"{col!r} is {self.data.level(col)} (n = {n}); one sample compared with the value {plain(mu)}. "
        if verdict in ("normal", "mild"):
            why = ("Shapiro-Wilk finds no departure from normality" if verdict == "normal" else
                   f"Shapiro-Wilk rejects normality, but n = {n} >= 30 and the departure is mild (skew {skew:.2f}), so the t-test stays valid")
            top = _suggestion("one_sample_t", base + why + ", so the one-sample t-test fits. " + PRETEST, inputs, [sw], warn, eff_d)
            return [top,
                    _alt("one_sample_wilcoxon", "does not need normality but has less power when the data are normal.", inputs, effect=eff_r),
                    _alt("sign_test", "uses only the signs: the least power.", inputs, effect=eff_sign)]
        if abs(skew) >= 1:
            top = _suggestion("sign_test", base + f"Shapiro-Wilk rejects normality and the distribution is skewed (skew {skew:.2f}); "
                              "the Wilcoxon signed-rank test assumes a symmetric distribution, so the sign test on the median fits. " + PRETEST,
                              inputs, [sw], warn, eff_sign)
            return [top,
                    _alt("one_sample_wilcoxon", f"assumes symmetry around the median, doubtful with skew {skew:.2f}.", inputs, effect=eff_r),
                    _alt("one_sample_t", "assumes normality (rejected)" +
                         (", though with n >= 30 the mean's distribution may be close to normal." if n >= 30 else "."),
                         inputs, effect=eff_d)]
        top = _suggestion("one_sample_wilcoxon", base + f"Shapiro-Wilk rejects normality but the distribution is roughly symmetric "
                          f"(skew {skew:.2f}), so the Wilcoxon signed-rank test fits. " + PRETEST, inputs, [sw], warn, eff_r)
        return [top,
                _alt("sign_test", "fewer assumptions (no symmetry) but less power.", inputs, effect=eff_sign),
                _alt("one_sample_t", "assumes normality, which Shapiro-Wilk rejects.", inputs, effect=eff_d)]

    def _groups(self, oc, factor):
        data = self.data
        y = data.numeric(self.outcome)
        codes, labels = data.codes(factor)
        k = len(labels)
        ns = np.bincount(codes, minlength=k)
        self.design["layout"] = "two_groups" if k == 2 else "k_groups"
        self.design["groups"] = {str(labels[j]): int(ns[j]) for j in range(min(k, 50))}
        col, g = self.outcome, factor
        inputs = self._inputs(outcome=col, group=g)
        warn = []
        small = [str(labels[j]) for j in range(k) if ns[j] < 5]
        if small:
            warn.append(f"small groups ({', '.join(small[:6])} with fewer than 5 observations): little power, assumption checks unreliable")
        if k > 20:
            warn.append(f"{k} groups: check that {g!r} is really a grouping factor")
        if ns.max() > 1.5 * max(ns.min(), 1) and oc == "continuous":
            warn.append(f"unequal group sizes ({ns.min()}..{ns.max()})")
        full, samp = self.group_arrays(y, codes, k)
        sums = np.bincount(codes, weights=y, minlength=k)
        means = sums / np.maximum(ns, 1)
        grand = y.mean()
        sst = float(np.sum((y - grand) ** 2))
        eta2 = float(np.sum(ns * (means - grand) ** 2) / sst) if sst > 0 else None
        lev = _safe(ck.levene, "equal variances", samp)
        gdesc = ", ".join(f"{labels[j]} n = {ns[j]}" for j in range(min(k, 6))) + (" ..." if k > 6 else "")
        what = f"{col!r} is {data.level(col)} and {g!r} defines {k} independent groups ({gdesc}). "
        simpson = self._simpson_groups(y, codes, labels) if k == 2 and self.strata is not None else None
        if simpson:
            warn.append(simpson)
        if oc == "ordinal":
            ordwhy = (f"{col!r} is ordinal ({data.entry(col)['reason']}), so a rank-based test fits whatever normality says. ")
            if k == 2:
                eff = _effect("rank-biserial r", _safe_num(ck.rank_biserial_mw, samp[1], samp[0]))
                top = _suggestion("mann_whitney", what + ordwhy + "Mann-Whitney U compares the two groups' distributions.",
                                  inputs, [lev], warn, eff)
                return [top,
                        _alt("brunner_munzel", "also rank-based and robust to unequal spreads; less familiar and "
                             "needs moderate samples.", inputs, effect=eff),
                        _alt("independent_t", "treats the ordinal scores as interval numbers.", inputs,
                             effect=_effect("Cohen's d", _safe_num(ck.cohen_d, full[1], full[0])))]
            eps = self._epsilon2(samp)
            top = _suggestion("kruskal_wallis", what + ordwhy + "The Kruskal-Wallis H test compares the groups' distributions.",
                              inputs, [lev], warn, eps, posthoc="Dunn's test (pairwise rank comparisons) with Holm correction")
            return [top, _alt("one_way_anova", "treats the ordinal scores as interval numbers.", inputs, effect=_effect("eta squared", eta2),
                              posthoc="Tukey HSD")]
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
            d = _effect("Cohen's d", _safe_num(ck.cohen_d, full[1], full[0]))
            rb = _effect("rank-biserial r", _safe_num(ck.rank_biserial_mw, samp[1], samp[0]))
            ps = _effect("probability of superiority", None if rb is None else (rb["value"] + 1) / 2)
            if verdict != "non-normal":
                if equal:
                    top = _suggestion("independent_t", what + f"{normal_text}; {var_text}. So Student's t-test fits. " + PRETEST,
                                      inputs, checks, warn, d)
                    return [top,
                            _alt("welch_t", "does not assume equal variances and loses little power; many statisticians use it "
                                 "by default, which also avoids the pre-test.", inputs, effect=d),
                            _alt("mann_whitney", "rank-based: no normality needed, slightly less power with normal data.", inputs, effect=rb)]
                top = _suggestion("welch_t", what + f"{normal_text}; {var_text}, so Welch's t-test (no equal-variance assumption) fits. " + PRETEST,
                                  inputs, checks, warn, d)
                return [top,
                        _alt("independent_t", "assumes equal variances, which Levene's test rejects.", inputs, effect=d),
                        _alt("brunner_munzel", "rank-based and robust to unequal variances; less power with normal data.", inputs, effect=ps)]
            if equal:
                top = _suggestion("mann_whitney", what + f"{normal_text}; {var_text}. So the rank-based Mann-Whitney U test fits. " + PRETEST,
                                  inputs, checks, warn, rb)
                return [top,
                        _alt("brunner_munzel", "rank-based and also valid with unequal spreads; not needed when the spreads are similar.",
                             inputs, effect=ps),
                        _alt("welch_t", "compares means assuming normal sampling distributions, doubtful here.", inputs, effect=d)]
            top = _suggestion("brunner_munzel", what + f"{normal_text}; {var_text}. Mann-Whitney assumes equal shapes and spreads, "
                              "so the Brunner-Munzel test (rank-based, unequal variances allowed) fits. " + PRETEST, inputs, checks, warn, ps)
            return [top,
                    _alt("mann_whitney", "rank-based but sensitive to unequal spreads (its null is identical distributions).", inputs, effect=rb),
                    _alt("welch_t", "handles unequal variances but assumes normal sampling distributions.", inputs, effect=d)]
        eta = _effect("eta squared", eta2)
        if verdict != "non-normal":
            if equal:
                top = _suggestion("one_way_anova", what + f"{normal_text}; {var_text}. So the one-way ANOVA fits. " + PRETEST,
                                  inputs, checks, warn, eta, posthoc="Tukey HSD (all pairs)")
                return [top,
                        _alt("welch_anova", "does not assume equal variances and loses little power; a safe default.", inputs,
                             effect=eta, posthoc="Games-Howell"),
                        _alt("kruskal_wallis", "rank-based: no normality needed, less power with normal data.", inputs,
                             effect=self._epsilon2(samp), posthoc="Dunn's test with Holm correction")]
            top = _suggestion("welch_anova", what + f"{normal_text}; {var_text}, so Welch's ANOVA fits, with Games-Howell "
                              "pairwise comparisons. " + PRETEST, inputs, checks, warn, eta, posthoc="Games-Howell (unequal variances)")
            return [top,
                    _alt("one_way_anova", "assumes equal variances, which Levene's test rejects.", inputs, effect=eta, posthoc="Tukey HSD"),
                    _alt("kruskal_wallis", "rank-based; with unequal spreads it no longer compares medians only.", inputs,
                         effect=self._epsilon2(samp), posthoc="Dunn's test with Holm correction")]
        if not equal:
            warn.append("the spreads differ between groups: Kruskal-Wallis then tests whether the distributions differ, not only their medians")
        top = _suggestion("kruskal_wallis", what + f"{normal_text}; {var_text}. So the rank-based Kruskal-Wallis H test fits. " + PRETEST,
                          inputs, checks, warn, self._epsilon2(samp), posthoc="Dunn's test (pairwise rank comparisons) with Holm correction")
        return [top,
                _alt("welch_anova", "compares means without equal variances but assumes normal sampling distributions.", inputs,
                     effect=eta, posthoc="Games-Howell"),
                _alt("one_way_anova", "assumes normality and equal variances.", inputs, effect=eta, posthoc="Tukey HSD")]

    def _epsilon2(self, samp):
        try:
            from scipy.stats import kruskal

            usable = [s for s in samp if s.size]
            h, _ = kruskal(*usable)
            n = sum(s.size for s in usable)
            return _effect("epsilon squared", h / (n - 1))
        except Exception:
            return None

    def _simpson_groups(self, y, codes, labels):
        s_codes, s_labels = self.data.codes(self.strata)
        pooled = y[codes == 1].mean() - y[codes == 0].mean()
        diffs = []
        for j in range(len(s_labels)):
            m = s_codes == j
            a, b = y[m & (codes == 0)], y[m & (codes == 1)]
            if a.size and b.size:
                diffs.append(b.mean() - a.mean())
        if len(diffs) >= 2 and pooled != 0 and all(np.sign(dv) == -np.sign(pooled) for dv in diffs if dv != 0) and any(diffs):
            return (f"Simpson-type reversal: pooled over {self.strata!r}, {labels[1]!r} minus {labels[0]!r} is {pooled:.3g}, "
                    f"but within every stratum the difference has the opposite sign; analyse within strata")
        return None

    def _factorial(self, factors):
        data = self.data
        self.design["layout"] = "factorial"
        y = data.numeric(self.outcome)
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
        if self.strata is not None and self.strata in factors and len(factors) == 2:
            other = factors[0] if factors[1] == self.strata else factors[1]
            oc_codes, oc_labels = data.codes(other)
            if len(oc_labels) == 2:
                simpson = self._simpson_groups(y, oc_codes, oc_labels)
                if simpson:
                    warn.append(simpson)
        sw = ck.shapiro(self.sample(resid), "residuals", y.size)
        verdict = ck.normality_verdict([sw], [int(ncell.min())] * 1)
        samp = [self.sample(y[cell == j]) for j in range(kc)]
        lev = _safe(ck.levene, "equal variances (across cells)", samp, "equal variances (across cells)")
        eff = self._partial_eta_first(y, factors)
        inputs = self._inputs(outcome=self.outcome, between=list(factors))
        text = (f"{self.outcome!r} is {data.level(self.outcome)} with {len(factors)} between-subjects factors "
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
        preds = list(factors)
        return [top,
                _alt("linear_regression", "the same model written as a regression; gives coefficients rather than an ANOVA table, "
                     "and robust standard errors if variances differ.", self._reg_inputs(preds)),
                _alt("kruskal_wallis", f"rank-based, but one factor at a time ({factors[0]!r}): loses the other factor and the interaction.",
                     self._inputs(outcome=self.outcome, group=factors[0]), posthoc="Dunn's test with Holm correction")]

    def _partial_eta_first(self, y, factors):
        try:
            data = self.data
            blocks = []
            for f in factors:
                c, labels = data.codes(f)
                blocks.append(ck.dummies(c, len(labels)))
            ys = y
            if y.size > 20000:
                idx = np.sort(self.gen.choice(y.size, 20000, replace=False))
                ys, blocks = y[idx], [b[idx] for b in blocks]
            full = ck.design_matrix(blocks)
            without = ck.design_matrix(blocks[1:]) if len(blocks) > 1 else np.ones((ys.size, 1))
            _, _, rss_full, _ = ck.ols(ys, full)
            _, _, rss_wo, _ = ck.ols(ys, without)
            ss_a = rss_wo - rss_full
            return _effect(f"partial eta squared ({factors[0]})", ss_a / (ss_a + rss_full) if ss_a + rss_full > 0 else None)
        except Exception:
            return None

    def _ancova(self, factor, covs):
        data = self.data
        self.design["layout"] = "ancova"
        y = data.numeric(self.outcome)
        codes, labels = data.codes(factor)
        k = len(labels)
        xs = []
        cont_names = []
        for c in covs:
            e = data.entry(c)
            if self._factor_like(e) and e["level"] in ("binary", "nominal"):
                cc, lab = data.codes(c)
                xs.append(ck.dummies(cc, len(lab)))
            else:
                xs.append(data.numeric(c))
                cont_names.append(c)
        idx = None
        if y.size > 20000:
            idx = np.sort(self.gen.choice(y.size, 20000, replace=False))
            self.sampled = True
        pick = (lambda a: a if idx is None else a[idx])
        ys, cs, xs_ = pick(y), pick(codes), [pick(x) for x in xs]
        dg = ck.dummies(cs, k)
        x_main = ck.design_matrix([dg] + xs_)
        inter = [dg * x[:, None] for x in xs_ if x.ndim == 1]
        x_int = ck.design_matrix([dg] + xs_ + inter)
        _, resid, rss, _ = ck.ols(ys, x_main)
        sw = ck.shapiro(self.sample(resid), "residuals", y.size)
        lev = _safe(ck.levene, "equal variances (residuals by group)", [self.sample(resid[cs == j]) for j in range(k)],
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
        inputs = self._inputs(outcome=self.outcome, group=factor, covariates=list(covs))
        text = (f"{self.outcome!r} is {data.level(self.outcome)}, {factor!r} defines {k} groups and "
                f"{', '.join(map(repr, covs))} {'is a covariate' if len(covs) == 1 else 'are covariates'}: ANCOVA compares the groups "
                "adjusted for the covariate(s). Checked: normal residuals, equal variances and homogeneous slopes.")
        top = _suggestion("ancova", text, inputs, [sw, lev, slopes], warn, eff,
                          posthoc="pairwise comparisons of adjusted (estimated marginal) means with Holm correction")
        return [top,
                _alt("linear_regression", "the same model as a regression; preferable if the slopes differ (add the interaction).",
                     self._reg_inputs([factor] + list(covs))),
                _alt("one_way_anova" if k > 2 else "independent_t", "ignores the covariate: less power and no adjustment.",
                     self._inputs(outcome=self.outcome, group=factor))]

    def _correlation(self, oc, xcol):
        data = self.data
        self.design["layout"] = "correlation"
        y = data.numeric(self.outcome)
        x = data.numeric(xcol)
        n = y.size
        inputs = self._inputs(x=xcol, y=self.outcome)
        ex, ey = data.entry(xcol), data.entry(self.outcome)
        idx = None
        if n > SAMPLE_ROWS:
            idx = np.sort(self.gen.choice(n, SAMPLE_ROWS, replace=False))
            self.sampled = True
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

        ordinal = [c for c, e in ((xcol, ex), (self.outcome, ey)) if self._oclass(c) == "ordinal" or e["level"] == "ordinal"]
        if ordinal:
            ties = min(ex["distinct"], ey["distinct"]) <= 7
            first = "kendall" if ties else "spearman"
            second = "spearman" if ties else "kendall"
            why = (f"{', '.join(map(repr, ordinal))} {'is' if len(ordinal) == 1 else 'are'} ordinal, so a rank correlation fits. "
                   + ("With few distinct values (many ties) Kendall's tau-b handles ties best." if ties else
                      "Spearman's rho is the usual rank correlation."))
            top = _suggestion(first, why, inputs, [], warn, eff(first))
            return [top,
                    _alt(second, "also a rank correlation; " + ("Spearman is less suited to many ties." if ties else
                                                                "Kendall's tau is on a different scale and slower with many rows."),
                         inputs, effect=eff(second)),
                    _alt("pearson", "assumes interval data and a linear, bivariate-normal relation.", inputs, effect=eff("pearson"))]
        swx = ck.shapiro(self.sample(x), repr(xcol), n)
        swy = ck.shapiro(self.sample(y), repr(self.outcome), n)
        verdict = ck.normality_verdict([swx, swy], [n, n])
        n_out = ck.outliers_bivariate(xs, ys)
        out_rec = ck.record("no bivariate outliers", n_out, None, n_out == 0,
                            f"{n_out} point(s) with squared Mahalanobis distance above {ck.outlier_cutoff(xs.size):.1f} "
                            "(unlikely even once among this many bivariate-normal points)" + (" (on a sample)" if idx is not None else ""))
        checks = [swx, swy, out_rec]
        if verdict != "non-normal" and n_out == 0:
            why = ("Both variables look normal" if verdict == "normal" else
                   "Shapiro-Wilk rejects normality, but n >= 30 and the departures are mild") + " and there are no outliers, so Pearson's r fits. "
            top = _suggestion("pearson", f"{self.outcome!r} and {xcol!r} are both numeric. " + why + PRETEST, inputs, checks, warn, eff("pearson"))
            return [top,
                    _alt("spearman", "rank-based: robust to non-normality and outliers but measures monotone, not linear, association.",
                         inputs, effect=eff("spearman")),
                    _alt("linear_regression", "answers prediction (the slope) rather than association.",
                         self._inputs(outcome=self.outcome, predictors=[xcol]))]
        reasons = []
        if verdict == "non-normal":
            reasons.append("normality is rejected (" + ", ".join(r["name"][len("normality ("):-1] for r in (swx, swy) if r["passed"] is False) + ")")
        if n_out:
            reasons.append(f"{n_out} bivariate outlier(s)")
        top = _suggestion("spearman", f"{self.outcome!r} and {xcol!r} are both numeric but {' and '.join(reasons)}, so the rank-based Spearman "
                          "correlation fits. " + PRETEST, inputs, checks, warn, eff("spearman"))
        alts = []
        if n_out:
            alts.append(_alt("robust_correlation", "keeps Pearson's linear meaning while down-weighting the outliers; less standard.",
                             inputs))
        alts.append(_alt("kendall", "rank-based too; better with small samples or many ties.", inputs, effect=eff("kendall")))
        alts.append(_alt("pearson", "assumes bivariate normality without outliers.", inputs, effect=eff("pearson")))
        return [top] + alts

    # -- regression family ----------------------------------------------------------

    def _matrix(self, preds, idx=None):
        """Design matrix (with intercept), names of continuous columns, their matrix, and the number of parameters."""
        data = self.data
        blocks, cont, cont_names, params = [], [], [], 0
        for c in preds:
            e = data.entry(c)
            if e["level"] in ("binary", "nominal") or (c in self.between and self._factor_like(e)):
                codes, labels = data.codes(c)
                d = ck.dummies(codes if idx is None else codes[idx], len(labels))
                blocks.append(d)
                params += d.shape[1]
            else:
                v = data.numeric(c)
                v = v if idx is None else v[idx]
                blocks.append(v)
                cont.append(v)
                cont_names.append(c)
                params += 1
        x = ck.design_matrix(blocks) if blocks else np.ones((len(idx) if idx is not None else self.n_used, 1))
        return x, cont_names, (np.column_stack(cont) if cont else np.empty((x.shape[0], 0))), params

    def _regression(self, oc, level, why=None):
        data = self.data
        preds = list(self.between) + list(self.covariates) + list(self.cont_preds)
        self.design["layout"] = "regression"
        if self.goal is None and why is None:
            self.assume("no goal given and several predictors: prediction / adjustment (a regression)")
        n = self.n_used
        idx = None
        if n > 20000:
            idx = np.sort(self.gen.choice(n, 20000, replace=False))
            self.sampled = True
        x, cont_names, xc, params = self._matrix(preds, idx)
        y = data.numeric(self.outcome)
        y = y if idx is None else y[idx]
        inputs = self._reg_inputs(preds)
        warn = []
        if n < 10 * max(params, 1):
            warn.append(f"{n} observations for {params} predictor parameters: fewer than 10 per parameter, the model may overfit")
        v = _safe(ck.vif, "no severe multicollinearity (VIF)", xc, cont_names)
        if level == "count" and self.data.entry(self.outcome)["summary"].get("min", 0) >= 0:
            return self._count_regression(y, x, inputs, warn, v, preds)
        if oc == "ordinal":
            e = data.entry(self.outcome)
            text = (f"{self.outcome!r} is ordinal ({e['reason']}); " + (why + ": " if why else "") +
                    "ordinal logistic regression (proportional odds) models it without treating the levels as equally spaced.")
            counts = e["summary"].get("counts") or {}
            if counts and min(counts.values()) < 5:
                warn.append("some outcome levels have fewer than 5 observations: consider merging adjacent levels")
            order = e["summary"].get("order")
            numeric_outcome = _numeric_codes(self.df[self.outcome])
            top = _suggestion("ordinal_logistic_regression", text, dict(inputs, order=order) if order else inputs,
                              [v] if v else [], warn, None, posthoc=None)
            if not numeric_outcome:  # text levels: a linear regression cell cannot use them as numbers
                return [top]
            return [top, _alt("linear_regression", "treats the ordinal levels as equally spaced numbers.", inputs)]
        beta, resid, rss, rank = ck.ols(y, x)
        tss = float(np.sum((y - y.mean()) ** 2))
        r2 = 1 - rss / tss if tss > 0 else None
        sw = ck.shapiro(self.sample(resid), "residuals", n)
        bp = _safe(ck.breusch_pagan, "constant residual variance (Breusch-Pagan)", resid, x)
        checks = [sw, bp] + ([v] if v else [])
        if sw["passed"] is False and ck.normality_verdict([sw], [n]) == "non-normal":
            warn.append("residuals depart from normality: with a small sample the p-values are approximate (consider a transformation)")
        if bp["passed"] is False:
            warn.append("heteroscedastic residuals: use robust (HC3) standard errors")
        if v and v["passed"] is False:
            warn.append("strong multicollinearity: coefficients are unstable")
        text = (f"{self.outcome!r} is {level}; {len(preds)} predictor(s) ({', '.join(map(repr, preds))}) "
                f"{'with goal prediction / adjustment' if self.goal == 'prediction' else 'explain it jointly'}: "
                "ordinary least squares linear regression. Checked: normal residuals, constant variance, multicollinearity.")
        top = _suggestion("linear_regression", text, inputs, checks, warn, _effect("R squared", r2))
        alts = []
        if len(preds) == 1 and not self.between:
            alts.append(_alt("pearson", "measures association only (no prediction).", self._inputs(x=preds[0], y=self.outcome)))
        if self.between and len(self.between) == len(preds) and len(preds) >= 2:
            alts.append(_alt("factorial_anova", "the same model as an ANOVA table.", self._inputs(outcome=self.outcome, between=list(self.between))))
        if self.between and not (len(self.between) == len(preds)) and len(self.between) == 1:
            alts.append(_alt("ancova", "the same model read as adjusted group differences.",
                             self._inputs(outcome=self.outcome, group=self.between[0], covariates=[p for p in preds if p != self.between[0]])))
        return [top] + alts

    def _count_regression(self, y, x, inputs, warn, v, preds):
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
        base = f"{self.outcome!r} holds counts ({self.data.entry(self.outcome)['reason']}) explained by {', '.join(map(repr, preds))}: a count regression. "
        if over:
            top = _suggestion("negative_binomial_regression", base + f"The Poisson fit is overdispersed (Pearson chi2/df = {disp:.2f}), "
                              "so negative binomial regression, which estimates the extra variance, fits.", inputs, checks, warn, eff)
            return [top, _alt("poisson_regression", f"assumes variance = mean; overdispersion ({disp:.2f}) makes its standard errors too small.",
                              inputs, effect=eff)]
        top = _suggestion("poisson_regression", base + f"No overdispersion (Pearson chi2/df = {disp:.2f}), so Poisson regression fits.",
                          inputs, checks, warn, eff)
        return [top, _alt("negative_binomial_regression", "allows overdispersion, not needed here; one parameter more.", inputs, effect=eff)]

    # -- categorical outcomes ------------------------------------------------------------



def _numeric_codes(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def _raw_codes(series):
    import pandas as pd

    codes, _ = pd.factorize(series)
    return codes.astype(np.int64)


__all__ = ["suggest", "AssistantError", "TITLES"]
