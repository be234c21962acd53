"""Atom and RSS go through one feedgen generator, filled here; each format mends what
feedgen 1.0 gets wrong in its own extension (``render_atom``, ``render_rss``).

Each extension's feed part gets the ``FeedInfo`` as ``info``, its entry part (feedgen's word
for an item) the ``Item`` as ``item``, under the extension name ``newsriver``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from newsriver import __version__
from newsriver.ingest.normalize import ID_NAMESPACE
from newsriver.models import Article
from newsriver.publish.related import NO_RELATED, Related
from newsriver.publish.render_common import (
    DC_NS,
    FH_NS,
    MEDIA_NS,
    CopiesByItem,
    FeedInfo,
    Item,
    SourceInfo,
    feed_updated,
    item_id,
    items,
)


class FeedFixes(BaseExtension):  # type: ignore[misc]
    """The feed part of a format's extension: the namespaces both formats declare."""

    info: FeedInfo

    def extend_ns(self) -> dict[str, str]:
        # fh only where used, so the other files' bytes (and ETags) stay as they were.
        return {"media": MEDIA_NS, "dc": DC_NS} | ({"fh": FH_NS} if self.info.archive else {})


class ItemFixes(BaseExtension):  # type: ignore[misc]
    """The item part of a format's extension."""

    item: Item


def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    """A new child element; attributes with empty values are left out."""
    element = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v})
    if text is not None:
        element.text = text
    return element


def feed_id(info: FeedInfo) -> str:
    # Independent of base_url, so moving the server does not re-identify the feed.
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, 'feed:' + info.name)}"


def generator(
    info: FeedInfo,
    articles: Sequence[Article],
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem,
    feed_fixes: type[FeedFixes],
    item_fixes: type[ItemFixes],
    related: Related = NO_RELATED,
) -> FeedGenerator:
    """A feedgen generator holding the feed and its items, with one format's fixes."""
    fg = FeedGenerator()
    fg.register_extension("newsriver", feed_fixes, item_fixes)
    fg.newsriver.info = info
    fg.id(feed_id(info))
    fg.title(info.title or info.name)
    fg.subtitle(info.description or f"{info.title or info.name}, combined by newsriver")
    fg.link(href=info.link, rel="alternate", type="text/html")
    fg.link(href=info.url("atom"), rel="self", type="application/atom+xml")
    fg.generator("newsriver", __version__, "https://github.com/newsriver/newsriver")
    fg.updated(feed_updated(articles, info.first_published))  # also RSS lastBuildDate: never "now"
    for item in items(articles, sources, copies, related):
        _add_entry(fg, item)
    return fg


def _add_entry(fg: FeedGenerator, item: Item) -> None:
    article = item.article
    fe = fg.add_entry(order="append")
    fe.newsriver.item = item
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
