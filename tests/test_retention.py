"""Retention: which entries go (pure), tombstones keeping them out, and the whole job
through the CLI against local feeds, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import random
import signal
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Table, func, select

from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.config.schema import Retention, SourceConfig, SourceRetention, limits_for, validated
from newsriver.errors import ConfigError
from newsriver.models import Article
from newsriver.publish.publisher import publish_feeds
from newsriver.run.service import Service
from newsriver.store.entries import url_hash
from newsriver.store.schema import dedupe_keys_table, entries_table, tombstones_table
from newsriver.store.store import Store
from newsriver.stories.retention import (
    TOMBSTONE_GRACE,
    Held,
    RetentionLimits,
    Tombstone,
    over_limits,
    removable,
    sift,
)

from .conftest import ConfigWriter, FixtureServer
from .factories import make_article

T = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
NONE = RetentionLimits(None, None)

# --- pure: the limits of a source -------------------------------------------------------


def source(**retention: object) -> SourceConfig:
    own = validated(SourceRetention, retention) if retention else None
    return SourceConfig(name="s", url="https://s.example/feed", retention=own)


def test_a_source_takes_the_settings_limits_unless_it_sets_its_own() -> None:
    settings = Retention()
    assert limits_for(settings, source()) == RetentionLimits(timedelta(days=90), 1000)
    assert limits_for(settings, None) == RetentionLimits(timedelta(days=90), 1000)  # a source no longer configured
    assert limits_for(settings, source(max_items=20)) == RetentionLimits(timedelta(days=90), 20)
    assert limits_for(settings, source(max_age="7d")) == RetentionLimits(timedelta(days=7), 1000)


def test_null_lifts_a_limit_and_an_absent_field_inherits() -> None:
    settings = Retention(max_age=timedelta(days=30), max_items_per_source=None)
    assert limits_for(settings, source(max_age=None)) == RetentionLimits(None, None)
    assert limits_for(settings, source(max_items=5)) == RetentionLimits(timedelta(days=30), 5)


def test_retention_config_is_validated_with_its_line() -> None:
    text = (
        "settings:\n  retention:\n    max_age: 0s\n"
        "sources:\n  - {name: a, url: 'https://a.example/', retention: {max_items: 0}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        config_module.load_text(text, "n.yaml")
    assert raised.value.problems == [
        "n.yaml:3: settings.retention.max_age: must be longer than 0 s",
        "n.yaml:5: sources[0].retention.max_items: must be at least 1; got 0",
    ]


def test_what_stands_for_a_left_out_field_is_no_value_a_config_may_give() -> None:
    """A source's left-out retention field holds ``schema.Inherit``; only a duration, a
    count or null are read from the file."""
    text = "sources:\n  - {name: a, url: 'https://a.example/', retention: {max_age: settings, max_items: settings}}\n"
    with pytest.raises(ConfigError) as raised:
        config_module.load_text(text, "n.yaml")
    assert raised.value.problems == [
        "n.yaml:2: sources[0].retention.max_age: 'settings' is not a duration like 90s, 15m, 2h or 7d",
        "n.yaml:2: sources[0].retention.max_items: expected a whole number; got 'settings'",
    ]


# --- pure: which entries are past the limits, which go -------------------------------------


def held(id: str, age: timedelta, source: str = "s", cluster: str | None = None) -> Held:
    return Held(id, source, cluster or id, T - age)


def ids(entries: list[Held]) -> list[str]:
    return [h.id for h in entries]


def test_past_max_age_means_published_longer_ago_than_it() -> None:
    entries = [held("new", DAY), held("edge", 30 * DAY), held("old", 30 * DAY + timedelta(seconds=1))]
    assert ids(over_limits(entries, RetentionLimits(30 * DAY, None), T)) == ["old"]


def test_the_count_limit_keeps_the_newest_by_publication_date() -> None:
    entries = [held("c", 3 * DAY), held("a", 1 * DAY), held("d", 4 * DAY), held("b", 2 * DAY)]
    assert ids(over_limits(entries, RetentionLimits(None, 2), T)) == ["c", "d"]


def test_entries_published_at_once_are_counted_in_a_stable_order() -> None:
    entries = [held(name, DAY) for name in "dbca"]
    assert ids(over_limits(entries, RetentionLimits(None, 2), T)) == ["c", "d"]
    assert ids(over_limits(list(reversed(entries)), RetentionLimits(None, 2), T)) == ["c", "d"]


def test_either_limit_puts_an_entry_past_them_and_none_keeps_everything() -> None:
    entries = [held("a", DAY), held("b", 2 * DAY), held("old", 100 * DAY)]
    assert ids(over_limits(entries, RetentionLimits(10 * DAY, 2), T)) == ["old"]
    assert ids(over_limits(entries, RetentionLimits(10 * DAY, 1), T)) == ["b", "old"]
    assert over_limits(entries, NONE, T) == []


def test_a_story_goes_only_when_every_copy_is_past_its_limits() -> None:
    kept_copy, other_copy = held("k", 40 * DAY, "a"), held("o", 39 * DAY, "b", cluster="k")
    alone = held("x", 50 * DAY, "a")
    # Source b keeps its copy, so source a's copy of that story stays too.
    assert ids(removable([kept_copy, alone], [kept_copy, other_copy, alone], shown=())) == ["x"]
    assert ids(removable([kept_copy, other_copy, alone], [kept_copy, other_copy, alone], shown=())) == ["k", "o", "x"]


def test_a_story_a_feed_shows_stays_whatever_its_age() -> None:
    old = [held("k", 400 * DAY), held("o", 400 * DAY, "b", cluster="k"), held("x", 400 * DAY)]
    assert ids(removable(old, old, shown={"k"})) == ["x"]


# --- pure: tombstones ----------------------------------------------------------------

# Made-up words, so that no two test articles look like copies of one story.
VOCABULARY = ["".join(random.Random(n).choices("abcdefghijklmnopqrstuvwxyz", k=7)) for n in range(600)]


def article(key: str, source: str = "s", url: str | None = None, seen: datetime = T, age: timedelta = DAY) -> Article:
    url = url if url is not None else f"https://{source}.example/{key}"
    rng = random.Random(key)
    text = " ".join(rng.choice(VOCABULARY) for _ in range(80))
    return make_article(
        id=f"{source}-{key}",
        source=source,
        entry_key=key,
        url=url,
        canonical_url=url,
        title=f"{source} {key} " + " ".join(rng.choice(VOCABULARY) for _ in range(6)),
        content=f"<p>{text}</p>",
        text=text,
        published=seen - age,
        updated=seen - age,
        first_seen=seen,
        content_hash=key,
    )


def tombstone(a: Article, missing_since: datetime | None = None) -> Tombstone:
    return Tombstone(a.id, url_hash(a.canonical_url), missing_since)


def test_an_article_removed_before_is_known_by_id_or_by_its_url_under_a_new_guid() -> None:
    gone, rotated, fresh = article("g"), article("r"), article("f")
    renamed = replace(rotated, id="s-r2", entry_key="r2")  # the feed regenerated its guid
    sifted = sift([gone, renamed, fresh], [tombstone(gone), tombstone(rotated)], url_hash)
    assert sifted.buried == {gone.id, renamed.id}
    assert sifted.back == () and sifted.missing == ()


def test_a_url_that_stands_for_no_one_article_matches_nothing() -> None:
    front = article("old", url="https://s.example/")
    repeated = article("p1", url="https://s.example/podcast")
    stones = [tombstone(front), tombstone(repeated)]
    # A new entry linking to the front page, and two linking to one page, are news.
    later = [article("new", url="https://s.example/"), article("p2", url=repeated.url), article("p3", url=repeated.url)]
    assert sift(later, stones, url_hash).buried == frozenset()


def test_tombstones_note_whether_their_entry_is_still_in_the_feed() -> None:
    still, left, returned = article("still"), article("left"), article("back")
    stones = [tombstone(still), tombstone(left), tombstone(returned, missing_since=T - DAY)]
    sifted = sift([still, returned, article("other")], stones, url_hash)
    assert sifted.buried == {still.id, returned.id}
    assert sifted.back == (returned.id,)
    assert sifted.missing == (left.id,)


# --- the store, on both backends --------------------------------------------------------


def count(store: Store, table: Table, where: ColumnElement[bool] | None = None) -> int:
    query = select(func.count()).select_from(table)
    with store.engine.connect() as conn:
        return int(conn.execute(query if where is None else query.where(where)).scalar_one())


def save(store: Store, articles: list[Article]) -> int:
    return store.entries.save(articles[0].source, articles, {"status": "ok"}).new


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


def test_a_story_is_pruned_whole_and_a_shown_story_not_at_all(store: Store) -> None:
    first = article("k", "a", url="https://news.example/story", age=40 * DAY)
    copy = article("c", "b", url="https://news.example/story", age=39 * DAY)
    save(store, [first])
    save(store, [copy])
    lone = article("lone", "a", age=50 * DAY)
    save(store, [lone])
    a_only = {"a": RetentionLimits(30 * DAY, None), "b": NONE}
    pruned = store.prune.apply(lambda s: a_only[s], shown=(), configured={"a", "b"}, now=T)
    assert pruned.removed == {"a": 1} and pruned.kept == {"a": 1}
    # The story still shows its first stored copy's id, with the other copy listed.
    [story] = store.selection.stories(["a", "b"], 10)
    assert story.item.id == first.id and [c.source for c in story.copies] == ["b"]

    both = RetentionLimits(30 * DAY, None)
    assert store.prune.apply(lambda s: both, shown=[copy.id], configured={"a", "b"}, now=T).removed == {}
    pruned = store.prune.apply(lambda s: both, shown=(), configured={"a", "b"}, now=T)
    assert pruned.removed == {"a": 1, "b": 1} and pruned.kept == {}
    assert count(store, entries_table) == 0
    assert count(store, tombstones_table) == 3


def test_a_tombstone_lasts_while_its_entry_is_in_the_feed_then_expires(store: Store) -> None:
    x = article("x", age=100 * DAY)
    save(store, [x])
    assert store.prune.apply(lambda s: RetentionLimits(30 * DAY, None), (), {"s"}, T).removed == {"s": 1}

    def read(at: datetime, *keys: str) -> int:
        return save(store, [article(k, seen=at, age=DAY) for k in keys])

    def expire(at: datetime) -> int:
        return store.prune.apply(lambda s: NONE, (), {"s"}, at).tombstones_expired

    assert read(T + DAY, "x", "y") == 1  # x is not taken in again
    assert expire(T + 400 * DAY) == 0  # still in the feed: kept however old
    gone_at = T + 401 * DAY
    assert read(gone_at, "y") == 0  # x has left the feed
    assert read(gone_at + DAY, "x", "y") == 0  # a stale copy of the feed: x is kept out still
    assert expire(gone_at + TOMBSTONE_GRACE + 2 * DAY) == 0  # and its tombstone kept, as it came back
    gone_again = gone_at + TOMBSTONE_GRACE + 3 * DAY
    assert read(gone_again, "y") == 0
    assert expire(gone_again + TOMBSTONE_GRACE - DAY) == 0
    assert expire(gone_again + TOMBSTONE_GRACE + DAY) == 1
    assert read(gone_again + TOMBSTONE_GRACE + 2 * DAY, "x", "y") == 1  # long gone: it is news if it returns


def test_tombstones_of_a_source_no_longer_configured_expire_after_the_grace(store: Store) -> None:
    save(store, [article("x", age=100 * DAY)])
    store.prune.apply(lambda s: RetentionLimits(30 * DAY, None), (), {"s"}, T)
    assert store.prune.apply(lambda s: NONE, (), set(), T + TOMBSTONE_GRACE - DAY).tombstones_expired == 0
    assert store.prune.apply(lambda s: NONE, (), set(), T + TOMBSTONE_GRACE + DAY).tombstones_expired == 1


# --- the whole job through the CLI --------------------------------------------------------


def rss(site: str, items: list[tuple[str, str, timedelta]], now: datetime) -> str:
    """An RSS document of (guid, path, age) items with distinct texts."""
    body = ""
    for guid, path, age in items:
        rng = random.Random(path)
        text = " ".join(rng.choice(VOCABULARY) for _ in range(80))
        body += (
            f"<item><title>{path} {' '.join(rng.choice(VOCABULARY) for _ in range(5))}</title>"
            f"<link>{site}{path}</link><guid isPermaLink='false'>{guid}</guid>"
            f"<pubDate>{format_datetime(now - age, usegmt=True)}</pubDate><description>{text}</description></item>"
        )
    channel = f"<title>{site}</title><link>{site}</link>{body}"
    return f"<?xml version='1.0'?><rss version='2.0'><channel>{channel}</channel></rss>"


def run(config: Path, *command: str) -> int:
    return main(["--config", str(config), *command])


HOUR = timedelta(hours=1)
WIRE = [("w1", "/w1", HOUR), ("w2", "/w2", 2 * HOUR), ("w3", "/w3", 3 * HOUR), ("w-old1", "/w-old1", 40 * DAY),
        ("w-old2", "/w-old2", 50 * DAY)]  # fmt: skip
DAILY = [(f"d{n}", f"/d{n}", (4 + n) * DAY) for n in range(1, 5)]
ARCHIVE = [("a1", "/a1", 200 * DAY), ("a2", "/a2", 300 * DAY)]


def test_poll_prune_poll_keeps_pruned_entries_out_and_newer_ones_in(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    feed_server.add("/wire.rss", rss("https://wire.example", WIRE, now))
    feed_server.add("/daily.rss", rss("https://daily.example", DAILY, now))
    feed_server.add("/archive.rss", rss("https://archive.example", ARCHIVE, now))
    config = write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss")},
            {"name": "daily", "url": feed_server.url("/daily.rss"), "retention": {"max_items": 2}},
            {"name": "archive", "url": feed_server.url("/archive.rss"), "retention": {"max_age": None}},
        ],
        feeds=[{"name": "all", "title": "All", "max_items": 3}],
        retention={"max_age": "30d"},
    )
    store = Store(database_url)
    assert run(config, "poll") == 0
    assert store.sources.entry_counts() == {"wire": 5, "daily": 4, "archive": 2}
    old_ids = {r.id for r in _rows(store) if r.entry_key in ("w-old1", "w-old2", "d3", "d4")}
    assert count(store, dedupe_keys_table, dedupe_keys_table.c.entry_id.in_(old_ids)) > 0
    capsys.readouterr()

    assert run(config, "prune") == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "wire: removed 2",
        "daily: removed 2",
        "archive: removed 0",
        "removed 4 entries from 2 sources; 0 tombstones expired",
    ]
    assert store.sources.entry_counts() == {"wire": 3, "daily": 2, "archive": 2}
    assert not old_ids & {r.id for r in _rows(store)}
    # Their near-duplicate keys went with them; everyone else's stayed.
    assert count(store, dedupe_keys_table, dedupe_keys_table.c.entry_id.in_(old_ids)) == 0
    assert count(store, dedupe_keys_table, dedupe_keys_table.c.entry_id.in_({r.id for r in _rows(store)})) > 0
    # The feed showed none of them: publishing again changes no file.
    assert publish_feeds(config_module.load(config), store) == []

    # The feeds go on: wire has one more entry, daily regenerated every guid and has one more.
    feed_server.add("/wire.rss", rss("https://wire.example", [("w0", "/w0", HOUR / 2), *WIRE], now))
    rotated = [(f"{guid}-v2", path, age) for guid, path, age in DAILY]
    feed_server.add("/daily.rss", rss("https://daily.example", [("d0", "/d0", DAY), *rotated], now))
    assert run(config, "poll") == 0
    polled = capsys.readouterr().out
    assert "wire: new 1, updated 0" in polled
    assert "daily: new 1, updated 0" in polled
    assert "archive: not modified" in polled
    assert store.sources.entry_counts() == {"wire": 4, "daily": 3, "archive": 2}
    assert {r.url.rsplit("/", 1)[1] for r in _rows(store) if r.source == "daily"} == {"d0", "d1", "d2"}

    assert run(config, "prune") == 0
    assert "daily: removed 1" in capsys.readouterr().out
    assert store.sources.entry_counts() == {"wire": 4, "daily": 2, "archive": 2}


def test_a_feed_that_shows_old_entries_keeps_them(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    feed_server.add("/wire.rss", rss("https://wire.example", WIRE, now))
    config = write_config([{"name": "wire", "url": feed_server.url("/wire.rss")}], retention={"max_age": "30d"})
    assert run(config, "poll") == 0
    capsys.readouterr()
    assert run(config, "prune") == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "wire: removed 0, kept 2 past the limits (shown in a feed, or a copy of their story is within its limits)"
    )
    assert Store(database_url).sources.entry_counts() == {"wire": 5}


def test_the_archive_page_of_the_month_in_progress_keeps_its_stories(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    feed_server.add("/wire.rss", rss("https://wire.example", WIRE, now))
    config = write_config(
        [{"name": "wire", "url": feed_server.url("/wire.rss")}],
        feeds=[{"name": "all", "title": "All", "max_items": 3, "archive": True}],
        retention={"max_age": "30d"},
    )
    assert run(config, "poll") == 0
    capsys.readouterr()
    # The two old entries left the subscription document for this month's archive page,
    # which is written until the month is over: they stay until then.
    assert run(config, "prune") == 0
    assert capsys.readouterr().out.startswith("wire: removed 0, kept 2 past the limits")
    assert publish_feeds(config_module.load(config), Store(database_url)) == []


def test_the_service_prune_job(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    feed_server.add("/wire.rss", rss("https://wire.example", WIRE, now))
    path = write_config(
        [{"name": "wire", "url": feed_server.url("/wire.rss")}],
        feeds=[{"name": "all", "title": "All", "max_items": 3}],
        retention={"max_age": "30d"},
    )
    assert run(path, "poll") == 0
    store = Store(database_url)
    # A year on, everything is past max_age but what the feed shows.
    service = Service(path, config_module.load(path), store, clock=lambda: now + 365 * DAY)
    with caplog.at_level(logging.INFO, logger="newsriver.run.service"):
        service.prune()
    assert store.sources.entry_counts() == {"wire": 3}
    assert "pruned 2 entries (wire 2); 0 tombstones expired" in caplog.messages


def test_the_service_runs_the_prune_job_daily(
    write_config: ConfigWriter, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # run() installs handlers; not in the test process
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write_config([], listen=f"127.0.0.1:{port}")
    start = datetime.now(UTC)
    service = Service(path, config_module.load(path), Store(database_url), clock=lambda: start)
    scheduled: list[tuple[datetime, timedelta]] = []

    def watch() -> None:
        deadline = time.monotonic() + 10
        while not scheduled and time.monotonic() < deadline:
            job = service._scheduler.get_job("prune")
            if job is not None:
                scheduled.append((job.next_run_time, job.trigger.interval))
            time.sleep(0.01)
        service._stopping.set()

    threading.Thread(target=watch).start()
    assert service.run()
    assert scheduled == [(start + timedelta(minutes=10), timedelta(days=1))]


def _rows(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(entries_table)))
