"""InputFetcher against a real HTTP server on 127.0.0.1.

Tests that need a first hop on a public address send it through the same server acting as a
plain forward proxy: the request goes out for the public address (as the guard decided) and
the local server answers it, so redirects and pinning are checked on real HTTP traffic.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fluxserve.errors import InputFetchError
from fluxserve.inputs.fetch import FetchPolicy, InputFetcher, Resolver

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
PUBLIC_IP = "93.184.216.34"
PRIVATE_MESSAGE_TAIL = (
    "fluxserve refuses to fetch loopback, private and link-local addresses unless started "
    "with --allow-private-urls"
)


@dataclass
class Server:
    base: str
    port: int
    seen: list[tuple[str, str]] = field(default_factory=list)  # (request target, Host header)


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        record: Server = self.server.record  # type: ignore[attr-defined]
        record.seen.append((self.path, self.headers.get("Host", "")))
        target = urlsplit(self.path)
        query = parse_qs(target.query)
        route = target.path
        if route == "/image.png":
            self._send(200, PNG_1X1)
        elif route == "/bytes":
            self._send(200, b"x" * int(query["n"][0]))
        elif route == "/stream":
            self._stream_without_length(int(query["n"][0]))
        elif route == "/redirect":
            self._redirect(query["to"][0])
        elif route == "/loop":
            self._redirect("/loop")
        elif route == "/slow":
            time.sleep(1.0)
            self._send(200, PNG_1X1)
        elif route == "/empty":
            self._send(200, b"")
        else:
            self._send(404, b"not here")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _stream_without_length(self, size: int) -> None:
        # HTTP/1.0 without Content-Length: the body runs until the connection closes.
        self.send_response(200)
        self.end_headers()
        for _ in range(size // 1000):
            self.wfile.write(b"y" * 1000)

    def log_message(self, format: str, *args: object) -> None:
        return


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # The fetcher hangs up on oversize bodies on purpose; no traceback for that.
        return


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    record = Server(base=f"http://127.0.0.1:{port}", port=port)
    httpd.record = record  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield record
    httpd.shutdown()
    httpd.server_close()


def fetch(
    url: str,
    policy: FetchPolicy,
    *,
    proxy: str | None = None,
    resolver: Resolver | None = None,
) -> bytes:
    async def run() -> bytes:
        client = httpx.AsyncClient(proxy=proxy, trust_env=False) if proxy else None
        try:
            async with InputFetcher(policy, client, resolver=resolver) as fetcher:
                return await fetcher.fetch(url, what="image_url")
        finally:
            if client is not None:
                await client.aclose()

    return asyncio.run(run())


def fixed_resolver(answers: dict[str, Sequence[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


PRIVATE_OK = FetchPolicy(allow_private=True)
GUARDED = FetchPolicy(allow_private=False)


def test_fetches_from_private_address_when_allowed(server: Server) -> None:
    assert fetch(f"{server.base}/image.png", PRIVATE_OK) == PNG_1X1


def test_refuses_loopback_literal_with_clear_message(server: Server) -> None:
    with pytest.raises(InputFetchError) as caught:
        fetch(f"{server.base}/image.png", GUARDED)
    assert caught.value.message == (
        f"image_url resolves to a private address (127.0.0.1); {PRIVATE_MESSAGE_TAIL}"
    )
    assert caught.value.code == "invalid_input"


def test_refuses_host_name_that_resolves_to_loopback(server: Server) -> None:
    with pytest.raises(InputFetchError, match=r"image_url resolves to a private address"):
        fetch(f"http://localhost:{server.port}/image.png", GUARDED)


@pytest.mark.parametrize(
    "host",
    [
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[2002:7f00:1::]",
        "[64:ff9b::7f00:1]",
        "2130706433",
        "0x7f.1",
        "127.1",
        "0.0.0.0",
        "169.254.169.254",
    ],
)
def test_refuses_other_spellings_of_local_addresses(server: Server, host: str) -> None:
    server.seen.clear()
    with pytest.raises(InputFetchError, match=r"^image_url "):
        fetch(f"http://{host}:{server.port}/image.png", GUARDED)
    assert server.seen == []


def test_refuses_when_any_resolved_address_is_private(server: Server) -> None:
    resolver = fixed_resolver({"mixed.example": [PUBLIC_IP, "10.1.2.3"]})
    with pytest.raises(InputFetchError, match=r"private address \(10\.1\.2\.3\)"):
        fetch("http://mixed.example/image.png", GUARDED, resolver=resolver)


def test_unknown_host_is_reported(server: Server) -> None:
    resolver = fixed_resolver({})
    with pytest.raises(InputFetchError, match=r"host 'nowhere\.example' does not resolve"):
        fetch("http://nowhere.example/image.png", GUARDED, resolver=resolver)


def test_connects_to_the_checked_address_keeping_the_host_name(server: Server) -> None:
    resolver = fixed_resolver({"images.example.com": [PUBLIC_IP]})
    server.seen.clear()
    data = fetch(
        "http://images.example.com/image.png", GUARDED, proxy=server.base, resolver=resolver
    )
    assert data == PNG_1X1
    assert server.seen == [(f"http://{PUBLIC_IP}/image.png", "images.example.com")]


def test_http_error_status_is_reported(server: Server) -> None:
    with pytest.raises(InputFetchError) as caught:
        fetch(f"{server.base}/missing.png", PRIVATE_OK)
    assert caught.value.message == "image_url could not be fetched: HTTP 404"


def test_declared_oversize_body_is_refused(server: Server) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=1000)
    assert fetch(f"{server.base}/bytes?n=1000", policy) == b"x" * 1000
    with pytest.raises(InputFetchError) as caught:
        fetch(f"{server.base}/bytes?n=1001", policy)
    assert caught.value.message == "image_url is larger than 1000 bytes"


def test_streamed_oversize_body_stops_at_the_limit(server: Server) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=64 * 1024)
    with pytest.raises(InputFetchError) as caught:
        fetch(f"{server.base}/stream?n=2000000", policy)
    assert caught.value.message == "image_url is larger than 64 KB"


def test_default_limit_is_named_in_megabytes(server: Server) -> None:
    size = 25 * 1024 * 1024 + 1
    with pytest.raises(InputFetchError, match=r"^image_url is larger than 25 MB$"):
        fetch(f"{server.base}/bytes?n={size}", PRIVATE_OK)


def test_empty_body_is_refused(server: Server) -> None:
    with pytest.raises(InputFetchError, match=r"the server sent no data"):
        fetch(f"{server.base}/empty", PRIVATE_OK)


def test_follows_redirects(server: Server) -> None:
    url = f"{server.base}/redirect?to=/image.png"
    assert fetch(url, PRIVATE_OK) == PNG_1X1


def test_stops_after_max_redirects(server: Server) -> None:
    policy = FetchPolicy(allow_private=True, max_redirects=2)
    with pytest.raises(InputFetchError, match=r"more than 2 redirects"):
        fetch(f"{server.base}/loop", policy)


def test_redirect_to_private_address_is_refused(server: Server) -> None:
    server.seen.clear()
    url = f"http://{PUBLIC_IP}/redirect?to={server.base}/image.png"
    with pytest.raises(InputFetchError) as caught:
        fetch(url, GUARDED, proxy=server.base)
    assert caught.value.message.startswith("image_url resolves to a private address (127.0.0.1)")
    # The public first hop was fetched; the private second one never was.
    assert [target for target, _ in server.seen] == [url]


def test_redirect_to_other_scheme_is_refused(server: Server) -> None:
    url = f"{server.base}/redirect?to=file:///etc/passwd"
    with pytest.raises(InputFetchError, match=r"redirects to a URL that is not http"):
        fetch(url, PRIVATE_OK)


def test_whole_fetch_is_bounded_by_the_timeout(server: Server) -> None:
    policy = FetchPolicy(allow_private=True, timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(InputFetchError, match=r"image_url could not be fetched: "):
        fetch(f"{server.base}/slow", policy)
    assert time.monotonic() - started < 0.9


def test_connection_refused_is_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(InputFetchError, match=r"could not be fetched: connection failed"):
        fetch(f"http://127.0.0.1:{port}/image.png", PRIVATE_OK)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a.png", "file:///etc/passwd", "", "just words", "gopher://x/"],
)
def test_unsupported_schemes_are_refused(url: str) -> None:
    with pytest.raises(InputFetchError) as caught:
        fetch(url, PRIVATE_OK)
    assert caught.value.message == "image_url must be an http(s) or data: URL"


def test_url_without_host_is_refused() -> None:
    with pytest.raises(InputFetchError, match=r"image_url is not a valid URL"):
        fetch("http:///image.png", PRIVATE_OK)


def test_base64_data_url() -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()
    assert fetch(url, GUARDED) == PNG_1X1


def test_base64_data_url_with_percent_escapes_and_line_breaks() -> None:
    encoded = base64.b64encode(PNG_1X1).decode()
    url = "data:image/png;base64," + encoded[:20] + "\n" + encoded[20:].replace("=", "%3D")
    assert fetch(url, GUARDED) == PNG_1X1


def test_percent_encoded_data_url() -> None:
    assert fetch("data:text/plain,hello%20world%00", GUARDED) == b"hello world\x00"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("data:image/png;base64,@@not-base64@@", "image_url holds invalid base64 data"),
        ("data:image/png;base64,iVBORw0", "image_url holds invalid base64 data"),
        ("data:image/png;base64", "image_url is not a valid data: URL"),
        ("data:image/png;base64,", "image_url is an empty data: URL"),
    ],
)
def test_bad_data_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InputFetchError) as caught:
        fetch(url, GUARDED)
    assert caught.value.message.startswith(message)


def test_data_url_over_the_limit_is_refused() -> None:
    policy = FetchPolicy(max_bytes=100)
    fits = "data:;base64," + base64.b64encode(b"z" * 100).decode()
    assert fetch(fits, policy) == b"z" * 100
    too_big = "data:;base64," + base64.b64encode(b"z" * 101).decode()
    with pytest.raises(InputFetchError, match=r"^image_url is larger than 100 bytes$"):
        fetch(too_big, policy)


def test_client_passed_in_stays_open(server: Server) -> None:
    async def run() -> bool:
        async with httpx.AsyncClient() as client:
            fetcher = InputFetcher(PRIVATE_OK, client)
            await fetcher.fetch(f"{server.base}/image.png", what="image_url")
            await fetcher.aclose()
            return client.is_closed

    assert asyncio.run(run()) is False
