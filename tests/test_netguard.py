"""The shared SSRF guard: which addresses are public, and how hosts are checked and pinned."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest

from fluxserve.errors import InputFetchError
from fluxserve.netguard import (
    Resolver,
    checked_addresses,
    first_non_public,
    is_public_address,
    literal_address,
    parse_address,
    pinned_route,
    refuse_private_literal,
)


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",  # reserved
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "fec0::1",  # deprecated site-local
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "2002:a00:1::",  # 6to4 around 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64
        "ff02::1",
    ],
)
def test_non_public_addresses(text: str) -> None:
    address = parse_address(text)
    assert address is not None
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "text",
    [
        "93.184.215.14",
        "8.8.8.8",
        "2606:4700::6810:85e5",
        "2002:808:808::1",  # 6to4 around 8.8.8.8
    ],
)
def test_public_addresses(text: str) -> None:
    address = parse_address(text)
    assert address is not None
    assert is_public_address(address)


@pytest.mark.parametrize("text", ["example.com", "", "1.2.3", "::g"])
def test_parse_address_rejects_names_and_malformed_text(text: str) -> None:
    assert parse_address(text) is None


def test_first_non_public_names_the_first_refused_address() -> None:
    texts = ["8.8.8.8", "::ffff:10.0.0.1", "127.0.0.1"]
    addresses = [a for text in texts if (a := parse_address(text)) is not None]
    assert str(first_non_public(addresses)) == "::ffff:a00:1"
    assert first_non_public(addresses[:1]) is None


def _resolver(answers: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    return resolve


def test_checked_addresses_refuses_if_any_answer_is_private() -> None:
    resolver = _resolver({"mixed.example": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(InputFetchError, match=r"non-public address \(10\.0\.0\.5\)"):
        asyncio.run(
            checked_addresses(
                "https://mixed.example/h",
                allow_private=False,
                what="webhook URL",
                resolver=resolver,
            )
        )


def test_checked_addresses_returns_every_public_answer() -> None:
    resolver = _resolver({"ok.example": ["93.184.215.14", "2606:4700::6810:85e5"]})
    found = asyncio.run(
        checked_addresses(
            "https://ok.example/h", allow_private=False, what="webhook URL", resolver=resolver
        )
    )
    assert [str(a) for a in found] == ["93.184.215.14", "2606:4700::6810:85e5"]


def test_checked_addresses_lets_dns_failure_through_as_oserror() -> None:
    with pytest.raises(OSError, match="no such host"):
        asyncio.run(
            checked_addresses(
                "https://gone.example/h",
                allow_private=False,
                what="webhook URL",
                resolver=_resolver({}),
            )
        )


def test_pinned_route_keeps_the_name_for_host_and_sni() -> None:
    address = parse_address("93.184.215.14")
    assert address is not None
    route = pinned_route(httpx.URL("https://hooks.example.com:8443/cb?x=1"), address)
    assert str(route.url) == "https://93.184.215.14:8443/cb?x=1"
    assert route.headers == {"Host": "hooks.example.com:8443"}
    assert route.extensions == {"sni_hostname": "hooks.example.com"}
    plain = pinned_route(httpx.URL("http://hooks.example.com/cb"), address)
    assert plain.extensions == {}
    assert plain.headers == {"Host": "hooks.example.com"}


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1:8080/",
        "http://017700000001/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://169.254.169.254/",
        "http://LOCALHOST./",
        "http://api.localhost/",
    ],
)
def test_non_public_literals_are_refused_without_dns(url: str) -> None:
    with pytest.raises(InputFetchError, match="non-public"):
        refuse_private_literal(url, allow_private=False, what="webhook URL")
    refuse_private_literal(url, allow_private=True, what="webhook URL")


def test_names_and_public_literals_pass_the_literal_check() -> None:
    for url in ("http://93.184.216.34/", "https://hooks.example.com/x", "http://cafe.example/"):
        refuse_private_literal(url, allow_private=False, what="webhook URL")
    assert literal_address("hooks.example.com") is None
