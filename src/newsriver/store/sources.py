"""Sources' fetch state: their rows, kept in step with the config, and updated after each fetch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from newsriver.store.schema import chunks, entries_table, sources_table

if TYPE_CHECKING:
    from newsriver.store.store import Store


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    url: str
    feed_url: str
    title: str
    link: str
    etag: str
    last_modified: str
    body_hash: str
    status: str
    last_error: str
    errors: int
    last_fetch: datetime | None
    last_success: datetime | None
    next_poll: datetime | None
    feed_url_origin: str = ""
    via_public: bool = False
    retry_after: datetime | None = None
    feed_interval: int = 0

    @property
    def state(self) -> str:
        """What ``status`` shows: ok, not modified, moved, error, backoff, gone (or new)."""
        if self.status in ("ok", "not_modified") and self.feed_url_origin == "redirect":
            return "moved"  # until the config names the new URL
        return self.status.replace("_", " ")


_UPDATES: dict[tuple[str, ...], Any] = {}  # see Sources.update_many


class Sources:
    def __init__(self, store: Store) -> None:
        self._store = store

    def sync(self, configured: Iterable[tuple[str, str]]) -> None:
        """Make a row for every configured (name, url); a changed URL resets fetch state."""
        with self._store.transaction() as conn:
            self._store.one_at_a_time(conn)  # several workers start with the same config
            rows = {r.name: r for r in conn.execute(select(sources_table.c.name, sources_table.c.url))}
            for name, url in configured:
                if name not in rows:
                    conn.execute(insert(sources_table).values(name=name, url=url, feed_url=url))
                elif rows[name].url != url:
                    conn.execute(
                        update(sources_table)
                        .where(sources_table.c.name == name)
                        .values(
                            url=url,
                            feed_url=url,
                            feed_url_origin="",
                            via_public=False,
                            etag="",
                            last_modified="",
                            body_hash="",
                            feed_interval=0,
                            status="new",  # a gone source comes back when its URL is changed
                            last_error="",
                            errors=0,
                            next_poll=None,
                        )
                    )

    def rows(self, names: Collection[str] | None = None) -> dict[str, SourceRow]:
        """The sources' rows by name: all, or those named."""
        s = sources_table
        with self._store.engine.connect() as conn:
            if names is None:
                return {r.name: SourceRow(**r._asdict()) for r in conn.execute(select(s))}
            return {
                r.name: SourceRow(**r._asdict())
                for chunk in chunks(sorted(names))
                for r in conn.execute(select(s).where(s.c.name.in_(chunk)))
            }

    def update(self, name: str, **values: Any) -> None:
        with self._store.transaction() as conn:
            conn.execute(update(sources_table).where(sources_table.c.name == name).values(**values))

    def update_many(self, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """``update`` for many sources: one statement per set of columns, executed for all
        their rows at once (a poll's hundreds of 304s would each compile their own)."""
        s = sources_table
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for name, values in changes:
            groups[tuple(sorted(values))].append({"name_": name, **values})
        with self._store.transaction() as conn:
            for columns, rows in groups.items():
                # One statement object per set of columns: it computes its cache key once.
                statement = _UPDATES.get(columns)
                if statement is None:
                    values = {c: bindparam(c) for c in columns}
                    statement = _UPDATES[columns] = update(s).where(s.c.name == bindparam("name_")).values(values)
                conn.execute(statement, rows)

    def defer(self, names: Iterable[str], until: datetime) -> None:
        """Leave these sources alone until ``until`` (their host sent Retry-After)."""
        s = sources_table
        with self._store.transaction() as conn:
            for name in names:
                conn.execute(update(s).where(s.c.name == name).values(retry_after=until))
                conn.execute(
                    update(s)
                    .where(s.c.name == name, or_(s.c.next_poll.is_(None), s.c.next_poll < until))
                    .values(next_poll=until)
                )

    def recent_publication_times(
        self, sources: Sequence[str], since: datetime, limit: int = 200
    ) -> dict[str, dict[str, datetime]]:
        """Each source's rhythm for a whole pass, in two queries: its entries' publication
        times by entry key, as far as the schedule can tell from them when deciding at or
        after ``since`` + a week.

        The newest ``limit`` at or after ``since``; for a source whose entries are all
        older, its newest one alone (the schedule only asks whether there are any); for one
        without entries, none.
        """
        e = entries_table
        found: dict[str, dict[str, datetime]] = {name: {} for name in sources}
        with self._store.engine.connect() as conn:
            for chunk in chunks(list(sources)):
                query = select(e.c.source, e.c.entry_key, e.c.published).where(
                    e.c.source.in_(chunk), e.c.published >= since
                )
                for source, key, published in conn.execute(query):
                    found[source][key] = published
            older = [name for name, times in found.items() if not times]
            for chunk in chunks(older):
                newest = (
                    select(e.c.source, func.max(e.c.published).label("published"))
                    .where(e.c.source.in_(chunk))
                    .group_by(e.c.source)
                    .subquery()
                )
                query = select(e.c.source, e.c.entry_key, e.c.published).join(
                    newest, and_(e.c.source == newest.c.source, e.c.published == newest.c.published)
                )
                for source, key, published in conn.execute(query):
                    found[source][key] = published
        for name, times in found.items():
            if len(times) > limit:
                found[name] = dict(sorted(times.items(), key=lambda item: item[1], reverse=True)[:limit])
        return found

    def entry_counts(self) -> dict[str, int]:
        """How many entries each source has stored."""
        with self._store.engine.connect() as conn:
            rows = conn.execute(select(entries_table.c.source, func.count()).group_by(entries_table.c.source))
            return {source: count for source, count in rows}
