"""Which IP addresses are globally reachable, from IANA's special-purpose address registries.

``ipaddress.is_global`` changed between Python releases (on 3.11.7 ``192.0.0.8`` counts as
global; the local-use NAT64 prefix ``64:ff9b:1::/48`` is global before 3.12.4), so what a
fetch may reach would depend on the interpreter. This table is the registries' own
"Globally Reachable" column, copied once, so the answer is the same everywhere:
https://www.iana.org/assignments/iana-ipv4-special-registry and
https://www.iana.org/assignments/iana-ipv6-special-registry (both as of 2025), plus the
multicast and future-use blocks of the IPv4 address space, which are not unicast at all.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Block:
    network: IPNetwork
    name: str  # the registry's name, shown to the operator when an address is refused
    reachable: bool  # the registry's "Globally Reachable"; False also where it says N/A


def _blocks(rows: str) -> tuple[Block, ...]:
    blocks = []
    for row in rows.strip().splitlines():
        prefix, reachable, name = row.split(maxsplit=2)
        blocks.append(Block(ipaddress.ip_network(prefix), name, reachable == "yes"))
    return tuple(blocks)


# prefix, globally reachable, name. Where a block sits inside another (192.0.0.9 in
# 192.0.0.0/24), the longest prefix decides.
SPECIAL_IPV4 = _blocks("""
0.0.0.0/8 no this network
10.0.0.0/8 no private-use
100.64.0.0/10 no shared address space (carrier-grade NAT)
127.0.0.0/8 no loopback
169.254.0.0/16 no link-local
172.16.0.0/12 no private-use
192.0.0.0/24 no IETF protocol assignments
192.0.0.0/29 no IPv4 service continuity prefix
192.0.0.8/32 no IPv4 dummy address
192.0.0.9/32 yes port control protocol anycast
192.0.0.10/32 yes traversal using relays around NAT anycast
192.0.0.170/32 no NAT64/DNS64 discovery
192.0.0.171/32 no NAT64/DNS64 discovery
192.0.2.0/24 no documentation (TEST-NET-1)
192.31.196.0/24 yes AS112-v4
192.52.193.0/24 yes AMT
192.88.99.0/24 no deprecated 6to4 relay anycast
192.168.0.0/16 no private-use
192.175.48.0/24 yes direct delegation AS112 service
198.18.0.0/15 no benchmarking
198.51.100.0/24 no documentation (TEST-NET-2)
203.0.113.0/24 no documentation (TEST-NET-3)
224.0.0.0/4 no multicast
240.0.0.0/4 no reserved
255.255.255.255/32 no limited broadcast
""")
SPECIAL_IPV6 = _blocks("""
::/128 no unspecified
::1/128 no loopback
::/96 no deprecated IPv4-compatible
::ffff:0:0/96 no IPv4-mapped
64:ff9b::/96 yes IPv4-IPv6 translation
64:ff9b:1::/48 no local-use IPv4-IPv6 translation
100::/64 no discard-only
100:0:0:1::/64 no dummy IPv6 prefix
2001::/23 no IETF protocol assignments
2001::/32 no TEREDO
2001:1::1/128 yes port control protocol anycast
2001:1::2/128 yes traversal using relays around NAT anycast
2001:1::3/128 yes DNS-SD service registration protocol anycast
2001:2::/48 no benchmarking
2001:3::/32 yes AMT
2001:4:112::/48 yes AS112-v6
2001:10::/28 no deprecated ORCHID
2001:20::/28 yes ORCHIDv2
2001:30::/28 yes drone remote ID protocol entity tags
2001:db8::/32 no documentation
2002::/16 no 6to4
2620:4f:8000::/48 yes direct delegation AS112 service
3fff::/20 no documentation
5f00::/16 no segment routing (SRv6) SIDs
fc00::/7 no unique-local
fe80::/10 no link-local unicast
ff00::/8 no multicast
""")
# Outside every special block, an IPv6 address is global only in the global unicast space.
GLOBAL_UNICAST_IPV6 = ipaddress.IPv6Network("2000::/3")
# Translation prefixes that are reachable when the IPv4 address they carry is: the table
# says 64:ff9b::/96 is global, but 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
_CARRIES_IPV4 = ipaddress.IPv6Network("64:ff9b::/96")


def block_of(ip: IPAddress) -> Block | None:
    """The most specific special-purpose block holding ``ip``; None for ordinary unicast."""
    table = SPECIAL_IPV4 if ip.version == 4 else SPECIAL_IPV6
    found = [block for block in table if ip in block.network]
    return max(found, key=lambda block: block.network.prefixlen, default=None)


# Asked at every request (a kept connection's address against its route), and the table holds
# about 60 blocks: about a tenth of the CPU of a 304 exchange, for the same few addresses.
@functools.lru_cache(maxsize=4096)
def is_global(ip: IPAddress) -> bool:
    """True when ``ip`` is globally reachable unicast, whatever the Python version."""
    block = block_of(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _CARRIES_IPV4:
            return is_global(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if block is None:
            return ip in GLOBAL_UNICAST_IPV6
    return block is None or block.reachable


def describe(ip: IPAddress) -> str:
    """What sort of address ``ip`` is, in the registry's words ("loopback", "link-local", …)."""
    block = block_of(ip)
    if block is not None:
        return block.name
    return "public" if is_global(ip) else "non-global"
