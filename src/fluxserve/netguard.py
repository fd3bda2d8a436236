"""Server-side request forgery guard for every URL a client gives us (input images, datasets,
webhooks): which addresses may be reached, and how to reach exactly the address checked.

A host is refused when any address it resolves to is not public: loopback, private (RFC 1918,
unique-local), link-local (cloud metadata lives at 169.254.169.254), carrier-grade NAT,
multicast, reserved, unspecified, IPv6 site-local, or an IPv6 form that embeds such an IPv4
address (mapped, 6to4, Teredo, NAT64 64:ff9b::/96). Every address is checked, not only the
first, because a client controls its own DNS records.
Operators who want to reach their own network set ``allow_private_urls``.

Checking a name and letting the HTTP client resolve it again would leave a window for DNS
rebinding, so async callers take the checked addresses from `checked_addresses` and send the
request to one of them with `pinned_route` (the Host header and TLS SNI keep the name).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import httpx

from fluxserve.errors import InputFetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Given a host name and port, the IP addresses it resolves to (raises OSError if none)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_address(text: str) -> IPAddress | None:
    """The IP address written in `text` (an IPv6 zone such as `%eth0` is dropped), else None."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host names without any DNS lookup: standard IPv4 or IPv6 text, or
    one of the legacy IPv4 spellings that resolvers accept (`2130706433`, `0x7f.1`, `127.1`,
    octal parts), which the `ipaddress` module does not read but a connection would."""
    address = parse_address(host)
    if address is not None:
        return address
    if not host or not all(ch in "0123456789abcdefxABCDEFX." for ch in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def refuse_private_literal(url: str, *, allow_private: bool, what: str) -> None:
    """Accept-time check that needs no DNS: raise InputFetchError when `url`'s host is a
    non-public IP address in any spelling, or a `localhost` name (RFC 6761: always loopback).
    Names that need resolving are checked when they are used, since DNS answers change."""
    host, _ = url_host_port(url, what=what)
    if allow_private:
        return
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        refuse_private_addresses(
            host, [ipaddress.IPv4Address("127.0.0.1")], allow_private=False, what=what
        )
    address = literal_address(host)
    if address is not None:
        refuse_private_addresses(host, [address], allow_private=False, what=what)


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses.

    IPv6 forms that carry an IPv4 address inside them (mapped, 6to4, Teredo, NAT64) are
    judged by that IPv4 address as well, since they can route to it."""
    if not _is_public_single(address):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        nat64 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        embedded = [address.ipv4_mapped, address.sixtofour, nat64, *(address.teredo or ())]
        return all(_is_public_single(inner) for inner in embedded if inner is not None)
    return True


def _is_public_single(address: IPAddress) -> bool:
    # Deprecated IPv6 site-local (fec0::/10) still counts as global to the ipaddress module.
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or site_local
    )


def first_non_public(addresses: Iterable[IPAddress]) -> IPAddress | None:
    """The first of `addresses` that `is_public_address` refuses, or None if all are public."""
    return next((address for address in addresses if not is_public_address(address)), None)


def refuse_private_addresses(
    host: str, addresses: Sequence[IPAddress], *, allow_private: bool, what: str
) -> None:
    """Raise InputFetchError if `host` has no address, or (unless `allow_private`) if any of
    its `addresses` is not public. `what` names the URL in the message, e.g. "webhook URL"."""
    if not addresses:
        raise InputFetchError(f"{what} refused: host '{host}' has no IP address")
    if allow_private:
        return
    refused = first_non_public(addresses)
    if refused is not None:
        raise InputFetchError(
            f"{what} refused: host '{host}' resolves to a non-public address ({refused});"
            " loopback, private and link-local addresses are refused unless the operator"
            " allows private URLs"
        )


async def resolve_host(host: str, port: int) -> list[str]:
    """Resolve with the system resolver, in a thread so the event loop never blocks on DNS."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def url_host_port(url: str | httpx.URL, *, what: str) -> tuple[str, int]:
    """The (IDNA-encoded) host and the port that an http(s) `url` connects to."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise InputFetchError(f"{what} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise InputFetchError(f"{what} must be an http(s) URL with a host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.raw_host.decode("ascii"), port


async def checked_addresses(
    url: str | httpx.URL,
    *,
    allow_private: bool,
    what: str,
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """Resolve `url`'s host without blocking the event loop and return its addresses, every one
    of them checked. Raises InputFetchError for a malformed or refused URL; a DNS failure
    propagates as OSError, since whether it is the client's fault depends on the caller."""
    host, port = url_host_port(url, what=what)
    literal = parse_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        resolved = await (resolver or resolve_host)(host, port)
        addresses = [a for text in resolved if (a := parse_address(text)) is not None]
    refuse_private_addresses(host, addresses, allow_private=allow_private, what=what)
    return addresses


@dataclass(frozen=True)
class Route:
    """Where a request for a URL actually goes: `url` names the checked IP address, while
    `headers` (Host) and `extensions` (TLS SNI) keep the original name."""

    url: httpx.URL
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


def pinned_route(url: httpx.URL, address: IPAddress) -> Route:
    """Send a request for `url` to `address`; certificate checks still use the URL's name."""
    host = url.raw_host.decode("ascii")
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return Route(
        url=url.copy_with(host=str(address)),
        headers={"Host": url.netloc.decode("ascii")},
        extensions=extensions,
    )
