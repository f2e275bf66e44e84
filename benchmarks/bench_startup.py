"""Server start-up time with the extension beside the same command with the extension disabled, same run.

Start-up time: from launching ``python -m jupyter_server ...`` to the first
answered request (``GET /api/status``, polled every 10 ms). Both variants are
the same command line (the same other extensions: JupyterLab, collaboration,
...), except ``jpserver_extensions={"datadive_ext": False}`` for the baseline;
jupyter_server still imports the disabled package to read its metadata, but
does not load it. One discarded warm-up start of each, then N starts of each,
interleaved (with, without, with, ...) so that a burst of load on the machine
hits both alike; the medians are compared.

Also reported (no target): the CPU time (user + system, from /proc/<pid>/stat)
the server process used until it answered, with and without the extension:
far less sensitive to other load on the machine than the wall-clock time; and,
with the extension, the time until the first answered Datadive request
(``GET /api/datadive/projects``).

Target: the extension adds under 0.3 s.

Run: ``python benchmarks/bench_startup.py [--quick]`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import urllib.error
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import emit, exit_code, quick_parser  # noqa: E402
from _server import Server  # noqa: E402

TARGET_ADDED_S = 0.3


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(extension: bool) -> tuple[float, float, float | None]:
    """Seconds until ``/api/status`` answered, CPU seconds used by then, and (with the extension) until a Datadive route answered."""
    srv = Server(extension=extension)
    try:
        first = srv.start(poll=0.01)
        cpu = cpu_seconds(srv.pid)
        datadive = None
        if extension:
            t0 = time.perf_counter()
            while True:
                try:
                    status, _, _ = srv.call("GET", "api/datadive/projects")
                    if status == 200:
                        break
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.005)
            datadive = first + time.perf_counter() - t0
        else:
            status, _, _ = srv.call("GET", "api/datadive/projects")
            assert status == 404, f"the extension answered although disabled ({status})"
        return first, cpu, datadive
    finally:
        srv.stop()


def main() -> int:
    args = quick_parser(__doc__).parse_args()
    runs = 3 if args.quick else 7
    one_start(True)  # warm the file cache
    with_ext, without, first_datadive, cpu_with, cpu_without = [], [], [], [], []
    for i in range(runs):
        for extension in ((True, False) if i % 2 == 0 else (False, True)):
            first, cpu, datadive = one_start(extension)
            (with_ext if extension else without).append(first)
            (cpu_with if extension else cpu_without).append(cpu)
            if datadive is not None:
                first_datadive.append(datadive)
    w, wo = statistics.median(with_ext), statistics.median(without)
    cw, cwo = statistics.median(cpu_with), statistics.median(cpu_without)
    added = w - wo
    ok = added < TARGET_ADDED_S
    print(f"starts of each: {runs}, interleaved; seconds until GET /api/status answered")
    print(f"  with the extension:    {', '.join(f'{t:.2f}' for t in with_ext)}  median {w:.3f} s")
    print(f"  extension disabled:    {', '.join(f'{t:.2f}' for t in without)}  median {wo:.3f} s")
    print(f"  first Datadive answer: median {statistics.median(first_datadive):.3f} s after launch")
    print(f"CPU seconds used by the server until it answered: with {cw:.2f}, disabled {cwo:.2f}, added {cw - cwo:+.2f}")
    print(f"added by the extension: {added * 1000:+.0f} ms (ratio {w / wo:.2f})  target < {TARGET_ADDED_S * 1000:.0f} ms "
          f"{'ok' if ok else 'MISSED'}")
    emit(f"server start-up, with the extension (median of {runs})", w, "s", baseline=wo,
         baseline_label="same command, extension disabled")
    emit("server start-up, time added by the extension", added, "s", target=f"< {TARGET_ADDED_S:g} s added", met=ok)
    emit("server start-up CPU time, with the extension", cw, "s", baseline=cwo,
         baseline_label="same command, extension disabled")
    emit("server start-up CPU time added by the extension", cw - cwo, "s")
    return exit_code(ok)


if __name__ == "__main__":
    sys.exit(main())
