"""Values as strict JSON, the one converter of the package (what a browser's ``JSON.parse`` reads back).

numpy and pandas scalars become Python numbers, NaN and infinities become None,
dates their ISO text; containers are converted item by item. Needs neither numpy
nor pandas (their scalars are recognised by their ``item`` / ``isoformat`` methods).
"""

from __future__ import annotations

import math

#: Integers beyond this are not exact as JSON numbers in a browser (IEEE doubles).
MAX_EXACT_INT = 2**53


def json_safe(value, *, whole: bool = False):
    """``value`` with only JSON types: ``dict`` (text keys), ``list``, ``str``, ``bool``, ``int``,
    finite ``float`` and ``None``.

    ``whole=True`` writes a whole-number float as an int (a label read from a float
    column: ``2.0`` -> ``2``). Anything else is written as its text.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = float(value)
        return int(value) if whole and value.is_integer() and abs(value) < MAX_EXACT_INT else value
    if isinstance(value, dict):
        return {str(k): json_safe(v, whole=whole) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, whole=whole) for v in value]
    item = getattr(value, "item", None)
    if callable(item):  # a numpy scalar (np.int64, np.float32, np.bool_, np.datetime64...)
        try:
            return json_safe(item(), whole=whole)
        except (TypeError, ValueError):
            return str(value)
    if hasattr(value, "isoformat"):  # datetime, pandas Timestamp / Timedelta (NaT included)
        try:
            return value.isoformat()
        except Exception:
            return None
    return str(value)


__all__ = ["json_safe", "MAX_EXACT_INT"]
