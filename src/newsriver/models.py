"""The data that passes between pipeline stages: frozen, explicitly typed, no behaviour.

Glossary: names, docstrings and comments use these words in these senses only.

Ingest (a source's side):
- source: a feed newsriver polls (config ``sources:``), known by its config name.
  outlet: who publishes a source, as a reader knows it (its title).
- document: the bytes one fetch of a source returned (``FetchResult.body``).
- entry: one item of a source's document as parsed, before normalization
  (``ParsedFeed.entries``). entry key: its identity within its source (guid, link or hash).
- article: an entry normalized into newsriver's schema (``Article``); one per source and
  entry key. What the database stores, and what keep/block rules and retention judge.
- known entry: an entry the source's last document carried just as this one does (the
  same raw hash: the entry as parsed, with what normalizing it reads). It is not
  normalized again and reaches the store as ``Seen``; a source's known entries are its
  ``sources.digests`` column (``ingest.digest.Known``).
- warning: what a broken document lost when the parser read it only by recovering from it
  (cut short, or entries it could not read), "" when nothing was lost: ``FeedMeta.warning``
  from the parse, ``sources.warning`` as stored. The source's state is "warning" while its
  last document has one and its last fetch succeeded. Not an error (``last_error``): what
  could be read was stored. A fault that lost nothing (a bare "&", junk after the root) is
  no warning.

Stories (across sources):
- story: the articles that are copies of one text (one outlet's article, or several
  outlets' copies of it); its id is the id of the copy it shows. (The database column
  ``cluster`` holds it, being renamed ``story``.)
- copy: one article of a story. ``match.Copy`` is how an item names one of its story's
  other copies ("Also reported by").
- candidate: a stored article the near-duplicate index offers for comparison.
- event: independent stories that report the same event: related coverage, grouped,
  never merged.

Publish (newsriver's side):
- feed: an output feed newsriver publishes (config ``feeds:``), in one or more formats
  (Atom, RSS, JSON Feed). A feed's files are ``NAME.atom``, ``NAME.rss``, ``NAME.json``
  (RFC 5005's "subscription document"); its archive pages, ``NAME/archive/YYYY-MM.atom``,
  hold the items that have left them.
- item: what a feed shows for one story: ``Story.item`` is the article it shows,
  ``render_common.Item`` adds the credits every renderer writes. An Atom <entry> and an
  RSS <item> are each one item.
- publish: render every feed's files, its archive pages, the OPML lists and the index
  page into the output folder, writing only the files whose bytes changed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


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
class Podcast:
    """An episode's podcast metadata (``itunes:*``), passed through to the RSS output so a
    combined podcast feed still works in podcast apps. ``None``/"" where the source says nothing."""

    duration: int | None = None  # seconds (JSON Feed's duration_in_seconds)
    explicit: bool | None = None
    season: int | None = None
    episode: int | None = None
    episode_type: str = ""  # full, trailer or bonus


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
    podcast: Podcast | None = None  # itunes:duration, explicit, season, episode, episodeType


@dataclass(frozen=True, slots=True)
class Seen:
    """An entry the source's last document carried as it is now: what the store needs to know
    it is still there, without normalizing it again (``normalize.digested``).

    Its identity and date as ``normalize_entry`` makes them; ``content_hash`` is the first
    ``SEEN_HASH`` characters of its article's (the store holds the whole hash)."""

    id: str
    source: str
    entry_key: str
    canonical_url: str
    published: datetime
    first_seen: datetime
    content_hash: str


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
    # Not what the source says but how its document read: its warning (see the glossary).
    warning: str = ""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    meta: FeedMeta
    entries: tuple[Entry, ...]  # not yet normalized
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


@dataclass(frozen=True, slots=True)
class FetchState:
    """What a fetch of a source needs to know: where to ask, and the validators from last time."""

    url: str
    etag: str = ""
    last_modified: str = ""
    public: bool = False  # the URL was reached from a public address: it may not lead to a private one


# ----- an entry as a parser read it, before normalization: text as the document gave it
# (HTML not yet sanitized, URLs not yet resolved), whatever the format or the parser.


@dataclass(frozen=True, slots=True)
class EntryLink:
    href: str
    rel: str = "alternate"


@dataclass(frozen=True, slots=True)
class EntryText:
    """A summary or content: markup and all, with what is needed to make it safe HTML."""

    value: str
    type: str = ""  # "text/plain" is escaped; any other type is read as HTML
    base: str = ""  # the xml:base in force, "" for none
    language: str = ""


@dataclass(frozen=True, slots=True)
class EntryDate:
    text: str  # as written, read again when the parser may have misread it
    parsed: time.struct_time | None = None  # UTC, as the parser read it; None when it could not


@dataclass(frozen=True, slots=True)
class EntryPerson:
    name: str = ""
    email: str = ""
    href: str = ""


@dataclass(frozen=True, slots=True)
class EntryEnclosure:
    href: str
    type: str = ""
    length: str = ""  # bytes, as written


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a document as parsed: every field ``normalize`` reads, "" or empty when absent."""

    id: str = ""  # guid, Atom id or JSON Feed id
    link: str = ""  # the entry's web page as written ("" when a parser had only an id to offer)
    links: tuple[EntryLink, ...] = ()
    title: str = ""
    summary: EntryText | None = None
    content: EntryText | None = None  # the first one
    published: EntryDate | None = None
    updated: EntryDate | None = None
    created: EntryDate | None = None
    author: str = ""  # free text, as written ("jo@x.org (Jo)")
    authors: tuple[EntryPerson, ...] = ()
    categories: tuple[str, ...] = ()
    enclosures: tuple[EntryEnclosure, ...] = ()
    images: tuple[str, ...] = ()  # thumbnails, then image media (media:thumbnail, media:content)
    image: str = ""  # the entry's own picture (itunes:image): after any image enclosure
    comments: str = ""
    language: str = ""
    podcast: Podcast | None = None  # read from itunes:* elements (ingest/podcast.py)
