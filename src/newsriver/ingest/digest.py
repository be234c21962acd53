"""A fetched document to what the store takes: parse → normalize → keep → fingerprint.

The CPU-bound stage of a poll, apart from the fetch threads and the database so it can run
in worker processes: it imports neither the HTTP client nor SQLAlchemy, and takes and
returns only picklable data.

Entries the source's last document carried as they are now are not normalized again
(``known``, ``normalize.digested``): they come as ``Seen``, which the store checks against
the rows it holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice

from newsriver.config.schema import SourceConfig
from newsriver.ingest.normalize import RAW_HASH_DIGITS, digested
from newsriver.ingest.parse import parse_lazily
from newsriver.models import Article, FeedMeta, Seen
from newsriver.stories.filters import stored
from newsriver.stories.fingerprint import Fingerprint, of_entry

# ``Known``'s value for an entry the source's rules do not store.
DROPPED = "-"
# Past this many entries a document's known entries are not recorded: its column would take
# 33 bytes an entry on every poll that brings it.
KNOWN_LIMIT = 5000
# Digits of an article's content hash that ``Known`` keeps (``Seen.content_hash``): 64 bits
# tell a row changed since as surely as the whole 256, at a quarter of the column.
SEEN_HASH = 16


@dataclass(frozen=True, slots=True)
class Digest:
    meta: FeedMeta
    articles: tuple[Article, ...]
    prints: tuple[Fingerprint, ...]  # one per article, when near-duplicates are looked for; else none
    seen: tuple[Seen, ...] = ()  # entries as the last document had them, not normalized again


@dataclass(slots=True)
class Known:
    """A document's entries by raw hash, as ``sources.digests`` holds them: the first
    ``SEEN_HASH`` digits of each one's content hash, or ``DROPPED``. Read in, and made for
    the next document as its chunks are taken (``text`` once they all are)."""

    before: dict[str, str] = field(default_factory=dict)
    now: list[str] = field(default_factory=list)
    complete: bool = True

    @classmethod
    def read(cls, text: str | None) -> Known:
        return cls({token[:RAW_HASH_DIGITS]: token[RAW_HASH_DIGITS:] for token in text.split()} if text else {})

    def add(self, raw: str, recorded: str) -> None:
        if len(self.now) >= KNOWN_LIMIT:
            self.complete = False
        else:
            self.now.append(raw + recorded)

    @property
    def text(self) -> str | None:
        """What ``sources.digests`` is to hold after this document (None: nothing known)."""
        return " ".join(self.now) if self.complete and self.now else None


def digest(body: bytes, url: str, content_type: str, source: SourceConfig, now: datetime, near: bool) -> Digest:
    """The articles of one document that ``source`` keeps; raises ParseError for a non-feed."""
    meta, chunks = digest_in_chunks(body, url, content_type, source, now, near)
    articles: list[Article] = []
    prints: list[Fingerprint] = []
    for chunk in chunks:
        articles += chunk.articles
        prints += chunk.prints
    return Digest(meta, tuple(articles), tuple(prints))


def rules_of(source: SourceConfig) -> str:
    """What of ``source``'s config decides which of its articles are stored (``stored``),
    for the raw hashes: another rule, and every entry is normalized again."""
    # Each rule's fields as JSON, spelt as pydantic's model_dump_json spelt them (the models
    # were pydantic's): the raw hashes stored before still match.
    rules = [
        json.dumps(asdict(rule), ensure_ascii=False, separators=(",", ":")) if rule is not None else ""
        for rule in (source.keep, source.block)
    ]
    return "\n".join(rules)


def digest_in_chunks(
    body: bytes,
    url: str,
    content_type: str,
    source: SourceConfig,
    now: datetime,
    near: bool,
    size: int = 1000,
    known: Known | None = None,
) -> tuple[FeedMeta, Iterator[Digest]]:
    """``digest``, its articles ``size`` at a time as they are parsed, normalized and
    fingerprinted: a document of 100,000 entries need not have every stage's copy of each at
    once (the articles' fingerprints alone take 2.5 kB each, its entries 2 kB).

    With ``known`` (the source's last document's entries), the entries it holds come as
    ``Seen`` (or not at all, for those the rules drop), and ``known`` records this
    document's for the next one."""
    head, entries = parse_lazily(body, url, content_type, hold=size)
    salt = rules_of(source) if known is not None else ""
    items = digested(head, source.name, url, now, entries, known.before if known is not None else None, salt)

    def kept() -> Iterator[Article | Seen]:
        for raw, item in items:
            if isinstance(item, Seen):
                if known is not None:
                    known.add(raw, item.content_hash)
                if item.content_hash != DROPPED:
                    yield item
                continue
            keeping = stored(source, item)
            if known is not None:
                known.add(raw, item.content_hash[:SEEN_HASH] if keeping else DROPPED)
            if keeping:
                yield item

    taken = kept()

    def chunks() -> Iterator[Digest]:
        while batch := tuple(islice(taken, size)):
            articles = tuple(a for a in batch if isinstance(a, Article))
            seen = tuple(a for a in batch if isinstance(a, Seen))
            prints = tuple(of_entry(a.title, a.summary, a.content) for a in articles) if near else ()
            yield Digest(head.meta, articles, prints, seen)

    return head.meta, chunks()
