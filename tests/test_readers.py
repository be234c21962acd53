"""Real feed readers against the real server: newsboat reads every item; Chromium follows every link."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import feedparser
import pytest
import requests

from newsriver.cli import main
from newsriver.publish.serve import FeedServer, close_server, make_server

from .conftest import FIXTURES, ConfigWriter, FixtureServer

# Headless, and nothing that would reach beyond 127.0.0.1 (updates, sync, QUIC probes).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def need(binary: str) -> str:
    """The binary's path; CI installs it, so there its absence is a failure, not a skip."""
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not installed; .ci/run should have installed it")
        pytest.skip(f"{binary} is not installed")
    return path


@pytest.fixture
def served(feed_server: FixtureServer, write_config: ConfigWriter) -> Iterator[tuple[str, Path]]:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    feed_server.add("/daily.atom", FIXTURES / "daily.atom")
    app = FeedServer(Path("unused"))
    server = make_server(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.effective_port}/"
    config = write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss")},
            {"name": "daily", "url": feed_server.url("/daily.atom")},
        ],
        base_url=base,
    )
    assert main(["--config", str(config), "poll"]) == 0
    app.root = config.parent / "out"
    threading.Thread(target=server.run, daemon=True).start()
    yield base, app.root
    close_server(server)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_newsboat_reads_every_item_with_its_title_and_link(served: tuple[str, Path], tmp_path: Path, fmt: str) -> None:
    newsboat = need("newsboat")
    base, out = served
    home = tmp_path / "home"
    home.mkdir()
    (home / "urls").write_text(f"{base}all.{fmt}\n")
    (home / "config").write_text("")
    cache = home / "cache.db"
    # One format per cache: newsboat keys items by guid, and both formats share the ids.
    result = subprocess.run(
        [newsboat, "-x", "reload", "-u", str(home / "urls"), "-c", str(cache), "-C", str(home / "config")],
        env={**os.environ, "HOME": str(home), "TERM": "dumb"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(cache) as db:
        got = set(db.execute("SELECT title, url FROM rss_item WHERE feedurl = ?", (f"{base}all.{fmt}",)))
    expected = {(e.title, e.link) for e in feedparser.parse((out / f"all.{fmt}").read_bytes()).entries}
    assert len(expected) == 4
    assert {(t, same_origin_form(u)) for t, u in got} == {(t, same_origin_form(u)) for t, u in expected}


def same_origin_form(url: str) -> str:
    """newsboat lower-cases the host and drops a default port; nothing else may differ."""
    parts = urlsplit(url)
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port not in (None, 80, 443) else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.typed: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "a" and values.get("type"):
            self.typed[values["href"]] = values["type"]


def test_index_page_in_chromium_links_to_feeds_that_answer(served: tuple[str, Path], tmp_path: Path) -> None:
    chromium = need("chromium")
    base, _ = served
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            base,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    anchors = Anchors()
    anchors.feed(result.stdout)  # the DOM as the browser built it
    assert len(anchors.typed) == 3
    for href, media_type in anchors.typed.items():
        response = requests.get(href, timeout=10)
        assert response.status_code == 200, href
        assert response.headers["Content-Type"] == f"{media_type}; charset=utf-8"
