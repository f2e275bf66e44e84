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

    def start(self, timeout: float = 60.0) -> float:
        """Start the server; returns seconds until it answered its first request."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while time.perf_counter() - t0 < timeout:
            try:
                self.call("GET", "api/status")
                return time.perf_counter() - t0
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError("the server exited") from None
                time.sleep(0.02)
        raise RuntimeError("the server did not start")

    def call(self, method: str, path: str, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT", "PATCH") else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, (json.loads(raw) if raw else None), dict(exc.headers)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")
