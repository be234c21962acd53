"""The data that passes between pipeline stages: frozen, explicitly typed, no behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Author:
    name: str = ""
    email: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str = ""
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """One entry of one source in the common schema, whatever format it came in."""

    id: str  # newsriver's stable id, derived from source + entry_key
    source: str  # the source's config name
    entry_key: str  # the entry's own identity inside its source (guid, link or hash)
    url: str  # as the source gave it, absolute; shown to readers
    canonical_url: str  # for identity across sources; tracking parameters removed
    title: str
    summary: str  # sanitized HTML
    content: str  # sanitized HTML
    text: str  # plain text of content or summary
    authors: tuple[Author, ...]
    published: datetime  # timezone-aware UTC
    updated: datetime
    first_seen: datetime
    categories: tuple[str, ...]
    enclosures: tuple[Enclosure, ...]
    language: str
    image: str
    comments: str
    content_hash: str  # changes only when what a reader sees changes


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a source says about itself."""

    title: str = ""
    link: str = ""
    subtitle: str = ""
    language: str = ""
    ttl_minutes: int | None = None
    update_period: str = ""  # sy:updatePeriod (hourly, daily, …)
    update_frequency: str = ""  # sy:updateFrequency: times per period


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    meta: FeedMeta
    entries: tuple[Mapping[str, Any], ...]  # feedparser entry dicts, not yet normalized
    base_url: str  # the URL the document was fetched from, after redirects


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A finished HTTP exchange. ``body`` is None when the server answered 304."""

    url: str  # the URL finally answered, after temporary redirects
    status: int
    body: bytes | None
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""
    permanent_url: str = ""  # set when a 301/308 moved the feed for good
    headers: Mapping[str, str] = field(default_factory=dict)
    public: bool = False  # the exchange went through a public address

    @property
    def not_modified(self) -> bool:
        return self.body is None
