"""Many workers on one database: leases, takeover, per-host limits, one publisher, web nodes."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest
import requests
from sqlalchemy import func, select, update

from newsriver.cli import main
from newsriver.store.coordination import HEARTBEAT_STALE, Coordinator, Due, RenderedDocuments, choose
from newsriver.store.schema import entries_table, sources_table, workers_table
from newsriver.store.store import Store

from .conftest import ConfigWriter, FixtureServer
from .processes import stop
from .test_service import free_port, wait_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


# --- the claim decision, pure -----------------------------------------------------------


def test_choose_keeps_per_host_limits_counting_other_workers() -> None:
    due = [Due(f"s{n}", f"https://{'a' if n < 4 else 'b'}.example/{n}") for n in range(6)]
    assert choose(due, Counter(), limit=10, per_host=2) == ["s0", "s1", "s4", "s5"]
    assert choose(due, Counter({"https://a.example:443": 2}), limit=10, per_host=2) == ["s4", "s5"]  # keyed by origin
    assert choose(due, Counter(), limit=3, per_host=2) == ["s0", "s1", "s4"]


# --- claims against a real database (both backends) -----------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    opened.sources.sync((f"s{n}", f"http://h{n % 3}.example/feed{n}") for n in range(9))
    yield opened
    opened.close()


NAMES = {f"s{n}" for n in range(9)}


def test_a_due_source_is_claimed_by_one_worker_only(store: Store) -> None:
    first, second = Coordinator(store, "worker"), Coordinator(store, "worker")
    got_first = first.claim(NAMES, NOW, limit=100, per_host=10, lease=LEASE)
    assert sorted(got_first) == sorted(NAMES)
    assert second.claim(NAMES, NOW, limit=100, per_host=10, lease=LEASE) == []
    first.release(got_first[:4])
    # Released but still due (this test stores no poll result): the other worker may take them.
    assert sorted(second.claim(NAMES, NOW, limit=100, per_host=10, lease=LEASE)) == sorted(got_first[:4])


def test_an_expired_lease_is_taken_over(store: Store) -> None:
    dead, alive = Coordinator(store, "worker"), Coordinator(store, "worker")
    taken = dead.claim(NAMES, NOW, limit=100, per_host=10, lease=LEASE)
    assert alive.claim(NAMES, NOW + LEASE - timedelta(seconds=1), limit=100, per_host=10, lease=LEASE) == []
    assert sorted(alive.claim(NAMES, NOW + LEASE + timedelta(seconds=1), 100, 10, LEASE)) == sorted(taken)
    assert set(alive.leases()) == NAMES and {owner for owner, _ in alive.leases().values()} == {alive.id}


def test_a_restart_releases_the_leases_of_workers_that_are_gone(store: Store, database_url: str) -> None:
    """Three earlier workers hold three sources each: one alive on another machine, one whose
    heartbeat is stale, and one of this machine under our own process id (a predecessor)."""
    alive, stale, killed = (Coordinator(store, "worker", worker_id=f"w{n}") for n in range(3))
    held = {}
    for worker in (alive, stale, killed):
        worker.heartbeat(NOW)
        held[worker.id] = worker.claim(NAMES, NOW, limit=3, per_host=10, lease=LEASE)
    w = workers_table
    with store.engine.begin() as conn:
        conn.execute(update(w).where(w.c.id.in_(["w0", "w1"])).values(host="elsewhere", pid=1))
        conn.execute(update(w).where(w.c.id == "w1").values(heartbeat=NOW - HEARTBEAT_STALE - timedelta(seconds=1)))
    restarted = Coordinator(store, "worker")
    restarted.heartbeat(NOW)
    released = restarted.take_over(NOW)
    if database_url.startswith("sqlite"):
        # One service per SQLite database (the writer lock): every other worker is gone.
        assert released == 9 and restarted.leases() == {}
        assert [row.id for row in restarted.workers()] == [restarted.id]
    else:
        assert released == 6
        assert {owner for owner, _ in restarted.leases().values()} == {alive.id}
        assert sorted(row.id for row in restarted.workers()) == sorted([alive.id, restarted.id])
        # Released, their sources are claimed at once rather than after the lease.
        assert sorted(restarted.claim(NAMES, NOW, limit=100, per_host=10, lease=LEASE)) == sorted(
            held[stale.id] + held[killed.id]
        )


def test_per_host_limit_holds_across_workers(store: Store) -> None:
    one, two = Coordinator(store, "worker"), Coordinator(store, "worker")
    first = one.claim(NAMES, NOW, limit=100, per_host=2, lease=LEASE)
    assert len(first) == 6  # three hosts, two each
    assert two.claim(NAMES, NOW, limit=100, per_host=2, lease=LEASE) == []
    one.release(first)
    assert len(two.claim(NAMES, NOW, limit=100, per_host=2, lease=LEASE)) == 6


def test_sources_not_due_gone_or_waiting_are_not_claimed(store: Store) -> None:
    store.sources.update("s0", next_poll=NOW + timedelta(minutes=5))
    store.sources.update("s1", status="gone")
    store.sources.update("s2", retry_after=NOW + timedelta(minutes=5))
    claimed = Coordinator(store, "worker").claim(NAMES, NOW, limit=100, per_host=10, lease=LEASE)
    assert sorted(claimed) == sorted(NAMES - {"s0", "s1", "s2"})
    assert Coordinator(store, "worker").claim({"s3"}, NOW + LEASE * 2, 100, 10, LEASE) == ["s3"]


def test_a_claim_takes_the_sources_never_polled_first_then_the_longest_due(store: Store) -> None:
    # s0 … s5 came due an hour apart, s5 first; s6 … s8 were never polled (no next poll).
    for n in range(6):
        store.sources.update(f"s{n}", next_poll=NOW - timedelta(hours=n))
    store.sources.update("s2", next_poll=NOW - timedelta(hours=4))  # due with s4: the name decides
    claimed = Coordinator(store, "worker").claim(NAMES, NOW, limit=6, per_host=10, lease=LEASE)
    assert claimed == ["s6", "s7", "s8", "s5", "s2", "s4"]


def test_a_claim_reads_past_a_page_of_sources_whose_host_is_at_its_limit(database_url: str) -> None:
    store = Store(database_url)
    busy = [(f"a{n:03}", f"http://busy.example/{n}") for n in range(100)]  # due first: polled never
    store.sources.sync([*busy, ("b", "http://b.example/"), ("c", "http://c.example/"), ("d", "http://d.example/")])
    for name, _ in busy:
        store.sources.update(name, next_poll=NOW - timedelta(hours=1))
    for name in "bcd":
        store.sources.update(name, next_poll=NOW)
    try:
        names = {name for name, _ in busy} | {"b", "c", "d"}
        # A page is 64 rows at this limit: the other hosts' sources are on the second.
        claimed = Coordinator(store, "worker").claim(names, NOW, limit=4, per_host=1, lease=LEASE)
    finally:
        store.close()
    assert sorted(claimed) == ["a000", "b", "c", "d"]


# --- real worker processes on PostgreSQL ----------------------------------------------


WORDS = (
    "harbor council budget river vote school bridge market storm festival museum court rail farm clinic "
    "library stadium election tariff drought vaccine orchestra satellite glacier parliament union strike"
).split()


def small_feed(n: int) -> str:
    """Three distinct stories per source: unrelated word salads, so none is another's copy."""
    rng = random.Random(n)
    items = "".join(
        f"<item><title>{' '.join(rng.sample(WORDS, 6))}</title><link>https://s{n}.example.org/{i}</link>"
        f"<guid>s{n}-{i}</guid><pubDate>{format_datetime(NOW - timedelta(hours=n % 50, minutes=i))}</pubDate>"
        f"<description>{' '.join(rng.choices(WORDS, k=60))}</description></item>"
        for i in range(3)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Source {n}</title>'
        f"<link>https://s{n}.example.org/</link><description>d</description>{items}</channel></rss>"
    )


def start_workers(config: Path, count: int, role: str = "worker") -> list[subprocess.Popen[bytes]]:
    """``count`` service processes; each one's log goes to ``<config folder>/<role>-<n>.log``."""
    return [
        subprocess.Popen(
            [sys.executable, "-m", "newsriver.cli", "--config", str(config), "run", "--role", role],
            stdout=subprocess.DEVNULL,
            stderr=(config.parent / f"{role}-{n}.log").open("wb"),
        )
        for n in range(count)
    ]


def wait_until(condition: object, deadline: float = 90.0, what: str = "") -> None:
    end = time.monotonic() + deadline
    while not (callable(condition) and condition()):
        assert time.monotonic() < end, f"never happened: {what}"
        time.sleep(0.1)


def polled(database_url: str) -> int:
    store = Store(database_url)
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(sources_table.c.last_success.is_not(None))).scalar())
    finally:
        store.close()


def entry_count(database_url: str) -> int:
    store = Store(database_url)
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(entries_table)).scalar())
    finally:
        store.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_workers_poll_each_source_exactly_once_and_publish_what_one_process_would(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    sources = []
    for n in range(300):
        sources.append({"name": f"s{n}", "url": feed_server.add(f"/s{n}.rss", small_feed(n))})
    settings = {"tick": 0.2, "host_concurrency": 4, "default_interval": "1h", "adaptive": False}
    # Salads of the same 27 words are all one event by their words, grouped as they happen
    # to arrive: related coverage is not what this test is about.
    settings["dedupe"] = {"related": {"enabled": False}}
    config = write_config(sources, **settings)
    workers = start_workers(config, 3)
    try:
        wait_until(lambda: polled(database_url) == 300, what="every source polled")
        out = tmp_path / "out"
        # One worker is elected to publish (no publisher runs); it renders once all is stored.
        wait_until(lambda: (out / "all.atom").exists() and entry_count(database_url) == 900, what="published")
        wait_for_quiet(out)
        status = subprocess.run(
            [sys.executable, "-m", "newsriver.cli", "--config", str(config), "status"], capture_output=True, text=True
        ).stdout
        assert status.count(":worker:") == 3  # each worker with its heartbeat
    finally:
        assert stop(*workers, timeout=20) == [0, 0, 0]
    hits = Counter(r.path for r in feed_server.requests)
    assert len(hits) == 300 and set(hits.values()) == {1}  # every source exactly once for its due time

    single = tmp_path / "single"
    single.mkdir()
    reference = single / "newsriver.yaml"
    reference.write_text(
        config.read_text()
        .replace(database_url, f"sqlite:///{single / 'db.sqlite'}")
        .replace(str(out), str(single / "out"))
    )
    assert main(["--config", str(reference), "poll"]) == 0
    for name in ("all.atom", "all.rss", "all.json"):
        assert (out / name).read_bytes() == (single / "out" / name).read_bytes(), name


def wait_for_quiet(folder: Path, seconds: float = 1.0) -> None:
    """Wait until no file in ``folder`` has changed for ``seconds`` (the publisher caught up)."""

    def settled() -> bool:
        try:
            newest = max(p.stat().st_mtime for p in folder.iterdir())
        except FileNotFoundError:
            return False  # a publisher's temporary file renamed as it was listed: not quiet yet
        return time.time() - newest > seconds

    wait_until(settled)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_workers_sources_are_taken_over_after_its_lease(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    sources = []
    for n in range(40):
        # Slow answers keep fetches in flight, so the killed worker holds leases when it dies.
        sources.append({"name": f"s{n}", "url": feed_server.add(f"/s{n}.rss", small_feed(n), delay=0.3)})
    settings = {"tick": 0.2, "host_concurrency": 4, "lease": "3s", "default_interval": "1h", "adaptive": False}
    config = write_config(sources, **settings)
    workers = start_workers(config, 2)
    victim = workers[0]
    try:
        store = Store(database_url)
        try:
            coordinator = Coordinator(store, "test")
            pids = {str(w.pid): w for w in workers}
            holders: list[str] = []
            # Whichever worker holds a lease first is the one killed mid-fetch.
            wait_until(
                lambda: bool(holders.extend(o.split(":")[1] for o, _ in coordinator.leases().values()) or holders),
                what="a worker holds a lease",
            )
            victim = pids[holders[0]]
        finally:
            store.close()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        wait_until(lambda: polled(database_url) == 40, what="every source polled")
        wait_until(lambda: entry_count(database_url) == 120, what="every entry stored")
        out = tmp_path / "out"
        wait_until(lambda: (out / "all.json").exists(), what="published")
        wait_for_quiet(out)
    finally:
        stop(*workers, timeout=20)  # both, should the test fail before the kill
    atom = feedparser.parse((out / "all.atom").read_bytes())
    ids = [e.id for e in atom.entries]
    assert len(ids) == len(set(ids)) == 100  # nothing doubled; the newest 100 of 120 shown
    assert entry_count(database_url) == 120  # nothing lost


def test_copies_of_files_the_publisher_deleted_leave_the_database(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url)
    try:
        coordinator = Coordinator(store, "publisher")
        documents = RenderedDocuments(store)
        for name in ("all.atom", "all/archive/2025-01-2.atom"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(b"<feed/>")
        coordinator.keep_rendered(tmp_path, ["all.atom", "all/archive/2025-01-2.atom"], datetime.now(UTC))
        assert documents("all/archive/2025-01-2.atom") is not None
        # The month needs one page fewer: the publisher deleted it and rewrote the feed.
        (tmp_path / "all/archive/2025-01-2.atom").unlink()
        (tmp_path / "all.atom").write_bytes(b"<feed><entry/></feed>")
        coordinator.keep_rendered(tmp_path, ["all.atom"], datetime.now(UTC))
        assert documents("all/archive/2025-01-2.atom") is None
        kept = documents("all.atom")
        assert kept is not None and kept.data == b"<feed><entry/></feed>"
    finally:
        store.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_web_nodes_serve_rendered_feeds_from_the_database(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    feed_server.add("/s1.rss", small_feed(1))
    port = free_port()
    # The publisher serves too: on its own port, not the default 127.0.0.1:8080, which any
    # other newsriver on the machine (another suite's, an operator's) may hold. There it
    # failed to start, nothing was rendered, and the web node answered 404 until the deadline.
    listen = f"127.0.0.1:{free_port()}"
    config = write_config([{"name": "s1", "url": feed_server.url("/s1.rss")}], tick=0.2, listen=listen)
    publisher = start_workers(config, 1, role="all")
    node_config = tmp_path / "node.yaml"
    # A web node with its own (empty) output folder: everything must come from the database.
    node_text = config.read_text().replace(str(tmp_path / "out"), str(tmp_path / "empty"))
    node_config.write_text(node_text.replace(listen, f"127.0.0.1:{port}"))
    node = subprocess.Popen(
        [sys.executable, "-m", "newsriver.cli", "--config", str(node_config), "serve", "--from-database"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        response = wait_for(
            f"http://127.0.0.1:{port}/all.atom",
            lambda r: r.status_code == 200 and len(feedparser.parse(r.content).entries) == 3,
        )
        assert response.content == (tmp_path / "out" / "all.atom").read_bytes()
        assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        again = requests.get(
            f"http://127.0.0.1:{port}/all.atom", headers={"If-None-Match": response.headers["ETag"]}, timeout=5
        )
        assert again.status_code == 304
        # The same bytes, the same ETag as the publisher's own server sends.
        assert requests.get(f"http://{listen}/all.atom", timeout=5).headers["ETag"] == response.headers["ETag"]
        assert requests.get(f"http://127.0.0.1:{port}/../secret", timeout=5).status_code == 404
    finally:
        stop(node, *publisher, timeout=20)
    assert not (tmp_path / "empty" / "all.atom").exists()
