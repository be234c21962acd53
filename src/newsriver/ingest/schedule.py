"""When to poll a source next: pure functions of its history and its last response.

Nothing here reads a clock, the network or the database; callers pass ``now``, the
publication times they have stored, the response's headers and a random number, so
every rule is tested with plain data.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

# Statuses with which a server asks to be left alone for a while (RFC 9110 §10.2.3).
SLOW_DOWN = (429, 503)
GONE = 410
# How far back publishing is observed; a week smooths out weekends.
RATE_WINDOW = timedelta(days=7)
# Publication times a source's rhythm keeps (its newest): as many as the store reads of it.
RHYTHM_LIMIT = 200
_SY_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_SHORTEST_WAIT = timedelta(seconds=1)
When = TypeVar("When", bound=Hashable)  # a time, or a database's value of one


@dataclass(frozen=True, slots=True)
class Policy:
    interval: timedelta  # the source's own, else settings.default_interval
    adaptive: bool = True  # follow the observed publishing rate instead, once there is one
    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=24)
    jitter: float = 0.1  # ±10 %: sources sharing an interval do not all fire together


@dataclass(frozen=True, slots=True)
class Response:
    """What the last poll learned, as far as scheduling cares."""

    kind: Literal["ok", "not_modified", "error"]
    status: int | None = None  # HTTP status; None when there was no response (timeout, refusal)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    feed_interval: timedelta = timedelta(0)  # what the document asks: RSS <ttl>, sy:updatePeriod


@dataclass(frozen=True, slots=True)
class PollPlan:
    state: Literal["ok", "not_modified", "error", "backoff", "gone"]
    errors: int  # consecutive failures, 0 after a success
    next_poll: datetime | None  # None: never again
    host_wait_until: datetime | None = None  # Retry-After: every source on the host waits


def plan_next_poll(
    now: datetime,
    policy: Policy,
    errors: int,
    published: Sequence[datetime],
    response: Response,
    spread: float,
) -> PollPlan:
    """The state and next poll of a source after ``response``.

    ``errors`` counts the consecutive failures before this response, ``published`` holds
    the publication times of the source's recent entries (any order) and ``spread`` in
    [0, 1) places the poll inside the jitter band: callers pass a random number, tests a
    fixed one.
    """
    if response.status == GONE:
        return PollPlan("gone", errors + 1, None)
    interval = base_interval(policy, published, now)
    # An administrator's interval longer than max_interval is a decision, not a mistake.
    cap = max(policy.max_interval, interval)
    floor = min(policy.min_interval, interval)
    if response.kind == "error":
        failures = errors + 1
        # A failing source is slowed down, never abandoned; the first success ends this.
        wait = _jittered(min(interval * 2 ** min(failures, 30), cap), policy.jitter, spread, floor, cap)
        wait_until = retry_after(response.headers, now) if response.status in SLOW_DOWN else None
        if wait_until is not None:
            wait_until = min(wait_until, now + cap)
            wait = max(wait, wait_until - now)
        state: Literal["error", "backoff"] = "backoff" if response.status in SLOW_DOWN else "error"
        return PollPlan(state, failures, now + wait, wait_until)
    wait = _jittered(interval, policy.jitter, spread, floor, cap)
    # Never earlier than the feed asks, never later than the cap: a stray Expires in 2099
    # must not silently stop a source.
    asked = min(max(cache_lifetime(response.headers, now), response.feed_interval), cap)
    return PollPlan(response.kind, 0, now + max(wait, asked))


def base_interval(policy: Policy, published: Sequence[datetime], now: datetime) -> timedelta:
    """The configured interval, or with ``adaptive`` the observed one clamped to the policy."""
    observed = publishing_interval(published, now) if policy.adaptive else None
    if observed is None:
        return policy.interval
    return min(max(observed, policy.min_interval), policy.max_interval)


def rhythm_since(now: datetime) -> datetime:
    """From when a source's publication times count for its rhythm: the rate window, and a
    day more for a decision a little after ``now``. The store's read and the workers'
    ``rhythm_of`` must agree on it."""
    return now - RATE_WINDOW - timedelta(days=1)


def rhythm_of(
    published: Iterable[tuple[str, datetime]], now: datetime, limit: int = RHYTHM_LIMIT
) -> dict[str, datetime]:
    """A document's publication times by entry key, as far as the schedule can tell from them
    when deciding at or after ``now``, the way the store keeps a source's rhythm: the newest
    ``limit`` from a day before the window on (the day for a decision a little later), or the
    newest one alone when all are older (the schedule only asks whether there are any).

    A document of 100,000 entries was otherwise held as 100,000 of them, in the worker and in
    the store stage. The decisions are those of every time (``tests/test_schedule.py``) but
    for a stored entry whose date the document moves to before the window: it keeps its
    stored date for that one decision.
    """
    since = rhythm_since(now)
    recent: list[tuple[datetime, str]] = []  # a heap: the oldest kept first
    older: tuple[datetime, str] | None = None
    for key, when in published:
        if when >= since:
            if len(recent) < limit:
                heapq.heappush(recent, (when, key))
            elif (when, key) > recent[0]:
                heapq.heapreplace(recent, (when, key))
        elif older is None or (when, key) > older:
            older = (when, key)
    kept = recent or ([older] if older else [])
    return {key: when for when, key in kept}


def publication_times(
    entries: Iterable[tuple[str, str, When, When | None]],
) -> Iterator[tuple[str, str, When]]:
    """The publication times the rhythm counts, of entries given as (source, key, published,
    first seen): (source, key, published) of those that count.

    An entry without a date of its own (or with one in the future) is dated when it is first
    seen (``normalize``): its published time *is* its first seen one. A poll that first sees
    several such entries of a source (a first poll's backlog of an RDF 0.9 feed: 60 entries
    at once) says that the source published since the last poll, not that it published 60
    times then: they count as one publication, the first of them given. Counting each, the
    rate read "60 entries in 7 d" and polled the source at the minimum interval for a week.
    A later poll that finds new undated entries counts one more: the rate is that of the
    polls that found something, all that can be told of a source that dates nothing.
    Entries with a date of their own all count. ``first seen`` None: not known (a stored
    entry's date read again from the document). The times may be the database's values as
    read (compared, never computed with): only those that count need converting.
    """
    batches: set[tuple[str, When]] = set()
    for source, key, published, first_seen in entries:
        if published != first_seen:
            yield source, key, published
        elif (source, published) not in batches:
            batches.add((source, published))
            yield source, key, published


def publishing_interval(published: Sequence[datetime], now: datetime) -> timedelta | None:
    """The mean time between entries over the last week, counted up to ``now``.

    Counting up to ``now`` rather than to the newest entry makes a source that published
    a burst days ago and nothing since look slow, as it is. No entry in the window means
    a dormant source (one entry per window); no entry at all means no evidence (None).
    """
    if not published:
        return None
    recent = [p for p in published if now - RATE_WINDOW <= p <= now]
    if not recent:
        return RATE_WINDOW
    return max(now - min(recent), _SHORTEST_WAIT) / len(recent)


def _jittered(wait: timedelta, jitter: float, spread: float, floor: timedelta, cap: timedelta) -> timedelta:
    spread_wait: timedelta = wait * (1 + jitter * (2 * spread - 1))
    return min(max(spread_wait, floor, _SHORTEST_WAIT), cap)


def cache_lifetime(headers: Mapping[str, str], now: datetime) -> timedelta:
    """How long the response stays fresh by its HTTP headers (RFC 9111 §4.2.1); 0 if unsaid."""
    age = _natural(headers.get("age", "")) or 0
    max_age = _MAX_AGE.search(headers.get("cache-control", ""))
    if max_age:  # takes precedence over Expires
        return max(timedelta(seconds=int(max_age.group(1)) - age), timedelta(0))
    expires = _http_date(headers.get("expires", ""))
    if expires is None:
        return timedelta(0)
    # Measured against the server's own clock when it sent one, so clock skew cancels out.
    sent = _http_date(headers.get("date", "")) or now
    return max(expires - sent - timedelta(seconds=age), timedelta(0))


def feed_interval(ttl_minutes: int | None, update_period: str, update_frequency: str) -> timedelta:
    """The longer of RSS ``<ttl>`` and ``sy:updatePeriod`` / ``sy:updateFrequency``; 0 if unsaid."""
    ttl = timedelta(minutes=ttl_minutes) if ttl_minutes and ttl_minutes > 0 else timedelta(0)
    if not (update_period.strip() or update_frequency.strip()):
        return ttl
    # The syndication module's defaults: daily, once.
    period = _SY_PERIODS.get(update_period.strip().lower() or "daily")
    frequency = _natural(update_frequency) if update_frequency.strip() else 1
    if period is None or not frequency:
        return ttl
    return max(ttl, period / frequency)


def retry_after(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """``Retry-After`` as a time: delay-seconds or an HTTP date; None if absent, invalid or past."""
    value = headers.get("retry-after", "").strip()
    seconds = _natural(value)
    if seconds is not None:
        return now + timedelta(seconds=seconds) if seconds > 0 else None
    when = _http_date(value)
    return when if when is not None and when > now else None


def left_alone(gone: bool, wait_until: datetime | None, now: datetime) -> str:
    """Why even a manual poll must skip a source now, or "" when it may be fetched."""
    if gone:
        return "gone (HTTP 410): no longer polled; remove it from the config or change its URL"
    if wait_until is not None and wait_until > now:
        return f"the host asked to wait until {wait_until:%Y-%m-%d %H:%M:%S} UTC (Retry-After)"
    return ""


def is_due(scheduled: datetime | None, now: datetime) -> bool:
    return scheduled is None or scheduled <= now


def _natural(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _http_date(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 9110 dates are GMT; a date without a zone is read as UTC too.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
