"""kill -9 at random moments never costs an item, doubles one, or leaves a torn file."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
from sqlalchemy import create_engine, inspect, text

from .conftest import ConfigWriter, FixtureServer
from .processes import stop
from .test_service import free_port

SOURCES = 12
ENTRIES = 25
KILLS = 12


def make_feed(source: int) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = "".join(
        f"""<item><title>{escape(f"Story {n} of source {source}")}</title>
<link>https://s{source}.example.org/story/{n}</link><guid>s{source}-{n}</guid>
<pubDate>{(start + timedelta(minutes=17 * n + source)).strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate>
<description>{escape(f"<p>Story {n} from source {source}. " + "Filler. " * 40 + "</p>")}</description></item>"""
        for n in range(ENTRIES)
    )
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Source {source}</title>
<link>https://s{source}.example.org/</link><description>d</description>{items}</channel></rss>"""


def poll_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "newsriver.cli", "--config", str(config), "poll"]


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def assert_consistent(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            if not inspect(db).has_table("entries"):
                return  # killed before the schema was made: nothing to be inconsistent
            if engine.dialect.name == "sqlite":
                assert db.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            doubled = db.execute(text("SELECT count(*) - count(DISTINCT source || '|' || entry_key) FROM entries"))
            assert doubled.scalar() == 0
    finally:
        engine.dispose()


def test_killed_polls_converge_to_the_clean_output(
    feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path, database_url: str
) -> None:
    sources = []
    for n in range(SOURCES):
        feed_server.add(f"/s{n}.rss", make_feed(n))
        sources.append({"name": f"s{n}", "url": feed_server.url(f"/s{n}.rss")})

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    written = write_config(sources, database=f"sqlite:///{clean_dir / 'db.sqlite'}", output_dir=str(clean_dir / "out"))
    clean = clean_dir / "clean.yaml"
    clean.write_text(written.read_text())
    started = time.monotonic()
    result = subprocess.run(poll_command(clean), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    duration = time.monotonic() - started
    expected = outputs(clean_dir / "out")

    crashed = write_config(sources)
    rng = random.Random(20261128)
    kills = 0
    for _ in range(KILLS):
        process = subprocess.Popen(poll_command(crashed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Random points across a pass: start-up, fetching, storing, publishing. Later passes
        # are shorter (stored sources answer 304), so the window leans early.
        time.sleep(rng.uniform(0.05, 0.7 * duration))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        # After every crash: the database is consistent and every output file is whole.
        assert_consistent(database_url)
        out = tmp_path / "out"
        if out.exists():
            for name, data in outputs(out).items():
                if name.endswith((".atom", ".rss")):
                    assert not feedparser.parse(data).bozo, name
    assert kills >= KILLS // 4, f"only {kills} of {KILLS} polls were still running when killed"

    subprocess.run(poll_command(crashed), check=True, capture_output=True, timeout=120)
    final = outputs(tmp_path / "out")
    assert final.keys() == expected.keys()
    for name in expected:
        assert final[name] == expected[name].replace(str(clean_dir).encode(), str(tmp_path).encode()), name
    atom = feedparser.parse(final["all.atom"])
    ids = [e.id for e in atom.entries]
    assert len(ids) == len(set(ids)) == min(100, SOURCES * ENTRIES)


# --- a restart after kill -9 resumes at once ---------------------------------------------

RESTART_TICK = 3  # seconds; the lease below is 200 ticks


def leases_held(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            if not inspect(db).has_table("leases"):
                return 0
            return int(db.execute(text("SELECT count(*) FROM leases")).scalar() or 0)
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], bool], deadline: float, what: str) -> float:
    """Poll ``condition`` every 20 ms; when it first held (time.monotonic())."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"never happened within {deadline} s: {what}"
        time.sleep(0.02)
    return time.monotonic()


def test_a_restart_after_kill_9_resumes_within_a_tick(
    feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path, database_url: str
) -> None:
    # Every source on one host, which takes two fetches at once, and answers slowly: when
    # the service is killed its leases (two on PostgreSQL, where a claim stops at the host's
    # slots; its whole batch on SQLite, the only worker) hold sources. Until they were released
    # on start, they kept a restarted service from polling them until the lease expired.
    sources = [{"name": f"s{n}", "url": feed_server.add(f"/s{n}.rss", make_feed(n), delay=1.5)} for n in range(SOURCES)]
    settings = {"tick": f"{RESTART_TICK}s", "lease": "10m", "host_concurrency": 2, "default_interval": "1h"}
    config = write_config(sources, listen=f"127.0.0.1:{free_port()}", adaptive=False, **settings)
    command = [sys.executable, "-m", "newsriver.cli", "--config", str(config), "run"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: first.poll() is not None or leases_held(database_url) >= 2, 60, "two leases held")
        assert first.poll() is None, "the first service exited early"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    held = leases_held(database_url)  # the dead process's, until its lease ends in 10 minutes
    assert held == (2 if database_url.startswith("postgresql") else SOURCES)
    asked = len(feed_server.requests)
    log = tmp_path / "restarted.log"
    with log.open("wb") as err:
        second = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
    try:
        running = wait_until(lambda: "running as" in log.read_text() or second.poll() is not None, 60, "it runs")
        assert second.poll() is None, log.read_text()
        progress = wait_until(lambda: len(feed_server.requests) > asked, 60, "a source polled after the restart")
        waited = progress - running
        print(f"restart: first poll {waited:.2f} s after the service ran (tick {RESTART_TICK} s, lease 600 s)")
        assert waited < RESTART_TICK
        assert f"released {held} leases of a stopped predecessor" in log.read_text()
        # And the pass goes on to store every source.
        wait_until(lambda: polled_sources(database_url) == SOURCES, 120, "every source stored")
    finally:
        assert stop(second) == [0]
    assert_consistent(database_url)


def polled_sources(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            return int(db.execute(text("SELECT count(*) FROM sources WHERE last_success IS NOT NULL")).scalar() or 0)
    finally:
        engine.dispose()
