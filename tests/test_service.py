"""`newsriver run` as a real subprocess: polls, publishes, serves, stops cleanly on signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
import requests

from .conftest import FIXTURES, ConfigWriter, FixtureServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, predicate: object, deadline: float = 30.0) -> requests.Response:
    """Poll ``url`` until ``predicate(response)`` holds; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < end:
        try:
            response = requests.get(url, timeout=2)
            if callable(predicate) and predicate(response):
                return response
            last = response.status_code
        except requests.ConnectionError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready: {last}")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_polls_serves_and_stops_on_signal(
    feed_server: FixtureServer, write_config: ConfigWriter, stop_signal: signal.Signals
) -> None:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    port = free_port()
    config = write_config(
        [{"name": "wire", "url": feed_server.url("/wire.rss")}],
        listen=f"127.0.0.1:{port}",
        base_url=f"http://127.0.0.1:{port}/",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "newsriver.cli", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=config.parent,
    )
    try:
        response = wait_for(
            f"http://127.0.0.1:{port}/all.atom",
            lambda r: r.status_code == 200 and len(feedparser.parse(r.content).entries) == 3,
        )
        assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
        assert health["failing_sources"] == 0 and health["last_publish"]
        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "stopping" in process.stderr.read().decode()
    assert len(feed_server.hits("/wire.rss")) == 1  # polled once: the interval is 30 minutes


def test_serve_command_serves_the_output_folder(write_config: ConfigWriter, tmp_path: Path) -> None:
    port = free_port()
    config = write_config([{"name": "a", "url": "http://127.0.0.1:9/"}], listen=f"127.0.0.1:{port}")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "all.rss").write_bytes(b"<rss/>")
    process = subprocess.Popen(
        [sys.executable, "-m", "newsriver.cli", "--config", str(config), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        response = wait_for(f"http://127.0.0.1:{port}/all.rss", lambda r: r.status_code == 200)
        assert response.content == b"<rss/>"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
