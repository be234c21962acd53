"""What related coverage costs a new entry as the store grows: CPU per entry of
``store.related.record`` (featurizing, document frequencies, key lookup, comparison, and
writing its rows), with N entries stored.

Run from the repository root: ``.venv/bin/python benchmarks/related_cost.py --stored 10000 100000 1000000``.
``--farm 300`` instead measures ``record``'s CPU (its thread's) per entry in a cold poll of
300 feeds of the ingest farm with related coverage on (``--against`` and ``--rounds`` too).
``--keep DIR`` keeps each built store in DIR and uses it again on the next run (building
1,000,000 entries takes a few minutes); ``--against ../main/src`` measures another
checkout's ``record`` too, on a copy of the same store, the two alternating (``--rounds``
times each), each in a process of its own with that checkout first on ``PYTHONPATH``.

The stored entries are made from the words of the corpus's 181 real article bodies
(``fulltext/ground-truth.json``), drawn by their own frequencies (so common words are
common), over 90 days; each belongs to an event of 1-6 reports sharing a few words of
their own (names), and a third carry one of a few sources' boilerplate lines ("Read more
at …", a copyright line) in their lead, shared by tens of thousands of entries: the keys
that must not slow a lookup.

The store is filled directly with the rows ``record`` would have written, in bulk (one
``executemany`` per table and 20,000 entries, without the WAL and fsyncs): ``entries``
(random UUID-like ids as ``newsriver_id`` makes, the headline, the 70-word text as the
entry's text, no content or summary, so its rows are shorter than a real store's);
``related_terms``, every word's count over all the entries; ``related_keys``, each entry
under its ``KEYS`` weightiest words; ``related_entries``, its vector (4 decimals, as
``record`` writes it) and its group: an event's reports are in its earliest report's group
when their cosine with it reaches the threshold (``record`` joins the best earlier match,
which is in that group as well), else in one of their own. Two simplifications: every
vector and key is made with the final frequencies (``record`` uses those of the moment),
and no entry is a copy. Then 300 new entries are recorded, one a save and ten a save (a
fetch that brought that many), each save in its own transaction, half of them reports of
stored events, and the CPU time of ``record`` is measured (per entry: a save's, divided).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import EventTexts

from newsriver.store.related import DOCUMENTS, MAX_DF_SHARE, MIN_MAX_DF, record
from newsriver.store.store import Store
from newsriver.stories.related import (
    Idf,
    Lead,
    RelatedPolicy,
    cosine,
    first_keys,
    key_words,
    lead_of,
    term_key,
    usable_words,
    weighted,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
POLICY = RelatedPolicy(0.22, 0.50, timedelta(days=7))
CHUNK = 20_000  # entries inserted at a time while filling


def entry_id(rng: random.Random) -> str:
    hex_ = f"{rng.getrandbits(128):032x}"
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


_ENTRY = (
    "INSERT INTO entries (id, source, entry_key, story, url, canonical_url, url_hash, title, summary, content, text,"
    " authors, published, updated, first_seen, categories, enclosures, language, image, comments, content_hash,"
    " similarity, podcast) VALUES (?, ?, ?, ?, ?, '', ?, ?, '', '', ?, '[]', ?, ?, ?, '[]', '[]', '', '', '', '',"
    " NULL, NULL)"
)


def fill(path: Path, texts: EventTexts, stored: int, rng: random.Random) -> list[str]:
    """Fill the store at ``path`` with ``stored`` entries' rows; returns the events' words
    (each event's, space-separated)."""
    Store(f"sqlite:///{path}").close()  # the tables
    raw: Any = __import__("sqlite3").connect(path)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000"):
        raw.execute(f"PRAGMA {pragma}")
    # First pass: the entries' rows, and each one's lead as (word, count) text, so that a
    # million leads need not be held as dictionaries until the frequencies are known.
    events: list[str] = []
    kept: list[tuple[str, int, str, bool]] = []  # (id, published, lead's terms, headline only), by event
    event_of: list[int] = []
    df: Counter[str] = Counter()
    rows: list[tuple[Any, ...]] = []
    while len(kept) < stored:
        event = texts.event_words()
        start = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        for _ in range(min(rng.randint(1, 6), stored - len(kept))):
            when = start + timedelta(seconds=rng.randrange(86400))
            title, text = texts.entry(event)
            lead = lead_of(title, text)
            df.update(lead.terms.keys())
            i = entry_id(rng)
            stamp = when.replace(tzinfo=None).isoformat(sep=" ")
            source = f"s{rng.randrange(200)}"
            rows.append((i, source, i, i, f"https://example.org/{i}", i[:16], title, text, stamp, stamp, stamp))
            terms = " ".join(f"{w}:{n}" for w, n in lead.terms.items())
            kept.append((i, int(when.timestamp()), terms, lead.headline_only))
            event_of.append(len(events))
            if len(rows) >= CHUNK:
                raw.executemany(_ENTRY, rows)
                rows.clear()
        events.append(" ".join(event))
    raw.executemany(_ENTRY, rows)
    raw.executemany(
        "INSERT INTO related_terms (term, df) VALUES (?, ?)",
        [(term_key(w), n) for w, n in df.items()] + [(DOCUMENTS, stored)],
    )
    # Second pass: vectors, keys and groups, with the frequencies of all the entries.
    idfs = Idf(df, stored)
    usable = usable_words(df, df, max(MIN_MAX_DF, int(stored * MAX_DF_SHARE)))
    key_rows: list[tuple[int, int, str]] = []
    related_rows: list[tuple[Any, ...]] = []
    for members in _events(kept, event_of):
        reports = []
        for i, seconds, terms, alone in members:
            counts = {w: int(n) for w, _, n in (t.rpartition(":") for t in terms.split(" ") if t)}
            # No headline: ``weighted`` reads the terms alone (a headline's words weigh more
            # only as a new entry's lookup keys, which these stored rows are not).
            weights = weighted(Lead(counts, alone, headline=frozenset()), idfs)
            key_rows += [(k, seconds, i) for k in first_keys(key_words(weights, usable), df, 0)]
            reports.append((seconds, i, weights, alone))
        reports.sort()
        first_seconds, first, first_weights, first_alone = reports[0]
        for seconds, i, weights, alone in reports:
            score = cosine(weights, first_weights) if i != first else 0.0
            needed = POLICY.headline_threshold if alone or first_alone else POLICY.threshold
            joined = i != first and score >= needed
            group, began = (first, first_seconds) if joined else (i, seconds)
            vector = "{" + ",".join([f'"{w}":{v:.4f}' for w, v in weights.items()]) + "}"
            related_rows.append((i, group, began, seconds, alone, vector, score if joined else None))
        if len(related_rows) >= CHUNK:
            _flush(raw, key_rows, related_rows)
    _flush(raw, key_rows, related_rows)
    raw.commit()
    raw.close()
    return events


def _events(kept: list[tuple[str, int, str, bool]], event_of: list[int]) -> Iterator[list[tuple[str, int, str, bool]]]:
    start = 0
    for end in range(1, len(kept) + 1):
        if end == len(kept) or event_of[end] != event_of[start]:
            yield kept[start:end]
            start = end


def _flush(raw: Any, key_rows: list[Any], related_rows: list[Any]) -> None:
    raw.executemany("INSERT OR IGNORE INTO related_keys (key, published, entry_id) VALUES (?, ?, ?)", key_rows)
    raw.executemany(
        "INSERT INTO related_entries (entry_id, grp, group_published, published, headline_only, vector, score)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        related_rows,
    )
    key_rows.clear()
    related_rows.clear()


def measure(
    store: Store,
    texts: EventTexts,
    events: list[str],
    rng: random.Random,
    count: int,
    prefix: str,
    batch: int,
    memory: Any,
) -> list[float]:
    """CPU µs of ``record`` per new entry, for ``count`` new entries saved ``batch`` at a
    time (a fetch that brought that many new entries), each batch in its transaction."""
    times = []
    extra = {"memory": memory} if memory is not None else {}
    for first in range(0, count, batch):
        rows = []
        for i in range(first, first + batch):
            event = rng.choice(events).split(" ") if i % 2 == 0 else texts.event_words()
            title, lead = texts.entry(event)
            when = START + timedelta(seconds=rng.randrange(DAYS * 86400))
            new_id = f"{prefix}{i}"
            rows.append({"id": new_id, "title": title, "text": lead, "published": when, "story": new_id})
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
            record(tx.sql, rows, POLICY, **extra)
            times.append((time.process_time() - started) * 1e6 / batch)
    return times


def measured(db: Path, events: list[str], seed: int, new: int, batches: list[int]) -> dict[int, list[float]]:
    """``measure`` on the store at ``db``: a warm-up, then ``new`` entries at each batch size."""
    rng = random.Random(seed)
    texts = EventTexts(rng)
    store = Store(f"sqlite:///{db}")
    memory = None
    if "memory" in inspect.signature(record).parameters:  # a checkout that keeps frequencies between saves
        from newsriver.store.related import Frequencies  # type: ignore[attr-defined,unused-ignore]

        memory = Frequencies()
    measure(store, texts, events, rng, 20, "warm", 1, memory)  # the page cache, and the frequencies met
    found = {batch: measure(store, texts, events, rng, new, f"new{batch}-", batch, memory) for batch in batches}
    store.close()
    return found


def built(stored: int, keep: Path | None, folder: Path) -> tuple[Path, list[str], float]:
    """The store of ``stored`` entries (kept in ``keep`` if given) and its events' words."""
    home = keep if keep is not None else folder
    db, sidecar = home / f"related-{stored}.db", home / f"related-{stored}.events.json"
    if db.exists() and sidecar.exists():
        return db, json.loads(sidecar.read_text()), 0.0
    home.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    rng = random.Random(stored)
    events = fill(db, EventTexts(rng), stored, rng)
    sidecar.write_text(json.dumps(events))
    return db, events, time.monotonic() - began


def line(stored: int, label: str, batch: int, times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95)]
    return (
        f"{stored:>9,} stored, {label:<8} {batch:>2} new entries a save: related coverage CPU per new entry"
        f" median {statistics.median(times):.0f} µs, p95 {p95:.0f} µs"
    )


def farm_record(feeds: int) -> float:
    """CPU µs per new entry of ``record`` (the storing thread's) in a cold poll of the
    ingest farm (``bench.build_farm``, nginx, ``dedupe_cost.py --farm``'s settings) with
    related coverage on."""
    import threading

    from bench import served_farm

    from newsriver.config.schema import Config, validated
    from newsriver.run.poll import poll_sources
    from newsriver.store import related

    spent = [0.0, 0]
    lock = threading.Lock()
    recorded = related.record

    def timed(db: Any, rows: Any, *args: Any, **kwargs: Any) -> None:
        started = time.thread_time()
        recorded(db, rows, *args, **kwargs)
        with lock:
            spent[0] += time.thread_time() - started
            spent[1] += len(rows)

    related.record = timed  # entries.save imports it at each call
    with served_farm(feeds, 50, "related-farm-") as (tmp, base):
        settings = {"database": f"sqlite:///{tmp}/farm.db", "output_dir": f"{tmp}/out"}
        settings |= {"concurrency": 16, "host_concurrency": 16, "dedupe": {"related": {"enabled": True}}}
        sources = [{"name": f"f{f}", "url": f"{base}f{f}.xml"} for f in range(feeds)]
        config = validated(Config, {"settings": settings, "sources": sources})
        store = Store(config.settings.database)
        store.sources.sync((s.name, s.url) for s in config.sources)
        poll_sources(config, store)
        store.close()
    return spent[0] * 1e6 / max(spent[1], 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--new", type=int, default=300)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 10], help="new entries a save")
    parser.add_argument("--keep", type=Path, help="keep the built stores here, and use those found here")
    parser.add_argument("--against", type=Path, help="another checkout's src folder, measured alternately")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: measurements of each")
    parser.add_argument("--farm", type=int, help="instead: record's CPU in a cold poll of this many farm feeds")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # measure the store there; print JSON
    parser.add_argument("--farm-child", action="store_true", help=argparse.SUPPRESS)  # the farm here; print it
    args = parser.parse_args()
    if args.farm_child:
        print(json.dumps(farm_record(args.farm)))
        return 0
    if args.farm is not None:
        return farm(args.farm, args.against, args.rounds)
    if args.child is not None:
        events = json.loads(args.child.with_suffix(".events.json").read_text())
        found = measured(args.child, events, int(args.child.stem.rsplit("-", 1)[-1]) + 1, args.new, args.batch)
        print(json.dumps(found))
        return 0
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for stored in args.stored:
        with tempfile.TemporaryDirectory() as folder:
            db, events, took = built(stored, args.keep, Path(folder))
            how = f"built in {took:.0f} s" if took else f"kept in {db}"
            print(f"{stored:>9,} stored ({how}, load {os.getloadavg()[0]:.1f})")
            if args.against is None:
                copy = Path(folder) / "measured.db"
                shutil.copyfile(db, copy)
                for batch, times in measured(copy, events, stored + 1, args.new, args.batch).items():
                    print(line(stored, "", batch, times))
                continue
            trees = {"this": Path(__file__).resolve().parents[1] / "src", "against": args.against.resolve()}
            results: dict[str, dict[int, list[float]]] = {label: {} for label in trees}
            for round_ in range(args.rounds):
                for label, src in trees.items():
                    # A name of its own: a copy must never meet a WAL file left by the one before.
                    copy = Path(folder) / label / str(round_) / f"measured-{stored}.db"
                    copy.parent.mkdir(parents=True)
                    shutil.copyfile(db, copy)
                    shutil.copyfile(db.with_suffix(".events.json"), copy.with_suffix(".events.json"))
                    env = {**os.environ, "PYTHONPATH": str(src)}
                    command = [sys.executable, __file__, "--child", str(copy), "--new", str(args.new), "--batch"]
                    out = subprocess.run([*command, *map(str, args.batch)], env=env, check=True, capture_output=True)
                    for batch, times in json.loads(out.stdout).items():
                        results[label].setdefault(int(batch), []).extend(times)
                    shutil.rmtree(copy.parent)
            for batch in args.batch:
                for label in trees:
                    print(line(stored, label, batch, results[label][batch]))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def farm(feeds: int, against: Path | None, rounds: int) -> int:
    """``farm_record`` in a process of its own for this checkout (and ``against``), in turns."""
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    trees = {"this": Path(__file__).resolve().parents[1] / "src"}
    if against is not None:
        trees["against"] = against.resolve()
    found: dict[str, list[float]] = {label: [] for label in trees}
    for _ in range(rounds):
        for label, src in trees.items():
            env = {**os.environ, "PYTHONPATH": str(src)}
            command = [sys.executable, __file__, "--farm", str(feeds), "--farm-child"]
            out = subprocess.run(command, env=env, check=True, capture_output=True)
            found[label].append(json.loads(out.stdout.splitlines()[-1]))
    for label, values in found.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{feeds} farm feeds x 50, cold, {label:<8} related coverage's record: {shown} µs CPU per new entry")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
