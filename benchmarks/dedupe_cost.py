"""What near-duplicate detection costs.

Run from the repository root: ``.venv/bin/python benchmarks/dedupe_cost.py``.

1. Ingest: the same sources (real corpus sentences, a quarter of the entries other
   outlets' copies) are polled from a local HTTP server into a fresh SQLite database with
   ``settings.dedupe.enabled`` off and on, alternately, several times; the median poll
   times and the difference are printed. Target: dedupe adds at most 20 %. With ``--farm N``
   the sources are instead the ingest farm of N feeds (``bench.build_farm``: nginx, 10 % of
   stories syndicated, ingest_bench.py's concurrency settings): issue 9's cold ingest. Beside the wall time, the
   CPU every process of the pass used (this one and its parse workers) is printed, and
   the CPU of fingerprinting the stored entries alone: on a machine whose cores the pass
   keeps busy, that is the least dedupe can add.
2. Lookup: the candidate index is filled with the keys of ``--entries`` stored entries
   (default 1,000,000; random keys, publication dates spread over a year), then the
   candidate lookup (``near_index.offered``) is timed for new entries with no copy stored and
   with one, and a whole ``store.entries.save`` of one new entry. Target: under 2 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench import Doc, copies, originals, served_farm, spread, static_server
from sqlalchemy import distinct, func, select

from newsriver.config.schema import Config, validated
from newsriver.ingest.normalize import newsriver_id
from newsriver.ingest.sanitize import to_text
from newsriver.models import Article
from newsriver.run.poll import poll_sources
from newsriver.store.near_index import offered
from newsriver.store.schema import dedupe_keys_table, entries_table
from newsriver.store.store import Store
from newsriver.stories.fingerprint import fingerprint_path, of_entry
from newsriver.stories.match import NearPolicy

NOW = datetime(2026, 3, 1, tzinfo=UTC)


# --- ingest ------------------------------------------------------------------------------


def sentence_pool() -> list[str]:
    sentences = []
    for doc in originals():
        text = " ".join(doc.body.replace("<", " <").split())
        for sentence in text.split(". "):
            plain = "".join(part.split(">", 1)[-1] for part in sentence.split("<"))
            if 6 <= len(plain.split()) <= 40:
                sentences.append(plain.strip() + ".")
    return sentences


def make_sources(count: int, entries: int, rng: random.Random) -> dict[str, list[Doc]]:
    """Sources of distinct articles made of real sentences (their words shuffled, so no
    two articles share a phrase by accident); a quarter are copies of another source's
    articles, edited as syndication edits them."""
    pool = sentence_pool()

    def sentence() -> str:
        words = rng.choice(pool).rstrip(".").split()
        rng.shuffle(words)
        return " ".join(words) + "."

    feeds: dict[str, list[Doc]] = {}
    for s in range(count):
        docs = []
        for _ in range(entries):
            paragraphs = [
                "<p>" + " ".join(sentence() for _ in range(rng.randint(2, 4))) + "</p>"
                for _ in range(rng.randint(3, 8))
            ]
            docs.append(Doc(sentence().rstrip(".")[:90], "".join(paragraphs)))
        feeds[f"source-{s:02d}"] = docs
    names = list(feeds)
    for name in names[1:]:
        for i in range(entries // 4):
            original = rng.choice(feeds[rng.choice([n for n in names if n != name])])
            edited = rng.choice(list(copies(original, original, rng)))
            feeds[name][i] = edited.b
    return feeds


def rss(name: str, docs: list[Doc], full_text: bool) -> bytes:
    """A feed as a CMS writes it: a teaser in <description>, the article in content:encoded
    when the outlet publishes full text, an author and categories."""
    items = []
    for i, doc in enumerate(docs):
        teaser = " ".join(doc.body.split()[:45]) + "…"
        content = f"<content:encoded>{escape(doc.body)}</content:encoded>" if full_text else ""
        when = format_datetime(NOW - timedelta(minutes=7 * i + len(name)))
        items.append(
            f"<item><title>{escape(doc.title)}</title><link>https://{name}.example/{i}</link>"
            f"<guid>{name}-{i}</guid><pubDate>{when}</pubDate><dc:creator>Staff</dc:creator>"
            f"<category>News</category><description>{escape(teaser)}</description>{content}</item>"
        )
    channel = f"<title>{name}</title><link>https://{name}.example/</link>{''.join(items)}"
    namespaces = 'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    document = f'<rss version="2.0" {namespaces}><channel>{channel}</channel></rss>'
    return f'<?xml version="1.0" encoding="utf-8"?>{document}'.encode()


@dataclass(frozen=True)
class Pass:
    seconds: float
    cpu: float  # CPU seconds of this process and its children but nginx, the parse workers included
    stored: int
    stories: int


def tree_cpu() -> float:
    """CPU seconds used so far by this process and its child processes but nginx, with
    what they have collected from theirs: the forkserver collects its parse workers'."""
    times = os.times()
    total = times.user + times.system
    tick = os.sysconf("SC_CLK_TCK")
    for task in os.listdir("/proc/self/task"):
        try:
            children = Path(f"/proc/self/task/{task}/children").read_text().split()
        except OSError:  # the thread ended since the listing
            continue
        for pid in children:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            if name != "nginx":
                # utime, stime, cutime, cstime: fields 14–17 of proc(5), 12–15 after the name
                total += sum(int(f) for f in fields[11:15]) / tick
    return total


# --related: the dedupe-on passes group related coverage too (settings.dedupe.related, set here either way).
RELATED = {"enabled": False}


def ingest(folder: Path, sources: dict[str, str], dedupe: bool, settings: dict[str, Any]) -> Pass:
    """Polls every source (name → URL) into a fresh database."""
    config = validated(
        Config,
        {
            "settings": {
                "database": f"sqlite:///{folder / 'ingest.db'}",
                "output_dir": str(folder / "out"),
                "dedupe": {"enabled": dedupe, "related": {"enabled": dedupe and RELATED["enabled"]}},
                **settings,
            },
            "sources": [{"name": name, "url": url} for name, url in sources.items()],
        },
    )
    store = Store(config.settings.database)
    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        cpu, started = tree_cpu(), time.perf_counter()
        poll_sources(config, store)  # returns once the parse workers have exited and been collected
        seconds, cpu = time.perf_counter() - started, tree_cpu() - cpu
        with store.engine.connect() as conn:
            e = entries_table.c
            stored = conn.execute(select(func.count()).select_from(entries_table)).scalar_one()
            stories = conn.execute(select(func.count(distinct(e.story)))).scalar_one()
    finally:
        store.close()
    return Pass(seconds, cpu, stored, stories)


def fingerprint_cpu(database: Path, rounds: int) -> float:
    """CPU seconds to fingerprint every entry stored in ``database``, here: the median of
    ``rounds`` runs over the texts, read once."""
    store = Store(f"sqlite:///{database}")
    try:
        with store.engine.connect() as conn:
            e = entries_table.c
            texts = conn.execute(select(e.title, e.summary, e.content)).all()
    finally:
        store.close()
    times = []
    for _ in range(rounds):
        started = time.process_time()
        for title, summary, content in texts:
            of_entry(title, summary, content)
        times.append(time.process_time() - started)
    return statistics.median(times)


def measure_ingest(sources: int, entries: int, rounds: int) -> None:
    rng = random.Random(4)
    feeds = make_sources(sources, entries, rng)
    bodies = {name: rss(name, docs, full_text=i % 2 == 0) for i, (name, docs) in enumerate(feeds.items())}
    routes = {
        f"/{name}": (body, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))})
        for name, body in bodies.items()
    }
    with static_server(routes) as base:
        urls = {name: f"{base}/{name}" for name in bodies}
        compare(f"{sources} sources x {entries} entries (half full text, half summaries)", rounds, urls, {})


def measure_farm(feeds: int, rounds: int) -> None:
    """The same comparison on the ingest farm (``bench.build_farm``: nginx, 10 % of stories
    syndicated), with ingest_bench.py's settings: the cold ingest that issue 9 measures."""
    with served_farm(feeds, 50, "dedupe-farm-") as (_, base):
        sources = {f"f{f}": f"{base}f{f}.xml" for f in range(feeds)}
        settings = {"concurrency": 16, "host_concurrency": 16}
        compare(f"{feeds} farm feeds x 50 entries (nginx, 10 % syndicated)", rounds, sources, settings)


def compare(what: str, rounds: int, sources: dict[str, str], settings: dict[str, Any]) -> None:
    """Polls ``sources`` into fresh databases with dedupe off and on, in turns; prints medians."""
    passes: dict[bool, list[Pass]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for dedupe in (False, True):
                folder = Path(tmp) / f"{round_}-{dedupe}"
                folder.mkdir()
                done = ingest(folder, sources, dedupe, settings)
                passes[dedupe].append(done)
                print(
                    f"  round {round_ + 1} dedupe {'on ' if dedupe else 'off'}: {done.seconds:6.3f} s, "
                    f"CPU {done.cpu:6.2f} s, {done.stored} entries, {done.stories} stories"
                )
        floor = fingerprint_cpu(Path(tmp) / f"{rounds - 1}-True" / "ingest.db", rounds=3)
    stored = passes[True][-1].stored
    off, on = (statistics.median(p.seconds for p in passes[d]) for d in (False, True))
    cpu_off, cpu_on = (statistics.median(p.cpu for p in passes[d]) for d in (False, True))
    per_entry = 1e6 / stored
    print(f"ingest of {what}:")
    print(f"  dedupe off: median {off:.3f} s ({off / stored * 1e3:.2f} ms per entry)")
    print(f"  dedupe on:  median {on:.3f} s ({on / stored * 1e3:.2f} ms per entry)")
    print(f"  dedupe adds {(on - off) / off * 100:+.1f} % to ingest time (target: at most +20 %)")
    print(f"CPU of the pass's processes (this one and its parse workers), median, on {os.cpu_count()} cores:")
    for name, cpu, seconds in (("off:", cpu_off, off), ("on: ", cpu_on, on)):
        print(f"  dedupe {name} {cpu:.2f} s ({cpu * per_entry:.0f} µs per entry), {cpu / seconds:.2f} cores busy")
    added = cpu_on - cpu_off
    print(f"  dedupe adds {added * per_entry:.0f} µs per entry, {added / cpu_off * 100:+.1f} %")
    print(
        f"  fingerprinting the entries alone: {floor:.2f} s ({floor * per_entry:.0f} µs per entry), "
        f"{floor / cpu_off * 100:+.1f} % of the dedupe-off pass's CPU"
    )


# --- lookup at scale -----------------------------------------------------------------


def populate(store: Store, entries: int, rng: random.Random) -> None:
    """``entries`` stored entries with 12 index keys each, fast: executemany in big batches."""
    keys_per_entry = 12
    year = 365 * 86400
    start = int((NOW - timedelta(days=365)).timestamp())
    batch = 50_000
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        e_cols = [c.name for c in entries_table.columns]
        e_sql = f"INSERT INTO entries ({', '.join(e_cols)}) VALUES ({', '.join('?' * len(e_cols))})"
        k_sql = "INSERT INTO dedupe_keys (key, published, entry_id, source) VALUES (?, ?, ?, ?)"
        for first in range(0, entries, batch):
            e_rows, k_rows = [], []
            for n in range(first, min(entries, first + batch)):
                entry_id = str(uuid.UUID(int=n))  # in order: the index fills from one end, as time does
                published = start + rng.randrange(year)
                when = datetime.fromtimestamp(published, UTC).replace(tzinfo=None).isoformat(" ")
                source = f"source-{n % 50:02d}"
                e_rows.append(
                    (entry_id, source, str(n), entry_id, f"https://x.example/{n}", f"https://x.example/{n}",
                     f"{n:016x}", f"Synthetic entry {n}", "", "", "", "[]", when, when, when, "[]", "[]",
                     "", "", "", "", None, None)
                )  # fmt: skip
                k_rows += [
                    (rng.getrandbits(64) - (1 << 63), published, entry_id, source) for _ in range(keys_per_entry)
                ]
            cursor.executemany(e_sql, e_rows)
            cursor.executemany(k_sql, k_rows)
            raw.commit()
            print(f"\r  populated {min(entries, first + batch):,} entries", end="", flush=True)
        print()
    finally:
        raw.close()


def measure_lookup(entries: int) -> None:
    rng = random.Random(5)
    docs = originals()
    near = NearPolicy(threshold=0.6, window=timedelta(days=7))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'lookup.db'}")
        try:
            started = time.perf_counter()
            populate(store, entries, rng)
            print(f"  populating took {time.perf_counter() - started:.0f} s")
            with store.engine.connect() as conn:
                keys = conn.execute(select(func.count()).select_from(dedupe_keys_table)).scalar_one()
            print(f"  {entries:,} entries stored, {keys:,} index keys")
            now = int(NOW.timestamp())
            prints = [of_entry(d.title, "", d.body) for d in docs]
            misses, hits = [], []
            with store.engine.connect() as conn:
                for fp in prints * 3:
                    when = now - rng.randrange(300 * 86400)
                    t = time.perf_counter()
                    offered(conn, "new-source", [(fp.keys, when)], near)
                    misses.append(time.perf_counter() - t)
            # Store the corpus articles as one source's entries, then look up other outlets' copies.
            articles = []
            for i, doc in enumerate(docs):
                articles.append(_article("wire", f"w{i}", doc, NOW - timedelta(hours=i)))
            store.entries.save("wire", articles, {"status": "ok"}, near=near)
            copies_found = 0
            with store.engine.connect() as conn:
                for i, doc in enumerate(docs):
                    copy = next(iter(copies(doc, doc, rng))).b
                    fp = of_entry(copy.title, "", copy.body)
                    t = time.perf_counter()
                    found = offered(conn, "daily", [(fp.keys, int((NOW - timedelta(hours=i)).timestamp()))], near)
                    hits.append(time.perf_counter() - t)
                    copies_found += newsriver_id("wire", f"w{i}") in found[0]
            saves = []
            for i, doc in enumerate(docs[:40]):
                copy = list(copies(doc, doc, rng))[i % 5].b
                article = _article("metro", f"m{i}", copy, NOW - timedelta(hours=i, minutes=5))
                t = time.perf_counter()
                store.entries.save("metro", [article], {"status": "ok"}, near=near)
                saves.append(time.perf_counter() - t)
            with store.engine.connect() as conn:
                joined = conn.execute(
                    entries_table.select()
                    .with_only_columns(entries_table.c.id)
                    .where(entries_table.c.source == "metro", entries_table.c.story != entries_table.c.id)
                ).all()
        finally:
            store.close()
    print(f"candidate lookup with {entries:,} entries stored (SQLite):")
    print(f"  no copy stored: {spread(misses)}")
    print(f"  a copy stored ({copies_found}/{len(docs)} found): {spread(hits)}")
    print(f"  whole store.entries.save of one copy ({len(joined)}/{len(saves)} joined its story): {spread(saves)}")


def _article(source: str, key: str, doc: Doc, when: datetime) -> Article:
    return Article(
        id=newsriver_id(source, key),
        source=source,
        entry_key=key,
        url=f"https://{source}.example/{key}",
        canonical_url=f"https://{source}.example/{key}",
        title=doc.title,
        summary="",
        content=doc.body,
        text=to_text(doc.body),
        authors=(),
        published=when,
        updated=when,
        first_seen=NOW,
        categories=(),
        enclosures=(),
        language="",
        image="",
        comments="",
        content_hash=key,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=12)
    parser.add_argument("--per-source", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--entries", type=int, default=1_000_000, help="stored entries for the lookup test")
    parser.add_argument("--skip-lookup", action="store_true")
    parser.add_argument(
        "--farm", type=int, default=0, help="measure on the ingest farm of this many feeds instead (needs nginx)"
    )
    parser.add_argument("--related", action="store_true", help="dedupe on includes related coverage")
    args = parser.parse_args()
    RELATED["enabled"] = args.related
    print(f"fingerprints by the {fingerprint_path()}")  # the parse workers' too: same code, same environment
    if args.farm:
        measure_farm(args.farm, args.rounds)
    else:
        measure_ingest(args.sources, args.per_source, args.rounds)
    if not args.skip_lookup:
        measure_lookup(args.entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
