"""What every reader of a document shares: the feed-level values it found, and how they become ``FeedMeta``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from newsriver.ingest.sanitize import to_text, xml_safe
from newsriver.models import Entry, FeedMeta
from newsriver.urls import absolute


@dataclass(frozen=True, slots=True)
class FeedHead:
    """A source's description of itself as its document wrote it (markup, relative link and all)."""

    title: str = ""
    link: str = ""
    subtitle: str = ""
    language: str = ""
    ttl: str = ""  # minutes
    update_period: str = ""  # sy:updatePeriod
    update_frequency: str = ""  # sy:updateFrequency
    warning: str = ""  # what a broken document lost, when the parser recovered from it (``warning_of``)


def feed_meta(head: FeedHead, url: str) -> FeedMeta:
    """``head`` cleaned: plain text, an absolute web link, a language tag without spaces."""
    return FeedMeta(
        title=to_text(head.title),
        link=web_link(head.link, url),
        subtitle=to_text(head.subtitle),
        language=xml_safe(head.language.strip()),
        ttl_minutes=int(head.ttl) if head.ttl.strip().isdigit() else None,
        update_period=head.update_period,
        update_frequency=head.update_frequency,
        warning=head.warning,
    )


def web_link(link: str, base: str) -> str:
    """The feed's web page, absolute; "" unless it is an http(s) URL a reader can open."""
    resolved = absolute(link, base)
    return xml_safe(resolved) if resolved.startswith(("http://", "https://")) else ""


def handed_over(entries: list[Entry]) -> Iterator[Entry]:
    """``entries`` in order, each let go of as it is taken: the list is emptied from its end."""
    entries.reverse()
    while entries:
        yield entries.pop()
