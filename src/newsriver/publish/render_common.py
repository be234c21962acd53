"""What every renderer shares: how a feed and a source are described, and each item as
the renderers see it (its article with "Also reported by", its source, its copies, the
other reports of its event).

Light on purpose (no feedgen, lxml or nh3): the publisher, the index page and OPML use
these descriptions without rendering a feed.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from newsriver.files import FEED_XSL
from newsriver.models import Article
from newsriver.publish.related import ALSO_REPORTED_BY, NO_RELATED, Related, Reported, with_related
from newsriver.stories.match import Copy
from newsriver.urls import as_uri

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
FH_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """How an item's source is credited in output."""

    name: str
    title: str
    url: str  # the source feed's URL
    link: str  # the source's web site, when known


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """How a feed describes itself, in every format."""

    name: str
    title: str
    description: str
    base_url: str  # public URL of the output folder, ends with /
    link: str  # rel=alternate: the feed's web page
    hubs: tuple[str, ...] = ()
    stem: str = ""  # the file's path under base_url without extension, when not the name (archive pages)
    links: tuple[tuple[str, str], ...] = ()  # more Atom feed links (rel, href): RFC 5005 navigation
    archive: bool = False  # an RFC 5005 archive page, marked <fh:archive/>
    first_published: datetime = EPOCH  # when the feed was first published: the date it shows while empty

    def url(self, fmt: str) -> str:
        return f"{self.base_url}{self.stem or self.name}.{fmt}"


CopiesByItem = Mapping[str, Sequence[Copy]]  # item id → the other outlets' copies of its story
NO_COPIES: CopiesByItem = {}

# Every format's renderer: (feed, its items' articles newest first, sources by name, copies,
# related coverage) → bytes.
Renderer = Callable[[FeedInfo, Sequence[Article], Mapping[str, SourceInfo], CopiesByItem, Related], bytes]


@dataclass(frozen=True, slots=True)
class Item:
    """What a feed shows for one story, as every renderer needs it."""

    article: Article  # the story's shown article, "Also reported by" and "Related coverage" added to its text
    source: SourceInfo
    source_updated: datetime  # the newest date among the feed's items from that source
    copies: tuple[tuple[Copy, SourceInfo], ...]  # the story's other copies, each with its source
    related: tuple[tuple[Reported, SourceInfo], ...] = ()  # other stories' reports of its event


def items(
    articles: Sequence[Article],
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem,
    related: Related = NO_RELATED,
) -> list[Item]:
    """The feed's items, in the order of ``articles``."""
    result = []
    for article in articles:
        others = [replace(c, url=as_uri(c.url)) for c in _other_outlets(article, copies.get(article.id, ()), sources)]
        reports = [replace(r, url=as_uri(r.url)) for r in related.get(article.id, ())]
        result.append(
            Item(
                article=with_related(_credited(_with_uris(article), others, sources), reports, sources),
                source=sources[article.source],
                source_updated=source_updated(articles, article.source),
                copies=tuple((c, sources[c.source]) for c in others),
                related=tuple((r, sources[r.source]) for r in reports),
            )
        )
    return result


def _other_outlets(article: Article, copies: Sequence[Copy], sources: Mapping[str, SourceInfo]) -> list[Copy]:
    """The copies another outlet published: not those of a second source polling the same
    feed (one moved onto another's URL), or another feed of the same outlet, so an outlet is
    never "also reported by" itself."""
    own = sources[article.source]
    return [c for c in copies if sources[c.source].title != own.title and sources[c.source].url != own.url]


def _with_uris(article: Article) -> Article:
    """The article's links as URIs: a source may give IRIs, which validators reject in a feed."""
    return replace(
        article,
        url=as_uri(article.url),
        comments=as_uri(article.comments),
        image=as_uri(article.image),
        enclosures=tuple(replace(e, url=as_uri(e.url)) for e in article.enclosures),
    )


def with_stylesheet(xml: bytes, info: FeedInfo) -> bytes:
    """``xml`` with an ``<?xml-stylesheet?>`` after its declaration, naming the output
    folder's ``feed.xsl``: a browser shows the feed as a page, feed readers ignore it.

    The address is relative (``../../feed.xsl`` from an archive page) because a browser
    applies only a stylesheet from the document's own origin, whatever ``base_url`` says.
    """
    declaration, newline, rest = xml.partition(b"\n")
    if not declaration.startswith(b"<?xml "):
        declaration, newline, rest = b"", b"", xml
    href = "../" * (info.stem or info.name).count("/") + FEED_XSL
    return declaration + newline + f'<?xml-stylesheet type="text/xsl" href="{href}"?>\n'.encode() + rest


def item_id(article: Article) -> str:
    return f"urn:uuid:{article.id}"


def feed_updated(articles: Sequence[Article], empty: datetime = EPOCH) -> datetime:
    """A feed's own date: its newest item's, so unchanged content renders the same bytes;
    ``empty`` (the feed's first publication) when it has none."""
    return max((a.updated for a in articles), default=empty)


def source_updated(articles: Sequence[Article], source: str) -> datetime:
    return max((a.updated for a in articles if a.source == source), default=EPOCH)


def _also_reported_by(copies: Sequence[Copy], sources: Mapping[str, SourceInfo]) -> str:
    """The paragraph that names a story's other outlets, each linked to its copy."""
    names = [
        f'<a href="{html.escape(c.url)}">{html.escape(sources[c.source].title)}</a>'
        if c.url
        else html.escape(sources[c.source].title)
        for c in copies
    ]
    return f"<p>{ALSO_REPORTED_BY}: {', '.join(names)}</p>"


def _credited(article: Article, copies: Sequence[Copy], sources: Mapping[str, SourceInfo]) -> Article:
    """The article with "Also reported by" at the end of the text a reader sees."""
    if not copies:
        return article
    paragraph = _also_reported_by(copies, sources)
    if article.content:
        return replace(article, content=article.content + paragraph)
    if article.summary:
        return replace(article, summary=article.summary + paragraph)
    return replace(article, content=f"<p>{html.escape(article.text or article.title)}</p>{paragraph}")
