"""Small named values the store keeps beside its tables (``newsriver_meta``): the schema
version, the publisher's last stamp, the content version workers bump."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsriver.store.store import Store


class Meta:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> str | None:
        with self._store.reading() as sql:
            found = sql.first("SELECT value FROM newsriver_meta WHERE key = ?", (key,))
        return str(found[0]) if found is not None else None

    def set(self, key: str, value: str) -> None:
        with self._store.transaction() as tx:
            sql = tx.sql
            if sql.run("UPDATE newsriver_meta SET value = ? WHERE key = ?", (value, key)) == 0:
                sql.run("INSERT INTO newsriver_meta (key, value) VALUES (?, ?)", (key, value))
