"""Saving one fetch's articles with their verdicts (new, edit, copy), and the conversion
between an article and its row in ``entries``."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from newsriver.models import Article, Author, Enclosure, Podcast, Seen
from newsriver.store.sources import update_source
from newsriver.store.sql import Sql, chunks, insert_text, marks, read_json, read_optional_time, read_time, update_text
from newsriver.stories.match import NearPolicy, Stored, Verdict, decide, identifies_article
from newsriver.stories.retention import Tombstone, sift

if TYPE_CHECKING:
    from newsriver.store.related import Frequencies
    from newsriver.store.store import Store
    from newsriver.stories.fingerprint import Fingerprint
    from newsriver.stories.related import RelatedPolicy

# ``schema.entries_table``'s columns in its order (tests/test_store_insert.py holds them equal).
ENTRY_COLUMNS = (
    "id",
    "source",
    "entry_key",
    "story",
    "url",
    "canonical_url",
    "url_hash",
    "title",
    "summary",
    "content",
    "text",
    "authors",
    "published",
    "updated",
    "first_seen",
    "categories",
    "enclosures",
    "language",
    "image",
    "comments",
    "content_hash",
    "similarity",
    "podcast",
)
ENTRY_TIMES = frozenset({"published", "updated", "first_seen"})
ENTRY_JSON = frozenset({"authors", "categories", "enclosures", "podcast"})
ENTRY_ROW = ", ".join(ENTRY_COLUMNS)  # what to_article reads
STORY, SIMILARITY = ENTRY_COLUMNS.index("story"), ENTRY_COLUMNS.index("similarity")
_INSERT_ENTRY = insert_text("entries", ENTRY_COLUMNS)
_STORED = "SELECT id, source, entry_key, canonical_url, content_hash, story, published FROM entries WHERE "
_ANY_TOMBSTONE = "SELECT id FROM tombstones WHERE source = ? LIMIT 1"
# A source's columns after a document whose known entries (``Seen``) disagreed with the rows
# held (``SaveCounts.stale``): nothing of it is taken as known, and its next poll fetches
# and digests the whole document again, even an unchanged one.
FORGET_KNOWN: dict[str, Any] = {"digests": None, "body_hash": "", "etag": "", "last_modified": ""}


@dataclass(frozen=True, slots=True)
class SaveCounts:
    new: int = 0
    updated: int = 0
    # A ``Seen`` entry that would not be unchanged against the rows held: a row that changed
    # or went since the last document, other than by its polls or by retention. It is
    # stored by the next poll, which digests every entry (``FORGET_KNOWN``).
    stale: bool = False


def url_hash(canonical_url: str) -> str:
    return hashlib.blake2b(canonical_url.encode(), digest_size=8).hexdigest()


@dataclass(slots=True)
class _Verdicts:
    """What one fetch's articles come to: rows to insert, rows to update, and counts."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (stored row's id, values)
    edited: dict[str, str] = field(default_factory=dict)  # the stored row an edit updates → the article's id
    counts: Counter[Verdict] = field(default_factory=Counter)
    stale: bool = False  # see SaveCounts


class Entries:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._frequencies: Frequencies | None = None  # related coverage's, kept between saves

    def save(
        self,
        source: str,
        articles: Sequence[Article],
        source_values: dict[str, Any],
        near: NearPolicy | None = None,
        prints: Sequence[Fingerprint] = (),
        related: RelatedPolicy | None = None,
        seen: Sequence[Seen] = (),
    ) -> SaveCounts:
        """Store one fetch's articles and its source state in one transaction.

        With ``near``, a new article that is another source's copy of a stored story under
        another URL joins that story, and every new or edited article is indexed.
        ``prints``, when given, are the articles' fingerprints (made where they were parsed).
        With ``related``, each new entry is placed in an event group (``store.related``).
        ``seen`` are the document's entries as its last one had them (not normalized again):
        they count as in the document, and are stored as unchanged.
        """
        found = _Verdicts()
        with self._store.transaction() as tx:
            sql = tx.sql
            if articles or seen:
                # Workers storing copies of one story at the same instant must see each
                # other's rows, or each would found its own story.
                self._store.one_at_a_time(tx)
                found = _verdicts(sql, source, articles, seen)
                if found.stale:
                    source_values = source_values | FORGET_KNOWN
                inserts, updates = found.inserts, found.updates
                if near is not None:
                    # Built with SQLAlchemy, and numpy under the fingerprints: for a pass that stores.
                    from newsriver.store.near_index import _fingerprints, _fold_near_duplicates, _index

                    known = {a.id: p for a, p in zip(articles, prints, strict=True)} if prints else {}
                    prints_by_id = _fingerprints(inserts, updates, found.edited, known)
                    _fold_near_duplicates(tx.sa, source, inserts, near, prints_by_id)
                sql.run_many(_INSERT_ENTRY, [sql.bind(row, ENTRY_COLUMNS, ENTRY_TIMES, ENTRY_JSON) for row in inserts])
                for target, row in updates:
                    columns = tuple(row)
                    statement = update_text("entries", columns, "id")
                    sql.run(statement, (*sql.bind(row, columns, ENTRY_TIMES, ENTRY_JSON), target))
                if near is not None:
                    _index(tx.sa, source, inserts, updates, prints_by_id)
                if related is not None:
                    from newsriver.store.related import Frequencies, record

                    self._frequencies = self._frequencies or Frequencies()
                    record(sql, inserts, related, self._frequencies)
            update_source(sql, source, source_values)
        counts = found.counts
        return SaveCounts(new=counts[Verdict.NEW], updated=counts[Verdict.EDITED], stale=found.stale)


def _verdicts(sql: Sql, source: str, articles: Sequence[Article], seen: Sequence[Seen] = ()) -> _Verdicts:
    """Each article's verdict against the stored rows with its entry key or canonical URL
    (and against the articles before it in this fetch), as rows to insert or update.

    The ``seen`` entries are in the document as much as the articles (the rows looked up,
    retention's tombstones, how often a URL occurs); each is judged first, and must come out
    unchanged: it was stored from this very entry, so only a change to its row since can
    make it otherwise (``stale``). Unchanged, it adds nothing a later article could meet."""
    everything: Sequence[Article | Seen] = [*articles, *seen] if seen else articles
    buried = _buried(sql, source, everything)
    by_key: dict[str, Stored] = {}
    for keys in chunks([a.entry_key for a in everything]):
        by_key.update(
            (s.entry_key, s) for s in _stored(sql, f"source = ? AND entry_key IN ({marks(len(keys))})", (source, *keys))
        )
    # A seen entry with its own row is judged against that row alone (as ``decide`` does):
    # only the others' URLs are looked up, a few rows a poll instead of one for every entry.
    urls = [a.canonical_url for a in articles] + [s.canonical_url for s in seen if s.entry_key not in by_key]
    by_url: dict[str, list[Stored]] = {}
    for hashes in chunks(sorted({url_hash(url) for url in urls if url})):
        for s in _stored(sql, f"url_hash IN ({marks(len(hashes))})", hashes):
            by_url.setdefault(s.canonical_url, []).append(s)
    in_batch = Counter(a.canonical_url for a in everything)
    found = _Verdicts()
    for entry in seen:
        if entry.id in buried:
            continue
        same_key, same_url = by_key.get(entry.entry_key), by_url.get(entry.canonical_url, ())
        decision = decide(_with_stored_hash(entry, same_key, same_url), same_key, same_url, in_batch)
        if decision.verdict is Verdict.UNCHANGED:
            found.counts[Verdict.UNCHANGED] += 1
        else:  # not stored, nor counted: it has no article to store
            found.stale = True
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


def _with_stored_hash(entry: Seen, same_key: Stored | None, same_url: Sequence[Stored]) -> Seen:
    """``entry`` with the whole content hash of the row of its source it may be judged
    against, when that hash begins as the entry's short one does (``digest.SEEN_HASH``)."""
    for row in (same_key, *same_url):
        if (
            row is not None
            and row.source == entry.source
            and entry.content_hash
            and row.content_hash.startswith(entry.content_hash)
        ):
            return replace(entry, content_hash=row.content_hash)
    return entry


def _stored(sql: Sql, where: str, params: Sequence[Any]) -> list[Stored]:
    return [
        Stored(entry_id, source, key, canonical_url, content_hash, story, read_time(published))
        for entry_id, source, key, canonical_url, content_hash, story, published in sql.rows(_STORED + where, params)
    ]


def _buried(sql: Sql, source: str, articles: Sequence[Article | Seen]) -> frozenset[str]:
    """The ids of the articles retention removed before, from one reading of the source's
    feed; records which tombstones' entries the feed still carries (see ``retention``)."""
    # Most sources have no tombstone: one indexed look settles it.
    if sql.first(_ANY_TOMBSTONE, (source,)) is None:
        return frozenset()
    found: dict[str, Tombstone] = {}
    for chunk in chunks(articles):
        article_ids = [a.id for a in chunk]
        hashes = [url_hash(a.canonical_url) for a in chunk if identifies_article(a.canonical_url)]
        matching = ["missing_since IS NULL", f"id IN ({marks(len(article_ids))})"]
        if hashes:
            matching.append(f"url_hash IN ({marks(len(hashes))})")
        query = f"SELECT id, url_hash, missing_since FROM tombstones WHERE source = ? AND ({' OR '.join(matching)})"
        for entry_id, hashed, since in sql.rows(query, (source, *article_ids, *hashes)):
            found[entry_id] = Tombstone(entry_id, hashed, read_optional_time(since))
    if not found:
        return frozenset()
    sifted = sift(articles, found.values(), url_hash)
    read = max(a.first_seen for a in articles)  # all of one reading were first seen when it was read
    for ids, since in ((sifted.back, None), (sifted.missing, read)):
        for chunk in chunks(ids):
            sql.run(
                f"UPDATE tombstones SET missing_since = ? WHERE id IN ({marks(len(chunk))})", (sql.time(since), *chunk)
            )
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


def to_article(row: Sequence[Any]) -> Article:
    """The article an ``entries`` row holds (its ENTRY_COLUMNS, in their order)."""
    values = dict(zip(ENTRY_COLUMNS, row, strict=True))
    article = {k: values[k] for k in Article.__slots__}
    for name in ENTRY_TIMES:
        article[name] = read_time(values[name])
    article["authors"] = tuple(Author(**a) for a in read_json(values["authors"]))
    article["enclosures"] = tuple(Enclosure(**x) for x in read_json(values["enclosures"]))
    article["categories"] = tuple(read_json(values["categories"]))
    podcast = read_json(values["podcast"])
    article["podcast"] = Podcast(**podcast) if podcast else None
    return Article(**article)
