"""A fetched document to what the store takes: parse → normalize → keep → fingerprint.

The CPU-bound stage of a poll, apart from the fetch threads and the database so it can run
in worker processes: it imports neither the HTTP client nor SQLAlchemy, and takes and
returns only picklable data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsriver.config.schema import SourceConfig
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
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
    parsed = parse(body, url, content_type)
    articles = tuple(a for a in normalize_feed(parsed, source.name, url, now) if stored(source, a))
    prints = tuple(of_entry(a.title, a.summary, a.content) for a in articles) if near else ()
    return Digest(parsed.meta, articles, prints)
