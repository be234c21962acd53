"""Polling against a server that fails in every way a feed host can: what is stored, and when next.

All traffic goes to the fault server on 127.0.0.1. Timeouts are short (0.5 s silence,
1 s per fetch) so the slow endpoints cost about a second each, and the clock is fixed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml

from newsriver.cli import main
from newsriver.config.schema import Config, validated
from newsriver.ingest.fetch import FetchLimits
from newsriver.ingest.network import IPAddress, Network, is_public, resolve
from newsriver.run import digesting
from newsriver.run.outcome import Outcome
from newsriver.run.poll import poll_sources
from newsriver.store.sources import SourceRow
from newsriver.store.store import Store

from .conftest import FixtureServer
from .faults import ETAG, LAST_MODIFIED, FaultServer

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LIMITS = FetchLimits(connect_timeout=1.0, read_timeout=0.5, deadline=1.0)
INTERVAL = timedelta(minutes=30)
BACKOFF = 2 * INTERVAL  # after the first failure


class Middle(random.Random):
    """The centre of the jitter band, so next-poll times are exact."""

    def random(self) -> float:
        return 0.5


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'newsriver.db'}")
    yield opened
    opened.close()


def make_config(store: Store, sources: dict[str, str], **settings: Any) -> Config:
    config = validated(
        Config,
        {
            "settings": {"database": store.url, "adaptive": False, "default_interval": "30m", **settings},
            "sources": [{"name": name, "url": url} for name, url in sources.items()],
        },
    )
    store.sources.sync((s.name, s.url) for s in config.sources)
    return config


def run(config: Config, store: Store, at: datetime = NOW, network: Network | None = None) -> dict[str, Outcome]:
    outcomes = poll_sources(config, store, clock=lambda: at, limits=LIMITS, rng=Middle(), network=network)
    return {o.source: o for o in outcomes}


def poll_one(faults: FaultServer, store: Store, path: str, at: datetime = NOW) -> tuple[Outcome, SourceRow]:
    config = make_config(store, {"s": faults.url(path)})
    outcome = run(config, store, at)["s"]
    return outcome, store.sources.rows()["s"]


def entries(store: Store) -> int:
    return store.sources.entry_counts().get("s", 0)


# --- healthy, conditional, unchanged ------------------------------------------------------


def test_healthy_feed_is_stored_and_polled_after_the_interval(faults: FaultServer, store: Store) -> None:
    outcome, row = poll_one(faults, store, "/feed.rss")
    assert (outcome.result, outcome.new) == ("ok", 3)
    assert (row.state, row.errors, row.last_success) == ("ok", 0, NOW)
    assert row.next_poll == NOW + INTERVAL
    assert entries(store) == 3
    sent = faults.requests[-1].headers
    assert sent["User-Agent"].startswith("newsriver/")
    assert {"gzip", "deflate", "br"} <= {c.strip() for c in sent["Accept-Encoding"].split(",")}


@pytest.mark.parametrize(
    ("path", "sent", "not_sent", "value"),
    [
        ("/etag.rss", "If-None-Match", "If-Modified-Since", ETAG),
        ("/last-modified.rss", "If-Modified-Since", "If-None-Match", LAST_MODIFIED),
    ],
)
def test_validators_make_the_next_poll_conditional(
    faults: FaultServer, store: Store, path: str, sent: str, not_sent: str, value: str
) -> None:
    poll_one(faults, store, path)
    later = NOW + timedelta(hours=1)
    outcome, row = poll_one(faults, store, path, at=later)
    request = faults.requests[-1].headers
    assert request[sent] == value and not_sent not in request
    assert outcome.result == "not modified"
    assert (row.state, row.next_poll, row.last_success) == ("not modified", later + INTERVAL, later)
    assert entries(store) == 3


def test_an_unchanged_body_is_not_parsed_again(
    faults: FaultServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real_digest = digesting.Digesting.__call__

    def counting_digest(self: digesting.Digesting, body: bytes, url: str, *rest: Any) -> Any:
        parsed.append(url)  # documents go to a worker process to be parsed from here
        return real_digest(self, body, url, *rest)

    monkeypatch.setattr(digesting.Digesting, "__call__", counting_digest)
    poll_one(faults, store, "/no-conditional.rss")
    outcome, row = poll_one(faults, store, "/no-conditional.rss", at=NOW + timedelta(hours=1))
    assert faults.hits("/no-conditional.rss") == 2  # the server ignores conditional GET
    assert len(parsed) == 1
    assert (outcome.result, row.state) == ("not modified", "not modified")


def test_gzip_body_is_decompressed(faults: FaultServer, store: Store) -> None:
    outcome, _row = poll_one(faults, store, "/gzip.rss")
    assert (outcome.result, outcome.new) == ("ok", 3)


def test_malformed_xml_keeps_what_can_be_read(faults: FaultServer, store: Store) -> None:
    # A bare "&" and no </channel></rss>: read leniently, stored, and the source warns.
    outcome, row = poll_one(faults, store, "/malformed.xml")
    assert (outcome.result, row.state, row.next_poll) == ("ok", "warning", NOW + INTERVAL)
    assert row.warning.startswith("the document ends early, without its </rss>") and row.last_error == ""
    assert row.errors == 0
    titles = sorted(a.title for a in store.selection.for_feed(["s"], 10))
    assert titles == ["Salt & pepper", "Second"]


def test_a_wrong_charset_header_does_not_garble_text(faults: FaultServer, store: Store) -> None:
    outcome, row = poll_one(faults, store, "/wrong-charset.rss")
    assert (outcome.result, row.state) == ("ok", "ok")
    assert [a.title for a in store.selection.for_feed(["s"], 10)] == ["Café crème"]
    assert row.title == "Café news"


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/status/500", "HTTP 500 Internal Server Error"),
        ("/status/404", "HTTP 404 Not Found"),
        ("/slow-headers", "took longer than 1 s"),
        ("/slow-body", "took longer than 1 s"),
        ("/stall", "timed out: nothing received for 0.5 s"),
        ("/endless", "body larger than 15 MiB (after decompression)"),
        ("/bomb/gzip", "body larger than 15 MiB (after decompression)"),
        ("/bomb/deflate", "body larger than 15 MiB (after decompression)"),
        ("/bomb/br", "body larger than 15 MiB (after decompression)"),
        ("/loop/a", "redirect loop: {base}/loop/a → {base}/loop/b → {base}/loop/a"),
        ("/hops/6", "more than 5 redirects"),
        ("/to-ftp", "redirected to an unsupported URL scheme: ftp://127.0.0.1/feed.rss"),
        ("/bare.html", 'not a feed: an HTML page without a <link rel="alternate"> to a feed'),
        ("/not-xml", "not a feed"),
    ],
)
def test_a_failure_is_recorded_and_backed_off(faults: FaultServer, store: Store, path: str, message: str) -> None:
    outcome, row = poll_one(faults, store, path)
    expected = message.format(base=faults.url(""))
    assert outcome.result == "error" and expected in outcome.error
    assert outcome.seconds < 3 * LIMITS.deadline
    assert (row.state, row.errors, row.last_success) == ("error", 1, None)
    assert expected in row.last_error
    assert row.next_poll == NOW + BACKOFF
    assert entries(store) == 0


def test_five_redirects_are_followed(faults: FaultServer, store: Store) -> None:
    outcome, row = poll_one(faults, store, "/hops/5")
    assert (outcome.result, outcome.new) == ("ok", 3)
    assert row.feed_url == faults.url("/hops/5")


def test_errors_back_off_exponentially_and_the_first_success_recovers(faults: FaultServer, store: Store) -> None:
    config = make_config(store, {"s": faults.url("/flaky")})
    at = NOW
    for errors in (1, 2, 3):
        assert run(config, store, at)["s"].result == "error"
        row = store.sources.rows()["s"]
        assert (row.state, row.errors) == ("error", errors)
        assert row.next_poll == at + INTERVAL * 2**errors
        at = row.next_poll
    faults.flaky_ok = True
    assert run(config, store, at)["s"].result == "ok"
    row = store.sources.rows()["s"]
    assert (row.state, row.errors, row.last_error, row.next_poll) == ("ok", 0, "", at + INTERVAL)


def test_410_gone_is_never_polled_again(faults: FaultServer, store: Store) -> None:
    outcome, row = poll_one(faults, store, "/status/410")
    assert outcome.result == "error" and "no longer polled" in outcome.error
    assert (row.state, row.next_poll) == ("gone", None)
    later, _row = poll_one(faults, store, "/status/410", at=NOW + timedelta(days=30))
    assert later.result == "skipped" and "gone" in later.note
    assert faults.hits("/status/410") == 1


def test_429_retry_after_seconds_pushes_the_whole_host_back(faults: FaultServer, store: Store) -> None:
    other_host = Network(resolve=lambda host, port: resolve("127.0.0.1" if host == "other.test" else host, port))
    config = make_config(
        store,
        {
            "limited": faults.url("/429"),
            "sibling": faults.url("/feed.rss"),  # same host, queued behind the 429
            "elsewhere": faults.url("/etag.rss", host="other.test"),
        },
        host_concurrency=1,
    )
    until = NOW + timedelta(hours=2)
    first = run(config, store, NOW, other_host)
    assert first["limited"].result == "error" and "HTTP 429" in first["limited"].error
    assert first["sibling"].result == "skipped" and "2026-03-02 14:00:00" in first["sibling"].note
    assert first["elsewhere"].result == "ok"
    rows = store.sources.rows()
    assert (rows["limited"].state, rows["limited"].errors) == ("backoff", 1)
    assert rows["limited"].next_poll == rows["limited"].retry_after == until
    assert rows["sibling"].next_poll == rows["sibling"].retry_after == until
    assert rows["elsewhere"].next_poll == NOW + INTERVAL and rows["elsewhere"].retry_after is None

    # A manual pass inside the window still leaves the host alone.
    inside = run(config, store, NOW + timedelta(hours=1), other_host)
    assert {inside["limited"].result, inside["sibling"].result} == {"skipped"}
    assert faults.hits("/429") == 1 and faults.hits("/feed.rss") == 0

    # Once it has passed, the host is polled again (and here asks for another two hours).
    after = until + timedelta(seconds=1)
    assert run(config, store, after, other_host)["limited"].result == "error"
    assert faults.hits("/429") == 2
    assert store.sources.rows()["sibling"].retry_after == after + timedelta(hours=2)


def test_503_retry_after_date_is_honoured(faults: FaultServer, store: Store) -> None:
    faults.retry_date = NOW + timedelta(hours=3)
    outcome, row = poll_one(faults, store, "/503")
    assert outcome.result == "error" and "2026-03-02 15:00:00" in outcome.error
    assert (row.state, row.next_poll, row.retry_after) == ("backoff", faults.retry_date, faults.retry_date)


def rss(items: Sequence[tuple[str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{guid}</title><guid isPermaLink='false'>{guid}</guid>"
        f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} +0000</pubDate></item>"
        for guid, when in items
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{entries}</channel></rss>"


def test_the_adaptive_interval_counts_the_stored_entries_and_the_new_ones(
    feed_server: FixtureServer, store: Store
) -> None:
    hours = timedelta(hours=1)
    feed_server.add("/rhythm.rss", rss([(f"old{n}", NOW - n * 10 * hours) for n in (4, 3, 2, 1)]))
    config = make_config(store, {"s": feed_server.url("/rhythm.rss")}, adaptive=True)
    run(config, store)
    # Four entries in the 40 hours before now: one every 10 hours.
    assert store.sources.rows()["s"].next_poll == NOW + 10 * hours
    # The feed now carries two new entries only; the four stored ones still count.
    later = NOW + hours
    feed_server.add("/rhythm.rss", rss([("new1", later - 5 * hours), ("new2", later - 2 * hours)]))
    run(config, store, later)
    assert store.sources.rows()["s"].next_poll == later + 41 * hours / 6


def test_a_dormant_feed_answering_304_is_polled_as_rarely_as_allowed(feed_server: FixtureServer, store: Store) -> None:
    feed_server.add("/dormant.rss", rss([("a", NOW - timedelta(days=20)), ("b", NOW - timedelta(days=19))]))
    config = make_config(store, {"s": feed_server.url("/dormant.rss")}, adaptive=True)
    run(config, store)
    later = NOW + timedelta(days=1)
    outcome = run(config, store, later)["s"]
    # Nothing in the last week: dormant, so the longest interval, not the configured 30 min.
    assert outcome.result == "not modified"
    assert store.sources.rows()["s"].next_poll == later + timedelta(hours=24)


# --- what the feed asks for ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wait"),
    [("/cached.rss", timedelta(hours=2)), ("/ttl.rss", timedelta(hours=3)), ("/sy.rss", timedelta(hours=1))],
)
def test_never_polled_earlier_than_the_feed_asks(faults: FaultServer, store: Store, path: str, wait: timedelta) -> None:
    _outcome, row = poll_one(faults, store, path)
    assert row.next_poll == NOW + wait


def test_the_feeds_ttl_still_counts_when_it_answers_304(faults: FaultServer, store: Store) -> None:
    poll_one(faults, store, "/ttl.rss")
    later = NOW + timedelta(hours=3)
    outcome, row = poll_one(faults, store, "/ttl.rss", at=later)
    assert outcome.result == "not modified"
    assert row.next_poll == later + timedelta(hours=3)


# --- redirects and discovery ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "state", "moved_to"),
    [
        ("/301", "moved", "/feed.rss"),
        ("/308", "moved", "/feed.rss"),
        ("/chain", "moved", "/chain/3"),  # 301 → 308 → 302: the permanent run ends at /chain/3
        ("/302", "ok", None),
        ("/307", "ok", None),
    ],
)
def test_permanent_redirects_move_the_source_temporary_ones_do_not(
    faults: FaultServer,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    path: str,
    state: str,
    moved_to: str | None,
) -> None:
    with caplog.at_level(logging.WARNING, logger="newsriver.run.poll"):
        outcome, row = poll_one(faults, store, path)
    assert (outcome.result, outcome.new, row.state) == ("ok", 3, state)
    assert row.next_poll == NOW + INTERVAL
    expected_url = faults.url(moved_to or path)
    assert row.feed_url == expected_url
    warned = [r.getMessage() for r in caplog.records if "update the config" in r.getMessage()]
    assert warned == ([f"s: moved permanently to {expected_url}; update the config"] if moved_to else [])

    # The next poll goes to the new URL directly, conditionally.
    second, _row = poll_one(faults, store, path, at=NOW + timedelta(hours=1))
    assert second.result == "not modified"
    assert faults.hits(path) == (1 if moved_to else 2)
    assert faults.requests[-1].headers.get("If-None-Match") == ETAG


def test_an_html_page_leads_to_its_feed(faults: FaultServer, store: Store) -> None:
    outcome, row = poll_one(faults, store, "/page.html")
    assert (outcome.result, outcome.new) == ("ok", 3)
    assert "discovered feed" in outcome.note
    assert (row.feed_url, row.feed_url_origin, row.state) == (faults.url("/feed.rss"), "discovery", "ok")
    second, _row = poll_one(faults, store, "/page.html", at=NOW + timedelta(hours=1))
    assert second.result == "not modified"
    assert faults.hits("/page.html") == 1


# --- network safety ------------------------------------------------------------------------

LOOPBACK_IS_PUBLIC = ipaddress.ip_address("127.0.0.1")


def pretend_public(private_names: dict[str, Sequence[str]]) -> Network:
    """The fault server's 127.0.0.1 plays a public host; ``private_names`` resolve as given."""

    def lookup(host: str, port: int) -> Sequence[str]:
        return private_names[host] if host in private_names else resolve(host, port)

    def classify(ip: IPAddress) -> bool:
        return ip == LOOPBACK_IS_PUBLIC or is_public(ip)

    return Network(resolve=lookup, is_public=classify)


@pytest.mark.parametrize("path", ["/to-private", "/page-to-private.html"])
def test_a_public_host_cannot_lead_into_private_space(faults: FaultServer, store: Store, path: str) -> None:
    faults.private_base = f"http://intranet.test:{faults.port}"
    config = make_config(store, {"s": faults.url(path)})
    outcome = run(config, store, NOW, pretend_public({"intranet.test": ["::1"]}))["s"]
    assert outcome.result == "error"
    assert "refused: intranet.test resolves to ::1, a loopback address, and was reached from a public one" in (
        outcome.error
    )
    assert store.sources.rows()["s"].feed_url == faults.url(path)


def test_a_configured_private_url_may_redirect_within_private_space(faults: FaultServer, store: Store) -> None:
    faults.private_base = f"http://intranet.test:{faults.port}"
    network = Network(resolve=lambda host, port: resolve("127.0.0.1" if host == "intranet.test" else host, port))
    config = make_config(store, {"s": faults.url("/to-private")})
    assert run(config, store, NOW, network)["s"].result == "ok"


def test_a_move_made_through_a_public_host_stays_guarded(faults: FaultServer, store: Store) -> None:
    config = make_config(store, {"s": faults.url("/301")})
    run(config, store, NOW, pretend_public({}))
    row = store.sources.rows()["s"]
    assert (row.state, row.via_public) == ("moved", True)


# --- concurrency ---------------------------------------------------------------------------


def test_a_slow_host_holds_only_its_own_slots(faults: FaultServer, store: Store) -> None:
    network = Network(resolve=lambda host, port: resolve("127.0.0.1" if host.endswith(".test") else host, port))
    slow = {f"slow{i}": faults.url("/slow-body", host="slow.test") for i in range(4)}
    fast = {"fast1": faults.url("/feed.rss", host="fast.test"), "fast2": faults.url("/etag.rss", host="fast.test")}
    config = make_config(store, slow | fast, concurrency=3, host_concurrency=2)
    order: list[str] = []
    poll_sources(
        config,
        store,
        clock=lambda: NOW,
        limits=LIMITS,
        rng=Middle(),
        network=network,
        on_outcome=lambda o: order.append(o.source),
    )
    assert sorted(order[:2]) == ["fast1", "fast2"]
    # Two slow fetches at once, no more: the third started only when a slot came free.
    slow_arrivals = [at for host, at in faults.arrivals if host.startswith("slow.test")]
    assert len(slow_arrivals) == 4
    assert slow_arrivals[1] - slow_arrivals[0] < LIMITS.deadline / 2
    assert slow_arrivals[2] - slow_arrivals[0] > LIMITS.deadline * 0.9


# --- the whole `newsriver poll` -------------------------------------------------------------

FAULT_PATHS = [
    "/slow-headers",
    "/stall",
    "/slow-body",
    "/status/500",
    "/status/404",
    "/status/410",
    "/429",
    "/503",
    "/301",
    "/302",
    "/308",
    "/chain",
    "/loop/a",
    "/hops/6",
    "/to-ftp",
    "/endless",
    "/bomb/gzip",
    "/bomb/br",
    "/page.html",
    "/bare.html",
    "/malformed.xml",
    "/not-xml",
    "/wrong-charset.rss",
    "/etag.rss",
    "/last-modified.rss",
]


def test_a_poll_over_every_fault_finishes_in_bounded_time_and_publishes_the_healthy(
    faults: FaultServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = [{"name": f"fault{i}", "url": faults.url(path)} for i, path in enumerate(FAULT_PATHS)]
    # The healthy sources live on another host name, so the 429's Retry-After does not touch them.
    sources += [
        {"name": "healthy-gzip", "url": faults.url("/gzip.rss", host="localhost")},
        {"name": "healthy-atom", "url": faults.url("/daily.atom", host="localhost")},
    ]
    config = tmp_path / "newsriver.yaml"
    settings = {
        "database": f"sqlite:///{tmp_path / 'newsriver.db'}",
        "output_dir": str(tmp_path / "out"),
        "connect_timeout": 1,
        "timeout": 0.5,
        "deadline": 1,
    }
    config.write_text(yaml.safe_dump({"settings": settings, "sources": sources}), encoding="utf-8")
    started = time.monotonic()
    assert main(["--config", str(config), "poll"]) == 0
    elapsed = time.monotonic() - started
    # Three slow endpoints cut off at 1 s each, two at a time: about 2 s. The slow servers
    # would hold on for 10 s each without the deadline.
    assert elapsed < 8, elapsed
    lines = capsys.readouterr().out.splitlines()
    for source in sources:
        assert sum(line.startswith(f"{source['name']}: ") for line in lines) == 1, source["name"]
    atom = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes())
    assert "https://daily.example.com/local/bike-lanes" in {e.link for e in atom.entries}
    assert main(["--config", str(config), "status", "--json"]) == 0
    rows = {r["source"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["healthy-gzip"]["status"] == "ok" and rows["healthy-gzip"]["entries"] == 3
    assert rows["healthy-atom"]["status"] == "ok" and rows["healthy-atom"]["entries"] == 2
    allowed = {"ok", "not modified", "moved", "error", "backoff", "gone", "new"}
    assert {r["status"] for r in rows.values()} <= allowed


def test_status_shows_gone_moved_and_errors_and_poll_skips_gone(
    faults: FaultServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsriver.yaml"
    sources = {"dead": "/status/410", "moved": "/301", "broken": "/status/500", "fine": "/daily.atom"}
    document = {
        "settings": {"database": f"sqlite:///{tmp_path / 'newsriver.db'}", "output_dir": str(tmp_path / "out")},
        "sources": [{"name": name, "url": faults.url(path)} for name, path in sources.items()],
    }
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert main(["--config", str(config), "poll"]) == 0
    first = capsys.readouterr().out
    assert "dead: error: HTTP 410 Gone: the feed was removed for good" in first
    assert f"moved: new 3, updated 0 (moved permanently to {faults.url('/feed.rss')}; update the config)" in first
    assert main(["--config", str(config), "poll"]) == 0
    second = capsys.readouterr().out
    assert "dead: skipped: gone (HTTP 410)" in second
    assert "4 sources: 2 ok, 1 failed, 1 skipped" in second
    assert faults.hits("/status/410") == 1

    assert main(["--config", str(config), "status", "--json"]) == 0
    rows = {r["source"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["dead"]["status"], rows["dead"]["next_poll"]) == ("gone", None)
    assert rows["moved"]["status"] == "moved"
    assert (rows["moved"]["url"], rows["moved"]["feed_url"]) == (faults.url("/301"), faults.url("/feed.rss"))
    assert (rows["broken"]["status"], rows["broken"]["errors"]) == ("error", 2)
    assert rows["broken"]["last_error"] == "HTTP 500 Internal Server Error"
    assert rows["fine"]["status"] == "not modified" and rows["fine"]["entries"] == 2
    for row in rows.values():
        assert set(row) >= {"status", "last_success", "last_error", "errors", "next_poll", "entries"}

    assert main(["--config", str(config), "status"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["SOURCE", "STATE", "LAST"]
    dead = next(line for line in table if line.startswith("dead "))
    assert " gone " in dead and " never " in dead
    assert f"moved: moved permanently to {faults.url('/feed.rss')}; update the config" in table
