"""Render a feed as RSS 2.0, through feedgen, mending what feedgen 1.0 gets wrong: the
channel <link> is whichever link was set last, and there is no atom:link rel=hub."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from feedgen.feed import FeedGenerator

from newsriver.models import Article
from newsriver.publish.related import NO_RELATED, Related
from newsriver.publish.render_common import (
    ATOM_NS,
    DC_NS,
    ITUNES_NS,
    MEDIA_NS,
    NO_COPIES,
    CopiesByItem,
    FeedInfo,
    SourceInfo,
    with_stylesheet,
)
from newsriver.publish.render_feedgen import FeedFixes, ItemFixes, generator, sub


def render_rss(
    info: FeedInfo,
    articles: Sequence[Article],
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem = NO_COPIES,
    related: Related = NO_RELATED,
) -> bytes:
    fg = rss_generator(info, articles, sources, copies, related)
    fg.link(href=info.url("rss"), rel="self", replace=True)
    fg.link(href=info.link, rel="alternate")
    return with_stylesheet(bytes(fg.rss_str(pretty=True)), info)


def rss_generator(
    info: FeedInfo,
    articles: Sequence[Article],
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem,
    related: Related = NO_RELATED,
) -> FeedGenerator:
    """The shared generator with the RSS fixes, its links still those it set for Atom."""
    fg = generator(info, articles, sources, copies, _RssChannel, _RssItem, related)
    fg.newsriver.podcast = any(a.podcast for a in articles)
    return fg


class _RssChannel(FeedFixes):
    podcast = False  # an item has itunes:* metadata: the namespace is declared

    def extend_ns(self) -> dict[str, str]:
        # itunes only where used, so other feeds' bytes (and ETags) stay as they were.
        return super().extend_ns() | ({"itunes": ITUNES_NS} if self.podcast else {})

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        # feedgen writes whichever link() came last; the channel link is the web page.
        channel.find("link").text = self.info.link
        for hub in self.info.hubs:
            sub(channel, f"{{{ATOM_NS}}}link", rel="hub", href=hub)
        return rss


class _RssItem(ItemFixes):
    def extend_rss(self, element: Any) -> Any:
        sub(element, "source", self.item.source.title, url=self.item.source.url)
        _credits(element, self.item.article)
        _podcast(element, self.item.article)
        return element


def _podcast(element: Any, article: Article) -> None:
    """The episode's itunes:* metadata, as Apple's podcast RSS spells it, for podcast apps."""
    podcast = article.podcast
    if podcast is None:
        return
    if podcast.duration:
        sub(element, f"{{{ITUNES_NS}}}duration", str(podcast.duration))
    if article.image:
        sub(element, f"{{{ITUNES_NS}}}image", href=article.image)
    if podcast.explicit is not None:
        sub(element, f"{{{ITUNES_NS}}}explicit", "true" if podcast.explicit else "false")
    for tag, number in (("season", podcast.season), ("episode", podcast.episode)):
        if number:
            sub(element, f"{{{ITUNES_NS}}}{tag}", str(number))
    if podcast.episode_type:
        sub(element, f"{{{ITUNES_NS}}}episodeType", podcast.episode_type)


def _credits(element: Any, article: Article) -> None:
    """RSS <author> must be an e-mail address, so feedgen drops authors without one: they,
    the language and the image go in the Dublin Core and Media RSS elements."""
    for author in article.authors:
        if author.name and not author.email:
            sub(element, f"{{{DC_NS}}}creator", author.name)
    if article.language:
        sub(element, f"{{{DC_NS}}}language", article.language)
    if article.image:
        sub(element, f"{{{MEDIA_NS}}}thumbnail", url=article.image)
