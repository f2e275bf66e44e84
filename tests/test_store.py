"""The SQLite store: versioned migrations, WAL, foreign keys, cascades. A real file under tmp_path."""

from __future__ import annotations

import sqlite3

import pytest

from datadive_ext import store as store_module
from datadive_ext.store import MIGRATIONS, Store, utcnow

LATEST = len(MIGRATIONS)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "nested" / "dir" / "datadive.sqlite"  # parents are created by the store


@pytest.fixture
def store(db_path):
    s = Store(db_path)
    yield s
    s.close()


def add_project(store: Store, pid: str, name: str, owner: str = "alice", members=()) -> None:
    now = utcnow()
    with store.transaction():
        store.execute(
            "INSERT INTO projects (id, name, description, path, owner, created_at, updated_at) VALUES (?, ?, '', ?, ?, ?, ?)",
            [pid, name, f"projects/{pid}", owner, now, now],
        )
        for user, role in [(owner, "owner"), *members]:
            store.execute("INSERT INTO members (project_id, user, role, added_at) VALUES (?, ?, ?, ?)", [pid, user, role, now])


def tables(store: Store) -> set[str]:
    return set(store.db.table_names())


def test_fresh_db_migrates_to_latest(store, db_path):
    assert db_path.is_file()
    assert store.schema_version() == 0
    assert store.migrate() == LATEST
    assert store.schema_version() == LATEST
    assert {"schema_migrations", "projects", "members", "templates", "template_versions"} <= tables(store)
    versions = store.query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    assert [v["version"] for v in versions] == list(range(1, LATEST + 1))
    assert all(v["applied_at"].endswith("Z") for v in versions)
    assert store.integrity_ok()


def test_db_at_version_1_with_data_migrates_and_keeps_it(db_path):
    old = Store(db_path)
    assert old.migrate(1) == 1
    assert "projects" in tables(old) and "templates" not in tables(old)
    add_project(old, "p1", "Old project", members=[("bob", "editor"), ("carol", "viewer")])
    add_project(old, "p2", "Another", owner="bob")
    old.close()

    store = Store(db_path)  # a new server start on the old file
    try:
        assert store.schema_version() == 1
        assert store.migrate() == LATEST
        assert "templates" in tables(store) and "template_versions" in tables(store)
        projects = store.query("SELECT id, name, owner, path FROM projects ORDER BY id")
        assert projects == [
            {"id": "p1", "name": "Old project", "owner": "alice", "path": "projects/p1"},
            {"id": "p2", "name": "Another", "owner": "bob", "path": "projects/p2"},
        ]
        members = store.query("SELECT project_id, user, role FROM members ORDER BY project_id, user")
        assert [(m["project_id"], m["user"], m["role"]) for m in members] == [
            ("p1", "alice", "owner"), ("p1", "bob", "editor"), ("p1", "carol", "viewer"), ("p2", "bob", "owner"),
        ]
        # The new tables work on the migrated file.
        now = utcnow()
        with store.transaction():
            store.execute(
                "INSERT INTO templates (id, latest_version, author, title, created_at, updated_at) VALUES ('t', 1, 'alice', 'T', ?, ?)",
                [now, now],
            )
            store.execute("INSERT INTO template_versions (template_id, version, doc, author, created_at) VALUES ('t', 1, '{}', 'alice', ?)", [now])
        assert store.one("SELECT count(*) AS n FROM template_versions")["n"] == 1
        assert store.integrity_ok()
    finally:
        store.close()


def test_every_intermediate_version_migrates(tmp_path):
    for start in range(0, LATEST + 1):
        path = tmp_path / f"v{start}.sqlite"
        s = Store(path)
        assert s.migrate(start) == start
        s.close()
        s = Store(path)
        assert s.migrate() == LATEST
        assert s.integrity_ok()
        s.close()


def test_migrate_is_idempotent(store):
    store.migrate()
    add_project(store, "p1", "Kept")
    before = store.query("SELECT * FROM schema_migrations ORDER BY version")
    for _ in range(3):
        assert store.migrate() == LATEST
    assert store.query("SELECT * FROM schema_migrations ORDER BY version") == before
    assert store.one("SELECT name FROM projects WHERE id = 'p1'")["name"] == "Kept"
    # A target at or below the current version changes nothing either.
    assert store.migrate(1) == LATEST
    assert store.query("SELECT * FROM schema_migrations ORDER BY version") == before


def test_migrate_across_restarts_is_idempotent(db_path):
    for _ in range(3):
        s = Store(db_path)
        assert s.migrate() == LATEST
        s.close()
    s = Store(db_path)
    try:
        assert s.one("SELECT count(*) AS n FROM schema_migrations")["n"] == LATEST
    finally:
        s.close()


def test_wal_and_foreign_keys(store, db_path):
    store.migrate()
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # The WAL setting is stored in the file: a plain connection sees it too.
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        other.close()


def test_foreign_keys_are_enforced(store):
    store.migrate()
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.execute("INSERT INTO members (project_id, user, role, added_at) VALUES ('ghost', 'alice', 'owner', ?)", [utcnow()])
    assert store.one("SELECT count(*) AS n FROM members")["n"] == 0  # rolled back


def test_role_check_constraint(store):
    store.migrate()
    add_project(store, "p1", "P")
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.execute("INSERT INTO members (project_id, user, role, added_at) VALUES ('p1', 'bob', 'admin', ?)", [utcnow()])


def test_deleting_a_project_cascades_members(store):
    store.migrate()
    add_project(store, "p1", "Doomed", members=[("bob", "editor"), ("carol", "viewer")])
    add_project(store, "p2", "Survivor", members=[("bob", "viewer")])
    with store.transaction():
        store.execute("DELETE FROM projects WHERE id = 'p1'")
    members = store.query("SELECT project_id, user FROM members ORDER BY project_id, user")
    assert [(m["project_id"], m["user"]) for m in members] == [("p2", "alice"), ("p2", "bob")]
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert store.integrity_ok()


def test_transaction_rolls_back_on_error(store):
    store.migrate()
    with pytest.raises(RuntimeError):
        with store.transaction():
            add_project(store, "p1", "Half")  # nested transaction: joins the outer one
            raise RuntimeError("boom")
    assert store.one("SELECT count(*) AS n FROM projects")["n"] == 0
    assert store.one("SELECT count(*) AS n FROM members")["n"] == 0


def test_unique_project_path(store):
    store.migrate()
    add_project(store, "p1", "One")
    now = utcnow()
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.execute(
                "INSERT INTO projects (id, name, description, path, owner, created_at, updated_at) VALUES ('p2', 'Two', '', 'projects/p1', 'bob', ?, ?)",
                [now, now],
            )


def test_a_failing_migration_leaves_the_previous_version(db_path, monkeypatch):
    """A migration runs in a transaction: if it fails, nothing of it (nor its version row) remains."""
    store = Store(db_path)
    try:
        store.migrate(1)

        def broken(db):
            db.execute("CREATE TABLE half_done (x INTEGER)")
            raise RuntimeError("migration bug")

        monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, broken])
        with pytest.raises(RuntimeError):
            store.migrate()
        assert "half_done" not in tables(store)
        assert store.schema_version() == LATEST  # the good ones before it did apply
        assert store.integrity_ok()
    finally:
        store.close()


def test_queries_use_indexes(store):
    store.migrate()

    def plan(sql, params=()):
        return " ".join(str(row[-1]) for row in store.db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())

    assert "USING" in plan("SELECT role FROM members WHERE project_id = ? AND user = ?", ["p", "u"])
    listing = plan(
        "SELECT p.*, m.role FROM projects p JOIN members m ON m.project_id = p.id WHERE m.user = ? "
        "ORDER BY p.name COLLATE NOCASE, p.id LIMIT 51", ["alice"],
    )
    assert "members_user" in listing or "INDEX" in listing, listing


async def test_the_servers_store(api, jp_serverapp, jp_data_dir):
    """The extension's own file: configured path, latest version, WAL, foreign keys, cascades through the API."""
    app = next(iter(jp_serverapp.extension_manager.extension_apps["datadive_ext"]))
    path = jp_data_dir / "datadive-test.sqlite"
    assert app.store.path == str(path) and path.is_file()
    assert app.store.schema_version() == LATEST
    assert app.store.db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    assert app.store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1

    reply = await api("POST", "projects", body={"name": "Cascade"})
    assert reply.status == 201, reply.text
    pid = reply.json["id"]
    assert (await api("PUT", "projects", pid, "members", "bob", body={"role": "editor"})).status == 200
    assert app.store.one("SELECT count(*) AS n FROM members WHERE project_id = ?", [pid])["n"] == 2
    assert (await api("DELETE", "projects", pid)).status == 204
    assert app.store.one("SELECT count(*) AS n FROM members WHERE project_id = ?", [pid])["n"] == 0

    # Another connection to the same file (a second process) sees the committed state.
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT count(*) FROM projects").fetchone()[0] == 0
        assert other.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == LATEST
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        other.close()
