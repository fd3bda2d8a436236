"""Connection-level limits for uvicorn: a deadline for each request's headers, and a hard cap
on open connections.

uvicorn bounds idle keep-alive connections but not a client that opens a connection and then
sends its headers a byte at a time (slowloris): such a connection is held forever. The
protocol below closes any connection whose request headers are not complete within
`http_header_timeout_s` of the connection opening, or of the first byte of the next request on
a kept-alive connection. Slow bodies are bounded by `fluxserve.api.body_limits`."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fluxserve.api.access_log import log_config
from fluxserve.settings import Settings


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a connection cap."""

    header_timeout_s: float = 10.0
    max_connections: int = 2048
    # The request line and headers together; httptools itself has no limit.
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        if len(self.connections) > self.max_connections:
            # Over the cap: refuse at once rather than queue work behind the others.
            self.transport.close()
            return
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._header_deadline is None:
            self._arm_header_deadline()

    def on_url(self, url: bytes) -> None:
        if self._within_header_cap(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._within_header_cap(len(name) + len(value)):
            super().on_header(name, value)

    def _within_header_cap(self, size: int) -> bool:
        if self.transport.is_closing():
            return False
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            self.send_400_response("Request headers too large.")
            return False
        return True

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        if not self.transport.is_closing():  # not after a refusal above
            super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers came too slowly")
            self.transport.close()


def guarded_protocol(settings: Settings) -> type[GuardedHttpProtocol]:
    """The protocol class for uvicorn's `http=` option, with this server's limits."""
    return type(
        "ConfiguredHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "header_timeout_s": settings.http_header_timeout_s,
            "max_connections": settings.http_max_connections,
        },
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` that bound what slow or numerous clients hold."""
    return {
        "http": guarded_protocol(settings),
        "log_config": log_config(),
        "timeout_keep_alive": settings.http_keep_alive_s,
        "limit_concurrency": settings.http_limit_concurrency,
    }
