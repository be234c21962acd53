"""Sources' fetch state: their rows, kept in step with the config, and updated after each fetch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from newsriver.ingest.schedule import publication_times
from newsriver.store.sql import Sql, chunks, insert_text, marks, read_optional_time, read_time, update_text

if TYPE_CHECKING:
    from newsriver.store.store import Store

SOURCE_TIMES = frozenset({"last_fetch", "last_success", "next_poll", "retry_after"})
# A row's fetch state before its first fetch: what a new source starts with, and what a
# changed URL resets (schema.sources_table's defaults).
_FRESH = {
    "feed_url_origin": "",
    "via_public": False,
    "etag": "",
    "last_modified": "",
    "body_hash": "",
    "feed_interval": 0,
    "status": "new",  # a gone source comes back when its URL is changed
    "last_error": "",
    "warning": "",  # another URL's document
    "errors": 0,
}
_NEW = ("name", "url", "feed_url", "title", "link", *_FRESH)
_CHANGED_URL = ("url", "feed_url", "next_poll", *_FRESH)
_ROW = (
    "name, url, feed_url, title, link, etag, last_modified, body_hash, status, last_error, errors,"
    " last_fetch, last_success, next_poll, feed_url_origin, via_public, retry_after, feed_interval, warning"
)
_SINCE = "SELECT source, entry_key, published, first_seen FROM entries WHERE source IN ({}) AND published >= ?"
# A max() per source, not one GROUP BY: each is one step down the (source, published) index
# on both backends, where the GROUP BY read every entry of the sources (a third of the claim
# of a pass of 1,000 feeds whose entries are all older than the window).
_NEWEST = (
    "SELECT e.source, e.entry_key, e.published FROM entries AS e JOIN"
    " (SELECT s.name AS source, (SELECT max(published) FROM entries WHERE source = s.name) AS published"
    " FROM sources AS s WHERE s.name IN ({})) AS newest"
    " ON e.source = newest.source AND e.published = newest.published"
)


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
    # What the last document parsed lost (``FeedMeta.warning``), kept apart from ``last_error``:
    # it stays while the same document is served, through 304s and failed fetches between.
    warning: str = ""

    @property
    def state(self) -> str:
        """What ``status`` shows: ok, not modified, warning, moved, error, backoff, gone (or new)."""
        if self.status in ("ok", "not_modified", "warning") and self.feed_url_origin == "redirect":
            return "moved"  # until the config names the new URL
        return self.status.replace("_", " ")


def update_source(sql: Sql, name: str, values: dict[str, Any]) -> None:
    """Set ``values`` (column → value) in the source's row."""
    if not values:
        return
    columns = tuple(values)
    sql.run(update_text("sources", columns, "name"), (*sql.bind(values, columns, SOURCE_TIMES), name))


def _source_row(row: tuple[Any, ...]) -> SourceRow:
    """A ``SELECT {_ROW}`` row."""
    name, url, feed_url, title, link, etag, last_modified, body_hash, status, last_error, errors, *rest = row
    last_fetch, last_success, next_poll, origin, via_public, retry_after, interval, warning = rest
    return SourceRow(
        name,
        url,
        feed_url,
        title,
        link,
        etag,
        last_modified,
        body_hash,
        status,
        last_error,
        errors,
        read_optional_time(last_fetch),
        read_optional_time(last_success),
        read_optional_time(next_poll),
        origin,
        bool(via_public),  # SQLite keeps 0 or 1
        read_optional_time(retry_after),
        interval,
        warning,
    )


class Sources:
    def __init__(self, store: Store) -> None:
        self._store = store

    def sync(self, configured: Iterable[tuple[str, str]]) -> None:
        """Make a row for every configured (name, url); a changed URL resets fetch state."""
        with self._store.transaction() as tx:
            self._store.one_at_a_time(tx)  # several workers start with the same config
            sql = tx.sql
            rows = dict(sql.rows("SELECT name, url FROM sources"))
            for name, url in configured:
                if name not in rows:
                    values = {"name": name, "url": url, "feed_url": url, "title": "", "link": ""} | _FRESH
                    sql.run(insert_text("sources", _NEW), sql.bind(values, _NEW))
                elif rows[name] != url:
                    update_source(sql, name, {"url": url, "feed_url": url, "next_poll": None} | _FRESH)

    def rows(self, names: Collection[str] | None = None) -> dict[str, SourceRow]:
        """The sources' rows by name: all, or those named."""
        with self._store.reading() as sql:
            if names is None:
                return {r[0]: _source_row(r) for r in sql.rows(f"SELECT {_ROW} FROM sources")}
            return {
                r[0]: _source_row(r)
                for chunk in chunks(sorted(names))
                for r in sql.rows(f"SELECT {_ROW} FROM sources WHERE name IN ({marks(len(chunk))})", chunk)
            }

    def known_entries(self, name: str) -> str | None:
        """The entries of the source's last stored document by raw hash (``digest.Known``),
        as its ``digests`` column holds them: read by a fetch thread for a changed document
        only, where the sources' rows that every pass reads do not carry them."""
        with self._store.reading() as sql:
            found = sql.first("SELECT digests FROM sources WHERE name = ?", (name,))
        return found[0] if found is not None else None

    def update(self, name: str, **values: Any) -> None:
        with self._store.transaction() as tx:
            update_source(tx.sql, name, values)

    def update_many(self, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """``update`` for many sources: one statement per set of columns, executed for all
        their rows at once."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for name, values in changes:
            groups[tuple(sorted(values))].append(values | {"name": name})
        with self._store.transaction() as tx:
            sql = tx.sql
            for columns, rows in groups.items():
                keyed = (*columns, "name")
                sql.run_many(update_text("sources", columns, "name"), [sql.bind(r, keyed, SOURCE_TIMES) for r in rows])

    def defer(self, names: Iterable[str], until: datetime) -> None:
        """Leave these sources alone until ``until`` (their host sent Retry-After)."""
        with self._store.transaction() as tx:
            sql = tx.sql
            when = sql.time(until)
            for name in names:
                sql.run("UPDATE sources SET retry_after = ? WHERE name = ?", (when, name))
                sql.run(
                    "UPDATE sources SET next_poll = ? WHERE name = ? AND (next_poll IS NULL OR next_poll < ?)",
                    (when, name, when),
                )

    def published_from(self) -> list[tuple[Any, ...]]:
        """What the output is rendered from besides the config and the entries themselves, and
        what moves whenever entries do: each source's shown state and the hash of its last
        parsed body (a save that changes entries always brings a new one), and the tombstones
        (retention removes entries only by leaving one, pruned when it ran). Here, not with the
        selection of entries: the publish stamp reads it at every pass, a pass of 304s too,
        which then imports nothing of entries and stories."""
        with self._store.reading() as sql:
            rows = sql.rows("SELECT name, title, feed_url, link, status, body_hash FROM sources ORDER BY name")
            count, pruned = sql.first("SELECT count(*), max(pruned) FROM tombstones") or (0, None)
        rows.append((count, read_optional_time(pruned)))
        return rows

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
        found: dict[str, dict[str, datetime]] = {name: {} for name in sources}
        if not found:
            return found
        with self._store.reading() as sql:
            since_value = sql.time(since)
            for chunk in chunks(list(sources)):
                query = _SINCE.format(marks(len(chunk)))
                # Undated entries first seen together count once (``publication_times``),
                # compared as read: only the times that count are converted.
                rows: Iterable[tuple[str, str, Any, Any]] = sql.rows(query, (*chunk, since_value))
                for source, key, published in publication_times(rows):
                    found[source][key] = read_time(published)
            older = [name for name, times in found.items() if not times]
            for chunk in chunks(older):
                for source, key, published in sql.rows(_NEWEST.format(marks(len(chunk))), chunk):
                    found[source][key] = read_time(published)
        for name, times in found.items():
            if len(times) > limit:
                found[name] = dict(sorted(times.items(), key=lambda item: item[1], reverse=True)[:limit])
        return found

    def counts(self, *statuses: str) -> dict[str, int]:
        """How many sources are in each of ``statuses`` (their column's value: ``error``,
        ``warning``, …), in one read; 0 for a status none is in."""
        found = dict.fromkeys(statuses, 0)
        with self._store.reading() as sql:
            query = f"SELECT status, count(*) FROM sources WHERE status IN ({marks(len(statuses))}) GROUP BY status"
            found.update((status, int(n)) for status, n in sql.rows(query, statuses))
        return found

    def entry_counts(self) -> dict[str, int]:
        """How many entries each source has stored."""
        with self._store.reading() as sql:
            return {source: count for source, count in sql.rows("SELECT source, count(*) FROM entries GROUP BY source")}
