"""The store off the event loop: waits for another process's lock happen in the worker pool.

A real SQLite file under ``tmp_path``, and a second process holding ``BEGIN
IMMEDIATE`` on it. While ``Store.write`` / ``Store.write_now`` wait for that lock
(``busy_timeout``), a ticker on the event loop keeps ticking; reads never wait.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from datadive_ext.store import Store, utcnow

BUSY = 1.0  # seconds a write waits for the other process's lock
TICK = 0.01

_LOCKER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE schema_migrations SET applied_at = applied_at")
sys.stdout.write("locked\n"); sys.stdout.flush()
sys.stdin.read()
conn.execute("ROLLBACK")
"""


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "offload.sqlite", busy_timeout=BUSY)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def locked(store):
    """Another process holds the write lock on the store's file while the test runs."""
    proc = subprocess.Popen([sys.executable, "-c", _LOCKER, store.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"locked"
    yield proc
    proc.stdin.close()
    proc.wait(30)


async def _longest_gap(coro) -> tuple[float, BaseException | None, float]:
    """``(longest event-loop gap, exception of coro or None, seconds coro took)`` with a ticker every 10 ms."""
    gaps, done = [], asyncio.Event()

    async def tick():
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    await asyncio.sleep(3 * TICK)
    started, error = time.monotonic(), None
    try:
        await coro
    except BaseException as exc:  # noqa: BLE001 - returned to the test
        error = exc
    took = time.monotonic() - started
    done.set()
    await ticker
    return max(gaps), error, took


def _insert(store: Store, pid: str) -> int:
    now = utcnow()
    store.execute("INSERT INTO projects (id, name, description, path, owner, created_at, updated_at) VALUES (?, ?, '', ?, 'alice', ?, ?)",
                  [pid, pid, f"projects/{pid}", now, now])
    return threading.get_ident()


async def test_a_write_waits_for_the_lock_off_the_loop(store, locked):
    gap, error, took = await _longest_gap(store.write(_insert, store, "p1"))
    assert isinstance(error, sqlite3.OperationalError) and error.sqlite_errorcode == sqlite3.SQLITE_BUSY, error
    assert took >= BUSY * 0.8, took  # it did wait for the lock
    assert gap < BUSY / 2, f"the event loop stalled {gap:.3f} s while a write waited {took:.3f} s"
    assert store.one("SELECT count(*) AS n FROM projects")["n"] == 0  # reads do not wait (WAL)


async def test_write_now_waits_off_the_loop_then_runs_on_it(store, locked):
    gap, error, took = await _longest_gap(store.write_now(_insert, store, "p1"))
    assert isinstance(error, sqlite3.OperationalError), error
    assert took >= BUSY * 0.8, took
    assert gap < BUSY / 2, f"the event loop stalled {gap:.3f} s while write_now waited {took:.3f} s"
    locked.stdin.close()  # the other process lets go
    locked.wait(30)
    assert await store.write_now(_insert, store, "p1") == threading.get_ident()  # on this thread, no await inside
    assert store.one("SELECT name FROM projects WHERE id = 'p1'")["name"] == "p1"


async def test_write_now_waits_for_a_writer_of_this_process(store):
    """A transaction of another thread of this process holds the store: ``write_now`` waits off the loop, then runs."""
    release = threading.Event()

    def slow():
        _insert(store, "first")
        release.wait(10)

    writer = asyncio.ensure_future(store.write(slow))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(store.write_now(_insert, store, "second"))
    await asyncio.sleep(0.1)
    assert not second.done()
    release.set()
    await writer
    assert await second == threading.get_ident()
    assert [r["id"] for r in store.query("SELECT id FROM projects ORDER BY id")] == ["first", "second"]


async def test_readers_see_committed_rows_only(store):
    inserted, release = threading.Event(), threading.Event()

    def held():
        _insert(store, "p1")
        assert store.one("SELECT count(*) AS n FROM projects")["n"] == 1  # the transaction sees its own row
        inserted.set()
        release.wait(10)

    writer = asyncio.ensure_future(store.write(held))
    await asyncio.get_running_loop().run_in_executor(None, inserted.wait, 10)
    assert store.one("SELECT count(*) AS n FROM projects")["n"] == 0  # not committed yet: not seen, and no wait
    release.set()
    await writer
    assert store.one("SELECT count(*) AS n FROM projects")["n"] == 1


async def test_a_failed_write_rolls_back(store):
    def broken():
        _insert(store, "p1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.write(broken)
    assert store.one("SELECT count(*) AS n FROM projects")["n"] == 0
    with pytest.raises(RuntimeError):
        await store.write_now(broken)
    assert store.one("SELECT count(*) AS n FROM projects")["n"] == 0
    await store.write(_insert, store, "p2")  # the store is usable after both
    assert store.one("SELECT count(*) AS n FROM projects")["n"] == 1


async def test_the_trace_callback_sees_both_connections(store):
    seen: list[str] = []
    store.set_trace_callback(seen.append)
    store.one("SELECT count(*) AS n FROM projects")
    await store.write(_insert, store, "p1")
    store.set_trace_callback(None)
    store.one("SELECT 1 AS x")
    assert seen[0] == "SELECT count(*) AS n FROM projects"
    assert "BEGIN IMMEDIATE" in seen and "COMMIT" in seen and any(s.startswith("INSERT INTO projects") for s in seen)
    assert not any(s == "SELECT 1 AS x" for s in seen)
