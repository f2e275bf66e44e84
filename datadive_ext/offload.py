"""Work that grows with untrusted input runs here, off the server's event loop.

One bounded pool for the whole extension: validating and rendering user and
folder templates, parsing and serialising large notebooks, reading data files
for the assistant, SQLite statements that may wait for a lock. A request that
needs it awaits ``run_blocking(fn, *args)``; the event loop keeps serving other
requests meanwhile, and at most ``MAX_WORKERS`` such jobs run at once (the rest
queue), so a burst of expensive requests cannot starve the machine either.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")

MAX_WORKERS = 4

_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="datadive")
    return _pool


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the extension's worker pool (context variables carried over)."""
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool(), call)
