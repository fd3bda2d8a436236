"""Fetching input media (image_url and kin) at submit time, so a bad URL is a 400 at once.

The SSRF guard (rules in fluxserve.netguard): unless the operator allows private URLs, every
hop's host is resolved here, refused if any of its addresses is not public, and the request is
then sent to the checked address itself (Host header and TLS SNI keep the name), so DNS cannot
answer differently between the check and the connection. Redirects are followed by hand for the
same reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import httpx

from fluxserve.errors import InputFetchError
from fluxserve.inputs.data_url import decode_data_url
from fluxserve.inputs.limits import too_large_message
from fluxserve.netguard import (
    IPAddress,
    Resolver,
    Route,
    first_non_public,
    parse_address,
    pinned_route,
    resolve_host,
    url_host_port,
)

__all__ = ["USER_AGENT", "FetchPolicy", "InputFetcher", "Resolver"]

USER_AGENT = "fluxserve-input-fetcher/1"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HTTP_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class FetchPolicy:
    """Limits on input fetching; `timeout_s` bounds the whole fetch, redirects included."""

    allow_private: bool = False
    max_bytes: int = 25 * 1024 * 1024
    timeout_s: float = 20.0
    max_redirects: int = 3


class InputFetcher:
    """Fetches the bytes behind http(s) and data: URLs under a FetchPolicy.

    Every failure is an InputFetchError whose message names the request field (`what`).
    A client passed in stays open on `aclose`; one made here is closed by it. A client passed
    in should not use a proxy when private URLs are refused, or the address check is moot.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        client: httpx.AsyncClient | None = None,
        *,
        resolver: Resolver | None = None,
    ) -> None:
        self._policy = policy
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=policy.timeout_s,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )
        self._resolve = resolver or resolve_host

    async def __aenter__(self) -> InputFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def fetch(self, url: str, *, what: str) -> bytes:
        """The bytes at `url`; `what` names the field in error messages, e.g. "image_url"."""
        scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
        if scheme == "data":
            return decode_data_url(url, what=what, max_bytes=self._policy.max_bytes)
        if scheme not in _HTTP_SCHEMES:
            raise InputFetchError(f"{what} must be an http(s) or data: URL")
        start = _parse_http_url(url, what)
        try:
            async with asyncio.timeout(self._policy.timeout_s):
                return await self._follow(start, what)
        except TimeoutError:
            raise InputFetchError(
                f"{what} could not be fetched: no complete answer within "
                f"{self._policy.timeout_s:g} s"
            ) from None

    async def _follow(self, url: httpx.URL, what: str) -> bytes:
        for _ in range(self._policy.max_redirects + 1):
            result = await self._fetch_hop(url, what)
            if isinstance(result, bytes):
                return result
            url = result
        raise InputFetchError(
            f"{what} could not be fetched: more than {self._policy.max_redirects} redirects"
        )

    async def _fetch_hop(self, url: httpx.URL, what: str) -> bytes | httpx.URL:
        routes = await self._routes(url, what)
        for index, route in enumerate(routes):
            try:
                return await self._get(route, url, what)
            except httpx.ConnectError as exc:
                if index == len(routes) - 1:
                    raise _transport_error(what, exc) from None
            except httpx.HTTPError as exc:
                raise _transport_error(what, exc) from None
        raise AssertionError("a hop always has at least one route")

    async def _routes(self, url: httpx.URL, what: str) -> list[Route]:
        if self._policy.allow_private:
            return [Route(url)]
        host, port = url_host_port(url, what=what)
        literal = parse_address(host)
        if literal is not None:
            _refuse_non_public([literal], what)
            return [Route(url)]
        addresses = await self._resolve_checked(host, port, what)
        return [pinned_route(url, address) for address in addresses]

    async def _resolve_checked(self, host: str, port: int, what: str) -> list[IPAddress]:
        try:
            resolved = await self._resolve(host, port)
        except OSError:
            raise InputFetchError(
                f"{what} could not be fetched: host '{host}' does not resolve"
            ) from None
        addresses = [address for text in resolved if (address := parse_address(text)) is not None]
        if not addresses:
            raise InputFetchError(f"{what} could not be fetched: host '{host}' has no address")
        _refuse_non_public(addresses, what)
        return addresses

    async def _get(self, route: Route, url: httpx.URL, what: str) -> bytes | httpx.URL:
        async with self._client.stream(
            "GET", route.url, headers=route.headers, extensions=route.extensions
        ) as response:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                return _redirect_target(url, location, what)
            if not response.is_success:
                raise InputFetchError(f"{what} could not be fetched: HTTP {response.status_code}")
            return await self._read_body(response, what)

    async def _read_body(self, response: httpx.Response, what: str) -> bytes:
        limit = self._policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise InputFetchError(too_large_message(what, limit))
        body = bytearray()
        # Decoded bytes are counted, so a compressed bomb stops at the limit too.
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise InputFetchError(too_large_message(what, limit))
        if not body:
            raise InputFetchError(f"{what} could not be fetched: the server sent no data")
        return bytes(body)


def _parse_http_url(url: str, what: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        raise InputFetchError(f"{what} is not a valid URL") from None
    if parsed.scheme not in _HTTP_SCHEMES:
        raise InputFetchError(f"{what} must be an http(s) or data: URL")
    if not parsed.raw_host:
        raise InputFetchError(f"{what} is not a valid URL: it names no host")
    return parsed


def _redirect_target(url: httpx.URL, location: str, what: str) -> httpx.URL:
    try:
        target = url.join(location)
    except httpx.InvalidURL:
        raise InputFetchError(f"{what} redirects to an invalid URL") from None
    if target.scheme not in _HTTP_SCHEMES or not target.raw_host:
        raise InputFetchError(f"{what} redirects to a URL that is not http(s)")
    return target


def _refuse_non_public(addresses: Sequence[IPAddress], what: str) -> None:
    # Input URLs keep their own wording: it names the CLI flag that lifts the refusal.
    refused = first_non_public(addresses)
    if refused is not None:
        raise InputFetchError(
            f"{what} resolves to a private address ({refused}); fluxserve refuses to fetch "
            "loopback, private and link-local addresses unless started with --allow-private-urls"
        )


def _transport_error(what: str, exc: httpx.HTTPError) -> InputFetchError:
    if isinstance(exc, httpx.TimeoutException):
        return InputFetchError(f"{what} could not be fetched: timed out")
    if isinstance(exc, httpx.ConnectError):
        return InputFetchError(f"{what} could not be fetched: connection failed")
    reason = str(exc) or type(exc).__name__
    return InputFetchError(f"{what} could not be fetched: {reason}")
