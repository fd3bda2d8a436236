"""Real servers for tests: fluxserve itself (via its CLI), a static file server for input
images, and a webhook receiver. All listen on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_ticks(pid: int) -> int:
    """CPU time a process (and its waited-for children) has used, in clock ticks; 0 where
    /proc cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime


def run_cli(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> str:
    """Run `fluxserve ...` as a user would and return its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "fluxserve", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"fluxserve {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def create_key(data_dir: Path, credit: str = "100", name: str = "test") -> str:
    return create_key_and_secret(data_dir, credit, name)[0]


def create_key_and_secret(
    data_dir: Path, credit: str = "100", name: str = "test", env: dict[str, str] | None = None
) -> tuple[str, str]:
    """A new key and its webhook signing secret, as `keys create` prints them."""
    out = run_cli("keys", "create", "--name", name, "--credit", credit, data_dir=data_dir, env=env)
    lines = out.strip().splitlines()
    secrets = [line.split(": ", 1)[1] for line in lines if line.startswith("webhook signing")]
    return lines[-1], secrets[0]


@dataclass
class FluxServer:
    """`fluxserve serve` in a child process."""

    data_dir: Path
    config: Path | None = None
    extra_args: tuple[str, ...] = ()
    allow_private: bool = True
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> FluxServer:
        args = [
            sys.executable, "-m", "fluxserve", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), *self.extra_args,
        ]  # fmt: skip
        if self.allow_private:
            args.append("--allow-private-urls")
        if self.config is not None:
            args += ["--config", str(self.config)]
        self.log_path = self.data_dir / f"server-{self.port}-{time.time_ns()}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, stall_s: float) -> None:
        """Until /health answers; fails only if the server stops working towards it (no CPU
        time spent) for `stall_s`, so a crowded machine makes a start slow, not a failure."""
        assert self.process is not None
        deadline, spent = time.monotonic() + stall_s, -1
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fluxserve exited early:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            now_spent = cpu_ticks(self.process.pid)
            if now_spent != spent:
                deadline, spent = time.monotonic() + stall_s, now_spent
            time.sleep(0.2)
        raise RuntimeError(f"fluxserve made no progress starting for {stall_s} s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the server process: no clean shutdown at all (its engine process, which
        the kernel ties to it, dies with it)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class FileServer:
    """Serves a folder over HTTP on 127.0.0.1, standing in for public image URLs."""

    root: Path
    server: ThreadingHTTPServer | None = None

    def start(self) -> FileServer:
        root = str(self.root)

        class Handler(_QuietFiles):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=root, **kwargs)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, name: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records every POST it gets; answers 200, or the statuses scripted for its path."""

    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    arrived: threading.Condition = field(default_factory=threading.Condition)
    scripted: dict[str, list[int]] = field(default_factory=dict)

    def answer_next(self, path: str, *statuses: int) -> None:
        """Answer the next POSTs to `path` with `statuses`, in order, then 200 again."""
        with self.arrived:
            self.scripted.setdefault(path, []).extend(statuses)

    def _status_for(self, path: str) -> int:
        waiting = self.scripted.get(path)
        return waiting.pop(0) if waiting else 200

    def start(self) -> WebhookReceiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with outer.arrived:
                    outer.received.append(Received(self.path, dict(self.headers), body))
                    outer.arrived.notify_all()
                    status = outer._status_for(self.path)
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, path: str, timeout_s: float = 60.0) -> Received:
        return self.wait_for_count(path, 1, timeout_s)[0]

    def wait_for_count(self, path: str, count: int, timeout_s: float = 60.0) -> list[Received]:
        """The first `count` POSTs to `path`, once that many have arrived."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while True:
                arrived = [item for item in self.received if item.path == path]
                if len(arrived) >= count:
                    return arrived[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(arrived)}/{count} webhooks at {path} in time")
                self.arrived.wait(remaining)

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
