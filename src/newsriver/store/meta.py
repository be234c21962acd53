"""Small named values the store keeps beside its tables (``newsriver_meta``): the schema
version, the publisher's last stamp, the content version workers bump."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from newsriver.store.schema import meta_table

if TYPE_CHECKING:
    from newsriver.store.store import Store


class Meta:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> str | None:
        with self._store.engine.connect() as conn:
            value: str | None = conn.execute(select(meta_table.c.value).where(meta_table.c.key == key)).scalar()
            return value

    def set(self, key: str, value: str) -> None:
        m = meta_table
        with self._store.transaction() as conn:
            if conn.execute(update(m).where(m.c.key == key).values(value=value)).rowcount == 0:
                conn.execute(insert(m).values(key=key, value=value))
