"""What a private source sends with its requests, and to whom.

``auth`` (basic or bearer), ``headers`` and ``user_agent`` of a source, and userinfo in its
URL (as basic auth), go only to the source's own origin (scheme, host, port). A redirect
to another origin, or a feed discovered on one, gets none of them, as browsers and curl
do: otherwise any server a feed redirects to could collect the credential. The one
exception is the upgrade of ``http://host`` to ``https://host`` on the default ports,
which moves the credential to a safer channel on the same server.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from newsriver.urls import origin_of

if TYPE_CHECKING:
    from newsriver.config.schema import SourceConfig


@dataclass(frozen=True, slots=True)
class RequestSettings:
    """A source's request headers and the one origin they may be sent to."""

    origin: str
    headers: tuple[tuple[str, str], ...]  # Authorization, the configured headers, User-Agent

    def apply(self, headers: dict[str, str], url: str) -> dict[str, str]:
        """``headers`` (newsriver's own) with the source's on top, if ``url`` may receive them."""
        if not may_receive(self.origin, url):
            return headers
        return _merged(headers, dict(self.headers))


def _merged(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    # Header names are case-insensitive: "user-agent" replaces "User-Agent", never joins it.
    replaced = {name.lower() for name in extra}
    return {k: v for k, v in base.items() if k.lower() not in replaced} | extra


def may_receive(origin: str, url: str) -> bool:
    """Whether ``url`` is on ``origin``, or is its upgrade from http to https."""
    target = origin_of(url)
    if not origin or not target:
        return False
    if target == origin:
        return True
    host = origin.removeprefix("http://").removesuffix(":80")
    return origin.startswith("http://") and origin.endswith(":80") and target == f"https://{host}:443"


def basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def for_source(source: SourceConfig) -> RequestSettings | None:
    """What ``source`` sends with its requests; None when it sends nothing of its own."""
    headers: dict[str, str] = {}
    try:
        parts = urlsplit(source.url)
        username, password = parts.username, parts.password
    except ValueError:
        username = password = None
    if source.auth is not None and source.auth.basic is not None:
        headers["Authorization"] = basic(source.auth.basic.username, source.auth.basic.password)
    elif source.auth is not None and source.auth.bearer is not None:
        headers["Authorization"] = f"Bearer {source.auth.bearer}"
    elif username is not None:
        headers["Authorization"] = basic(unquote(username), unquote(password or ""))
    if source.user_agent:
        headers["User-Agent"] = source.user_agent
    headers = _merged(dict(source.headers), headers)  # auth and user_agent win over headers
    if not headers:
        return None
    return RequestSettings(origin_of(source.url), tuple(headers.items()))


def discovery_stays_public(source: SourceConfig, page_url: str, feed_url: str) -> bool:
    """Whether a feed discovered on ``page_url`` must be on public addresses only.

    The operator chose the source's page, not what it links to: a feed on another origin
    may not reach into private address space unless the source says ``allow_private: true``.
    """
    return source.allow_private is not True and origin_of(page_url) != origin_of(feed_url)


def public_only(source: SourceConfig) -> bool:
    """Whether every fetch of ``source`` must stay on public addresses: an imported source
    (import-opml writes ``allow_private: false``) was not vetted by the operator's hand."""
    return source.allow_private is False
