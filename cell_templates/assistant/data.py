"""Column access for the assistant: validated roles, profiled columns, numeric arrays and codes.

Only the columns the design uses are read in full; rows with a missing value in any
of them are dropped once (listwise), as the generated cells do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import GOALS, AssistantError, plain
from .profile import ID_NAME, cheap_entry, check_levels, profile_column

ROLE_KEYS = ("outcome", "predictors", "between", "within", "covariates", "subject", "weights", "strata")
LIST_ROLES = ("predictors", "between", "within", "covariates")

SUCCESS_WORDS = (
    "yes", "y", "true", "t", "1", "success", "successful", "positive", "pos", "event", "case", "present",
    "died", "dead", "death", "deceased", "sick", "ill", "disease", "diseased", "admitted", "pass", "passed",
    "win", "won", "survived", "improved", "cured", "responder", "response", "high", "abnormal", "affected", "smoker",
)


def _is_label(value) -> bool:
    return isinstance(value, (str, int, np.integer)) and not isinstance(value, bool)


class Roles:
    """The design as given, normalised: lists for list roles, validated columns and options."""

    def __init__(self, df, outcome, predictors, between, within, covariates, subject, weights, strata,
                 test_value, expected, goal, levels):
        errors: list[dict] = []
        if not isinstance(df, pd.DataFrame):
            raise AssistantError("the data must be a pandas DataFrame", [{"path": "", "message": f"got {type(df).__name__}"}])
        if df.shape[1] == 0 or df.shape[0] == 0:
            raise AssistantError("the data frame is empty", [{"path": "", "message": f"the data frame has {df.shape[0]} rows and {df.shape[1]} columns"}])
        if df.columns.has_duplicates:
            dup = [plain(c) for c in df.columns[df.columns.duplicated()]][:5]
            raise AssistantError("column names must be unique", [{"path": "", "message": f"duplicated column names: {dup}"}])
        self.df = df
        self.paths: dict = {}  # column -> path of the role that names it
        self.wide = False
        if outcome is None or (isinstance(outcome, str) and outcome == ""):
            errors.append({"path": "/outcome", "message": "an outcome column is required"})
            self.outcome = None
        elif isinstance(outcome, (list, tuple)):
            cols = list(outcome)
            if len(cols) == 0:
                errors.append({"path": "/outcome", "message": "an outcome column is required"})
                self.outcome = None
            elif len(cols) == 1:
                self.outcome = self._column(cols[0], "/outcome/0", errors)
            else:
                self.wide = True
                self.outcome = [self._column(c, f"/outcome/{i}", errors) for i, c in enumerate(cols)]
        else:
            self.outcome = self._column(outcome, "/outcome", errors)
        self.lists = {}
        self.scalar_roles = set()
        for key, value in (("predictors", predictors), ("between", between), ("within", within), ("covariates", covariates)):
            if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
                self.lists[key] = []
            elif isinstance(value, (list, tuple)):
                self.lists[key] = [self._column(c, f"/{key}/{i}", errors) for i, c in enumerate(value)]
            elif _is_label(value):
                self.scalar_roles.add(key)
                self.lists[key] = [self._column(value, f"/{key}", errors)]
            else:
                errors.append({"path": f"/{key}", "message": "must be a column name or a list of column names"})
                self.lists[key] = []
        self.single = {}
        for key, value in (("subject", subject), ("weights", weights), ("strata", strata)):
            if value is None:
                self.single[key] = None
            elif _is_label(value):
                self.single[key] = self._column(value, f"/{key}", errors)
            else:
                errors.append({"path": f"/{key}", "message": "must be one column name"})
                self.single[key] = None
        if goal is not None and goal not in GOALS:
            errors.append({"path": "/goal", "message": f"unknown goal {goal!r}: use one of {', '.join(GOALS)}"})
        self.goal = goal
        if test_value is not None and (isinstance(test_value, bool) or not isinstance(test_value, (int, float, np.integer, np.floating))
                                       or not np.isfinite(test_value)):
            errors.append({"path": "/test_value", "message": "must be a finite number"})
            test_value = None
        self.test_value = None if test_value is None else float(test_value)
        if expected is not None:
            if not isinstance(expected, dict) or not expected:
                errors.append({"path": "/expected", "message": "must map each category to its expected proportion (or count)"})
                expected = None
            else:
                for key, value in expected.items():
                    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value) or value < 0:
                        errors.append({"path": f"/expected/{key}", "message": "must be a non-negative number"})
                if not errors and sum(expected.values()) <= 0:
                    errors.append({"path": "/expected", "message": "the expected proportions sum to 0"})
        self.expected = expected
        # A column may play one role only.
        seen: dict = {}
        for col, path in self._all_paths():
            if col is None:
                continue
            if col in seen:
                errors.append({"path": path, "message": f"column {col!r} already has a role ({seen[col].split('/')[1]})"})
            else:
                seen[col] = path
        try:
            self.overrides = check_levels(df, levels)
        except AssistantError as exc:
            errors.extend(exc.errors)
            self.overrides = {}
        if errors:
            raise AssistantError(_summary(errors), errors)

    def _column(self, col, path, errors):
        if not _is_label(col):
            errors.append({"path": path, "message": "must be a column name"})
            return None
        if col not in self.df.columns:
            close = [c for c in self.df.columns if str(c).lower() == str(col).lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append({"path": path, "message": f"unknown column {col!r}{hint}"})
            return None
        self.paths.setdefault(col, path)
        return col

    def _all_paths(self):
        if isinstance(self.outcome, list):
            for i, c in enumerate(self.outcome):
                yield c, f"/outcome/{i}"
        else:
            yield self.outcome, "/outcome"
        for key in LIST_ROLES:
            single = key in self.scalar_roles
            for i, c in enumerate(self.lists[key]):
                yield c, f"/{key}" if single else f"/{key}/{i}"
        for key in ("subject", "weights", "strata"):
            yield self.single[key], f"/{key}"

    def path(self, col) -> str:
        return self.paths.get(col, "")

    def used(self) -> list:
        out = []
        for col, _ in self._all_paths():
            if col is not None and col not in out:
                out.append(col)
        return out


def _summary(errors) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['path'] or 'data'}: {first['message']}{more}"


def fail(path: str, message: str):
    raise AssistantError(f"{path or 'data'}: {message}", [{"path": path, "message": message}])


class Data:
    """Profiled columns, and arrays over the complete rows.

    ``mask`` keeps the rows complete in the design's columns (None: every row);
    :meth:`restricted` gives the copy for a design. Profile entries and arrays are
    memoised on first use and never change afterwards; the restricted copy shares
    the profile entries (they describe whole columns) but not the arrays.
    """

    def __init__(self, roles: Roles, mask=None, entries: dict | None = None):
        self.roles = roles
        self.df = roles.df
        self.mask = mask
        self._entries: dict = {} if entries is None else entries
        self._arrays: dict = {}

    def entry(self, col) -> dict:
        if col not in self._entries:
            self._entries[col] = profile_column(self.df[col], col, self.roles.overrides.get(col))
        return self._entries[col]

    def level(self, col) -> str | None:
        return self.entry(col)["level"]

    def profile(self) -> dict:
        columns = {}
        for name in self.df.columns:
            if name in self._entries:
                columns[str(name)] = self._entries[name]
            else:
                entry = cheap_entry(self.df[name], name)
                if name in self.roles.overrides:
                    entry["level"], entry["reason"] = self.roles.overrides[name], "set by the caller (levels)"
                columns[str(name)] = entry
        return {"rows": int(len(self.df)), "columns": columns}

    def restricted(self, cols) -> tuple[Data, int, int]:
        """The data over the rows complete in ``cols``, rows kept, rows dropped."""
        mask = np.ones(len(self.df), dtype=bool)
        for c in cols:
            s = self.df[c]
            mask &= ~s.isna().to_numpy()
            if pd.api.types.is_float_dtype(s.dtype):
                mask &= np.isfinite(s.to_numpy(dtype="float64", na_value=np.nan))  # inf is not a measurement
        kept = int(mask.sum())
        return Data(self.roles, mask, self._entries), kept, int(len(self.df) - kept)

    def _series(self, col) -> pd.Series:
        s = self.df[col]
        return s if self.mask is None or self.mask.all() else s[self.mask]

    def codes(self, col):
        """(codes 0..k-1, level labels) of a factor over the kept rows, in a natural order."""
        key = ("codes", col)
        if key not in self._arrays:
            s = self._series(col)
            order = self.entry(col)["summary"].get("order")
            if order is not None and not isinstance(s.dtype, pd.CategoricalDtype):
                s = pd.Categorical(s.astype(object), categories=order, ordered=True)
            try:
                codes, uniques = pd.factorize(s, sort=True)
            except TypeError:  # values of mixed types (numbers and text) do not sort together
                codes, uniques = pd.factorize(pd.Series(s).astype(str), sort=True)
            self._arrays[key] = (codes.astype(np.int64), [plain(u) for u in list(uniques)])
        return self._arrays[key]

    def numeric(self, col) -> np.ndarray:
        """Float values over the kept rows: numbers as they are, booleans 0/1, ordered text / categories as ranks."""
        key = ("num", col)
        if key not in self._arrays:
            s = self._series(col)
            dtype = s.dtype
            if pd.api.types.is_bool_dtype(dtype):
                out = s.to_numpy(dtype="float64", na_value=np.nan)
            elif isinstance(dtype, pd.CategoricalDtype):
                out = s.cat.codes.to_numpy().astype(float)
            elif pd.api.types.is_numeric_dtype(dtype):
                out = s.to_numpy(dtype="float64", na_value=np.nan)
            else:
                conv = pd.to_numeric(s, errors="coerce")
                if conv.notna().sum() == s.notna().sum():
                    out = conv.to_numpy(dtype="float64", na_value=np.nan)
                else:
                    codes, _ = self.codes(col)
                    out = codes.astype(float)
            self._arrays[key] = out
        return self._arrays[key]

    def weights(self) -> np.ndarray | None:
        col = self.roles.single["weights"]
        return None if col is None else self.numeric(col)

    def success(self, col):
        """(0/1 array over kept rows, success label, label needs passing as input, assumed text or None)."""
        codes, labels = self.codes(col)
        if len(labels) != 2:
            raise ValueError("not binary")
        lowered = [str(x).strip().lower() for x in labels]
        if set(lowered) in ({"0", "1"}, {"false", "true"}, {"0.0", "1.0"}):
            success, explicit, assumed = labels[1], False, None
        else:
            pick = next((i for i, x in enumerate(lowered) if x in SUCCESS_WORDS), None)
            if pick is None:
                pick = 1
                assumed = (f"{col!r}: {labels[1]!r} counted as the event / success "
                           f"(the second of {labels[0]!r}, {labels[1]!r}); pass it differently by reordering the categories")
            else:
                assumed = f"{col!r}: {labels[pick]!r} counted as the event / success"
            success, explicit = labels[pick], True
        y = (codes == labels.index(success)).astype(float)
        return y, success, explicit, assumed


def find_subject(data: Data, exclude) -> list:
    """Columns whose name says identifier and whose values repeat (several rows per unit)."""
    out = []
    n = len(data.df)
    for c in data.df.columns:
        if c in exclude or not ID_NAME.search(str(c)):
            continue
        s = data.df[c]
        if pd.api.types.is_float_dtype(s.dtype):
            vals = s.dropna().to_numpy(dtype=float)
            if not np.all(vals == np.floor(vals)):
                continue
        if _repeats(s, n):
            out.append(c)
    return out


def _repeats(s: pd.Series, n: int) -> bool:
    """``s.nunique(dropna=True) < n``: a value repeats or is missing. For numpy numbers, without
    hashing: a strictly increasing column has no repeat, otherwise one sort finds equal neighbours."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf":
        a = s.to_numpy()
        if a.dtype.kind == "f" and np.isnan(a).any():
            return True  # a missing value: fewer distinct values than rows
        if a.size < 2 or bool(np.all(a[1:] > a[:-1])):
            return False
        a = np.sort(a)
        return bool(np.any(a[1:] == a[:-1]))  # -0.0 == 0.0, as for pandas' hashing
    return s.nunique(dropna=True) < n


def within_structure(subj_codes: np.ndarray, fac_codes: np.ndarray) -> tuple[float, int]:
    """(share of subjects seen in more than one level of the factor, most rows in one subject x level cell)."""
    k = int(fac_codes.max()) + 1 if fac_codes.size else 1
    key = subj_codes.astype(np.int64) * k + fac_codes
    uniq, counts = np.unique(key, return_counts=True)
    per_subject = np.bincount(uniq // k)
    per_subject = per_subject[per_subject > 0]
    return float(np.mean(per_subject > 1)) if per_subject.size else 0.0, int(counts.max()) if counts.size else 0
