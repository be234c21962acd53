"""The store at the driver: its connections (sqlite3, or psycopg for PostgreSQL), and the
statements it runs for every entry and every source.

SQLAlchemy's expression language and result machinery cost more than these queries do
(about 30 % of ``store.entries.save`` went to them), so they are written as SQL text once,
with ``?`` marks, and built once per dialect: sqlite3 takes them as they are, psycopg with
``%s`` (``Sql``). Values cross as SQLAlchemy's column types (``schema``) store them, so a
row written here reads the same through SQLAlchemy, and the other way round: a date is
naive UTC (on SQLite, text in SQLAlchemy's format), JSON is text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from newsriver.errors import StoreError

# 1: the first release. 2: entries.cluster renamed story (and its index). 3: entries.podcast.
# 4: the related-coverage and full-text tables (new tables only). 5: sources.digests (a
# source's known entries). 6: on SQLite, related_terms WITHOUT ROWID (made again, rows
# copied). 7: sources.warning, a document's warning kept apart from last_error. 8: the index of
# due sources (schema.DUE_INDEXES). A database
# at this version has every table and column: opening it reads the version and nothing
# else (``store``).
SCHEMA_VERSION = 8
IN_CHUNK = 500  # values per IN (...): under every backend's bound-parameter limit
# SQLite's page cache per writing connection (its default is 2 MB). A cold pass of 600 farm
# feeds fills it; with 32 MB it peaked 9 MB higher for no CPU saved that could be told from
# noise, with 16 MB its polling process spent 3-15 % more CPU (pages read back from the OS).
SQLITE_CACHE_KIB = 24 * 1024
# ... and per connection that only reads: its reads (a pass's sources and their rhythms, a
# feed's stories) meet each page about once. With the default 2 MB, a warm pass of 1,000 feeds
# kept the 2 MB of source rows it read once, most of the gap to reader's peak RSS.
SQLITE_READ_CACHE_KIB = 256

_POSTGRES_TEXT: dict[str, str] = {}  # a statement's text with psycopg's marks, by its ``?`` text


class DatabaseError(StoreError):
    """The database refused a statement or a commit; ``orig`` is the driver's error."""

    def __init__(self, orig: Exception) -> None:
        super().__init__(str(orig))
        self.orig = orig

    @property
    def conflict(self) -> bool:
        """Whether a key was taken: another transaction wrote the row first."""
        if isinstance(self.orig, sqlite3.IntegrityError):
            return True
        if type(self.orig).__module__.startswith("psycopg"):
            import psycopg

            return isinstance(self.orig, psycopg.IntegrityError)
        return False


@dataclass(frozen=True, slots=True)
class Target:
    """Where a database URL leads: SQLite's file, or PostgreSQL through psycopg."""

    sqlite: bool
    file: Path | None  # SQLite's
    conninfo: str  # psycopg's
    sqlalchemy_url: str  # the same database for SQLAlchemy (migrations, the parts built with it)


def target(url: str) -> Target:
    """The database ``url`` names: ``sqlite:///FILE`` or ``postgresql+psycopg://…``."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("sqlite", "sqlite+pysqlite"):
        path = rest.removeprefix("/").partition("?")[0]
        file = Path(path) if path not in ("", ":memory:") else None
        return Target(True, file, "", url)
    if sep and scheme in ("postgresql", "postgresql+psycopg"):
        return Target(False, None, f"postgresql://{rest}", f"postgresql+psycopg://{rest}")
    raise StoreError(
        f"invalid database URL {url!r}: newsriver stores in SQLite (sqlite:///FILE) or PostgreSQL (postgresql+psycopg://…)"
    )


def connect(to: Target, writes: bool = True) -> Any:
    """A new driver connection, set up as every connection of the store is; ``writes``: one
    for transactions, else one that only reads."""
    try:
        if not to.sqlite:
            import psycopg  # only for PostgreSQL (an optional dependency)

            # No server-side prepared statements (psycopg prepares a statement at its 5th
            # run on a connection). PostgreSQL then plans it once for any parameters (a
            # generic plan) and keeps that plan for the connection's life: the near-duplicate
            # lookup's, made while dedupe_keys was nearly empty, took most of a 1,000-feed
            # worker's time (127 s until every source was polled, 16.6 s without).
            return psycopg.connect(to.conninfo, prepare_threshold=None)
        if to.file is None:
            raise StoreError("an in-memory SQLite database is not supported: each connection would see its own")
        # The store hands a connection to one thread at a time, not always the one that made it.
        driver = sqlite3.connect(to.file, check_same_thread=False)
        for pragma in _SQLITE_PRAGMAS:
            driver.execute(pragma)
        # Every new entry lands at random places in the near-duplicate index and in the
        # entries' indexes (ids and keys are hashes). With SQLite's default 2 MB page cache,
        # a store of tens of thousands of entries reads those pages back from the OS at each
        # insert: a cold poll of 1,000 feeds spent a quarter of its storing CPU on it. Pages
        # are taken only as the database grows into them.
        driver.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB if writes else SQLITE_READ_CACHE_KIB}")
        return driver
    except _errors(to.sqlite) as exc:
        raise DatabaseError(exc) from exc


_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


@cache
def _errors(sqlite: bool) -> type[Exception]:
    """The driver's base class of the errors a database reports."""
    if sqlite:
        return sqlite3.Error
    import psycopg

    return psycopg.Error


def chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most IN_CHUNK, one IN (...) list each."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def marks(count: int) -> str:
    """``count`` parameter marks, for an IN (...) list or a row of values."""
    return ", ".join("?" * count)


@cache
def insert_text(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(len(columns))})"


@cache
def update_text(table: str, columns: tuple[str, ...], key: str) -> str:
    """An UPDATE of ``columns`` of the row whose ``key`` is given last."""
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE {key} = ?"


class Sql:
    """A transaction's driver connection, running statements written with ``?`` marks."""

    __slots__ = ("_error", "driver", "sqlite")

    def __init__(self, driver: Any, sqlite: bool) -> None:
        self.driver = driver
        self.sqlite = sqlite
        self._error = _errors(sqlite)

    def text(self, statement: str) -> str:
        """The statement as this driver takes it."""
        if self.sqlite:
            return statement
        found = _POSTGRES_TEXT.get(statement)
        if found is None:
            assert "%" not in statement  # psycopg would read it as a mark
            found = _POSTGRES_TEXT[statement] = statement.replace("?", "%s")
        return found

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.driver.cursor()
        try:
            cursor.execute(self.text(statement), params)
            return [tuple(row) for row in cursor.fetchall()]
        except self._error as exc:
            raise DatabaseError(exc) from exc
        finally:
            cursor.close()

    def first(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        found = self.rows(statement, params)
        return found[0] if found else None

    def run(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        cursor = self.driver.cursor()
        try:
            cursor.execute(self.text(statement), params)
            return int(cursor.rowcount)
        except self._error as exc:
            raise DatabaseError(exc) from exc
        finally:
            cursor.close()

    def run_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = self.driver.cursor()
        try:
            cursor.executemany(self.text(statement), rows)
        except self._error as exc:
            raise DatabaseError(exc) from exc
        finally:
            cursor.close()

    def end(self, commit: bool) -> None:
        """Commit or roll back the driver's transaction."""
        try:
            self.driver.commit() if commit else self.driver.rollback()
        except self._error as exc:
            raise DatabaseError(exc) from exc

    def bind(
        self,
        row: Mapping[str, Any],
        columns: Sequence[str],
        times: Collection[str] = (),
        jsons: Collection[str] = (),
    ) -> tuple[Any, ...]:
        """``row``'s values of ``columns`` as the store keeps them: ``times`` are dates, ``jsons`` JSON."""
        # Every new entry's row passes here (23 columns): which columns convert is worked
        # out once per set of columns, not tested column by column for every row.
        time = self.time
        return tuple(
            row[c] if kind is _AS_IS else time(row[c]) if kind is _TIME else to_json(row[c])
            for c, kind in _kinds(tuple(columns), frozenset(times), frozenset(jsons))
        )

    def time(self, value: datetime | None) -> Any:
        """A date as the store keeps it (``schema.UTCDateTime``): naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        if self.sqlite:
            return _sqlite_time(value)
        return value.astimezone(UTC).replace(tzinfo=None)


_AS_IS, _TIME, _JSON = "as is", "time", "json"


@cache
def _kinds(columns: tuple[str, ...], times: frozenset[str], jsons: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """Each of ``columns`` with how ``Sql.bind`` converts its value."""
    return tuple((c, _TIME if c in times else _JSON if c in jsons else _AS_IS) for c in columns)


@lru_cache(maxsize=4096)
def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text of an aware date, naive UTC: microseconds always
    written. Remembered: the entries of one reading share their first sighting, and most
    have their publication date as their update date."""
    # Aware dates equal as instants hash and compare equal, and have the same UTC text.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def read_time(value: Any) -> datetime:
    """A stored date, aware UTC: SQLite gives the text, psycopg a naive datetime."""
    if isinstance(value, str):
        # The text with UTC's offset appended makes the aware date in one step (0.12 µs,
        # against 0.8 for the naive date's replace): a publish reads thousands (four in each
        # source's row). Any other text (a date alone, an offset of its own) as before.
        try:
            found = datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
        else:
            if found.tzinfo is UTC:
                return found
        value = datetime.fromisoformat(value)
    naive: datetime = value
    return naive.replace(tzinfo=UTC)


def read_optional_time(value: Any) -> datetime | None:
    """``read_time`` of a column that may be NULL."""
    return None if value is None else read_time(value)


def to_json(value: Any) -> str:
    """A JSON column's value, as SQLAlchemy's JSON type writes it (None as JSON null)."""
    # Many entries have no authors, categories, enclosures or podcast: an empty one is not encoded.
    if value is None:
        return "null"
    if type(value) is list and not value:
        return "[]"
    return json.dumps(value)


def read_json(value: Any) -> Any:
    """A JSON column's value: SQLite gives the text, psycopg the value decoded."""
    return json.loads(value) if isinstance(value, str) else value
