"""The floor under issue 9's targets: what each required stage of a cold ingest costs on its
own, and what the fixed dependencies cost in memory before newsriver does anything.

    .venv/bin/python benchmarks/cost_floor.py --reader-rate 1522 --reader-rss 46

1. CPU per entry of each stage, on the ingest farm's feeds (``bench.build_farm``:
   same sizes, 10 % syndicated), each stage timed alone in this process (process time,
   the best of ``--rounds``): parse, normalize (sanitizing and canonical URLs included),
   fingerprint; ``store.entries.save`` with dedupe off and on (fingerprints handed in, as the parse
   workers hand them over); and a bare ``sqlite3`` replay of the rows a save writes, in the
   same transactions, without any lookup: the floor under any store in Python.
2. The ingest rate those costs allow on this machine's cores at best (parsing, normalizing
   and fingerprinting spread over every core, storing on one, no other overhead), against
   5 × reader's rate (``--reader-rate``, from ingest_bench.py's paired run).
3. Memory: the peak resident size of a process that only imports the fixed dependencies
   the polling process needs, against reader's whole peak (``--reader-rss``, from the
   same run).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import build_farm, least_cpu

from newsriver.config.schema import Config, SourceConfig
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
from newsriver.models import Article
from newsriver.run.poll import SQLITE_BATCH_FETCHES
from newsriver.store.store import Store
from newsriver.stories.filters import stored
from newsriver.stories.fingerprint import of_entry
from newsriver.stories.match import NearPolicy

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = SQLITE_BATCH_FETCHES  # documents a transaction, as a poll into SQLite commits them
IMPORTS = {
    # requests is a fixed choice, but fetch uses its HTTP layer, urllib3, directly.
    "SQLAlchemy, pydantic, PyYAML and urllib3": "import sqlalchemy, pydantic, yaml, urllib3",
    "the same and numpy (fingerprints)": "import sqlalchemy, pydantic, yaml, urllib3, numpy",
    # Parsing, sanitizing and rendering, which a cold pass also runs: all fixed choices.
    "those four, feedparser, nh3 and feedgen": (
        "import sqlalchemy, pydantic, yaml, urllib3, feedparser, nh3, feedgen.feed"
    ),
    # What a poll where every feed answers 304 imports (tests/test_startup.py), and of it
    # the config's models (dataclasses: pydantic is imported only to validate a config).
    "newsriver's polling modules": (
        "import newsriver.cli, newsriver.run.poll, newsriver.store.store, newsriver.config.load,"
        " newsriver.publish.stamp"
    ),
    "of them the config models": "import newsriver.config.schema",
}


def stages(folder: Path, feeds: int, rounds: int) -> tuple[int, dict[str, float]]:
    """Entries, and the CPU seconds per entry of each stage."""
    farm = folder / "farm"
    farm.mkdir()
    build_farm(farm, feeds, 50)
    documents = [(p.stem, f"http://127.0.0.1/{p.name}", p.read_bytes()) for p in sorted(farm.iterdir())]
    sources = {name: SourceConfig(name=name, url=url) for name, url, _ in documents}
    parsed = [parse(body, url) for _, url, body in documents]
    articles: list[tuple[str, list[Article]]] = [
        (name, [a for a in normalize_feed(p, name, url, NOW) if stored(sources[name], a)])
        for (name, url, _), p in zip(documents, parsed, strict=True)
    ]
    entries = sum(len(a) for _, a in articles)
    prints = [[of_entry(a.title, a.summary, a.content) for a in found] for _, found in articles]
    cost = {
        "parse": least_cpu(lambda: [parse(body, url) for _, url, body in documents], rounds),
        "normalize": least_cpu(
            lambda: [normalize_feed(p, n, u, NOW) for (n, u, _), p in zip(documents, parsed, strict=True)], rounds
        ),
        "fingerprint": least_cpu(
            lambda: [of_entry(a.title, a.summary, a.content) for _, found in articles for a in found], rounds
        ),
    }
    near = Config().settings.dedupe.near
    databases = itertools.count()

    def save(policy: NearPolicy | None, path: Path | None = None) -> None:
        store = Store(f"sqlite:///{path or folder / f'save-{next(databases)}.db'}")
        store.sources.sync((name, url) for name, url, _ in documents)
        pairs = list(zip(articles, prints, strict=True))
        for first in range(0, len(pairs), BATCH):
            with store.batch():
                for (name, found), made in pairs[first : first + BATCH]:
                    store.entries.save(name, found, {"status": "ok"}, near=policy, prints=made if policy else ())
        store.close()

    cost["store, dedupe off"] = least_cpu(lambda: save(None), rounds)
    cost["store, dedupe on"] = least_cpu(lambda: save(near), rounds)
    save(near, folder / "saved.db")
    cost["store floor: bare sqlite3 replay"] = replay(folder / "saved.db", folder, rounds)
    return entries, {stage: seconds / entries for stage, seconds in cost.items()}


def replay(saved: Path, folder: Path, rounds: int) -> float:
    """Writes the saved database's entry and index rows again with bare sqlite3, a feed's
    rows an executemany each and BATCH feeds a transaction, as a save does; in seconds."""
    with sqlite3.connect(saved) as db:
        schema = [sql for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")]
        entries = db.execute("SELECT * FROM entries ORDER BY source, rowid").fetchall()
        keys = db.execute("SELECT * FROM dedupe_keys").fetchall()
    columns = len(entries[0])
    by_entry: dict[str, list[tuple[Any, ...]]] = {}
    for key in keys:
        by_entry.setdefault(key[2], []).append(key)
    feeds: dict[str, list[tuple[Any, ...]]] = {}
    for row in entries:
        feeds.setdefault(row[1], []).append(row)
    batches = list(feeds.values())
    runs = iter(range(rounds))

    def write() -> None:
        db = sqlite3.connect(folder / f"replay-{next(runs)}.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for sql in schema:
            db.execute(sql)
        for first in range(0, len(batches), BATCH):
            db.execute("BEGIN")
            for rows in batches[first : first + BATCH]:
                db.executemany(f"INSERT INTO entries VALUES ({', '.join('?' * columns)})", rows)
                db.executemany(
                    "INSERT INTO dedupe_keys VALUES (?, ?, ?, ?)", [k for row in rows for k in by_entry.get(row[0], ())]
                )
            db.execute("COMMIT")
        db.close()

    return least_cpu(write, rounds)


def imported_rss(statement: str) -> float:
    """MB resident in a fresh interpreter after ``statement`` (VmHWM: its peak)."""
    probe = f"{statement}\nprint(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    found = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return int(found.stdout) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=40, help="farm feeds of 50 entries")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reader-rate", type=float, default=1522.0, help="reader's cold entries/s (ingest_bench)")
    parser.add_argument("--reader-rss", type=float, default=46.0, help="reader's peak RSS in MB at 1,000 feeds")
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="cost-floor-") as tmp:
        entries, per_entry = stages(Path(tmp), args.feeds, args.rounds)
    print(f"CPU per entry, {entries:,} entries of the ingest farm, each stage alone (best of {args.rounds}):")
    for stage, seconds in per_entry.items():
        print(f"  {stage:34} {seconds * 1e6:7.1f} µs")
    spread = per_entry["parse"] + per_entry["normalize"] + per_entry["fingerprint"]
    target = 5 * args.reader_rate
    print(f"\nbest possible cold ingest on {cores} cores (parse, normalize, fingerprint on every core; store on one):")
    for label, store in (
        ("with newsriver's store (dedupe on)", per_entry["store, dedupe on"]),
        ("with the bare sqlite3 floor", per_entry["store floor: bare sqlite3 replay"]),
        ("with no store at all", 0.0),
    ):
        rate = min(cores / (spread + store), 1 / store if store else float("inf"))
        print(f"  {label:34} {rate:7,.0f} entries/s = {rate / args.reader_rate:.2f} × reader's {args.reader_rate:,.0f}")
    print(f"  issue 9's target: 5 × reader     {target:7,.0f} entries/s")

    print(f"\npeak RSS of a process that only imports (reader's whole peak at 1,000 feeds: {args.reader_rss:.0f} MB):")
    for label, statement in IMPORTS.items():
        print(f"  {label:40} {imported_rss(statement):5.1f} MB")


if __name__ == "__main__":
    main()
