"""A database the first schema version made (entries.cluster) opens with today's code: the
column is renamed story in place, with its index, every row keeps its story, and the tables
added since are made. A version-5 SQLite database's related_terms is made again WITHOUT ROWID,
every row kept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from newsriver.store.coordination import _DUE
from newsriver.store.entries import url_hash
from newsriver.store.sql import SCHEMA_VERSION
from newsriver.store.store import Store
from tests.factories import make_article

# The DDL of schema version 1, as newsriver made it (the sources table unchanged since).
OLD_SCHEMA = [
    "CREATE TABLE newsriver_meta (key VARCHAR(64) NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key))",
    """CREATE TABLE sources (
        name VARCHAR(200) NOT NULL, url TEXT NOT NULL, feed_url TEXT NOT NULL,
        feed_url_origin VARCHAR(12) NOT NULL, via_public BOOLEAN NOT NULL, title TEXT NOT NULL,
        link TEXT NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL, body_hash VARCHAR(64) NOT NULL,
        status VARCHAR(20) NOT NULL, last_error TEXT NOT NULL, errors INTEGER NOT NULL,
        last_fetch TIMESTAMP WITHOUT TIME ZONE, last_success TIMESTAMP WITHOUT TIME ZONE,
        next_poll TIMESTAMP WITHOUT TIME ZONE, retry_after TIMESTAMP WITHOUT TIME ZONE,
        feed_interval INTEGER NOT NULL, PRIMARY KEY (name))""",
    """CREATE TABLE entries (
        id VARCHAR(36) NOT NULL, source VARCHAR(200) NOT NULL, entry_key TEXT NOT NULL,
        cluster VARCHAR(36) NOT NULL, url TEXT NOT NULL, canonical_url TEXT NOT NULL,
        url_hash VARCHAR(16) NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL, content TEXT NOT NULL,
        text TEXT NOT NULL, authors JSON NOT NULL, published TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        updated TIMESTAMP WITHOUT TIME ZONE NOT NULL, first_seen TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        categories JSON NOT NULL, enclosures JSON NOT NULL, language VARCHAR(35) NOT NULL,
        image TEXT NOT NULL, comments TEXT NOT NULL, content_hash VARCHAR(64) NOT NULL, similarity FLOAT,
        PRIMARY KEY (id), CONSTRAINT uq_entries_source_key UNIQUE (source, entry_key))""",
    "CREATE INDEX ix_entries_published ON entries (published)",
    "CREATE INDEX ix_entries_url_hash ON entries (url_hash)",
    "CREATE INDEX ix_entries_cluster ON entries (cluster)",
    "CREATE INDEX ix_entries_source_published ON entries (source, published, cluster)",
    "INSERT INTO newsriver_meta (key, value) VALUES ('schema_version', '1')",
]

# id, source, cluster, canonical URL, published: a1 and b1 are one story, c1 one of its own.
OLD_ROWS = [
    ("a1", "a", "a1", "https://news.example/one", "2026-01-02 10:00:00.000000"),
    ("b1", "b", "a1", "https://copies.example/one", "2026-01-02 11:00:00.000000"),
    ("c1", "c", "c1", "https://news.example/two", "2026-01-03 09:00:00.000000"),
]


def make_old_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in OLD_SCHEMA:
            conn.execute(text(statement))
        for entry_id, source, cluster, canonical_url, published in OLD_ROWS:
            conn.execute(
                text(
                    "INSERT INTO entries VALUES (:id, :source, :key, :cluster, :url, :url, :hash, :title, '', '',"
                    " '', '[]', :published, :published, :published, '[]', '[]', '', '', '', '', NULL)"
                ),
                {
                    "id": entry_id,
                    "source": source,
                    "key": entry_id,
                    "cluster": cluster,
                    "url": canonical_url,
                    "hash": url_hash(canonical_url),
                    "title": f"Title of {entry_id}",
                    "published": published,
                },
            )
    engine.dispose()


def test_a_version_1_database_opens_and_keeps_its_stories(database_url: str) -> None:
    make_old_database(database_url)
    store = Store(database_url)
    try:
        stories = store.selection.stories(["a", "b", "c"], 10)
        assert [(s.item.id, sorted(c.source for c in s.copies)) for s in stories] == [("c1", []), ("a1", ["b"])]
        assert stories[1].item.title == "Title of a1"
        assert stories[1].item.published == datetime(2026, 1, 2, 10, tzinfo=UTC)
        assert store.meta.get("schema_version") == str(SCHEMA_VERSION)
        assert inspect(store.engine).has_table("related_terms")  # version 4

        columns = {c["name"] for c in inspect(store.engine).get_columns("entries")}
        assert "story" in columns and "cluster" not in columns
        assert "podcast" in columns  # version 3
        indexes = {i["name"]: i["column_names"] for i in inspect(store.engine).get_indexes("entries")}
        assert indexes["ix_entries_story"] == ["story"]
        assert indexes["ix_entries_source_published"] == ["source", "published", "story"]
        assert "ix_entries_cluster" not in indexes

        # New copies still join the stories the old code stored (here by URL).
        store.sources.sync([("d", "https://d.example/feed")])
        copy = make_article(
            id="d1",
            source="d",
            entry_key="d1",
            canonical_url="https://news.example/one",
            published=datetime(2026, 1, 4, tzinfo=UTC),
        )
        assert store.entries.save("d", [copy], {"status": "ok"}).new == 1
        joined = store.selection.stories(["a", "b", "c", "d"], 10)
        assert [(s.item.id, sorted(c.source for c in s.copies)) for s in joined] == [("c1", []), ("a1", ["b", "d"])]
    finally:
        store.close()

    # Opening it again migrates nothing more.
    again = Store(database_url)
    try:
        assert [s.item.id for s in again.selection.stories(["a", "b", "c", "d"], 10)] == ["c1", "a1"]
    finally:
        again.close()


def test_a_version_4_database_gains_the_sources_known_entries(database_url: str) -> None:
    """Version 4 → 5: sources.digests (and on to the current version), NULL (nothing known) in the rows there were."""
    Store(database_url).close()
    engine = create_engine(database_url)
    with engine.begin() as conn:  # what version 4 was: no digests column (nor version 7's warning)
        conn.execute(text("ALTER TABLE sources DROP COLUMN digests"))
        conn.execute(text("ALTER TABLE sources DROP COLUMN warning"))
        conn.execute(text("UPDATE newsriver_meta SET value = '4' WHERE key = 'schema_version'"))
        conn.execute(
            text(
                "INSERT INTO sources (name, url, feed_url, feed_url_origin, via_public, title, link, etag,"
                " last_modified, body_hash, status, last_error, errors, feed_interval)"
                " VALUES ('a', 'https://a.example/feed', 'https://a.example/feed', '', false, '', '', '', '', 'h',"
                " 'ok', '', 0, 0)"
            )
        )
    engine.dispose()
    store = Store(database_url)
    try:
        assert store.meta.get("schema_version") == str(SCHEMA_VERSION)
        assert store.sources.known_entries("a") is None
        assert store.sources.rows()["a"].body_hash == "h"
        store.sources.update("a", digests="0123456789abcdef0123456789abcdef")
        assert store.sources.known_entries("a") == "0123456789abcdef0123456789abcdef"
    finally:
        store.close()


# Schema 4's and 5's related-coverage tables on SQLite, as newsriver made them (rowid tables).
ROWID_RELATED = [
    "CREATE TABLE related_terms (term BIGINT NOT NULL, df INTEGER NOT NULL, PRIMARY KEY (term))",
    "CREATE TABLE related_entries (entry_id VARCHAR(36) NOT NULL, grp VARCHAR(36) NOT NULL,"
    " group_published BIGINT NOT NULL, published BIGINT NOT NULL, headline_only BOOLEAN NOT NULL,"
    " vector TEXT NOT NULL, score FLOAT, PRIMARY KEY (entry_id))",
    "CREATE INDEX ix_related_entries_grp ON related_entries (grp)",
]


def test_a_version_5_sqlite_database_keeps_its_related_rows_and_its_terms_without_rowid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newsriver.db'}"
    Store(url).close()
    raw = sqlite3.connect(tmp_path / "newsriver.db")
    raw.execute("DROP TABLE related_terms")
    raw.execute("DROP TABLE related_entries")
    raw.execute("ALTER TABLE sources DROP COLUMN warning")  # version 7's
    for statement in ROWID_RELATED:
        raw.execute(statement)
    terms = [(-1, 2), (7, 1), (9, 2)]
    rows = [("a", "a", 10, 10, 0, '{"sweden":1.0000}', None), ("b", "a", 10, 20, 1, '{"sweden":1.0000}', 0.5)]
    raw.executemany("INSERT INTO related_terms VALUES (?, ?)", terms)
    raw.executemany("INSERT INTO related_entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    raw.execute("UPDATE newsriver_meta SET value = '5' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()

    store = Store(url)
    try:
        assert store.meta.get("schema_version") == str(SCHEMA_VERSION)
        with store.reading() as sql:
            assert sql.rows("SELECT * FROM related_terms ORDER BY term") == terms
            assert sql.rows("SELECT * FROM related_entries ORDER BY entry_id") == rows
            made = dict(sql.rows("SELECT name, sql FROM sqlite_master WHERE tbl_name LIKE 'related_%'"))
    finally:
        store.close()
    assert "WITHOUT ROWID" in made["related_terms"]
    assert set(made) == {
        "related_terms",
        "related_entries",
        "related_keys",
        "ix_related_entries_grp",
        "sqlite_autoindex_related_entries_1",
    }


def test_a_version_6_database_moves_a_warning_out_of_last_error(database_url: str) -> None:
    """Version 6 → 7: a document's warning, kept in last_error (state "warning"), gets its own column."""
    Store(database_url).close()
    engine = create_engine(database_url)
    with engine.begin() as conn:  # what version 6 was: no warning column, the warning in last_error
        conn.execute(text("ALTER TABLE sources DROP COLUMN warning"))
        conn.execute(text("UPDATE newsriver_meta SET value = '6' WHERE key = 'schema_version'"))
        for name, status, error in [("cut", "warning", "the document ends early"), ("bad", "error", "HTTP 500")]:
            conn.execute(
                text(
                    "INSERT INTO sources (name, url, feed_url, feed_url_origin, via_public, title, link, etag,"
                    " last_modified, body_hash, status, last_error, errors, feed_interval)"
                    f" VALUES ('{name}', 'https://a.example/{name}', 'https://a.example/{name}', '', false, '', '',"
                    f" '', '', 'h', '{status}', '{error}', 0, 0)"
                )
            )
    engine.dispose()
    store = Store(database_url)
    try:
        assert store.meta.get("schema_version") == str(SCHEMA_VERSION)
        rows = store.sources.rows()
        assert (rows["cut"].status, rows["cut"].last_error, rows["cut"].warning) == (
            "warning",
            "",
            "the document ends early",
        )
        assert (rows["bad"].status, rows["bad"].last_error, rows["bad"].warning) == ("error", "HTTP 500", "")
    finally:
        store.close()


def test_a_version_7_database_gains_the_index_its_claims_read_the_due_sources_from(database_url: str) -> None:
    """Version 7 → 8: the due sources' index (schema.DUE_INDEXES); on SQLite a claim's read of
    the due sources walks it instead of sorting every source."""
    Store(database_url).close()
    engine = create_engine(database_url)
    name = "ix_sources_due" if engine.dialect.name == "sqlite" else "ix_sources_due_pg"
    with engine.begin() as conn:
        conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("UPDATE newsriver_meta SET value = '7' WHERE key = 'schema_version'"))
    with engine.connect() as conn:
        assert name not in {index["name"] for index in inspect(conn).get_indexes("sources")}
    Store(database_url).close()
    with engine.connect() as conn:
        assert name in {index["name"] for index in inspect(conn).get_indexes("sources")}
        version = conn.execute(text("SELECT value FROM newsriver_meta WHERE key = 'schema_version'")).scalar()
        assert version == str(SCHEMA_VERSION)
        if engine.dialect.name == "sqlite":
            plan = " ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + _DUE, ("", "", "", 64, 0)))
            assert f"USING INDEX {name}" in plan and "TEMP B-TREE" not in plan
    engine.dispose()
