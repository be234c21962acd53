"""The database: sources' fetch state and articles, through SQLAlchemy Core.

SQLite by default (WAL); any SQLAlchemy URL works. The schema is created on first use and
carries a version number so later releases can migrate it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from newsriver.errors import StoreError
from newsriver.models import Article, Author, Enclosure
from newsriver.stories.match import (
    Candidate,
    NearPolicy,
    Stored,
    Story,
    Verdict,
    compose,
    decide,
    identifies_article,
    match_story,
)
from newsriver.stories.retention import (
    TOMBSTONE_GRACE,
    Held,
    Pruned,
    RetentionLimits,
    Tombstone,
    over_limits,
    removable,
    sift,
)

if TYPE_CHECKING:
    # Imported where near-duplicates are looked for (see dedupe): numpy comes with it.
    from newsriver.stories.fingerprint import Fingerprint

SCHEMA_VERSION = 1
SQLITE_CACHE_KIB = 32 * 1024  # SQLite's page cache per connection (its default is 2 MB)
WRITE_LOCK = 0x73617665  # PostgreSQL advisory lock serializing writes that workers would race on


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


metadata = MetaData()

meta_table = Table(
    "newsriver_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sources_table = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("url", Text, nullable=False),  # as configured
    Column("feed_url", Text, nullable=False),  # what we fetch: differs after a 301/308 or discovery
    Column("feed_url_origin", String(12), nullable=False, default=""),  # "", "redirect" or "discovery"
    # feed_url was reached through a public address, so it may not lead into a private one.
    Column("via_public", Boolean, nullable=False, default=False),
    Column("title", Text, nullable=False, default=""),
    Column("link", Text, nullable=False, default=""),
    Column("etag", Text, nullable=False, default=""),
    Column("last_modified", Text, nullable=False, default=""),
    Column("body_hash", String(64), nullable=False, default=""),
    Column("status", String(20), nullable=False, default="new"),
    Column("last_error", Text, nullable=False, default=""),
    Column("errors", Integer, nullable=False, default=0),
    Column("last_fetch", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("next_poll", UTCDateTime),
    Column("retry_after", UTCDateTime),  # the host asked to be left alone until then
    Column("feed_interval", Integer, nullable=False, default=0),  # seconds the feed asks between polls
)

entries_table = Table(
    "entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(200), nullable=False),
    Column("entry_key", Text, nullable=False),
    Column("cluster", String(36), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    # Long text cannot carry a plain index on every backend; a short hash of it can.
    Column("url_hash", String(16), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("published", UTCDateTime, nullable=False, index=True),
    Column("updated", UTCDateTime, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("enclosures", JSON, nullable=False),
    Column("language", String(35), nullable=False),
    Column("image", Text, nullable=False),
    Column("comments", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("similarity", Float),  # how strongly it matched its cluster's kept copy
    UniqueConstraint("source", "entry_key", name="uq_entries_source_key"),
    # A source's newest entries without sorting them all: its rhythm, and a small feed's
    # stories (the cluster too, so that reading them touches the index alone).
    Index("ix_entries_source_published", "source", "published", "cluster"),
)

# The near-duplicate candidate index: each entry's fingerprint keys (MinHash sketch, lead
# shingles, headline). A lookup is one index range per key, bounded by the dedupe window.
# Deliberately one index only (the primary key): every new entry writes a row per key, and
# a second index would nearly double that cost. A key whose entry is gone offers nothing.
dedupe_keys_table = Table(
    "dedupe_keys",
    metadata,
    Column("key", BigInteger, nullable=False),
    Column("published", BigInteger, nullable=False),  # the entry's, in Unix seconds: compact and ranged
    Column("entry_id", String(36), nullable=False),
    Column("source", String(200), nullable=False),  # a source's own entries are never its copies
    PrimaryKeyConstraint("key", "published", "entry_id"),
    sqlite_with_rowid=False,  # the primary key is the index: no second copy of every row
)
# Entries removed by retention, so that their feeds cannot bring them back (see ``retention``).
tombstones_table = Table(
    "tombstones",
    metadata,
    Column("id", String(36), primary_key=True),  # the entry's, which stands for its source and entry key
    Column("source", String(200), nullable=False),
    Column("url_hash", String(16), nullable=False),  # "" when its canonical URL stands for no one article
    Column("pruned", UTCDateTime, nullable=False),
    Column("missing_since", UTCDateTime),  # the first reading of its feed without it; NULL while it is there
    Index("ix_tombstones_source_url", "source", "url_hash"),
)
MAX_CANDIDATES = 8  # stored entries compared with a new one, those sharing most keys first
# Entries within the window beyond which a key is common (a footer, boilerplate, "Read more…")
# and offers no candidate: a lookup reads at most this many rows a key, however large the store.
KEY_CAP = 100
_KEY_COLUMNS = ("key", "published", "entry_id", "source")
_INSERT_KEYS = f"INSERT OR IGNORE INTO dedupe_keys ({', '.join(_KEY_COLUMNS)}) VALUES (?, ?, ?, ?)"
_IN_CHUNK = 500  # values per IN (...): under every backend's bound-parameter limit


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    url: str
    feed_url: str
    title: str
    link: str
    etag: str
    last_modified: str
    body_hash: str
    status: str
    last_error: str
    errors: int
    last_fetch: datetime | None
    last_success: datetime | None
    next_poll: datetime | None
    feed_url_origin: str = ""
    via_public: bool = False
    retry_after: datetime | None = None
    feed_interval: int = 0

    @property
    def state(self) -> str:
        """What ``status`` shows: ok, not modified, moved, error, backoff, gone (or new)."""
        if self.status in ("ok", "not_modified") and self.feed_url_origin == "redirect":
            return "moved"  # until the config names the new URL
        return self.status.replace("_", " ")


@dataclass(frozen=True, slots=True)
class SaveCounts:
    new: int = 0
    updated: int = 0


def url_hash(canonical_url: str) -> str:
    return hashlib.blake2b(canonical_url.encode(), digest_size=8).hexdigest()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"invalid database URL {url!r}: {exc}") from exc
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url)
        self._batch = threading.local()  # the transaction ``batch`` holds open, per thread
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except OperationalError as exc:
            raise StoreError(f"cannot open database {url!r}: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def _one_at_a_time(self, conn: Connection) -> None:
        """Serialize this transaction with others that call it (PostgreSQL; SQLite has one writer)."""
        if self.engine.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK)))

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        batched: Connection | None = getattr(self._batch, "conn", None)
        if batched is not None:
            yield batched
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run this thread's writes inside in one transaction: all are kept or none.

        Committing costs about as much as the writes themselves (every index page a save
        touched is written out), so a poll stores the fetches that finished together at once.
        """
        if getattr(self._batch, "conn", None) is not None:
            yield  # already inside one
            return
        with self.engine.begin() as conn:
            self._batch.conn = conn
            try:
                yield
            finally:
                self._batch.conn = None

    def _migrate(self) -> None:
        with self._tx() as conn:
            self._one_at_a_time(conn)  # workers starting together would race to create tables
            metadata.create_all(conn)
            for index in entries_table.indexes:  # create_all adds none to a table that exists
                index.create(conn, checkfirst=True)
            version = conn.execute(select(meta_table.c.value).where(meta_table.c.key == "schema_version")).scalar()
            if version is None:
                conn.execute(insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(version) > SCHEMA_VERSION:
                raise StoreError(
                    f"database {self.url} has schema version {version}, newer than this "
                    f"newsriver understands ({SCHEMA_VERSION}); upgrade newsriver"
                )

    # --- sources ----------------------------------------------------------------------

    def sync_sources(self, configured: Iterable[tuple[str, str]]) -> None:
        """Make a row for every configured (name, url); a changed URL resets fetch state."""
        with self._tx() as conn:
            self._one_at_a_time(conn)  # several workers start with the same config
            rows = {r.name: r for r in conn.execute(select(sources_table.c.name, sources_table.c.url))}
            for name, url in configured:
                if name not in rows:
                    conn.execute(insert(sources_table).values(name=name, url=url, feed_url=url))
                elif rows[name].url != url:
                    conn.execute(
                        update(sources_table)
                        .where(sources_table.c.name == name)
                        .values(
                            url=url,
                            feed_url=url,
                            feed_url_origin="",
                            via_public=False,
                            etag="",
                            last_modified="",
                            body_hash="",
                            feed_interval=0,
                            status="new",  # a gone source comes back when its URL is changed
                            last_error="",
                            errors=0,
                            next_poll=None,
                        )
                    )

    def sources(self, names: Collection[str] | None = None) -> dict[str, SourceRow]:
        """The sources' rows by name: all, or those named."""
        s = sources_table
        with self.engine.connect() as conn:
            if names is None:
                return {r.name: SourceRow(**r._asdict()) for r in conn.execute(select(s))}
            return {
                r.name: SourceRow(**r._asdict())
                for chunk in _chunks(sorted(names))
                for r in conn.execute(select(s).where(s.c.name.in_(chunk)))
            }

    def update_source(self, name: str, **values: Any) -> None:
        with self._tx() as conn:
            conn.execute(update(sources_table).where(sources_table.c.name == name).values(**values))

    def defer(self, names: Iterable[str], until: datetime) -> None:
        """Leave these sources alone until ``until`` (their host sent Retry-After)."""
        s = sources_table
        with self._tx() as conn:
            for name in names:
                conn.execute(update(s).where(s.c.name == name).values(retry_after=until))
                conn.execute(
                    update(s)
                    .where(s.c.name == name, or_(s.c.next_poll.is_(None), s.c.next_poll < until))
                    .values(next_poll=until)
                )

    def recent_publication_times(
        self, sources: Sequence[str], since: datetime, limit: int = 200
    ) -> dict[str, dict[str, datetime]]:
        """Each source's rhythm for a whole pass, in two queries: its entries' publication
        times by entry key, as far as the schedule can tell from them when deciding at or
        after ``since`` + a week.

        The newest ``limit`` at or after ``since``; for a source whose entries are all
        older, its newest one alone (the schedule only asks whether there are any); for one
        without entries, none.
        """
        e = entries_table
        found: dict[str, dict[str, datetime]] = {name: {} for name in sources}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(sources)):
                query = select(e.c.source, e.c.entry_key, e.c.published).where(
                    e.c.source.in_(chunk), e.c.published >= since
                )
                for source, key, published in conn.execute(query):
                    found[source][key] = published
            older = [name for name, times in found.items() if not times]
            for chunk in _chunks(older):
                newest = (
                    select(e.c.source, func.max(e.c.published).label("published"))
                    .where(e.c.source.in_(chunk))
                    .group_by(e.c.source)
                    .subquery()
                )
                query = select(e.c.source, e.c.entry_key, e.c.published).join(
                    newest, and_(e.c.source == newest.c.source, e.c.published == newest.c.published)
                )
                for source, key, published in conn.execute(query):
                    found[source][key] = published
        for name, times in found.items():
            if len(times) > limit:
                found[name] = dict(sorted(times.items(), key=lambda item: item[1], reverse=True)[:limit])
        return found

    def update_sources(self, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """``update_source`` for many sources: one statement per set of columns, executed
        for all their rows at once (a poll's hundreds of 304s would each compile their own)."""
        s = sources_table
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for name, values in changes:
            groups[tuple(sorted(values))].append({"name_": name, **values})
        with self._tx() as conn:
            for columns, rows in groups.items():
                # One statement object per set of columns: it computes its cache key once.
                statement = _SOURCE_UPDATES.get(columns)
                if statement is None:
                    values = {c: bindparam(c) for c in columns}
                    statement = _SOURCE_UPDATES[columns] = (
                        update(s).where(s.c.name == bindparam("name_")).values(values)
                    )
                conn.execute(statement, rows)

    def entry_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(entries_table.c.source, func.count()).group_by(entries_table.c.source))
            return {source: count for source, count in rows}

    def published_from(self) -> list[tuple[Any, ...]]:
        """What the output is rendered from besides the config and the entries themselves, and
        what moves whenever entries do: each source's shown state and the hash of its last
        parsed body (a save that changes entries always brings a new one), and the tombstones
        (retention removes entries only by leaving one, pruned when it ran)."""
        s, t = sources_table.c, tombstones_table.c
        with self.engine.connect() as conn:
            query = select(s.name, s.title, s.feed_url, s.link, s.status, s.body_hash).order_by(s.name)
            rows = [tuple(r) for r in conn.execute(query)]
            rows.append(tuple(conn.execute(select(func.count(), func.max(t.pruned))).one()))
        return rows

    def meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            value: str | None = conn.execute(select(meta_table.c.value).where(meta_table.c.key == key)).scalar()
            return value

    def set_meta(self, key: str, value: str) -> None:
        m = meta_table
        with self._tx() as conn:
            if conn.execute(update(m).where(m.c.key == key).values(value=value)).rowcount == 0:
                conn.execute(insert(m).values(key=key, value=value))

    # --- articles ---------------------------------------------------------------------

    def save(
        self,
        source: str,
        articles: Sequence[Article],
        source_values: dict[str, Any],
        near: NearPolicy | None = None,
        prints: Sequence[Fingerprint] = (),
    ) -> SaveCounts:
        """Store one fetch's articles and its source state in one transaction.

        With ``near``, a new article that is another source's copy of a stored story under
        another URL joins that story, and every new or edited article is indexed.
        ``prints``, when given, are the articles' fingerprints (made where they were parsed).
        """
        e = entries_table
        counts: Counter[Verdict] = Counter()
        with self._tx() as conn:
            if articles:
                # Workers storing copies of one story at the same instant must see each
                # other's rows, or each would found its own story.
                self._one_at_a_time(conn)
            if articles:
                buried = _buried(conn, source, articles)
                keys = [a.entry_key for a in articles]
                by_key = {s.entry_key: s for s in _stored(conn, and_(e.c.source == source, e.c.entry_key.in_(keys)))}
                hashes = sorted({url_hash(a.canonical_url) for a in articles if a.canonical_url})
                by_url: dict[str, list[Stored]] = {}
                for s in _stored(conn, e.c.url_hash.in_(hashes)) if hashes else []:
                    by_url.setdefault(s.canonical_url, []).append(s)
                in_batch = Counter(a.canonical_url for a in articles)
                inserts, updates = [], []
                edited: dict[str, str] = {}  # the stored row an edit updates → the incoming article's id
                for article in articles:
                    if article.id in buried:  # removed by retention: never taken in again
                        continue
                    decision = decide(
                        article, by_key.get(article.entry_key), by_url.get(article.canonical_url, ()), in_batch
                    )
                    counts[decision.verdict] += 1
                    if decision.verdict is Verdict.NEW:
                        # A copy under the same URL is as similar as can be.
                        similarity = 1.0 if decision.cluster != article.id else None
                        row = _row(article) | {"cluster": decision.cluster, "similarity": similarity}
                        inserts.append(row)
                        # Later articles in this batch must see this one as stored.
                        stored = _as_stored(row)
                        by_key[article.entry_key] = stored
                        if article.canonical_url:
                            by_url.setdefault(article.canonical_url, []).append(stored)
                    elif decision.verdict is Verdict.EDITED:
                        row = _row(article)
                        # The id, first sighting and cluster of the stored row stay.
                        for kept in ("id", "first_seen", "source"):
                            row.pop(kept)
                        # An edit is news to readers, so it is republished as updated: at the
                        # feed's new date, or when seen if the feed kept its old one.
                        row["updated"] = max(article.updated, article.first_seen)
                        updates.append((decision.target, row))
                        edited[decision.target] = article.id
                known = {a.id: p for a, p in zip(articles, prints, strict=True)} if prints else {}
                prints_by_id = _fingerprints(inserts, updates, edited, known) if near is not None else {}
                if near is not None:
                    _fold_near_duplicates(conn, source, inserts, near, prints_by_id)
                if inserts:
                    _insert_entries(conn, inserts)
                for target, row in updates:
                    conn.execute(update(e).where(e.c.id == target).values(**row))
                if near is not None:
                    _index(conn, source, inserts, updates, prints_by_id)
            conn.execute(update(sources_table).where(sources_table.c.name == source).values(**source_values))
        return SaveCounts(new=counts[Verdict.NEW], updated=counts[Verdict.EDITED])

    def select_for_feed(self, sources: Sequence[str], limit: int) -> list[Article]:
        """The newest ``limit`` stories among ``sources``, one item per story."""
        return [story.item for story in self.select_stories(sources, limit)]

    def select_stories(
        self,
        sources: Sequence[str],
        limit: int | None,
        priorities: Mapping[str, int] | None = None,
        fold: bool = True,
        first_seen: tuple[datetime, datetime] | None = None,
    ) -> list[Story]:
        """The newest ``limit`` (None: all) stories among ``sources``, newest first, each with its copies.

        A story is as new as its earliest copy among ``sources``; see ``dedupe.compose``
        for what it shows. Without ``fold`` every stored entry is a story of its own.
        With ``first_seen`` [start, end), only the stories whose first copy among
        ``sources`` was stored in that time.
        """
        e = entries_table
        chosen = list(sources)
        with self.engine.connect() as conn:
            if not fold:
                query = select(e).where(e.c.source.in_(chosen))
                if first_seen is not None:
                    query = query.where(e.c.first_seen >= first_seen[0], e.c.first_seen < first_seen[1])
                query = query.order_by(e.c.published.desc(), e.c.id).limit(limit)
                return [Story(_article(r._mapping), ()) for r in conn.execute(query)]
            if limit is not None and first_seen is None:
                top = _newest_stories(conn, chosen, limit)
            else:
                story_published = func.min(e.c.published)
                clusters = select(e.c.cluster).where(e.c.source.in_(chosen)).group_by(e.c.cluster)
                if first_seen is not None:
                    story_first_seen = func.min(e.c.first_seen)
                    clusters = clusters.having(story_first_seen >= first_seen[0], story_first_seen < first_seen[1])
                top = list(conn.execute(clusters.order_by(story_published.desc(), e.c.cluster).limit(limit)).scalars())
            members: dict[str, list[Article]] = defaultdict(list)
            for chunk in _chunks(top):
                for r in conn.execute(select(e).where(e.c.cluster.in_(chunk), e.c.source.in_(chosen))):
                    members[r.cluster].append(_article(r._mapping))
        return [compose(cluster, members[cluster], priorities or {}) for cluster in top]

    def first_stored(self, sources: Sequence[str]) -> datetime | None:
        """When the first entry of any of ``sources`` still held was stored; None when none is."""
        e = entries_table
        with self.engine.connect() as conn:
            return conn.execute(select(func.min(e.c.first_seen)).where(e.c.source.in_(list(sources)))).scalar()

    def find_article(self, ref: str) -> tuple[Article, str] | None:
        """The stored article (and its story's id) that ``ref`` names: its id, its URL or canonical
        URL, or an item's id (``urn:uuid:<id>``); None when none is stored."""
        e = entries_table
        wanted = ref.rsplit(":", 1)[-1] if ref.startswith("urn:") else ref
        by_url = or_(e.c.url == ref, and_(e.c.url_hash == url_hash(ref), e.c.canonical_url == ref))
        with self.engine.connect() as conn:
            row = conn.execute(select(e).where(or_(e.c.id == wanted, by_url)).order_by(e.c.first_seen).limit(1)).first()
        return (_article(row._mapping), row.cluster) if row is not None else None

    def duplicate_groups(self, since: datetime, limit: int) -> list[list[tuple[Article, float | None]]]:
        """Stories joined by a copy first seen since ``since``, newest first: each story's
        first stored copy, then the others, with the similarity that joined each."""
        e = entries_table
        with self.engine.connect() as conn:
            clusters = list(
                conn.execute(
                    select(e.c.cluster)
                    .where(e.c.cluster != e.c.id, e.c.first_seen >= since)
                    .group_by(e.c.cluster)
                    .order_by(func.max(e.c.first_seen).desc(), e.c.cluster)
                    .limit(limit)
                ).scalars()
            )
            members: dict[str, list[tuple[Article, float | None]]] = defaultdict(list)
            for chunk in _chunks(clusters):
                # The first stored copy leads: sources polled in one pass share their first_seen.
                query = select(e).where(e.c.cluster.in_(chunk)).order_by(e.c.cluster != e.c.id, e.c.first_seen, e.c.id)
                for r in conn.execute(query):
                    members[r.cluster].append((_article(r._mapping), r.similarity))
        return [members[cluster] for cluster in clusters]

    # --- retention --------------------------------------------------------------------

    def prune(
        self,
        limits: Callable[[str], RetentionLimits],
        shown: Collection[str],
        configured: Collection[str],
        now: datetime,
    ) -> Pruned:
        """Apply retention (see ``retention``) in one transaction: remove what it allows,
        leaving a tombstone for each entry and dropping its near-duplicate keys; expire the
        tombstones no longer needed.

        ``limits`` gives a source's limits, ``shown`` holds the ids of the items the output
        feeds show, ``configured`` the names of the sources in the config.
        """
        e, t = entries_table, tombstones_table
        with self._tx() as conn:
            self._one_at_a_time(conn)  # no save interleaves
            # A write first: on SQLite it takes the write lock, so no save interleaves either.
            # A source no longer configured is read no more, so its entries' absence is never seen.
            expired = conn.execute(
                delete(t).where(
                    or_(
                        t.c.missing_since < now - TOMBSTONE_GRACE,
                        and_(t.c.source.not_in(configured), t.c.pruned < now - TOMBSTONE_GRACE),
                    )
                )
            ).rowcount
            over: list[Held] = []
            for source in conn.execute(select(e.c.source).distinct()).scalars().all():
                limit = limits(source)
                if limit.max_age is not None or limit.max_items is not None:
                    over += over_limits(_held(conn, e.c.source == source), limit, now)
            clusters = sorted({h.cluster for h in over})
            stories = [h for chunk in _chunks(clusters) for h in _held(conn, e.c.cluster.in_(chunk))]
            shown_stories = {
                cluster
                for chunk in _chunks(sorted(shown))
                for cluster in conn.execute(select(e.c.cluster).where(e.c.id.in_(chunk))).scalars()
            }
            removed: Counter[str] = Counter()
            for chunk in _chunks(sorted(h.id for h in removable(over, stories, shown_stories))):
                gone = conn.execute(
                    delete(e).where(e.c.id.in_(chunk)).returning(e.c.id, e.c.source, e.c.canonical_url)
                ).all()
                if not gone:
                    continue  # a concurrent prune was first
                # An entry can be back despite its tombstone only by racing a prune; it gets a fresh one.
                conn.execute(delete(t).where(t.c.id.in_([r.id for r in gone])))
                conn.execute(insert(t), [_tombstone(r.id, r.source, r.canonical_url, now) for r in gone])
                removed.update(r.source for r in gone)
            if removed:
                # dedupe_keys has no foreign key to cascade (one index only, see there).
                k = dedupe_keys_table
                conn.execute(delete(k).where(~select(e.c.id).where(e.c.id == k.c.entry_id).exists()))
        return Pruned(dict(removed), dict(Counter(h.source for h in over) - removed), expired)


def _newest_stories(conn: Connection, chosen: Sequence[str], limit: int) -> list[str]:
    """The clusters of the newest ``limit`` stories among ``chosen``, a story as new as its
    earliest copy among them: what GROUP BY cluster ORDER BY min(published) DESC, cluster
    gives, without reading every row.

    Entries are read newest first from the published index, a few more than ``limit`` at a
    time. Once the read reaches back to ``boundary``, every story with a copy after it has
    been seen, and a seen story's earliest copy is looked up by its cluster; the answer is
    final when the ``limit`` newest of them all begin after ``boundary`` (any story not yet
    seen begins at or before it).
    """
    e = entries_table
    if limit <= 0:
        return []
    scan = 2 * limit
    while True:
        rows = _newest_entries(conn, chosen, scan)
        seen = sorted({cluster for cluster, _ in rows})
        earliest: dict[str, datetime] = {}
        for chunk in _chunks(seen):
            query = select(e.c.cluster, func.min(e.c.published)).where(e.c.cluster.in_(chunk), e.c.source.in_(chosen))
            earliest.update((cluster, first) for cluster, first in conn.execute(query.group_by(e.c.cluster)))
        # Newest first, ties by cluster: a stable sort of the clusters in order.
        top = sorted(seen, key=earliest.__getitem__, reverse=True)[:limit]
        if len(rows) < scan or (len(top) == limit and earliest[top[-1]] > rows[-1][1]):
            return top
        scan *= 4


FEW_SOURCES = 16  # up to this many, a feed's entries are read by source, else by date


def _newest_entries(conn: Connection, chosen: Sequence[str], count: int) -> list[tuple[str, datetime]]:
    """(cluster, published) of the ``count`` newest entries of ``chosen``, newest first.

    Few sources: all their entries from ix_entries_source_published, which holds all three
    columns, the newest kept by a sort. Many: down the published index, skipping the other
    sources' entries (``|| ''`` keeps SQLite from taking the source index instead).
    """
    e = entries_table
    source = e.c.source if len(chosen) <= FEW_SOURCES else e.c.source + ""
    query = select(e.c.cluster, e.c.published).where(source.in_(chosen)).order_by(e.c.published.desc())
    return [(cluster, published) for cluster, published in conn.execute(query.limit(count))]


_SOURCE_UPDATES: dict[tuple[str, ...], Any] = {}  # see Store.update_sources


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Every new entry lands at random places in the near-duplicate index and in the entries'
    # indexes (ids and keys are hashes). With SQLite's default 2 MB page cache, a store of
    # tens of thousands of entries reads those pages back from the OS at each insert: a
    # cold poll of 1,000 feeds spent a quarter of its storing CPU on it. Pages are taken
    # only as the database grows into them.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _stored(conn: Connection, where: Any) -> list[Stored]:
    e = entries_table
    query = select(e.c.id, e.c.source, e.c.entry_key, e.c.canonical_url, e.c.content_hash, e.c.cluster, e.c.published)
    return [Stored(**r._asdict()) for r in conn.execute(query.where(where))]


def _held(conn: Connection, where: Any) -> list[Held]:
    e = entries_table
    query = select(e.c.id, e.c.source, e.c.cluster, e.c.published).where(where)
    return [Held(*r) for r in conn.execute(query)]  # the columns in Held's order


def _tombstone(entry_id: str, source: str, canonical_url: str, now: datetime) -> dict[str, Any]:
    url = url_hash(canonical_url) if identifies_article(canonical_url) else ""
    return {"id": entry_id, "source": source, "url_hash": url, "pruned": now, "missing_since": None}


def _buried(conn: Connection, source: str, articles: Sequence[Article]) -> frozenset[str]:
    """The ids of the articles retention removed before, from one reading of the source's
    feed; records which tombstones' entries the feed still carries (see ``retention``)."""
    t = tombstones_table.c
    # Most sources have no tombstone: one indexed look settles it, where the query below
    # (two lists of fifty values) costs milliseconds to build.
    if conn.execute(select(t.id).where(t.source == source).limit(1)).first() is None:
        return frozenset()
    found: dict[str, Tombstone] = {}
    for chunk in _chunks(articles):
        hashes = [url_hash(a.canonical_url) for a in chunk if identifies_article(a.canonical_url)]
        matching = or_(t.missing_since.is_(None), t.id.in_([a.id for a in chunk]), t.url_hash.in_(hashes))
        query = select(t.id, t.url_hash, t.missing_since).where(t.source == source, matching)
        found.update((r.id, Tombstone(**r._asdict())) for r in conn.execute(query))
    if not found:
        return frozenset()
    sifted = sift(articles, found.values(), url_hash)
    read = max(a.first_seen for a in articles)  # all of one reading were first seen when it was read
    for ids, since in ((sifted.back, None), (sifted.missing, read)):
        for chunk in _chunks(ids):
            conn.execute(update(tombstones_table).where(t.id.in_(chunk)).values(missing_since=since))
    return sifted.buried


def _as_stored(row: dict[str, Any]) -> Stored:
    return Stored(**{k: row[k] for k in Stored.__slots__})


def _row(article: Article) -> dict[str, Any]:
    # Field by field: dataclasses.asdict deep-copies every value, a third of a save's time.
    row = {name: getattr(article, name) for name in Article.__slots__}
    row["authors"] = [{name: getattr(a, name) for name in Author.__slots__} for a in article.authors]
    row["enclosures"] = [{name: getattr(x, name) for name in Enclosure.__slots__} for x in article.enclosures]
    row["categories"] = list(article.categories)
    row["url_hash"] = url_hash(article.canonical_url)
    return row


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


def _article(row: Any) -> Article:
    values = {k: row[k] for k in Article.__slots__}
    values["authors"] = tuple(Author(**a) for a in _json(row["authors"]))
    values["enclosures"] = tuple(Enclosure(**x) for x in _json(row["enclosures"]))
    values["categories"] = tuple(_json(row["categories"]))
    return Article(**values)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# --- near duplicates ------------------------------------------------------------------


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _fingerprints(
    inserts: list[dict[str, Any]],
    updates: list[tuple[str, dict[str, Any]]],
    edited: Mapping[str, str],
    known: Mapping[str, Fingerprint],
) -> dict[str, Fingerprint]:
    """The fingerprint of every row to insert (by its id) or update (by its target): from
    ``known`` (by article id) when there, else made from the row's text."""
    from newsriver.stories.fingerprint import of_entry

    found = {}
    for row in inserts:
        found[row["id"]] = known.get(row["id"]) or of_entry(row["title"], row["summary"], row["content"])
        _RECENT_PRINTS.remember(row["id"], row["title"], row["summary"], row["content"], found[row["id"]])
    for target, row in updates:
        found[target] = known.get(edited[target]) or of_entry(row["title"], row["summary"], row["content"])
        _RECENT_PRINTS.remember(target, row["title"], row["summary"], row["content"], found[target])
    return found


def _fold_near_duplicates(
    conn: Connection, source: str, inserts: list[dict[str, Any]], near: NearPolicy, prints: Mapping[str, Fingerprint]
) -> None:
    """Join each new row that is another source's copy of a stored story to that story:
    rewrites the rows' ``cluster`` and ``similarity``. The stored stories a row bridges
    (see ``match_story``) join that story too, in the database and in this batch."""
    # Rows that joined a story by URL already have theirs.
    fresh = [row for row in inserts if row["cluster"] == row["id"]]
    if not fresh:
        return
    times = [_seconds(row["published"]) for row in fresh]
    found = offered(conn, source, [(prints[row["id"]].keys, t) for row, t in zip(fresh, times, strict=True)], near)
    offered_ids = {row["id"]: ids for row, ids in zip(fresh, found, strict=True)}
    stored, story_sources = _candidates(conn, sorted({i for ids in found for i in ids}))
    for row in inserts:
        if row["cluster"] != row["id"]:
            story_sources[row["cluster"]].add(source)  # the stories this batch joined by URL hold its copy
    made: dict[str, Fingerprint] = {}
    moved: dict[str, str] = {}  # a bridged story → the story it joined

    def fingerprint_of(entry_id: str) -> Fingerprint:
        if entry_id not in made:
            c = stored[entry_id]
            made[entry_id] = _RECENT_PRINTS.of(entry_id, c.title, c.summary, c.content)
        return made[entry_id]

    def story_of(entry_id: str) -> str:
        cluster = stored[entry_id].cluster
        while cluster in moved:
            cluster = moved[cluster]
        return cluster

    for row in fresh:
        candidates = []
        for i in offered_ids[row["id"]]:
            if i not in stored:
                continue
            cluster = story_of(i)
            # match_story passes over a story that has this source's copy already: its
            # copies' fingerprints, the costliest part of a candidate, are not made for it.
            if source not in story_sources[cluster]:
                candidates.append(Candidate(i, cluster, fingerprint_of(i), frozenset(story_sources[cluster])))
        match = match_story(prints[row["id"]], source, candidates, near.threshold)
        if match is None:
            continue
        row["cluster"], row["similarity"] = match.cluster, match.similarity.score
        # A story holds one copy per source, within this batch too.
        story_sources[match.cluster].add(source)
        # A bridged story holds no copy of this source, so none of this batch's rows.
        for bridged in match.bridged:
            conn.execute(update(entries_table).where(entries_table.c.cluster == bridged).values(cluster=match.cluster))
            story_sources[match.cluster] |= story_sources.pop(bridged)
            moved[bridged] = match.cluster


def offered(
    conn: Connection, source: str, wanted: Sequence[tuple[frozenset[int], int]], near: NearPolicy
) -> list[list[str]]:
    """The candidate lookup: for each (keys, published) the ids of the stored entries of
    other sources within the window that share the most keys with it (at least
    MIN_SHARED_KEYS), at most MAX_CANDIDATES. A key more than KEY_CAP entries of the
    window have (of any source: a source's own footer too) offers none."""
    from newsriver.stories.fingerprint import MIN_SHARED_KEYS

    window = int(near.window.total_seconds())
    times = [published for _, published in wanted]
    since, until = min(times) - window, max(times) + window
    hits: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for chunk in _chunks(sorted({key for keys, _ in wanted for key in keys})):
        for key, entry_id, published, of in _key_rows(conn, chunk, since, until):
            if of != source:
                hits[key].append((entry_id, published))
    found = []
    for keys, published in wanted:
        # An entry whose publication date an edit changed has a key twice: it counts once.
        shared = Counter(
            entry_id
            for key in keys
            for entry_id in {entry_id for entry_id, when in hits.get(key, ()) if abs(when - published) <= window}
        )
        ranked = sorted(((-n, entry_id) for entry_id, n in shared.items() if n >= MIN_SHARED_KEYS))
        found.append([entry_id for _, entry_id in ranked[:MAX_CANDIDATES]])
    return found


# The rows of the keys that are not common: whether a key is, is told by the KEY_CAP+1st row
# of its range (the primary key's order), so a common key costs KEY_CAP index steps, not a
# read of every entry that has it.
_KEY_ROWS = """
WITH wanted(key) AS ({wanted}),
usable(key) AS MATERIALIZED (
    SELECT key FROM wanted WHERE NOT EXISTS (
        SELECT 1 FROM dedupe_keys AS c WHERE c.key = wanted.key AND c.published BETWEEN {since} AND {until}
        LIMIT 1 OFFSET {cap}))
SELECT d.key, d.entry_id, d.published, d.source FROM usable JOIN dedupe_keys AS d
    ON d.key = usable.key AND d.published BETWEEN {since} AND {until}
"""
_SQLITE_KEY_ROWS = _KEY_ROWS.format(wanted="SELECT value FROM json_each(?)", since="?", until="?", cap="?")
_POSTGRES_KEY_ROWS = text(
    _KEY_ROWS.format(wanted="SELECT unnest(CAST(:keys AS BIGINT[]))", since=":since", until=":until", cap=":cap")
)


def _key_rows(conn: Connection, keys: Sequence[int], since: int, until: int) -> Iterable[Any]:
    """(key, entry id, published, source) of every index row of ``keys`` within [since, until]
    whose key is not common."""
    if conn.dialect.name == "sqlite":
        # Hundreds of keys a feed, as one JSON parameter: straight to the driver, as _index
        # does. SQLAlchemy's processing of the parameters costs more than the lookup.
        window = (since, until)
        rows = conn.exec_driver_sql(_SQLITE_KEY_ROWS, (json.dumps(list(keys)), *window, KEY_CAP, *window))
    else:
        rows = conn.execute(_POSTGRES_KEY_ROWS, {"keys": list(keys), "since": since, "until": until, "cap": KEY_CAP})
    return rows


class _RecentPrints(OrderedDict[tuple[str, int], "Fingerprint"]):
    """Fingerprints of recently stored texts, by (entry id, hash of its title, summary and
    content): the copies of one story mostly arrive in one pass, and each is compared with
    the same stored entries, whose fingerprints are then not made again from their text."""

    SIZE = 512  # a bound on memory: a fingerprint holds a few kilobytes
    LOCK = threading.Lock()

    def remember(self, entry_id: str, title: str, summary: str, content: str, fingerprint: Fingerprint) -> None:
        key = (entry_id, hash((title, summary, content)))
        with self.LOCK:
            self[key] = fingerprint
            self.move_to_end(key)
            if len(self) > self.SIZE:
                self.popitem(last=False)

    def of(self, entry_id: str, title: str, summary: str, content: str) -> Fingerprint:
        found = self.get((entry_id, hash((title, summary, content))))
        if found is None:
            from newsriver.stories.fingerprint import of_entry

            found = of_entry(title, summary, content)
            self.remember(entry_id, title, summary, content, found)
        return found


_RECENT_PRINTS = _RecentPrints()


@dataclass(frozen=True, slots=True)
class _Offered:
    """A stored entry the index offered, with the text its fingerprint is made from."""

    cluster: str
    title: str
    summary: str
    content: str


def _candidates(conn: Connection, ids: Sequence[str]) -> tuple[dict[str, _Offered], dict[str, set[str]]]:
    """The offered entries by id, and the sources of each of their stories."""
    e = entries_table
    found: dict[str, _Offered] = {}
    for chunk in _chunks(ids):
        query = select(e.c.id, e.c.cluster, e.c.title, e.c.summary, e.c.content).where(e.c.id.in_(chunk))
        for r in conn.execute(query):
            found[r.id] = _Offered(r.cluster, r.title, r.summary, r.content)
    sources: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted({c.cluster for c in found.values()})):
        for cluster, member_source in conn.execute(select(e.c.cluster, e.c.source).where(e.c.cluster.in_(chunk))):
            sources[cluster].add(member_source)
    return found, sources


def _index(
    conn: Connection,
    source: str,
    inserts: list[dict[str, Any]],
    updates: list[tuple[str, dict[str, Any]]],
    prints: Mapping[str, Fingerprint],
) -> None:
    """Add the new rows' fingerprint keys, and the keys an edit brought to an edited row."""
    # Keys of the text before an edit stay: they only ever offer a candidate, which is then
    # compared with the text as it is now. An edited row's keys are all offered again, and
    # those it has already ignored: reading them first would read every row of a common key.
    rows = [
        (key, published, entry_id, source)
        for entry_id, row in [*((row["id"], row) for row in inserts), *updates]
        for published in (_seconds(row["published"]),)
        for key in prints[entry_id].keys
    ]
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        # A dozen rows per entry: straight to the driver, without SQLAlchemy's per-row
        # parameter processing, which costs more than the insert (plain integers and text).
        conn.exec_driver_sql(_INSERT_KEYS, rows)
    else:
        from sqlalchemy.dialects.postgresql import insert as upsert

        keys = [dict(zip(_KEY_COLUMNS, r, strict=True)) for r in rows]
        conn.execute(upsert(dedupe_keys_table).on_conflict_do_nothing(), keys)


def _seconds(when: datetime) -> int:
    return int(when.timestamp())
