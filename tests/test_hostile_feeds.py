"""A document that takes long to parse costs only its own source: its parse is stopped at
``settings.parse_timeout``, recorded as its error and not tried again until it changes, while
the other sources are stored and published; ``run`` still stops at once on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import yaml

from newsriver.config import load as config_module
from newsriver.run.outcome import Outcome
from newsriver.run.poll import UNCHANGED_UNPARSABLE, poll_sources
from newsriver.store.sql import SQLITE_CACHE_KIB
from newsriver.store.store import Store

from .conftest import FIXTURES, ConfigWriter, FixtureServer
from .test_service import free_port, wait_for

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
# 400,000 nested elements in one entry (2.8 MB): lxml refuses the depth, so feedparser's
# parser reads it, for about 8 s of CPU on this machine's cores.
NESTED = 400_000
PATHOLOGICAL = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Deep</title><link>https://deep.example/</link>'
    b"<item><title>a</title><guid>a</guid><description>"
    + b"<x>" * NESTED
    + b"</x>" * NESTED
    + b"</description></item></channel></rss>"
)


def test_a_document_past_its_parse_deadline_costs_only_its_own_source(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    urls = {
        "deep": feed_server.add("/deep.rss", PATHOLOGICAL),
        "wire": feed_server.add("/wire.rss", FIXTURES / "wire.rss"),
        "daily": feed_server.add("/daily.atom", FIXTURES / "daily.atom"),
    }
    path = write_config([{"name": n, "url": u} for n, u in urls.items()], parse_timeout="1s")
    config = config_module.load(path)
    store = Store(config.settings.database)
    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        started = time.monotonic()
        reported: list[tuple[Outcome, float]] = []
        poll_sources(config, store, clock=lambda: NOW, on_outcome=lambda o: reported.append((o, time.monotonic())))
        outcomes = {o.source: o for o, _ in reported}
        assert outcomes["deep"].error == "parse took longer than 1 s"
        assert (outcomes["wire"].result, outcomes["daily"].result) == ("ok", "ok")
        assert outcomes["wire"].new > 0 and outcomes["daily"].new > 0
        # The others were stored while the deep one was parsing, well before its deadline ran out.
        assert [o.source for o, _ in reported][-1] == "deep"
        assert max(at for o, at in reported if o.source != "deep") - started < 5
        row = store.sources.rows()["deep"]
        assert (row.status, row.last_error) == ("error", "parse took longer than 1 s")

        # The same body again: not parsed again (no second wait for the deadline).
        later = NOW + timedelta(days=1)
        again = {o.source: o for o in poll_sources(config, store, clock=lambda: later)}
        assert len(feed_server.hits("/deep.rss")) == 2
        assert (again["deep"].result, again["deep"].error) == ("error", UNCHANGED_UNPARSABLE)
        assert again["deep"].seconds < 1
        assert again["wire"].result == "not modified"

        # Once it changes it is parsed again.
        feed_server.add("/deep.rss", FIXTURES / "wire.rss")
        fixed = {o.source: o for o in poll_sources(config, store, clock=lambda: later + timedelta(days=1))}
        assert fixed["deep"].result == "ok"
        assert store.sources.rows()["deep"].errors == 0
    finally:
        store.close()


def _run(
    write_config: ConfigWriter, feed_server: FixtureServer, parse_timeout: str
) -> tuple[subprocess.Popen[bytes], int]:
    feed_server.add("/deep.rss", PATHOLOGICAL)
    feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    port = free_port()
    config = write_config(
        [{"name": "deep", "url": feed_server.url("/deep.rss")}, {"name": "wire", "url": feed_server.url("/wire.rss")}],
        listen=f"127.0.0.1:{port}",
        base_url=f"http://127.0.0.1:{port}/",
        parse_timeout=parse_timeout,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "newsriver.cli", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=config.parent,
    )
    return process, port


def test_run_publishes_the_other_sources_and_stops_cleanly(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    process, port = _run(write_config, feed_server, "1s")
    try:
        wait_for(
            f"http://127.0.0.1:{port}/all.atom",
            lambda r: r.status_code == 200 and len(feedparser.parse(r.content).entries) == 3,
            deadline=20,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "deep: error: parse took longer than 1 s" in process.stderr.read().decode()


def test_sigterm_stops_run_promptly_while_a_document_is_parsing(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    process, _port = _run(write_config, feed_server, "10m")
    try:
        end = time.monotonic() + 20
        while not feed_server.hits("/deep.rss") and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(1)  # its parse under way (it takes several seconds)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - signalled < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _many_entries(count: int) -> bytes:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>E{i}</title><link>https://h.example/{i}</link>"
        f"<pubDate>{format_datetime(start + timedelta(seconds=i))}</pubDate><description>{i}</description></item>"
        for i in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def _peak_of_poll_mb(feed_server: FixtureServer, document: bytes, folder: Path) -> float:
    """The peak RSS of the largest process of a real ``newsriver poll`` of ``document``."""
    folder.mkdir()
    url = feed_server.add(f"/{folder.name}.rss", document)
    settings = {
        "database": f"sqlite:///{folder / 'db.sqlite'}",
        "output_dir": str(folder / "out"),
        "parse_timeout": "10m",
    }
    config = folder / "newsriver.yaml"
    config.write_text(yaml.safe_dump({"settings": settings, "sources": [{"name": "s", "url": url}]}))
    # ru_maxrss of RUSAGE_CHILDREN: the largest of the poll and every process it started.
    measure = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    poll = [sys.executable, "-m", "newsriver.cli", "--config", str(config), "poll"]
    done = subprocess.run([sys.executable, "-c", measure, *poll], capture_output=True, check=True, cwd=folder)
    return int(done.stdout.split()[-1]) / 1024


def test_a_large_document_costs_at_most_ten_times_its_size(feed_server: FixtureServer, tmp_path: Path) -> None:
    """Every process of the pass, the storing one and the worker that parses: at most ten
    times the document above a poll of one entry, plus SQLite's page cache (a fixed bound the
    storing process fills as the database grows). Parsed whole, it was 45 times."""
    document = _many_entries(30_000)  # 4.3 MiB
    baseline = _peak_of_poll_mb(feed_server, _many_entries(1), tmp_path / "small")
    peak = _peak_of_poll_mb(feed_server, document, tmp_path / "large")
    assert peak - baseline <= 10 * len(document) / 2**20 + SQLITE_CACHE_KIB / 1024, (baseline, peak)
