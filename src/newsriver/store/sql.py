"""The statements the store runs for every entry and every source, straight to the driver.

SQLAlchemy's expression language and result machinery cost more than these queries do
(about 30 % of ``store.entries.save`` went to them), so they are written as SQL text once,
with ``?`` marks, and built once per dialect: sqlite3 takes them as they are, psycopg with
``%s``. Values cross as SQLAlchemy's column types (``schema``) store them, so a row written
here reads the same through SQLAlchemy, and the other way round: a date is naive UTC (on
SQLite, text in SQLAlchemy's format), JSON is text.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

IN_CHUNK = 500  # values per IN (...): under every backend's bound-parameter limit

_POSTGRES_TEXT: dict[str, str] = {}  # a statement's text with psycopg's marks, by its ``?`` text


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

    __slots__ = ("driver", "sqlite")

    def __init__(self, driver: Any, dialect: str) -> None:
        self.driver = driver
        self.sqlite = dialect == "sqlite"

    @classmethod
    def of(cls, conn: Connection) -> Sql:
        """The driver connection under a SQLAlchemy connection, in its transaction."""
        driver = conn.connection.dbapi_connection
        assert driver is not None  # a Connection inside a transaction holds one
        return cls(driver, conn.dialect.name)

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
        finally:
            cursor.close()

    def run_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = self.driver.cursor()
        try:
            cursor.executemany(self.text(statement), rows)
        finally:
            cursor.close()

    def bind(
        self,
        row: Mapping[str, Any],
        columns: Sequence[str],
        times: Collection[str] = (),
        jsons: Collection[str] = (),
    ) -> tuple[Any, ...]:
        """``row``'s values of ``columns`` as the store keeps them: ``times`` are dates, ``jsons`` JSON."""
        time = self.time
        return tuple(time(row[c]) if c in times else to_json(row[c]) if c in jsons else row[c] for c in columns)

    def time(self, value: datetime | None) -> Any:
        """A date as the store keeps it (``schema.UTCDateTime``): naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        naive = value.astimezone(UTC).replace(tzinfo=None)
        # SQLAlchemy's SQLite DATETIME text: microseconds always written.
        return naive.isoformat(" ", "microseconds") if self.sqlite else naive


def read_time(value: Any) -> datetime:
    """A stored date, aware UTC: SQLite gives the text, psycopg a naive datetime."""
    naive: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return naive.replace(tzinfo=UTC)


def read_optional_time(value: Any) -> datetime | None:
    """``read_time`` of a column that may be NULL."""
    return None if value is None else read_time(value)


def to_json(value: Any) -> str:
    """A JSON column's value, as SQLAlchemy's JSON type writes it (None as JSON null)."""
    return json.dumps(value)


def read_json(value: Any) -> Any:
    """A JSON column's value: SQLite gives the text, psycopg the value decoded."""
    return json.loads(value) if isinstance(value, str) else value
