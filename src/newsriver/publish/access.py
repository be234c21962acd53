"""Who may read the operational endpoints, ``/metrics`` and ``/healthz``.

They say how many sources fail and when the last publish ran: the operator's business,
not every reader's (Miniflux's ``METRICS_ALLOWED_NETWORKS`` likewise). The client is the
peer of the connection; a reverse proxy's ``X-Forwarded-For`` is believed only when that
peer is one of ``settings.trusted_proxies``, since anyone can send the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsriver.config.schema import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ADMIN_PATHS = frozenset({"/metrics", "/healthz"})
LOOPBACK = (ipaddress.IPv4Network("127.0.0.1/32"), ipaddress.IPv6Network("::1/128"))


def parse_address(text: str) -> IPAddress | None:
    """An address as a peer or a forwarding header writes it; IPv4-mapped IPv6 as IPv4."""
    text = text.strip().strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True, slots=True)
class AdminAccess:
    networks: Sequence[IPNetwork] = LOOPBACK  # settings.admin_networks
    proxies: Sequence[IPNetwork] = ()  # settings.trusted_proxies

    @classmethod
    def of(cls, settings: Settings) -> AdminAccess:
        return cls(tuple(settings.admin_networks), tuple(settings.trusted_proxies))

    def client(self, environ: Mapping[str, Any]) -> IPAddress | None:
        """The client's address: the peer, or what trusted proxies say they forwarded for."""
        peer = parse_address(str(environ.get("REMOTE_ADDR", "")))
        if peer is None or not self._trusted(peer):
            return peer
        # Each proxy appends the address it received from: read right to left, past our own
        # proxies; the first address not among them is the client.
        hops = [h for h in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
        client = peer
        for hop in reversed(hops):
            ip = parse_address(hop)
            if ip is None:
                return None  # a mangled chain identifies nobody
            client = ip
            if not self._trusted(ip):
                break
        return client

    def allows(self, environ: Mapping[str, Any]) -> bool:
        client = self.client(environ)
        return client is not None and any(client in network for network in self.networks)

    def _trusted(self, ip: IPAddress) -> bool:
        return any(ip in network for network in self.proxies)
