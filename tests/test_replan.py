"""A config reload re-plans the sources whose schedule it changed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.run.service import Service
from newsriver.store.store import Store

from .conftest import FIXTURES, ConfigWriter, FixtureServer


def test_a_reload_moves_the_next_poll_of_a_source_whose_interval_changed(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sources = [
        {"name": "wire", "url": feed_server.add("/wire.rss", FIXTURES / "wire.rss"), "interval": "2h"},
        {"name": "daily", "url": feed_server.add("/daily.atom", FIXTURES / "daily.atom"), "interval": "2h"},
    ]
    path = write_config(sources, adaptive=False, jitter=0)
    assert main(["--config", str(path), "poll"]) == 0
    store = Store(database_url)
    try:
        before = {name: row.next_poll for name, row in store.sources.rows().items()}
        fetched = store.sources.rows()["wire"].last_fetch
        assert fetched is not None and before["wire"] is not None
        assert before["wire"] - fetched == timedelta(hours=2)
        now = datetime.now(UTC)
        service = Service(path, config_module.load(path), store, clock=lambda: now)
        document = yaml.safe_load(path.read_text())
        document["sources"][0]["interval"] = "5m"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        with caplog.at_level(logging.INFO, logger="newsriver.run.service"):
            assert service.reload()
        after = {name: row.next_poll for name, row in store.sources.rows().items()}
    finally:
        store.close()
    assert after["wire"] == max(fetched + timedelta(minutes=5), now)
    assert after["daily"] == before["daily"]  # its schedule did not change
    assert any(m.startswith("wire: its schedule changed; next poll") for m in caplog.messages)


def test_a_failing_source_keeps_its_backoff_across_a_reload(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    broken = feed_server.add("/broken.xml", FIXTURES / "broken.xml", content_type="text/plain")
    path = write_config([{"name": "broken", "url": broken, "interval": "2h"}], adaptive=False, jitter=0)
    main(["--config", str(path), "poll"])
    store = Store(database_url)
    try:
        before = store.sources.rows()["broken"].next_poll
        service = Service(path, config_module.load(path), store)
        path.write_text(path.read_text().replace("interval: 2h", "interval: 5m"))
        service.reload()
        assert store.sources.rows()["broken"].next_poll == before
    finally:
        store.close()
