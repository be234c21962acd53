"""Why a source is polled when it is, in words for ``status``: the rule of ``schedule`` that
set its next poll (the interval, the publishing rate, what the feed asks, a backoff)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from newsriver.ingest.schedule import RATE_WINDOW, Policy, base_interval, publishing_interval
from newsriver.plural import counted


def duration(span: timedelta) -> str:
    """``45s``, ``90m``, ``7h``, ``3d``: one unit, as the config writes them; the largest that
    divides exactly or counts at least two (rounded down)."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if (seconds >= size and seconds % size == 0) or seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def schedule_reason(
    policy: Policy,
    status: str,
    errors: int,
    retry_after: datetime | None,
    feed_interval: timedelta,
    published: Sequence[datetime],
    now: datetime,
) -> str:
    """What decided the source's next poll, e.g. ``adaptive: 7h (4 entries in 7 d)``."""
    if status == "gone":
        return "gone (HTTP 410)"
    if retry_after is not None and retry_after > now:
        return f"Retry-After (until {retry_after:%H:%M} UTC)"
    interval = base_interval(policy, published, now)
    if errors:
        return f"backoff ×{2 ** min(errors, 30)} of {duration(interval)}"
    if feed_interval > interval:
        return f"feed ttl {duration(min(feed_interval, max(policy.max_interval, interval)))}"
    if policy.adaptive and publishing_interval(published, now) is not None:
        recent = sum(1 for p in published if now - RATE_WINDOW <= p <= now)
        return f"adaptive: {duration(interval)} ({counted(recent, 'entry', 'entries')} in {RATE_WINDOW.days} d)"
    if policy.adaptive:
        return f"interval {duration(interval)} (adaptive once it has entries)"
    return f"interval {duration(interval)}"
