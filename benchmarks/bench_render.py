"""Render throughput of a typical single-cell template, beside a floor measured in the same run.

Measured: ``Template.render(inputs)`` of the built-in ``load-csv`` template, which
includes input validation against the JSON Schema, default filling, the sandboxed
Jinja2 render, the placeholder-placement check, literal writing, ``ast.parse`` and
the nbformat cell with its provenance.

Floor: ``string.Template.substitute`` of ``repr`` values into the same code, with
no validation and no checks: the least any renderer could do.

Run: ``python benchmarks/bench_render.py [--quick]`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, exit_code, quick_parser  # noqa: E402

from cell_templates import builtin_templates  # noqa: E402

TARGET_PER_S = 5_000
INPUTS = {"path": "data/survey 2024.csv", "name": "df", "sep": ";", "encoding": "utf-8", "na_values": ["NA", "-"]}
FLOOR_SOURCE = string.Template(
    "import pandas as pd\n\n$name = pd.read_csv(\n    $path,\n    sep=$sep,\n    encoding=$encoding,\n"
    "    na_values=$na_values,\n)\n$name.shape"
)


def rate(fn, seconds: float = 1.0, repeats: int = 5) -> float:
    """Best-of-``repeats`` calls per second, each repeat running for about ``seconds``."""
    rates = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        deadline = start + seconds / repeats
        while True:
            for _ in range(100):
                fn()
            n += 100
            now = time.perf_counter()
            if now >= deadline:
                rates.append(n / (now - start))
                break
    return statistics.median(rates)


def main() -> int:
    args = quick_parser(__doc__).parse_args()
    seconds = 1.0 if args.quick else 3.0
    template = builtin_templates()["load-csv"]
    # Different values on every call (as a form being filled in gives), cycled.
    variants = [{**INPUTS, "path": f"data/survey {i}.csv", "na_values": ["NA", str(i)]} for i in range(257)]
    state = {"i": 0}

    def next_inputs():
        state["i"] = (state["i"] + 1) % len(variants)
        return variants[state["i"]]

    template.render(INPUTS)  # warm caches

    def floor():
        inputs = next_inputs()
        FLOOR_SOURCE.substitute(
            name=inputs["name"], path=repr(inputs["path"]), sep=repr(inputs["sep"]),
            encoding=repr(inputs["encoding"]), na_values=repr(inputs["na_values"]),
        )

    rendered = rate(lambda: template.render(next_inputs()), seconds=seconds)
    floored = rate(floor, seconds=seconds / 3)
    ok = rendered >= TARGET_PER_S
    print(f"{'figure':40} {'value':>14} {'baseline':>14} {'ratio':>8}  target")
    print(
        f"{'render load-csv (validate+sandbox+ast)':40} {rendered:>12,.0f}/s {floored:>12,.0f}/s "
        f"{rendered / floored:>8.4f}  >= {TARGET_PER_S:,}/s {'ok' if ok else 'MISSED'}"
    )
    print(f"per render: {1e6 / rendered:.1f} us; floor (string.Template + repr): {1e6 / floored:.2f} us")
    emit("render load-csv (validate + sandbox + ast)", rendered, "/s", baseline=floored,
         baseline_label="string.Template + repr, no checks", target=f">= {TARGET_PER_S:,}/s", met=ok)
    return exit_code(ok)


if __name__ == "__main__":
    sys.exit(main())
