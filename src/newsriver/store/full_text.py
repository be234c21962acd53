"""What the store keeps for full text (``full_text`` sources): each teaser entry's page, fetched
once per link, and what came of it (table ``full_text_pages``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select

from newsriver.store.schema import chunks, entries_table, pages_table

if TYPE_CHECKING:
    from newsriver.store.store import Store


COUNTED = ("fetched", "extracted", "refused", "failed")


@dataclass(frozen=True, slots=True)
class KnownPage:
    """A stored entry of a ``full_text`` source, as far as its page goes."""

    url: str  # the entry's stored link
    page_url: str  # the link whose page was fetched; "" when none was yet
    result: str  # what came of it (``ingest.pages.PageResult``); "" when none was fetched
    content: str  # the stored content and summary and text: the full text, once extracted
    summary: str
    text: str


@dataclass(frozen=True, slots=True)
class PageRecord:
    entry_id: str
    url: str
    result: str


def known(store: Store, ids: Sequence[str]) -> dict[str, KnownPage]:
    """The stored entries among ``ids`` (article ids), with their pages' results."""
    e, p = entries_table.c, pages_table.c
    found: dict[str, KnownPage] = {}
    query = select(e.id, e.url, e.content, e.summary, e.text, p.url.label("page_url"), p.result).outerjoin(
        pages_table, p.entry_id == e.id
    )
    with store.transaction() as conn:
        for chunk in chunks(ids):
            for row in conn.execute(query.where(e.id.in_(chunk))):
                found[row.id] = KnownPage(
                    row.url, row.page_url or "", row.result or "", row.content, row.summary, row.text
                )
    return found


def record(store: Store, source: str, records: Iterable[PageRecord], now: datetime) -> None:
    """What came of each page fetched for ``source``'s entries (the last fetch of an entry wins)."""
    rows = [{"entry_id": r.entry_id, "source": source, "url": r.url, "result": r.result, "at": now} for r in records]
    if not rows:
        return
    with store.transaction() as conn:
        for chunk in chunks([row["entry_id"] for row in rows]):
            conn.execute(delete(pages_table).where(pages_table.c.entry_id.in_(chunk)))
        conn.execute(insert(pages_table), rows)


def counts(store: Store) -> dict[str, dict[str, int]]:
    """By source, its entries' pages: ``fetched``, ``extracted`` (their article replaced the
    teaser), ``refused`` (by robots.txt), ``failed`` (an error, not HTML, too large)."""
    p = pages_table.c
    by_source: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
    with store.transaction() as conn:
        for source, result, n in conn.execute(select(p.source, p.result, func.count()).group_by(p.source, p.result)):
            tally = by_source[source]
            if result in ("extracted", "kept_teaser"):
                tally["fetched"] += n
            if result != "kept_teaser":
                tally[result] += n
    return dict(by_source)


def extracted(store: Store, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` (article ids) whose content is the article extracted from their page."""
    p = pages_table.c
    found: set[str] = set()
    with store.transaction() as conn:
        for chunk in chunks(ids):
            query = select(p.entry_id).where(p.entry_id.in_(chunk), p.result == "extracted")
            found.update(conn.execute(query).scalars())
    return found
