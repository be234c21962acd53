"""What the output is made of: a feed's stories (newest first, each with its copies), when
its sources' first entry was stored, the stories copies joined, and what the output moves with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from newsriver.models import Article
from newsriver.store.entries import ENTRY_ROW, SIMILARITY, STORY, to_article, url_hash
from newsriver.store.sql import Sql, chunks, marks, read_optional_time, read_time
from newsriver.stories.match import Story, compose

if TYPE_CHECKING:
    from newsriver.store.store import Store

FEW_SOURCES = 16  # up to this many, a feed's entries are read by source, else by date


class Selection:
    def __init__(self, store: Store) -> None:
        self._store = store

    def for_feed(self, sources: Sequence[str], limit: int) -> list[Article]:
        """The newest ``limit`` stories among ``sources``, one item per story."""
        return [story.item for story in self.stories(sources, limit)]

    def stories(
        self,
        sources: Sequence[str],
        limit: int | None,
        priorities: Mapping[str, int] | None = None,
        fold: bool = True,
        first_seen: tuple[datetime, datetime] | None = None,
    ) -> list[Story]:
        """The newest ``limit`` (None: all) stories among ``sources``, newest first, each with its copies.

        A story is as new as its earliest copy among ``sources``; see ``match.compose``
        for what it shows. Without ``fold`` every stored entry is a story of its own.
        With ``first_seen`` [start, end), only the stories whose first copy among
        ``sources`` was stored in that time.
        """
        chosen = list(sources)
        among = f"source IN ({marks(len(chosen))})"
        with self._store.reading() as sql:
            if not fold:
                query, params = f"SELECT {ENTRY_ROW} FROM entries WHERE {among}", list(chosen)
                if first_seen is not None:
                    query += " AND first_seen >= ? AND first_seen < ?"
                    params += [sql.time(first_seen[0]), sql.time(first_seen[1])]
                query += " ORDER BY published DESC, id" + _limit(limit, params)
                return [Story(to_article(r), ()) for r in sql.rows(query, params)]
            if limit is not None and first_seen is None:
                top = _newest_stories(sql, chosen, limit)
            else:
                query, params = f"SELECT story FROM entries WHERE {among} GROUP BY story", list(chosen)
                if first_seen is not None:
                    query += " HAVING min(first_seen) >= ? AND min(first_seen) < ?"
                    params += [sql.time(first_seen[0]), sql.time(first_seen[1])]
                query += " ORDER BY min(published) DESC, story" + _limit(limit, params)
                top = [story for (story,) in sql.rows(query, params)]
            members: dict[str, list[Article]] = defaultdict(list)
            for chunk in chunks(top):
                query = f"SELECT {ENTRY_ROW} FROM entries WHERE story IN ({marks(len(chunk))}) AND {among}"
                for r in sql.rows(query, (*chunk, *chosen)):
                    members[r[STORY]].append(to_article(r))
        return [compose(story, members[story], priorities or {}) for story in top]

    def first_stored(self, sources: Sequence[str]) -> datetime | None:
        """When the first entry of any of ``sources`` still held was stored; None when none is."""
        chosen = list(sources)
        with self._store.reading() as sql:
            found = sql.first(f"SELECT min(first_seen) FROM entries WHERE source IN ({marks(len(chosen))})", chosen)
        return read_optional_time(found[0]) if found else None

    def find_article(self, ref: str) -> tuple[Article, str] | None:
        """The stored article (and its story's id) that ``ref`` names: its id, its URL or canonical
        URL, or an item's id (``urn:uuid:<id>``); None when none is stored."""
        wanted = ref.rsplit(":", 1)[-1] if ref.startswith("urn:") else ref
        query = (
            f"SELECT {ENTRY_ROW} FROM entries WHERE id = ? OR url = ? OR (url_hash = ? AND canonical_url = ?)"
            " ORDER BY first_seen LIMIT 1"
        )
        with self._store.reading() as sql:
            row = sql.first(query, (wanted, ref, url_hash(ref), ref))
        return (to_article(row), row[STORY]) if row is not None else None

    def duplicate_groups(self, since: datetime, limit: int) -> list[list[tuple[Article, float | None]]]:
        """Stories joined by a copy first seen since ``since``, newest first: each story's
        first stored copy, then the others, with the similarity that joined each."""
        with self._store.reading() as sql:
            query = (
                "SELECT story FROM entries WHERE story != id AND first_seen >= ?"
                " GROUP BY story ORDER BY max(first_seen) DESC, story LIMIT ?"
            )
            stories = [story for (story,) in sql.rows(query, (sql.time(since), limit))]
            members: dict[str, list[tuple[Article, float | None]]] = defaultdict(list)
            for chunk in chunks(stories):
                # The first stored copy leads: sources polled in one pass share their first_seen.
                query = (
                    f"SELECT {ENTRY_ROW} FROM entries WHERE story IN ({marks(len(chunk))})"
                    " ORDER BY story != id, first_seen, id"
                )
                for r in sql.rows(query, chunk):
                    members[r[STORY]].append((to_article(r), r[SIMILARITY]))
        return [members[story] for story in stories]


def _limit(limit: int | None, params: list[Any]) -> str:
    """`` LIMIT ?`` with its value added to ``params``; nothing for no limit."""
    if limit is None:
        return ""
    params.append(limit)
    return " LIMIT ?"


def _newest_stories(sql: Sql, chosen: Sequence[str], limit: int) -> list[str]:
    """The ids of the newest ``limit`` stories among ``chosen``, a story as new as its
    earliest copy among them: what GROUP BY story ORDER BY min(published) DESC, story
    gives, without reading every row.

    Entries are read newest first from the published index, a few more than ``limit`` at a
    time. Once the read reaches back to ``boundary``, every story with a copy after it has
    been seen, and a seen story's earliest copy is looked up by its id; the answer is
    final when the ``limit`` newest of them all begin after ``boundary`` (any story not yet
    seen begins at or before it).
    """
    if limit <= 0:
        return []
    among = f"source IN ({marks(len(chosen))})"
    scan = 2 * limit
    while True:
        rows = _newest_entries(sql, chosen, scan)
        seen = sorted({story for story, _ in rows})
        earliest: dict[str, datetime] = {}
        for chunk in chunks(seen):
            query = f"SELECT story, min(published) FROM entries WHERE story IN ({marks(len(chunk))}) AND {among}"
            found = sql.rows(query + " GROUP BY story", (*chunk, *chosen))
            earliest.update((story, read_time(first)) for story, first in found)
        # Newest first, ties by story id: a stable sort of the ids in order.
        top = sorted(seen, key=earliest.__getitem__, reverse=True)[:limit]
        if len(rows) < scan or (len(top) == limit and earliest[top[-1]] > rows[-1][1]):
            return top
        scan *= 4


def _newest_entries(sql: Sql, chosen: Sequence[str], count: int) -> list[tuple[str, datetime]]:
    """(story, published) of the ``count`` newest entries of ``chosen``, newest first.

    Few sources: all their entries from ix_entries_source_published, which holds all three
    columns, the newest kept by a sort. Many: down the published index, skipping the other
    sources' entries (``|| ''`` keeps SQLite from taking the source index instead).
    """
    source = "source" if len(chosen) <= FEW_SOURCES else "source || ''"
    query = (
        f"SELECT story, published FROM entries WHERE {source} IN ({marks(len(chosen))}) ORDER BY published DESC LIMIT ?"
    )
    return [(story, read_time(published)) for story, published in sql.rows(query, (*chosen, count))]
