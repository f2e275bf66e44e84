"""A real Jupyter server with the extension, on a free loopback port, for benchmarks."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``with Server() as srv: srv.call("POST", "api/datadive/projects", {...})``."""

    def __init__(self, extra_args=(), extension: bool = True, extensions: dict | None = None):
        self.tmp = tempfile.TemporaryDirectory(prefix="datadive-bench-")
        self.root = Path(self.tmp.name) / "root"
        self.root.mkdir()
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        args = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            f"--DatadiveApp.db_path={Path(self.tmp.name) / 'datadive.sqlite'}",
            "--ServerApp.port_retries=0", "--ContentsManager.delete_to_trash=False",
            f"--ServerApp.jpserver_extensions={extensions or {'datadive_ext': extension}!r}",
            *extra_args,
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(Path(self.tmp.name) / "config"),
               "JUPYTER_DATA_DIR": str(Path(self.tmp.name) / "data"), "JUPYTER_RUNTIME_DIR": str(Path(self.tmp.name) / "runtime")}
        self.args = args
        self.env = env
        self.proc = None

    @property
    def log_path(self) -> Path:
        """The server's log (its stderr), kept until ``stop``."""
        return Path(self.tmp.name) / "server.log"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, timeout: float = 60.0, poll: float = 0.02) -> float:
        """Start the server; returns seconds until it answered its first request (polled every ``poll`` s)."""
        t0 = time.perf_counter()
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=self._log)
        while time.perf_counter() - t0 < timeout:
            try:
                self.call("GET", "api/status")
                return time.perf_counter() - t0
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError("the server exited:\n" + self.log_tail()) from None
                time.sleep(poll)
        raise RuntimeError("the server did not start")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def call(self, method: str, path: str, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT", "PATCH") else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, _decode(resp.read()), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read()), dict(exc.headers)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()
        self.tmp.cleanup()

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


def _decode(raw: bytes):
    """The JSON body, or its text when it is not JSON (an HTML error page), or None when empty."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")
