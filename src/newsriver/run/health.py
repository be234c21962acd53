"""What ``/healthz`` says: whether the service is storing and publishing, and why not.

Each check names its reason, and any reason makes the status "error" (HTTP 503): the last
store and publish against the schedule, the database and output folder writable, free
space above ``settings.min_free_space``, and the SQLite file still the one opened.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from newsriver.config.schema import Config
from newsriver.errors import StoreError
from newsriver.plural import counted
from newsriver.store.store import Store, sqlite_file

log = logging.getLogger(__name__)
# Errors a tick's storing or publishing may meet that say nothing about a source: a full or
# read-only disk, a database gone or refusing writes.
FAILURES = (SQLAlchemyError, StoreError, OSError)


def reason(exc: BaseException) -> str:
    """A failure in one line without the SQL statement, so the same failure reads the same."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        # Named by its folder: atomic writes go through a temporary file of a new name each time.
        return f"{exc.strerror}: {Path(os.fsdecode(exc.filename)).parent}"
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class DatabaseFileChanged(StoreError):
    """The SQLite file was deleted or replaced under the service (see ``DatabaseFile``)."""


class Trouble:
    """A part that can fail tick after tick (storing, publishing): logged once per change of
    state, not once per tick, and reported by ``/healthz`` while it lasts."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.problem: str | None = None

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, DatabaseFileChanged):
            self.problem = str(exc)  # said already (DatabaseFile); the same words appear once in /healthz
            return
        problem = f"{self.what} failed: {reason(exc)}"
        if problem != self.problem:
            log.error("%s", problem)
        self.problem = problem

    def ok(self) -> None:
        if self.problem is not None:
            log.info("%s works again", self.what)
            self.problem = None


class DatabaseFile:
    """The SQLite file the store opened. Deleted or replaced, every later transaction is
    refused: SQLite would go on writing into the unlinked file, and all that is lost at the
    next start. Said once, as an ERROR, and by ``/healthz`` until a restart."""

    def __init__(self, store: Store) -> None:
        self.path = sqlite_file(store.url)
        self.problem: str | None = None
        self._identity: tuple[int, int] | None = None
        if self.path is not None:
            info = self.path.stat()
            self._identity = (info.st_dev, info.st_ino)
            store.before_transaction(self._before_transaction)

    def check(self) -> str | None:
        """Why the file is no longer the one opened, or None."""
        if self.path is None or self.problem is not None:
            return self.problem
        try:
            info = self.path.stat()
        except FileNotFoundError:
            change = "was deleted"
        else:
            if (info.st_dev, info.st_ino) == self._identity:
                return None
            change = "was replaced by another file"
        self.problem = (
            f"database file {self.path} {change} under the running service: nothing is stored until it restarts"
        )
        log.error("%s", self.problem)
        return self.problem

    def _before_transaction(self) -> None:
        problem = self.check()
        if problem is not None:
            raise DatabaseFileChanged(problem)


class Health:
    """The service's state as ``/healthz`` reports it."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.database = DatabaseFile(store)
        self.storing = Trouble("storing")
        self.publishing = Trouble("publishing")
        self.started = now

    def report(self, config: Config, now: datetime, last_publish: datetime | None) -> dict[str, Any]:
        """The ``/healthz`` document: ``status`` is "ok" only when ``problems`` is empty."""
        settings = config.settings
        problems = [p for p in (self.database.check(), self.storing.problem, self.publishing.problem) if p]
        folders = {"output": settings.output_dir}
        if self.database.path is not None:
            folders["database"] = self.database.path.parent
        free = {}
        for what, folder in folders.items():
            problems += _writable(what, folder)
            left = free[what] = _free_bytes(folder)
            if left is not None and left < settings.min_free_space:
                problems.append(
                    f"{what} folder {folder}: {left} bytes free, below min_free_space {settings.min_free_space}"
                )
        report: dict[str, Any] = {
            "last_publish": last_publish.isoformat() if last_publish else None,
            "last_publish_age": _age(last_publish, now),
            "free_bytes": free,
        }
        try:
            report |= self._schedule(config, now, problems)
        except FAILURES as exc:
            if reason(exc) not in problems:  # a database file deleted says so once
                problems.append(f"database unreadable: {reason(exc)}")
        return {"status": "error" if problems else "ok", "problems": sorted(set(problems)), **report}

    def _schedule(self, config: Config, now: datetime, problems: list[str]) -> dict[str, Any]:
        """The last store against the schedule: sources due for long with nothing stored since
        mean storing has stalled, whatever the reason."""
        settings = config.settings
        names = {s.name for s in config.sources}
        rows = [row for name, row in self.store.sources.rows().items() if name in names]
        stored = [row.last_fetch for row in rows if row.last_fetch is not None]
        last_store = max(stored) if stored else None
        # A due source is claimed within a tick and stored within a fetch's deadline.
        grace = max(3 * settings.tick, settings.deadline + settings.tick)
        overdue = [
            row.next_poll
            for row in rows
            if row.next_poll is not None
            and row.next_poll < now - grace
            and row.status != "gone"
            and (row.retry_after is None or row.retry_after <= now)
        ]
        # Sources overdue at start (a service down for a while) get the same grace from the start.
        since = max(last_store, self.started) if last_store else self.started
        if overdue and since < now - grace:
            waiting = f"{counted(len(overdue), 'source')} {'is' if len(overdue) == 1 else 'are'} overdue"
            problems.append(f"nothing stored for {int((now - since).total_seconds())} s while {waiting}")
        return {
            "last_store": last_store.isoformat() if last_store else None,
            "last_store_age": _age(last_store, now),
            "overdue_sources": len(overdue),
            "oldest_overdue_age": _age(min(overdue), now) if overdue else None,
            "failing_sources": sum(1 for row in rows if row.status == "error"),
            # stored, but from a document that lost entries (one cut short): not a problem of the service's
            "warning_sources": sum(1 for row in rows if row.status == "warning"),
        }


def _age(when: datetime | None, now: datetime) -> float | None:
    return round((now - when).total_seconds(), 1) if when is not None else None


def _writable(what: str, folder: Path) -> list[str]:
    """A file created and removed in ``folder`` proves it writable: unlike ``os.access``, this
    holds for root and on a read-only mount alike."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-"):
            pass
    except OSError as exc:
        return [f"{what} folder {folder} is not writable: {exc.strerror or exc}"]
    return []


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None  # the folder is missing: _writable says so
