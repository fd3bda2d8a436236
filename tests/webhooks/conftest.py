"""Fixtures for webhook tests: a real receiver (an HTTP server on 127.0.0.1 in a thread that
records every request and answers with scripted status codes, then 200), a real SQLite
database, and a clock the test moves by hand."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fluxserve.db.database import Database


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Scripted answers: `statuses` are used first, one per request, then `default_status`."""

    port: int = 0
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def fail_next(self, count: int, status: int = 500) -> None:
        with self.lock:
            self.statuses.extend([status] * count)

    def record(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            return self.statuses.pop(0) if self.statuses else self.default_status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.record(Received(self.path, headers, body))
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, as the timeout test intends

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output quiet

    return Handler


@contextmanager
def _serving(state: Receiver, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with _serving(Receiver()) as state:
        yield state


@dataclass(frozen=True)
class TlsReceiver:
    receiver: Receiver
    ca_file: Path  # the self-signed certificate, to trust on the client side
    name: str  # the only name the certificate is valid for


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[TlsReceiver]:
    """An HTTPS receiver whose certificate names `hooks.example.test` (not its IP address)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    name = "hooks.example.test"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert),
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with _serving(Receiver(), tls) as state:
        yield TlsReceiver(state, cert, name)


class ManualClock:
    """A clock the test moves by hand; every store and the deliverer share it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 31, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def move_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(f"sqlite:///{tmp_path / 'fluxserve.db'}")
    try:
        yield database
    finally:
        database.close()
