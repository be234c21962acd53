"""Which addresses a fetch may reach.

The administrator may point a source at a loopback or private address on purpose. What a
public server sends us to — a redirect, a discovered feed link — must stay public, or a
hostile feed could make newsriver read 169.254.169.254 (cloud credentials) or an
intranet page and republish it. Names are checked after DNS resolution, and the fetch
connects to exactly the addresses checked, so DNS rebinding cannot slip past.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsriver.errors import FetchError
from newsriver.ingest import addresses

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


def is_public(ip: IPAddress) -> bool:
    """True for globally reachable unicast addresses (IANA's table, see ``addresses``)."""
    return addresses.is_global(ip)


def kind(ip: IPAddress) -> str:
    """A word for the operator: what sort of non-public address this is."""
    return addresses.describe(ip)


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Network:
    """How names resolve and which addresses count as public; tests replace both."""

    resolve: Resolver = resolve
    is_public: Callable[[IPAddress], bool] = is_public


class Route:
    """The addresses one chain of requests (redirects, discovery) has been through.

    Once the chain has reached a public address, every later hop must resolve to public
    addresses only.
    """

    def __init__(self, network: Network, public: bool = False) -> None:
        self.network = network
        self.public = public

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses ``host`` may be reached at now; FetchError when one is off limits."""
        found = [ipaddress.ip_address(a) for a in self.network.resolve(host, port)]
        if not found:
            raise FetchError(f"cannot resolve {host}: no addresses")
        if self.public:
            for ip in found:
                if not self.network.is_public(ip):
                    raise FetchError(
                        f"refused: {host} resolves to {ip}, a {kind(ip)} address, and was reached from a public one"
                    )
        return found

    def allows(self, ip: IPAddress) -> bool:
        """Whether this route may reach ``ip`` (a kept connection's address, vetted when it was opened)."""
        return not self.public or self.network.is_public(ip)

    def reached(self, ip: IPAddress) -> None:
        self.public = self.public or self.network.is_public(ip)
