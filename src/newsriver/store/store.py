"""The database: its engine and transactions, and its parts one level down.

SQLite by default (WAL); any SQLAlchemy URL works. Each part is one domain of the
schema (see ``schema``): ``store.sources``, ``store.entries``, ``store.selection``,
``store.prune``, ``store.meta``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from newsriver.errors import StoreError
from newsriver.store.entries import Entries
from newsriver.store.meta import Meta
from newsriver.store.prune import Prune
from newsriver.store.schema import migrate
from newsriver.store.selection import Selection
from newsriver.store.sources import Sources
from newsriver.store.sql import Sql

SQLITE_CACHE_KIB = 32 * 1024  # SQLite's page cache per connection (its default is 2 MB)
WRITE_LOCK = 0x73617665  # PostgreSQL advisory lock serializing writes that workers would race on


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for an in-memory one or another backend."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        file = sqlite_file(url)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url)
        self._batch = threading.local()  # the transaction ``batch`` holds open, per thread
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            with self.transaction() as conn:
                self.one_at_a_time(conn)  # workers starting together would race to create tables
                migrate(conn, url)
        except OperationalError as exc:
            raise StoreError(f"cannot open database {url!r}: {exc.orig}") from exc
        self.sources = Sources(self)
        self.entries = Entries(self)
        self.selection = Selection(self)
        self.prune = Prune(self)
        self.meta = Meta(self)

    def close(self) -> None:
        self.engine.dispose()

    def one_at_a_time(self, conn: Connection) -> None:
        """Serialize this transaction with others that call it (PostgreSQL; SQLite has one writer)."""
        if self.engine.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK)))

    @contextmanager
    def reading(self) -> Iterator[Sql]:
        """A connection of its own to read from, at the driver (see ``sql``)."""
        with self.engine.connect() as conn:
            yield Sql.of(conn)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction of its own, or the one ``batch`` holds open on this thread."""
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
