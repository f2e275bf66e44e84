"""The embedded SQLite store: one file, WAL, foreign keys, versioned migrations.

Each migration is a function taking the ``Database``; migration N runs once,
inside a transaction, and records itself in ``schema_migrations``. Add a
migration by appending to ``MIGRATIONS``; never edit a released one.

The store speaks to the standard library's ``sqlite3`` directly. It used
sqlite-utils at first, but that package imports pandas, numpy and pyarrow
whenever they are installed (to map their types, which the store never
inserts), which added about half a second to every Jupyter server start; the
store only needed its ``insert`` and ``table_names``, now the few lines of
``Database`` below.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

from .offload import run_io

T = TypeVar("T")


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


# Migration 1: projects and their members.
_M1 = """
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX projects_name ON projects (name COLLATE NOCASE, id);
CREATE TABLE members (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    added_at TEXT NOT NULL,
    PRIMARY KEY (project_id, user)
);
CREATE INDEX members_user ON members (user, project_id);
"""

# Migration 2: user templates, one immutable row per version.
_M2 = """
CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    latest_version INTEGER NOT NULL,
    author TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    locked INTEGER NOT NULL DEFAULT 0,
    assistant_test TEXT,
    search TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    retired_at TEXT
);
CREATE INDEX templates_category ON templates (category, id);
CREATE TABLE template_versions (
    template_id TEXT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (template_id, version)
);
"""


# Migration 3: the journal of cell operations (for history and undo).
_M3 = """
CREATE TABLE operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    notebook TEXT NOT NULL,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    op TEXT NOT NULL,
    cell_id TEXT,
    before TEXT,
    after TEXT,
    undone_by TEXT,
    undoes TEXT
);
CREATE INDEX operations_notebook ON operations (project_id, notebook, seq);
"""


# Migration 4: write-ahead journal entries. An operation's rows are written as
# pending before the notebook is saved and confirmed after; a pending row left by a
# crash is settled against the file (kept if the file has the change, else dropped).
_M4 = """
ALTER TABLE operations ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX operations_pending ON operations (project_id, notebook) WHERE pending = 1
"""


# Migration 5: headless runs of project notebooks (services/runs.py). ``seq`` orders
# them (lists are newest first); ``done`` / ``total`` count code cells; ``error`` is
# JSON; ``updated_at`` is the last time the server recorded the run, which a server
# that starts again takes as the end of a run it finds ``queued`` or ``running``
# (it marks those ``interrupted``).
_M5 = """
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    notebook TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    parameters TEXT NOT NULL DEFAULT '{}',
    timeout REAL,
    output TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL,
    error TEXT
);
CREATE INDEX runs_project ON runs (project_id, seq);
CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running')
"""


def _sql(script: str):
    def apply(db: Database) -> None:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)

    return apply


MIGRATIONS = [_sql(_M1), _sql(_M2), _sql(_M3), _sql(_M4), _sql(_M5)]


class Database:
    """One ``sqlite3`` connection in autocommit mode, rows as dicts where asked."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql, params)

    def query(self, sql: str, params=()):
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row))

    def table_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def insert(self, table: str, row: dict) -> None:
        """``INSERT`` one row; table and column names are the code's own, never input."""
        columns = list(row)
        self.conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [row[c] for c in columns],
        )


class Store:
    """The extension's SQLite file: one writing connection, one reading connection.

    - **Writes** run in transactions (``BEGIN IMMEDIATE`` ... ``COMMIT``) on the
      writing connection, one at a time (a re-entrant lock). ``BEGIN IMMEDIATE``
      can wait up to ``busy_timeout`` for a lock another process holds on the file,
      so code on the event loop writes through ``await write(fn, ...)`` (the whole
      transaction in the worker pool of ``datadive_ext.offload``) or, when the
      transaction must run on the loop thread itself (a live document edited inside
      it), through ``await write_now(fn, ...)``, which waits for the lock off the
      loop and then takes it without waiting.
    - **Reads** outside a transaction use the reading connection: in WAL mode a
      reader never waits for a writer, and never sees a transaction that has not
      committed. A read inside a transaction of the same thread uses the writing
      connection, so it sees that transaction's own changes.

    An in-memory store (``:memory:``) has the one connection for both.
    """

    def __init__(self, path: str | Path, busy_timeout: float = 1.0):
        self.path = str(path)
        self.busy_timeout = busy_timeout
        memory = self.path == ":memory:"
        if not memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = Database(self._connect())
        self._lock = threading.RLock()
        self._owner: int | None = None  # the thread whose transaction is open on ``db``
        if not memory:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._reader = Database(self._connect())
            self._reader.execute("PRAGMA query_only = ON")
            self._read_lock = threading.Lock()
        else:
            self._reader, self._read_lock = self.db, self._lock

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        # How long a statement waits for a lock another process holds before failing
        # (answered 503 with Retry-After: errors.environment_error).
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return conn

    # -- migrations ----------------------------------------------------------

    def schema_version(self) -> int:
        with self._lock:
            if "schema_migrations" not in self.db.table_names():
                return 0
            row = self.db.execute("SELECT max(version) FROM schema_migrations").fetchone()
            return row[0] or 0

    def migrate(self, target: int | None = None) -> int:
        """Apply pending migrations up to ``target`` (default: all). Returns the new version."""
        target = len(MIGRATIONS) if target is None else target
        with self._lock:
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
            current = self.schema_version()
            for version in range(current + 1, target + 1):
                with self.transaction():
                    if self.schema_version() >= version:  # another server applied it meanwhile
                        continue
                    MIGRATIONS[version - 1](self.db)
                    self.db.insert("schema_migrations", {"version": version, "applied_at": utcnow()})
            return self.schema_version()

    # -- reading -------------------------------------------------------------------

    def _reading(self) -> tuple[Database, threading.Lock | threading.RLock]:
        if self._owner == threading.get_ident():
            return self.db, self._lock  # inside this thread's transaction: see its changes
        return self._reader, self._read_lock

    def query(self, sql: str, params=()) -> list[dict]:
        db, lock = self._reading()
        with lock:
            return list(db.query(sql, params))

    def one(self, sql: str, params=()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    # -- writing -------------------------------------------------------------------

    def transaction(self):
        """``with store.transaction():`` on the calling thread (blocking: use it in a worker, or see ``write``)."""
        return _Transaction(self)

    def execute(self, sql: str, params=()):
        """One statement on the writing connection (inside the caller's transaction when there is one)."""
        with self._lock:
            return self.db.execute(sql, params)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` inside one transaction, run in the I/O lane of the worker pool.

        A wait for another process's lock (up to ``busy_timeout``) then stalls no
        request; the result or the exception of ``fn`` comes back to the caller.
        """
        return await run_io(self._in_transaction, fn, args)

    def _in_transaction(self, fn, args):
        with self.transaction():
            return fn(*args)

    async def write_now(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` inside one transaction on the calling thread, with nothing awaited in between.

        For a change that must happen on the event loop while the database's write
        lock is held (a live shared document: its edit and its journal rows commit
        together or not at all). The lock is only ever taken here when it is free at
        once; while another thread or process holds it, the wait (at most
        ``busy_timeout``) happens in the worker pool, and then this tries again.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            transaction = self._try_transaction()
            if transaction is not None:
                with transaction:
                    return fn(*args)
            await run_io(self._in_transaction, _nothing, ())  # raises when busy_timeout runs out
            if time.monotonic() > deadline:  # free each time it was waited for, taken again each time it was tried
                raise _busy()

    def _try_transaction(self) -> _Transaction | None:
        """An open transaction taken without waiting, or None when the lock is held elsewhere."""
        if not self._lock.acquire(blocking=False):
            return None
        if self.db.conn.in_transaction:  # this thread's own transaction: join it
            return _Transaction(self, joined=True)
        try:
            begun = self._begin_without_waiting()
        except BaseException:
            self._lock.release()
            raise
        if not begun:
            self._lock.release()
            return None
        return _Transaction(self, begun=True)

    def _begin_without_waiting(self) -> bool:
        self.db.execute("PRAGMA busy_timeout = 0")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False
            raise
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    # -- the whole file --------------------------------------------------------------

    def set_trace_callback(self, callback: Callable[[str], Any] | None) -> None:
        """``sqlite3``'s trace callback on every connection (each statement's text; None: off)."""
        with self._lock:
            self.db.conn.set_trace_callback(callback)
        if self._reader is not self.db:
            with self._read_lock:
                self._reader.conn.set_trace_callback(callback)

    def integrity_ok(self) -> bool:
        with self._lock:
            return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        with self._lock:
            if self._reader is not self.db:
                with self._read_lock:
                    self._reader.conn.close()
            self.db.conn.close()


def _nothing() -> None:
    return None


def _busy() -> sqlite3.OperationalError:
    """The error SQLite raises when ``busy_timeout`` runs out (answered 503 by ``errors.environment_error``)."""
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode, error.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"
    return error


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error); re-entrant on one thread.

    ``begun``: the lock is held and the transaction open already (``Store._try_transaction``);
    ``joined``: the lock is held (once more) inside this thread's open transaction.
    """

    def __init__(self, store: Store, *, begun: bool = False, joined: bool = False):
        self.store = store
        self.outer = begun
        self.held = begun or joined

    def __enter__(self):
        store = self.store
        if not self.held:
            store._lock.acquire()
            if not store.db.conn.in_transaction:
                try:
                    store.db.conn.execute("BEGIN IMMEDIATE")
                except BaseException:  # busy / locked: no transaction, and no lock held either
                    store._lock.release()
                    raise
                self.outer = True
        if self.outer:
            store._owner = threading.get_ident()
        return store

    def __exit__(self, exc_type, exc, tb):
        store = self.store
        try:
            if self.outer:
                conn = store.db.conn
                if exc_type is not None:
                    conn.execute("ROLLBACK")
                else:
                    try:
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:  # a COMMIT refused (busy, disk full) leaves it open
                            conn.execute("ROLLBACK")
                        raise
        finally:
            if self.outer:
                store._owner = None
            store._lock.release()
        return False
