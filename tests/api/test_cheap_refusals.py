"""Cheap refusals first: a key that cannot pay gets its 402 before the server fetches,
decodes or stores any input, so a $0 key cannot make the server fetch images (or datasets, or
LoRA files) from anywhere. A loopback server counts every request made to it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.support.media import encode, noise_image
from tests.support.servers import create_key

PNG = encode(noise_image(64, 64), "PNG")


@dataclass
class CountingServer:
    """Serves one PNG at any path and remembers every path asked for."""

    paths: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> CountingServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, name: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


@pytest.fixture
def counting() -> Iterator[CountingServer]:
    server = CountingServer().start()
    yield server
    server.stop()


def _requests(server: CountingServer) -> list[tuple[str, dict[str, Any]]]:
    """Every route that takes an input by URL, with a body whose inputs point at `server`."""
    url = server.url
    return [
        ("/flux-dev/v1/dev/imageToImage", {"prompt": "x", "image_url": url("i2i.png")}),
        (
            "/flux-kontext-restore-image/v1/flux-kontext-restore-image/generate",
            {"input_image": url("restore.png")},
        ),
        (
            "/flux-2-pro-image-to-image-866/v1/flux-2-pro-image-to-image-request",
            {"prompt": "x", "image_urls": [url("flux2.png")]},
        ),
        (
            "/flux-fill-dev/v1/flux-fill/generate",
            {"prompt": "x", "image": url("fill.png"), "mask": url("mask.png")},
        ),
        (
            "/flux-dev/v1/dev/textToImage",
            {"prompt": "x", "loras": [{"path": url("lora.safetensors")}]},
        ),
        (
            "/flux-2-pro-text-to-image-trainer-712/v1/flux-2-pro-text-to-image-trainer-request",
            {"image_data_url": url("dataset.zip")},
        ),
    ]


def test_a_key_without_funds_makes_the_server_fetch_nothing(
    api: Api, counting: CountingServer
) -> None:
    broke = create_key(api.server.data_dir, credit="0", name="broke")
    for path, body in _requests(counting):
        response = httpx.post(f"{api.url}{path}", headers=api.headers(broke), json=body, timeout=60)
        assert response.status_code == 402, (path, response.text)
        assert response.json()["error"] == "Insufficient Balance"
    assert counting.paths == []


def test_the_same_edit_with_funds_does_fetch(api: Api, counting: CountingServer) -> None:
    path, body = _requests(counting)[0]
    response = httpx.post(f"{api.url}{path}", headers=api.headers(), json=body, timeout=60)
    assert response.status_code == 202, response.text
    assert counting.paths == ["/i2i.png"]  # the counter sees what the refusal above did not


def test_unknown_keys_and_rate_limits_also_refuse_before_fetching(
    api: Api, counting: CountingServer
) -> None:
    path, body = _requests(counting)[0]
    response = httpx.post(
        f"{api.url}{path}", headers=api.headers("fs_not-a-key"), json=body, timeout=60
    )
    assert response.status_code == 401
    assert counting.paths == []
