"""Does copy detection slow down as the store grows? (issue 15)

Run from the repository root: ``.venv/bin/python benchmarks/dedupe_growth.py``
(``--sizes 10000 100000 1000000``, ``--uncapped`` to time the lookup as it was before
KEY_CAP, for comparison).

A SQLite store is filled with stored entries that all carry realistic shared boilerplate:
each of ``SOURCES`` sources has its own footer paragraph, and every entry ends with one
36-word newsletter paragraph all sources share (the issue's controlled case). The first
``REAL`` entries are real texts (corpus paragraphs, see story_corpus.py, each paragraph's
words in an order of its own so that no two are copies) stored through
``Store.save``; the others are bulk-inserted into SQLite directly, with the index keys a
real text would have: the keys of a real entry's text, its own keys replaced by fresh
random ones and its boilerplate keys (those many real entries share) kept. All are
published within the dedupe window, the worst case.

At each size, batches of 20 new entries of one source (a feed's fetch) go through copy
detection as ``Store.save`` runs it (``_fold_near_duplicates``: the index lookup, the
candidates' texts, their fingerprints and the comparison), in a transaction rolled back;
half the new entries are copies (cut, retitled) of stored real entries, half news of their
own. Printed: CPU per new entry (median of the batches), the copies found, and the
fingerprinting CPU per entry (done in the parse workers, the same at any size).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import story_corpus

from newsriver.models import Article
from newsriver.store import near_index as store_module
from newsriver.store.store import Store
from newsriver.stories.fingerprint import of_entry
from newsriver.stories.match import NearPolicy

NOW = datetime(2026, 3, 1, tzinfo=UTC)
NEAR = NearPolicy(0.6, timedelta(days=7))
SOURCES = 200
REAL = 2000
STORED_FROM = 100  # stored entries are made of the first originals' paragraphs, new ones of the others'
BATCH = 20
BATCHES = 10
# Not "Read more…", which fingerprinting drops: a shared paragraph it has to learn is common.
READ_MORE = (
    "Stories like this one come in our daily newsletter, delivered to your inbox every morning before"
    " seven, free of charge for all registered readers of this site, and follow us on social media for the"
    " latest news as it happens."
)


def footer(source: int) -> str:
    name = "".join(chr(ord("a") + int(digit)) for digit in str(source)).title()  # a name, not a figure
    return f"This article first ran in the {name} Courier. The {name} newsroom welcomes tips and corrections."


def _own(paragraph: str, rng: random.Random) -> str:
    """The paragraph's words in an order of its own: a text no other stored entry shares."""
    words = paragraph.split()
    rng.shuffle(words)
    return " ".join(words)


def body(paragraphs: list[str], source: int) -> str:
    return "".join(f"<p>{p}</p>" for p in [*paragraphs, footer(source), READ_MORE])


def article(id: str, source: int, title: str, content: str, published: datetime) -> Article:
    return Article(
        id=id, source=f"s{source}", entry_key=id, url=f"https://s{source}.example/{id}",
        canonical_url=f"https://s{source}.example/{id}", title=title, summary="", content=content, text=content,
        authors=(), published=published, updated=published, first_seen=published, categories=(), enclosures=(),
        language="en", image="", comments="", content_hash=id,
    )  # fmt: skip


def store_real(store: Store, pool: list[tuple[str, list[str]]], rng: random.Random) -> list[tuple[Article, list[str]]]:
    """REAL real entries, through Store.save (indexed as the service indexes them), with
    their paragraphs."""
    stored: list[tuple[Article, list[str]]] = []
    for start in range(0, REAL, BATCH):
        source = rng.randrange(SOURCES)
        batch, texts = [], []
        for i in range(start, start + BATCH):
            title, paragraphs = pool[i % STORED_FROM]
            picked = [_own(p, rng) for p in rng.sample(paragraphs, min(len(paragraphs), rng.randrange(3, 8)))]
            when = NOW - timedelta(seconds=rng.randrange(int(NEAR.window.total_seconds()) // 2))
            batch.append(article(uuid.uuid4().hex, source, title, body(picked, source), when))
            texts.append(picked)
        store.entries.save(f"s{source}", batch, {"errors": 0}, NEAR)
        stored += zip(batch, texts, strict=True)
    return stored


def grow(path: Path, prints: list[frozenset[int]], common: set[int], count: int, rng: random.Random) -> None:
    """Bulk-insert ``count`` entries and their index keys straight into SQLite."""
    db = sqlite3.connect(path)
    published = db.execute("SELECT published FROM entries LIMIT 1").fetchone()[0]
    window = int(NEAR.window.total_seconds()) // 2
    entries, keys = [], []
    for _ in range(count):
        entry_id = uuid.uuid4().hex
        source = f"s{rng.randrange(SOURCES)}"
        seconds = int(NOW.timestamp()) - rng.randrange(window)
        when = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if " " in published else ""
        entries.append((entry_id, source, entry_id, entry_id, "", "", "", "t", "", "", "", "[]", when, when, when))
        for key in rng.choice(prints):
            keys.append((key if key in common else rng.getrandbits(63), seconds, entry_id, source))
        if len(keys) > 500_000:
            _flush(db, entries, keys)
    _flush(db, entries, keys)
    db.close()


def _flush(db: sqlite3.Connection, entries: list[tuple[Any, ...]], keys: list[tuple[Any, ...]]) -> None:
    db.executemany(
        "INSERT INTO entries (id, source, entry_key, story, url, canonical_url, url_hash, title, summary, content,"
        " text, authors, published, updated, first_seen, categories, enclosures, language, image, comments,"
        " content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '[]', '', '', '', '')",
        entries,
    )
    db.executemany("INSERT OR IGNORE INTO dedupe_keys VALUES (?, ?, ?, ?)", keys)
    db.commit()
    entries.clear()
    keys.clear()


def new_batches(
    stored: list[tuple[Article, list[str]]], pool: list[tuple[str, list[str]]], rng: random.Random
) -> list[Any]:
    """BATCHES batches of BATCH new entries of one source: half copies of stored entries."""
    batches = []
    for _ in range(BATCHES):
        source = rng.randrange(SOURCES)
        rows, prints = [], {}
        for i in range(BATCH):
            if i % 2:  # another outlet's copy: its own headline, the last paragraph cut
                _, paragraphs = rng.choice([(a, p) for a, p in stored if a.source != f"s{source}"])
                title, content = "Another headline", body(paragraphs[: max(2, len(paragraphs) - 1)], source)
            else:
                title, paragraphs = rng.choice(pool[STORED_FROM:])
                content = body(rng.sample(paragraphs, min(len(paragraphs), 4)), source)
            row = {"id": uuid.uuid4().hex, "published": NOW, "title": title, "content": content}
            row["story"] = row["id"]
            rows.append(row)
            prints[row["id"]] = of_entry(title, "", content)
        batches.append((f"s{source}", rows, prints))
    return batches


def measure(store: Store, batches: list[Any]) -> tuple[float, int]:
    """Median CPU per new entry of copy detection, and the copies found."""
    per_entry, found = [], 0
    for source, rows, prints in batches:
        fresh = [dict(row) for row in rows]
        with store.engine.connect() as conn:
            started = time.process_time()
            store_module._fold_near_duplicates(conn, source, fresh, NEAR, prints)
            per_entry.append((time.process_time() - started) / len(fresh))
            conn.rollback()
        found += sum(row["story"] != row["id"] for row in fresh)
    return statistics.median(per_entry), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--uncapped", action="store_true", help="also time the lookup without KEY_CAP")
    args = parser.parse_args()
    rng = random.Random(15)
    pool = list(story_corpus.originals().values())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "growth.db"
        store = Store(f"sqlite:///{path}")
        store.sources.sync((f"s{i}", f"https://s{i}.example/feed") for i in range(SOURCES))
        stored = store_real(store, pool, rng)
        prints: list[frozenset[int]] = [of_entry(a.title, "", a.content).keys for a, _ in stored]
        frequency = Counter(key for keys in prints for key in keys)
        common = {key for key, n in frequency.items() if n >= 10}  # the boilerplate's keys
        batches = new_batches(stored, pool, rng)
        fingerprinting = _fingerprint_cpu(batches)
        print(f"{SOURCES} sources, boilerplate keys per entry {statistics.mean(len(k & common) for k in prints):.1f}")
        print(f"fingerprint (parse workers, any size): {fingerprinting * 1e3:.2f} ms CPU per entry")
        size = REAL
        for target in args.sizes:
            started = time.monotonic()
            grow(path, prints, common, target - size, rng)
            size = target
            built = time.monotonic() - started
            cpu, found = measure(store, batches)
            line = f"{size:>9,} entries (built in {built:.0f} s): {cpu * 1e3:.2f} ms CPU per new entry"
            line += f", {found} of {BATCHES * BATCH // 2} copies found"
            if args.uncapped:
                capped, store_module.KEY_CAP = store_module.KEY_CAP, 1 << 40
                uncapped, _ = measure(store, batches)
                store_module.KEY_CAP = capped
                line += f"; without KEY_CAP {uncapped * 1e3:.2f} ms"
            print(line, flush=True)
        store.close()
    return 0


def _fingerprint_cpu(batches: list[Any]) -> float:
    started = time.process_time()
    for _, rows, _ in batches:
        for row in rows:
            of_entry(row["title"], "", row["content"])
    return (time.process_time() - started) / (BATCHES * BATCH)


if __name__ == "__main__":
    sys.exit(main())
