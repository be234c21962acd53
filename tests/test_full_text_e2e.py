"""Full text from teaser feeds through a real pass: a loopback site serving a teaser feed and
its article pages (boilerplate around them, a robots.txt that disallows a path, a page moved
to another origin, a slow page, a huge page), polled into a real database and published."""

from __future__ import annotations

import html
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import feedparser
import pytest

from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.config.schema import Config
from newsriver.publish.publisher import publish_feeds
from newsriver.run.outcome import Outcome
from newsriver.run.poll import poll_sources
from newsriver.store import full_text
from newsriver.store.store import Store

from .conftest import CORPUS, ConfigWriter, FixtureServer, Request, needs_corpus
from .fulltext_site import COMMENT, COOKIE, PARAGRAPHS, RELATED, article_page

SPACING = 0.4
TEASER = "The council voted on the tram line. Read more on our site."


class TimedRequests(list[Request]):
    """A server's request log that also notes when each request came."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, request: Request) -> None:
        self.times.append(time.monotonic())
        super().append(request)


def story(n: int) -> list[str]:
    return [f"Story {n}. {p}" for p in PARAGRAPHS]


def rss(site: str, items: list[tuple[str, str, str]]) -> str:
    """items: (path, teaser, pubDate day of March 2025)."""
    entries = "".join(
        f"<item><title>Story {path}</title><link>{site}{path}</link><guid isPermaLink='false'>{path}</guid>"
        f"<pubDate>{day} Mar 2025 10:00:00 GMT</pubDate><description>{html.escape(teaser)}</description></item>"
        for path, teaser, day in items
    )
    channel = f"<title>Teasers</title><link>{site}/</link>{entries}"
    return f"<?xml version='1.0'?><rss version='2.0'><channel>{channel}</channel></rss>"


PATHS = ["/news/1", "/news/2", "/news/3", "/private/4", "/moved/5", "/slow/6", "/huge/7"]


@pytest.fixture
def other_server() -> Any:
    server = FixtureServer()
    yield server
    server.close()


def serve_site(site: FixtureServer, other: FixtureServer) -> None:
    site.requests = TimedRequests()
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    for n in (1, 2, 3):
        site.add(f"/news/{n}", article_page(f"Story {n}", story(n)), content_type="text/html; charset=utf-8")
    site.add("/private/4", article_page("Story 4", story(4)), content_type="text/html")
    site.add("/moved/5", "", status=301, headers={"Location": other.url("/elsewhere/5")})
    other.add("/elsewhere/5", article_page("Story 5", story(5)), content_type="text/html")
    site.add("/slow/6", article_page("Story 6", story(6)), content_type="text/html", delay=4)
    huge = article_page("Story 7", story(7) * 2000)  # about 1.4 MB
    site.add("/huge/7", huge, content_type="text/html")
    site.add("/feed.rss", rss(site.base, [(p, TEASER, str(i + 1)) for i, p in enumerate(PATHS)]))
    other.add("/plain.rss", rss(other.base, [("/own", "An article of its own, in full. " * 30, "9")]))


def write(
    write_config: ConfigWriter, site: FixtureServer, other: FixtureServer, concurrency: int = 8, **full_text: Any
) -> Path:
    return write_config(
        [
            {"name": "teasers", "url": site.url("/feed.rss"), "full_text": True, "headers": {"X-Token": "s3cret"}},
            {"name": "plain", "url": other.url("/plain.rss")},
        ],
        feeds=[{"name": "all", "title": "Everything", "dedupe": False}],
        concurrency=concurrency,
        deadline="2s",
        timeout="2s",
        full_text={"spacing": SPACING, "max_bytes": 256 * 1024, **full_text},
    )


def poll(path: Path) -> tuple[Config, list[tuple[float, Outcome]]]:
    config = config_module.load(path)
    store = Store(config.settings.database)
    reported: list[tuple[float, Outcome]] = []
    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        poll_sources(config, store, on_outcome=lambda o: reported.append((time.monotonic(), o)))
        publish_feeds(config, store)
    finally:
        store.close()
    return config, reported


def items(path: Path) -> dict[str, str]:
    parsed = feedparser.parse((path.parent / "out" / "all.atom").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {e.link: str(e.content[0].value if "content" in e else e.summary) for e in parsed.entries}


def counts(config: Config) -> dict[str, dict[str, int]]:
    store = Store(config.settings.database)
    try:
        return full_text.counts(store)
    finally:
        store.close()


def test_teasers_are_published_with_their_articles_politely(
    feed_server: FixtureServer, other_server: FixtureServer, write_config: ConfigWriter
) -> None:
    serve_site(feed_server, other_server)
    # One fetch thread: had the pages held it, the other source's feed would wait for them.
    path = write(write_config, feed_server, other_server, concurrency=1)
    config, reported = poll(path)
    published = items(path)

    for n in (1, 2, 3):
        body = published[feed_server.url(f"/news/{n}")]
        assert all(p in body for p in story(n)), body
        assert COOKIE not in body and RELATED not in body and COMMENT not in body
        assert f'href="{feed_server.base}/world/index.html"' in body  # links made absolute
        assert "class=" not in body and "style=" not in body
    assert all(p in published[feed_server.url("/moved/5")] for p in story(5))
    for stays in ("/private/4", "/slow/6", "/huge/7"):
        assert TEASER in published[feed_server.url(stays)]
        assert "Story" not in published[feed_server.url(stays)].replace(TEASER, "")

    assert not feed_server.hits("/private/4")  # robots.txt said no
    assert len(feed_server.hits("/robots.txt")) == 1
    assert len(other_server.hits("/robots.txt")) == 1  # the other origin's rules were asked too
    # An honest User-Agent; the source's header only on its own origin.
    [page] = feed_server.hits("/news/1")
    assert page.headers["User-Agent"].startswith("newsriver/") and page.headers["X-Token"] == "s3cret"
    [moved] = other_server.hits("/elsewhere/5")
    assert "X-Token" not in moved.headers

    # One request at a time to the site, SPACING apart (its feed fetch came before any page).
    times = [t for t, r in zip(feed_server.requests.times, feed_server.requests, strict=True) if r.path != "/feed.rss"]
    assert len(times) == 7  # robots.txt and six pages
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= SPACING * 0.95, gaps

    # The other source's poll was not held up by the pages: reported long before.
    at = {o.source: t for t, o in reported}
    plain = next(o for _, o in reported if o.source == "plain")
    assert plain.result == "ok" and plain.seconds < 2.0
    assert at["teasers"] - at["plain"] > 4 * SPACING  # the pages took longer than that after it
    assert next(o for _, o in reported if o.source == "teasers").new == 7

    assert counts(config)["teasers"] == {"fetched": 4, "extracted": 4, "refused": 1, "failed": 2}


def test_status_shows_the_page_counts(
    feed_server: FixtureServer, other_server: FixtureServer, write_config: ConfigWriter, capsys: Any
) -> None:
    serve_site(feed_server, other_server)
    feed_server.add("/feed.rss", rss(feed_server.base, [("/news/1", TEASER, "1"), ("/private/4", TEASER, "2")]))
    path = write(write_config, feed_server, other_server)
    assert main(["--config", str(path), "poll"]) == 0
    capsys.readouterr()
    assert main(["--config", str(path), "status"]) == 0
    assert "teasers: full text: fetched 1, extracted 1, refused 1, failed 0" in capsys.readouterr().out
    assert main(["--config", str(path), "status", "--json"]) == 0
    rows = {r["source"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["teasers"]["full_text"] == {"fetched": 1, "extracted": 1, "refused": 1, "failed": 0}
    assert "full_text" not in rows["plain"]


def test_a_pass_fetches_few_pages_a_source_oldest_first_and_each_once(
    feed_server: FixtureServer, other_server: FixtureServer, write_config: ConfigWriter
) -> None:
    serve_site(feed_server, other_server)
    site = feed_server.base
    feed_server.add(
        "/feed.rss", rss(site, [("/news/3", TEASER, "3"), ("/news/1", TEASER, "1"), ("/news/2", TEASER, "2")])
    )
    path = write(write_config, feed_server, other_server, spacing=0, pages_per_source=2)
    poll(path)
    assert [len(feed_server.hits(f"/news/{n}")) for n in (1, 2, 3)] == [1, 1, 0]
    assert TEASER in items(path)[f"{site}/news/3"]

    # The next pass fetches the one left; the feed's teasers of the others are no edits.
    feed_server.add(
        "/feed.rss", rss(site, [("/news/3", TEASER, "3"), ("/news/1", TEASER, "1"), ("/news/2", TEASER, "2")]) + " "
    )
    _config, reported = poll(path)
    assert [len(feed_server.hits(f"/news/{n}")) for n in (1, 2, 3)] == [1, 1, 1]
    published = items(path)
    assert all(story(n)[0] in published[f"{site}/news/{n}"] for n in (1, 2, 3))
    assert next(o for _, o in reported if o.source == "teasers").updated == 1  # /news/3 only

    # An edited teaser with the same link keeps its full text and is not fetched again;
    # a changed link is fetched.
    edited = [("/news/3", "An edited teaser.", "3"), ("/news/1", TEASER, "1"), ("/news/2", TEASER, "2")]
    feed_server.add("/feed.rss", rss(site, edited).replace(f"{site}/news/2<", f"{site}/news/2?v=2<"))
    poll(path)
    assert [len(feed_server.hits(f"/news/{n}")) for n in (1, 2, 3)] == [1, 2, 1]
    assert story(3)[0] in items(path)[f"{site}/news/3"]


def test_a_pass_without_full_text_sources_imports_no_extractor(feed_server: FixtureServer, tmp_path: Path) -> None:
    feed_server.add("/plain.rss", rss(feed_server.base, [("/own", TEASER, "1")]))
    config = tmp_path / "newsriver.yaml"
    config.write_text(
        f"settings: {{database: 'sqlite:///{tmp_path}/db', output_dir: '{tmp_path}/out'}}\n"
        f"sources: [{{name: plain, url: '{feed_server.url('/plain.rss')}'}}]\n",
        encoding="utf-8",
    )
    code = (
        "import json, sys; from newsriver.cli import main; "
        f"main(['--config', {str(config)!r}, 'poll']); "
        "print(json.dumps(sorted(m for m in sys.modules if 'trafilatura' in m or 'full_text' in m or 'fulltext' in m)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    # The store's table of fetched pages may be loaded with the store; the extractor, its
    # stage and trafilatura must not be.
    assert set(json.loads(done.stdout.splitlines()[-1])) <= {"newsriver.store.full_text"}


@needs_corpus
def test_a_teaser_outlet_folds_with_the_full_copies(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: Any
) -> None:
    title, _, rest = (CORPUS / "articles" / "cartel-extradition.txt").read_text(encoding="utf-8").partition("\n")
    paragraphs = [p.strip() for p in rest.split("\n\n") if p.strip()]
    full = "".join(f"<p>{p}</p>" for p in paragraphs)
    # The teaser outlet retitles the story and says one sentence of it: too little to match.
    wire = [(title, "https://wire.example/cartel", full)]
    metro = [("Mexico hands 29 cartel figures to the U.S.", feed_server.url("/s/cartel"), paragraphs[1][:160] + " …")]

    def feed(entries: list[tuple[str, str, str]]) -> str:
        return "".join(
            f"<?xml version='1.0'?><rss version='2.0'><channel><title>Outlet</title><item><title>{head}</title>"
            f"<link>{link}</link><pubDate>Thu, 27 Feb 2025 18:00:00 GMT</pubDate>"
            f"<description>{html.escape(body)}</description></item></channel></rss>"
            for head, link, body in entries
        )

    feed_server.add("/wire.rss", feed(wire))
    feed_server.add("/metro.rss", feed(metro))
    feed_server.add("/s/cartel", article_page(title, paragraphs), content_type="text/html")
    path = write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss"), "title": "Wire Service", "priority": 1},
            {"name": "metro", "url": feed_server.url("/metro.rss"), "title": "Metro Courier", "full_text": True},
        ],
        feeds=[{"name": "all", "title": "Everything"}],
        full_text={"spacing": 0},
    )
    assert main(["--config", str(path), "poll"]) == 0
    parsed = feedparser.parse((path.parent / "out" / "all.atom").read_bytes())
    [item] = parsed.entries
    assert item.link == "https://wire.example/cartel"
    assert [link.href for link in item.links if link.rel == "related"] == [feed_server.url("/s/cartel")]
    capsys.readouterr()
    assert main(["--config", str(path), "dupes", "--since", "3650d"]) == 0
    [metro_line] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("metro")]
    assert "(its page's full text)" in metro_line
    assert main(["--config", str(path), "dupes", "--explain", "https://wire.example/cartel", metro[0][1]]) == 0
    printed = capsys.readouterr().out
    assert "stored in one story" in printed
    [line_b] = [line for line in printed.splitlines() if line.startswith("B: ")]
    assert line_b.endswith("(compared: its page's full text)")
    assert "compared:" not in printed.splitlines()[0]
