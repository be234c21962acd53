"""Retry-After and fairness per origin (scheme, host, port), and ``sources reset``.

Two services on one machine are two origins: a 429 from one must not freeze the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.run.poll import poll_sources
from newsriver.store.coordination import Due, choose
from newsriver.store.store import Store

from .conftest import FIXTURES, ConfigWriter, FixtureServer


@pytest.fixture
def second_server() -> Iterator[FixtureServer]:
    server = FixtureServer()
    yield server
    server.close()


def test_a_429_on_one_origin_leaves_the_other_polled(
    feed_server: FixtureServer,
    second_server: FixtureServer,
    write_config: ConfigWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    busy, calm = second_server, feed_server
    busy.add("/busy.rss", b"slow down", status=429, headers={"Retry-After": "3600"}, etag=False)
    names = [f"calm-{n}" for n in range(4)]
    for name in names:
        calm.add(f"/{name}.rss", FIXTURES / "wire.rss")
    # One fetch per origin at a time: the 429 arrives while every calm source still waits.
    config = write_config(
        [{"name": "busy", "url": busy.url("/busy.rss")}, *({"name": n, "url": calm.url(f"/{n}.rss")} for n in names)],
        host_concurrency=1,
        concurrency=1,
    )
    assert main(["--config", str(config), "poll"]) == 0
    printed = capsys.readouterr().out
    assert "busy: error: HTTP 429" in printed
    for name in names:
        assert f"{name}: new" in printed and len(calm.hits(f"/{name}.rss")) == 1

    # The next pass leaves the busy origin alone and polls the calm one as usual.
    assert main(["--config", str(config), "poll"]) == 0
    printed = capsys.readouterr().out
    assert "busy: skipped: the host asked to wait until" in printed
    assert len(busy.hits("/busy.rss")) == 1
    for name in names:
        assert len(calm.hits(f"/{name}.rss")) == 2
    loaded = config_module.load(config)
    store = Store(loaded.settings.database)
    try:
        rows = store.sources.rows()
    finally:
        store.close()
    assert rows["busy"].retry_after is not None
    assert all(rows[name].retry_after is None for name in names)


def test_sources_reset_clears_backoff_retry_after_and_gone(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add("/busy.rss", b"", status=429, headers={"Retry-After": "3600"}, etag=False)
    feed_server.add("/gone.rss", b"", status=410, etag=False)
    feed_server.add("/fine.rss", FIXTURES / "wire.rss")
    config = write_config(
        [
            {"name": "busy", "url": feed_server.url("/busy.rss")},
            {"name": "gone", "url": feed_server.url("/gone.rss")},
            {"name": "fine", "url": feed_server.url("/fine.rss")},
        ]
    )
    main(["--config", str(config), "poll"])
    main(["--config", str(config), "poll"])
    printed = capsys.readouterr().out
    assert "busy: skipped" in printed and "gone: skipped" in printed
    assert len(feed_server.hits("/busy.rss")) == 1 and len(feed_server.hits("/gone.rss")) == 1

    assert main(["--config", str(config), "sources", "reset", "busy", "gone"]) == 0
    printed = capsys.readouterr().out
    assert "busy: reset (was backoff, 1 error, Retry-After until" in printed
    assert "gone: reset (was gone, 1 error" in printed  # also waiting: busy is on its origin
    feed_server.add("/busy.rss", FIXTURES / "wire.rss")
    main(["--config", str(config), "poll"])
    printed = capsys.readouterr().out
    assert "busy: new 3" in printed and "gone: error: HTTP 410" in printed
    assert len(feed_server.hits("/busy.rss")) == 2 and len(feed_server.hits("/gone.rss")) == 2

    assert main(["--config", str(config), "sources", "reset", "nosuch"]) == 1
    assert "no source named nosuch" in capsys.readouterr().err


def test_claims_count_fetches_in_flight_per_origin() -> None:
    due = [
        Due("a1", "http://h.example:8900/1"),
        Due("a2", "http://h.example:8900/2"),
        Due("b1", "http://h.example:8901/"),
    ]
    assert choose(due, Counter(), limit=10, per_host=1) == ["a1", "b1"]
    assert choose(due, Counter({"http://h.example:8900": 1}), limit=10, per_host=1) == ["b1"]


def test_a_pass_defers_only_the_origin_that_asked(
    feed_server: FixtureServer, second_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path
) -> None:
    second_server.add("/busy.rss", b"", status=503, headers={"Retry-After": "600"}, etag=False)
    feed_server.add("/calm.rss", FIXTURES / "wire.rss")
    config = config_module.load(
        write_config(
            [
                {"name": "busy", "url": second_server.url("/busy.rss")},
                {"name": "calm", "url": feed_server.url("/calm.rss")},
            ],
            host_concurrency=1,
            concurrency=1,  # busy is fetched first, calm only after its answer
        )
    )
    store = Store(config.settings.database)
    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        outcomes = {o.source: o.result for o in poll_sources(config, store)}
        rows = store.sources.rows()
    finally:
        store.close()
    assert outcomes == {"busy": "error", "calm": "ok"}
    assert rows["busy"].retry_after is not None and rows["calm"].retry_after is None
