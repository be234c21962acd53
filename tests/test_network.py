"""Which addresses a fetch may reach: decided from resolved addresses given as data.

None of these addresses is ever connected to: they are only classified.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from newsriver.errors import FetchError
from newsriver.ingest.network import Network, Route, is_public


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", False),  # IPv4-mapped: not globally reachable (IANA), whatever it carries
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # reaches the local host on Linux
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:169.254.169.254", False),
        ("2002:a00:1::1", False),  # 6to4 around 10.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 around 169.254.169.254
        ("64:ff9b::808:808", True),  # NAT64 around 8.8.8.8
        ("::a00:1", False),  # deprecated IPv4-compatible form of 10.0.0.1
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def resolving(table: dict[str, Sequence[str]]) -> Network:
    return Network(resolve=lambda host, _port: table[host])


def test_a_chain_that_started_private_may_stay_private() -> None:
    route = Route(resolving({"intranet.example": ["10.0.0.7"]}))
    assert route.addresses("intranet.example", 80) == [ipaddress.ip_address("10.0.0.7")]


def test_once_public_the_chain_may_not_enter_private_space() -> None:
    network = resolving({"feeds.example": ["93.184.215.14"], "metadata.example": ["169.254.169.254"]})
    route = Route(network)
    (address,) = route.addresses("feeds.example", 80)
    route.reached(address)
    with pytest.raises(FetchError, match=r"metadata.example resolves to 169.254.169.254, a link-local address"):
        route.addresses("metadata.example", 80)


def test_one_private_address_among_public_ones_is_refused() -> None:
    network = resolving({"rebind.example": ["93.184.215.14", "127.0.0.1"]})
    with pytest.raises(FetchError, match=r"127\.0\.0\.1, a loopback address"):
        Route(network, public=True).addresses("rebind.example", 443)


def test_reaching_a_private_address_does_not_make_the_chain_public() -> None:
    route = Route(resolving({}))
    route.reached(ipaddress.ip_address("192.168.1.1"))
    assert not route.public
