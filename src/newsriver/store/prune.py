"""Retention applied to the database: the entries its rules allow removed, a tombstone
left for each, their near-duplicate keys dropped, the tombstones no longer needed expired."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, insert, or_, select

from newsriver.store.entries import url_hash
from newsriver.store.related import forget
from newsriver.store.schema import chunks, dedupe_keys_table, entries_table, tombstones_table
from newsriver.stories.match import identifies_article
from newsriver.stories.retention import TOMBSTONE_GRACE, Held, Pruned, RetentionLimits, over_limits, removable

if TYPE_CHECKING:
    from newsriver.store.store import Store


class Prune:
    def __init__(self, store: Store) -> None:
        self._store = store

    def apply(
        self,
        limits: Callable[[str], RetentionLimits],
        shown: Collection[str],
        configured: Collection[str],
        now: datetime,
    ) -> Pruned:
        """Apply retention (see ``retention``) in one transaction: remove what it allows,
        leaving a tombstone for each entry and dropping its near-duplicate keys; expire the
        tombstones no longer needed.

        ``limits`` gives a source's limits, ``shown`` holds the ids of the items the output
        feeds show, ``configured`` the names of the sources in the config.
        """
        e, t = entries_table, tombstones_table
        with self._store.transaction() as tx:
            self._store.one_at_a_time(tx)  # no save interleaves
            conn = tx.sa
            # A write first: on SQLite it takes the write lock, so no save interleaves either.
            # A source no longer configured is read no more, so its entries' absence is never seen.
            expired = conn.execute(
                delete(t).where(
                    or_(
                        t.c.missing_since < now - TOMBSTONE_GRACE,
                        and_(t.c.source.not_in(configured), t.c.pruned < now - TOMBSTONE_GRACE),
                    )
                )
            ).rowcount
            over: list[Held] = []
            for source in conn.execute(select(e.c.source).distinct()).scalars().all():
                limit = limits(source)
                if limit.max_age is not None or limit.max_items is not None:
                    over += over_limits(_held(conn, e.c.source == source), limit, now)
            story_ids = sorted({h.cluster for h in over})
            stories = [h for chunk in chunks(story_ids) for h in _held(conn, e.c.story.in_(chunk))]
            shown_stories = {
                story
                for chunk in chunks(sorted(shown))
                for story in conn.execute(select(e.c.story).where(e.c.id.in_(chunk))).scalars()
            }
            removed: Counter[str] = Counter()
            for chunk in chunks(sorted(h.id for h in removable(over, stories, shown_stories))):
                gone = conn.execute(
                    delete(e).where(e.c.id.in_(chunk)).returning(e.c.id, e.c.source, e.c.canonical_url)
                ).all()
                if not gone:
                    continue  # a concurrent prune was first
                # An entry can be back despite its tombstone only by racing a prune; it gets a fresh one.
                conn.execute(delete(t).where(t.c.id.in_([r.id for r in gone])))
                conn.execute(insert(t), [_tombstone(r.id, r.source, r.canonical_url, now) for r in gone])
                removed.update(r.source for r in gone)
            if removed:
                # dedupe_keys has no foreign key to cascade (one index only, see there).
                k = dedupe_keys_table
                conn.execute(delete(k).where(~select(e.c.id).where(e.c.id == k.c.entry_id).exists()))
                forget(conn)  # related coverage's keys and group rows of the removed entries
        return Pruned(dict(removed), dict(Counter(h.source for h in over) - removed), expired)


def _held(conn: Connection, where: Any) -> list[Held]:
    e = entries_table
    query = select(e.c.id, e.c.source, e.c.story, e.c.published).where(where)
    return [Held(*r) for r in conn.execute(query)]  # the columns in Held's order


def _tombstone(entry_id: str, source: str, canonical_url: str, now: datetime) -> dict[str, Any]:
    url = url_hash(canonical_url) if identifies_article(canonical_url) else ""
    return {"id": entry_id, "source": source, "url_hash": url, "pruned": now, "missing_since": None}
