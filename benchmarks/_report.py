"""How a benchmark reports a figure: a human line on stdout, and a JSON line for ``run_all.py``.

When the environment variable ``DATADIVE_BENCH_JSON`` names a file, every
``emit`` appends one JSON line to it::

    {"figure", "value", "unit", "baseline", "baseline_label", "ratio", "target", "met", "script"}

``ratio`` is ``value / baseline`` (for a rate, higher is better; for a time,
lower is better: the target says which). ``met`` is true, false, or null when a
figure has no target.

A script exits 0 when every target was met, ``MISSED`` (3) when one was
missed; any other exit status means the script failed to run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

JSON_ENV = "DATADIVE_BENCH_JSON"
MISSED = 3


def quick_parser(doc: str | None = None) -> argparse.ArgumentParser:
    """An argument parser with ``--quick`` (smaller sizes, shorter runs), as ``run_all.py --quick`` passes."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs (for development)")
    return parser


def fmt(value, unit: str = "") -> str:
    """A number written for people: 3 significant figures or so, thousands separated."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    a = abs(value)
    if isinstance(value, int):
        text = f"{value:,}"
    elif a >= 100:
        text = f"{value:,.0f}"
    elif a >= 10:
        text = f"{value:.1f}"
    elif a >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("/") or unit == "x" else f"{text} {unit}"


def emit(figure: str, value, unit: str, *, baseline=None, baseline_label: str | None = None, ratio=None,
         target: str = "", met: bool | None = None) -> None:
    """Record one figure (printed by the script itself; stored for ``run_all.py`` when asked)."""
    if ratio is None and baseline and value is not None:
        ratio = value / baseline
    path = os.environ.get(JSON_ENV)
    if not path:
        return
    record = {
        "figure": figure, "value": value, "unit": unit, "baseline": baseline, "baseline_label": baseline_label,
        "ratio": ratio, "target": target, "met": met, "script": Path(sys.argv[0]).name,
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def exit_code(all_met: bool) -> int:
    return 0 if all_met else MISSED


def percentile(values, q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks; NaN for no values."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values) -> float:
    return statistics.median(values) if values else float("nan")
