"""The pages as headless Chromium renders them, served by newsriver's own server: the DOM
(titles in order, day headings, working absolute links, no script from a source ran), the
XSL view of all.atom, screenshots kept as artifacts, and axe-core's accessibility checks.

Screenshots go to $NEWSRIVER_SHOTS when set (else the test's tmp folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import html5lib
import pytest
import requests
from lxml import etree

from newsriver.config.load import load
from newsriver.config.schema import Config
from newsriver.models import Article
from newsriver.publish.pages import FeedSummary
from newsriver.publish.publisher import feed_info, source_infos
from newsriver.publish.render_common import SourceInfo
from newsriver.publish.river import Link
from newsriver.publish.serve import FeedServer, close_server, make_server
from newsriver.publish.site import Site
from newsriver.store.store import Store

from .conftest import ConfigWriter, FixtureServer
from .river_site import DAYS, NEWEST_TITLES, PLANTED_TITLE, SCRIPT_TITLE, archive_page, publish_site
from .test_readers import CHROMIUM_FLAGS, need

BROWSER_TESTS = Path(__file__).parent / "browser"
SHOTS = {"desktop": (1280, 1400), "phone": (390, 1600)}

# The browser tests need one database only: what they check is the pages, not the store.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Served:
    base: str
    out: Path
    chromium: str
    profile: Path

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    def dom(self, path: str) -> etree._Element:
        """The document as the browser built it, after any script could have run."""
        text = self.run("--virtual-time-budget=2000", "--dump-dom", self.base + path)
        parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("lxml"), namespaceHTMLElements=False)
        return parser.parse(text).getroot()

    def screenshot(self, path: str, name: str, folder: Path) -> None:
        for device, (width, height) in SHOTS.items():
            target = folder / f"{name}-{device}.png"
            self.run(f"--window-size={width},{height}", f"--screenshot={target}", self.base + path)
            assert target.stat().st_size > 5000, target  # a page was drawn, not a blank


@pytest.fixture
def served(feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path) -> Iterator[Served]:
    chromium = need("chromium")
    app = FeedServer(Path("unused"))
    server = make_server(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.effective_port}/"
    app.root = publish_site(feed_server, write_config, base).parent / "out"
    threading.Thread(target=server.run, daemon=True).start()
    yield Served(base, app.root, chromium, tmp_path / "profile")
    close_server(server)


def texts(root: etree._Element, xpath: str) -> list[str]:
    return [" ".join("".join(e.itertext()).split()) for e in root.xpath(xpath)]


def no_script_ran(root: etree._Element) -> None:
    # Every planted script and onerror handler sets data-pwned on <body>.
    [body] = root.xpath("//body")
    assert body.get("data-pwned") is None
    assert root.xpath("//main//script | //main//*[@onerror]") == []


def links_work(served: Served, root: etree._Element) -> None:
    """Every link is absolute; those into the site answer 200."""
    hrefs = set(root.xpath("//a/@href | //link/@href")) - {"#main"}
    assert all(h.startswith(("http://", "https://")) for h in hrefs), sorted(hrefs)
    for href in sorted(h for h in hrefs if h.startswith(served.base)):
        assert requests.get(href, timeout=10).status_code == 200, href


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("NEWSRIVER_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_feed_page_in_chromium(served: Served, shots: Path) -> None:
    root = served.dom("all.html")
    assert texts(root, "//main//article/h3") == NEWEST_TITLES
    assert texts(root, "//main//section/h2") == DAYS
    assert texts(root, "//p[@class='also']") == ["Also reported by: The Daily Example"]
    no_script_ran(root)
    links_work(served, root)
    served.screenshot("all.html", "feed", shots)


def test_front_page_in_chromium(served: Served, shots: Path) -> None:
    root = served.dom("")
    assert texts(root, "//section[@id='all']//ol/li/a") == NEWEST_TITLES
    assert SCRIPT_TITLE in texts(root, "//main//a") and PLANTED_TITLE in texts(root, "//main//a")
    no_script_ran(root)
    links_work(served, root)
    served.screenshot("", "front", shots)


def test_related_coverage_and_an_empty_feed_in_chromium(served: Served) -> None:
    config, sources, article = stored(served)
    site = Site(config, sources)
    feed = config.feeds[0]
    summary = FeedSummary(feed_info(config, feed), tuple(feed.formats), 1, ())
    related = {
        article.id: [Link("Same event, other story", served.base + "quiet.html", "Daily"), Link(SCRIPT_TITLE, "")]
    }
    (served.out / "related.html").write_bytes(site.feed_page(feed, summary, [article], {}, related))
    root = served.dom("related.html")
    assert texts(root, "//div[@class='related']/ul/li") == ["Same event, other story (Daily)", SCRIPT_TITLE]
    no_script_ran(root)
    links_work(served, root)
    # An empty feed through the XSL: a sentence, no date.
    quiet = served.dom("quiet.atom")
    assert texts(quiet, "//main/p[@class='empty']") == ["This feed has no items yet."]
    assert "1970" not in "".join(quiet.itertext())


def stored(served: Served) -> tuple[Config, dict[str, SourceInfo], Article]:
    """The site's config, its sources and the newest article stored, as the publisher reads them."""
    config = load(served.out.parent / "newsriver.yaml")
    store = Store(config.settings.database)
    try:
        [story] = store.selection.stories(config.feed_sources(config.feeds[0]), 1, {}, True)
        return config, source_infos(config, store), story.item
    finally:
        store.close()


def test_archive_page_in_chromium(served: Served) -> None:
    root = served.dom(archive_page())
    assert texts(root, "//main//article/h3") == ["City council approves new bike lanes", "Night owl story"]
    assert texts(root, "//main//section/h2") == ["Thursday 27 February 2025", "Wednesday 26 February 2025"]
    no_script_ran(root)
    links_work(served, root)


def test_atom_through_the_xsl_in_chromium(served: Served, shots: Path) -> None:
    root = served.dom("all.atom")
    # Made by the server: no XSLT in the browser, so none of its "being removed" banner.
    assert root.xpath("//xslt-warning-banner") == []
    assert texts(root, "//h1") == ["Everything"]
    assert texts(root, "//ol[@class='headlines']/li/a") == NEWEST_TITLES
    assert served.base + "all.atom" in texts(root, "//div[@class='note']//code")
    assert root.xpath("//main//a[text()='Read this feed as a web page']/@href") == [served.base + "all.html"]
    assert root.xpath("//link[@rel='stylesheet']/@href") == [served.base + "river.css"]
    no_script_ran(root)
    links_work(served, root)
    served.screenshot("all.atom", "atom", shots)
    rss = served.dom("all.rss")
    assert texts(rss, "//ol[@class='headlines']/li/a") == NEWEST_TITLES
    assert rss.xpath("//main//a[text()='Read this feed as a web page']/@href") == [served.base + "all.html"]
    no_script_ran(rss)


def axe_runner() -> list[str]:
    node = shutil.which("node")
    script = BROWSER_TESTS / "axe.mjs"
    if node is None or not (BROWSER_TESTS / "node_modules" / "puppeteer-core").is_dir():
        reason = "needs node and `npm ci --prefix tests/browser` (puppeteer-core, axe-core)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; .ci/run should have installed them")
        pytest.skip(reason)
    return [node, str(script)]


def test_axe_finds_no_serious_violation_on_any_page(served: Served) -> None:
    command = axe_runner()
    paths = ["", "all.html", "quiet.html", archive_page(), "all.atom"]
    result = subprocess.run(
        [*command, served.chromium, *(served.base + p for p in paths)], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert len(report) == len(paths)
    for url, schemes in report.items():
        for scheme, violations in schemes.items():
            serious = [v for v in violations if v["impact"] in ("serious", "critical")]
            structural = [
                v for v in violations if v["id"] in ("landmark-one-main", "page-has-heading-one", "html-has-lang")
            ]
            assert not serious and not structural, (url, scheme, serious + structural)
