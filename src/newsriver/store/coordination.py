"""Many workers on one database: leases on due sources, heartbeats, one publisher.

Workers coordinate only through the database, so they may run on any machines. A worker
claims due sources by writing a lease row; a lease expires, so a dead worker's sources
are taken over. On PostgreSQL claims run one at a time (a transaction-scoped advisory
lock) and skip rows other transactions hold (``FOR UPDATE SKIP LOCKED``), which keeps
per-host limits true across workers too.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsriver.files import ServedFile, version_of
from newsriver.store.sql import DatabaseError, Sql, chunks, insert_text, marks, read_time
from newsriver.urls import origin_of

if TYPE_CHECKING:
    from newsriver.store.store import Store

# Arbitrary constants naming newsriver's PostgreSQL advisory locks.
CLAIM_LOCK = 0x6E657773  # "news"
PUBLISH_LOCK = 0x72697672  # "rivr"
HEARTBEAT_STALE = timedelta(seconds=60)
CLAIM_PAGES = 4  # see Coordinator.claim
CONTENT_VERSION = "content_version"
_WORKER = insert_text("workers", ("id", "role", "host", "pid", "started", "heartbeat"))
_LEASE = insert_text("leases", ("source", "owner", "until"))
_RENDERED = insert_text("rendered", ("name", "body", "etag", "updated"))
# The due sources, oldest first (those never polled before all), a page at a time, in the
# order of the index made for it (schema.DUE_INDEXES); on PostgreSQL without the rows another
# claim holds (see the module's doc). SQLite sorts NULLs first in ascending order, and takes
# NULLS FIRST only from 3.30: said only to PostgreSQL, which sorts them last unless told.
_DUE_FROM = (
    "SELECT sources.name, sources.feed_url FROM sources LEFT OUTER JOIN leases ON leases.source = sources.name"
    " WHERE (sources.next_poll IS NULL OR sources.next_poll <= ?) AND sources.status != 'gone'"
    " AND (sources.retry_after IS NULL OR sources.retry_after <= ?) AND (leases.until IS NULL OR leases.until < ?)"
)
_DUE = _DUE_FROM + " ORDER BY sources.next_poll, sources.name LIMIT ? OFFSET ?"
_DUE_POSTGRES = _DUE_FROM + " ORDER BY sources.next_poll NULLS FIRST, sources.name LIMIT ? OFFSET ?"
_LEASED_URLS = (
    "SELECT sources.feed_url FROM sources JOIN leases ON leases.source = sources.name WHERE leases.until >= ?"
)


@dataclass(frozen=True, slots=True)
class WorkerRow:
    id: str
    role: str
    host: str
    pid: int
    started: datetime
    heartbeat: datetime


def new_worker_id(role: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{role}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class Due:
    name: str
    feed_url: str


def choose(due: Sequence[Due], active_per_host: Counter[str], limit: int, per_host: int) -> list[str]:
    """Which due sources to claim: oldest first, at most ``per_host`` in flight per origin."""
    in_flight = Counter(active_per_host)
    chosen = []
    for source in due:
        host = origin_of(source.feed_url)
        if in_flight[host] >= per_host:
            continue
        in_flight[host] += 1
        chosen.append(source.name)
        if len(chosen) >= limit:
            break
    return chosen


class Coordinator:
    def __init__(self, store: Store, role: str, worker_id: str | None = None) -> None:
        self.store = store
        self.role = role
        self.id = worker_id or new_worker_id(role)
        self.postgres = store.postgres
        self._due = _DUE_POSTGRES if self.postgres else _DUE
        self._election: Sql | None = None  # holds the publish lock while this worker publishes

    def heartbeat(self, now: datetime) -> None:
        with self.store.begin() as tx:
            sql = tx.sql
            at = sql.time(now)
            if not sql.run("UPDATE workers SET heartbeat = ? WHERE id = ?", (at, self.id)):
                sql.run(_WORKER, (self.id, self.role, socket.gethostname(), os.getpid(), at, at))

    def leave(self) -> None:
        with self.store.begin() as tx:
            tx.sql.run("DELETE FROM leases WHERE owner = ?", (self.id,))
            tx.sql.run("DELETE FROM workers WHERE id = ?", (self.id,))

    def take_over(self, now: datetime) -> int:
        """Release the leases of workers that are gone, so a restart resumes at once; how many.

        A killed process's leases outlive it until they expire, and until then they count
        against their hosts' limits: a restarted service sat idle for up to ``lease``. On
        SQLite the service holds the writer lock (run/lock.py), so no other process is
        alive: every other worker's row and lease is a predecessor's. On PostgreSQL workers
        share the database: a worker is gone when its heartbeat is stale, or when it ran on
        this machine under a process id no longer alive (or ours: then it was our
        predecessor, as in a restarted container where every service is pid 1).
        """
        with self.store.begin() as tx:
            sql = tx.sql
            others = sql.rows("SELECT id, host, pid, heartbeat FROM workers WHERE id != ?", (self.id,))
            if not self.postgres:
                gone = [worker for worker, *_ in others]
                released = sql.run("DELETE FROM leases WHERE owner != ?", (self.id,))
            else:
                here = socket.gethostname()
                stale = now - HEARTBEAT_STALE
                gone = [
                    worker
                    for worker, host, pid, heartbeat in others
                    if read_time(heartbeat) < stale or (host == here and not _alive(pid))
                ]
                released = sum(
                    sql.run(f"DELETE FROM leases WHERE owner IN ({marks(len(ids))})", ids) for ids in chunks(gone)
                )
            for ids in chunks(gone):
                sql.run(f"DELETE FROM workers WHERE id IN ({marks(len(ids))})", ids)
        return released

    def claim(self, names: Collection[str], now: datetime, limit: int, per_host: int, lease: timedelta) -> list[str]:
        """Lease up to ``limit`` due sources among ``names`` to this worker; their names.

        The due sources are read oldest first, a page at a time, and at most
        CLAIM_PAGES pages: with thousands due, a claim that read them all cost more than
        polling its batch. Fewer than ``limit`` are claimed when the first pages are
        mostly on hosts at their limit; the next claim, after those are polled, moves on.
        """
        page = max(limit * 4, 64)
        due_sql = self._due + (" FOR UPDATE OF sources SKIP LOCKED" if self.postgres else "")
        with self.store.begin() as tx:
            sql = tx.sql
            at = sql.time(now)
            if self.postgres:
                sql.rows("SELECT pg_advisory_xact_lock(?)", (CLAIM_LOCK,))
            active = Counter(origin_of(feed_url) for (feed_url,) in sql.rows(_LEASED_URLS, (at,)))
            due: list[Due] = []
            chosen: list[str] = []
            for rows in _due_pages(sql, due_sql, at, page):
                due += [Due(name, feed_url) for name, feed_url in rows if name in names]
                chosen = choose(due, active, limit, per_host)
                if len(chosen) >= limit:
                    break
            if chosen:
                sql.run(f"DELETE FROM leases WHERE source IN ({marks(len(chosen))})", chosen)
                until = sql.time(now + lease)
                sql.run_many(_LEASE, [(name, self.id, until) for name in chosen])
        return chosen

    def due_by(self, names: Collection[str], at: datetime) -> bool:
        """Whether any of ``names`` will be due by ``at`` (a claim then would take it)."""
        with self.store.reading() as sql:
            pages = _due_pages(sql, self._due, sql.time(at), 64)
            return any(name in names for rows in pages for name, _feed_url in rows)

    def leases(self) -> dict[str, tuple[str, datetime]]:
        """Who holds each leased source, and until when."""
        with self.store.reading() as sql:
            rows = sql.rows("SELECT source, owner, until FROM leases")
        return {source: (owner, read_time(until)) for source, owner, until in rows}

    def workers(self) -> list[WorkerRow]:
        with self.store.reading() as sql:
            rows = sql.rows("SELECT id, role, host, pid, started, heartbeat FROM workers ORDER BY started, id")
        return [
            WorkerRow(worker, role, host, pid, read_time(started), read_time(heartbeat))
            for worker, role, host, pid, started, heartbeat in rows
        ]

    def release(self, names: Collection[str]) -> None:
        if not names:
            return
        with self.store.begin() as tx:
            for chunk in chunks(list(names)):
                tx.sql.run(f"DELETE FROM leases WHERE owner = ? AND source IN ({marks(len(chunk))})", (self.id, *chunk))

    # --- publishing ---------------------------------------------------------------------

    def bump(self) -> None:
        """Record that stored content changed, so whoever publishes renders again.

        A fresh random token rather than a counter: any change is a new version, and two
        workers bumping at once need no read-modify-write.
        """
        token = uuid.uuid4().hex
        try:
            with self.store.begin() as tx:
                if not tx.sql.run("UPDATE newsriver_meta SET value = ? WHERE key = ?", (token, CONTENT_VERSION)):
                    tx.sql.run("INSERT INTO newsriver_meta (key, value) VALUES (?, ?)", (CONTENT_VERSION, token))
        except DatabaseError as exc:
            if not exc.conflict:
                raise
            # another worker created the row at the same moment: the version changed all the same

    def version(self) -> str:
        return self.store.meta.get(CONTENT_VERSION) or "0"

    def keep_rendered(self, folder: Path, names: Sequence[str], now: datetime) -> None:
        """Copy rendered files into the database for stateless web nodes (``serve --from-database``),
        and drop the copies of files no longer in ``folder`` (archive pages a month stopped
        needing), so web nodes answer 404 for them as the publisher's own server does."""
        with self.store.begin() as tx:
            sql = tx.sql
            gone = [name for (name,) in sql.rows("SELECT name FROM rendered") if not (folder / name).exists()]
            for chunk in chunks(gone):
                sql.run(f"DELETE FROM rendered WHERE name IN ({marks(len(chunk))})", chunk)
            at = sql.time(now)
            for name in names:
                body = (folder / name).read_bytes()
                etag = version_of(body)  # the same ETag as the publisher's own server sends
                sql.run("DELETE FROM rendered WHERE name = ?", (name,))
                sql.run(_RENDERED, (name, body, etag, at))

    def live_publisher(self, now: datetime) -> bool:
        query = "SELECT id FROM workers WHERE role = 'publisher' AND heartbeat >= ? LIMIT 1"
        with self.store.reading() as sql:
            return sql.first(query, (sql.time(now - HEARTBEAT_STALE),)) is not None

    def try_publish_lock(self) -> bool:
        """Whether this worker is the one elected to publish (a session lock on a connection
        it keeps open from then on)."""
        if not self.postgres:
            return True  # SQLite has one service per database (lock.WriterLock)
        if self._election is None:
            self._election = self.store.dedicated()
        found = self._election.first("SELECT pg_try_advisory_lock(?)", (PUBLISH_LOCK,))
        return bool(found and found[0])


def _alive(pid: int) -> bool:
    """Whether a process of this machine with id ``pid`` is running (not this one)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


class RenderedDocuments:
    """Rendered output read from the database, for ``serve --from-database`` web nodes.

    Each request asks the database only for the current version; the body is fetched
    again only when that changed, so answering 304s costs one small query.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._cache: dict[str, ServedFile] = {}

    def __call__(self, name: str) -> ServedFile | None:
        with self.store.reading() as sql:
            row = sql.first("SELECT etag, updated FROM rendered WHERE name = ?", (name,))
            if row is None:
                return None
            etag, updated = row
            with self._lock:
                cached = self._cache.get(name)
            if cached is not None and cached.version == etag:
                return cached
            (body,) = sql.rows("SELECT body FROM rendered WHERE name = ?", (name,))[0]
        # HTTP dates have whole seconds; so must the comparison with If-Modified-Since.
        doc = ServedFile(bytes(body), etag, read_time(updated).replace(microsecond=0))
        with self._lock:
            self._cache[name] = doc
        return doc


def _due_pages(sql: Sql, statement: str, at: Any, page: int) -> Iterator[list[tuple[Any, ...]]]:
    """The due sources (``_DUE``'s rows, or ``_DUE_POSTGRES``'s, oldest first) a page at a
    time, at most CLAIM_PAGES pages: with thousands due, reading them all cost more than
    polling a batch."""
    for number in range(CLAIM_PAGES):
        rows = sql.rows(statement, (at, at, at, page, number * page))
        yield rows
        if len(rows) < page:
            return
