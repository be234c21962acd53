"""Saving one fetch's articles with their verdicts (new, edit, copy), and the conversion
between an article and its row in ``entries``."""

from __future__ import annotations

import hashlib
import json
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.engine import Dialect

from newsriver.models import Article, Author, Enclosure, Podcast
from newsriver.store.near_index import _fingerprints, _fold_near_duplicates, _index
from newsriver.store.related import record
from newsriver.store.schema import chunks, entries_table, sources_table, tombstones_table
from newsriver.stories.match import NearPolicy, Stored, Verdict, decide, identifies_article
from newsriver.stories.retention import Tombstone, sift

if TYPE_CHECKING:
    from newsriver.store.store import Store
    from newsriver.stories.fingerprint import Fingerprint
    from newsriver.stories.related import RelatedPolicy


@dataclass(frozen=True, slots=True)
class SaveCounts:
    new: int = 0
    updated: int = 0


def url_hash(canonical_url: str) -> str:
    return hashlib.blake2b(canonical_url.encode(), digest_size=8).hexdigest()


@dataclass(slots=True)
class _Verdicts:
    """What one fetch's articles come to: rows to insert, rows to update, and counts."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (stored row's id, values)
    edited: dict[str, str] = field(default_factory=dict)  # the stored row an edit updates → the article's id
    counts: Counter[Verdict] = field(default_factory=Counter)


class Entries:
    def __init__(self, store: Store) -> None:
        self._store = store

    def save(
        self,
        source: str,
        articles: Sequence[Article],
        source_values: dict[str, Any],
        near: NearPolicy | None = None,
        prints: Sequence[Fingerprint] = (),
        related: RelatedPolicy | None = None,
    ) -> SaveCounts:
        """Store one fetch's articles and its source state in one transaction.

        With ``near``, a new article that is another source's copy of a stored story under
        another URL joins that story, and every new or edited article is indexed.
        ``prints``, when given, are the articles' fingerprints (made where they were parsed).
        With ``related``, each new entry is placed in an event group (``store.related``).
        """
        e = entries_table
        found = _Verdicts()
        with self._store.transaction() as conn:
            if articles:
                # Workers storing copies of one story at the same instant must see each
                # other's rows, or each would found its own story.
                self._store.one_at_a_time(conn)
                found = _verdicts(conn, source, articles)
                inserts, updates = found.inserts, found.updates
                known = {a.id: p for a, p in zip(articles, prints, strict=True)} if prints else {}
                prints_by_id = _fingerprints(inserts, updates, found.edited, known) if near is not None else {}
                if near is not None:
                    _fold_near_duplicates(conn, source, inserts, near, prints_by_id)
                if inserts:
                    _insert_entries(conn, inserts)
                for target, row in updates:
                    conn.execute(update(e).where(e.c.id == target).values(**row))
                if near is not None:
                    _index(conn, source, inserts, updates, prints_by_id)
                if related is not None:
                    record(conn, inserts, related)
            conn.execute(update(sources_table).where(sources_table.c.name == source).values(**source_values))
        return SaveCounts(new=found.counts[Verdict.NEW], updated=found.counts[Verdict.EDITED])


def _verdicts(conn: Connection, source: str, articles: Sequence[Article]) -> _Verdicts:
    """Each article's verdict against the stored rows with its entry key or canonical URL
    (and against the articles before it in this fetch), as rows to insert or update."""
    e = entries_table
    buried = _buried(conn, source, articles)
    keys = [a.entry_key for a in articles]
    by_key = {s.entry_key: s for s in _stored(conn, and_(e.c.source == source, e.c.entry_key.in_(keys)))}
    hashes = sorted({url_hash(a.canonical_url) for a in articles if a.canonical_url})
    by_url: dict[str, list[Stored]] = {}
    for s in _stored(conn, e.c.url_hash.in_(hashes)) if hashes else []:
        by_url.setdefault(s.canonical_url, []).append(s)
    in_batch = Counter(a.canonical_url for a in articles)
    found = _Verdicts()
    for article in articles:
        if article.id in buried:  # removed by retention: never taken in again
            continue
        decision = decide(article, by_key.get(article.entry_key), by_url.get(article.canonical_url, ()), in_batch)
        found.counts[decision.verdict] += 1
        if decision.verdict is Verdict.NEW:
            # A copy under the same URL is as similar as can be.
            similarity = 1.0 if decision.story != article.id else None
            row = to_row(article) | {"story": decision.story, "similarity": similarity}
            found.inserts.append(row)
            # Later articles in this batch must see this one as stored.
            stored = Stored(**{k: row[k] for k in Stored.__slots__})
            by_key[article.entry_key] = stored
            if article.canonical_url:
                by_url.setdefault(article.canonical_url, []).append(stored)
        elif decision.verdict is Verdict.EDITED:
            row = to_row(article)
            # The id, first sighting and story of the stored row stay.
            for kept in ("id", "first_seen", "source"):
                row.pop(kept)
            # An edit is news to readers, so it is republished as updated: at the
            # feed's new date, or when seen if the feed kept its old one.
            row["updated"] = max(article.updated, article.first_seen)
            found.updates.append((decision.target, row))
            found.edited[decision.target] = article.id
    return found


def _stored(conn: Connection, where: Any) -> list[Stored]:
    e = entries_table
    query = select(e.c.id, e.c.source, e.c.entry_key, e.c.canonical_url, e.c.content_hash, e.c.story, e.c.published)
    return [Stored(**r._asdict()) for r in conn.execute(query.where(where))]


def _buried(conn: Connection, source: str, articles: Sequence[Article]) -> frozenset[str]:
    """The ids of the articles retention removed before, from one reading of the source's
    feed; records which tombstones' entries the feed still carries (see ``retention``)."""
    t = tombstones_table.c
    # Most sources have no tombstone: one indexed look settles it, where the query below
    # (two lists of fifty values) costs milliseconds to build.
    if conn.execute(select(t.id).where(t.source == source).limit(1)).first() is None:
        return frozenset()
    found: dict[str, Tombstone] = {}
    for chunk in chunks(articles):
        hashes = [url_hash(a.canonical_url) for a in chunk if identifies_article(a.canonical_url)]
        matching = or_(t.missing_since.is_(None), t.id.in_([a.id for a in chunk]), t.url_hash.in_(hashes))
        query = select(t.id, t.url_hash, t.missing_since).where(t.source == source, matching)
        found.update((r.id, Tombstone(**r._asdict())) for r in conn.execute(query))
    if not found:
        return frozenset()
    sifted = sift(articles, found.values(), url_hash)
    read = max(a.first_seen for a in articles)  # all of one reading were first seen when it was read
    for ids, since in ((sifted.back, None), (sifted.missing, read)):
        for chunk in chunks(ids):
            conn.execute(update(tombstones_table).where(t.id.in_(chunk)).values(missing_since=since))
    return sifted.buried


def to_row(article: Article) -> dict[str, Any]:
    """The article's values for its row in ``entries``, but its ``story`` and ``similarity``."""
    # Field by field: dataclasses.asdict deep-copies every value, a third of a save's time.
    row = {name: getattr(article, name) for name in Article.__slots__}
    row["authors"] = [{name: getattr(a, name) for name in Author.__slots__} for a in article.authors]
    row["enclosures"] = [{name: getattr(x, name) for name in Enclosure.__slots__} for x in article.enclosures]
    row["categories"] = list(article.categories)
    podcast = article.podcast
    row["podcast"] = {name: getattr(podcast, name) for name in Podcast.__slots__} if podcast else None
    row["url_hash"] = url_hash(article.canonical_url)
    return row


def to_article(row: Any) -> Article:
    """The article an ``entries`` row (a mapping) holds."""
    values = {k: row[k] for k in Article.__slots__}
    values["authors"] = tuple(Author(**a) for a in _json(row["authors"]))
    values["enclosures"] = tuple(Enclosure(**x) for x in _json(row["enclosures"]))
    values["categories"] = tuple(_json(row["categories"]))
    podcast = _json(row["podcast"])
    values["podcast"] = Podcast(**podcast) if podcast else None
    return Article(**values)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name != "sqlite":
        conn.execute(insert(entries_table), rows)
        return
    # Fifty rows a fetch: straight to the driver, through the columns' own bind processors
    # (so dates and JSON are stored as SQLAlchemy stores them), without its per-row
    # parameter machinery, which costs more than the insert itself.
    sql, processors = _entry_insert(conn.dialect)
    values = [tuple(row[name] if p is None else p(row[name]) for name, p in processors) for row in rows]
    conn.exec_driver_sql(sql, values)


_Processors = list[tuple[str, Callable[[Any], Any] | None]]
_ENTRY_INSERTS: weakref.WeakKeyDictionary[Dialect, tuple[str, _Processors]] = weakref.WeakKeyDictionary()


def _entry_insert(dialect: Dialect) -> tuple[str, _Processors]:
    found = _ENTRY_INSERTS.get(dialect)
    if found is None:
        columns = list(entries_table.columns)
        names = ", ".join(c.name for c in columns)
        sql = f"INSERT INTO entries ({names}) VALUES ({', '.join('?' * len(columns))})"
        processors: _Processors = [(c.name, c.type.dialect_impl(dialect).bind_processor(dialect)) for c in columns]
        found = _ENTRY_INSERTS[dialect] = (sql, processors)
    return found
