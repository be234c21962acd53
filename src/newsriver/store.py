"""The database: sources' fetch state and articles, through SQLAlchemy Core.

SQLite by default (WAL); any SQLAlchemy URL works. The schema is created on first use and
carries a version number so later releases can migrate it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from .dedupe import Stored, Verdict, decide
from .errors import StoreError
from .models import Article, Author, Enclosure

SCHEMA_VERSION = 1


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
    Column("feed_url", Text, nullable=False),  # what we fetch: differs after a 301
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
)


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
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except OperationalError as exc:
            raise StoreError(f"cannot open database {url!r}: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _migrate(self) -> None:
        with self._tx() as conn:
            metadata.create_all(conn)
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
            rows = {r.name: r for r in conn.execute(select(sources_table.c.name, sources_table.c.url))}
            for name, url in configured:
                if name not in rows:
                    conn.execute(insert(sources_table).values(name=name, url=url, feed_url=url))
                elif rows[name].url != url:
                    conn.execute(
                        update(sources_table)
                        .where(sources_table.c.name == name)
                        .values(
                            url=url, feed_url=url, etag="", last_modified="", body_hash="", errors=0, next_poll=None
                        )
                    )

    def sources(self) -> dict[str, SourceRow]:
        with self.engine.connect() as conn:
            return {r.name: SourceRow(**r._asdict()) for r in conn.execute(select(sources_table))}

    def update_source(self, name: str, **values: Any) -> None:
        with self._tx() as conn:
            conn.execute(update(sources_table).where(sources_table.c.name == name).values(**values))

    def entry_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(entries_table.c.source, func.count()).group_by(entries_table.c.source))
            return {source: count for source, count in rows}

    # --- articles ---------------------------------------------------------------------

    def save(self, source: str, articles: Sequence[Article], source_values: dict[str, Any]) -> SaveCounts:
        """Store one fetch's articles and its source state in one transaction."""
        e = entries_table
        counts: Counter[Verdict] = Counter()
        with self._tx() as conn:
            if articles:
                keys = [a.entry_key for a in articles]
                by_key = {s.entry_key: s for s in _stored(conn, and_(e.c.source == source, e.c.entry_key.in_(keys)))}
                hashes = sorted({url_hash(a.canonical_url) for a in articles if a.canonical_url})
                by_url: dict[str, list[Stored]] = {}
                for s in _stored(conn, e.c.url_hash.in_(hashes)) if hashes else []:
                    by_url.setdefault(s.canonical_url, []).append(s)
                in_batch = Counter(a.canonical_url for a in articles)
                inserts, updates = [], []
                for article in articles:
                    decision = decide(
                        article, by_key.get(article.entry_key), by_url.get(article.canonical_url, ()), in_batch
                    )
                    counts[decision.verdict] += 1
                    if decision.verdict is Verdict.NEW:
                        row = _row(article) | {"cluster": decision.cluster}
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
                        updates.append((decision.target, row))
                if inserts:
                    conn.execute(insert(e), inserts)
                for target, row in updates:
                    conn.execute(update(e).where(e.c.id == target).values(**row))
            conn.execute(update(sources_table).where(sources_table.c.name == source).values(**source_values))
        return SaveCounts(new=counts[Verdict.NEW], updated=counts[Verdict.EDITED])

    def select_for_feed(self, sources: Sequence[str], limit: int) -> list[Article]:
        """The newest ``limit`` stories among ``sources``, one copy per story.

        Each story shows its kept copy when that copy's source is selected, else the
        earliest-seen copy among the selected sources.
        """
        e = entries_table
        rank = (
            func.row_number()
            .over(
                partition_by=e.c.cluster,
                order_by=[(e.c.cluster == e.c.id).desc(), e.c.first_seen, e.c.source],
            )
            .label("rank")
        )
        ranked = select(e.c.id, e.c.published, rank).where(e.c.source.in_(list(sources))).subquery()
        chosen = (
            select(ranked.c.id)
            .where(ranked.c.rank == 1)
            .order_by(ranked.c.published.desc(), ranked.c.id)
            .limit(limit)
            .subquery()
        )
        query = select(e).where(e.c.id.in_(select(chosen.c.id))).order_by(e.c.published.desc(), e.c.id)
        with self.engine.connect() as conn:
            return [_article(r._mapping) for r in conn.execute(query)]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _stored(conn: Connection, where: Any) -> list[Stored]:
    e = entries_table
    query = select(e.c.id, e.c.source, e.c.entry_key, e.c.canonical_url, e.c.content_hash, e.c.cluster, e.c.published)
    return [Stored(**r._asdict()) for r in conn.execute(query.where(where))]


def _as_stored(row: dict[str, Any]) -> Stored:
    return Stored(**{k: row[k] for k in Stored.__slots__})


def _row(article: Article) -> dict[str, Any]:
    row = asdict(article)
    row["authors"] = [asdict(a) for a in article.authors]
    row["enclosures"] = [asdict(x) for x in article.enclosures]
    row["categories"] = list(article.categories)
    row["url_hash"] = url_hash(article.canonical_url)
    return row


def _article(row: Any) -> Article:
    values = {k: row[k] for k in Article.__slots__}
    values["authors"] = tuple(Author(**a) for a in _json(row["authors"]))
    values["enclosures"] = tuple(Enclosure(**x) for x in _json(row["enclosures"]))
    values["categories"] = tuple(_json(row["categories"]))
    return Article(**values)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
