"""Fetching article pages politely, for full text (``full_text`` sources).

newsriver republishes what it fetches here, so it asks as a crawler should: with its own
honest User-Agent (``fetch.USER_AGENT``), only where the site's ``robots.txt`` allows it
(read once a day per site, kept across passes), one request at a time per site with ``spacing`` between
requests, and not at all for the rest of a pass once a site answered with Retry-After.
Every request goes through ``fetch`` (its limits, its address rules, the source's
credentials only on the source's own origin).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from newsriver.errors import FetchError
from newsriver.ingest.credentials import RequestSettings
from newsriver.ingest.fetch import FetchLimits, fetch
from newsriver.ingest.network import Network
from newsriver.models import FetchState
from newsriver.urls import origin_of

ROBOTS_AGENT = "newsriver"  # the token robots.txt rules name newsriver by
ROBOTS_FOR = 24 * 3600.0  # seconds a site's robots.txt is trusted
ROBOTS_MAX_BYTES = 512 * 1024  # Google reads no more of one either
HTML_TYPES = ("text/html", "application/xhtml+xml")
T = TypeVar("T")
log = logging.getLogger(__name__)
# robots.txt by origin, with when it was read: kept across passes for ROBOTS_FOR.
_ROBOTS: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None]] = {}
_ROBOTS_LOCK = threading.Lock()


class PageResult(StrEnum):
    """What came of one page; the stored and counted result names."""

    EXTRACTED = "extracted"  # its article replaced the teaser
    KEPT_TEASER = "kept_teaser"  # fetched, but no article longer than the teaser was found
    REFUSED = "refused"  # robots.txt disallows it
    FAILED = "failed"  # not fetched: an error, not HTML, over the size cap, or the site said wait


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched HTML page, or why there is none (``refused``, ``error``)."""

    url: str  # where it was finally answered from
    body: bytes = b""
    refused: bool = False
    error: str = ""


@dataclass(slots=True)
class _Site:
    """One origin's turn-taking: its lock is held through a request and the spacing after it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = float("-inf")  # time.monotonic() when its last request ended
    wait_until: float = float("-inf")  # Retry-After: no request before then


class Pages:
    """The page fetcher of a pass (shared by its page threads)."""

    def __init__(self, limits: FetchLimits, network: Network, spacing: float, max_bytes: int) -> None:
        self._limits = FetchLimits(
            connect_timeout=limits.connect_timeout,
            read_timeout=limits.read_timeout,
            deadline=limits.deadline,
            max_bytes=max_bytes,
            max_redirects=limits.max_redirects,
        )
        self._robots_limits = FetchLimits(
            limits.connect_timeout, limits.read_timeout, limits.deadline, ROBOTS_MAX_BYTES, limits.max_redirects
        )
        self._network = network
        self._spacing = spacing
        self._sites: dict[str, _Site] = {}
        self._lock = threading.Lock()

    def get(self, url: str, public: bool, request: RequestSettings | None) -> Page:
        """The page at ``url``, if its site's robots.txt allows newsriver to fetch it; a
        redirect to another site needs that site's leave as well."""
        site = self._site(url)
        with site.lock:
            if time.monotonic() < site.wait_until:
                return Page(url, error="the site asked to be left alone (Retry-After)")
            if not self._allowed(site, url, public):
                return Page(url, refused=True)
            try:
                state = FetchState(url, public=public)
                result = self._spaced(site, lambda: fetch(state, self._limits, self._network, request))
            except FetchError as exc:
                if exc.status in (429, 503) and "retry-after" in exc.headers:
                    site.wait_until = time.monotonic() + _seconds(exc.headers["retry-after"])
                return Page(url, error=str(exc))
        if origin_of(result.url) != origin_of(url) and not self.allows(result.url, public):
            return Page(result.url, refused=True)
        content_type = result.content_type.split(";")[0].strip().lower()
        if content_type not in HTML_TYPES:
            return Page(result.url, error=f"not an HTML page: {content_type or 'no content type'}")
        return Page(result.url, body=result.body or b"")

    def allows(self, url: str, public: bool) -> bool:
        """Whether robots.txt of ``url``'s site lets newsriver fetch it (read if not known)."""
        site = self._site(url)
        with site.lock:
            return self._allowed(site, url, public)

    def _site(self, url: str) -> _Site:
        with self._lock:
            return self._sites.setdefault(origin_of(url), _Site())

    def _allowed(self, site: _Site, url: str, public: bool) -> bool:
        origin = origin_of(url)
        with _ROBOTS_LOCK:
            read_at, rules = _ROBOTS.get(origin, (float("-inf"), None))
        if time.monotonic() - read_at > ROBOTS_FOR:
            try:
                rules = self._spaced(site, lambda: _robots(origin, public, self._robots_limits, self._network))
            except FetchError as exc:
                # Cannot be read now: everything is refused for this pass, and asked again the next.
                log.info("robots.txt of %s: %s", origin, exc)
                return False
            with _ROBOTS_LOCK:
                _ROBOTS[origin] = (time.monotonic(), rules)
        return rules is None or rules.can_fetch(ROBOTS_AGENT, url)

    def _spaced(self, site: _Site, request: Callable[[], T]) -> T:
        """``request`` made ``spacing`` after the site's last one ended (the caller holds its lock)."""
        pause = site.last + self._spacing - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        try:
            return request()
        finally:
            site.last = time.monotonic()


def _robots(
    origin: str, public: bool, limits: FetchLimits, network: Network
) -> urllib.robotparser.RobotFileParser | None:
    """The site's rules; None (all allowed) when it has no robots.txt (a 4xx answer)."""
    try:
        result = fetch(FetchState(origin + "/robots.txt", public=public), limits, network)
    except FetchError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            return None
        raise
    parser = urllib.robotparser.RobotFileParser()
    parser.parse((result.body or b"").decode("utf-8", "replace").splitlines())
    return parser


def _seconds(retry_after: str) -> float:
    """Seconds a Retry-After asks for; an HTTP date counts as an hour (the pass ends sooner)."""
    value = retry_after.strip()
    return float(value) if value.isdigit() else 3600.0
