"""Build the whole output folder from the store: every feed in every format, OPML, index.

Then tell WebSub hubs which feeds changed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from .config import Config, FeedConfig
from .dedupe import Story
from .filters import cap_per_source, shown
from .models import Article
from .pages import FeedSummary, SourceHealth, render_index, render_opml
from .publish import RENDERERS, FeedInfo, SourceInfo, write_atomic
from .store import Store
from .websub import ping

FEED_FORMATS = frozenset(RENDERERS)


def source_infos(config: Config, store: Store) -> dict[str, SourceInfo]:
    rows = store.sources()
    infos = {}
    for cfg in config.sources:
        row = rows.get(cfg.name)
        infos[cfg.name] = SourceInfo(
            name=cfg.name,
            title=cfg.title or (row.title if row else "") or cfg.name,
            url=row.feed_url if row else cfg.url,
            link=row.link if row else "",
        )
    return infos


def feed_info(config: Config, feed: FeedConfig) -> FeedInfo:
    return FeedInfo(
        name=feed.name,
        title=feed.title or feed.name,
        description=feed.description,
        base_url=config.settings.base_url,
        link=feed.link or config.settings.base_url,
        hubs=tuple(config.settings.websub_hubs),
    )


def _prefixed(items: list[Article], infos: dict[str, SourceInfo]) -> list[Article]:
    return [replace(a, title=f"{infos[a.source].title}: {a.title}") for a in items]


# How far past max_items a feed with text rules looks for stories that pass them.
LOOKBACK_FACTOR = 50


def select(config: Config, store: Store, feed: FeedConfig, names: list[str], now: datetime) -> list[Story]:
    """The feed's newest ``max_items`` stories that pass its rules and per-source cap."""
    wanted, limit = feed.max_items, feed.max_items
    filtered = (
        feed.max_age is not None
        or feed.max_per_source is not None
        or any(rule is not None and rule.has_patterns for rule in (feed.include, feed.exclude))
    )
    while True:
        stories = store.select_stories(
            names,
            limit,
            priorities={s.name: s.priority for s in config.sources},
            fold=config.settings.dedupe.enabled and feed.dedupe,
        )
        if not filtered:
            return stories
        kept = [s for s in stories if shown(feed, s.item, now)]
        kept = list(cap_per_source(kept, feed.max_per_source, lambda s: s.item.source))
        exhausted = len(stories) < limit or limit >= wanted * LOOKBACK_FACTOR
        # Newest first: once a story is past max_age, every later one is too.
        aged_out = bool(stories) and feed.max_age is not None and stories[-1].item.published < now - feed.max_age
        if len(kept) >= wanted or exhausted or aged_out:
            return kept[:wanted]
        limit *= 4


def publish_feeds(config: Config, store: Store, now: datetime | None = None) -> list[Path]:
    """Render the output folder; returns the files whose bytes changed (only those are written)."""
    now = now or datetime.now(UTC)
    infos = source_infos(config, store)
    rows = store.sources()
    files: dict[str, bytes] = {}
    summaries = []
    for feed in config.feeds:
        names = config.feed_sources(feed)
        stories = select(config, store, feed, names, now)
        items = [story.item for story in stories]
        also = {story.item.id: story.copies for story in stories if story.copies}
        if feed.title_prefix == "source":
            items = _prefixed(items, infos)
        info = feed_info(config, feed)
        for fmt in feed.formats:
            files[f"{feed.name}.{fmt}"] = RENDERERS[fmt](info, items, infos, also)
        files[f"{feed.name}.opml"] = render_opml(info.title, [infos[n] for n in names])
        health = tuple(SourceHealth(infos[n], rows[n].status if n in rows else "new") for n in names)
        updated = max((a.updated for a in items), default=None)
        summaries.append(FeedSummary(info, tuple(feed.formats), len(items), updated, health))
    files["sources.opml"] = render_opml("All sources", list(infos.values()))
    files["index.html"] = render_index(config.settings.title, summaries)
    output = config.settings.output_dir
    return [output / name for name, data in files.items() if write_atomic(output / name, data)]


def announce(config: Config, changed: list[Path]) -> list[tuple[str, str]]:
    """Ping the WebSub hubs for the feeds among ``changed``; returns the pings that failed."""
    urls = [config.settings.base_url + p.name for p in changed if p.suffix.lstrip(".") in FEED_FORMATS]
    if not urls or not config.settings.websub_hubs:
        return []
    return ping(config.settings.websub_hubs, urls)
