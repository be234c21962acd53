"""The pages people read: ``index.html`` (the front page), ``NAME.html`` for every feed,
``NAME/archive/YYYY-MM.html`` beside each Atom archive page, the opt-in ``status.html``,
and the static ``river.css`` and ``feed.xsl`` (what a browser shows for Atom and RSS).

Jinja2 with autoescaping renders the templates in ``templates/``; ``settings.templates``
names a folder whose files override any of them by name (the README lists the variables
each receives). Imported only when a publish renders: a poll that changed nothing never
loads Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from newsriver.config.schema import Config, FeedConfig
from newsriver.files import FEED_XSL
from newsriver.models import Article
from newsriver.publish.archive import Page
from newsriver.publish.pages import FeedSummary
from newsriver.publish.render_common import CopiesByItem, SourceInfo
from newsriver.publish.river import NO_RELATED, PageItem, RelatedByItem, month_name, river

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = "river.css"
STATUS = "status.html"


class Site:
    """Renders one publish's pages; holds the template environment and what every page shares."""

    def __init__(self, config: Config, sources: Mapping[str, SourceInfo]) -> None:
        settings = config.settings
        folders = (*([settings.templates] if settings.templates else []), TEMPLATES)
        self.env = _environment(folders, _listing(settings.templates))
        self.sources = sources
        self.public_status = settings.public_status
        self.front_page_items = settings.front_page_items
        self.site = {
            "title": settings.title,
            "base_url": settings.base_url,
            "index_url": settings.base_url,
            "css_url": settings.base_url + STYLESHEET,
            "status_url": settings.base_url + STATUS if settings.public_status else "",
        }

    def render(self, template: str, **context: Any) -> bytes:
        return self.env.get_template(template).render(site=self.site, **context).encode("utf-8")

    def feed_page(
        self,
        feed: FeedConfig,
        summary: FeedSummary,
        articles: Sequence[Article],
        copies: CopiesByItem,
        related: RelatedByItem = NO_RELATED,
    ) -> bytes:
        """``NAME.html``: the items of the feed's files, by day; "older" to the newest archive page."""
        return self.render(
            "feed.html",
            feed=summary,
            heading=summary.info.title,
            days=river(articles, self.sources, copies, feed.timezone, feed.html == "full", related),
            timezone=feed.timezone,
            older_url=summary.archive_page_url,
            newer_url="",
            empty="Nothing has been published in this feed yet.",
        )

    def archive_page(
        self,
        feed: FeedConfig,
        summary: FeedSummary,
        page: Page,
        articles: Sequence[Article],
        copies: CopiesByItem,
        related: RelatedByItem = NO_RELATED,
    ) -> bytes:
        """The HTML beside an Atom archive page: the same items, the same neighbours."""
        base = summary.info.base_url
        stem = page.path.removesuffix(".atom")
        year, month, *part = stem.rpartition("/")[2].split("-")
        heading = f"{summary.info.title}: {month_name(int(year), int(month))}" + (f", page {part[0]}" if part else "")
        return self.render(
            "feed.html",
            feed=summary,
            heading=heading,
            days=river(articles, self.sources, copies, feed.timezone, feed.html == "full", related),
            timezone=feed.timezone,
            older_url=base + _html(page.previous) if page.previous else "",
            newer_url=base + _html(page.following) if page.following else summary.page_url,
            empty="No items left the feed during this month.",
        )

    def headlines(self, feed: FeedConfig, articles: Sequence[Article]) -> tuple[PageItem, ...]:
        """The feed's newest items as the front page lists them."""
        days = river(articles[: self.front_page_items], self.sources, {}, feed.timezone)
        return tuple(item for day in days for item in day.items)

    def front_page(self, summaries: Sequence[FeedSummary]) -> bytes:
        return self.render("index.html", feeds=summaries)

    def status_page(self, summaries: Sequence[FeedSummary]) -> bytes:
        return self.render("status.html", feeds=summaries)

    def shared_files(self, summaries: Sequence[FeedSummary]) -> dict[str, bytes]:
        """The files every publish writes once: front page, stylesheet, XSL, status page if public."""
        files = {
            "index.html": self.front_page(summaries),
            STYLESHEET: self.render(STYLESHEET),
            FEED_XSL: self.render(FEED_XSL),  # a template too: it names site.css_url
        }
        if self.public_status:
            files[STATUS] = self.status_page(summaries)
        return files


@lru_cache(maxsize=4)
def _environment(folders: tuple[Path, ...], _theme: tuple[tuple[str, int, int], ...]) -> Environment:
    """The template environment for ``folders``, kept from one publish to the next: compiling
    the templates took about a third of a service's publish. Jinja2 compiles a template again
    when its file's time changes; ``_theme`` (the theme folder's files, their times and sizes)
    makes a new environment whenever the theme changes otherwise too, as when a file is added
    that overrides a bundled template the environment had already compiled."""
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        autoescape=True,
        undefined=StrictUndefined,  # a theme's typo fails the publish instead of blanking a page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _listing(folder: Path | None) -> tuple[tuple[str, int, int], ...]:
    """A folder's files as (name, modification time, size), by name; none for no folder."""
    if folder is None:
        return ()
    try:
        found = [(path.name, path.stat()) for path in folder.iterdir()]
    except OSError:
        return ()  # unreadable: the loader reports what it cannot find
    return tuple(sorted((name, info.st_mtime_ns, info.st_size) for name, info in found))


def _html(atom_path: str) -> str:
    return atom_path.removesuffix(".atom") + ".html"
