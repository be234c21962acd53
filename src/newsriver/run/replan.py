"""A reloaded config re-plans the sources whose schedule it changed: a source whose interval
went from 1 h to 5 min is not left waiting out the hour it was given under the old one."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from newsriver.config.schema import Config
from newsriver.ingest.schedule import Response, plan_next_poll, rhythm_since
from newsriver.run.poll import policy_for
from newsriver.store.store import Store


def changed_schedules(old: Config, new: Config) -> list[str]:
    """The sources in both configs whose polling policy differs (interval, adaptive, bounds).
    A changed URL is not one: ``sources.sync`` resets that source, which is polled at once."""
    before = {s.name: policy_for(old, s) for s in old.sources}
    return [s.name for s in new.sources if s.name in before and before[s.name] != policy_for(new, s)]


def replan(
    config: Config, store: Store, names: list[str], now: datetime, spread: Callable[[], float] = random.random
) -> dict[str, datetime]:
    """Plan each named source's next poll again from its last fetch under ``config``, as if
    that fetch had been planned under it (never earlier than ``now``); the new times by name.

    A failing source keeps its backoff and a gone one stays gone: a shorter interval must
    not hammer a server that is already failing. One never fetched is due already.
    """
    if not names:
        return {}
    rows = store.sources.rows(names)
    rhythms = store.sources.recent_publication_times(names, rhythm_since(now))
    configured = {s.name: s for s in config.sources}
    planned: dict[str, datetime] = {}
    for name in names:
        row = rows.get(name)
        if row is None or row.last_fetch is None or row.errors or row.status == "gone":
            continue
        asked = Response("not_modified", feed_interval=timedelta(seconds=row.feed_interval))
        published = list(rhythms.get(name, {}).values())
        plan = plan_next_poll(row.last_fetch, policy_for(config, configured[name]), 0, published, asked, spread())
        if plan.next_poll is not None:
            planned[name] = max(plan.next_poll, now)
            store.sources.update(name, next_poll=planned[name])
    return planned
