"""Build the whole output folder from the store: every feed in every format, OPML, index.

Then tell WebSub hubs which feeds changed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from newsriver.config.schema import Config, FeedConfig
from newsriver.files import write_atomic
from newsriver.models import Article
from newsriver.publish import archive
from newsriver.publish.archive import Month, Page
from newsriver.publish.pages import FeedSummary, SourceHealth, render_opml
from newsriver.publish.public import clean_link, clean_stories, hidden_source_url, listed, public_url
from newsriver.publish.related import Related, related_for
from newsriver.publish.render_common import ATOM_NS, CopiesByItem, FeedInfo, Renderer, SourceInfo
from newsriver.publish.stamp import STAMP_KEY, rendered_from
from newsriver.store.sources import SourceRow
from newsriver.store.store import Store
from newsriver.stories.filters import cap_per_source, shown
from newsriver.stories.match import Story

if TYPE_CHECKING:
    from newsriver.publish.river import RelatedByItem
    from newsriver.publish.site import Site

# Heavy dependencies are imported where they are used, each at one place below: rendering
# (feedgen, lxml, nh3), the pages (jinja2), reading an archive page (lxml), WebSub (requests). A poll that
# changed nothing skips the publish, and those imports cost more than the rest of it.


def source_infos(config: Config, store: Store, rows: dict[str, SourceRow] | None = None) -> dict[str, SourceInfo]:
    """How the output credits each source; ``rows``: the sources' rows, if read already."""
    rows = store.sources.rows() if rows is None else rows
    sources = {}
    for cfg in config.sources:
        row = rows.get(cfg.name)
        shown = cfg.public  # a public: false source is credited by title alone (see public)
        sources[cfg.name] = SourceInfo(
            name=cfg.name,
            title=cfg.title or (row.title if row else "") or cfg.name,
            url=public_url(row.feed_url if row else cfg.url)
            if shown
            else hidden_source_url(config.settings.base_url, cfg.name),
            link=public_url(row.link) if row and shown else "",
        )
    return sources


def feed_info(config: Config, feed: FeedConfig) -> FeedInfo:
    return FeedInfo(
        name=feed.name,
        title=feed.title or feed.name,
        description=feed.description,
        base_url=config.settings.base_url,
        link=feed.link or config.settings.base_url,
        hubs=tuple(config.settings.websub_hubs),
    )


def _site(config: Config, sources: dict[str, SourceInfo]) -> Site:
    # Jinja2 comes with the pages: imported only when a publish renders.
    from newsriver.publish.site import Site

    return Site(config, sources)


def _renderers() -> dict[str, Renderer]:
    # Rendering's one import: feedgen, lxml and nh3 come with it.
    from newsriver.publish.formats import RENDERERS

    return RENDERERS


def per_feed_id(story_id: str, feed: str) -> str:
    """A story's item id in one feed (``ids: per-feed``): stable, and different in each feed."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:uuid:{story_id}#{feed}"))


def _prefixed(articles: list[Article], sources: dict[str, SourceInfo]) -> list[Article]:
    return [replace(a, title=f"{sources[a.source].title}: {a.title}") for a in articles]


def _articles(
    feed: FeedConfig, stories: Sequence[Story], sources: dict[str, SourceInfo]
) -> tuple[list[Article], CopiesByItem]:
    """The article each item of ``stories`` shows in ``feed``'s files, and each item's other copies."""
    articles = [story.item for story in stories]
    copies = {story.item.id: story.copies for story in stories if story.copies}
    if feed.ids == "per-feed":
        articles = [replace(a, id=per_feed_id(a.id, feed.name)) for a in articles]
        copies = {per_feed_id(key, feed.name): value for key, value in copies.items()}
    if feed.title_prefix == "source":
        articles = _prefixed(articles, sources)
    return articles, copies


def _related(
    config: Config, store: Store, feed: FeedConfig, stories: Sequence[Story], fold: bool = True
) -> tuple[Sequence[Story], Related]:
    """The stories ``feed`` shows (one per event with ``related: fold``, when ``fold``) and
    each item's other reports of its event, keyed by its id in the feed's files."""
    # A feed of every copy lists no related reports either.
    mode = feed.related if feed.dedupe else "off"
    if mode == "fold" and not fold:
        mode = "list"
    priorities = {s.name: s.priority for s in config.sources}
    shown_stories, related = related_for(store, stories, config.feed_sources(feed), mode, priorities)
    if config.settings.clean_links:
        related = {k: tuple(replace(r, url=clean_link(r.url)) for r in v) for k, v in related.items()}
    if feed.ids == "per-feed":
        related = {per_feed_id(key, feed.name): value for key, value in related.items()}
    return shown_stories, related


def _page_links(related: Related, sources: dict[str, SourceInfo]) -> RelatedByItem:
    """Related coverage as the HTML pages list it."""
    from newsriver.publish.river import Link  # jinja2's side: imported when a publish renders

    return {k: tuple(Link(r.title, r.url, sources[r.source].title) for r in v) for k, v in related.items()}


# How far past max_items a feed with text rules looks for stories that pass them.
LOOKBACK_FACTOR = 50


def feed_stories(config: Config, store: Store, feed: FeedConfig, names: list[str], now: datetime) -> list[Story]:
    """The feed's newest ``max_items`` stories that pass its rules and per-source cap."""
    wanted, limit = feed.max_items, feed.max_items
    filtered = (
        feed.max_age is not None
        or feed.max_per_source is not None
        or any(rule is not None and rule.has_patterns for rule in (feed.include, feed.exclude))
    )
    while True:
        stories = store.selection.stories(
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


def publish_feeds(config: Config, store: Store, now: datetime | None = None, stamp: str | None = None) -> list[Path]:
    """Render the output folder; returns the files whose bytes changed (only those are written).

    Whether anything needs rendering at all is the caller's question (``stamp.up_to_date``):
    the poll command asks it before importing this module, and passes the ``stamp`` it
    worked out for that (``rendered_from``) rather than have it worked out again.
    """
    now = now or datetime.now(UTC)
    output = config.settings.output_dir
    stamp = stamp or rendered_from(config, store, now)
    renderers = _renderers()
    rows = store.sources.rows()  # once: with thousands of sources, each read took milliseconds
    sources = source_infos(config, store, rows)
    hidden = {s.name for s in config.sources if not s.public}
    site = _site(config, sources)
    files: dict[str, bytes] = {}
    stale: list[str] = []  # archive pages a month no longer needs
    summaries = []
    for feed in config.feeds:
        names = config.feed_sources(feed)
        stories = clean_stories(feed_stories(config, store, feed, names, now), config.settings.clean_links)
        stories, related = _related(config, store, feed, stories)
        articles, copies = _articles(feed, stories, sources)
        info = replace(feed_info(config, feed), first_published=first_published(store, feed.name, now))
        archived: list[_Archived] = []
        archive_url = ""
        if feed.archive:
            archived, gone, archive_url = _archive(config, store, feed, stories, sources, info, renderers["atom"], now)
            # Oldest first, so a page is on disk before any page or feed that links to it.
            files.update((a.page.path, a.atom) for a in archived)
            stale += [path for atom in gone for path in (atom, atom.removesuffix(".atom") + ".html")]
            if archive_url:
                info = replace(info, links=(("prev-archive", archive_url),))
        for fmt in feed.formats:
            files[f"{feed.name}.{fmt}"] = renderers[fmt](info, articles, sources, copies, related)
        files[f"{feed.name}.opml"] = render_opml(info.title, [sources[n] for n in listed(names, hidden)])
        health = tuple(SourceHealth(sources[n], rows[n].status if n in rows else "new") for n in names)
        summary = FeedSummary(
            info, tuple(feed.formats), len(articles), health, archive_url, site.headlines(feed, articles)
        )
        summaries.append(summary)
        for a in archived:
            files[a.page.path.removesuffix(".atom") + ".html"] = site.archive_page(
                feed, summary, a.page, a.articles, a.copies, _page_links(a.related, sources)
            )
        files[f"{feed.name}.html"] = site.feed_page(feed, summary, articles, copies, _page_links(related, sources))
    files["sources.opml"] = render_opml("All sources", [sources[n] for n in listed(sources, hidden)])
    files.update(site.shared_files(summaries))
    if not config.settings.public_status:
        stale.append("status.html")  # turned off: the page goes
    changed = [output / name for name, data in files.items() if write_atomic(output / name, data)]
    for name in stale:
        (output / name).unlink(missing_ok=True)
    if stamp is not None:
        store.meta.set(STAMP_KEY, json.dumps({"stamp": stamp, "files": sorted(files)}))
    return changed


def first_published(store: Store, feed: str, now: datetime) -> datetime:
    """When ``feed`` was first published (``now``, the first time): the date an empty feed or
    archive page shows. Stable from one publish to the next, so its bytes are too."""
    key = f"first_published:{feed}"
    if len(key) > 64:  # the meta table's key column; feed names have no length limit
        key = "first_published:" + hashlib.sha256(feed.encode()).hexdigest()[:40]
    kept = store.meta.get(key)
    if kept is not None:
        return datetime.fromisoformat(kept)
    store.meta.set(key, now.isoformat())
    return now


@dataclass(frozen=True, slots=True)
class _Archived:
    """An archive page rendered as Atom, with what its HTML page is rendered from."""

    page: Page
    atom: bytes
    articles: list[Article]
    copies: CopiesByItem
    related: Related


def _archive(
    config: Config,
    store: Store,
    feed: FeedConfig,
    stories: Sequence[Story],
    sources: dict[str, SourceInfo],
    info: FeedInfo,
    render_atom: Renderer,
    now: datetime,
) -> tuple[list[_Archived], list[str], str]:
    """The feed's archive pages to write, oldest first; those to delete; the newest page's URL."""
    names = config.feed_sources(feed)
    pages, gone, newest_page = archive_pages(config, store, feed, names, {s.item.id for s in stories}, now)
    archived = []
    for page in pages:
        # A page lists related reports but never folds: which stories it holds is the archive's choice.
        stories, related = _related(
            config, store, feed, clean_stories(page.stories, config.settings.clean_links), False
        )
        articles, copies = _articles(feed, stories, sources)
        atom = render_atom(_page_info(info, page), articles, sources, copies, related)
        archived.append(_Archived(page, atom, articles, copies, related))
    return archived, gone, info.base_url + newest_page if newest_page else ""


def archive_pages(
    config: Config, store: Store, feed: FeedConfig, names: list[str], live: set[str], now: datetime
) -> tuple[list[Page], list[str], str | None]:
    """The feed's archive pages to render now, oldest first; the pages to delete; the newest page's path.

    What goes where is decided in ``archive``; ``live`` holds the ids of the items the
    feed's files show.
    """
    folder = config.settings.output_dir / feed.name / archive.FOLDER
    on_disk = archive.written(p.name for p in folder.glob("*.atom"))
    stored = store.selection.first_stored(names)
    # Pages stay after retention has deleted their stories: the chain starts at the oldest.
    starts = [*on_disk, *([Month.of(stored)] if stored else [])]
    current = Month.of(now)
    if not starts or min(starts) > current:
        return [], [], None
    first = min(starts)
    unfinished = [
        month
        for month in archive.maybe_unfinished(current, on_disk)
        if _unfinished(config.settings.output_dir / archive.page_path(feed.name, month, on_disk[month]))
    ]
    # The feed's own selection rules apply; max_items, max_per_source and max_age only
    # shape the window the feed's files show: a story leaving it is archived.
    rules = replace(feed, max_age=None)
    priorities = {s.name: s.priority for s in config.sources}
    fold = config.settings.dedupe.enabled and feed.dedupe
    parts = dict(on_disk)
    pages: list[Page] = []
    gone: list[str] = []
    for month in archive.to_write(first, current, on_disk, unfinished):
        span = (month.start, month.following().start)
        stories = [
            s
            for s in store.selection.stories(names, None, priorities, fold, first_seen=span)
            if shown(rules, s.item, now) and (month < current or s.item.id not in live)
        ]
        before = archive.page_path(feed.name, month.preceding(), parts[month.preceding()]) if month > first else None
        written = archive.month_pages(feed.name, month, stories, feed.max_items, before, final=month < current)
        gone += [archive.page_path(feed.name, month, n) for n in range(len(written) + 1, parts.get(month, 0) + 1)]
        parts[month] = len(written)
        # A month counts as written once its first page is there: write that one last.
        pages += reversed(written)
    return pages, gone, archive.page_path(feed.name, current, parts[current])


def _unfinished(last_page: Path) -> bool:
    """Whether a month's last page was written while the month was current: it does not
    yet link to the next month."""
    from lxml import etree  # reading a page's links: the only use of lxml outside rendering

    try:
        root = etree.parse(str(last_page)).getroot()
    except (OSError, etree.XMLSyntaxError):
        return True  # unreadable: render the month again
    return root.find(f"{{{ATOM_NS}}}link[@rel='next-archive']") is None


def _page_info(info: FeedInfo, page: Page) -> FeedInfo:
    links = [("current", info.url("atom"))]
    if page.previous:
        links.append(("prev-archive", info.base_url + page.previous))
    if page.following:
        links.append(("next-archive", info.base_url + page.following))
    # No hubs: an archive page is never pushed, it is fetched once.
    return replace(info, stem=page.path.removesuffix(".atom"), links=tuple(links), archive=True, hubs=())


def announce(config: Config, changed: list[Path]) -> list[tuple[str, str]]:
    """Ping the WebSub hubs for the feeds among ``changed``; returns the pings that failed."""
    if not changed or not config.settings.websub_hubs:
        return []
    # Only the feeds' files: nobody subscribes to an archive page in a subfolder or to an OPML list.
    output = config.settings.output_dir
    feed_files = {output / f"{feed.name}.{fmt}" for feed in config.feeds for fmt in feed.formats}
    urls = [config.settings.base_url + p.name for p in changed if p in feed_files]
    if not urls:
        return []
    from newsriver.publish.websub import ping  # requests, for hubs only

    return ping(config.settings.websub_hubs, urls)
