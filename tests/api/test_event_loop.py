"""Nothing blocks the event loop: while one request decodes a 40 MP input (seconds of CPU on a
thread), health checks and status reads of the same server keep being answered.

Event-ordered, not timed: the huge image is served by a file server that says when the
fluxserve server has fetched all of it; from then on that request is decoding and re-encoding,
and several rounds of `/health` and a status read must all answer before it does."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.api.conftest import write_config
from tests.support.jobs import status, submit
from tests.support.servers import FluxServer, create_key

FLUX_DEV = "/flux-dev/v1/dev/textToImage"
FLUX_DEV_I2I = "/flux-dev/v1/dev/imageToImage"
HUGE_SIDE = 6320  # 39.9 MP, just under the default max_input_pixels
ROUNDS = 3


@dataclass
class OneImage:
    """Serves one PNG on 127.0.0.1 and sets `served` once a client has read all of it."""

    png: bytes
    served: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    def start(self) -> OneImage:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(outer.png)))
                self.end_headers()
                self.wfile.write(outer.png)
                self.wfile.flush()
                outer.served.set()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/huge.png"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()


def huge_png() -> bytes:
    """A 40 MP PNG that is small on the wire (one colour) but costs seconds to decode."""
    buffer = io.BytesIO()
    Image.new("RGB", (HUGE_SIDE, HUGE_SIDE), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path) -> Iterator[Any]:
    """An API-only server (`--no-workers`): jobs stay QUEUED and no engine competes for CPU."""
    data_dir = tmp_path_factory.mktemp("api-only")
    config = write_config(data_dir / "config.toml", demo_cache_dir, rate_limit_per_minute=1000)
    key = create_key(data_dir)
    server = FluxServer(data_dir, config=config, extra_args=("--no-workers",)).start()
    yield server, key
    server.stop()


def test_health_and_status_answer_while_a_huge_input_decodes(api_only: Any) -> None:
    server, key = api_only
    queued = submit(server.url, FLUX_DEV, key, {"prompt": "a cat", "num_inference_steps": 1})
    image = OneImage(huge_png()).start()
    body = {"prompt": "a cat", "image_url": image.url, "image_size": "square"}
    headers = {"Ocp-Apim-Subscription-Key": key}
    try:
        with ThreadPoolExecutor(1) as pool:
            slow: Future[httpx.Response] = pool.submit(
                httpx.post, f"{server.url}{FLUX_DEV_I2I}", json=body, headers=headers, timeout=300
            )
            assert image.served.wait(120), "the server never fetched the huge image"
            for _ in range(ROUNDS):
                health = httpx.get(f"{server.url}/health", timeout=120)
                assert health.status_code == 200
                assert status(server.url, queued, key)["status"] == "QUEUED"
                assert not slow.done(), "the huge image was decoded before the others answered"
            # And the slow one itself succeeds.
            assert slow.result().status_code == 202, slow.result().text
    finally:
        image.stop()
