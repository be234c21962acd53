"""Every table newsriver keeps, their column types, and the migrations between schema versions.

The schema is created on first use and carries a version number (``newsriver_meta``), so a
later release upgrades a database an earlier one made, in place.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect

from newsriver.errors import StoreError
from newsriver.store.sql import IN_CHUNK as IN_CHUNK  # where the statements' modules have them from
from newsriver.store.sql import SCHEMA_VERSION
from newsriver.store.sql import chunks as chunks


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
    # What the last document parsed lost (a file cut short): the source's state is "warning"
    # while it has one and its last fetch succeeded. Not an error: the document was stored.
    Column("warning", Text, nullable=False, default=""),
    Column("errors", Integer, nullable=False, default=0),
    Column("last_fetch", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("next_poll", UTCDateTime),
    Column("retry_after", UTCDateTime),  # the host asked to be left alone until then
    Column("feed_interval", Integer, nullable=False, default=0),  # seconds the feed asks between polls
    # The last stored document's entries by raw hash (ingest/digest.py's Known): those the
    # next document carries unchanged are not normalized again. NULL: none known.
    Column("digests", Text),
)
# The due sources in claim order (coordination._DUE and _DUE_POSTGRES: never polled first, then
# by next poll and name), read a page at a time off this index instead of every source read and
# sorted at each claim: 6 ms of CPU a claim of 64 at 10,000 sources. SQLite keeps NULLs first in
# an ascending index and takes no NULLS FIRST in one; PostgreSQL keeps them last unless told.
DUE_INDEXES = (
    Index("ix_sources_due", sources_table.c.next_poll, sources_table.c.name).ddl_if(dialect="sqlite"),
    Index("ix_sources_due_pg", sources_table.c.next_poll.asc().nulls_first(), sources_table.c.name).ddl_if(
        dialect="postgresql"
    ),
)

entries_table = Table(
    "entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(200), nullable=False),
    Column("entry_key", Text, nullable=False),
    Column("story", String(36), nullable=False, index=True),  # the id of the copy the story shows
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
    Column("similarity", Float),  # how strongly it matched its story's shown copy
    Column("podcast", JSON),  # an episode's itunes:* metadata (models.Podcast); NULL for none
    UniqueConstraint("source", "entry_key", name="uq_entries_source_key"),
    # A source's newest entries without sorting them all: its rhythm, and a small feed's
    # stories (the story too, so that reading them touches the index alone).
    Index("ix_entries_source_published", "source", "published", "story"),
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

# Related coverage (see ``store.related``): document frequencies, the key index, event groups.
# New tables only, no new column: a database of schema 3 gains them in the upgrade to 4.
# On SQLite related_terms is WITHOUT ROWID (schema 6): a word's row is found in one B-tree
# instead of the key's index and then the table (a save reads and counts some 40). Not
# related_entries: its rows (a vector, ~800 bytes) are too large for it to pay, measured at
# 100,000 entries (SQLite says as much of rows over a twentieth of a page).
related_terms_table = Table(
    "related_terms",
    metadata,
    Column("term", BigInteger, primary_key=True, autoincrement=False),
    Column("df", Integer, nullable=False),
    sqlite_with_rowid=False,
)
related_keys_table = Table(
    "related_keys",
    metadata,
    Column("key", BigInteger, nullable=False),
    Column("published", BigInteger, nullable=False),  # Unix seconds, as dedupe_keys
    Column("entry_id", String(36), nullable=False),
    PrimaryKeyConstraint("key", "published", "entry_id"),
    sqlite_with_rowid=False,
)
related_entries_table = Table(
    "related_entries",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("grp", String(36), nullable=False),  # the group's first report's entry id
    Column("group_published", BigInteger, nullable=False),  # that report's publication, Unix seconds
    Column("published", BigInteger, nullable=False),
    Column("headline_only", Boolean, nullable=False),
    Column("vector", Text, nullable=False),  # JSON: word → TF-IDF weight
    # How strongly it matched the report it joined; NULL for a group's first, and a copy.
    Column("score", Float),
    Index("ix_related_entries_grp", "grp"),
)

# --- many workers on one database (see ``coordination``) ------------------------------

# Full text (``full_text`` sources): the page of each teaser entry fetched once per link, and
# what came of it; the counts by source and result are what ``status`` and /metrics show.
pages_table = Table(
    "full_text_pages",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("source", String(200), nullable=False, index=True),
    Column("url", Text, nullable=False),  # the entry's link when its page was fetched
    Column("result", String(12), nullable=False),  # extracted, kept_teaser, refused, failed
    Column("at", UTCDateTime, nullable=False),
)

leases_table = Table(
    "leases",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("until", UTCDateTime, nullable=False),
)

workers_table = Table(
    "workers",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("heartbeat", UTCDateTime, nullable=False),
)

# Rendered output, so stateless web nodes can serve it with the same validators.
rendered_table = Table(
    "rendered",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("body", LargeBinary, nullable=False),
    Column("etag", String(80), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)


# --- migrations -------------------------------------------------------------------------


def migrate(conn: Connection, url: str) -> None:
    """Create what is missing and upgrade an older schema in place, in the caller's
    transaction (which serializes it with other workers opening the same database)."""
    m = meta_table.c
    version = None
    if inspect(conn).has_table(meta_table.name):
        version = conn.execute(select(m.value).where(m.key == "schema_version")).scalar()
    if version is not None and int(version) > SCHEMA_VERSION:
        raise StoreError(
            f"database {url} has schema version {version}, newer than this "
            f"newsriver understands ({SCHEMA_VERSION}); upgrade newsriver"
        )
    if version is not None and int(version) < 2:
        _story_column(conn)
    if version is not None and int(version) < 3:
        conn.execute(text("ALTER TABLE entries ADD COLUMN podcast JSON"))  # NULL in every row: no podcast
    if version is not None and int(version) < 5:
        conn.execute(text("ALTER TABLE sources ADD COLUMN digests TEXT"))  # NULL: every entry digested once more
    if version is not None and int(version) < 6 and conn.dialect.name == "sqlite":
        _without_rowid(conn)
    if version is not None and int(version) < 7:
        _warning_column(conn)
    metadata.create_all(conn)
    for index in (*entries_table.indexes, *DUE_INDEXES):  # create_all adds none to a table that exists
        index.create(conn, checkfirst=True)  # each its dialect's only (ddl_if)
    if version is None:
        conn.execute(insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION)))
    elif int(version) < SCHEMA_VERSION:
        conn.execute(update(meta_table).where(m.key == "schema_version").values(value=str(SCHEMA_VERSION)))


def _warning_column(conn: Connection) -> None:
    """Version 6 → 7: a document's warning gets a column of its own. Version 6 kept it in
    ``last_error`` (state "warning"), where a failed fetch overwrote it and a reset cleared it
    while the state stayed."""
    conn.execute(text("ALTER TABLE sources ADD COLUMN warning TEXT NOT NULL DEFAULT ''"))
    conn.execute(text("UPDATE sources SET warning = last_error, last_error = '' WHERE status = 'warning'"))


def _without_rowid(conn: Connection) -> None:
    """Version 5 → 6, SQLite: ``related_terms`` made again WITHOUT ROWID, its rows copied
    (a table cannot change that in place; it has no index of its own to move). A database
    of version 3 or older has none: ``create_all`` makes it."""
    table = related_terms_table
    if not inspect(conn).has_table(table.name):
        return
    conn.execute(text(f"ALTER TABLE {table.name} RENAME TO {table.name}_old"))
    table.create(conn)
    columns = ", ".join(c.name for c in table.columns)
    conn.execute(text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {table.name}_old"))
    conn.execute(text(f"DROP TABLE {table.name}_old"))


def _story_column(conn: Connection) -> None:
    """Version 1 → 2: entries.cluster is named story, as the code calls it.

    Both backends rename a column in place, and the indexes on it follow; the index named
    after it is renamed too (SQLite cannot rename an index: it is made again, by
    ``migrate``, from the table definition).
    """
    conn.execute(text("ALTER TABLE entries RENAME COLUMN cluster TO story"))
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER INDEX IF EXISTS ix_entries_cluster RENAME TO ix_entries_story"))
    else:
        conn.execute(text("DROP INDEX IF EXISTS ix_entries_cluster"))
