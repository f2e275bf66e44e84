"""The shortcuts that make ``profile`` and ``suggest`` fast (issue 14 item 6) give exact figures.

No figure of the profile is estimated from a sample: ``n``, ``missing``, ``distinct``,
the quartiles, the moments and the histogram are computed on every value. What the
shortcuts skip is work whose answer is known without it: a missing-value scan of a
dtype that cannot hold one, the copy that leaves out NaN when there is none, the
list of distinct values when only their number is shown, the whole-number check of
an integer dtype, the hashing of an id column that is strictly increasing. Each test
below writes out the expected values.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cell_templates.assistant.data import Data, Roles, _repeats, find_subject
from cell_templates.assistant.profile import missing_count, profile_column


def test_missing_count_is_exact_for_every_dtype():
    cases = {
        "int64": (pd.Series([1, 2, 3], dtype="int64"), 0),
        "uint8": (pd.Series([1, 2, 3], dtype="uint8"), 0),
        "bool": (pd.Series([True, False, True]), 0),
        "float64": (pd.Series([1.0, np.nan, 3.0, np.nan]), 2),
        "float64 with inf": (pd.Series([np.inf, -np.inf, np.nan]), 1),
        "Int64": (pd.Series([1, None, 3], dtype="Int64"), 1),
        "object": (pd.Series(["a", None, "b"], dtype=object), 1),
        "datetime": (pd.Series(pd.to_datetime(["2024-01-01", None, "2024-01-03"])), 1),
        "string": (pd.Series(["a", None, "b", None], dtype="string"), 2),
    }
    for name, (series, expected) in cases.items():
        assert missing_count(series) == expected, name
        assert missing_count(series) == int(series.isna().sum()), name


def test_float_column_without_missing_values_gives_the_same_figures_as_with_them():
    values = [1.5, 2.5, 2.5, 4.0, -1.0]
    full = profile_column(pd.Series(values), "v")
    holed = profile_column(pd.Series(values + [np.nan]), "v")
    assert (full["n"], full["missing"], full["distinct"]) == (5, 0, 4)
    assert (holed["n"], holed["missing"], holed["distinct"]) == (5, 1, 4)
    assert full["summary"] == holed["summary"]
    s = full["summary"]
    assert (s["min"], s["max"], s["mean"], s["q1"], s["median"], s["q3"]) == (-1.0, 4.0, 1.9, 1.5, 2.5, 2.5)
    assert s["sd"] == 1.85068  # deviations -0.4, 0.6, 0.6, 2.1, -2.9: sqrt(13.7 / 4) = 1.850675...
    assert full["level"] == "interval" and full["reason"] == "continuous values, some negative"


def test_skewness_summed_without_blas_keeps_six_significant_digits():
    # mean 2.2; squared deviations 4.84 x 3, 1.44, 60.84 (mean 15.36); cubes sum to 440.88 (mean 88.176);
    # skew = 88.176 / 15.36 ** 1.5 = 1.46475021...
    e = profile_column(pd.Series([0.0, 0.0, 0.0, 1.0, 10.0]), "v")
    assert e["summary"]["mean"] == 2.2
    assert e["summary"]["skew"] == 1.46475
    assert e["summary"]["counts"] == {"0": 3, "1": 1, "10": 1}
    assert e["distinct"] == 3


def test_many_distinct_values_are_counted_without_listing_them():
    # 30 distinct whole numbers (more than the 20 whose counts are shown), int64 beyond 2**53:
    # the integer dtype says whole numbers, the sort counts the distinct values.
    values = np.arange(30, dtype=np.int64) * 10**15 - 5
    e = profile_column(pd.Series(np.repeat(values, 2)), "big")
    assert (e["n"], e["missing"], e["distinct"]) == (60, 0, 30)
    assert e["level"] == "interval"
    assert e["reason"] == "whole numbers with 30 distinct values, some negative"
    assert "counts" not in e["summary"]
    assert e["summary"]["histogram"]["counts"] == [6, 4, 6, 4, 6, 4, 4, 6, 4, 6, 4, 6]
    assert sum(e["summary"]["histogram"]["counts"]) == 60


def test_whole_number_check_reads_past_the_first_block():
    # 100,000 floats, whole but for the largest one, which sorts into the last block of 65,536.
    values = np.arange(100_000, dtype=float)
    whole = profile_column(pd.Series(values), "x")
    assert whole["level"] == "identifier"
    assert whole["reason"] == "a distinct whole number on every row numbered 0..99999: a row number or id"
    values[-1] = 99_999.5
    frac = profile_column(pd.Series(values), "x")
    assert (frac["n"], frac["missing"], frac["distinct"]) == (100_000, 0, 100_000)
    assert frac["level"] == "ratio"
    assert frac["reason"] == "continuous values, none negative: a measurement with a true zero"
    assert frac["summary"]["max"] == 99999.5 and frac["summary"]["median"] == 49999.5


def test_infinite_values_are_noted_from_the_ends_of_the_sorted_values():
    note = "contains infinite values (inf): they are left out of the analysis"
    assert note in profile_column(pd.Series([1.0, 2.0, 3.0, math.inf]), "v")["notes"]
    e = profile_column(pd.Series([1.0, np.nan, -math.inf, 2.0, 3.0]), "v")
    assert note in e["notes"] and (e["n"], e["missing"], e["distinct"]) == (4, 1, 4)
    assert note not in profile_column(pd.Series([1.0, 2.0, 3.0]), "v")["notes"]
    assert note in profile_column(pd.Series([1, 2, "inf"], dtype=object).astype(float), "v")["notes"]


@pytest.mark.parametrize("values, dtype, expected", [
    ([0, 1, 2, 3], "int64", False),              # strictly increasing: no repeat, no hashing
    ([3, 1, 2, 0], "int64", False),              # unsorted, distinct
    ([3, 1, 3, 0], "int64", True),               # unsorted, a repeat
    ([1.0, 2.0, np.nan], "float64", True),       # a missing value: fewer distinct values than rows
    ([-0.0, 0.0], "float64", True),              # one value for pandas' nunique, equal for the sort
    ([-0.0, 1.0], "float64", False),
    ([2.5, 1.5, 2.5], "float64", True),
    (["a", "b", "a"], object, True),             # not numbers: pandas' nunique
    (["a", "b", "c"], object, False),
    ([7], "int64", False),
])
def test_repeat_rule_matches_nunique(values, dtype, expected):
    s = pd.Series(values, dtype=dtype)
    assert _repeats(s, len(s)) is expected
    assert (s.nunique(dropna=True) < len(s)) is expected


def test_find_subject_keeps_ids_that_repeat():
    df = pd.DataFrame({
        "subject_id": [0, 1, 2, 3, 4, 5],             # increasing, distinct: one row per subject
        "patient_id": [5, 3, 1, 0, 2, 4],             # distinct, unsorted
        "user_id": [1, 1, 2, 2, 3, 3],                # repeats
        "case_id": [1.0, 2.0, 3.0, 4.0, 5.0, np.nan],  # a missing id
        "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })
    roles = Roles(df, "y", (), None, None, None, None, None, None, None, None, None, None)
    assert find_subject(Data(roles), {"y"}) == ["user_id", "case_id"]
