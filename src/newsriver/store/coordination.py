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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from newsriver.publish.serve import ServedFile, version_of
from newsriver.store.schema import chunks, leases_table, meta_table, rendered_table, sources_table, workers_table
from newsriver.urls import origin_of

if TYPE_CHECKING:
    from newsriver.store.store import Store

# Arbitrary constants naming newsriver's PostgreSQL advisory locks.
CLAIM_LOCK = 0x6E657773  # "news"
PUBLISH_LOCK = 0x72697672  # "rivr"
HEARTBEAT_STALE = timedelta(seconds=60)
CLAIM_PAGES = 4  # see Coordinator.claim
CONTENT_VERSION = "content_version"


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
        self.postgres = store.engine.dialect.name == "postgresql"
        self._election: Connection | None = None  # holds the publish lock while this worker publishes

    def heartbeat(self, now: datetime) -> None:
        w = workers_table
        with self.store.engine.begin() as conn:
            done = conn.execute(update(w).where(w.c.id == self.id).values(heartbeat=now)).rowcount
            if not done:
                conn.execute(
                    insert(w).values(
                        id=self.id,
                        role=self.role,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        started=now,
                        heartbeat=now,
                    )
                )

    def leave(self) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(delete(leases_table).where(leases_table.c.owner == self.id))
            conn.execute(delete(workers_table).where(workers_table.c.id == self.id))

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
        w, lt = workers_table, leases_table
        with self.store.engine.begin() as conn:
            others = conn.execute(select(w.c.id, w.c.host, w.c.pid, w.c.heartbeat).where(w.c.id != self.id)).all()
            if self.store.engine.dialect.name == "sqlite":
                gone = [r.id for r in others]
                released = conn.execute(delete(lt).where(lt.c.owner != self.id)).rowcount
            else:
                here = socket.gethostname()
                stale = now - HEARTBEAT_STALE
                gone = [r.id for r in others if r.heartbeat < stale or (r.host == here and not _alive(r.pid))]
                released = sum(conn.execute(delete(lt).where(lt.c.owner.in_(ids))).rowcount for ids in chunks(gone))
            for ids in chunks(gone):
                conn.execute(delete(w).where(w.c.id.in_(ids)))
        return int(released)

    def claim(self, names: Collection[str], now: datetime, limit: int, per_host: int, lease: timedelta) -> list[str]:
        """Lease up to ``limit`` due sources among ``names`` to this worker; their names.

        The due sources are read oldest first, a page at a time, and at most
        CLAIM_PAGES pages: with thousands due, a claim that read them all cost more than
        polling its batch. Fewer than ``limit`` are claimed when the first pages are
        mostly on hosts at their limit; the next claim, after those are polled, moves on.
        """
        s, lt = sources_table, leases_table
        page = max(limit * 4, 64)
        with self.store.engine.begin() as conn:
            if self.postgres:
                conn.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
            active = Counter(
                origin_of(r.feed_url)
                for r in conn.execute(select(s.c.feed_url).join(lt, lt.c.source == s.c.name).where(lt.c.until >= now))
            )
            query = (
                select(s.c.name, s.c.feed_url)
                .outerjoin(lt, lt.c.source == s.c.name)
                .where(
                    or_(s.c.next_poll.is_(None), s.c.next_poll <= now),
                    s.c.status != "gone",
                    or_(s.c.retry_after.is_(None), s.c.retry_after <= now),
                    or_(lt.c.until.is_(None), lt.c.until < now),
                )
                .order_by(s.c.next_poll.is_not(None), s.c.next_poll, s.c.name)
                .limit(page)
            )
            if self.postgres:
                query = query.with_for_update(of=s, skip_locked=True)
            due: list[Due] = []
            for number in range(CLAIM_PAGES):
                rows = conn.execute(query.offset(number * page)).all()
                due += [Due(r.name, r.feed_url) for r in rows if r.name in names]
                chosen = choose(due, active, limit, per_host)
                if len(chosen) >= limit or len(rows) < page:
                    break
            if chosen:
                conn.execute(delete(lt).where(lt.c.source.in_(chosen)))
                conn.execute(insert(lt), [{"source": n, "owner": self.id, "until": now + lease} for n in chosen])
        return chosen

    def leases(self) -> dict[str, tuple[str, datetime]]:
        """Who holds each leased source, and until when."""
        lt = leases_table
        with self.store.engine.connect() as conn:
            return {r.source: (r.owner, r.until) for r in conn.execute(select(lt))}

    def workers(self) -> list[WorkerRow]:
        w = workers_table
        with self.store.engine.connect() as conn:
            return [WorkerRow(**r._asdict()) for r in conn.execute(select(w).order_by(w.c.started, w.c.id))]

    def release(self, names: Collection[str]) -> None:
        if not names:
            return
        lt = leases_table
        with self.store.engine.begin() as conn:
            conn.execute(delete(lt).where(lt.c.owner == self.id, lt.c.source.in_(list(names))))

    # --- publishing ---------------------------------------------------------------------

    def bump(self) -> None:
        """Record that stored content changed, so whoever publishes renders again.

        A fresh random token rather than a counter: any change is a new version, and two
        workers bumping at once need no read-modify-write.
        """
        m = meta_table
        token = uuid.uuid4().hex
        try:
            with self.store.engine.begin() as conn:
                if not conn.execute(update(m).where(m.c.key == CONTENT_VERSION).values(value=token)).rowcount:
                    conn.execute(insert(m).values(key=CONTENT_VERSION, value=token))
        except IntegrityError:
            pass  # another worker created the row at the same moment: the version changed all the same

    def version(self) -> str:
        with self.store.engine.connect() as conn:
            found = conn.execute(select(meta_table.c.value).where(meta_table.c.key == CONTENT_VERSION)).scalar()
        return str(found or "0")

    def keep_rendered(self, folder: Path, names: Sequence[str], now: datetime) -> None:
        """Copy rendered files into the database for stateless web nodes (``serve --from-database``),
        and drop the copies of files no longer in ``folder`` (archive pages a month stopped
        needing), so web nodes answer 404 for them as the publisher's own server does."""
        r = rendered_table
        with self.store.engine.begin() as conn:
            gone = [n for n in conn.execute(select(r.c.name)).scalars() if not (folder / n).exists()]
            for chunk in chunks(gone):
                conn.execute(delete(r).where(r.c.name.in_(chunk)))
            for name in names:
                body = (folder / name).read_bytes()
                etag = version_of(body)  # the same ETag as the publisher's own server sends
                conn.execute(delete(r).where(r.c.name == name))
                conn.execute(insert(r).values(name=name, body=body, etag=etag, updated=now))

    def live_publisher(self, now: datetime) -> bool:
        w = workers_table
        with self.store.engine.connect() as conn:
            found = conn.execute(
                select(w.c.id).where(w.c.role == "publisher", w.c.heartbeat >= now - HEARTBEAT_STALE).limit(1)
            ).first()
        return found is not None

    def try_publish_lock(self) -> bool:
        """Whether this worker is the one elected to publish (a session lock on a connection
        it keeps open from then on)."""
        if not self.postgres:
            return True  # SQLite has one service per database (lock.WriterLock)
        if self._election is None:
            self._election = self.store.engine.connect()
        return bool(self._election.execute(select(func.pg_try_advisory_lock(PUBLISH_LOCK))).scalar())


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
        r = rendered_table
        with self.store.engine.connect() as conn:
            row = conn.execute(select(r.c.etag, r.c.updated).where(r.c.name == name)).first()
            if row is None:
                return None
            with self._lock:
                cached = self._cache.get(name)
            if cached is not None and cached.version == row.etag:
                return cached
            body = conn.execute(select(r.c.body).where(r.c.name == name)).scalar_one()
        # HTTP dates have whole seconds; so must the comparison with If-Modified-Since.
        doc = ServedFile(bytes(body), row.etag, row.updated.replace(microsecond=0))
        with self._lock:
            self._cache[name] = doc
        return doc
