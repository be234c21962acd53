"""One service per SQLite database: a second one refuses to start instead of racing the first."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from newsriver.errors import StoreError
from newsriver.store.store import sqlite_file


class WriterLock:
    """An exclusive lock on ``<database>.lock``, held for the life of the process.

    flock is released by the kernel when the process dies, even by SIGKILL, so a crash
    never leaves a stale lock behind.
    """

    def __init__(self, database_url: str) -> None:
        self.path: Path | None = None
        self._handle: IO[str] | None = None
        database = sqlite_file(database_url)
        if database is not None:
            self.path = Path(f"{database}.lock")

    def acquire(self) -> None:
        if self.path is None:
            return  # PostgreSQL coordinates its workers itself
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StoreError(
                f"another newsriver service (pid {holder}) is already running on {self.path.with_suffix('')}; "
                "stop it first, or give this one its own database"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
