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
from datetime import datetime, timezone
from pathlib import Path



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


def _sql(script: str):
    def apply(db: Database) -> None:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)

    return apply


MIGRATIONS = [_sql(_M1), _sql(_M2), _sql(_M3), _sql(_M4)]


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
    """The one SQLite connection of the extension, used from the server's event loop thread."""

    def __init__(self, path: str | Path, busy_timeout: float = 1.0):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self.db = Database(conn)
        self._lock = threading.RLock()
        self.db.execute("PRAGMA foreign_keys = ON")
        # Waiting for another process's lock blocks the event loop: keep the wait short
        # and answer 503 with Retry-After when it runs out (errors.environment_error).
        self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")

    # -- migrations ----------------------------------------------------------

    def schema_version(self) -> int:
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

    # -- helpers ---------------------------------------------------------------

    def transaction(self):
        return _Transaction(self)

    def query(self, sql: str, params=()) -> list[dict]:
        return list(self.db.query(sql, params))

    def one(self, sql: str, params=()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params=()):
        return self.db.execute(sql, params)

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error); re-entrant."""

    def __init__(self, store: Store):
        self.store = store
        self.outer = False

    def __enter__(self):
        self.store._lock.acquire()
        conn = self.store.db.conn
        if not conn.in_transaction:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except BaseException:  # busy / locked: no transaction, and no lock held either
                self.store._lock.release()
                raise
            self.outer = True
        return self.store

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.outer:
                self.store.db.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()
        return False
