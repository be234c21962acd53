"""When to poll a source next: a pure function of its history, tested without a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    interval: timedelta
    max_interval: timedelta = timedelta(hours=24)
    jitter: float = 0.1  # ±10 %: sources sharing an interval do not all fire together


def next_poll(now: datetime, policy: Policy, errors: int, spread: float) -> datetime:
    """The next poll time.

    ``errors`` is the count of consecutive failures (0 after a success): each one doubles
    the wait, up to ``max_interval``, and the first success ends the backoff. A failing
    source is slowed down, never abandoned. ``spread`` in [0, 1) places the poll inside
    the jitter band; callers pass a random number, tests a fixed one.
    """
    wait = policy.interval * (2 ** min(errors, 30))
    wait = max(min(wait, max(policy.max_interval, policy.interval)), timedelta(seconds=1))
    jittered: timedelta = wait * (1 + policy.jitter * (2 * spread - 1))
    return now + jittered


def is_due(scheduled: datetime | None, now: datetime) -> bool:
    return scheduled is None or scheduled <= now
