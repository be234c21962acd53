"""The database: its connections and transactions, and its parts one level down.

SQLite by default (WAL), or PostgreSQL through psycopg. Each part is one domain of the
schema (see ``schema``): ``store.sources``, ``store.entries``, ``store.selection``,
``store.prune``, ``store.meta``.

The store holds the driver's connections itself, and what runs for every entry and every
source goes to them as SQL text (``sql``). SQLAlchemy (the schema, its migrations, the
statements built with it) is imported only where it is used: a pass where every feed
answers 304 needs none of it, and it is a quarter of such a pass's CPU and half of its
memory. A transaction hands the parts built with SQLAlchemy its own connection
(``Transaction.sa``), so all of a transaction's statements are in it whichever way they
were written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsriver.errors import StoreError
from newsriver.store.meta import Meta
from newsriver.store.sources import Sources
from newsriver.store.sql import SCHEMA_VERSION, DatabaseError, Sql, connect, target

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from newsriver.store.entries import Entries
    from newsriver.store.prune import Prune
    from newsriver.store.selection import Selection

WRITE_LOCK = 0x73617665  # PostgreSQL advisory lock serializing writes that workers would race on
IDLE_CONNECTIONS = 5  # of each kind (writing, reading) kept open for the next use; more are closed


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for an in-memory one or another backend."""
    return target(url).file


class Transaction:
    """One transaction of the store: its statements at the driver (``sql``), and through
    SQLAlchemy (``sa``) for the parts that build them with it, on the same connection."""

    __slots__ = ("_sa", "_store", "sql")

    def __init__(self, store: Store, sql: Sql) -> None:
        self.sql = sql
        self._store = store
        self._sa: Connection | None = None

    @property
    def sa(self) -> Connection:
        if self._sa is None:
            self._sa = self._store._bridge(self.sql.driver)
        return self._sa


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self._target = target(url)
        if self._target.file is not None:
            self._target.file.parent.mkdir(parents=True, exist_ok=True)
        self._idle: dict[bool, list[Any]] = {True: [], False: []}  # not in use: for writing, for reading
        self._lock = threading.Lock()
        self._batch = threading.local()  # the transaction ``batch`` holds open, per thread
        self._hooks: list[Callable[[], None]] = []
        self._engine: Engine | None = None
        self._bridges: dict[int, Engine] = {}  # see _bridge
        try:
            with self.reading() as sql:
                version = _schema_version(sql)
            if version != str(SCHEMA_VERSION):
                from newsriver.store.schema import migrate  # SQLAlchemy's part: only to create or upgrade

                with self.transaction() as tx:
                    self.one_at_a_time(tx)  # workers starting together would race to create tables
                    migrate(tx.sa, url)
        except DatabaseError as exc:
            raise StoreError(f"cannot open database {url!r}: {exc.orig}") from exc
        self.sources = Sources(self)
        self.meta = Meta(self)

    # Entries and their selection bring the story rules (stories.match, stories.retention:
    # 17 dataclasses made at import): a pass where every feed answers 304 saves and selects
    # no entry, and never imports them.
    @cached_property
    def entries(self) -> Entries:
        from newsriver.store.entries import Entries

        return Entries(self)

    @cached_property
    def selection(self) -> Selection:
        from newsriver.store.selection import Selection

        return Selection(self)

    @cached_property
    def prune(self) -> Prune:
        from newsriver.store.prune import Prune  # built with SQLAlchemy: the prune command's and the service's

        return Prune(self)

    @property
    def postgres(self) -> bool:
        return not self._target.sqlite

    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine on the same database, for what reads or writes through it on
        its own connections (coordination, related coverage's listing)."""
        if self._engine is None:
            from sqlalchemy import create_engine, event

            self._engine = create_engine(self._target.sqlalchemy_url, creator=lambda: connect(self._target))
            event.listen(self._engine, "begin", lambda _conn: self._before())
        return self._engine

    def dedicated(self) -> Sql:
        """A connection of the caller's own, for as long as it keeps it (a session's lock)."""
        return Sql(connect(self._target), self._target.sqlite)

    def before_transaction(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` before every transaction and every read; what it raises refuses them."""
        self._hooks.append(hook)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        with self._lock:
            idle = [driver for drivers in self._idle.values() for driver in drivers]
            self._idle = {True: [], False: []}
        for driver in idle:
            self._close(driver)

    def release_memory(self) -> None:
        """Close the idle connections that write: each held a page cache of up to
        ``sql.SQLITE_CACHE_KIB`` (SQLite), which is freed. The next transaction connects again."""
        with self._lock:
            idle, self._idle[True] = self._idle[True], []
        for driver in idle:
            self._close(driver)

    def one_at_a_time(self, tx: Transaction) -> None:
        """Serialize this transaction with others that call it (PostgreSQL; SQLite has one writer)."""
        if self.postgres:
            tx.sql.rows("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))

    @contextmanager
    def reading(self) -> Iterator[Sql]:
        """A connection of its own to read from (never the one ``batch`` holds open)."""
        driver = self._checkout(writes=False)
        try:
            yield Sql(driver, self._target.sqlite)
        finally:
            self._checkin(driver, writes=False)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction of its own, or the one ``batch`` holds open on this thread."""
        batched: Transaction | None = getattr(self._batch, "tx", None)
        if batched is not None:
            yield batched
            return
        with self.begin() as tx:
            yield tx

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run this thread's writes inside in one transaction: all are kept or none.

        Committing costs about as much as the writes themselves (every index page a save
        touched is written out), so a poll stores the fetches that finished together at once.
        """
        if getattr(self._batch, "tx", None) is not None:
            yield  # already inside one
            return
        with self.begin() as tx:
            self._batch.tx = tx
            try:
                yield
            finally:
                self._batch.tx = None

    @contextmanager
    def begin(self) -> Iterator[Transaction]:
        """A transaction of its own, even on a thread inside ``batch``."""
        driver = self._checkout(writes=True)
        tx = Transaction(self, Sql(driver, self._target.sqlite))
        try:
            try:
                yield tx
            except BaseException:
                tx.sql.end(commit=False)
                raise
            tx.sql.end(commit=True)
        finally:
            if tx._sa is not None:
                tx._sa.close()  # hands the bridge back; the transaction was ended above
            self._checkin(driver, writes=True)

    def _before(self) -> None:
        for hook in self._hooks:
            hook()

    def _checkout(self, writes: bool) -> Any:
        self._before()
        with self._lock:
            idle = self._idle[writes]
            if idle:
                return idle.pop()
        return connect(self._target, writes)

    def _checkin(self, driver: Any, writes: bool) -> None:
        try:
            Sql(driver, self._target.sqlite).end(commit=False)  # a read leaves PostgreSQL in a transaction
        except DatabaseError:
            self._close(driver)  # broken: the next checkout connects again
            return
        with self._lock:
            idle = self._idle[writes]
            if len(idle) < IDLE_CONNECTIONS:
                idle.append(driver)
                return
        self._close(driver)

    def _close(self, driver: Any) -> None:
        bridge = self._bridges.pop(id(driver), None)
        if bridge is not None:
            bridge.dispose()
        with suppress(Exception):  # a connection that broke: nothing more to do with it
            driver.close()

    def _bridge(self, driver: Any) -> Connection:
        """A SQLAlchemy connection on ``driver``, inside the store's transaction on it.

        One engine per driver connection, whose pool holds that connection alone (made
        once: SQLAlchemy sets a connection up when its pool first meets it). It sees the
        connection through ``_Lent``, which cannot end the transaction: SQLAlchemy rolls
        back when it first meets a connection and when a connection is handed back, and
        the store commits or rolls back itself.
        """
        engine = self._bridges.get(id(driver))
        if engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import StaticPool

            lent = _Lent(driver)
            # hstore's lookup wants psycopg's own connection class; newsriver has no hstore.
            options = {"use_native_hstore": False} if self.postgres else {}
            engine = create_engine(self._target.sqlalchemy_url, creator=lambda: lent, poolclass=StaticPool, **options)
            self._bridges[id(driver)] = engine
        return engine.connect()


class _Lent:
    """A driver connection as a transaction lends it to SQLAlchemy: everything but ending it."""

    __slots__ = ("_driver",)

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


def _schema_version(sql: Sql) -> str | None:
    """The database's schema version; None when it has no tables yet."""
    try:
        found = sql.first("SELECT value FROM newsriver_meta WHERE key = 'schema_version'")
    except DatabaseError:
        return None  # no newsriver_meta: a new database
    return str(found[0]) if found is not None else None
