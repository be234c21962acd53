"""Render output feeds (Atom, RSS 2.0, JSON Feed 1.1) and write them atomically.

feedgen renders Atom and RSS; an extension mends what feedgen 1.0 gets wrong (see
ANCHORS.md): entry links lose rel/type/length, Atom <source> lacks id and updated, RSS
channel <link> is whichever link was set last, RSS lacks atom:link rel=hub.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from newsriver import __version__
from newsriver.ingest.normalize import ID_NAMESPACE
from newsriver.ingest.sanitize import to_text
from newsriver.models import Article
from newsriver.stories.match import Copy

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
FH_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """How an item's source is credited in output."""

    name: str
    title: str
    url: str  # the source feed's URL
    link: str  # the source's web site, when known


@dataclass(frozen=True, slots=True)
class FeedInfo:
    name: str
    title: str
    description: str
    base_url: str  # public URL of the output folder, ends with /
    link: str  # rel=alternate: the feed's web page
    hubs: tuple[str, ...] = ()
    stem: str = ""  # the file's path under base_url without extension, when not the name (archive pages)
    links: tuple[tuple[str, str], ...] = ()  # more Atom feed links (rel, href): RFC 5005 navigation
    archive: bool = False  # an RFC 5005 archive document, marked <fh:archive/>

    def url(self, fmt: str) -> str:
        return f"{self.base_url}{self.stem or self.name}.{fmt}"

    @property
    def id(self) -> str:
        # Independent of base_url, so moving the server does not re-identify the feed.
        return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, 'feed:' + self.name)}"


def item_id(article: Article) -> str:
    return f"urn:uuid:{article.id}"


def newest(articles: Sequence[Article]) -> datetime:
    """A feed's own date: its newest item's, so unchanged content renders the same bytes."""
    return max((a.updated for a in articles), default=EPOCH)


def source_updated(articles: Sequence[Article], source: str) -> datetime:
    return max((a.updated for a in articles if a.source == source), default=EPOCH)


# --- Atom and RSS through feedgen ---------------------------------------------------


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v})
    if text is not None:
        element.text = text
    return element


class _FeedFixes(BaseExtension):  # type: ignore[misc]
    info: FeedInfo

    def extend_ns(self) -> dict[str, str]:
        # fh only where used, so the other documents' bytes (and ETags) stay as they were.
        return {"media": MEDIA_NS, "dc": DC_NS} | ({"fh": FH_NS} if self.info.archive else {})

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        # feedgen writes whichever link() came last; the channel link is the web page.
        channel.find("link").text = self.info.link
        for hub in self.info.hubs:
            _sub(channel, f"{{{ATOM_NS}}}link", rel="hub", href=hub)
        return rss

    def extend_atom(self, feed: Any) -> Any:
        for hub in self.info.hubs:
            _sub(feed, "link", rel="hub", href=hub)
        for rel, href in self.info.links:
            _sub(feed, "link", rel=rel, type="application/atom+xml", href=href)
        if self.info.archive:
            _sub(feed, f"{{{FH_NS}}}archive")
        return feed


class _EntryFixes(BaseExtension):  # type: ignore[misc]
    article: Article
    source: SourceInfo
    source_updated: datetime
    related: tuple[tuple[str, str], ...]  # (URL, outlet) of the story's other copies

    def extend_atom(self, entry: Any) -> Any:
        # feedgen drops rel/type/length from entry links, turning an enclosure into a
        # second alternate link; and its <source> lacks id and updated. Rewrite both.
        # (feedgen's Atom elements carry no lxml namespace: the root declares it as a
        # plain xmlns attribute, so children are matched and created by bare name.)
        for element in entry.findall("link") + entry.findall("source"):
            entry.remove(element)
        a = self.article
        if a.url:
            _sub(entry, "link", rel="alternate", type="text/html", href=a.url)
        for enclosure in a.enclosures:
            length = str(enclosure.length) if enclosure.length is not None else ""
            _sub(entry, "link", rel="enclosure", href=enclosure.url, type=enclosure.type, length=length)
        if a.comments:
            _sub(entry, "link", rel="replies", type="text/html", href=a.comments)
        if a.language:
            entry.set(XML_LANG, a.language)
        if a.image:
            _sub(entry, f"{{{MEDIA_NS}}}thumbnail", url=a.image)
        for url, outlet in self.related:
            _sub(entry, "link", rel="related", type="text/html", href=url, title=outlet)
        source = _sub(entry, "source")
        _sub(source, "id", self.source.url)
        _sub(source, "title", self.source.title)
        if not any(author.name for author in a.authors):
            # RFC 4287 §4.1.2: an entry without an author of its own takes its source's,
            # else the feed's; newsriver's feed has none, so credit the source feed.
            _sub(_sub(source, "author"), "name", self.source.title)
        _sub(source, "link", rel="self", href=self.source.url)
        if self.source.link:
            _sub(source, "link", rel="alternate", type="text/html", href=self.source.link)
        _sub(source, "updated", self.source_updated.isoformat())
        return entry

    def extend_rss(self, item: Any) -> Any:
        _sub(item, "source", self.source.title, url=self.source.url)
        # RSS <author> must be an e-mail address, so feedgen drops authors without one:
        # they, the language and the image go in the Dublin Core and Media RSS elements.
        a = self.article
        for author in a.authors:
            if author.name and not author.email:
                _sub(item, f"{{{DC_NS}}}creator", author.name)
        if a.language:
            _sub(item, f"{{{DC_NS}}}language", a.language)
        if a.image:
            _sub(item, f"{{{MEDIA_NS}}}thumbnail", url=a.image)
        return item


Also = Mapping[str, Sequence[Copy]]  # item id → the other outlets' copies of its story
NO_COPIES: Also = {}


def _also_reported_by(copies: Sequence[Copy], sources: Mapping[str, SourceInfo]) -> str:
    """The paragraph that names a story's other outlets, each linked to its copy."""
    names = [
        f'<a href="{html.escape(c.url)}">{html.escape(sources[c.source].title)}</a>'
        if c.url
        else html.escape(sources[c.source].title)
        for c in copies
    ]
    return f"<p>Also reported by: {', '.join(names)}</p>"


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


def _related(copies: Sequence[Copy], sources: Mapping[str, SourceInfo]) -> tuple[tuple[str, str], ...]:
    links = {c.url: sources[c.source].title for c in copies if c.url}
    return tuple(links.items())


def _generator(
    info: FeedInfo, articles: Sequence[Article], sources: Mapping[str, SourceInfo], also: Also
) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("newsriver", _FeedFixes, _EntryFixes)
    fg.newsriver.info = info
    fg.id(info.id)
    fg.title(info.title or info.name)
    fg.subtitle(info.description or f"{info.title or info.name}, combined by newsriver")
    fg.link(href=info.link, rel="alternate", type="text/html")
    fg.link(href=info.url("atom"), rel="self", type="application/atom+xml")
    fg.generator("newsriver", __version__, "https://github.com/newsriver/newsriver")
    fg.updated(newest(articles))  # also RSS lastBuildDate: never "now"
    for listed in articles:
        copies = also.get(listed.id, ())
        article = _credited(listed, copies, sources)
        source = sources[article.source]
        fe = fg.add_entry(order="append")
        fe.newsriver.article = article
        fe.newsriver.source = source
        fe.newsriver.source_updated = source_updated(articles, article.source)
        fe.newsriver.related = _related(copies, sources)
        fe.id(item_id(article))
        fe.title(article.title)
        fe.updated(article.updated)
        fe.published(article.published)
        if article.url:
            fe.link(href=article.url, rel="alternate")
        if article.summary:
            fe.summary(article.summary, type="html")
        if article.content:
            fe.content(article.content, type="html")
        elif not article.url:
            fe.content(article.text or article.title, type="text")
        for author in article.authors:
            if author.name:
                fe.author(name=author.name, email=author.email or None, uri=author.url or None)
        for category in article.categories:
            fe.category(term=category)
        if article.enclosures:
            first = article.enclosures[0]  # RSS allows one enclosure per item
            fe.enclosure(first.url, str(first.length or 0), first.type or "application/octet-stream")
        if article.comments:
            fe.comments(article.comments)
    return fg


def render_atom(
    info: FeedInfo, articles: Sequence[Article], sources: Mapping[str, SourceInfo], also: Also = NO_COPIES
) -> bytes:
    return bytes(_generator(info, articles, sources, also).atom_str(pretty=True))


def render_rss(
    info: FeedInfo, articles: Sequence[Article], sources: Mapping[str, SourceInfo], also: Also = NO_COPIES
) -> bytes:
    fg = _generator(info, articles, sources, also)
    fg.link(href=info.url("rss"), rel="self", replace=True)
    fg.link(href=info.link, rel="alternate")
    return bytes(fg.rss_str(pretty=True))


# --- JSON Feed, written directly -----------------------------------------------------


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_json(
    info: FeedInfo, articles: Sequence[Article], sources: Mapping[str, SourceInfo], also: Also = NO_COPIES
) -> bytes:
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title or info.name,
        "home_page_url": info.link,
        "feed_url": info.url("json"),
        "description": info.description or f"{info.title or info.name}, combined by newsriver",
    }
    if info.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in info.hubs]
    feed["items"] = [_json_item(a, sources, also.get(a.id, ())) for a in articles]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _json_item(listed: Article, sources: Mapping[str, SourceInfo], copies: Sequence[Copy]) -> dict[str, Any]:
    a = _credited(listed, copies, sources)
    source = sources[a.source]
    item: dict[str, Any] = {"id": item_id(a)}
    if a.url:
        item["url"] = a.url
    item["title"] = a.title
    if a.content or a.summary:
        item["content_html"] = a.content or a.summary
    else:
        item["content_text"] = a.text or a.title
    if a.summary and a.content:
        item["summary"] = to_text(a.summary)
    if a.image:
        item["image"] = a.image
    item["date_published"] = _rfc3339(a.published)
    item["date_modified"] = _rfc3339(a.updated)
    authors = [
        {k: v for k, v in (("name", au.name), ("url", au.url or (f"mailto:{au.email}" if au.email else ""))) if v}
        for au in a.authors
    ]
    if authors:
        item["authors"] = authors
    if a.categories:
        item["tags"] = list(a.categories)
    if a.language:
        item["language"] = a.language
    if a.enclosures:
        item["attachments"] = [
            {"url": e.url, "mime_type": e.type or "application/octet-stream"}
            | ({"size_in_bytes": e.length} if e.length is not None else {})
            for e in a.enclosures
        ]
    if a.comments:
        item["external_url"] = a.comments
    item["_source"] = {"name": source.name, "title": source.title, "url": source.url}
    if copies:
        item["_also_reported_by"] = [
            {"name": c.source, "title": sources[c.source].title, "url": c.url, "date_published": _rfc3339(c.published)}
            for c in copies
        ]
    return item


RENDERERS = {"atom": render_atom, "rss": render_rss, "json": render_json}


# --- files ---------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` unless it already holds exactly that; True if written.

    Readers of the folder see the old file or the new one, never a half-written one.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
