"""Render a feed as Atom (RFC 4287), through feedgen, mending what feedgen 1.0 gets wrong:
entry links lose rel/type/length, and <source> lacks id and updated.

Archive pages (RFC 5005) are Atom too, told apart by their ``FeedInfo``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from newsriver.models import Article
from newsriver.publish.related import ALSO_REPORTED_BY, NO_RELATED, Related, link_title, related_links
from newsriver.publish.render_common import (
    FH_NS,
    MEDIA_NS,
    NO_COPIES,
    XML_LANG,
    CopiesByItem,
    FeedInfo,
    Item,
    SourceInfo,
    with_stylesheet,
)
from newsriver.publish.render_feedgen import FeedFixes, ItemFixes, generator, sub
from newsriver.stories.match import Copy

# feedgen's Atom elements carry no lxml namespace (the root declares it as a plain xmlns
# attribute), so the functions below find and create children by bare name.


def render_atom(
    info: FeedInfo,
    articles: Sequence[Article],
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem = NO_COPIES,
    related: Related = NO_RELATED,
) -> bytes:
    xml = bytes(generator(info, articles, sources, copies, _AtomFeed, _AtomEntry, related).atom_str(pretty=True))
    return with_stylesheet(xml, info)


class _AtomFeed(FeedFixes):
    def extend_atom(self, feed: Any) -> Any:
        for hub in self.info.hubs:
            sub(feed, "link", rel="hub", href=hub)
        for rel, href in self.info.links:
            sub(feed, "link", rel=rel, type="application/atom+xml", href=href)
        if self.info.archive:
            sub(feed, f"{{{FH_NS}}}archive")
        return feed


class _AtomEntry(ItemFixes):
    def extend_atom(self, entry: Any) -> Any:
        # feedgen drops rel/type/length from entry links, turning an enclosure into a
        # second alternate link; and its <source> lacks id and updated. Rewrite both.
        for element in entry.findall("link") + entry.findall("source"):
            entry.remove(element)
        _links(entry, self.item.article)
        _copy_links(entry, self.item.copies)
        for url, title in related_links(self.item.related):
            sub(entry, "link", rel="related", type="text/html", href=url, title=title)
        _source(entry, self.item)
        return entry


def _links(entry: Any, article: Article) -> None:
    """The article's own links, its language and its image."""
    if article.url:
        sub(entry, "link", rel="alternate", type="text/html", href=article.url)
    for enclosure in article.enclosures:
        length = str(enclosure.length) if enclosure.length is not None else ""
        sub(entry, "link", rel="enclosure", href=enclosure.url, type=enclosure.type, length=length)
    if article.comments:
        sub(entry, "link", rel="replies", type="text/html", href=article.comments)
    if article.language:
        entry.set(XML_LANG, article.language)
    if article.image:
        sub(entry, f"{{{MEDIA_NS}}}thumbnail", url=article.image)


def _copy_links(entry: Any, copies: Sequence[tuple[Copy, SourceInfo]]) -> None:
    """A rel=related link to each of the story's other copies that has a URL, its title
    saying it is a copy ("Also reported by: Outlet — its headline").

    Copies keep rel="related" rather than a relation of their own: "alternate" allows one
    text/html link per entry (RFC 4287 §4.1.1), "via" names the entry's source and
    "duplicate" (RFC 6249) byte-identical representations, none of which an edited copy is;
    feed readers show a link's title, so the title is what tells a copy from related coverage.
    """
    titles = {copy.url: link_title(ALSO_REPORTED_BY, source.title, copy.title) for copy, source in copies if copy.url}
    for url, title in titles.items():
        sub(entry, "link", rel="related", type="text/html", href=url, title=title)


def _source(entry: Any, item: Item) -> None:
    """<source>: the source feed the item came from, crediting it as author when the article names none."""
    source = item.source
    element = sub(entry, "source")
    sub(element, "id", source.url)
    sub(element, "title", source.title)
    if not any(author.name for author in item.article.authors):
        # RFC 4287 §4.1.2: an entry without an author of its own takes its source's,
        # else the feed's; newsriver's feed has none, so credit the source feed.
        sub(sub(element, "author"), "name", source.title)
    sub(element, "link", rel="self", href=source.url)
    if source.link:
        sub(element, "link", rel="alternate", type="text/html", href=source.link)
    sub(element, "updated", item.source_updated.isoformat())
