"""Faults against real servers, real files and a real SQLite file.

1. **kill -9 in a write storm** (``test_kill_nine_in_a_write_storm``): real
   ``jupyter_server`` processes on one contents root and one SQLite file. Threads
   send concurrent cell writes (inserts, template inserts, re-generates, moves,
   deletes, reorders) to three notebooks; the server is SIGKILLed after a seeded
   delay while requests are in flight, then a new server starts on the same root
   and file. Checked each round: requests were in flight at the kill (at least one
   request sent before it was cut off by it); the worker threads ended only because
   they were stopped or the server was gone, no connection failed before the kill,
   and the only refusals were those of workers racing each other (404 / 400); every
   notebook is valid nbformat, ``PRAGMA
   integrity_check`` is ok, no journal row stays pending once history is read,
   replaying the journal from the empty notebooks gives exactly the cell ids (in
   order) and sources of the files, and every write acknowledged with a 2xx before
   the kill is in the journal and in the file. The servers are forked from one
   process that imported jupyter_server, nbformat and the extension once, so a
   restart costs a fork instead of the multi-second imports.
2. **Pending rows settled deterministically** (``TestPendingRows``): journal rows
   marked pending are written straight into the SQLite file, one whose change the
   notebook has and one whose change it lacks, for every row shape (insert, delete,
   move, reorder, edit, re-generate); history, a write and ``recover()`` each settle
   them (kept / dropped), and ``recover()`` releases stale undo claims.
3. **SQLite locked by another process** (``test_database_locked_by_another_process``):
   a separate Python process holds ``BEGIN IMMEDIATE`` / ``BEGIN EXCLUSIVE`` on the
   server's SQLite file (server ``db_busy_timeout`` 0.2 s). Writes answer 503
   ``unavailable`` with ``Retry-After`` and change no file; reads keep answering 200
   (WAL: readers never wait for a writer, and in WAL mode EXCLUSIVE locks like
   IMMEDIATE). After the lock is released the same writes succeed.
4. **Disk full / read-only** (``TestDiskFaults``, ``TestDatabaseOnFaultyDisk``):
   when ``mount`` works (root with CAP_SYS_ADMIN, as on the development machines),
   a real 1 MiB tmpfs is mounted on the projects folder: *full* is the tmpfs filled
   to the last byte, *nearly full* leaves one page (room for the contents manager's
   backup copy of a small notebook, not for its bigger new version), *read-only* is
   ``mount -o remount,ro``. Where ``mount`` fails the same tests run with
   ``FaultyContents``, whose writes raise ``OSError(ENOSPC)`` / ``OSError(EROFS)``
   where the file system would (opening the file, ``mkdir``), or, for *nearly
   full*, hand jupyter_server's own ``atomic_writing`` a file that takes one page
   more. ``FAULT_MODE["mode"]`` records which ran. The SQLite file: on the tmpfs
   when mounted (*full* is then real); ``PRAGMA max_page_count`` (full, without a
   mount) and ``PRAGMA query_only`` (read-only, always: a tmpfs cannot be remounted
   read-only while SQLite holds the file open for writing) make SQLite itself
   refuse the write.
5. **Hung kernel**: ``tests/test_assistant_api.py::test_hung_kernel_times_out_and_server_stays_responsive``
   already checks that another request is answered while the kernel-source profile
   waits, so it is not repeated here.
"""

from __future__ import annotations

import asyncio
import errno
import http.client
import io
import itertools
import json
import os
import random
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from datadive_testing import assert_error, base_config
from jupyter_server.services.contents import fileio
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

REPO = Path(__file__).resolve().parents[1]
SEED = 20240611
DEADLINE = 120.0  # seconds: only so that nothing waits forever


def ext_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["datadive_ext"]))


def db_query(db_path, sql, params=()) -> list[dict]:
    """Rows read with a connection of our own (not the server's)."""
    conn = sqlite3.connect(str(db_path), timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def db_execute(db_path, sql, params=(), many=False) -> None:
    conn = sqlite3.connect(str(db_path), timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        (conn.executemany if many else conn.execute)(sql, params)
        conn.execute("COMMIT")
    finally:
        conn.close()


def integrity(db_path) -> str:
    return db_query(db_path, "PRAGMA integrity_check")[0]["integrity_check"]


def read_valid(file) -> nbformat.NotebookNode:
    with open(file, encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    nbformat.validate(nb)
    return nb


def source_of(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def plain(obj):
    return json.loads(json.dumps(obj))


def journal(db_path, path) -> list[dict]:
    return db_query(db_path, "SELECT * FROM operations WHERE notebook = ? ORDER BY seq", [path])


# == 1. kill -9 in a write storm ==================================================================

ROUNDS = 3
WORKERS = 4
NOTEBOOKS = ("nb0.ipynb", "nb1.ipynb", "nb2.ipynb")
MIN_ACKED = 12  # acknowledged writes in a round before the kill may come
# The refusals a storm may meet, all from workers racing each other: a cell another worker deleted
# (404), a position or an order that another write made stale (400).
EXPECTED_REFUSALS = {(404, "cell_not_found"), (400, "invalid_position"), (400, "invalid_order")}

# A process that imports the server and the extension once, then forks one server per
# line it reads (the servers' parent: SIGCHLD ignored, so killed servers are reaped).
_FORKER = r"""
import json, os, signal, sys, traceback
sys.path.insert(0, sys.argv[1])
import nbformat, cell_templates, datadive_ext.app
from jupyter_server.serverapp import ServerApp
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    spec = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            out = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, 1); os.dup2(out, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            ServerApp.launch_instance(argv=spec["argv"])
        except BaseException:
            traceback.print_exc(); code = 1
        finally:
            sys.stdout.flush(); sys.stderr.flush(); os._exit(code)
    sys.stdout.write(f"{pid}\n"); sys.stdout.flush()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Servers:
    """Jupyter servers with the extension, one at a time, on one contents root and one SQLite file."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.root = tmp / "root"
        self.root.mkdir()
        self.db = tmp / "datadive.sqlite"
        self.log = tmp / "server.log"
        self.token = secrets.token_hex(16)
        self.pid = None
        self.base = None
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_DATA_DIR": str(tmp / "data"),
               "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
        self.forker = subprocess.Popen([sys.executable, "-c", _FORKER, str(REPO)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, env=env, cwd=str(tmp))
        assert self._line() == "ready"

    def _line(self) -> str:
        ready, _, _ = select.select([self.forker.stdout], [], [], DEADLINE)
        assert ready, "the server forker did not answer"
        line = self.forker.stdout.readline()
        assert line, "the server forker exited"
        return line.strip()

    def start(self) -> None:
        port = _free_port()
        argv = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                f"--DatadiveApp.db_path={self.db}", "--ContentsManager.delete_to_trash=False",
                "--ServerApp.jpserver_extensions={'datadive_ext': True}"]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        self.forker.stdin.write(json.dumps({"argv": argv, "log": str(self.log)}) + "\n")
        self.forker.stdin.flush()
        self.pid = int(self._line())
        self.base = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                if self.call("GET", "api/status", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            assert _alive(self.pid), "the server exited:\n" + self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + DEADLINE
        while _alive(self.pid):
            assert time.monotonic() < deadline, "the killed server did not go away"
            time.sleep(0.01)
        self.pid = None

    def stop(self) -> None:
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def close(self) -> None:
        self.stop()
        if self.forker.poll() is None:
            self.forker.stdin.close()
            try:
                self.forker.wait(15)
            except subprocess.TimeoutExpired:
                self.forker.kill()
                self.forker.wait()

    def call(self, method: str, path: str, body=None, timeout: float = 60):
        """``(status, json)``; connection errors raise (``OSError``)."""
        data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT", "PATCH") else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, (json.loads(raw) if raw else None)
            except ValueError:
                return exc.code, None


def _api_path(*segments) -> str:
    return "api/datadive/" + "/".join(urllib.parse.quote(str(s), safe="") for s in segments)


# How a request of the storm can end when the server dies under it: "cut" (it was sent and the answer
# never came whole: the connection was reset or closed), or "refused" (it found no server to connect to).
_CUT = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.IncompleteRead)


def _connection_ending(exc: BaseException) -> str | None:
    """"cut", "refused", or None for any other error (which the storm does not expect)."""
    inner = exc.reason if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException) else exc
    if isinstance(inner, ConnectionRefusedError):
        return "refused"
    if isinstance(inner, _CUT):  # http.client.RemoteDisconnected is a ConnectionResetError
        return "cut"
    return None


class _ServerGone(Exception):
    """A storm request ended by the kill (see ``_connection_ending``)."""


class Storm:
    """Concurrent cell writes from several threads, recording every acknowledged one.

    Also recorded: every refusal (status and code), every request the kill ended
    (``gone``: how, and when it started and ended) and how each worker thread
    ended (``endings``), so that the test can tell that requests were in flight
    when the server was killed and that nothing else went wrong.
    """

    def __init__(self, servers: Servers, pid: str, round_no: int, known: dict, generated: dict):
        self.srv, self.pid, self.round = servers, pid, round_no
        self.known, self.generated = known, generated  # notebook -> cell ids believed present
        self.lock = threading.Lock()
        self.acked: list[dict] = []
        self.statuses: dict[int, int] = {}
        self.refusals: dict[tuple, int] = {}  # (status, code) -> how many
        self.in_flight = 0
        self.gone: list[dict] = []  # requests the kill ended: {"how", "started", "ended", "error"}
        self.endings: dict[int, str] = {}  # worker -> "stopped" | "server gone" | the unexpected exception
        self.killed_at = None  # time.monotonic() just before the SIGKILL
        self.stop = threading.Event()

    @property
    def unanswered(self) -> int:
        return len(self.gone)

    def _send(self, method, nb, *segments, body=None):
        with self.lock:
            self.in_flight += 1
        started = time.monotonic()
        try:
            status, data = self.srv.call(method, _api_path("projects", self.pid, "notebooks", nb, *segments), body, timeout=DEADLINE)
        except Exception as exc:
            how = _connection_ending(exc)
            if how is None:
                raise
            with self.lock:
                self.gone.append({"how": how, "started": started, "ended": time.monotonic(), "error": repr(exc)[:200]})
            raise _ServerGone(how) from exc
        finally:
            with self.lock:
                self.in_flight -= 1
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status >= 400:
                key = (status, data.get("code") if isinstance(data, dict) else None)
                self.refusals[key] = self.refusals.get(key, 0) + 1
        if status >= 500:
            self.stop.set()
            raise AssertionError(f"{method} {segments} answered {status}: {data}")
        return status, data

    def _pick(self, rng, ids: list):
        with self.lock:
            pool = list(ids)
        return rng.choice(pool) if pool else None

    def worker(self, k: int) -> None:
        try:
            self._work(k)
        except _ServerGone:
            ending = "server gone"
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.stop.set()
            ending = f"{type(exc).__name__}: {exc}"[:300]
        else:
            ending = "stopped"
        with self.lock:
            self.endings[k] = ending

    def _work(self, k: int) -> None:
        rng = random.Random(f"{SEED}-{self.round}-{k}")
        n = 0
        while not self.stop.is_set():
            n += 1
            nb = rng.choice(NOTEBOOKS)
            kind = rng.choices(("insert", "template", "regenerate", "move", "delete", "reorder"), (30, 12, 18, 18, 16, 6))[0]
            position = rng.choice(({}, {"index": 0}, {"after": self._pick(rng, self.known[nb])}))
            if position.get("after") is None:
                position = {}
            if kind == "insert":
                source = f"x_{self.round}_{k}_{n} = {n}"
                status, data = self._send("POST", nb, "cells", body={"cell_type": "code", "source": source, **position})
                if status == 201:
                    self._ack(nb, "insert", ids=[c["id"] for c in data["cells"]], sources=[c["source"] for c in data["cells"]])
            elif kind == "template":
                body = {"template": {"id": "overview"}, "inputs": {"n": rng.randint(1, 30)}, **position}
                status, data = self._send("POST", nb, "cells", body=body)
                if status == 201:
                    self._ack(nb, "insert", ids=[c["id"] for c in data["cells"]], sources=[c["source"] for c in data["cells"]], generated=True)
            elif kind == "regenerate":
                cid = self._pick(rng, self.generated[nb])
                if cid is None:
                    continue
                status, data = self._send("PATCH", nb, "cells", cid, body={"inputs": {"n": rng.randint(1, 99)}})
                if status == 200:
                    self._ack(nb, "regenerate", cell_id=cid, source=data["source"])
            elif kind == "move":
                cid = self._pick(rng, self.known[nb])
                if cid is None:
                    continue
                with self.lock:
                    size = len(self.known[nb])
                status, data = self._send("POST", nb, "cells", cid, "move", body={"index": rng.randrange(max(size, 1))})
                if status == 200:
                    self._ack(nb, "move", cell_id=cid, index=data["index"])
            elif kind == "delete":
                cid = self._pick(rng, self.known[nb])
                if cid is None:
                    continue
                status, _ = self._send("DELETE", nb, "cells", cid)
                if status == 204:
                    self._ack(nb, "delete", cell_id=cid)
            else:
                status, data = self._send("GET", nb, "cells")
                if status != 200:
                    continue
                order = [c["id"] for c in data["cells"]]
                rng.shuffle(order)
                status, data = self._send("PUT", nb, "cells", "order", body={"order": order})
                if status == 200:
                    self._ack(nb, "reorder", order=order)

    def _ack(self, nb, op, **fields) -> None:
        with self.lock:
            self.acked.append({"nb": nb, "op": op, **fields})
            if op == "insert":
                self.known[nb].extend(fields["ids"])
                if fields.get("generated"):
                    self.generated[nb].extend(fields["ids"])
            elif op == "delete":
                for pool in (self.known[nb], self.generated[nb]):
                    if fields["cell_id"] in pool:
                        pool.remove(fields["cell_id"])

    def run_and_kill(self) -> dict:
        """Start the workers, SIGKILL the server after a seeded delay while requests are in flight."""
        rng = random.Random(f"{SEED}-kill-{self.round}")
        delay = rng.uniform(0.05, 0.8)
        threads = [threading.Thread(target=self.worker, args=(k,), daemon=True) for k in range(WORKERS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + DEADLINE
        while len(self.acked) < MIN_ACKED and time.monotonic() < deadline and not self.stop.is_set():
            time.sleep(0.01)
        time.sleep(delay)
        spin = time.monotonic() + 2
        while self.in_flight < 2 and time.monotonic() < spin:
            time.sleep(0.001)
        with self.lock:
            at_kill = {"in_flight": self.in_flight, "acked": len(self.acked)}
            self.killed_at = time.monotonic()
        self.srv.kill9()
        self.stop.set()
        for t in threads:
            t.join(DEADLINE)
            assert not t.is_alive(), "a storm worker hung"
        where = f"round {self.round}"
        assert not any(s >= 500 for s in self.statuses), (where, self.statuses)
        # Each worker ended because it was told to stop or because the server was gone, nothing else.
        assert sorted(self.endings) == list(range(WORKERS)), (where, self.endings)
        assert set(self.endings.values()) <= {"stopped", "server gone"}, (where, self.endings)
        # No request failed at the connection while the server lived; the refusals were the expected ones.
        assert all(g["ended"] >= self.killed_at for g in self.gone), (where, "a connection failed before the kill", self.gone)
        assert set(self.refusals) <= EXPECTED_REFUSALS, (where, self.refusals)
        # Requests were in flight when the server was killed: sent before the kill, cut off by it.
        assert at_kill["in_flight"] >= 1, (where, at_kill)
        cut = [g for g in self.gone if g["how"] == "cut" and g["started"] < self.killed_at]
        assert cut, (where, "no request was in flight at the kill", at_kill, self.gone)
        at_kill["cut_off"] = len(cut)
        return at_kill


def _replay(rows: list[dict], where: str) -> tuple[list, dict]:
    """Cell ids (in order) and sources that the journal rows, applied in seq order, give."""
    ids, sources = [], {}
    for row in rows:
        op, cid = row["op"], row["cell_id"]
        after = json.loads(row["after"]) if row["after"] else None
        assert op != "undo" and not row["undone_by"], (where, row)
        if op == "insert":
            assert cid not in ids, (where, "inserted twice", row)
            assert 0 <= after["index"] <= len(ids), (where, "insert index out of range", row)
            ids.insert(after["index"], cid)
            sources[cid] = source_of(after["cell"])
        elif op == "delete":
            assert cid in ids, (where, "deletes a cell the journal does not have", row)
            ids.remove(cid)
        elif op == "move":
            assert cid in ids, (where, "moves a cell the journal does not have", row)
            ids.remove(cid)
            ids.insert(after["index"], cid)
        elif op == "reorder":
            assert sorted(after["order"]) == sorted(ids), (where, "reorder is not a permutation of the replayed cells", row)
            ids = list(after["order"])
        elif op in ("regenerate", "edit", "upgrade"):
            assert cid in ids and ids.index(cid) == after["index"], (where, "changes a cell not where the journal has it", row)
            sources[cid] = source_of(after["cell"])
        else:
            raise AssertionError((where, "unknown op", row))
    return ids, {i: sources[i] for i in ids}


def _acked_in_journal(ack: dict, rows: list[dict]) -> bool:
    for row in rows:
        after = json.loads(row["after"]) if row["after"] else None
        if ack["op"] == "insert" and row["op"] == "insert" and row["cell_id"] == ack["ids"][0]:
            return True
        if ack["op"] == "delete" and row["op"] == "delete" and row["cell_id"] == ack["cell_id"]:
            return True
        if ack["op"] == "regenerate" and row["op"] == "regenerate" and row["cell_id"] == ack["cell_id"] and source_of(after["cell"]) == ack["source"]:
            return True
        if ack["op"] == "move" and row["op"] == "move" and row["cell_id"] == ack["cell_id"] and after["index"] == ack["index"]:
            return True
        if ack["op"] == "reorder" and row["op"] == "reorder" and after["order"] == ack["order"]:
            return True
    return False


def test_kill_nine_in_a_write_storm(tmp_path):
    servers = Servers(tmp_path)
    figures = {"rounds": 0, "acked": 0, "in_flight_at_kill": 0, "cut_off_at_kill": 0, "unanswered": 0, "refusals": {}, "pending_at_crash": 0,
               "pending_kept": 0, "pending_dropped": 0, "torn_files_at_crash": 0, "journal_rows": 0, "statuses": {}}
    try:
        servers.start()
        status, project = servers.call("POST", _api_path("projects"), {"name": "Storm"})
        assert status == 201, project
        pid, folder = project["id"], servers.root / project["path"]
        paths = {nb: f"{project['path']}/{nb}" for nb in NOTEBOOKS}
        known = {nb: [] for nb in NOTEBOOKS}
        generated = {nb: [] for nb in NOTEBOOKS}
        for nb in NOTEBOOKS:
            status, body = servers.call("POST", _api_path("projects", pid, "notebooks"), {"name": nb})
            assert status == 201, body
            assert read_valid(folder / nb).cells == []  # the replay starts from an empty notebook
            for i in range(4):
                status, body = servers.call("POST", _api_path("projects", pid, "notebooks", nb, "cells"), {"cell_type": "code", "source": f"seed = {i}"})
                assert status == 201, body
                known[nb] += [c["id"] for c in body["cells"]]
            status, body = servers.call("POST", _api_path("projects", pid, "notebooks", nb, "cells"), {"template": {"id": "overview"}, "inputs": {"n": 3}})
            assert status == 201, body
            known[nb] += [c["id"] for c in body["cells"]]
            generated[nb] += [c["id"] for c in body["cells"]]

        all_acked: list[dict] = []
        for round_no in range(ROUNDS):
            storm = Storm(servers, pid, round_no, known, generated)
            at_kill = storm.run_and_kill()
            all_acked += storm.acked
            figures["rounds"] += 1
            figures["acked"] += len(storm.acked)
            figures["in_flight_at_kill"] += at_kill["in_flight"]
            figures["cut_off_at_kill"] += at_kill["cut_off"]
            figures["unanswered"] += storm.unanswered
            for (status, code), n in storm.refusals.items():
                figures["refusals"][f"{status} {code}"] = figures["refusals"].get(f"{status} {code}", 0) + n
            for status, n in storm.statuses.items():
                figures["statuses"][str(status)] = figures["statuses"].get(str(status), 0) + n

            # The state the crash left, read before any server touches it.
            for nb in NOTEBOOKS:
                try:
                    read_valid(folder / nb)
                except Exception:
                    figures["torn_files_at_crash"] += 1  # a save cut off mid-write; the server restores its backup
            assert integrity(servers.db) == "ok"
            pending = {r["id"] for r in db_query(servers.db, "SELECT id FROM operations WHERE pending = 1")}
            figures["pending_at_crash"] += len(pending)

            servers.start()
            for nb in NOTEBOOKS:
                status, history = servers.call("GET", _api_path("projects", pid, "notebooks", nb, "history") + "?limit=500")
                assert status == 200, history
                assert len(history["items"]) < 500, "the history must be read whole"
                rows = journal(servers.db, paths[nb])
                assert [h["id"] for h in history["items"]] == [r["id"] for r in reversed(rows)]
            assert db_query(servers.db, "SELECT count(*) AS n FROM operations WHERE pending = 1")[0]["n"] == 0
            assert integrity(servers.db) == "ok"
            left = {r["id"] for r in db_query(servers.db, "SELECT id FROM operations")}
            figures["pending_kept"] += len(pending & left)
            figures["pending_dropped"] += len(pending - left)

            for nb in NOTEBOOKS:
                where = f"round {round_no}, {nb}"
                cells = read_valid(folder / nb).cells
                file_ids = [c.id for c in cells]
                assert len(set(file_ids)) == len(file_ids), (where, "duplicate cell ids")
                rows = journal(servers.db, paths[nb])
                ids, sources = _replay(rows, where)
                assert ids == file_ids, (where, "the journal replayed does not give the file's cells")
                assert sources == {c.id: source_of(c) for c in cells}, (where, "the journal replayed does not give the file's sources")
                deleted = {r["cell_id"] for r in rows if r["op"] == "delete"}
                for ack in (a for a in all_acked if a["nb"] == nb):
                    assert _acked_in_journal(ack, rows), (where, "an acknowledged write is not in the journal", ack)
                    if ack["op"] == "insert":
                        for cid in ack["ids"]:
                            assert cid in file_ids or cid in deleted, (where, "an acknowledged insert is lost", ack)
                    elif ack["op"] == "delete":
                        assert ack["cell_id"] not in file_ids, (where, "an acknowledged delete came back", ack)
                known[nb][:] = file_ids
                generated[nb][:] = [c.id for c in cells if "datadive" in c.metadata]
        figures["journal_rows"] = db_query(servers.db, "SELECT count(*) AS n FROM operations")[0]["n"]
        assert figures["acked"] >= ROUNDS * MIN_ACKED
        print("kill -9 storm figures:", json.dumps(figures))
    finally:
        servers.close()


# == 2. pending rows settled deterministically ====================================================


async def _project_with_notebook(api, jp_root_dir, name="Pending", nb="book.ipynb"):
    r = await api("POST", "projects", body={"name": name})
    assert r.status == 201, r.text
    project = r.json
    r = await api("POST", "projects", project["id"], "notebooks", body={"name": nb})
    assert r.status == 201, r.text
    return project, jp_root_dir / project["path"] / nb, f"{project['path']}/{nb}"


async def _cells(api, pid, nb, *bodies) -> list[dict]:
    out = []
    for body in bodies:
        r = await api("POST", "projects", pid, "notebooks", nb, "cells", body=body)
        assert r.status == 201, r.text
        out += r.json["cells"]
    return out


_TICKS = itertools.count(1)


def _row(pid, path, op, cell_id, before, after, *, pending=1, undone_by=None, undoes=None) -> dict:
    # Each row is an operation of its own: the rows of one operation share their time and user.
    at = f"2024-01-01T00:00:00.{next(_TICKS):06d}Z"
    return {"id": uuid.uuid4().hex, "project_id": pid, "notebook": path, "user": "tester", "at": at,
            "op": op, "cell_id": cell_id, "before": json.dumps(before) if before is not None else None,
            "after": json.dumps(after) if after is not None else None, "undone_by": undone_by, "undoes": undoes, "pending": pending}


def _insert_rows(db_path, rows: list[dict]) -> None:
    cols = list(rows[0])
    db_execute(db_path, f"INSERT INTO operations ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
               [tuple(r[c] for c in cols) for r in rows], many=True)


def _shapes(pid, path, file) -> tuple[list[dict], list[dict]]:
    """Pending rows of every shape: ``kept`` (the file has the change) and ``dropped`` (it does not)."""
    cells = [plain(c) for c in read_valid(file).cells]
    ids = [c["id"] for c in cells]
    a, b, c, gen = cells[0], cells[1], cells[2], cells[3]
    assert "datadive" in gen["metadata"]
    edited_b = {**b, "source": "never written"}
    other_inputs = json.loads(json.dumps(gen))
    other_inputs["metadata"]["datadive"]["inputs"] = {"df": "other", "n": 99}
    ghost = {**a, "id": "ghost001", "source": "never inserted"}
    kept = [
        _row(pid, path, "insert", a["id"], None, {"cell": a, "index": 0}),
        _row(pid, path, "delete", "gone0001", {"cell": {**a, "id": "gone0001"}, "index": 1}, None),
        _row(pid, path, "move", c["id"], {"index": 0}, {"index": 2}),
        _row(pid, path, "reorder", None, {"order": list(reversed(ids))}, {"order": ids}),
        _row(pid, path, "edit", b["id"], {"cell": edited_b, "index": 1}, {"cell": b, "index": 1}),
        _row(pid, path, "regenerate", gen["id"], {"cell": other_inputs, "index": 3}, {"cell": gen, "index": 3}),
    ]
    dropped = [
        _row(pid, path, "insert", "ghost001", None, {"cell": ghost, "index": 1}),
        _row(pid, path, "delete", b["id"], {"cell": b, "index": 1}, None),
        _row(pid, path, "move", c["id"], {"index": 2}, {"index": 0}),
        _row(pid, path, "reorder", None, {"order": ids}, {"order": list(reversed(ids))}),
        _row(pid, path, "edit", b["id"], {"cell": b, "index": 1}, {"cell": edited_b, "index": 1}),
        _row(pid, path, "regenerate", gen["id"], {"cell": gen, "index": 3}, {"cell": other_inputs, "index": 3}),
    ]
    return kept, dropped


def _check_settled(db_path, path, kept, dropped) -> None:
    rows = {r["id"]: r for r in journal(db_path, path)}
    for row in kept:
        assert row["id"] in rows and rows[row["id"]]["pending"] == 0, ("a row whose change is in the file was not kept", row["op"], row["after"])
    for row in dropped:
        assert row["id"] not in rows, ("a row whose change is not in the file was kept", row["op"], row["after"])
    assert not [r for r in rows.values() if r["pending"]], "rows left pending"


async def test_a_save_that_fails_after_writing_the_file_keeps_its_operation(api, jp_root_dir, jp_data_dir, jp_serverapp):
    """jupyter_server's save can fail after the file is written (a post-save hook, a checkpoint, the
    read that follows). The operation happened: the client gets its 201, the journal keeps the row
    (confirmed), and a retry is not needed (so nothing is inserted twice)."""
    db = jp_data_dir / "datadive-test.sqlite"
    project, file, path = await _project_with_notebook(api, jp_root_dir)
    failing = {"on": False}

    def hook(os_path, model, contents_manager):
        if failing["on"]:
            raise RuntimeError("a post-save hook that fails")

    jp_serverapp.contents_manager.register_post_save_hook(hook)
    failing["on"] = True
    r = await api("POST", "projects", project["id"], "notebooks", "book.ipynb", "cells", body={"cell_type": "code", "source": "x = 1"})
    failing["on"] = False
    assert r.status == 201, r.text
    cell_id = r.json["cells"][0]["id"]
    assert [c.id for c in read_valid(file).cells] == [cell_id]
    rows = journal(db, path)
    assert [(row["op"], row["cell_id"], row["pending"]) for row in rows] == [("insert", cell_id, 0)]


class TestPendingRows:
    async def test_history_settles_every_shape(self, api, jp_root_dir, jp_data_dir):
        db = jp_data_dir / "datadive-test.sqlite"
        project, file, path = await _project_with_notebook(api, jp_root_dir)
        pid = project["id"]
        await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "a = 1"}, {"cell_type": "code", "source": "b = 2"},
                     {"cell_type": "markdown", "source": "# c"}, {"template": {"id": "histogram"}, "inputs": {"column": "x"}})
        confirmed = journal(db, path)
        assert len(confirmed) == 4 and not any(r["pending"] for r in confirmed)
        before = file.read_bytes()
        kept, dropped = _shapes(pid, path, file)
        _insert_rows(db, kept + dropped)

        r = await api("GET", "projects", pid, "notebooks", "book.ipynb", "history", params={"limit": 100})
        assert r.status == 200, r.text
        listed = [item["id"] for item in r.json["items"]]
        assert set(listed) == {row["id"] for row in confirmed + kept}
        by_id = {item["id"]: item for item in r.json["items"]}
        assert [by_id[row["id"]]["op"] for row in kept] == ["insert", "delete", "move", "reorder", "edit", "regenerate"]
        _check_settled(db, path, kept, dropped)
        assert file.read_bytes() == before, "settling must not write the notebook"

    async def test_a_write_settles_first(self, api, jp_root_dir, jp_data_dir):
        db = jp_data_dir / "datadive-test.sqlite"
        project, file, path = await _project_with_notebook(api, jp_root_dir)
        pid = project["id"]
        await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "a = 1"}, {"cell_type": "code", "source": "b = 2"},
                     {"cell_type": "code", "source": "c = 3"}, {"template": {"id": "overview"}, "inputs": {"n": 2}})
        kept, dropped = _shapes(pid, path, file)
        _insert_rows(db, kept + dropped)
        new = await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "d = 4"})
        _check_settled(db, path, kept, dropped)
        last = journal(db, path)[-1]
        assert (last["op"], last["cell_id"], last["pending"]) == ("insert", new[0]["id"], 0)

    async def test_the_rows_of_one_operation_stand_or_fall_together(self, api, jp_root_dir, jp_data_dir):
        """A two-cell insert whose save reached the file, one of whose cells was then edited by hand
        before the server came back: both rows are kept (the operation happened), not one of them."""
        db = jp_data_dir / "datadive-test.sqlite"
        project, file, path = await _project_with_notebook(api, jp_root_dir)
        pid = project["id"]
        a, b = await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "a = 1"}, {"cell_type": "code", "source": "b = 2"})
        db_execute(db, "DELETE FROM operations")
        nb = nbformat.read(file, as_version=4)
        rows = [_row(pid, path, "insert", c["id"], None, {"cell": {**dict(nb.cells[i]), "source": c["source"]}, "index": i}) for i, c in enumerate((a, b))]
        rows[1]["at"] = rows[0]["at"]  # one operation
        nb.cells[1].source = "b = 'edited by hand'"
        nbformat.write(nb, file)
        _insert_rows(db, rows)
        r = await api("GET", "projects", pid, "notebooks", "book.ipynb", "history", params={"limit": 100})
        assert r.status == 200, r.text
        assert sorted(i["id"] for i in r.json["items"]) == sorted(row["id"] for row in rows)
        assert all(row["pending"] == 0 for row in journal(db, path))

    async def test_recover_settles_rows_and_releases_undo_claims(self, api, jp_root_dir, jp_data_dir, jp_serverapp):
        db = jp_data_dir / "datadive-test.sqlite"
        project, file, path = await _project_with_notebook(api, jp_root_dir)
        pid = project["id"]
        made = await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "a = 1"}, {"cell_type": "code", "source": "b = 2"},
                            {"cell_type": "code", "source": "c = 3"}, {"template": {"id": "overview"}, "inputs": {"n": 2}},
                            {"cell_type": "code", "source": "e = 5"}, {"cell_type": "code", "source": "f = 6"})
        e_id, f_id = made[-2]["id"], made[-1]["id"]
        ops = {r["cell_id"]: r["id"] for r in journal(db, path)}
        r = await api("POST", "projects", pid, "notebooks", "book.ipynb", "history", ops[f_id], "undo", body={})
        assert r.status == 200, r.text
        undo_of_f = r.json["operations"][0]
        # A crash in the middle of two undos: claims left behind, one whose undo reached the journal.
        db_execute(db, "UPDATE operations SET undone_by = ? WHERE id = ?", ["pending:" + uuid.uuid4().hex, ops[e_id]])
        db_execute(db, "UPDATE operations SET undone_by = ? WHERE id = ?", ["pending:" + uuid.uuid4().hex, ops[f_id]])
        kept, dropped = _shapes(pid, path, file)
        gone_path = f"{project['path']}/deleted-meanwhile.ipynb"
        gone = [_row(pid, gone_path, "insert", "aaaa0001", None, {"cell": {"id": "aaaa0001", "cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None}, "index": 0})]
        _insert_rows(db, kept + dropped + gone)

        await ext_app(jp_serverapp).cells.recover()

        _check_settled(db, path, kept, dropped)
        assert journal(db, gone_path) == [], "pending rows of a notebook that no longer exists must go"
        claims = {r["id"]: r["undone_by"] for r in journal(db, path)}
        assert claims[ops[e_id]] is None, "a stale undo claim was not released"
        assert claims[ops[f_id]] == undo_of_f, "a claim whose undo is journaled must point at the undo"
        assert not db_query(db, "SELECT id FROM operations WHERE undone_by LIKE 'pending:%'")
        # The released operation can be undone now; the completed one cannot be undone twice.
        r = await api("POST", "projects", pid, "notebooks", "book.ipynb", "history", ops[e_id], "undo", body={})
        assert r.status == 200, r.text
        assert e_id not in [c.id for c in read_valid(file).cells]
        r = await api("POST", "projects", pid, "notebooks", "book.ipynb", "history", ops[f_id], "undo", body={})
        assert_error(r, 409, "already_undone", [])


# == 3. SQLite locked by another process ==========================================================

_LOCKER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute(sys.argv[2])
conn.execute("UPDATE schema_migrations SET applied_at = applied_at")  # the lock holder is writing
sys.stdout.write("locked\n"); sys.stdout.flush()
sys.stdin.read()
conn.execute("ROLLBACK")
sys.stdout.write("released\n"); sys.stdout.flush()
"""


class TestLocked:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir):
        return base_config(jp_data_dir, DatadiveApp={"db_busy_timeout": 0.2})

    @pytest.mark.parametrize("begin", ["BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"])
    async def test_database_locked_by_another_process(self, api, jp_root_dir, jp_data_dir, begin):
        db = jp_data_dir / "datadive-test.sqlite"
        project, file, path = await _project_with_notebook(api, jp_root_dir, name="Locked")
        pid = project["id"]
        gen = (await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "a = 1"}, {"template": {"id": "overview"}, "inputs": {"n": 2}}))[1]
        before, rows_before = file.read_bytes(), journal(db, path)
        projects_before = _folder_tree(jp_root_dir / "projects")

        locker = await asyncio.create_subprocess_exec(sys.executable, "-c", _LOCKER, str(db), begin,
                                                      stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            assert (await asyncio.wait_for(locker.stdout.readline(), DEADLINE)).strip() == b"locked"
            writes = [
                ("POST", ("projects",), {"name": "Made while locked"}),
                ("POST", ("projects", pid, "notebooks", "book.ipynb", "cells"), {"cell_type": "code", "source": "b = 2"}),
                ("PATCH", ("projects", pid, "notebooks", "book.ipynb", "cells", gen["id"]), {"inputs": {"n": 7}}),
                ("PATCH", ("projects", pid), {"description": "changed while locked"}),
            ]
            for method, segments, body in writes:
                r = await api(method, *segments, body=body)
                assert_error(r, 503, "unavailable", [])
                assert r.headers.get("Retry-After") == "1", (segments, dict(r.headers))
            # Readers do not wait for a writer in WAL mode (EXCLUSIVE locks like IMMEDIATE there).
            r = await api("GET", "projects")
            assert r.status == 200 and [p["name"] for p in r.json["items"]] == ["Locked"], r.text
            r = await api("GET", "projects", pid, "notebooks", "book.ipynb", "cells")
            assert r.status == 200 and len(r.json["cells"]) == 3, r.text
            r = await api("GET", "projects", pid, "notebooks", "book.ipynb", "history")
            assert r.status == 200 and len(r.json["items"]) == len(rows_before), r.text
            assert file.read_bytes() == before, "a refused write changed the notebook"
            assert _folder_tree(jp_root_dir / "projects") == projects_before, "a half-made project folder is left"
        finally:
            locker.stdin.close()
            released = await asyncio.wait_for(locker.stdout.readline(), DEADLINE)
            await asyncio.wait_for(locker.wait(), DEADLINE)
        assert released.strip() == b"released" and locker.returncode == 0
        assert journal(db, path) == rows_before
        assert [r["name"] for r in db_query(db, "SELECT name FROM projects")] == ["Locked"]

        r = await api("POST", "projects", body={"name": "Made while locked"})
        assert r.status == 201 and r.json["path"] == "projects/made-while-locked", r.text
        cells = await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "b = 2"})
        r = await api("PATCH", "projects", pid, "notebooks", "book.ipynb", "cells", gen["id"], body={"inputs": {"n": 7}})
        assert r.status == 200, r.text
        r = await api("PATCH", "projects", pid, body={"description": "changed after the lock"})
        assert r.status == 200, r.text
        rows = journal(db, path)
        assert [(x["op"], x["cell_id"]) for x in rows[len(rows_before):]] == [("insert", cells[0]["id"]), ("regenerate", gen["id"])]
        assert [c.id for c in read_valid(file).cells][-1] == cells[0]["id"]


# == 4. disk full / read-only =====================================================================


PAGE = os.sysconf("SC_PAGE_SIZE")


class _NearlyFullFile(io.RawIOBase):
    """A file on a disk with ``room`` bytes left: a write past that stores what fits, then fails with ENOSPC."""

    def __init__(self, path, room: int):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.room = room

    def writable(self):
        return True

    def fileno(self):
        return self.fd

    def write(self, data):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done = os.write(self.fd, bytes(data[: self.room]))
        self.room -= done
        return done

    def close(self):
        if not self.closed:
            os.close(self.fd)
        super().close()


class FaultyContents(AsyncLargeFileManager):
    """The stock contents manager, whose file-system writes fail while ``fault`` (an errno) or ``room`` is set.

    Used only where a real tmpfs cannot be mounted. ``fault``: the error is raised
    where the operating system raises it on a full / read-only disk (opening the
    file, ``mkdir``), inside the same wrappers. ``room``: jupyter_server's own
    ``atomic_writing`` runs, but the file it opens takes only ``room`` more bytes
    (a nearly full disk).
    """

    fault: int | None = None
    room: int | None = None

    @contextmanager
    def atomic_writing(self, os_path, *args, **kwargs):
        if FaultyContents.fault is not None:
            with self.perm_to_403(os_path):
                raise OSError(FaultyContents.fault, os.strerror(FaultyContents.fault), os_path)
        if FaultyContents.room is None:
            with super().atomic_writing(os_path, *args, **kwargs) as f:
                yield f
            return
        room = FaultyContents.room

        def nearly_full_open(path, mode="r", encoding=None, newline=None, **kw):
            raw = _NearlyFullFile(path, room)
            buffered = io.BufferedWriter(raw, PAGE)
            return io.TextIOWrapper(buffered, encoding=encoding, newline=newline) if "b" not in mode else buffered

        fileio.open = nearly_full_open  # the module's calls to open() get the nearly full disk
        try:
            with super().atomic_writing(os_path, *args, **kwargs) as f:
                yield f
        finally:
            del fileio.open

    async def _save_directory(self, os_path, model, path=""):
        if FaultyContents.fault is not None and not os.path.exists(os_path):
            raise OSError(FaultyContents.fault, os.strerror(FaultyContents.fault), os_path)
        return await super()._save_directory(os_path, model, path)


def _mount_tmpfs(target: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "datadive-faults", str(target)], capture_output=True)
    return done.returncode == 0


FAULT_MODE = {"mode": None}  # "tmpfs" or "injected", for the report


class Disk:
    """The projects folder's disk: ``full()``, ``read_only()`` and ``clear()``, real (tmpfs) or injected."""

    def __init__(self, mount: Path, real: bool):
        self.mount, self.real = mount, real
        self.filler = mount / ".filler"
        self.server_store = None  # the server's Store, for the injected database faults
        FAULT_MODE["mode"] = "tmpfs" if real else "injected"

    def full(self, database: bool = False) -> None:
        if self.real:
            with open(self.filler, "wb", buffering=0) as f:
                for chunk in (65536, 4096, 1):
                    try:
                        while f.write(b"\0" * chunk):
                            pass
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC, exc
            assert os.statvfs(self.mount).f_bavail == 0
        else:
            FaultyContents.fault = errno.ENOSPC
            if database:
                pages = self.server_store.db.execute("PRAGMA page_count").fetchone()[0]
                self.server_store.db.execute(f"PRAGMA max_page_count = {pages}")

    def nearly_full(self) -> None:
        """One page left: room for a backup copy of a small file, not for a bigger new version."""
        if self.real:
            self.full()
            os.truncate(self.filler, os.path.getsize(self.filler) - PAGE)
            assert os.statvfs(self.mount).f_bavail * os.statvfs(self.mount).f_frsize == PAGE
        else:
            FaultyContents.room = PAGE

    def read_only(self, database: bool = False) -> None:
        if self.real and not database:
            subprocess.run(["mount", "-o", "remount,ro", str(self.mount)], check=True, capture_output=True)
            assert not os.access(self.mount, os.W_OK)
        else:
            FaultyContents.fault = errno.EROFS
            if database:
                self.server_store.db.execute("PRAGMA query_only = ON")

    def clear(self) -> None:
        FaultyContents.fault = FaultyContents.room = None
        if self.server_store is not None:
            self.server_store.db.execute("PRAGMA query_only = OFF")
            self.server_store.db.execute("PRAGMA max_page_count = 1073741823")
            self.server_store = None
        if self.real:
            subprocess.run(["mount", "-o", "remount,rw", str(self.mount)], check=True, capture_output=True)
            if self.filler.exists():
                self.filler.unlink()

    def unmount(self) -> None:
        if self.real and subprocess.run(["umount", str(self.mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.mount)], capture_output=True)


@pytest.fixture
def disk(jp_root_dir):
    mount = jp_root_dir / "projects"
    mount.mkdir()
    d = Disk(mount, _mount_tmpfs(mount))
    yield d
    d.clear()
    d.unmount()


def _disk_config(jp_data_dir, disk, db_path=None) -> dict:
    extra = {} if disk.real else {"ServerApp": {"contents_manager_class": FaultyContents}}
    config = base_config(jp_data_dir, **extra)
    if db_path is not None:
        config["DatadiveApp"]["db_path"] = str(db_path)
    return config


# status, code and error paths: the disk's fault is about no field of the request ("" : the request as a whole).
EXPECTED = {"full": (507, "storage_full", [""]), "read_only": (403, "read_only", [""])}


def _fault(disk, kind, **kw) -> None:
    (disk.full if kind == "full" else disk.read_only)(**kw)


def _folder_tree(folder: Path) -> list[str]:
    """Everything under ``folder`` but the filler and the empty checkpoint folders the contents manager makes as it deletes."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name != ".filler" and not (p.name == ".ipynb_checkpoints" and p.is_dir() and not any(p.iterdir())))


class TestDiskFaults:
    @pytest.fixture
    def jp_server_config(self, jp_data_dir, disk):
        return _disk_config(jp_data_dir, disk)

    @pytest.mark.parametrize("kind", ["full", "read_only"])
    async def test_cell_writes(self, api, jp_root_dir, jp_data_dir, disk, kind):
        db = jp_data_dir / "datadive-test.sqlite"
        project, file, path = await _project_with_notebook(api, jp_root_dir, name="Disk")
        pid, nb = project["id"], "book.ipynb"
        plain_cell, gen = await _cells(api, pid, nb, {"cell_type": "code", "source": "a = 1"}, {"template": {"id": "histogram"}, "inputs": {"column": "x"}})
        before, rows_before, tree_before = file.read_bytes(), journal(db, path), _folder_tree(disk.mount)
        writes = [
            ("POST", ("cells",), {"cell_type": "code", "source": "b = 2"}),
            ("POST", ("cells",), {"template": {"id": "overview"}, "inputs": {"n": 4}}),
            ("PATCH", ("cells", gen["id"]), {"inputs": {"column": "y"}}),
            ("POST", ("cells", gen["id"], "move"), {"index": 0}),
            ("DELETE", ("cells", plain_cell["id"]), None),
        ]
        _fault(disk, kind)
        for method, segments, body in writes:
            r = await api(method, "projects", pid, "notebooks", nb, *segments, body=body)
            assert_error(r, *EXPECTED[kind])
            assert file.read_bytes() == before, (method, segments, "a refused write changed the notebook")
            assert journal(db, path) == rows_before, (method, segments, "a refused write left journal rows")
        r = await api("GET", "projects", pid, "notebooks", nb, "cells")  # reads still work
        assert r.status == 200 and [c["id"] for c in r.json["cells"]] == [plain_cell["id"], gen["id"]], r.text

        disk.clear()
        for method, segments, body in writes:
            r = await api(method, "projects", pid, "notebooks", nb, *segments, body=body)
            assert r.status in (200, 201, 204), (method, segments, r.status, r.text)
        cells = read_valid(file).cells
        assert plain_cell["id"] not in [c.id for c in cells]
        assert cells[0].id == gen["id"] and cells[0].metadata["datadive"]["inputs"]["column"] == "y"
        rows = journal(db, path)
        assert [r["op"] for r in rows[len(rows_before):]] == ["insert", "insert", "insert", "regenerate", "move", "delete"]
        assert not [r for r in rows if r["pending"]]
        assert _folder_tree(disk.mount) == tree_before, "a failed write left files behind"

    async def test_nearly_full_disk(self, api, jp_root_dir, jp_data_dir, disk):
        """A new version that does not fit: the contents manager has room for its backup copy, not for the file."""
        db = jp_data_dir / "datadive-test.sqlite"
        project, file, path = await _project_with_notebook(api, jp_root_dir, name="Disk")
        pid, nb = project["id"], "book.ipynb"
        await _cells(api, pid, nb, {"cell_type": "code", "source": "a = '" + "a" * 1500 + "'"})
        before, rows_before = file.read_bytes(), journal(db, path)
        assert len(before) < PAGE
        body = {"cell_type": "code", "source": "b = '" + "b" * (PAGE - len(before) + 500) + "'"}  # the new file: more than one page
        disk.nearly_full()
        r = await api("POST", "projects", pid, "notebooks", nb, "cells", body=body)
        assert_error(r, *EXPECTED["full"])
        assert file.read_bytes() == before, "a refused write left the notebook torn"
        assert journal(db, path) == rows_before
        disk.clear()
        new = await _cells(api, pid, nb, body)
        cells = read_valid(file).cells
        assert [source_of(c) for c in cells] == ["a = '" + "a" * 1500 + "'", body["source"]] and cells[1].id == new[0]["id"]
        assert [r["op"] for r in journal(db, path)[len(rows_before):]] == ["insert"]

    @pytest.mark.parametrize("kind", ["full", "read_only"])
    async def test_create_notebook(self, api, jp_root_dir, disk, kind):
        project, _, _ = await _project_with_notebook(api, jp_root_dir, name="Disk")
        folder = jp_root_dir / project["path"]
        tree_before = _folder_tree(disk.mount)
        _fault(disk, kind)
        r = await api("POST", "projects", project["id"], "notebooks", body={"name": "new.ipynb"})
        assert_error(r, *EXPECTED[kind])
        assert not (folder / "new.ipynb").exists(), "a refused notebook creation left a file"
        assert _folder_tree(disk.mount) == tree_before
        disk.clear()
        r = await api("POST", "projects", project["id"], "notebooks", body={"name": "new.ipynb"})
        assert r.status == 201, r.text
        assert read_valid(folder / "new.ipynb").cells == []

    @pytest.mark.parametrize("kind", ["full", "read_only"])
    async def test_create_project(self, api, jp_root_dir, jp_data_dir, disk, kind):
        db = jp_data_dir / "datadive-test.sqlite"
        tree_before = _folder_tree(disk.mount)
        _fault(disk, kind)
        r = await api("POST", "projects", body={"name": "Field data"})
        assert_error(r, *EXPECTED[kind])
        assert _folder_tree(disk.mount) == tree_before, "a half-made project folder is left"
        assert db_query(db, "SELECT id FROM projects") == [] and db_query(db, "SELECT * FROM members") == []
        r = await api("GET", "projects")
        assert r.status == 200 and r.json["items"] == [], r.text
        disk.clear()
        r = await api("POST", "projects", body={"name": "Field data"})
        assert r.status == 201 and r.json["path"] == "projects/field-data", r.text
        assert (jp_root_dir / "projects" / "field-data" / "datadive-project.json").is_file()


class TestDatabaseOnFaultyDisk:
    """The SQLite file on a disk that fills up / a database that cannot be written.

    By default the store lives in the Jupyter data dir, usually on the notebooks'
    disk, so a full disk refuses the journal write before the notebook's.
    """

    @pytest.fixture
    def jp_server_config(self, jp_data_dir, disk):
        db_path = (disk.mount / ".store" / "datadive.sqlite") if disk.real else (jp_data_dir / "datadive-test.sqlite")
        return _disk_config(jp_data_dir, disk, db_path)

    @pytest.mark.parametrize("kind", ["full", "read_only"])
    async def test_journal_write_refused(self, api, jp_root_dir, jp_serverapp, disk, kind):
        store = ext_app(jp_serverapp).store
        disk.server_store = store
        db = store.path
        project, file, path = await _project_with_notebook(api, jp_root_dir, name="Store")
        pid = project["id"]
        await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": "a = 1"})
        before, rows_before = file.read_bytes(), journal(db, path)
        # The write-ahead log starts empty, so the next journal write must grow the file.
        assert db_query(db, "PRAGMA wal_checkpoint(TRUNCATE)")[0]["busy"] == 0
        big = "x = '" + "0123456789" * 1500 + "'"  # needs new database pages
        _fault(disk, kind, database=True)
        r = await api("POST", "projects", pid, "notebooks", "book.ipynb", "cells", body={"cell_type": "code", "source": big})
        assert_error(r, *EXPECTED[kind])
        assert file.read_bytes() == before
        disk.clear()
        assert journal(db, path) == rows_before
        assert integrity(db) == "ok"
        new = await _cells(api, pid, "book.ipynb", {"cell_type": "code", "source": big})
        assert [c.id for c in read_valid(file).cells][-1] == new[0]["id"]
        assert [(r["op"], r["cell_id"], r["pending"]) for r in journal(db, path)[len(rows_before):]] == [("insert", new[0]["id"], 0)]
