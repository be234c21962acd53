"""Build the whole output folder from the store: every feed in every format, OPML, index.

Then tell WebSub hubs which feeds changed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .config import Config, FeedConfig
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


def publish_feeds(config: Config, store: Store) -> list[Path]:
    """Render the output folder; returns the files whose bytes changed (only those are written)."""
    infos = source_infos(config, store)
    rows = store.sources()
    files: dict[str, bytes] = {}
    summaries = []
    for feed in config.feeds:
        names = config.feed_sources(feed)
        stories = store.select_stories(
            names,
            feed.max_items,
            priorities={s.name: s.priority for s in config.sources},
            fold=config.settings.dedupe.enabled and feed.dedupe,
        )
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
