"""A fetched document to what the store takes: parse → normalize → keep → fingerprint.

The CPU-bound stage of a poll, apart from the fetch threads and the database so it can run
in worker processes: it imports neither the HTTP client nor SQLAlchemy, and takes and
returns only picklable data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from newsriver.config.schema import SourceConfig
from newsriver.ingest.normalize import articles_of
from newsriver.ingest.parse import parse_lazily
from newsriver.models import Article, FeedMeta
from newsriver.stories.filters import stored
from newsriver.stories.fingerprint import Fingerprint, of_entry


@dataclass(frozen=True, slots=True)
class Digest:
    meta: FeedMeta
    articles: tuple[Article, ...]
    prints: tuple[Fingerprint, ...]  # one per article, when near-duplicates are looked for; else none


def digest(body: bytes, url: str, content_type: str, source: SourceConfig, now: datetime, near: bool) -> Digest:
    """The articles of one document that ``source`` keeps; raises ParseError for a non-feed."""
    meta, chunks = digest_in_chunks(body, url, content_type, source, now, near)
    articles: list[Article] = []
    prints: list[Fingerprint] = []
    for chunk in chunks:
        articles += chunk.articles
        prints += chunk.prints
    return Digest(meta, tuple(articles), tuple(prints))


def digest_in_chunks(
    body: bytes, url: str, content_type: str, source: SourceConfig, now: datetime, near: bool, size: int = 1000
) -> tuple[FeedMeta, Iterator[Digest]]:
    """``digest``, its articles ``size`` at a time as they are parsed, normalized and
    fingerprinted: a document of 100,000 entries need not have every stage's copy of each at
    once (the articles' fingerprints alone take 2.5 kB each, its entries 2 kB)."""
    head, entries = parse_lazily(body, url, content_type, hold=size)
    kept = (a for a in articles_of(head, source.name, url, now, entries) if stored(source, a))

    def chunks() -> Iterator[Digest]:
        while articles := tuple(islice(kept, size)):
            prints = tuple(of_entry(a.title, a.summary, a.content) for a in articles) if near else ()
            yield Digest(head.meta, articles, prints)

    return head.meta, chunks()
