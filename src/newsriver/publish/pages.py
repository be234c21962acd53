"""What the pages say about each feed (``FeedSummary``), and the OPML lists.

Light (no Jinja2): the publisher builds these on every publish; ``site`` renders the
pages from them. Everything is rendered from data only (no clock), so a file keeps its
bytes until something a subscriber would notice changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from newsriver.publish.render_common import FeedInfo, SourceInfo
from newsriver.publish.river import PageItem

FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
FORMAT_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}


@dataclass(frozen=True, slots=True)
class SourceHealth:
    source: SourceInfo
    status: str  # as stored: ok, not_modified, error, …

    @property
    def state(self) -> str:
        """What status.html shows: "not modified" is as healthy as "ok", and showing it
        would rewrite the page on every poll."""
        return "failing" if self.status == "error" else "ok" if self.status == "not_modified" else self.status


@dataclass(frozen=True, slots=True)
class FormatLink:
    label: str  # Atom, RSS, JSON Feed
    url: str
    type: str  # its media type, for <link rel="alternate"> and <a type>


@dataclass(frozen=True, slots=True)
class FeedSummary:
    """A feed as the front page, its own page and status.html describe it."""

    info: FeedInfo
    formats: tuple[str, ...]
    item_count: int
    sources: tuple[SourceHealth, ...]
    archive_url: str = ""  # of the newest archive page (Atom), when the feed keeps archives
    headlines: tuple[PageItem, ...] = ()  # its newest items, for the front page

    @property
    def page_url(self) -> str:
        return self.info.url("html")

    @property
    def archive_page_url(self) -> str:
        return self.archive_url.removesuffix(".atom") + ".html" if self.archive_url else ""

    @property
    def links(self) -> tuple[FormatLink, ...]:
        return tuple(FormatLink(FORMAT_LABELS[f], self.info.url(f), FORMAT_TYPES[f]) for f in self.formats)

    @property
    def opml_url(self) -> str:
        return self.info.url("opml")


def render_opml(title: str, sources: Sequence[SourceInfo]) -> bytes:
    outlines = "\n".join(_outline(s) for s in sources)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head>
    <title>{escape(title)}</title>
  </head>
  <body>
{outlines}
  </body>
</opml>
""".encode()


@lru_cache(maxsize=1 << 14)
def _outline(s: SourceInfo) -> str:
    """A source's line of an OPML list. Cached: every publish lists every source in two lists
    at least (sources.opml and each feed's), and escaping them took a tenth of a publish."""
    # Imported here: xml.sax.saxutils brings urllib.request, which a poll that publishes
    # nothing (tests/test_startup.py) would import for this alone.
    from xml.sax.saxutils import quoteattr

    return (
        f'    <outline type="rss" text={quoteattr(s.title)} title={quoteattr(s.title)} xmlUrl={quoteattr(s.url)}'
        + (f" htmlUrl={quoteattr(s.link)}" if s.link else "")
        + "/>"
    )
