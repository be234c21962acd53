"""What the output is made of: a feed's stories (newest first, each with its copies), when
its sources' first entry was stored, the stories copies joined, and what the output moves with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, or_, select

from newsriver.models import Article
from newsriver.store.entries import to_article, url_hash
from newsriver.store.schema import chunks, entries_table, sources_table, tombstones_table
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
        e = entries_table
        chosen = list(sources)
        with self._store.engine.connect() as conn:
            if not fold:
                query = select(e).where(e.c.source.in_(chosen))
                if first_seen is not None:
                    query = query.where(e.c.first_seen >= first_seen[0], e.c.first_seen < first_seen[1])
                query = query.order_by(e.c.published.desc(), e.c.id).limit(limit)
                return [Story(to_article(r._mapping), ()) for r in conn.execute(query)]
            if limit is not None and first_seen is None:
                top = _newest_stories(conn, chosen, limit)
            else:
                story_published = func.min(e.c.published)
                stories = select(e.c.story).where(e.c.source.in_(chosen)).group_by(e.c.story)
                if first_seen is not None:
                    story_first_seen = func.min(e.c.first_seen)
                    stories = stories.having(story_first_seen >= first_seen[0], story_first_seen < first_seen[1])
                top = list(conn.execute(stories.order_by(story_published.desc(), e.c.story).limit(limit)).scalars())
            members: dict[str, list[Article]] = defaultdict(list)
            for chunk in chunks(top):
                for r in conn.execute(select(e).where(e.c.story.in_(chunk), e.c.source.in_(chosen))):
                    members[r.story].append(to_article(r._mapping))
        return [compose(story, members[story], priorities or {}) for story in top]

    def first_stored(self, sources: Sequence[str]) -> datetime | None:
        """When the first entry of any of ``sources`` still held was stored; None when none is."""
        e = entries_table
        with self._store.engine.connect() as conn:
            return conn.execute(select(func.min(e.c.first_seen)).where(e.c.source.in_(list(sources)))).scalar()

    def find_article(self, ref: str) -> tuple[Article, str] | None:
        """The stored article (and its story's id) that ``ref`` names: its id, its URL or canonical
        URL, or an item's id (``urn:uuid:<id>``); None when none is stored."""
        e = entries_table
        wanted = ref.rsplit(":", 1)[-1] if ref.startswith("urn:") else ref
        by_url = or_(e.c.url == ref, and_(e.c.url_hash == url_hash(ref), e.c.canonical_url == ref))
        with self._store.engine.connect() as conn:
            row = conn.execute(select(e).where(or_(e.c.id == wanted, by_url)).order_by(e.c.first_seen).limit(1)).first()
        return (to_article(row._mapping), row.story) if row is not None else None

    def duplicate_groups(self, since: datetime, limit: int) -> list[list[tuple[Article, float | None]]]:
        """Stories joined by a copy first seen since ``since``, newest first: each story's
        first stored copy, then the others, with the similarity that joined each."""
        e = entries_table
        with self._store.engine.connect() as conn:
            stories = list(
                conn.execute(
                    select(e.c.story)
                    .where(e.c.story != e.c.id, e.c.first_seen >= since)
                    .group_by(e.c.story)
                    .order_by(func.max(e.c.first_seen).desc(), e.c.story)
                    .limit(limit)
                ).scalars()
            )
            members: dict[str, list[tuple[Article, float | None]]] = defaultdict(list)
            for chunk in chunks(stories):
                # The first stored copy leads: sources polled in one pass share their first_seen.
                query = select(e).where(e.c.story.in_(chunk)).order_by(e.c.story != e.c.id, e.c.first_seen, e.c.id)
                for r in conn.execute(query):
                    members[r.story].append((to_article(r._mapping), r.similarity))
        return [members[story] for story in stories]

    def published_from(self) -> list[tuple[Any, ...]]:
        """What the output is rendered from besides the config and the entries themselves, and
        what moves whenever entries do: each source's shown state and the hash of its last
        parsed body (a save that changes entries always brings a new one), and the tombstones
        (retention removes entries only by leaving one, pruned when it ran)."""
        s, t = sources_table.c, tombstones_table.c
        with self._store.engine.connect() as conn:
            query = select(s.name, s.title, s.feed_url, s.link, s.status, s.body_hash).order_by(s.name)
            rows = [tuple(r) for r in conn.execute(query)]
            rows.append(tuple(conn.execute(select(func.count(), func.max(t.pruned))).one()))
        return rows


def _newest_stories(conn: Connection, chosen: Sequence[str], limit: int) -> list[str]:
    """The ids of the newest ``limit`` stories among ``chosen``, a story as new as its
    earliest copy among them: what GROUP BY story ORDER BY min(published) DESC, story
    gives, without reading every row.

    Entries are read newest first from the published index, a few more than ``limit`` at a
    time. Once the read reaches back to ``boundary``, every story with a copy after it has
    been seen, and a seen story's earliest copy is looked up by its id; the answer is
    final when the ``limit`` newest of them all begin after ``boundary`` (any story not yet
    seen begins at or before it).
    """
    e = entries_table
    if limit <= 0:
        return []
    scan = 2 * limit
    while True:
        rows = _newest_entries(conn, chosen, scan)
        seen = sorted({story for story, _ in rows})
        earliest: dict[str, datetime] = {}
        for chunk in chunks(seen):
            query = select(e.c.story, func.min(e.c.published)).where(e.c.story.in_(chunk), e.c.source.in_(chosen))
            earliest.update((story, first) for story, first in conn.execute(query.group_by(e.c.story)))
        # Newest first, ties by story id: a stable sort of the ids in order.
        top = sorted(seen, key=earliest.__getitem__, reverse=True)[:limit]
        if len(rows) < scan or (len(top) == limit and earliest[top[-1]] > rows[-1][1]):
            return top
        scan *= 4


def _newest_entries(conn: Connection, chosen: Sequence[str], count: int) -> list[tuple[str, datetime]]:
    """(story, published) of the ``count`` newest entries of ``chosen``, newest first.

    Few sources: all their entries from ix_entries_source_published, which holds all three
    columns, the newest kept by a sort. Many: down the published index, skipping the other
    sources' entries (``|| ''`` keeps SQLite from taking the source index instead).
    """
    e = entries_table
    source = e.c.source if len(chosen) <= FEW_SOURCES else e.c.source + ""
    query = select(e.c.story, e.c.published).where(source.in_(chosen)).order_by(e.c.published.desc())
    return [(story, published) for story, published in conn.execute(query.limit(count))]
