"""WebSub publisher: tell each hub which feeds changed, so subscribers hear at once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import requests

from newsriver.ingest.fetch import USER_AGENT

log = logging.getLogger(__name__)


def ping(
    hubs: Sequence[str],
    feed_urls: Sequence[str],
    attempts: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[tuple[str, str]]:
    """POST ``hub.mode=publish&hub.url=URL`` to every hub for every changed feed.

    Returns the (hub, url) pairs no attempt got through. A failing hub is retried with
    exponential backoff, then logged; it never raises, because a hub being down must not
    stop publishing. One URL per request: not every hub takes several.
    """
    failed = []
    for hub in hubs:
        for url in feed_urls:
            reason = _post(hub, url, attempts, backoff, sleep)
            if reason:
                log.warning("websub: hub %s refused %s after %d attempts: %s", hub, url, attempts, reason)
                failed.append((hub, url))
    return failed


def _post(hub: str, url: str, attempts: int, backoff: float, sleep: Callable[[float], None]) -> str:
    """Empty when the hub took the ping, else why the last attempt failed."""
    reason = ""
    for attempt in range(attempts):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            response = requests.post(
                hub,
                data={"hub.mode": "publish", "hub.url": url},
                headers={"User-Agent": USER_AGENT},
                timeout=(5, 10),
            )
        except requests.RequestException as exc:
            reason = type(exc).__name__
            continue
        if response.status_code < 300:
            return ""
        reason = f"HTTP {response.status_code}"
    return reason
