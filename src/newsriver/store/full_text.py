"""What the store keeps for full text (``full_text`` sources): each teaser entry's page, fetched
once per link, and what came of it (table ``full_text_pages``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from newsriver.store.sql import chunks, insert_text, marks

if TYPE_CHECKING:
    from newsriver.store.store import Store


COUNTED = ("fetched", "extracted", "refused", "failed")
_RECORD = insert_text("full_text_pages", ("entry_id", "source", "url", "result", "at"))


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
    found: dict[str, KnownPage] = {}
    with store.transaction() as tx:
        for chunk in chunks(ids):
            query = (
                "SELECT e.id, e.url, e.content, e.summary, e.text, p.url, p.result FROM entries AS e"
                f" LEFT OUTER JOIN full_text_pages AS p ON p.entry_id = e.id WHERE e.id IN ({marks(len(chunk))})"
            )
            for entry_id, url, content, summary, text, page_url, result in tx.sql.rows(query, chunk):
                found[entry_id] = KnownPage(url, page_url or "", result or "", content, summary, text)
    return found


def record(store: Store, source: str, records: Iterable[PageRecord], now: datetime) -> None:
    """What came of each page fetched for ``source``'s entries (the last fetch of an entry wins)."""
    kept = list(records)
    if not kept:
        return
    with store.transaction() as tx:
        sql = tx.sql
        for chunk in chunks([r.entry_id for r in kept]):
            sql.run(f"DELETE FROM full_text_pages WHERE entry_id IN ({marks(len(chunk))})", chunk)
        at = sql.time(now)
        sql.run_many(_RECORD, [(r.entry_id, source, r.url, r.result, at) for r in kept])


def counts(store: Store) -> dict[str, dict[str, int]]:
    """By source, its entries' pages: ``fetched``, ``extracted`` (their article replaced the
    teaser), ``refused`` (by robots.txt), ``failed`` (an error, not HTML, too large)."""
    by_source: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
    query = "SELECT source, result, count(*) FROM full_text_pages GROUP BY source, result"
    with store.transaction() as tx:
        for source, result, n in tx.sql.rows(query):
            tally = by_source[source]
            if result in ("extracted", "kept_teaser"):
                tally["fetched"] += n
            if result != "kept_teaser":
                tally[result] += n
    return dict(by_source)


def extracted(store: Store, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` (article ids) whose content is the article extracted from their page."""
    found: set[str] = set()
    with store.transaction() as tx:
        for chunk in chunks(ids):
            query = (
                f"SELECT entry_id FROM full_text_pages WHERE entry_id IN ({marks(len(chunk))}) AND result = 'extracted'"
            )
            found.update(entry_id for (entry_id,) in tx.sql.rows(query, chunk))
    return found
