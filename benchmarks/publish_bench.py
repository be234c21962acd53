"""Publishing with a large database: a 100-item feed rendered with 1,000,000 entries stored.

    .venv/bin/python benchmarks/publish_bench.py [--entries 1000000] [--database URL]

Fills a fresh database (SQLite in a temporary folder by default; any SQLAlchemy URL with
``--database``, e.g. an empty PostgreSQL database) with ``--entries`` entries from 1,000
sources over a year, 5 % of them other outlets' copies of a story already stored, fast
(executemany in big batches). Then times, as the output stage runs them, the selection
of a feed's newest 100 stories (``store.selection.stories``, copies folded) and their
rendering in each format, for a feed of every source and for one of 10 sources; prints the
medians. Target: ≤ 50 ms for one feed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from newsriver.publish.formats import RENDERERS
from newsriver.publish.render_common import FeedInfo, SourceInfo
from newsriver.store.schema import entries_table
from newsriver.store.store import Store

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SOURCES = 1000
BATCH = 20_000
ITEMS = 100
COPY_SHARE = 0.05


def populate(store: Store, entries: int, rng: random.Random) -> None:
    """``entries`` rows published at random over the last year. Only the last week's carry
    an article-sized text (about 2 kB, as the ingest farm's): only the newest are read and
    rendered, and a year of such texts would be gigabytes of database for nothing."""
    body = " ".join(rng.choice(["river", "court", "minister", "said", "the", "vote", "market"]) for _ in range(300))
    recent_since = NOW - timedelta(days=7)
    start = NOW - timedelta(days=365)
    year = 365 * 86400
    columns = [c.name for c in entries_table.columns]
    recent: list[tuple[str, datetime]] = []  # (story, published) of stories a copy may join
    with store.engine.begin() as conn:
        for first in range(0, entries, BATCH):
            rows = []
            for n in range(first, min(entries, first + BATCH)):
                entry_id = str(uuid.UUID(int=rng.getrandbits(128)))
                published = start + timedelta(seconds=rng.randrange(year))
                story = entry_id
                if recent and rng.random() < COPY_SHARE:
                    story, published = rng.choice(recent)
                    published += timedelta(minutes=rng.randrange(1, 600))
                else:
                    recent = [*recent[-999:], (entry_id, published)]
                source = f"source-{n % SOURCES:04d}"
                text = f"Entry {n} of {source}: " + (body if published >= recent_since else "a short body.")
                values: dict[str, Any] = {
                    "id": entry_id,
                    "source": source,
                    "entry_key": str(n),
                    "story": story,
                    "url": f"https://{source}.example/{n}",
                    "canonical_url": f"https://{source}.example/{n}",
                    "url_hash": f"{n:016x}",
                    "title": f"Story number {n}",
                    "summary": "",
                    "content": f"<p>{text}</p>",
                    "text": text,
                    "authors": [],
                    "published": published,
                    "updated": published,
                    "first_seen": published,
                    "categories": [],
                    "enclosures": [],
                    "language": "en",
                    "image": "",
                    "comments": "",
                    "content_hash": f"{n:064x}",
                    "similarity": 0.9 if story != entry_id else None,
                }
                rows.append({c: values[c] for c in columns if c in values})
            conn.execute(insert(entries_table), rows)
            print(f"\r  populated {min(entries, first + BATCH):,} entries", end="", flush=True)
    print()


def timed(what: Callable[[], Any], runs: int) -> tuple[float, Any]:
    seconds = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = what()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, result


def grouped(store: Store, chosen: list[str]) -> list[str]:
    """The selection as it was before: every chosen entry grouped by story, then sorted."""
    e = entries_table.c
    query = (
        select(e.story)
        .where(e.source.in_(chosen))
        .group_by(e.story)
        .order_by(func.min(e.published).desc(), e.story)
        .limit(ITEMS)
    )
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def measure(store: Store, runs: int) -> list[tuple[str, float]]:
    """(what, median ms) for selecting and rendering a 100-item feed of all sources and of 10."""
    every = [f"source-{n:04d}" for n in range(SOURCES)]
    rows = []
    for label, chosen in (("all 1,000 sources", every), ("10 sources", every[::100])):
        before_ms, _ = timed(lambda chosen=chosen: grouped(store, chosen), max(1, runs // 3))
        rows.append((f"{label}: (reference) grouping every entry", before_ms))
        info = FeedInfo(
            name="bench", title="Bench", description="", base_url="http://127.0.0.1/", link="http://127.0.0.1/"
        )
        infos = {s: SourceInfo(s, s, f"https://{s}.example/feed", f"https://{s}.example/") for s in chosen}
        select_ms, stories = timed(lambda chosen=chosen: store.selection.stories(chosen, ITEMS), runs)
        items = [s.item for s in stories]
        also = {s.item.id: s.copies for s in stories if s.copies}
        rows.append((f"{label}: select {len(items)} stories", select_ms))
        for fmt, render in RENDERERS.items():
            render_ms, _ = timed(partial(render, info, items, infos, also), runs)
            rows.append((f"{label}: render {fmt}", render_ms))
        rows.append((f"{label}: select + render atom (one feed)", select_ms + rows[-3][1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database", help="an empty database's SQLAlchemy URL (default: SQLite in a temp folder)")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="publish-bench-") as tmp:
        store = Store(args.database or f"sqlite:///{Path(tmp) / 'publish.db'}")
        try:
            started = time.perf_counter()
            populate(store, args.entries, random.Random(3))
            print(f"  populating took {time.perf_counter() - started:.0f} s ({store.engine.dialect.name})")
            backend = store.engine.dialect.name
            print(f"\npublish with {args.entries:,} entries stored ({backend}), median of {args.runs}")
            for what, ms in measure(store, args.runs):
                print(f"  {what:<52} {ms:8.1f} ms")
        finally:
            store.close()


if __name__ == "__main__":
    main()
