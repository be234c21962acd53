"""Whether a change to related coverage's store writes the same rows: a fixed workload
through ``store.related.record``, then a hash of every row of its tables.

Run from the repository root:
``.venv/bin/python benchmarks/related_identity.py --against ../main/src`` (add
``--url postgresql+psycopg://postgres@127.0.0.1:5432/`` for PostgreSQL: a database of its
own is made for each run, and dropped).

The workload: ``--entries`` entries (default 4,000) of synthetic events (``bench.EventTexts``)
over 30 days, with real words' frequencies, boilerplate leads, headline-only entries (no
lead), and copies (an entry of a stored entry's story), saved 1 to 20 at a time in
publication order with jitter (so some arrive late), each save in a transaction of its
own; every 50th save is rolled back after ``record`` (a save that failed). Each checkout
runs it in a process of its own, with that checkout first on ``PYTHONPATH``, and prints
the hash of ``related_entries``, ``related_keys`` and ``related_terms`` (but for its
``MARK`` row, a token each save sets), each table's rows sorted, and how many groups hold
more than one story.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import EventTexts

from newsriver.store import related
from newsriver.store.store import Store
from newsriver.stories.related import RelatedPolicy

START = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RelatedPolicy(0.22, 0.50, timedelta(days=7))


class Failed(Exception):
    """A save made to fail after ``record``: its transaction is rolled back."""


def workload(store: Store, entries: int, seed: int) -> None:
    rng = random.Random(seed)
    texts = EventTexts(rng)
    memory = related.Frequencies() if "memory" in inspect.signature(related.record).parameters else None  # type: ignore[attr-defined,unused-ignore]
    extra = {"memory": memory} if memory is not None else {}
    planned: list[tuple[float, dict[str, Any]]] = []
    while len(planned) < entries:
        event = texts.event_words()
        start = rng.uniform(0, 30 * 86400)
        for n in range(rng.randint(1, 6)):
            title, text = texts.entry(event)
            if rng.random() < 0.1:
                text = ""  # a headline alone
            when = START + timedelta(seconds=start + rng.uniform(0, 2 * 86400))
            i = f"{len(planned):05d}-{rng.getrandbits(40):010x}"
            row = {"id": i, "title": title, "text": text, "published": when, "story": i}
            planned.append((start + n * 600 + rng.uniform(-3600, 3600), row))
    planned.sort(key=lambda p: p[0])
    rows = [row for _, row in planned]
    saved: list[dict[str, Any]] = []
    at, save = 0, 0
    while at < len(rows):
        batch = rows[at : at + rng.randint(1, 20)]
        at += len(batch)
        save += 1
        for row in batch:
            if saved and rng.random() < 0.08:  # a copy of a stored entry's story, its text cut
                original = rng.choice(saved)
                row["story"] = original["story"]
                row["text"] = " ".join(original["text"].split()[: rng.randint(20, 60)])
        try:
            with store.transaction() as tx:
                for row in batch:
                    stamp = row["published"].replace(tzinfo=None).isoformat(sep=" ")
                    tx.sql.run(
                        "INSERT INTO entries (id, source, entry_key, story, url, canonical_url, url_hash, title,"
                        " summary, content, text, authors, published, updated, first_seen, categories, enclosures,"
                        " language, image, comments, content_hash) VALUES (?, 's', ?, ?, '', '', '', ?, '', '', ?,"
                        " '[]', ?, ?, ?, '[]', '[]', '', '', '', '')",
                        (row["id"], row["id"], row["story"], row["title"], row["text"], stamp, stamp, stamp),
                    )
                related.record(tx.sql, batch, POLICY, **extra)
                if save % 50 == 0:
                    raise Failed
            saved += batch
        except Failed:
            pass


def digest(store: Store) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with store.reading() as sql:
        for table, where in (
            ("related_entries", ""),
            ("related_keys", ""),
            ("related_terms", " WHERE term <> -2"),
        ):
            rows = sorted(repr(tuple(row)) for row in sql.rows(f"SELECT * FROM {table}{where}"))
            found[table] = [len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]]
        groups = sql.rows(
            "SELECT count(*) FROM (SELECT r.grp FROM related_entries r JOIN entries e ON e.id = r.entry_id"
            " GROUP BY r.grp HAVING count(DISTINCT e.story) > 1) g"
        )
        found["groups of several stories"] = groups[0][0]
    return found


def run_one(url: str, entries: int, seed: int) -> dict[str, Any]:
    if url.startswith("postgresql"):
        import psycopg

        name = f"related_identity_related_{uuid.uuid4().hex[:8]}"
        admin = url.split("://", 1)[1].rstrip("/")
        with psycopg.connect(f"postgresql://{admin}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            store = Store(f"{url.rstrip('/')}/{name}")
            workload(store, entries, seed)
            found = digest(store)
            store.close()
            return found
        finally:
            with psycopg.connect(f"postgresql://{admin}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/identity.db")
        workload(store, entries, seed)
        found = digest(store)
        store.close()
        return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="sqlite", help="sqlite, or a PostgreSQL server's URL")
    parser.add_argument("--entries", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--against", type=Path, help="another checkout's src folder")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.url, args.entries, args.seed)))
        return 0
    trees = {"this": Path(__file__).resolve().parents[1] / "src"}
    if args.against is not None:
        trees["against"] = args.against.resolve()
    found = {}
    for label, src in trees.items():
        env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{Path(__file__).resolve().parent}"}
        command = [sys.executable, __file__, "--child", "--url", args.url, "--entries", str(args.entries)]
        out = subprocess.run([*command, "--seed", str(args.seed)], env=env, check=True, capture_output=True)
        found[label] = json.loads(out.stdout)
        print(f"{label:<8} {src}: {found[label]}")
    if len(found) > 1:
        print("identical" if found["this"] == found["against"] else "DIFFERENT")
    return 0 if len({json.dumps(f) for f in found.values()}) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
