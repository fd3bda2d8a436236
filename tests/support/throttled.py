"""A loopback server that answers 429 (with Retry-After) a set number of times, then the
spec's 202, recording each request's headers: for the SDK's retry behaviour."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ThrottledServer:
    refusals: int
    retry_after: str = "1"
    seen: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> ThrottledServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.seen.append((time.monotonic(), dict(self.headers)))
                if len(outer.seen) <= outer.refusals:
                    body = {"error": "Too Many Requests", "message": "slow down"}
                    self._answer(429, body, {"Retry-After": outer.retry_after})
                else:
                    body = {"request_id": "flux-dev_1", "status": "QUEUED", "polling_url": ""}
                    self._answer(202, body, {})

            def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
