"""Polling throughput with several workers on PostgreSQL vs one process on SQLite.

    .venv/bin/python benchmarks/workers_bench.py --feeds 10000 --entries 5

A farm of N small feeds on 127.0.0.1 (nginx). For each setup — SQLite with one process,
PostgreSQL with 1 worker, PostgreSQL with 2 workers — a fresh database, then:

- cold: time until every source has been polled once (every entry new);
- warm: every source made due again, time until all polled again (all answer 304).

Workers are real `newsriver run --role worker` processes sharing the database through
leases. The farm is one host, and ``host_concurrency`` (``--host-concurrency``, default 16)
counts every worker's fetches to it: at the default, two workers share 16 slots, as they
would on one real site. A worker claims up to 4 × ``concurrency`` sources at a time, so
``--concurrency 8 --host-concurrency 64`` leaves room for two workers' claims: the farm
then stands for sources spread over many hosts, where a second worker adds fetch slots.

Needs nginx and a PostgreSQL server (NEWSRIVER_BENCH_POSTGRES, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from farm import nginx
from ingest_bench import build_farm
from sqlalchemy import func, select, update

from newsriver.store.schema import entries_table, sources_table
from newsriver.store.store import Store

ADMIN = os.environ.get("NEWSRIVER_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def config_for(work: Path, database: str, urls: list[str], concurrency: int, host_concurrency: int) -> Path:
    sources = "".join(f"  - {{name: f{n}, url: '{url}'}}\n" for n, url in enumerate(urls))
    path = work / "newsriver.yaml"
    path.write_text(
        f"settings:\n  database: {database}\n  output_dir: {work / 'out'}\n  tick: 0.2\n"
        f"  concurrency: {concurrency}\n  host_concurrency: {host_concurrency}\n"
        "  default_interval: 24h\n  adaptive: false\n"
        f"sources:\n{sources}"
    )
    return path


def polled_since(store: Store, since: datetime) -> int:
    with store.engine.connect() as conn:
        query = select(func.count()).where(sources_table.c.last_fetch >= since)
        return int(conn.execute(query).scalar() or 0)


def run_until_all_polled(config: Path, store: Store, workers: int, total: int, since: datetime) -> float:
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "newsriver.cli", "--config", str(config), "run", "--role", "worker"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        while polled_since(store, since) < total:
            if any(p.poll() is not None for p in processes):
                raise SystemExit("a worker exited early")
            time.sleep(0.2)
        return time.monotonic() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)


def setup(
    name: str, database: str, workers: int, work: Path, urls: list[str], limits: tuple[int, int]
) -> tuple[str, float, float, int]:
    folder = work / name.replace(" ", "-")
    folder.mkdir()
    config = config_for(folder, database, urls, *limits)
    store = Store(database)
    store.sources.sync((f"f{n}", url) for n, url in enumerate(urls))
    try:
        cold = run_until_all_polled(config, store, workers, len(urls), datetime.now(UTC))
        with store.engine.begin() as conn:
            entries = int(conn.execute(select(func.count()).select_from(entries_table)).scalar() or 0)
            conn.execute(update(sources_table).values(next_poll=None))
        warm = run_until_all_polled(config, store, workers, len(urls), datetime.now(UTC))
    finally:
        store.close()
    return name, cold, warm, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16, help="settings.concurrency (see above)")
    parser.add_argument("--host-concurrency", type=int, default=16, help="settings.host_concurrency (see above)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="workers-bench-"))
    root = work / "farm"
    root.mkdir()
    build_farm(root, args.feeds, args.entries)
    print(
        f"farm: {args.feeds} feeds × {args.entries} entries on 127.0.0.1 (nginx); {os.cpu_count()} cores; "
        f"concurrency {args.concurrency}, host_concurrency {args.host_concurrency}"
    )
    admin = psycopg.connect(ADMIN.replace("+psycopg", ""), autocommit=True)
    databases = []
    results = []
    try:
        with nginx(root, work) as base:
            urls = [f"{base}f{n}.xml" for n in range(args.feeds)]
            sqlite = f"sqlite:///{work / 'bench.db'}"
            limits = (args.concurrency, args.host_concurrency)
            results.append(setup("sqlite, 1 process", sqlite, 1, work, urls, limits))
            for workers in (1, 2):
                name = f"newsriver_bench_{uuid.uuid4().hex[:8]}"
                admin.execute(f'CREATE DATABASE "{name}"')
                databases.append(name)
                url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
                results.append(
                    setup(
                        f"postgresql, {workers} worker{'s' if workers > 1 else ''}",
                        url,
                        workers,
                        work,
                        urls,
                        limits,
                    )
                )
    finally:
        for name in databases:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    print(f"\n{'setup':<24} {'cold s':>7} {'entries/s':>10} {'polls/s':>8} {'warm s':>7} {'polls/s':>8}")
    for name, cold, warm, entries in results:
        print(
            f"{name:<24} {cold:>7.1f} {entries / cold:>10,.0f} {args.feeds / cold:>8,.0f} "
            f"{warm:>7.1f} {args.feeds / warm:>8,.0f}"
        )


if __name__ == "__main__":
    main()
