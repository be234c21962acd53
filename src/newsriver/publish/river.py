"""What the HTML pages show: a feed's items as a river grouped by day, built from the
same articles and copies as the feed's files.

Pure and light (no Jinja2): plain frozen values the templates read (see ``templating``
and the README's "Pages" for each template's variables). Text from sources stays text
here; the templates escape it, and only ``PageItem.content`` (sanitized at ingest) is
marked safe HTML there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from newsriver.models import Article, Enclosure
from newsriver.publish.render_common import CopiesByItem, SourceInfo

EXCERPT_CHARS = 280
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Sanitized content's images load only when scrolled to: a river of full posts holds many.
_IMG = re.compile(r"<img(?![^>]*\sloading=)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Link:
    """A link a page lists under an item: another outlet's copy, or related coverage."""

    title: str
    url: str  # "" when unknown: the title is shown without a link
    source: str = ""  # the outlet's name


RelatedByItem = Mapping[str, Sequence[Link]]  # item id → related coverage (other stories on its event)
NO_RELATED: RelatedByItem = {}


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    type: str
    kind: str  # audio, video, image or file: how the page presents it


@dataclass(frozen=True, slots=True)
class PageItem:
    id: str
    title: str
    url: str
    source: str  # the source's title
    source_link: str  # the source's web site, else its public feed URL, else ""
    initial: str  # the source's badge
    time: str  # HH:MM in the feed's time zone
    iso: str  # the published date, ISO 8601 in the feed's time zone
    authors: tuple[str, ...]
    excerpt: str  # plain text
    content: str  # sanitized HTML; "" when the feed shows excerpts
    media: tuple[Media, ...]
    also: tuple[Link, ...]  # "Also reported by"
    related: tuple[Link, ...]  # "Related coverage"


@dataclass(frozen=True, slots=True)
class Day:
    heading: str  # "Saturday 5 December 2026"
    iso: str  # 2026-12-05
    items: tuple[PageItem, ...]


def day_heading(when: datetime) -> str:
    # English names written out: strftime's follow the machine's locale, and the bytes must not.
    return f"{_WEEKDAYS[when.weekday()]} {when.day} {_MONTHS[when.month - 1]} {when.year}"


def month_name(year: int, month: int) -> str:
    return f"{_MONTHS[month - 1]} {year}"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of ``text``, cut at a word, with an ellipsis when cut."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.-–—") + "…"


def _kind(enclosure: Enclosure) -> str:
    major = enclosure.type.partition("/")[0].lower()
    return major if major in ("audio", "video", "image") else "file"


def page_item(
    article: Article,
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem,
    related: RelatedByItem,
    zone: ZoneInfo,
    full: bool,
) -> PageItem:
    source = sources[article.source]
    local = article.published.astimezone(zone)
    content = (article.content or article.summary) if full else ""
    return PageItem(
        id=article.id,
        title=article.title or excerpt(article.text, 80) or "(untitled)",
        url=article.url,
        source=source.title,
        source_link=source.link or source.url,
        initial=(source.title.strip()[:1] or "?").upper(),
        time=local.strftime("%H:%M"),
        iso=local.isoformat(),
        authors=tuple(a.name for a in article.authors if a.name),
        excerpt=excerpt(article.text),
        content=_IMG.sub('<img loading="lazy"', content),
        media=tuple(Media(e.url, e.type, _kind(e)) for e in article.enclosures),
        also=tuple(Link(c.title, c.url, sources[c.source].title) for c in copies.get(article.id, ())),
        related=tuple(related.get(article.id, ())),
    )


def river(
    articles: Sequence[Article],
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem,
    timezone: str = "UTC",
    full: bool = False,
    related: RelatedByItem = NO_RELATED,
) -> list[Day]:
    """``articles`` (newest first, as in the feed's files) grouped by their day in ``timezone``."""
    zone = ZoneInfo(timezone)
    days: list[Day] = []
    for article in articles:
        item = page_item(article, sources, copies, related, zone, full)
        local = article.published.astimezone(zone)
        iso = local.date().isoformat()
        if days and days[-1].iso == iso:
            days[-1] = Day(days[-1].heading, iso, (*days[-1].items, item))
        else:
            days.append(Day(day_heading(local), iso, (item,)))
    return days
