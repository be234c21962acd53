"""Cache-Control: max-age of served feeds follows how often the sources are polled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsriver.config.load import load_text

from .conftest import ConfigWriter
from .processes import stop
from .test_service import free_port, wait_for


def max_age(sources: str, settings: str = "") -> int:
    return load_text(f"settings:\n  {settings or 'title: x'}\nsources:\n{sources}").cache_max_age()


def source(name: str, extra: str = "") -> str:
    return f"  - {{name: {name}, url: 'http://127.0.0.1:9/', {extra}}}\n"


def test_a_fifth_of_the_shortest_poll_interval() -> None:
    # Pinned intervals: the shortest of them counts.
    assert max_age(source("a", "interval: 2h, adaptive: false") + source("b", "interval: 1h, adaptive: false")) == 720
    # An adaptive source may be polled as often as min_interval (5 min by default): 60 s.
    assert max_age(source("a", "interval: 2h") + source("b", "interval: 3h, adaptive: false")) == 60
    assert max_age(source("a", "interval: 2h"), "min_interval: 20m") == 240
    assert max_age(source("a"), "adaptive: false") == 360  # default_interval 30 min
    assert max_age("  []\n", "default_interval: 10m") == 120  # no sources yet


def test_kept_between_a_minute_and_an_hour() -> None:
    assert max_age(source("a", "interval: 1m, adaptive: false")) == 60
    assert max_age(source("a", "interval: 1d, adaptive: false")) == 3600


@pytest.mark.parametrize("command", ["serve", "run"])
def test_the_server_sends_it(write_config: ConfigWriter, tmp_path: Path, command: str) -> None:
    port = free_port()
    config = write_config(
        [{"name": "a", "url": "http://127.0.0.1:9/", "interval": "2h", "adaptive": False}],
        listen=f"127.0.0.1:{port}",
    )
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "all.atom").write_bytes(b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
    process = subprocess.Popen(
        [sys.executable, "-m", "newsriver.cli", "--config", str(config), command],
        stdout=subprocess.DEVNULL,
        # A file, not a pipe nobody reads: a full pipe would block the service's logging.
        stderr=(tmp_path / "service.log").open("wb"),
        cwd=tmp_path,
    )
    try:
        response = wait_for(f"http://127.0.0.1:{port}/all.atom", lambda r: r.status_code == 200)
        assert response.headers["Cache-Control"] == "public, max-age=1440"
        assert stop(process) == [0], (tmp_path / "service.log").read_text()
    finally:
        stop(process)
