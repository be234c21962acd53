"""What related coverage costs a new entry as the store grows: CPU per entry of
``store.related.record`` (featurizing, document frequencies, key lookup, comparison, and
writing its rows), with N entries stored.

Run from the repository root: ``.venv/bin/python benchmarks/related_cost.py --stored 10000 100000``
(add 1000000 for the issue's size; building it takes minutes).

The stored entries are made from the words of the corpus's 181 real article bodies
(``fulltext/ground-truth.json``), drawn by their own frequencies (so common words are
common), over 90 days; each belongs to an event of 1-6 reports sharing a few words of
their own (names), and a third carry one of a few sources' boilerplate lines ("Read more
at …", a copyright line) in their lead, shared by tens of thousands of entries: the keys
that must not slow a lookup. The store is filled directly (the rows ``record`` would have
written); then 300 new entries are recorded, one a save and ten a save (a fetch that
brought that many), each save in its own transaction, half of them reports of stored
events, and the CPU time of ``record`` is measured (per entry: a save's, divided).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newsriver.store.related import DOCUMENTS, MAX_DF_SHARE, MIN_MAX_DF, record
from newsriver.store.store import Store
from newsriver.stories.related import RelatedPolicy, keys, lead_of, term_key, vector

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
BOILERPLATE = [
    "Read more at the Daily Example website and follow us for the latest news and analysis",
    "Copyright 2026 Metro Courier all rights reserved this material may not be republished",
    "Sign up for our newsletter to get the stories that matter delivered to your inbox every morning",
]
POLICY = RelatedPolicy(0.22, 0.50, timedelta(days=7))


class Texts:
    def __init__(self, rng: random.Random) -> None:
        pages = json.loads((CORPUS / "fulltext" / "ground-truth.json").read_text(encoding="utf-8"))
        counts = Counter(w for page in pages.values() for w in re.findall(r"[A-Za-z]+", page["articleBody"]))
        self.words = list(counts)
        self.weights = list(counts.values())
        self.rng = rng

    def event_words(self) -> list[str]:
        return ["".join(self.rng.choices("bcdfghklmnprstvz", k=3)) + w for w in self.rng.sample(self.words, 4)]

    def entry(self, event: list[str]) -> tuple[str, str]:
        pick = self.rng.choices(self.words, self.weights, k=70)
        title = " ".join(event[:2] + pick[:6])
        lead = " ".join(event + pick[6:])
        if self.rng.random() < 0.33:
            lead = self.rng.choice(BOILERPLATE) + " " + lead
        return title, lead


def fill(store: Store, texts: Texts, stored: int, rng: random.Random) -> list[list[str]]:
    """Fill the store with ``stored`` entries' rows; returns the events' words."""
    events: list[list[str]] = []
    entries = []
    while len(entries) < stored:
        event = texts.event_words()
        events.append(event)
        start = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        for _ in range(rng.randint(1, 6)):
            when = start + timedelta(seconds=rng.randrange(86400))
            entries.append((f"e{len(entries)}", *texts.entry(event), when))
    entries = entries[:stored]
    leads = [lead_of(title, lead) for _, title, lead, _ in entries]
    df = Counter(w for lead in leads for w in lead.terms)
    max_df = max(MIN_MAX_DF, int(stored * MAX_DF_SHARE))
    raw = store.engine.raw_connection()
    cursor = raw.cursor()
    columns = [c.name for c in store_entries_columns()]
    marks = ", ".join("?" * len(columns))
    batch: list[tuple[Any, ...]] = []
    key_rows: list[tuple[int, int, str]] = []
    related_rows: list[tuple[Any, ...]] = []
    for (entry_id, title, lead_text, when), lead in zip(entries, leads, strict=True):
        weights = vector(lead, df, stored)
        seconds = int(when.timestamp())
        batch.append(tuple(_entry_value(c, entry_id, title, lead_text, when) for c in columns))
        key_rows += [(k, seconds, entry_id) for k in keys(weights, df, max_df)]
        compact = json.dumps({w: round(v, 4) for w, v in weights.items()}, separators=(",", ":"))
        related_rows.append((entry_id, entry_id, seconds, seconds, lead.headline_only, compact, None))
        if len(batch) >= 5000:
            _flush(cursor, columns, marks, batch, key_rows, related_rows)
    _flush(cursor, columns, marks, batch, key_rows, related_rows)
    cursor.executemany(
        "INSERT INTO related_terms (term, df) VALUES (?, ?)",
        [(term_key(w), n) for w, n in df.items()] + [(DOCUMENTS, stored)],
    )
    raw.commit()
    raw.close()
    return events


def store_entries_columns() -> list[Any]:
    from newsriver.store.schema import entries_table

    return list(entries_table.columns)


def _entry_value(name: str, entry_id: str, title: str, text: str, when: datetime) -> Any:
    values = {"id": entry_id, "source": f"s{hash(entry_id) % 200}", "entry_key": entry_id, "story": entry_id}
    values |= {"url": f"https://example.org/{entry_id}", "canonical_url": "", "url_hash": entry_id[:16]}
    values |= {"title": title, "text": text, "similarity": None}
    if name in values:
        return values[name]
    if name in ("published", "updated", "first_seen"):
        return when.replace(tzinfo=None).isoformat(sep=" ")
    if name in ("authors", "categories", "enclosures"):
        return "[]"
    if name == "podcast":
        return None
    return ""


def _flush(cursor: Any, columns: list[str], marks: str, batch: list[Any], keys_: list[Any], related: list[Any]) -> None:
    cursor.executemany(f"INSERT INTO entries ({', '.join(columns)}) VALUES ({marks})", batch)
    cursor.executemany("INSERT OR IGNORE INTO related_keys (key, published, entry_id) VALUES (?, ?, ?)", keys_)
    cursor.executemany(
        "INSERT INTO related_entries (entry_id, grp, group_published, published, headline_only, vector, score)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        related,
    )
    batch.clear()
    keys_.clear()
    related.clear()


def measure(
    store: Store, texts: Texts, events: list[list[str]], rng: random.Random, count: int, prefix: str, batch: int
) -> list[float]:
    """CPU µs of ``record`` per new entry, for ``count`` new entries saved ``batch`` at a
    time (a fetch that brought that many new entries), each batch in its transaction."""
    times = []
    for first in range(0, count, batch):
        rows = []
        for i in range(first, first + batch):
            event = rng.choice(events) if i % 2 == 0 else texts.event_words()
            title, lead = texts.entry(event)
            when = START + timedelta(seconds=rng.randrange(DAYS * 86400))
            entry_id = f"{prefix}{i}"
            rows.append({"id": entry_id, "title": title, "text": lead, "published": when, "story": entry_id})
        with store.transaction() as tx:
            for row in rows:  # the entries' own rows, as the save inserts them first; not part of the cost
                stamp = row["published"].replace(tzinfo=None).isoformat(sep=" ")
                tx.sql.run(
                    "INSERT INTO entries (id, source, entry_key, story, url, canonical_url, url_hash, title,"
                    " summary, content, text, authors, published, updated, first_seen, categories, enclosures,"
                    " language, image, comments, content_hash) VALUES (?, 'new', ?, ?, '', '', '', ?, '', '', ?,"
                    " '[]', ?, ?, ?, '[]', '[]', '', '', '', '')",
                    (row["id"], row["id"], row["id"], row["title"], row["text"], stamp, stamp, stamp),
                )
            started = time.process_time()
            record(tx.sql, rows, POLICY)
            times.append((time.process_time() - started) * 1e6 / batch)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--new", type=int, default=300)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 10], help="new entries a save")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for stored in args.stored:
        rng = random.Random(stored)
        texts = Texts(rng)
        with tempfile.TemporaryDirectory() as folder:
            store = Store(f"sqlite:///{folder}/bench.db")
            began = time.monotonic()
            events = fill(store, texts, stored, rng)
            built = time.monotonic() - began
            measure(store, texts, events, rng, 20, "warm", 1)  # the page cache
            for batch in args.batch:
                times = sorted(measure(store, texts, events, rng, args.new, f"new{batch}-", batch))
                p95 = times[int(len(times) * 0.95)]
                print(
                    f"{stored:>9,} stored (built in {built:.0f} s), {batch:>2} new entries a save: related coverage "
                    f"CPU per new entry median {statistics.median(times):.0f} µs, p95 {p95:.0f} µs"
                )
            store.close()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
