"""What a hostile client with a funded key tries, over real HTTP, on SQLite and PostgreSQL:
parseable-but-poisonous JSON, NUL characters, oversized and slow bodies, trickled headers, too
many connections, undeliverable webhook URLs, and inputs that are cheap to send but expensive
to decode."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import select
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from fluxserve.api.body_limits import body_cap
from fluxserve.settings import Settings
from tests.api.hostile.conftest import (
    BODY_IDLE_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    MAX_CONNECTIONS,
    Target,
)
from tests.support.media import encode, noise_image

T2I = "/flux-dev/v1/dev/textToImage"
I2I = "/flux-dev/v1/dev/imageToImage"
FLUX2_T2I = "/flux-2-pro-text-to-image-799/v1/flux-2-pro-text-to-image-request"
KONTEXT = "/flux-kontext-restore-image/v1/flux-kontext-restore-image/generate"
BATCH = "/flux-1-schnell/v1/getDataBatch"
CHECK_STATUS = "/flux-1-schnell/v1/checkStatus"
DEFAULTS = Settings(data_dir=Path("unused"))


def png_data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(encode(image, "PNG")).decode()


def post(target: Target, path: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{target.url}{path}", json=body, headers={**target.headers(), **headers}, timeout=60
    )


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body["error"], str) and body["error"], body
    return " ".join(str(v) for v in body.values())


# 1. Parseable JSON that used to escape as a 500 and a dropped connection.
POISON = {
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "5,000-digit integer in an unknown field": b'{"prompt": "a fox", "x": ' + b"9" * 5000 + b"}",
    "bad UTF-8": b'{"prompt": "\xff\xfe"}',
    "lone surrogate": b'{"prompt": "a \\ud800 fox"}',
    "NaN": b'{"prompt": "a fox", "seed": NaN}',
    "float overflow": b'{"prompt": "a fox", "guidance": 1e999}',
}


def test_poisonous_json_is_a_400_on_a_kept_alive_connection(target: Target) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
    conn.connect()
    first_socket = conn.sock
    try:
        for name, raw in POISON.items():
            conn.request("POST", T2I, body=raw, headers=target.headers())
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == 400, (name, body)
            assert body["error"], name
            assert not response.will_close, name
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
        assert conn.sock is first_socket  # never reconnected: the server kept the connection
    finally:
        conn.close()


# 2. NUL characters: PostgreSQL refuses them; the answer must not depend on the store.
def test_nul_in_strings_and_ids_is_answered_alike_on_every_store(target: Target) -> None:
    prompt = post(target, T2I, {"prompt": "a\u0000b"})
    assert prompt.status_code == 400 and "NUL" in error_of(prompt)
    lora = post(target, FLUX2_T2I, {"prompt": "a fox", "loras": [{"path": "x\u0000y"}]})
    assert lora.status_code == 400 and "NUL" in error_of(lora)
    check = post(target, CHECK_STATUS, {"requestId": "abc\u0000def"})
    assert check.status_code == 400 and "NUL" in error_of(check)
    status = httpx.get(
        f"{target.url}/v2/requests/status/abc%00def", headers=target.headers(), timeout=30
    )
    assert status.status_code == 404 and "not found" in error_of(status)


# 3. Body caps, enforced while the body streams in.
def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _head(path: str, target: Target, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Ocp-Apim-Subscription-Key: {target.key}\r\n{extra}\r\n"
    ).encode()


def test_a_declared_oversized_body_is_refused_before_it_is_sent(target: Target) -> None:
    for path in (T2I, I2I):
        declared = body_cap(DEFAULTS, path) + 1
        with socket.create_connection(("127.0.0.1", target.port), timeout=30) as sock:
            sock.sendall(_head(path, target, f"Content-Length: {declared}\r\n"))
            status, headers, body = _read_response(sock)
        assert status == 413, body
        assert headers["connection"] == "close"
        assert "limit" in json.loads(body)["message"]


def test_a_streamed_oversized_body_is_cut_off_near_the_cap(target: Target) -> None:
    cap = body_cap(DEFAULTS, T2I)
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", target.port), timeout=30) as sock:
        sock.sendall(_head(T2I, target, "Transfer-Encoding: chunked\r\n"))
        # Stream as a hostile client would, until the server answers (or 300 MB went out).
        while sent < 300 * 1024 * 1024:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, _, body = _read_response(sock)
    assert status == 413, body
    # Refused as soon as the count passed the cap, give or take what sat in socket buffers.
    assert sent < cap + 16 * 1024 * 1024, sent


def test_a_media_route_takes_a_data_url_body_over_the_json_cap(target: Target) -> None:
    # Bigger than any plain JSON body may be, well within one data-URL image: not a 413, the
    # image itself is judged (and this one is not an image).
    junk = "data:image/png;base64," + base64.b64encode(b"\0" * (2 * 1024 * 1024)).decode()
    response = post(target, I2I, {"prompt": "a fox", "image_url": junk})
    assert response.status_code == 400, response.text
    assert "image" in error_of(response)


# 4. Slow clients.
def _closed_within(sock: socket.socket, trickle: bytes, limit_s: float) -> float | None:
    """Send `trickle` a byte every 0.1 s; seconds until the server closed, or None."""
    started = time.monotonic()
    for index in range(int(limit_s / 0.1)):
        if index < len(trickle):
            try:
                sock.sendall(trickle[index : index + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - started
            except ConnectionResetError:
                return time.monotonic() - started
    return None


def test_trickled_headers_and_silent_connections_are_cut_off(target: Target) -> None:
    trickle = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 500
    limit_s = HEADER_TIMEOUT_S + 10
    with socket.create_connection(("127.0.0.1", target.port), timeout=30) as slow:
        elapsed = _closed_within(slow, trickle, limit_s)
    assert elapsed is not None, f"still open after {limit_s} s"
    assert elapsed >= HEADER_TIMEOUT_S * 0.8
    with socket.create_connection(("127.0.0.1", target.port), timeout=30) as silent:
        assert _closed_within(silent, b"", limit_s) is not None


def test_a_trickled_body_is_answered_408(target: Target) -> None:
    with socket.create_connection(("127.0.0.1", target.port), timeout=30) as sock:
        sock.sendall(_head(T2I, target, "Content-Length: 100\r\n") + b'{"prompt": ')
        started = time.monotonic()
        status, headers, body = _read_response(sock)
    assert status == 408, body
    assert headers["connection"] == "close"
    assert time.monotonic() - started < BODY_IDLE_TIMEOUT_S + 10


def test_connections_over_the_cap_are_closed(target: Target) -> None:
    extra = 8
    sockets = [
        socket.create_connection(("127.0.0.1", target.port), timeout=30)
        for _ in range(MAX_CONNECTIONS + extra)
    ]
    answered = refused = 0
    try:
        # Kept-alive connections stay open, so the count really climbs past the cap.
        for sock in sockets:
            with contextlib.suppress(OSError):  # refused already; counted below
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in sockets:
            try:
                status, _, _ = _read_response(sock)
                answered += status == 200
            except (OSError, http.client.HTTPException):
                refused += 1
    finally:
        for sock in sockets:
            sock.close()
    assert refused >= extra
    assert answered >= MAX_CONNECTIONS // 2


# 6. Webhook URLs that could never be delivered.
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://[::1]/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[::ffff:192.168.1.1]/hook",
        "http://localhost:8080/hook",
    ],
)
def test_private_webhook_urls_are_refused_at_submit(target: Target, url: str) -> None:
    response = post(target, T2I, {"prompt": "a fox"}, **{"X-Webhook-URL": url})
    assert response.status_code == 400, response.text
    assert "webhook URL refused" in error_of(response)


def test_private_webhook_urls_in_bodies_are_refused_and_public_ones_accepted(
    target: Target,
) -> None:
    image = png_data_url(noise_image(32, 32))
    kontext = post(target, KONTEXT, {"input_image": image, "webhook": "http://10.1.2.3/h"})
    assert kontext.status_code == 400, kontext.text
    batch = post(target, BATCH, {"prompt": "a fox", "webhook_url": "http://127.0.0.1/h"})
    assert batch.status_code == 400, batch.text
    public = post(target, T2I, {"prompt": "a fox"}, **{"X-Webhook-URL": "http://93.184.216.34/h"})
    assert public.status_code == 202, public.text


# 7. A small file with a huge pixel count must not stall the event loop while it decodes.
def _health_latency(url: str) -> float:
    started = time.monotonic()
    assert httpx.get(f"{url}/health", timeout=60).status_code == 200
    return time.monotonic() - started


def test_decoding_big_inputs_does_not_stall_other_requests(target: Target) -> None:
    if target.store != "sqlite":
        pytest.skip("the store plays no part in decoding; once is enough")
    big = png_data_url(Image.new("RGB", (4000, 4000), (200, 40, 40)))
    assert len(big) < 200_000  # cheap to send, 16 megapixels to decode
    baseline = [_health_latency(target.url) for _ in range(10)]

    durations: list[float] = []

    def submit() -> None:
        started = time.monotonic()
        response = post(target, I2I, {"prompt": "a fox", "image_url": big, "strength": 0.5})
        assert response.status_code == 202, response.text
        durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for thread in threads:
        thread.start()
    loaded: list[float] = []
    while any(thread.is_alive() for thread in threads):
        loaded.append(_health_latency(target.url))
    for thread in threads:
        thread.join()

    assert len(durations) == 3 and len(loaded) >= 3
    # Decoding on the loop makes some /health wait for a whole decode (about one submit's
    # time); off the loop it stays near the idle baseline.
    bound = max(baseline) + min(durations) / 2
    assert max(loaded) < bound, (
        f"health under load {statistics.median(loaded):.3f} s median, {max(loaded):.3f} s max;"
        f" idle {statistics.median(baseline):.3f} s; submits {sorted(durations)}"
    )
