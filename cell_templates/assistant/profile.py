"""Profile a DataFrame: the level of measurement of each column, and why.

``profile(df, levels=None)`` returns ``{"rows", "columns": {name: entry}}`` where each
entry is ``{name, dtype, level, reason, n, missing, distinct, summary, notes}``:

- ``level``: one of :data:`~cell_templates.assistant.common.LEVELS` (None when every
  value is missing), ``reason``: why, in words a researcher can check;
- ``n``: non-missing values, ``missing``: missing values, ``distinct``: distinct
  non-missing values;
- ``summary``: figures that fit the level (mean / sd / quartiles, counts per level,
  first / last date, text length...);
- ``notes``: things worth knowing (constant column, ``"None"`` strings, integers
  stored as float because of missing values...);
- ``in_models`` (integer codes only): ``"categories"`` or ``"numbers"``, how a model
  (regression, ANCOVA, mixed model, GEE) uses the column; see :func:`model_use`.

Everything is vectorised (pandas / numpy, no per-row Python) and computed on every
value (nothing is estimated from a sample): a numeric column of a million rows costs
one sort (a few milliseconds), a text column one hash of its values.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .common import LEVELS, AssistantError, num, plain

#: Column names that say "this is who / what was measured".
_ID_WORDS = re.compile(
    r"^(?:subjects?|subj|ss|participants?|patients?|respondents?|persons?|individuals?|"
    r"ids?|uid|uuid|guid|record|case|animal|mouse|rat|child|student|family|household)"
    r"(?:[ _.-]?(?:ids?|no|nr|num|number|code|key))?$"
    r"|[ _.-](?:id|ids|uuid|key)$",
    re.IGNORECASE,
)
_ID_CAMEL = re.compile(r"[a-z](?:Id|ID)$")


class _IdName:
    """``ID_NAME.search(name)``: does the column name say identifier (subject, patient_id, userId...)?"""

    @staticmethod
    def search(name: str) -> bool:
        return bool(_ID_WORDS.search(name) or _ID_CAMEL.search(name))


ID_NAME = _IdName()
COUNT_NAME = re.compile(
    r"^(?:n|num|number|count|cnt|nb|no)[ _.-]|[ _.-](?:count|counts|cnt|n)$|^(?:counts?|freq|frequency)$"
    r"|(?:^|[ _.-])(?:visits|events|deaths|cases|arrests|accidents|claims|calls|births|errors|defects|crimes|"
    r"executions|admissions|children|offspring|eggs|seeds|colonies|infections|relapses|seizures|falls|failures)$",
    re.IGNORECASE,
)

#: Ordered scales recognised in text columns (lower case, low -> high).
ORDERED_SCALES = (
    ("strongly disagree", "disagree", "somewhat disagree", "neither agree nor disagree", "neutral",
     "somewhat agree", "agree", "strongly agree"),
    ("very dissatisfied", "dissatisfied", "neutral", "satisfied", "very satisfied"),
    ("very unlikely", "unlikely", "neutral", "likely", "very likely"),
    ("never", "rarely", "seldom", "sometimes", "occasionally", "often", "usually", "always"),
    ("very poor", "poor", "fair", "average", "good", "very good", "excellent"),
    ("none", "minimal", "mild", "moderate", "severe", "very severe", "extreme"),
    ("very low", "low", "lower", "medium", "middle", "moderate", "high", "higher", "very high"),
    ("xs", "s", "m", "l", "xl", "xxl"),
    ("extra small", "small", "medium", "large", "extra large"),
    ("first", "second", "third", "fourth", "fifth"),
    ("primary", "secondary", "tertiary"),
    ("elementary", "middle school", "high school", "college", "bachelor", "master", "doctorate", "phd"),
    ("infant", "child", "teen", "adolescent", "adult", "senior", "elderly"),
)
_BRACKET = re.compile(
    r"^\s*(?:(?:[<>]=?|[≤≥]|under|over|below|above|less than|more than)\s*(?P<a>\d+(?:\.\d+)?)"
    r"|(?P<b>\d+(?:\.\d+)?)\s*(?:-|–|to)\s*\d+(?:\.\d+)?"
    r"|(?P<c>\d+(?:\.\d+)?)\s*(?:\+|or more|and over|and above))\s*[a-z%]*\s*$",
    re.IGNORECASE,
)
_DATE = re.compile(r"^\s*(?:\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?|\d{1,2}/\d{1,2}/\d{4})\s*$")
#: Text that pandas' readers turn into NaN by default (``read_csv`` ``na_values``).
NA_LIKE = ("None", "none", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "<NA>", "-", "?", "", " ")

TOP = 10

#: Whole numbers with 3 to this many distinct values, profiled as ordinal or as counts,
#: are integer codes (1/2/3 for a site, a group, an ethnicity; a dose level; a month).
MAX_CODES = 5
#: Levels a caller can set (``levels``) to have integer codes used as numbers.
NUMBER_LEVELS = ("interval", "ratio", "count")


def profile(df, levels=None) -> dict:
    """Profile every column of ``df``; ``levels`` maps a column to a level that overrides inference."""
    if not isinstance(df, pd.DataFrame):
        raise AssistantError("profile needs a pandas DataFrame", [{"path": "", "message": f"got {type(df).__name__}"}])
    overrides = check_levels(df, levels)
    columns = {}
    for name in df.columns:
        columns[str(name)] = profile_column(df[name], name, overrides.get(name))
    return {"rows": int(len(df)), "columns": columns}


def check_levels(df, levels) -> dict:
    """Validate a ``levels`` override mapping; return ``{column: level}``."""
    if levels is None:
        return {}
    if not isinstance(levels, dict):
        raise AssistantError("levels must map column names to levels", [{"path": "/levels", "message": "must be an object"}])
    errors, out = [], {}
    for col, level in levels.items():
        if col not in df.columns:
            errors.append({"path": f"/levels/{col}", "message": f"unknown column {col!r}"})
        elif level not in LEVELS:
            errors.append({"path": f"/levels/{col}", "message": f"unknown level {level!r}: use one of {', '.join(LEVELS)}"})
        else:
            out[col] = level
    if errors:
        raise AssistantError("invalid levels", errors)
    return out


def missing_count(series: pd.Series) -> int:
    """Missing values of a column, exactly as ``series.isna().sum()``, without the scan where the
    dtype says there are none (numpy integers and booleans cannot hold NaN) and with one pass of
    ``np.isnan`` over numpy floats."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iub":
            return 0
        if dtype.kind == "f":
            return int(np.count_nonzero(np.isnan(series.to_numpy())))
    return int(series.isna().sum())


def cheap_entry(series: pd.Series, name) -> dict:
    """What the dtype alone says about a column the design does not use (no scan of the values
    beyond counting missing ones)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        level = "binary"
    elif isinstance(dtype, pd.CategoricalDtype):
        level = "ordinal" if dtype.ordered else "nominal"
    elif pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        level = "datetime"
    elif pd.api.types.is_numeric_dtype(dtype):
        level = "ratio"
    else:
        level = "nominal"
    missing = missing_count(series)
    return {
        "name": plain(name), "dtype": str(dtype), "level": level,
        "reason": f"from the dtype only ({dtype}): the column is not part of the design, so its values were not examined",
        "n": int(len(series)) - missing, "missing": missing, "distinct": None, "summary": {}, "notes": [],
        "profiled": False,
    }


def profile_column(series: pd.Series, name=None, override: str | None = None) -> dict:
    """The profile entry of one column (see the module doc)."""
    name = series.name if name is None else name
    dtype = series.dtype
    n_rows = len(series)
    entry = {"name": plain(name), "dtype": str(dtype), "level": None, "reason": "", "n": 0,
             "missing": 0, "distinct": 0, "summary": {}, "notes": [], "profiled": True}
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype) \
            or pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype) \
            or (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)):
        kind = None
    else:
        kind = _object_kind(series)
    missing = missing_count(series)
    entry["missing"] = missing
    entry["n"] = n = n_rows - missing
    if n == 0:
        entry["reason"] = "every value is missing" if n_rows else "the column is empty"
        entry["notes"].append("no values: the column cannot be analysed")
        if override:
            entry["level"] = override
        return entry
    whole = False
    if pd.api.types.is_bool_dtype(dtype) or kind == "boolean":
        _bool(series, entry)
    elif isinstance(dtype, pd.CategoricalDtype):
        _categorical(series, entry)
    elif pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype) or kind == "datetime":
        _datetime(series, entry)
    elif kind in (None, "numeric"):
        values = series.to_numpy(dtype="float64", na_value=np.nan) if kind is None else \
            pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        # A numpy column without missing values has no NaN to leave out (and no copy to make).
        vals = values if missing == 0 and isinstance(dtype, np.dtype) else values[~np.isnan(values)]
        whole_dtype = kind is None and pd.api.types.is_integer_dtype(dtype)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            whole, has_inf = _numeric(vals, str(name), entry,
                                      float_dtype=pd.api.types.is_float_dtype(dtype) or kind == "numeric",
                                      whole_dtype=whole_dtype)
        if has_inf:
            entry["notes"].append("contains infinite values (inf): they are left out of the analysis")
    else:
        _strings(series, str(name), entry)
    if entry["distinct"] == 1:
        entry["notes"].append("constant: every non-missing value is the same, so the column carries no information")
    inferred = entry["level"]
    if override and override != entry["level"]:
        entry["reason"] = f"set by the caller (levels); inferred {entry['level'] or 'nothing'}: {entry['reason']}"
        entry["level"] = override
    if whole:
        use, note = model_use(str(name), inferred, entry["distinct"], override, list(entry["summary"].get("counts") or ()))
        if use:
            entry["in_models"] = use
            entry["notes"].append(note)
    return entry


def model_use(name: str, inferred: str | None, distinct: int, override: str | None, codes=()) -> tuple[str | None, str]:
    """How a model uses a column of whole numbers: ``("categories" | "numbers", why)``, or
    ``(None, "")`` when the column is not integer codes.

    Integer codes (3 to :data:`MAX_CODES` whole numbers, profiled as ordinal or as counts)
    are categories, ``C(x)``, unless the name says counts or ``levels`` says
    ``interval``, ``ratio`` or ``count``. The assistant reads this wherever a model
    takes the column; a correlation reads the codes as ordered values.
    """
    if inferred not in ("ordinal", "count") or not 3 <= distinct <= MAX_CODES:
        return None, ""
    if override and override not in NUMBER_LEVELS + ("nominal", "ordinal"):
        return None, ""
    shown = f"{distinct} integer codes" + (f" ({', '.join(map(str, codes))})" if codes else "")
    if override in NUMBER_LEVELS:
        return "numbers", (f"{shown}: models use them as a number, as levels says {override!r} "
                           "(equal steps between the codes)")
    if override is None and COUNT_NAME.search(name):
        return "numbers", (f"{shown}: the name says counts, so models use them as a number; if they are codes "
                           f"of categories, set levels={{{name!r}: 'nominal'}}")
    return "categories", (f"{shown}: models use them as categories, C({name}); "
                          f"set levels={{{name!r}: 'interval'}} to use them as a number")


def _object_kind(series: pd.Series) -> str:
    """What an object / string column holds: numeric, boolean, datetime or string."""
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    if inferred == "boolean":
        return "boolean"
    if inferred in ("datetime64", "datetime", "date"):
        return "datetime"
    return "string"


def _counts(series: pd.Series) -> pd.Series:
    return series.value_counts(dropna=True, sort=True)


def _top_counts(vc: pd.Series, order=None) -> dict:
    if order is not None:
        vc = vc.reindex([o for o in order if o in vc.index])
    shown = vc.iloc[:TOP] if order is None else vc
    out = {str(plain(k)): int(v) for k, v in shown.items()}
    rest = int(vc.iloc[TOP:].sum()) if order is None and len(vc) > TOP else 0
    if rest:
        out["(other)"] = rest
    return out


def _bool(series, entry):
    vc = _counts(series)
    entry["distinct"] = int(len(vc))
    entry["level"] = "binary"
    entry["reason"] = "boolean values (True / False)"
    entry["summary"] = {"counts": _top_counts(vc)}
    if True in vc.index:
        entry["summary"]["proportion_true"] = num(vc.get(True, 0) / vc.sum())


def _categorical(series, entry):
    cats = series.cat.categories
    vc = series.value_counts(dropna=True, sort=False)
    observed = vc[vc > 0]
    entry["distinct"] = int(len(observed))
    ordered = bool(series.cat.ordered)
    order = [plain(c) for c in cats]
    entry["summary"] = {"counts": _top_counts(vc if len(vc) <= TOP * 2 else vc.sort_values(ascending=False)),
                        "categories": order[:50]}
    unused = len(cats) - len(observed)
    if unused:
        entry["notes"].append(f"{unused} declared categor{'y has' if unused == 1 else 'ies have'} no rows")
    if len(observed) == 2:
        entry["level"] = "binary"
        entry["reason"] = f"{'ordered ' if ordered else ''}pandas categorical with two observed categories"
    elif ordered:
        entry["level"] = "ordinal"
        entry["reason"] = f"ordered pandas categorical ({' < '.join(map(str, order[:8]))}{' ...' if len(order) > 8 else ''})"
    else:
        entry["level"] = "nominal"
        entry["reason"] = f"unordered pandas categorical with {len(observed)} categories"


def _datetime(series, entry):
    values = series if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.PeriodDtype) \
        else pd.to_datetime(series, errors="coerce")
    entry["distinct"] = int(values.nunique(dropna=True))
    entry["level"] = "datetime"
    entry["reason"] = "dates / times" if values is series else "date / time values stored as objects"
    entry["summary"] = {"first": plain(values.min()), "last": plain(values.max())}


def _quantile_sorted(s: np.ndarray, q: float) -> float:
    pos = q * (s.size - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, s.size - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


#: Distinct values up to which the values themselves and their counts are gathered (counts
#: per value, the list of values in a reason); above it only their number is needed.
_FEW_VALUES = 2 * TOP
_CHUNK = 1 << 16


def _all_whole(s: np.ndarray) -> bool:
    """``np.all(np.floor(s) == s)``, a block at a time: stops at the first block holding a fraction."""
    for start in range(0, s.size, _CHUNK):
        block = s[start:start + _CHUNK]
        if not np.array_equal(np.floor(block), block):
            return False
    return True


def _numeric(vals: np.ndarray, name: str, entry: dict, float_dtype: bool, whole_dtype: bool = False) -> tuple[bool, bool]:
    """Level, reason and summary of numeric values (no NaN); (all whole numbers, some infinite)."""
    # One sort gives distinct values, their counts and the quartiles (faster than hashing).
    n = vals.size
    s = np.sort(vals)
    change = s[1:] != s[:-1]
    distinct = int(np.count_nonzero(change)) + 1
    if distinct <= _FEW_VALUES:
        starts = np.concatenate(([0], np.flatnonzero(change) + 1))
        uniq = s[starts]
        counts = np.diff(np.append(starts, n))
    else:
        uniq = counts = None  # not needed: no counts per value, no list of values
    del change
    entry["distinct"] = distinct
    vmin, vmax = float(s[0]), float(s[-1])
    # Integer dtypes hold whole numbers only (their float64 copy too, however large).
    is_int = True if whole_dtype else bool(np.all(np.floor(uniq) == uniq)) if uniq is not None else _all_whole(s)
    has_inf = vmin == -math.inf or vmax == math.inf
    summary = {"min": num(vmin), "max": num(vmax)}
    if distinct > 2:
        mean = float(vals.mean())
        d = vals - mean
        d2 = d * d
        m2 = float(d2.mean())
        sd = math.sqrt(m2 * n / (n - 1)) if n > 1 else float("nan")
        summary.update({"mean": num(mean), "sd": num(sd), "q1": num(_quantile_sorted(s, 0.25)),
                        "median": num(_quantile_sorted(s, 0.5)), "q3": num(_quantile_sorted(s, 0.75))})
        if m2 > 0 and n > 2:
            # The sum of cubes summed by numpy (pairwise), in place: np.dot gives the same figure to the
            # 6 significant digits shown but wakes OpenBLAS's threads, whose spinning took as much
            # CPU as the profile itself on a busy 2-core machine.
            cubes = np.multiply(d2, d, out=d2)
            summary["skew"] = num(float(cubes.sum()) / n / m2**1.5)
    notes = entry["notes"]
    if is_int and float_dtype and entry["missing"] and distinct > 1:
        notes.append("whole numbers stored as float because of missing values (pandas cannot hold NaN in an int64 column)")
    hint_id = bool(ID_NAME.search(name))
    level, reason = None, ""
    if distinct == 1:
        level, reason = "nominal", f"a single value ({plain(vmin)}): constant"
    elif distinct == 2:
        level = "binary"
        a, b = sorted(uniq.tolist())
        reason = f"two distinct values ({plain(a)} / {plain(b)})"
        if (a, b) == (0, 1):
            reason += ": a 0/1 indicator"
        else:
            reason += ": a two-level code"
    elif is_int:
        consecutive = (vmax - vmin + 1) == distinct
        if distinct == n and n >= 3 and (hint_id or (consecutive and n >= 10 and vmin in (0, 1))):
            level = "identifier"
            reason = "a distinct whole number on every row" + (
                f" and the name {name!r} says identifier" if hint_id else f" numbered {plain(vmin)}..{plain(vmax)}: a row number or id")
        elif hint_id and distinct >= 3:
            level = "identifier"
            reason = f"the name {name!r} says identifier; {distinct} ids, repeated across rows (several rows per unit)"
        elif distinct <= 12 and vmin >= 1 and (vmax - vmin) <= 12 and not COUNT_NAME.search(name):
            level = "ordinal"
            if float_dtype and entry["missing"]:
                reason = (f"{distinct} whole-number values {plain(vmin)}..{plain(vmax)} stored as float because of missing values: "
                          "a rating / Likert scale (ordered categories)")
            elif consecutive:
                reason = f"{distinct} consecutive whole-number values {plain(vmin)}..{plain(vmax)}: a rating scale or a coded factor (treated as ordered)"
            else:
                reason = f"{distinct} whole-number values between {plain(vmin)} and {plain(vmax)}: codes of an ordered factor"
        elif vmin >= 0 and (vmin == 0 or COUNT_NAME.search(name)):
            level = "count"
            reason = (f"non-negative whole numbers{' including 0' if vmin == 0 else ''} ({distinct} values, {plain(vmin)}..{plain(vmax)})"
                      f"{' and the name ' + repr(name) + ' says counts' if COUNT_NAME.search(name) else ''}: counts")
        elif vmin >= 0:
            level, reason = "ratio", f"whole numbers with {distinct} distinct values, none negative: a quantity with a true zero"
        else:
            level, reason = "interval", f"whole numbers with {distinct} distinct values, some negative"
    else:
        if distinct <= 6 and n >= 5 * distinct:
            level = "ordinal"
            reason = (f"only {distinct} distinct numeric values ({', '.join(str(plain(u)) for u in sorted(uniq.tolist()))}), each repeated: "
                      "levels of an ordered factor (a dose or a setting)")
        elif vmin >= 0:
            level, reason = "ratio", "continuous values, none negative: a measurement with a true zero"
        else:
            level, reason = "interval", "continuous values, some negative"
    if level in ("binary", "ordinal", "count") and distinct <= 2 * TOP:
        summary["counts"] = {str(plain(k)): int(v) for k, v in zip(uniq.tolist(), counts.tolist())}
    elif distinct > 2 and level != "identifier":
        summary["histogram"] = _histogram(s, vmin, vmax, is_int)
    entry["level"], entry["reason"], entry["summary"] = level, reason, summary
    return is_int, has_inf


HIST_BINS = 12


def _histogram(s: np.ndarray, vmin: float, vmax: float, is_int: bool) -> dict:
    """Equal-width bins over the sorted values, for a small distribution chart.

    At most ``HIST_BINS`` bins; whole numbers spanning fewer values get one bin a value.
    """
    bins = HIST_BINS
    if is_int and vmax - vmin + 1 <= HIST_BINS:
        bins = int(vmax - vmin + 1)
        edges = np.arange(vmin - 0.5, vmax + 1.0, 1.0)
    else:
        edges = np.linspace(vmin, vmax, bins + 1)
    # Right-closed last bin: searchsorted on the inner edges of the sorted values.
    positions = np.searchsorted(s, edges[1:-1], side="left")
    counts = np.diff(np.concatenate(([0], positions, [s.size])))
    return {"edges": [num(float(e)) for e in edges], "counts": [int(c) for c in counts]}


def _scale_order(values: list[str]):
    """The known ordered scale (low -> high) that holds every value, or None."""
    lowered = [v.strip().lower() for v in values]
    for scale in ORDERED_SCALES:
        if all(v in scale for v in lowered):
            rank = {s: i for i, s in enumerate(scale)}
            return [v for _, v in sorted(zip(lowered, values), key=lambda t: rank[t[0]])]
    return None


def _bracket_order(values: list[str]):
    keys = []
    for v in values:
        m = _BRACKET.match(v)
        if not m:
            return None
        a, b, c = m.group("a"), m.group("b"), m.group("c")
        low = v.strip().lower()
        if a is not None:
            first = float(a) - (0.5 if low.startswith(("<", "≤", "under", "below", "less")) else -0.5)
        else:
            first = float(b if b is not None else c)
        keys.append(first)
    return [v for _, v in sorted(zip(keys, values))]


def _strings(series, name, entry):
    vc = _counts(series)
    distinct = int(len(vc))
    entry["distinct"] = distinct
    n = entry["n"]
    notes = entry["notes"]
    labels = [str(x) for x in vc.index[:2000]]
    na_like = [v for v in labels if v in NA_LIKE]
    if na_like:
        shown = ", ".join(repr(v) for v in na_like[:4])
        notes.append(f"text values that read like missing ({shown}): pandas reads 'None', 'NA', 'null' and '' as missing by default "
                     "(read_csv keep_default_na); here they are kept as categories. Replace them with NaN if they mean missing.")
    elif entry["missing"]:
        notes.append("pandas reads 'None', 'NA', 'null' and '' as missing by default: if one of them was a real category "
                     "in the source file (e.g. 'None' = no treatment), read it with keep_default_na=False")
    lengths = np.fromiter((len(x) for x in labels), dtype=float, count=len(labels))
    spaces = np.fromiter((" " in x.strip() for x in labels), dtype=bool, count=len(labels))
    mean_len = float(lengths.mean()) if lengths.size else 0.0
    summary = {"counts": _top_counts(vc)}
    hint_id = bool(ID_NAME.search(name))
    level = reason = None
    if distinct == 1:
        level, reason = "nominal", f"text with a single value ({labels[0]!r}): constant"
    elif distinct == 2:
        level, reason = "binary", f"text with two values ({labels[0]!r} / {labels[1]!r})"
    elif distinct == n and n >= 3 and (mean_len > 30 or spaces.mean() > 0.5):
        level, reason = "text", f"free text: every value differs (mean length {mean_len:.0f} characters)"
    elif distinct == n and n >= 3:
        level, reason = "identifier", "a distinct short label on every row: an identifier"
    elif hint_id and distinct >= 3:
        level, reason = "identifier", f"the name {name!r} says identifier; {distinct} ids, repeated across rows (several rows per unit)"
    elif distinct > 20 and distinct > 0.5 * n and (mean_len > 30 or spaces.mean() > 0.5):
        level, reason = "text", f"free text: {distinct} different values of mean length {mean_len:.0f}"
    elif distinct <= 2000 and all(_DATE.match(x) for x in labels):
        level, reason = "datetime", "date strings (not yet converted with pd.to_datetime)"
        parsed = pd.to_datetime(pd.Series(labels), errors="coerce")
        summary = {"first": plain(parsed.min()), "last": plain(parsed.max())}
    else:
        order = _scale_order(labels) if distinct <= 12 else None
        if order:
            level, reason = "ordinal", f"text categories of a known ordered scale ({' < '.join(order)})"
            summary["order"] = order
        else:
            order = _bracket_order(labels) if distinct <= 30 else None
            if order:
                level, reason = "ordinal", f"ordered numeric brackets ({' < '.join(order[:6])}{' ...' if len(order) > 6 else ''})"
                summary["order"] = order
            else:
                level, reason = "nominal", f"text categories ({distinct} values)"
                if distinct > 50:
                    notes.append(f"{distinct} categories: too many for group comparisons")
    if level in ("text", "identifier"):
        summary = {"mean_length": num(mean_len), "example": labels[0][:80]}
    entry["level"], entry["reason"], entry["summary"] = level, reason, summary
