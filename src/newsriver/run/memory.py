"""The polling process's memory as the C library's allocator holds it (glibc only; elsewhere
these do nothing): what the fetch threads and SQLite's page cache leave behind, which
Python's own allocator never sees."""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

# malloc arenas the process may have (glibc: by default 8 per core). Each fetch thread would
# otherwise take one, which keeps the pages of the bodies it read: about 7 MB of a cold
# pass's peak at 16 fetch threads. The threads take turns at the GIL, so they barely
# contend for an arena.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def cap_arenas() -> None:
    """At most MALLOC_ARENAS malloc arenas from now on: call before starting threads."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def trim() -> None:
    """Give the free memory the allocator holds back to the system: after a pass, what
    SQLite's page cache and the pass's documents took is reused by nothing that follows."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def _glibc() -> Any | None:
    """The process's C library, if it is glibc (ctypes only then: 0.7 MB)."""
    import ctypes

    with contextlib.suppress(OSError):
        process = ctypes.CDLL(None)  # every library the process has loaded, the C library among them
        if all(hasattr(process, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
            return process
    return None
