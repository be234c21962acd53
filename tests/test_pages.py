"""The HTML pages: a river per feed, the front page, archive pages, status.html, the XSL view
of Atom and RSS; valid HTML5, everything from a source escaped, bytes stable."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import html5lib
import pytest
import requests
import yaml
from lxml import etree

from newsriver.cli import main
from newsriver.config.load import load
from newsriver.config.schema import Config
from newsriver.models import Article, Author, Enclosure
from newsriver.publish import xsl_view
from newsriver.publish.archive import Page
from newsriver.publish.pages import FeedSummary
from newsriver.publish.publisher import feed_info, publish_feeds
from newsriver.publish.render_common import SourceInfo
from newsriver.publish.river import Link, excerpt
from newsriver.publish.serve import BROWSER_XML_VARY, FeedServer, close_server, make_server
from newsriver.publish.site import Site
from newsriver.store.store import Store

from .conftest import ConfigWriter, FixtureServer
from .river_site import DAYS, NEWEST_TITLES, PLANTED_TITLE, SCRIPT_TITLE, archive_page, publish_site

BASE = "http://127.0.0.1:8080/"
XHTML = "{http://www.w3.org/1999/xhtml}"


def parse(page: bytes) -> etree._Element:
    """The page as an HTML5 parser in strict mode builds it: any parse error fails."""
    parser = html5lib.HTMLParser(strict=True, tree=html5lib.getTreeBuilder("lxml"), namespaceHTMLElements=False)
    return parser.parse(page).getroot()


def texts(root: etree._Element, xpath: str) -> list[str]:
    return [" ".join("".join(e.itertext()).split()) for e in root.xpath(xpath)]


@pytest.fixture
def out(feed_server: FixtureServer, write_config: ConfigWriter) -> Path:
    return publish_site(feed_server, write_config, BASE).parent / "out"


def test_feed_page_shows_the_newest_items_by_day_in_the_feeds_time_zone(out: Path) -> None:
    root = parse((out / "all.html").read_bytes())
    assert texts(root, "//main//article/h3") == NEWEST_TITLES
    assert texts(root, "//main//section[@class='day']/h2") == DAYS
    [first] = root.xpath("//main//article[1][.//time]")[:1]
    assert first.xpath(".//time/@datetime") == ["2025-03-01T04:15:00-05:00"]  # New York time
    assert "by Ed Itor" in "".join(first.itertext())
    [audio] = first.xpath(".//audio")
    assert audio.get("preload") == "none" and audio.get("src") == "https://hostile.example/episode.mp3"
    # The story two outlets carried names the other one.
    assert texts(root, "//p[@class='also']") == ["Also reported by: The Daily Example"]
    # Paged like the feed: the items past max_items are in the archive, one link away.
    assert root.xpath("//nav[@class='pager']/a[@rel='prev']/@href") == [BASE + archive_page()]
    assert len(root.xpath("//h1")) == 1 and root.get("lang") == "en"


def test_archive_page_holds_what_left_the_feed_and_leads_back(out: Path) -> None:
    root = parse((out / archive_page()).read_bytes())
    assert texts(root, "//main//article/h3") == ["City council approves new bike lanes", "Night owl story"]
    # 03:00 UTC on 27 February is the evening of the 26th in New York.
    assert texts(root, "//main//section[@class='day']/h2") == [
        "Thursday 27 February 2025",
        "Wednesday 26 February 2025",
    ]
    [image] = root.xpath("//img[@class='media']")
    assert image.get("loading") == "lazy"
    assert root.xpath("//nav[@class='pager']/a[@rel='next']/@href") == [BASE + "all.html"]
    assert root.xpath("//nav[@class='pager']/a[@rel='prev']") == []  # the first page there is


def test_front_page_has_headlines_feed_links_and_autodiscovery_but_no_source_health(out: Path) -> None:
    root = parse((out / "index.html").read_bytes())
    assert texts(root, "//section[@id='all']//ol[@class='headlines']/li/a") == NEWEST_TITLES
    assert root.xpath("//section[@id='all']/h2/a/@href") == [BASE + "all.html"]
    assert root.xpath("//section[@id='all']//a[text()='Older items']/@href") == [BASE + archive_page()]
    alternates = root.xpath("//head/link[@rel='alternate']/@href")
    assert alternates == [BASE + f"{feed}.{fmt}" for feed in ("all", "quiet") for fmt in ("atom", "rss", "json")]
    assert texts(root, "//section[@id='quiet']/p[@class='empty']") == ["Nothing has been published in this feed yet."]
    assert not (out / "status.html").exists()
    assert "failing" not in (out / "index.html").read_text(encoding="utf-8")


def test_an_empty_feed_says_so_and_never_shows_1970(out: Path) -> None:
    page = (out / "quiet.html").read_bytes()
    assert texts(parse(page), "//main/p[@class='empty']") == ["Nothing has been published in this feed yet."]
    for name in ("quiet.html", "index.html", "quiet.atom"):
        assert b"1970" not in (out / name).read_bytes() or name.endswith(".atom")
    assert b"1970" not in page


def test_every_page_is_valid_html5_and_shows_source_markup_as_text(out: Path) -> None:
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 4  # index, all, quiet, the archive page
    for path in pages:
        root = parse(path.read_bytes())  # strict: raises on any parse error
        assert root.xpath("//script | //*[@onerror] | //*[@onload]") == [], path
        assert len(root.xpath("//h1")) == 1 and root.xpath("//main") and root.get("lang") == "en", path
    for name in ("all.html", "index.html"):
        titles = texts(parse((out / name).read_bytes()), "//main//a")
        assert SCRIPT_TITLE in titles and PLANTED_TITLE in titles


def test_atom_and_rss_name_the_bundled_xsl_and_still_parse(out: Path) -> None:
    xsl = (out / "feed.xsl").read_bytes()
    etree.fromstring(xsl)  # well-formed XML
    assert BASE.encode() + b"river.css" in xsl
    for name, href in (("all.atom", "feed.xsl"), ("all.rss", "feed.xsl"), (archive_page("atom"), "../../feed.xsl")):
        data = (out / name).read_bytes()
        assert data.splitlines()[1] == f'<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode(), name
        parsed = feedparser.parse(data)
        assert not parsed.bozo and parsed.entries, name
    assert b"xml-stylesheet" not in (out / "all.json").read_bytes()


def test_a_second_publish_changes_no_page(feed_server: FixtureServer, write_config: ConfigWriter) -> None:
    config_path = publish_site(feed_server, write_config, BASE)
    out = config_path.parent / "out"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    config = load(config_path)
    store = Store(config.settings.database)
    try:
        assert publish_feeds(config, store) == []
    finally:
        store.close()
    assert main(["--config", str(config_path), "poll"]) == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_status_page_is_opt_in_and_shows_failing_sources(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    config_path = publish_site(feed_server, write_config, BASE, public_status=True)
    out = config_path.parent / "out"
    feed_server.add("/wire.rss", b"", status=500)
    assert main(["--config", str(config_path), "poll"]) == 0
    root = parse((out / "status.html").read_bytes())
    assert "Wire Service — failing" in texts(root, "//section//li")
    assert root.xpath("//header//a[text()='Source status']/@href") == [BASE + "status.html"]
    # Turned off again: the page goes.
    document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    document["settings"]["public_status"] = False
    config_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    assert main(["--config", str(config_path), "poll"]) == 0
    assert not (out / "status.html").exists()


def test_a_theme_overrides_one_template_and_keeps_the_others(
    feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path
) -> None:
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "river.css").write_text("body { color: rebeccapurple; }\n", encoding="utf-8")
    (theme / "feed.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Themed {{ heading }}</h1>'
        "{% for day in days %}{% for it in day.items %}<p>{{ it.title }}</p>{% endfor %}{% endfor %}{% endblock %}",
        encoding="utf-8",
    )
    out = publish_site(feed_server, write_config, BASE, templates=str(theme)).parent / "out"
    assert (out / "river.css").read_text(encoding="utf-8") == "body { color: rebeccapurple; }\n"
    root = parse((out / "all.html").read_bytes())
    assert texts(root, "//h1") == ["Themed Everything"]
    assert texts(root, "//main/p")[0] == SCRIPT_TITLE  # autoescaped in a theme too
    assert texts(parse((out / "index.html").read_bytes()), "//h1") == ["River <Test>"]  # bundled
    # An edited theme is published at the next poll, though no source changed.
    (theme / "river.css").write_text("body { color: teal; }\n", encoding="utf-8")
    assert main(["--config", str(out.parent / "newsriver.yaml"), "poll"]) == 0
    assert (out / "river.css").read_text(encoding="utf-8") == "body { color: teal; }\n"


def test_a_theme_file_added_while_running_overrides_its_template_at_the_next_publish(
    feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path
) -> None:
    # The templates are compiled once and kept (site._environment): a file added to the
    # theme must still replace the bundled template the first publish compiled.
    theme = tmp_path / "theme"
    theme.mkdir()
    config_path = publish_site(feed_server, write_config, BASE, templates=str(theme))
    out = config_path.parent / "out"
    assert texts(parse((out / "index.html").read_bytes()), "//h1") == ["River <Test>"]  # bundled
    (theme / "index.html").write_text(
        "<!DOCTYPE html>\n<title>Front</title>\n<h1>Themed front page</h1>\n", encoding="utf-8"
    )
    assert main(["--config", str(config_path), "poll"]) == 0
    assert texts(parse((out / "index.html").read_bytes()), "//h1") == ["Themed front page"]


def article(n: int, **fields: object) -> Article:
    when = datetime(2025, 3, 1, 12 - n, tzinfo=UTC)
    values: dict[str, object] = {
        "id": f"id-{n}",
        "source": "wire",
        "entry_key": f"k{n}",
        "url": f"https://wire.example/{n}",
        "canonical_url": f"https://wire.example/{n}",
        "title": f"Story {n}",
        "summary": "",
        "content": f'<p>Full text {n}.</p><img src="https://wire.example/{n}.png" alt="Photo {n}">',
        "text": f"Full text {n}.",
        "authors": (Author(name="Ana"),),
        "published": when,
        "updated": when,
        "first_seen": when,
        "categories": (),
        "enclosures": (Enclosure("https://wire.example/v.mp4", "video/mp4"),),
        "language": "en",
        "image": "",
        "comments": "",
        "content_hash": "h",
    }
    return Article(**(values | fields))  # type: ignore[arg-type]


def test_full_html_related_coverage_and_video(tmp_path: Path) -> None:
    config = load_config(tmp_path, "feeds: [{name: all, html: full}]")
    sources = {"wire": SourceInfo("wire", "Wire", "https://wire.example/feed", "")}
    site = Site(config, sources)
    info = feed_info(config, config.feeds[0])
    summary = FeedSummary(info, ("atom",), 1, ())
    related = {"id-1": [Link("Another angle", "https://daily.example/a", "Daily"), Link("No link", "")]}
    root = parse(site.feed_page(config.feeds[0], summary, [article(1)], {}, related))
    [content] = root.xpath("//div[@class='content']")
    assert content.xpath(".//img/@alt") == ["Photo 1"] and content.xpath(".//img/@loading") == ["lazy"]
    assert texts(root, "//div[@class='related']/ul/li") == ["Another angle (Daily)", "No link"]
    assert root.xpath("//div[@class='related']//a/@href") == ["https://daily.example/a"]
    assert root.xpath("//video/@preload") == ["none"]
    assert root.xpath("//article/p[@class='meta']/a/@href") == ["https://wire.example/feed"]  # no web site: its feed
    assert texts(root, "//article/p[@class='meta']")[0].startswith("W Wire")


def test_front_page_items_and_an_empty_archive_page(tmp_path: Path) -> None:
    config = load_config(tmp_path, "  front_page_items: 2\nfeeds: [{name: all, archive: true}]")
    site = Site(config, {"wire": SourceInfo("wire", "Wire", "https://wire.example/feed", "https://wire.example/")})
    feed = config.feeds[0]
    assert [i.title for i in site.headlines(feed, [article(n) for n in range(1, 5)])] == ["Story 1", "Story 2"]
    summary = FeedSummary(feed_info(config, feed), ("atom",), 0, ())
    page = Page("all/archive/2025-02.atom", (), "all/archive/2025-01.atom", None)
    root = parse(site.archive_page(feed, summary, page, [], {}))
    assert texts(root, "//h1") == ["all: February 2025"]
    assert texts(root, "//main/p[@class='empty']") == ["No items left the feed during this month."]
    assert root.xpath("//nav[@class='pager']/a/@href") == [BASE + "all.html", BASE + "all/archive/2025-01.html"]
    assert "1970" not in "".join(root.itertext())


def test_front_page_counts_a_feeds_items_in_good_english(tmp_path: Path) -> None:
    config = load_config(tmp_path, "feeds: [{name: all}]")
    site = Site(config, {"wire": SourceInfo("wire", "Wire", "https://wire.example/feed", "https://wire.example/")})
    info = feed_info(config, config.feeds[0])
    more = "//p[@class='more']/a"
    assert texts(parse(site.front_page([FeedSummary(info, ("atom",), 1, ())])), more) == ["The one item of all"]
    assert texts(parse(site.front_page([FeedSummary(info, ("atom",), 2, ())])), more) == ["All 2 items of all"]


def load_config(tmp_path: Path, extra: str) -> Config:
    """A config from ``extra``: more settings (indented two spaces) and feeds."""
    path = tmp_path / "newsriver.yaml"
    path.write_text(f"settings:\n  output_dir: {tmp_path / 'out'}\n{extra}\n", encoding="utf-8")
    return load(path)


def test_excerpt_cuts_at_a_word() -> None:
    assert excerpt("one two three", 100) == "one two three"
    assert excerpt("alpha beta, gamma delta", 12) == "alpha beta…"


def test_an_unknown_time_zone_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="Mars/Olympus"):
        load_config(tmp_path, "feeds: [{name: all, timezone: Mars/Olympus}]")


# What headless Chromium 156 sent when it navigated to http://127.0.0.1 (seen on this
# project's test machine). To an http origin other than localhost it sends no Sec-Fetch-*,
# Upgrade-Insecure-Requests still.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7"
)
BROWSER = {
    "sec-ch-ua": '"Not:A-Brand";v="8", "Chromium";v="156"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Linux"',
    "Upgrade-Insecure-Requests": "1",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36",
    "Accept": BROWSER_ACCEPT,
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-User": "?1",
    "Sec-Fetch-Dest": "document",
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Accept-Language": "en-US,en;q=0.9",
}
SIMPLEPIE = "application/atom+xml, application/rss+xml, application/xml;q=0.8, text/html;q=0.7, */*;q=0.1"


@pytest.mark.parametrize(
    ("accept", "fetch_dest", "upgrade", "page", "as_xml"),
    [
        (BROWSER_ACCEPT, "document", "1", True, True),  # a browser navigating, over https or to localhost
        (BROWSER_ACCEPT, "", "1", True, True),  # over plain http: no Sec-Fetch-*
        (BROWSER_ACCEPT, "Document", "", True, True),
        (BROWSER_ACCEPT, "", "", False, True),  # a reader sending a browser's Accept to pass bot filters
        (BROWSER_ACCEPT, "empty", "0", False, True),  # fetch() from a page's script
        (SIMPLEPIE, "document", "1", False, False),  # names a feed type, whatever else it sends
        ("application/feed+json, text/html", "document", "1", False, False),
        ("text/html;q=0, application/xml", "document", "1", False, False),  # refuses HTML
        ("text/html; q=0.0", "", "1", False, False),
        ("text/html;q=x", "", "1", False, False),  # a malformed q is no consent
        ("TEXT/HTML;level=1;q=0.5", "", "1", True, True),
        ("*/*", "document", "1", False, False),  # curl's: not a browser's
        ("", "document", "1", False, False),
    ],
)
def test_only_a_browser_navigating_to_a_feed_gets_its_xsl_view(
    accept: str, fetch_dest: str, upgrade: str, page: bool, as_xml: bool
) -> None:
    assert xsl_view.wants_page(accept, fetch_dest, upgrade) is page
    assert xsl_view.browser_accept(accept) is as_xml


def test_a_browser_gets_atom_and_rss_as_xml_and_a_reader_as_feeds(tmp_path: Path) -> None:
    (tmp_path / "all.atom").write_bytes(b"<feed/>")
    (tmp_path / "all.html").write_bytes(b"<!doctype html>")
    server = make_server(FeedServer(tmp_path), "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}/"
    try:
        # Navigating: no feed.xsl to make a page with, so the XML the browser styles itself.
        shown = requests.get(base + "all.atom", headers=BROWSER, timeout=5)
        read = requests.get(base + "all.atom", headers={"Accept": "application/atom+xml, */*;q=0.1"}, timeout=5)
        page = requests.get(base + "all.html", headers=BROWSER, timeout=5)
    finally:
        close_server(server)
    assert shown.headers["Content-Type"] == "application/xml; charset=utf-8" and shown.content == b"<feed/>"
    assert read.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert shown.headers["ETag"] == read.headers["ETag"] and shown.headers["Vary"] == BROWSER_XML_VARY
    assert {"accept", "sec-fetch-dest", "upgrade-insecure-requests"} <= {
        v.strip().lower() for v in BROWSER_XML_VARY.split(",")
    }
    assert page.headers["Vary"] == "Accept-Encoding"


def test_the_server_answers_a_browser_with_the_xsl_view_made_itself(out: Path) -> None:
    """Browsers are dropping XSLT: the built-in server applies feed.xsl itself for a browser
    navigating to a feed, and a feed reader, even one naming text/html at a low q or sending
    a browser's Accept, still gets the feed's bytes."""
    server = make_server(FeedServer(out), "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}/"
    plain_http = {k: v for k, v in BROWSER.items() if not k.startswith("Sec-Fetch-")}
    try:
        pages = {name: requests.get(base + name, headers=BROWSER, timeout=5) for name in ("all.atom", "all.rss")}
        over_http = requests.get(base + "all.atom", headers=plain_http, timeout=5)
        again = requests.get(
            base + "all.atom",
            headers={**BROWSER, "If-None-Match": pages["all.atom"].headers["ETag"]},
            timeout=5,
        )
        read = requests.get(base + "all.atom", headers={"Accept": SIMPLEPIE}, timeout=5)
        spoofed = requests.get(base + "all.atom", headers={"Accept": BROWSER_ACCEPT}, timeout=5)
        refused = requests.get(base + "all.atom", headers={**BROWSER, "Accept": "text/html;q=0, */*"}, timeout=5)
        archived = requests.get(base + archive_page("atom"), headers=BROWSER, timeout=5)
    finally:
        close_server(server)
    assert over_http.headers["Content-Type"] == "text/html; charset=utf-8"
    assert over_http.content == pages["all.atom"].content
    for name, page in pages.items():
        assert page.headers["Content-Type"] == "text/html; charset=utf-8", name
        root = parse(page.content)  # valid HTML5, strictly
        assert texts(root, "//h1") == ["Everything"], name
        assert texts(root, "//ol[@class='headlines']/li/a") == NEWEST_TITLES, name
        assert PLANTED_TITLE in texts(root, "//ol[@class='headlines']/li/a"), name  # as text
        assert root.xpath("//script | //*[@onerror]") == [], name
    assert again.status_code == 304
    assert read.content == (out / "all.atom").read_bytes()
    assert read.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert read.headers["ETag"] != pages["all.atom"].headers["ETag"]  # another representation
    # A browser's Accept without a navigation's headers: the feed's bytes, as XML.
    assert spoofed.content == read.content and spoofed.headers["ETag"] == read.headers["ETag"]
    assert spoofed.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert refused.content == read.content
    assert refused.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert archived.headers["Content-Type"] == "text/html; charset=utf-8"


def test_the_xsl_view_is_made_once_per_version_of_each_file_and_a_failure_is_remembered(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crawler walking many archive pages evicts none of the others' pages, a feed the
    stylesheet cannot read is not tried again at every request, and a new version of a feed
    gets a new page."""
    made: list[bytes] = []
    render = xsl_view.render

    def counted(feed: bytes, stylesheet: bytes) -> bytes | None:
        made.append(feed)
        return render(feed, stylesheet)

    monkeypatch.setattr(xsl_view, "render", counted)
    atom = (out / "all.atom").read_bytes()
    copies = [f"copy-{n}.atom" for n in range(80)]
    for n, name in enumerate(copies):
        (out / name).write_bytes(atom.replace(b"Everything", f"Copy {n}".encode()))
    (out / "broken.atom").write_bytes(b"<feed><unclosed></feed>")
    server = make_server(FeedServer(out), "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}/"
    try:
        first = requests.get(base + "all.atom", headers=BROWSER, timeout=5).content
        for name in copies:
            assert requests.get(base + name, headers=BROWSER, timeout=5).status_code == 200
        again = requests.get(base + "all.atom", headers=BROWSER, timeout=5).content
        broken = [requests.get(base + "broken.atom", headers=BROWSER, timeout=5) for _ in range(3)]
        assert len(made) == 1 + len(copies) + 1  # each file once, the broken one too
        (out / "all.atom").write_bytes(atom.replace(b"Everything", b"Everything, renamed"))
        changed = requests.get(base + "all.atom", headers=BROWSER, timeout=5).content
    finally:
        close_server(server)
    assert again == first and texts(parse(first), "//h1") == ["Everything"]
    assert all(b.headers["Content-Type"] == "application/xml; charset=utf-8" for b in broken)
    assert all(b.content == b"<feed><unclosed></feed>" for b in broken)
    assert texts(parse(changed), "//h1") == ["Everything, renamed"]
    assert len(made) == 1 + len(copies) + 2


def test_the_server_makes_the_xsl_view_without_loading_the_pages_module(out: Path) -> None:
    """The stylesheet's name is all it needs of the pages: Jinja2 stays out of a server's memory."""
    code = (
        "import sys; from pathlib import Path; from newsriver.publish.serve import FeedServer; "
        "environ = {'PATH_INFO': '/all.atom', 'HTTP_ACCEPT': 'text/html', 'HTTP_SEC_FETCH_DEST': 'document'}; "
        "said = []; "
        "body = b''.join(FeedServer(Path(sys.argv[1]))(environ, lambda status, headers: said.extend(headers))); "
        "print(dict(said)['Content-Type'], 'jinja2' in sys.modules, 'newsriver.publish.site' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["text/html;", "charset=utf-8", "False", "False"]
