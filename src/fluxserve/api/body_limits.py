"""Request body caps and read deadlines, enforced while the body streams in.

A body over its route's cap is refused before it is read when Content-Length says so, and
otherwise as soon as the bytes counted so far pass the cap, so a hostile client never makes the
server buffer more than the cap. A body that trickles in (no chunk for a while, or the whole
body too slow) is cut off the same way. Both are answered in the API's error format."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fluxserve.api.errors import error_response
from fluxserve.catalog import API_MODELS
from fluxserve.errors import FluxServeError, PayloadTooLarge, RequestTimeout
from fluxserve.settings import Settings

# Routes whose JSON may carry input files inline as base64 data URLs, and how many (from the
# registry): each gets room for that many files of `max_input_bytes` beyond the plain JSON cap.
MEDIA_INPUTS: Mapping[str, int] = {
    e.path: e.inline_files for m in API_MODELS.values() for e in m.endpoints if e.inline_files
}
_DATA_URL_PREFIX_BYTES = 128  # "data:<media type>;base64," with room to spare


def data_url_bytes(file_bytes: int) -> int:
    """The longest data URL that can carry a file of `file_bytes` (base64: 4 bytes per 3)."""
    return 4 * -(-file_bytes // 3) + _DATA_URL_PREFIX_BYTES


def body_cap(settings: Settings, path: str) -> int:
    """The most bytes a request body to `path` may have."""
    files = MEDIA_INPUTS.get(path.rstrip("/"), 0)
    return settings.max_json_body_bytes + files * data_url_bytes(settings.max_input_bytes)


class BodyLimits:
    """ASGI middleware: the cap and deadlines above, for every HTTP request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(self.settings, scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await error_response(_too_large(cap))(scope, receive, send)
            return
        await self.app(scope, _GuardedReceive(receive, cap, self.settings), send)


class _GuardedReceive:
    """Counts body bytes and bounds the wait for each chunk and for the whole body. Only the
    body is guarded: once it is complete, a wait for disconnect may last as long as it likes."""

    def __init__(self, receive: Receive, cap: int, settings: Settings) -> None:
        self._receive = receive
        self._cap = cap
        self._idle_s = settings.http_body_idle_timeout_s
        self._deadline = time.monotonic() + settings.http_body_timeout_s
        self._seen = 0
        self._body_done = False

    async def __call__(self) -> Message:
        if self._body_done:
            return await self._receive()
        wait_s = min(self._idle_s, self._deadline - time.monotonic())
        try:
            async with asyncio.timeout(max(wait_s, 0.0)):
                message = await self._receive()
        except TimeoutError:
            raise RequestTimeout(
                "The request body arrived too slowly", title="Request Timeout"
            ) from None
        if message["type"] != "http.request":
            self._body_done = True
            return message
        self._seen += len(message.get("body", b""))
        if self._seen > self._cap:
            raise _too_large(self._cap)
        self._body_done = not message.get("more_body", False)
        return message


def _too_large(cap: int) -> FluxServeError:
    return PayloadTooLarge(
        f"The request body is larger than this endpoint's limit of {cap} bytes",
        title="Payload Too Large",
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses these before we ever see them
    return None
