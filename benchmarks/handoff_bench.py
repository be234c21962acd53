"""What handing a chunk of articles and their fingerprints from a parse worker to the store
costs: encoding in the worker plus decoding in the storing process, CPU per entry.

    .venv/bin/python benchmarks/handoff_bench.py [--feeds 20] [--rounds 15]

The farm's feeds (``bench.build_farm``, 50 entries each) are digested with fingerprints,
then their articles go through both encodings in alternate rounds in this process (process
time, the best of ``--rounds`` each): pickle, as the hand-off was, and the MessagePack of
``run.outcome`` (msgspec), as it is. Prints CPU and bytes per entry of each, with the load
average, after checking that both give back what went in.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bench import build_farm, print_table

from newsriver.config.schema import SourceConfig
from newsriver.ingest.digest import digest
from newsriver.models import Article
from newsriver.run.outcome import Articles, Chunks, encoded
from newsriver.stories.fingerprint import Fingerprint

NOW = datetime(2026, 12, 1, tzinfo=UTC)
Chunk = tuple[Sequence[Article], Sequence[Fingerprint]]


def farm_articles(feeds: int) -> tuple[list[Article], list[Fingerprint]]:
    with tempfile.TemporaryDirectory() as folder:
        build_farm(Path(folder), feeds, 50)
        articles: list[Article] = []
        prints: list[Fingerprint] = []
        for path in sorted(Path(folder).iterdir()):
            url = f"http://127.0.0.1/{path.name}"
            done = digest(path.read_bytes(), url, "application/xml", SourceConfig(name=path.stem, url=url), NOW, True)
            articles += done.articles
            prints += done.prints
    return articles, prints


def by_pickle(articles: list[Article], prints: list[Fingerprint]) -> tuple[Chunk, int]:
    data = pickle.dumps((articles, prints), protocol=pickle.HIGHEST_PROTOCOL)
    decoded: Chunk = pickle.loads(data)
    return decoded, len(data)


def by_msgspec(articles: list[Article], prints: list[Fingerprint]) -> tuple[Chunk, int]:
    data = encoded(articles, prints)
    chunks = Chunks()
    chunks.add(data)
    return next(iter(Articles(chunks))), len(data)


def same(chunk: Chunk, articles: list[Article], prints: list[Fingerprint]) -> bool:
    def alike(a: object, b: object) -> bool:
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return a.dtype == b.dtype and np.array_equal(a, b)
        return a == b

    fields = Fingerprint.__dataclass_fields__
    return list(chunk[0]) == articles and all(
        alike(getattr(a, f), getattr(b, f)) for a, b in zip(chunk[1], prints, strict=True) for f in fields
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20, help="farm feeds of 50 entries, one chunk")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    articles, prints = farm_articles(args.feeds)
    ways: dict[str, Callable[[list[Article], list[Fingerprint]], tuple[Chunk, int]]] = {
        "pickle (before)": by_pickle,
        "msgspec MessagePack (now)": by_msgspec,
    }
    best = dict.fromkeys(ways, float("inf"))
    size = dict.fromkeys(ways, 0)
    for name, way in ways.items():
        if not same(way(articles, prints)[0], articles, prints):
            raise SystemExit(f"{name}: what came back differs from what went in")
    for _ in range(args.rounds):
        for name, way in ways.items():
            started = time.process_time()
            _chunk, size[name] = way(articles, prints)
            best[name] = min(best[name], time.process_time() - started)
    entries = len(articles)
    rows = [[name, f"{best[name] / entries * 1e6:.1f} µs", f"{size[name] / entries:,.0f} B"] for name in ways]
    print(f"{entries} entries with fingerprints, one chunk; load average {os.getloadavg()[0]:.2f}")
    print_table(["hand-off", "CPU an entry (encode + decode)", "bytes an entry"], rows)


if __name__ == "__main__":
    main()
