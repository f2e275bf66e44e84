"""Run every ``benchmarks/bench_*.py`` in turn and print one table of all their figures.

Each script prints its own output as it runs; with ``DATADIVE_BENCH_JSON`` set
(this runner sets it) it also appends one JSON line per figure (see
``_report.py``). At the end the runner prints a markdown table: figure, value,
baseline (measured in the same run), ratio (value / baseline), target, met.

Exit status: 0 when every script ran, whether or not its targets were met
(a missed target is reported in the table, not treated as a failure); 1 when
a script crashed (any exit status other than 0 or 3, or no figures at all).

Usage::

    python benchmarks/run_all.py            # full sizes (a few minutes)
    python benchmarks/run_all.py --quick    # smaller sizes, shorter runs
    python benchmarks/run_all.py --only cells,ops --json results.jsonl
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _report import JSON_ENV, MISSED, fmt  # noqa: E402


def scripts(only: list[str] | None) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        wanted = {w.removeprefix("bench_").removesuffix(".py") for w in only}
        found = [f for f in found if f.stem.removeprefix("bench_") in wanted]
        missing = wanted - {f.stem.removeprefix("bench_") for f in found}
        if missing:
            raise SystemExit(f"no benchmark named {', '.join(sorted(missing))}")
    return found


def machine() -> str:
    cpus = os.cpu_count()
    try:
        load = ", load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = ""
    return f"{platform.node()}: {platform.system()} {platform.release()}, {cpus} CPUs, Python {platform.python_version()}{load}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def table(records: list[dict], crashed: list[tuple[str, int]]) -> str:
    lines = [
        "| figure | value | baseline | ratio | target | met |",
        "|---|--:|---|--:|---|---|",
    ]
    for r in records:
        value = fmt(r.get("value"), r.get("unit", ""))
        if r.get("baseline") is not None:
            baseline = f"{fmt(r['baseline'], r.get('unit', ''))} ({r.get('baseline_label') or 'baseline'})"
        else:
            baseline = "-"
        ratio = f"{r['ratio']:.2f}x" if isinstance(r.get("ratio"), (int, float)) else "-"
        met = {True: "met", False: "**missed**", None: "-"}[r.get("met")]
        lines.append("| " + " | ".join(_cell(c) for c in (r["figure"], value, baseline, ratio, r.get("target") or "-", met)) + " |")
    for name, code in crashed:
        lines.append(f"| {_cell(name)}: CRASHED (exit status {code}) | - | - | - | - | **crashed** |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark and print one table.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs (passed to every script)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names, e.g. cells,ops (default: all)")
    parser.add_argument("--json", default=None, help="also keep the figures as JSON lines in this file")
    parser.add_argument("--csv-gb", default=None, help="passed to bench_assistant.py (size of the big CSV; 0 skips it)")
    args = parser.parse_args()

    todo = scripts([s for s in args.only.split(",") if s.strip()] or None)
    fd, json_path = tempfile.mkstemp(prefix="datadive-bench-", suffix=".jsonl")
    os.close(fd)
    env = {**os.environ, JSON_ENV: json_path}
    started = datetime.datetime.now().astimezone()
    crashed: list[tuple[str, int]] = []
    timings: list[tuple[str, float, int]] = []
    records: list[dict] = []
    try:
        for script in todo:
            argv = [sys.executable, str(script)]
            if args.quick:
                argv.append("--quick")
            if args.csv_gb is not None and script.name == "bench_assistant.py":
                argv += ["--csv-gb", str(args.csv_gb)]
            print(f"\n== {script.name}{' --quick' if args.quick else ''}", flush=True)
            before = _count_lines(json_path)
            t0 = time.perf_counter()
            code = subprocess.call(argv, env=env)
            elapsed = time.perf_counter() - t0
            emitted = _count_lines(json_path) - before
            timings.append((script.name, elapsed, code))
            if code not in (0, MISSED) or emitted == 0:
                crashed.append((script.name, code))
        with open(json_path, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        if args.json:
            Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    finally:
        os.unlink(json_path)

    met = sum(r.get("met") is True for r in records)
    missed = [r["figure"] for r in records if r.get("met") is False]
    untargeted = sum(r.get("met") is None for r in records)
    print("\n## Datadive benchmarks" + (" (quick)" if args.quick else ""))
    print(f"\n{started:%Y-%m-%d %H:%M %Z}, {machine()}\n")
    print(table(records, crashed))
    print(f"\n{len(records)} figures: {met} targets met, {len(missed)} missed, {untargeted} without a target"
          + (f"; {len(crashed)} script(s) crashed" if crashed else "") + ".")
    if missed:
        print("Missed: " + "; ".join(missed) + ".")
    print("Run time: " + ", ".join(f"{name} {t:.0f} s" for name, t, _ in timings)
          + f"; total {sum(t for _, t, _ in timings):.0f} s.")
    if crashed:
        print("Crashed: " + ", ".join(f"{name} (exit status {code})" for name, code in crashed), file=sys.stderr)
        return 1
    return 0


def _count_lines(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


if __name__ == "__main__":
    sys.exit(main())
