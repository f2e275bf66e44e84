"""Categorical outcomes: proportions, goodness of fit, contingency tables, strata, logistic regression."""

from __future__ import annotations

import math

import numpy as np

from . import checks as ck
from .build import _alt, _effect, _safe, _suggestion
from .common import plain
from .data import fail


class CategoricalMixin:
    """Methods of the suggestion run for a binary or nominal outcome."""

    def _table(self, row_col, col_col, extra=None):
        """Contingency table (rows: row_col levels, cols: col_col levels), counting weights when given."""
        data = self.data
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

    def _categorical(self):
        data = self.data
        factors, conts = self.between, self.covariates + self.cont_preds
        oc = self._oclass(self.outcome)
        if self.subject is not None and data.entry(self.subject)["distinct"] < self.n_used and (factors or conts):
            return self._clustered(oc, factors, conts)
        if not factors and not conts:
            return self._proportions(oc)
        if oc == "nominal" and conts and not factors:
            x = conts[0]
            self.assume(f"{self.outcome!r} is nominal with {data.entry(self.outcome)['distinct']} categories and {x!r} is numeric: "
                        f"compared {x!r} across the {self.outcome!r} groups (multinomial regression is not offered)")
            old, self.outcome = self.outcome, x
            self.between = [old]
            out = self._groups(self._oclass(x), old)
            self.outcome = old
            return out
        if oc == "binary" and (self.goal == "prediction" or conts or len(factors) >= 2):
            if self.goal is None and len(factors) + len(conts) >= 1:
                self.assume(f"binary outcome {self.outcome!r} with {'numeric predictors' if conts else 'several factors'}: "
                            "a logistic regression (prediction / adjustment)")
            return self._logistic(factors + conts)
        factor = factors[0]
        if len(factors) > 1:
            self.warnings.append(f"only {factor!r} is crossed with {self.outcome!r}; the other factors are ignored")
        if self.strata is not None:
            return self._stratified(factor)
        return self._contingency(factor)

    def _proportions(self, oc):
        data = self.data
        self.design["layout"] = "one_sample"
        codes, labels = data.codes(self.outcome)
        w = data.weights()
        counts = np.bincount(codes, weights=w, minlength=len(labels))
        total = float(counts.sum())
        expected = self.roles.expected
        weights_in = self.weights
        if oc == "binary" and not (expected is not None and len(expected) > 2):
            y, success, explicit, assumed = data.success(self.outcome)
            if assumed:
                self.assume(assumed)
            k_success = float(counts[labels.index(success)])
            p0 = self.roles.test_value
            if p0 is None and expected is not None:
                norm = sum(expected.values())
                match = {str(k): v / norm for k, v in expected.items()}
                if str(success) not in match:
                    fail("/expected", f"the expected proportions must name the category {success!r}")
                p0 = match[str(success)]
            if p0 is None:
                p0 = 0.5
                self.assume("no test_value: the proportion is compared with 0.5")
            if not 0 < p0 < 1:
                fail("/test_value", f"a binary outcome needs a proportion strictly between 0 and 1, got {plain(p0)}")
            self.design["test_value"] = plain(p0)
            self.design["success"] = plain(success)
            phat = k_success / total
            h = 2 * math.asin(math.sqrt(phat)) - 2 * math.asin(math.sqrt(p0))
            eff = _effect("Cohen's h", h)
            inputs = self._inputs(outcome=self.outcome, test_value=p0, success=success if explicit else None, weights=weights_in)
            large = total * p0 >= 10 and total * (1 - p0) >= 10
            rec = ck.record("normal approximation (n p0 >= 10 and n (1 - p0) >= 10)", total * min(p0, 1 - p0), None, bool(large),
                            f"n = {int(total)}, p0 = {plain(p0)}: n p0 = {total * p0:.1f}, n (1 - p0) = {total * (1 - p0):.1f}")
            top = _suggestion("binomial_test", f"{self.outcome!r} is binary ({int(k_success)} of {int(total)} are {success!r}, "
                              f"{phat:.3f}); the exact binomial test compares this proportion with {plain(p0)} without any approximation.",
                              inputs, [], [], eff)
            return [top,
                    _alt("one_proportion_z_test", "the normal approximation gives nearly the same p-value" +
                         (" here (large n)" if large else ", but n is too small for it here") + "; the exact test needs no condition.",
                         inputs, assumptions=[rec], effect=eff),
                    _alt("chi2_gof", "the same question as a goodness-of-fit test on two categories.",
                         self._inputs(outcome=self.outcome, expected={str(success): p0, str(labels[1 - labels.index(success)]): 1 - p0},
                                      weights=weights_in))]
        # several categories: goodness of fit
        if expected is None:
            exp = {str(lab): 1 / len(labels) for lab in labels}
            self.assume("no expected proportions: every category is equally likely")
            given = None
        else:
            names = {str(lab) for lab in labels}
            unknown = [k for k in expected if str(k) not in names]
            if unknown:
                fail(f"/expected/{unknown[0]}", f"{unknown[0]!r} is not a category of {self.outcome!r} (categories: {sorted(names)[:10]})")
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
        inputs = self._inputs(outcome=self.outcome, expected=given, weights=weights_in)
        top = _suggestion("chi2_gof", f"{self.outcome!r} is {data.level(self.outcome)} with {len(labels)} categories (N = {int(total)}): "
                          "the chi-square goodness-of-fit test compares the observed counts with the expected proportions.",
                          inputs, [rec], warn, eff, posthoc="standardized residuals per category")
        return [top]

    def _contingency(self, factor):
        data = self.data
        self.design["layout"] = "contingency"
        t, rl, cl = self._table(self.outcome, factor)
        keep_r, keep_c = t.sum(axis=1) > 0, t.sum(axis=0) > 0
        t = t[keep_r][:, keep_c]
        r, c = t.shape
        if r < 2 or c < 2:
            fail(self._path(factor), f"the table of {self.outcome!r} by {factor!r} has a single row or column")
        self.design["table"] = {"rows": [plain(x) for x, k in zip(rl, keep_r) if k][:50], "columns": [plain(x) for x, k in zip(cl, keep_c) if k][:50],
                                "counts": t.astype(float).tolist() if r * c <= 400 else None}
        rule = ck.expected_rule(t)
        inputs = self._inputs(outcome=self.outcome, group=factor, weights=self.weights)
        v = _effect("Cramer's V", ck.cramers_v(t))
        eff = _effect("odds ratio", ck.odds_ratio(t)) if (r, c) == (2, 2) else v
        warn = []
        size = f"{r}x{c}"
        total = int(t.sum())
        base = (f"{self.outcome!r} and {factor!r} are categorical (a {size} table, N = {total}"
                f"{', counts from ' + repr(self.weights) if self.weights else ''}): a test of independence. ")
        posthoc = None if (r, c) == (2, 2) else "adjusted standardized residuals per cell (or pairwise 2x2 tests with Holm correction)"
        if self.goal == "prediction":
            self.warnings.append("goal prediction with one categorical predictor: a logistic regression gives the same test as an odds ratio")
        ffh = "Fisher's exact test" if (r, c) == (2, 2) else "the Fisher-Freeman-Halton exact test (Fisher's test for an RxC table)"
        if rule["passed"]:
            text = base + f"Cochran's rule holds ({rule['detail'].split(': ', 1)[1]}), so the chi-square test fits" + \
                (" (the cell applies Yates' continuity correction to a 2x2 table)." if (r, c) == (2, 2) else ".")
            top = _suggestion("chi2_independence", text, inputs, [rule], warn, eff, posthoc=posthoc)
            return [top, _alt("fisher_exact", f"{ffh} is exact but the chi-square approximation is adequate here; "
                              "exact RxC tests get slow with large N.", inputs, effect=eff,
                              title=None if (r, c) == (2, 2) else "Fisher-Freeman-Halton exact test")]
        if total > 5000 and (r, c) != (2, 2):
            warn.append("a large RxC table: the exact test may be slow; a Monte Carlo p-value is an option")
        text = base + f"Cochran's rule fails ({rule['detail'].split(': ', 1)[1]}), so the chi-square approximation is unreliable and {ffh} fits."
        top = _suggestion("fisher_exact", text, inputs, [rule], warn, eff, posthoc=posthoc,
                          title=None if (r, c) == (2, 2) else "Fisher-Freeman-Halton exact test")
        return [top, _alt("chi2_independence", "its p-value is unreliable with expected counts this small.", inputs, assumptions=[rule], effect=eff)]

    def _stratified(self, factor):
        data = self.data
        self.design["layout"] = "stratified"
        t3, rl, cl, sl = self._table(self.outcome, factor, extra=self.strata)
        inputs = self._inputs(outcome=self.outcome, group=factor, strata=self.strata, weights=self.weights)
        if t3.shape[1] != 2 or t3.shape[2] != 2:
            self.warnings.append("Cochran-Mantel-Haenszel needs 2x2 tables per stratum: the outcome or the group has more than two levels; "
                                 "a logistic regression with the strata as a factor is used instead")
            return self._logistic([factor, self.strata])
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
                        f"stratum-adjusted Mantel-Haenszel odds ratio ({mh:.3g}); the pooled table is confounded by {self.strata!r}")
        elif strata_or and or_pooled and all(math.log(o) * math.log(or_pooled) < 0 for o in strata_or if abs(math.log(o)) > 1e-9):
            warn.append(f"Simpson-type reversal: every stratum's odds ratio lies on the other side of 1 from the pooled one ({or_pooled:.3g})")
        if bd["passed"] is False:
            warn.append("the odds ratio differs between strata (Breslow-Day): report the strata separately or model the interaction in a logistic regression")
        small = int(np.sum(tables.sum(axis=(1, 2)) < 10))
        if small:
            warn.append(f"{small} strata with fewer than 10 observations")
        text = (f"{self.outcome!r} and {factor!r} are binary, stratified by {self.strata!r} ({tables.shape[0]} strata"
                f"{', counts from ' + repr(self.weights) if self.weights else ''}): the Cochran-Mantel-Haenszel test asks whether they are "
                "associated within strata and estimates a common odds ratio; Breslow-Day checks that the odds ratio is homogeneous.")
        top = _suggestion("cochran_mantel_haenszel", text, inputs, [bd], warn, _effect("Mantel-Haenszel odds ratio", mh))
        alts = []
        if not self.weights:  # the logistic-regression cell takes one row per observation
            _, success, explicit, _ = data.success(self.outcome)
            alts.append(_alt("logistic_regression", "models the same adjustment (and the interaction if Breslow-Day fails), with more "
                             "assumptions.", self._reg_inputs([factor, self.strata], success=success if explicit else None)))
        return [top] + alts + [
                _alt("chi2_independence", f"ignores {self.strata!r}: the pooled table can be confounded.",
                     self._inputs(outcome=self.outcome, group=factor, weights=self.weights),
                     effect=_effect("odds ratio (pooled)", or_pooled))]

    def _logistic(self, preds):
        data = self.data
        self.design["layout"] = "regression"
        y, success, explicit, assumed = data.success(self.outcome)
        if assumed:
            self.assume(assumed)
        self.design["success"] = plain(success)
        w = data.weights()
        n = self.n_used
        idx = None
        if n > 20000:
            idx = np.sort(self.gen.choice(n, 20000, replace=False))
            self.sampled = True
        x, cont_names, xc, params = self._matrix(preds, idx)
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
        inputs = self._reg_inputs(list(preds), success=success if explicit else None, weights=self.weights)
        text = (f"{self.outcome!r} is binary ({int(events)} of {int(total)} are {success!r}) and is explained by "
                f"{', '.join(map(repr, preds))}: logistic regression models the log-odds of {success!r}.")
        top = _suggestion("logistic_regression", text, inputs, checks, warn, eff)
        alts = []
        factors = [p for p in preds if p in self.between]
        if len(preds) == 1 and factors:
            alts.append(_alt("chi2_independence", "tests the association without modelling it.",
                             self._inputs(outcome=self.outcome, group=preds[0], weights=self.weights)))
        conts = [p for p in preds if p not in self.between]
        if len(preds) == 1 and conts:
            alts.append(_alt("mann_whitney", f"compares {conts[0]!r} between the two outcome groups (roles reversed): association only.",
                             self._inputs(outcome=conts[0], group=self.outcome)))
        return [top] + alts

    # -- repeated measures ----------------------------------------------------------------
