"""The `Idempotency-Key` header (Stripe's semantics) on every submit route.

A middleware notes the header and keeps a copy of the body as the route reads it; the one place
every submission passes through (`Intake.submit`) then asks `current_request()` for the key and
the request's fingerprint. A context variable carries them there, so no route needs to thread
them through: a route added later gets idempotency without knowing of it.

The fingerprint is a SHA-256 of the method, the path and the body: JSON in a canonical form
(key order and spacing do not count), multipart with its random boundary taken out (a client
retrying an upload draws a new one)."""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fluxserve.errors import InvalidRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


@dataclass
class IdempotentRequest:
    """One request's `Idempotency-Key` and its body as read so far."""

    key: str
    method: str
    path: str
    content_type: str
    body: bytearray = field(default_factory=bytearray)
    replayed: bool = False

    def checked_key(self) -> str:
        """The key, or InvalidRequest when it is empty, too long or not printable ASCII."""
        key = self.key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
            raise InvalidRequest(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
            )
        return key

    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"{self.method} {self.path}\n".encode())
        digest.update(_canonical_body(self.content_type, bytes(self.body)))
        return digest.hexdigest()


_CURRENT: ContextVar[IdempotentRequest | None] = ContextVar("fluxserve_idempotency", default=None)


def current_request() -> IdempotentRequest | None:
    """The `Idempotency-Key` of the request being handled, or None."""
    return _CURRENT.get()


def _canonical_body(content_type: str, body: bytes) -> bytes:
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower().startswith("multipart/"):
        boundary = _boundary(params)
        return body.replace(boundary.encode("latin-1"), b"") if boundary else body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


def _boundary(params: str) -> str | None:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"')
    return None


class IdempotencyKeys:
    """ASGI middleware: see the module's docstring. Answers that replay an earlier request
    carry `Idempotent-Replayed: true`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or scope["method"] != "POST" or HEADER not in headers:
            await self.app(scope, receive, send)
            return
        request = IdempotentRequest(
            key=headers[HEADER],
            method=scope["method"],
            path=scope["path"],
            content_type=headers.get("content-type", ""),
        )

        async def copying_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.body.extend(message.get("body", b""))
            return message

        async def marking_send(message: Message) -> None:
            if message["type"] == "http.response.start" and request.replayed:
                extra = [(REPLAYED_HEADER.lower().encode(), b"true")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        token = _CURRENT.set(request)
        try:
            await self.app(scope, copying_receive, marking_send)
        finally:
            _CURRENT.reset(token)
