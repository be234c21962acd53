"""The output folder as subscribers meet it: index page, OPML, WebSub, title prefixes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs
from xml.etree import ElementTree

import feedparser
import pytest
import requests

from newsriver.cli import main
from newsriver.publish.serve import FeedServer, close_server, make_server
from newsriver.publish.websub import ping

from .conftest import FIXTURES, ConfigWriter, FixtureServer


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternates: list[dict[str, str]] = []
        self.anchors: list[dict[str, str]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "link" and values.get("rel") == "alternate":
            self.alternates.append(values)
        elif tag == "a":
            self.anchors.append(values)
        elif tag == "script":
            self.scripts += 1


@pytest.fixture
def published(feed_server: FixtureServer, write_config: ConfigWriter) -> Iterator[tuple[Path, str]]:
    """Two sources polled into two feeds, the output folder served on 127.0.0.1."""
    feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    feed_server.add("/daily.atom", FIXTURES / "daily.atom")
    feed_server.add("/hub", b"", status=202)
    app = FeedServer(Path("unused"))
    server = make_server(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.effective_port}/"
    config = write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss"), "title": "Wire Service", "tags": ["world"]},
            {"name": "daily", "url": feed_server.url("/daily.atom"), "tags": ["local"]},
        ],
        feeds=[
            {"name": "all", "title": "Everything", "description": "All of it"},
            {"name": "local", "title": "Local", "include": {"tags": ["local"]}, "formats": ["atom"]},
            {"name": "prefixed", "title": "Prefixed", "title_prefix": "source", "formats": ["json"]},
        ],
        base_url=base,
        websub_hubs=[feed_server.url("/hub")],
    )
    assert main(["--config", str(config), "poll"]) == 0
    app.root = config.parent / "out"  # known only now: the base URL had to go into the config
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield config, base
    close_server(server)


def test_index_page_lists_every_feed_and_every_subscribe_link_works(published: tuple[Path, str]) -> None:
    _, base = published
    page = requests.get(base, timeout=5)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    links = Links()
    links.feed(page.text)
    assert links.scripts == 0
    expected = {
        f"{base}all.atom",
        f"{base}all.rss",
        f"{base}all.json",
        f"{base}local.atom",
        f"{base}prefixed.json",
    }
    assert {a["href"] for a in links.alternates} == expected
    subscribe = {a["href"]: a["type"] for a in links.anchors if a.get("type")}
    assert set(subscribe) == expected
    for url, media_type in subscribe.items():
        response = requests.get(url, timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == f"{media_type}; charset=utf-8"
    assert "All of it" in page.text and "4 items" in page.text and "Wire Service" in page.text


def test_opml_lists_the_sources_behind_each_feed(published: tuple[Path, str]) -> None:
    config, _ = published
    out = config.parent / "out"
    everything = ElementTree.parse(out / "sources.opml").getroot()
    assert {o.get("text") for o in everything.iter("outline")} == {"Wire Service", "The Daily Example"}
    local = ElementTree.parse(out / "local.opml").getroot()
    assert [o.get("xmlUrl", "").rsplit("/", 1)[-1] for o in local.iter("outline")] == ["daily.atom"]


def test_title_prefix_names_the_source(published: tuple[Path, str]) -> None:
    _, base = published
    items = requests.get(base + "prefixed.json", timeout=5).json()["items"]
    assert {i["title"].split(": ", 1)[0] for i in items} == {"Wire Service", "The Daily Example"}


def test_websub_hubs_are_advertised_and_pinged_only_on_change(
    published: tuple[Path, str], feed_server: FixtureServer
) -> None:
    config, base = published
    hub = feed_server.url("/hub")
    pinged = {parse_qs(r.body.decode())["hub.url"][0] for r in feed_server.hits("/hub")}
    assert pinged == {
        f"{base}all.atom",
        f"{base}all.rss",
        f"{base}all.json",
        f"{base}local.atom",
        f"{base}prefixed.json",
    }
    assert all(parse_qs(r.body.decode())["hub.mode"] == ["publish"] for r in feed_server.hits("/hub"))
    out = config.parent / "out"
    atom = feedparser.parse((out / "all.atom").read_bytes())
    assert {(link.rel, link.href) for link in atom.feed.links} >= {("hub", hub), ("self", f"{base}all.atom")}
    rss = feedparser.parse((out / "all.rss").read_bytes())
    assert ("hub", hub) in {(link.rel, link.href) for link in rss.feed.links}
    assert requests.get(base + "all.json", timeout=5).json()["hubs"] == [{"type": "WebSub", "url": hub}]

    before = len(feed_server.hits("/hub"))
    assert main(["--config", str(config), "poll"]) == 0
    assert len(feed_server.hits("/hub")) == before  # nothing changed, nobody pinged


def test_a_failing_hub_is_retried_with_backoff_then_given_up(feed_server: FixtureServer) -> None:
    feed_server.add("/down", b"", status=503)
    feed_server.add("/up", b"", status=204)
    waits: list[float] = []
    failed = ping([feed_server.url("/down"), feed_server.url("/up")], ["http://x.example/a.atom"], sleep=waits.append)
    assert failed == [(feed_server.url("/down"), "http://x.example/a.atom")]
    assert len(feed_server.hits("/down")) == 3 and len(feed_server.hits("/up")) == 1
    assert waits == [2.0, 4.0]


def test_selection_rules_shape_each_feed(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    feed_server.add("/daily.atom", FIXTURES / "daily.atom")
    config = write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss"), "block": {"title": "(?i)port strike"}},
            {"name": "daily", "url": feed_server.url("/daily.atom"), "keep": {"title": "(?i)council"}},
        ],
        feeds=[
            {"name": "all"},
            {"name": "rates", "include": {"content": "(?i)key rate"}, "formats": ["json"]},
            {"name": "capped", "max_per_source": 1, "formats": ["json"]},
            {"name": "nonworld", "exclude": {"category": "^World$"}, "formats": ["json"]},
            {"name": "recent", "max_age": "1d", "formats": ["json"]},
        ],
    )
    assert main(["--config", str(config), "poll"]) == 0
    # Blocked at the source: never stored. Kept by a rule: only matching entries stored.
    printed = capsys.readouterr().out
    assert "wire: new 2, updated 0" in printed and "daily: new 1, updated 0" in printed
    out = config.parent / "out"

    def titles(name: str) -> list[str]:
        return [i["title"] for i in json.loads((out / f"{name}.json").read_text())["items"]]

    assert not any("Port strike" in t for t in titles("all"))
    assert titles("rates") == ["Central bank holds rates at 4.25%"]
    assert len(titles("capped")) == 2  # one story from each source
    assert not any("cartel" in t.lower() for t in titles("nonworld"))
    assert titles("recent") == []  # the fixtures are from 2025
