"""`newsriver run` as a real subprocess: polls, publishes, serves, stops cleanly on signals."""

from __future__ import annotations

import json
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
from .processes import stop


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
        # The feed file is written a moment before the publish is recorded: wait for both.
        health = wait_for(f"http://127.0.0.1:{port}/healthz", lambda r: r.json()["last_publish"]).json()
        assert health["failing_sources"] == 0
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
        assert stop(process) == [0]
    finally:
        stop(process)


class Running:
    """``newsriver run`` as a subprocess, its log in a file we can read while it runs."""

    def __init__(self, config: Path, *options: str) -> None:
        self.log = config.parent / f"run-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsriver.cli", "--config", str(config), *options, "run"],
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            cwd=config.parent,
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, needle: str, deadline: float = 30.0) -> None:
        end = time.monotonic() + deadline
        while needle not in self.text():
            assert self.process.poll() is None, f"exited early: {self.text()}"
            assert time.monotonic() < end, f"{needle!r} never logged: {self.text()}"
            time.sleep(0.05)

    def stop(self) -> int:
        try:
            return stop(self.process)[0]
        finally:
            self._log_file.close()


def entry_count(port: int, expected: int) -> object:
    return lambda r: r.status_code == 200 and len(feedparser.parse(r.content).entries) == expected


@pytest.mark.parametrize("trigger", ["sighup", "file change"])
def test_reload_adds_a_source_and_survives_an_invalid_config(
    feed_server: FixtureServer, write_config: ConfigWriter, trigger: str
) -> None:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    feed_server.add("/daily.atom", FIXTURES / "daily.atom")
    port = free_port()
    settings = {"listen": f"127.0.0.1:{port}", "base_url": f"http://127.0.0.1:{port}/"}
    wire = {"name": "wire", "url": feed_server.url("/wire.rss")}
    config = write_config([wire], **settings)
    service = Running(config)
    try:
        wait_for(f"http://127.0.0.1:{port}/all.atom", entry_count(port, 3))

        # An invalid config is reported with file, line and field; the service keeps going.
        config.write_text(config.read_text().replace("name: wire", "name: wire\n  intervall: 5m"))
        if trigger == "sighup":
            service.process.send_signal(signal.SIGHUP)
        service.wait_log(f"config not reloaded: {config}:")
        assert "sources[0].intervall: unknown field" in service.text()

        write_config([wire, {"name": "daily", "url": feed_server.url("/daily.atom")}], **settings)
        if trigger == "sighup":
            service.process.send_signal(signal.SIGHUP)
        # The added source is polled at once and its entries published: 3 + 2, one shared story.
        wait_for(f"http://127.0.0.1:{port}/all.atom", entry_count(port, 4))
        assert "config reloaded: 2 sources, added ['daily']" in service.text()
    finally:
        assert service.stop() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_second_service_on_the_same_sqlite_database_refuses_to_start(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    port = free_port()
    config = write_config(
        [{"name": "wire", "url": feed_server.url("/wire.rss")}],
        listen=f"127.0.0.1:{port}",
        base_url=f"http://127.0.0.1:{port}/",
    )
    first = Running(config)
    try:
        wait_for(f"http://127.0.0.1:{port}/all.atom", entry_count(port, 3))
        second = subprocess.run(
            [sys.executable, "-m", "newsriver.cli", "--config", str(config), "run"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert f"another newsriver service (pid {first.process.pid}) is already running" in second.stderr
    finally:
        assert first.stop() == 0


def test_json_logs_and_prometheus_metrics(feed_server: FixtureServer, write_config: ConfigWriter) -> None:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    feed_server.add("/gone.xml", b"", status=500)
    port = free_port()
    config = write_config(
        [{"name": "wire", "url": feed_server.url("/wire.rss")}, {"name": "bad", "url": feed_server.url("/gone.xml")}],
        listen=f"127.0.0.1:{port}",
        base_url=f"http://127.0.0.1:{port}/",
    )
    service = Running(config, "--log-format", "json")
    try:
        wait_for(f"http://127.0.0.1:{port}/all.atom", entry_count(port, 3))
        service.wait_log('"event": "fetch", "source": "bad"')
        # Metrics are counted just after the fetch is logged, and the error gauge at publish.
        metrics = wait_for(f"http://127.0.0.1:{port}/metrics", lambda r: "newsriver_sources_in_error 1.0" in r.text)
    finally:
        assert service.stop() == 0
    events = [json.loads(line) for line in service.text().splitlines()]
    fetches = {e["source"]: e for e in events if e.get("event") == "fetch"}
    assert fetches["wire"]["result"] == "ok" and fetches["wire"]["new"] == 3 and fetches["wire"]["seconds"] >= 0
    assert fetches["bad"]["result"] == "error" and "500" in fetches["bad"]["error"]
    assert metrics.headers["Content-Type"].startswith("text/plain")
    text = metrics.text
    assert 'newsriver_fetches_total{result="ok"} 1.0' in text
    assert 'newsriver_fetches_total{result="error"} 1.0' in text
    assert 'newsriver_entries_ingested_total{kind="new"} 3.0' in text
    assert "newsriver_fetch_duration_seconds_count 2.0" in text
    assert "newsriver_sources_in_error 1.0" in text
    assert 'newsriver_source_consecutive_errors{source="bad"} 1.0' in text
    assert 'newsriver_source_consecutive_errors{source="wire"} 0.0' in text
    assert 'newsriver_source_entries{source="wire"} 3.0' in text
    assert 'newsriver_source_entries{source="bad"} 0.0' in text
    success = [line for line in text.splitlines() if line.startswith("newsriver_source_last_success_timestamp")]
    assert len(success) == 1 and success[0].startswith('newsriver_source_last_success_timestamp_seconds{source="wire"}')
    published = [line for line in text.splitlines() if line.startswith("newsriver_last_publish_timestamp_seconds ")]
    assert float(published[0].split()[1]) > 1.7e9


def test_a_busy_port_is_a_clear_error(write_config: ConfigWriter) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config([], listen=f"127.0.0.1:{port}")
        result = subprocess.run(
            [sys.executable, "-m", "newsriver.cli", "--config", str(config), "serve"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == f"newsriver: cannot listen on 127.0.0.1:{port}: Address already in use"
