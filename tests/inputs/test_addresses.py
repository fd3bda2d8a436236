import pytest

from fluxserve.inputs.addresses import is_public_address, parse_address


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "2002:a00:1::",  # 6to4 around 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(text: str) -> None:
    address = parse_address(text)
    assert address is not None
    assert not is_public_address(address)


@pytest.mark.parametrize("text", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(text: str) -> None:
    address = parse_address(text)
    assert address is not None
    assert is_public_address(address)


@pytest.mark.parametrize("text", ["example.com", "", "1.2.3", "::g"])
def test_host_names_are_not_addresses(text: str) -> None:
    assert parse_address(text) is None
