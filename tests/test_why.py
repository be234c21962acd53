"""``status`` says why a source is polled when it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsriver.cli import main
from newsriver.ingest.schedule import Policy
from newsriver.run.why import duration, schedule_reason

from .conftest import FIXTURES, ConfigWriter, FixtureServer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
POLICY = Policy(interval=timedelta(minutes=30))


def reason(policy: Policy = POLICY, status: str = "ok", errors: int = 0, **kwargs: object) -> str:
    values: dict[str, object] = {"retry_after": None, "feed_interval": timedelta(0), "published": []} | kwargs
    return schedule_reason(policy, status, errors, now=NOW, **values)  # type: ignore[arg-type]


def test_each_rule_is_named() -> None:
    every_7h = [NOW - 7 * HOUR * n for n in range(4)]
    assert reason(published=every_7h) == "adaptive: 5h (4 entries in 7 d)"  # 21 h up to now / 4
    assert reason(Policy(interval=timedelta(minutes=30), adaptive=False), published=every_7h) == "interval 30m"
    assert reason() == "interval 30m (adaptive once it has entries)"
    assert reason(feed_interval=timedelta(hours=2)) == "feed ttl 2h"
    assert reason(errors=2) == "backoff ×4 of 30m"
    assert reason(status="backoff", errors=1, retry_after=NOW + HOUR) == "Retry-After (until 13:00 UTC)"
    assert reason(status="gone") == "gone (HTTP 410)"


def test_durations_read_like_the_config() -> None:
    assert [duration(timedelta(seconds=s)) for s in (45, 300, 3600, 5400, 25920, 86400 * 7)] == [
        "45s",
        "5m",
        "1h",
        "90m",
        "7h",
        "7d",
    ]


def test_status_shows_why(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    config: Path = write_config(
        [
            {
                "name": "wire",
                "url": feed_server.add("/wire.rss", FIXTURES / "wire.rss"),
                "interval": "2h",
                "adaptive": False,
            }
        ]
    )
    main(["--config", str(config), "poll"])
    capsys.readouterr()
    assert main(["--config", str(config), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["schedule"] == "interval 2h"
    assert main(["--config", str(config), "status"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert "WHY" in header and "interval 2h" in row
