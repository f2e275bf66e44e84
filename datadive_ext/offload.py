"""Work that grows with untrusted input runs here, off the server's event loop.

Two bounded lanes for the whole extension:

- ``run_blocking(fn, *args)``, the CPU lane: validating and rendering user and
  folder templates, parsing and serialising large notebooks, encoding large
  answers. It has one thread. Pure-Python work holds the interpreter lock, so
  more threads would add no throughput; they would only make the event loop wait
  longer for the lock each time it wants it back (measured with
  ``benchmarks/bench_loop_lag.py``: with four CPU threads the loop stalled for
  hundreds of milliseconds under load, with one it stays near the switch
  interval, see docs/performance.md).
- ``run_io(fn, *args)``, the I/O lane: work that mostly waits with the lock
  released — SQLite statements that may wait for another process's lock, reading
  data files, fsync. It has ``IO_WORKERS`` threads, so one slow disk or a held lock
  does not hold up the CPU lane.

A request awaits its job; the event loop serves other requests meanwhile, and a
burst of expensive requests queues in the lane instead of starving the machine.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")

CPU_WORKERS = 1
IO_WORKERS = 4

_pools: dict[str, ThreadPoolExecutor] = {}


def pool(lane: str = "cpu") -> ThreadPoolExecutor:
    executor = _pools.get(lane)
    if executor is None:
        workers = CPU_WORKERS if lane == "cpu" else IO_WORKERS
        executor = _pools[lane] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"datadive_{lane}")
    return executor


async def _run(lane: str, fn: Callable[..., T], args, kwargs) -> T:
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool(lane), call)


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the CPU lane (context variables carried over)."""
    return await _run("cpu", fn, args, kwargs)


async def run_io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the I/O lane: work that waits (locks, disks) rather than computes."""
    return await _run("io", fn, args, kwargs)
