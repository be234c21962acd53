"""The store writes new entries and sources at the driver itself: what it stores must be
exactly what SQLAlchemy's own insert stores, and read back as saved."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from newsriver.models import Article, Author, Enclosure
from newsriver.store.entries import ENTRY_COLUMNS, to_row
from newsriver.store.schema import entries_table, sources_table
from newsriver.store.store import Store
from tests.factories import make_article


def articles() -> list[Article]:
    paris = timezone(timedelta(hours=1))
    return [
        make_article(
            id="a1",
            entry_key="k1",
            url="https://example.org/a?x=1",
            canonical_url="https://example.org/a",
            title="Zoë's “quoted” headline",
            summary="<p>Summary</p>",
            content="<p>Body ✓</p>",
            text="Body ✓",
            authors=(Author("Ann", "ann@example.org", ""), Author(name="Bo")),
            published=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
            updated=datetime(2026, 3, 4, 6, 6, 7, tzinfo=paris),
            first_seen=datetime(2026, 3, 5, tzinfo=UTC),
            categories=("news", "Ünïcode"),
            enclosures=(Enclosure("https://example.org/a.mp3", "audio/mpeg", 1234), Enclosure("https://x.org/b")),
            language="fr-FR",
            image="https://example.org/i.png",
            comments="https://example.org/c",
            content_hash="ff" * 32,
        ),
        make_article(id="a2", entry_key="k2", title="Plain"),
    ]


def raw_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM entries ORDER BY id").fetchall()


def test_saved_rows_are_those_sqlalchemy_stores(tmp_path: Path) -> None:
    saved, reference = tmp_path / "saved.db", tmp_path / "reference.db"
    store = Store(f"sqlite:///{saved}")
    store.sources.sync([("src", "https://example.org/feed")])
    store.entries.save("src", articles(), {"status": "ok"})
    store.close()

    other = Store(f"sqlite:///{reference}")
    rows = [to_row(a) | {"story": a.id, "similarity": None} for a in articles()]
    with other.engine.begin() as conn:
        conn.execute(insert(entries_table), rows)
    other.close()

    assert raw_rows(saved) == raw_rows(reference)
    assert len(raw_rows(saved)) == 2


def test_saved_rows_read_back_as_saved(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'n.db'}")
    store.sources.sync([("src", "https://example.org/feed")])
    store.entries.save("src", articles(), {"status": "ok"})
    back = {a.id: a for a in store.selection.for_feed(["src"], 10)}
    store.close()
    # Aware datetimes compare as instants: the Paris one comes back in UTC, equal.
    assert back == {a.id: a for a in articles()}


def test_the_driver_level_insert_names_every_column_of_the_table() -> None:
    assert tuple(c.name for c in entries_table.columns) == ENTRY_COLUMNS


def test_a_new_source_row_holds_the_schemas_defaults(database_url: str) -> None:
    """sources.sync writes a new row at the driver: every column the schema gives a default
    has it, as SQLAlchemy's insert would have written it."""
    store = Store(database_url)
    store.sources.sync([("src", "https://example.org/feed")])
    row = store.sources.rows()["src"]
    store.close()
    defaults = {c.name: c.default.arg for c in sources_table.columns if c.default is not None}
    assert defaults == {name: getattr(row, name) for name in defaults}
    assert (row.url, row.feed_url, row.last_fetch, row.next_poll) == (("https://example.org/feed",) * 2 + (None, None))


def test_postgres_connections_prepare_no_statement(database_url: str) -> None:
    """A statement run many times on a store connection, at the driver or through SQLAlchemy,
    is never prepared on the server: a prepared statement's generic plan, made while a table
    was nearly empty, scanned all of dedupe_keys for every key looked up."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's prepared statements")
    store = Store(database_url)
    with store.transaction() as tx:
        for _ in range(10):
            tx.sql.rows("SELECT count(*) FROM sources WHERE name = ?", ("src",))
            tx.sa.execute(select(sources_table.c.name).where(sources_table.c.name == "src")).all()
        prepared = tx.sql.rows("SELECT statement FROM pg_prepared_statements")
    store.close()
    assert prepared == []
