"""``newsriver sources reset NAME…``: give sources a fresh start.

A source in error backoff, told by its server to wait (Retry-After), or found gone (HTTP
410) is left alone for hours, or for good. Once the operator knows the cause is fixed,
this clears all three, so the next pass polls it; its stored entries and validators stay,
and so does its last document's warning (``sources.warning``): that document has not changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from newsriver.plural import counted
from newsriver.store.store import Store

# States that only the schedule's memory of failures keeps: reset, they read "new".
_HELD = ("error", "backoff", "gone")


def reset_sources(store: Store, names: Sequence[str]) -> list[str]:
    """Clear backoff, Retry-After and gone of ``names``; one line per source saying what it was."""
    rows = store.sources.rows(names)
    changes: list[tuple[str, dict[str, Any]]] = []
    lines = []
    for name in names:
        row = rows.get(name)
        if row is None:
            lines.append(f"{name}: never polled, nothing to reset")
            continue
        values: dict[str, Any] = {"errors": 0, "retry_after": None, "next_poll": None, "last_error": ""}
        if row.status in _HELD:
            values["status"] = "new"
        changes.append((name, values))
        waited = f", Retry-After until {row.retry_after:%Y-%m-%d %H:%M:%S} UTC" if row.retry_after else ""
        lines.append(
            f"{name}: reset (was {row.state}, {counted(row.errors, 'error')}{waited}); polled on the next pass"
        )
    store.sources.update_many(changes)
    return lines
