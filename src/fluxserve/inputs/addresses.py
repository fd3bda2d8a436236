"""Which network addresses an input fetch may reach (the SSRF guard's rule)."""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """The IP address written in `text` (an IPv6 zone such as `%eth0` is dropped), else None."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses.

    IPv6 forms that carry an IPv4 address inside them (mapped, 6to4, Teredo) are judged by
    that IPv4 address as well, since they can route to it.
    """
    if not _is_public_single(address):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        return all(_is_public_single(inner) for inner in embedded if inner is not None)
    return True


def _is_public_single(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
