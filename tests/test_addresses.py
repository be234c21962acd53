"""The public-address test, address by address, against IANA's special-purpose registries.

Every answer here is the table's, the same on every Python version: ``is_global`` of the
running interpreter is never asked (on 3.11.7 it calls 192.0.0.8 global).
"""

from __future__ import annotations

import ipaddress

import pytest

from newsriver.ingest.addresses import describe, is_global
from newsriver.ingest.network import is_public


@pytest.mark.parametrize(
    ("address", "reachable", "kind"),
    [
        # IPv4: the special-purpose registry row by row
        ("0.0.0.0", False, "this network"),
        ("0.1.2.3", False, "this network"),
        ("10.255.0.1", False, "private-use"),
        ("100.64.0.1", False, "shared address space (carrier-grade NAT)"),
        ("100.127.255.254", False, "shared address space (carrier-grade NAT)"),
        ("127.0.0.2", False, "loopback"),
        ("169.254.169.254", False, "link-local"),  # cloud metadata
        ("172.31.255.255", False, "private-use"),
        ("192.0.0.1", False, "IPv4 service continuity prefix"),
        ("192.0.0.8", False, "IPv4 dummy address"),  # is_global on Python 3.11.7
        ("192.0.0.9", True, "port control protocol anycast"),
        ("192.0.0.10", True, "traversal using relays around NAT anycast"),
        ("192.0.0.170", False, "NAT64/DNS64 discovery"),
        ("192.0.0.171", False, "NAT64/DNS64 discovery"),
        ("192.0.0.200", False, "IETF protocol assignments"),
        ("192.0.2.1", False, "documentation (TEST-NET-1)"),
        ("192.31.196.1", True, "AS112-v4"),
        ("192.52.193.1", True, "AMT"),
        ("192.88.99.1", False, "deprecated 6to4 relay anycast"),
        ("192.168.0.1", False, "private-use"),
        ("192.175.48.1", True, "direct delegation AS112 service"),
        ("198.18.0.1", False, "benchmarking"),
        ("198.19.255.255", False, "benchmarking"),
        ("198.51.100.7", False, "documentation (TEST-NET-2)"),
        ("203.0.113.7", False, "documentation (TEST-NET-3)"),
        ("224.0.0.1", False, "multicast"),
        ("239.255.255.250", False, "multicast"),
        ("240.0.0.1", False, "reserved"),
        ("255.255.255.255", False, "limited broadcast"),
        # IPv4: ordinary unicast, including neighbours of the blocks above
        ("8.8.8.8", True, "public"),
        ("93.184.215.14", True, "public"),
        ("100.63.255.255", True, "public"),
        ("100.128.0.0", True, "public"),
        ("172.15.255.255", True, "public"),
        ("172.32.0.0", True, "public"),
        ("192.0.1.1", True, "public"),
        ("198.20.0.0", True, "public"),
        ("223.255.255.254", True, "public"),
        # IPv6
        ("::", False, "unspecified"),
        ("::1", False, "loopback"),
        ("::a00:1", False, "deprecated IPv4-compatible"),
        ("::ffff:10.0.0.1", False, "IPv4-mapped"),
        ("::ffff:0:0", False, "IPv4-mapped"),
        ("::ffff:8.8.8.8", False, "IPv4-mapped"),
        ("64:ff9b::808:808", True, "IPv4-IPv6 translation"),  # NAT64 of 8.8.8.8
        ("64:ff9b::a9fe:a9fe", False, "IPv4-IPv6 translation"),  # NAT64 of 169.254.169.254
        ("64:ff9b::7f00:1", False, "IPv4-IPv6 translation"),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::1", False, "local-use IPv4-IPv6 translation"),
        ("64:ff9b:1:ffff::808:808", False, "local-use IPv4-IPv6 translation"),
        ("100::1", False, "discard-only"),
        ("100:0:0:1::1", False, "dummy IPv6 prefix"),
        ("2001::1", False, "TEREDO"),
        ("2001:1::1", True, "port control protocol anycast"),
        ("2001:1::2", True, "traversal using relays around NAT anycast"),
        ("2001:1::3", True, "DNS-SD service registration protocol anycast"),
        ("2001:1::4", False, "IETF protocol assignments"),
        ("2001:2::1", False, "benchmarking"),
        ("2001:3::1", True, "AMT"),
        ("2001:4:112::1", True, "AS112-v6"),
        ("2001:10::1", False, "deprecated ORCHID"),
        ("2001:20::1", True, "ORCHIDv2"),
        ("2001:30::1", True, "drone remote ID protocol entity tags"),
        ("2001:db8::1", False, "documentation"),
        ("2002:a00:1::1", False, "6to4"),  # around 10.0.0.1
        ("2002:808:808::1", False, "6to4"),
        ("2620:4f:8000::1", True, "direct delegation AS112 service"),
        ("3fff::1", False, "documentation"),
        ("5f00::1", False, "segment routing (SRv6) SIDs"),
        ("fc00::1", False, "unique-local"),
        ("fd00:ec2::254", False, "unique-local"),  # AWS metadata over IPv6
        ("fe80::1", False, "link-local unicast"),
        ("ff02::1", False, "multicast"),
        # IPv6: global unicast outside the blocks, and space outside 2000::/3
        ("2606:4700::1111", True, "public"),
        ("2001:200::1", True, "public"),
        ("2001:4860:4860::8888", True, "public"),
        ("4000::1", False, "non-global"),
        ("1::1", False, "non-global"),
    ],
)
def test_each_address_as_the_registry_says(address: str, reachable: bool, kind: str) -> None:
    ip = ipaddress.ip_address(address)
    assert is_global(ip) is reachable
    assert is_public(ip) is reachable  # what fetches, redirects and imports ask
    assert describe(ip) == kind
