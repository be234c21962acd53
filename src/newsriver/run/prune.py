"""The prune job, run by `newsriver prune` and daily by the service: retention's rules
(see ``retention``) applied to the store, keeping every story a file still to be written
shows."""

from __future__ import annotations

from datetime import datetime

from newsriver.config.schema import Config, limits_for
from newsriver.publish.publisher import archive_pages, feed_stories
from newsriver.store.store import Store
from newsriver.stories.retention import Pruned


def apply_retention(config: Config, store: Store, now: datetime) -> Pruned:
    sources = {s.name: s for s in config.sources}
    settings = config.settings.retention
    ids = story_ids_shown(config, store, now)
    return store.prune.apply(lambda name: limits_for(settings, sources.get(name)), ids, set(sources), now)


def story_ids_shown(config: Config, store: Store, now: datetime) -> list[str]:
    """The ids of the items the next publish would write: every feed's subscription
    document and the archive pages not final yet. Keeping them means a prune never
    changes a published file; a finished archive month is written once and stays."""
    ids: list[str] = []
    for feed in config.feeds:
        names = config.feed_sources(feed)
        stories = feed_stories(config, store, feed, names, now)
        live = {story.item.id for story in stories}
        ids += live
        if feed.archive:
            pages, _gone, _newest = archive_pages(config, store, feed, names, live, now)
            ids += [story.item.id for page in pages for story in page.stories]
    return ids
