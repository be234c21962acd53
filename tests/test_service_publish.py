"""When the service republishes: after a tick whose polls changed content, or one tick later
when more of its sources come due before the next tick (``Service._publish_waits``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.run.service import Service
from newsriver.store.store import Store

from .conftest import FIXTURES, ConfigWriter, FixtureServer


def test_a_publish_waits_one_tick_for_sources_coming_due_before_it(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str
) -> None:
    sources = [
        {"name": "wire", "url": feed_server.add("/wire.rss", FIXTURES / "wire.rss")},
        {"name": "daily", "url": feed_server.add("/daily.atom", FIXTURES / "daily.atom")},
    ]
    path = write_config(sources, adaptive=False, jitter=0, default_interval="2h", tick="5s")
    assert main(["--config", str(path), "poll"]) == 0
    now = [datetime.now(UTC)]
    store = Store(database_url)
    service = Service(path, config_module.load(path), store, clock=lambda: now[0])
    try:
        service.tick()  # the first tick publishes whatever is due
        first = service.last_publish
        assert first is not None

        # Content changed, and daily comes due within the tick: the publish waits for it.
        store.sources.update("daily", next_poll=now[0] + timedelta(seconds=2))
        service.coordinator.bump()
        now[0] += timedelta(seconds=1)
        service.tick()
        assert service.last_publish == first

        # The next tick polls daily and publishes, however many sources come due then.
        store.sources.update("wire", next_poll=now[0] + timedelta(seconds=8))
        now[0] += timedelta(seconds=5)
        service.tick()
        assert service.last_publish == now[0]
        assert store.sources.rows()["daily"].last_fetch == now[0]

        # Nothing due before the next tick: a change is published at once.
        store.sources.update("wire", next_poll=now[0] + timedelta(hours=1))
        service.coordinator.bump()
        now[0] += timedelta(seconds=5)
        service.tick()
        assert service.last_publish == now[0]
    finally:
        service._end_digesting()
        service._end_fetching()
        store.close()
