"""RFC 5005 archives: monthly pages behind a feed with ``archive: true``.

The paging rules are tested on plain data; then four months of polling through a real
fixture server and a real database, read back over HTTP as a reader that was offline
would: from the subscription document along ``prev-archive``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import pytest
import requests
from lxml import etree

from newsriver.config import load as config_module
from newsriver.config.schema import Config
from newsriver.errors import ConfigError
from newsriver.publish.archive import Month, month_pages, page_path, to_write, written
from newsriver.publish.publisher import announce, publish_feeds
from newsriver.publish.serve import FeedServer, close_server, make_server
from newsriver.run.poll import poll_sources
from newsriver.store.store import Store
from newsriver.stories.match import Story

from .conftest import ConfigWriter, FixtureServer
from .factories import make_article
from .feedcheck import atom_problems, reparse_problems

JAN, FEB, MAR, APR = Month(2025, 1), Month(2025, 2), Month(2025, 3), Month(2025, 4)
ATOM = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"


# --- the paging rules, on plain data ------------------------------------------------------


def story(n: int, published: datetime) -> Story:
    article = make_article(
        id=f"id-{100 - n}",  # ids sort against the dates: pages go by date
        source="wire",
        entry_key=str(n),
        url=f"https://wire.example/{n}",
        canonical_url=f"https://wire.example/{n}",
        title=f"Story {n}",
        published=published,
        updated=published,
        first_seen=published,
        content_hash=str(n),
    )
    return Story(article, ())


def test_months_follow_the_calendar_across_the_year() -> None:
    assert Month.of(datetime(2024, 12, 31, 23, 59, tzinfo=UTC)) == Month(2024, 12)
    # The month is the UTC one: half past midnight on 1 January in Berlin is still December.
    assert Month.of(datetime.fromisoformat("2025-01-01T00:30:00+01:00")) == Month(2024, 12)
    assert Month(2024, 12).following() == JAN and JAN.preceding() == Month(2024, 12)
    assert FEB.following() == MAR and MAR.preceding() == FEB
    assert str(Month(987, 3)) == "0987-03" and JAN.start == datetime(2025, 1, 1, tzinfo=UTC)


def test_a_month_is_split_into_pages_in_publication_order_and_chained() -> None:
    stories = [story(n, JAN.start + timedelta(days=n)) for n in (5, 1, 4, 2, 3)]
    pages = month_pages("all", JAN, stories, 2, before="all/archive/2024-12-3.atom", final=True)
    assert [p.path for p in pages] == [
        "all/archive/2025-01.atom",
        "all/archive/2025-01-2.atom",
        "all/archive/2025-01-3.atom",
    ]
    # Oldest stories on the first page; each page newest first, as in the subscription document.
    assert [[s.item.title for s in p.stories] for p in pages] == [
        ["Story 2", "Story 1"],
        ["Story 4", "Story 3"],
        ["Story 5"],
    ]
    assert [p.previous for p in pages] == ["all/archive/2024-12-3.atom", pages[0].path, pages[1].path]
    # A finished month hands on to the next month's first page, which always exists.
    assert [p.following for p in pages] == [pages[1].path, pages[2].path, "all/archive/2025-02.atom"]


def test_the_current_month_ends_the_chain_and_an_empty_month_still_has_a_page() -> None:
    [page] = month_pages("all", APR, [], 100, before=page_path("all", MAR, 2), final=False)
    assert page == type(page)("all/archive/2025-04.atom", (), "all/archive/2025-03-2.atom", None)
    [first] = month_pages("all", JAN, [story(1, JAN.start)], 100, before=None, final=False)
    assert first.previous is None and first.following is None


def test_pages_on_disk_count_only_from_a_months_first_page() -> None:
    names = [
        "2025-01.atom",
        "2025-01-2.atom",
        "2025-01-4.atom",  # 3 is missing: the month has two pages in a row
        "2025-02-2.atom",  # no first page: February is not written
        "2025-03.atom",
        "2025-13.atom",
        ".2025-03.atom.x1y2.tmp",
        "notes.txt",
    ]
    assert written(names) == {JAN: 2, MAR: 1}


def test_which_months_are_rendered() -> None:
    # Steady state: only the current month.
    assert to_write(JAN, APR, {JAN: 1, FEB: 2, MAR: 1, APR: 1}, unfinished=[]) == [APR]
    # First publish of a month: last month's pages, written while it was current, become final.
    assert to_write(JAN, APR, {JAN: 1, FEB: 2, MAR: 1}, unfinished=[MAR]) == [MAR, APR]
    # A missing month is rendered again, its neighbours are not.
    assert to_write(JAN, APR, {JAN: 1, MAR: 1, APR: 1}, unfinished=[]) == [FEB, APR]
    # The first publish of a feed renders its whole history.
    assert to_write(JAN, APR, {}, unfinished=[]) == [JAN, FEB, MAR, APR]
    assert to_write(APR, APR, {}, unfinished=[]) == [APR]


# --- four months of polling, read back like an offline reader -----------------------------


def at(month: Month, day: int, hour: int = 10) -> datetime:
    return month.start.replace(day=day, hour=hour)


@dataclass(frozen=True)
class Entry:
    guid: str
    title: str
    published: datetime
    link: str = ""


def rss(title: str, entries: list[Entry]) -> str:
    items = "".join(
        f"<item><guid isPermaLink='false'>{e.guid}</guid><title>{escape(e.title)}</title>"
        f"<link>{e.link or 'https://wire.example/news/' + e.guid}</link>"
        f"<description>{escape(e.title)}: the {e.guid} report, told in its own words.</description>"
        f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate></item>"
        for e in entries
    )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}</title>"
        f"<link>https://{title.lower()}.example/</link><description>{title}</description>{items}</channel></rss>"
    )


def wire_entries(month: Month, first: int, count: int) -> list[Entry]:
    return [Entry(f"w{n}", f"Wire story {n}", at(month, n - first + 1)) for n in range(first, first + count)]


@dataclass
class Doc:
    url: str
    content_type: str
    body: bytes

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.body)

    def link(self, rel: str) -> str | None:
        links = self.root.findall(f"{{{ATOM}}}link[@rel='{rel}']")
        assert len(links) <= 1, f"{self.url}: {len(links)} {rel} links"
        return links[0].get("href") if links else None

    @property
    def entries(self) -> dict[str, str]:
        """Entry id → title."""
        return {
            e.findtext(f"{{{ATOM}}}id", ""): e.findtext(f"{{{ATOM}}}title", "")
            for e in self.root.findall(f"{{{ATOM}}}entry")
        }


class Site:
    """Two sources polled on simulated dates into a feed with archives, served over HTTP."""

    def __init__(self, feed_server: FixtureServer, write_config: ConfigWriter, out: Path) -> None:
        self.feed_server = feed_server
        self.out = out
        self.app = FeedServer(out)
        self.server = make_server(self.app, "127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.server.effective_port}/"
        threading.Thread(target=self.server.run, daemon=True).start()
        feed_server.add("/hub", b"", status=202)
        path = write_config(
            [
                {"name": "wire", "url": feed_server.url("/wire.rss"), "title": "Wire"},
                {"name": "daily", "url": feed_server.url("/daily.rss"), "title": "Daily"},
            ],
            feeds=[
                {"name": "all", "title": "All", "max_items": 4, "archive": True, "exclude": {"title": "^Sponsored"}},
                {"name": "plain", "title": "Plain", "formats": ["atom"]},
            ],
            base_url=self.base,
            websub_hubs=[feed_server.url("/hub")],
        )
        self.config: Config = config_module.load(path)
        self.store = Store(self.config.settings.database)
        self.store.sources.sync((s.name, s.url) for s in self.config.sources)
        self.seen_live: dict[str, str] = {}  # every item the subscription document ever showed: id → title

    def step(self, now: datetime, wire: list[Entry], daily: list[Entry]) -> list[Path]:
        self.feed_server.add("/wire.rss", rss("Wire", wire), content_type="application/rss+xml")
        self.feed_server.add("/daily.rss", rss("Daily", daily), content_type="application/rss+xml")
        outcomes = poll_sources(self.config, self.store, clock=lambda: now)
        assert not [o for o in outcomes if o.result == "error"], outcomes
        return self.publish(now)

    def publish(self, now: datetime) -> list[Path]:
        changed = publish_feeds(self.config, self.store, now=now)
        self.seen_live |= self.get("all.atom").entries
        return changed

    def get(self, path: str) -> Doc:
        url = path if path.startswith("http") else self.base + path
        response = requests.get(url, timeout=5)
        assert response.status_code == 200, url
        return Doc(url, response.headers["Content-Type"], response.content)

    def page(self, month: Month, part: int = 1) -> Path:
        return self.out / page_path("all", month, part)

    def walk(self) -> list[Doc]:
        """The archive pages from the newest back, as a reader catching up follows them."""
        pages = []
        href = self.get("all.atom").link("prev-archive")
        while href is not None:
            pages.append(self.get(href))
            href = pages[-1].link("prev-archive")
            assert len(pages) < 50, "prev-archive loops"
        return pages

    def close(self) -> None:
        close_server(self.server)
        self.store.close()


@pytest.fixture
def site(feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path) -> Iterator[Site]:
    opened = Site(feed_server, write_config, tmp_path / "out")
    yield opened
    opened.close()


def test_a_reader_catches_up_on_four_months_by_walking_prev_archive(site: Site) -> None:
    sponsored = Entry("ad1", "Sponsored: buy now", at(JAN, 6))
    january = wire_entries(JAN, 1, 5)
    february = wire_entries(FEB, 6, 5)
    # Another outlet's copy of story 7 (same link): one story, in the archive once.
    copy7 = Entry("d7", "Daily on story 7", at(FEB, 2, 11), link="https://wire.example/news/w7")
    daily_other = Entry("d1", "Daily's own January story", at(JAN, 20))

    # January: five stories, four of them in the subscription document.
    site.step(at(JAN, 25), [*january, sponsored], [daily_other])
    subscription = site.get("all.atom")
    assert subscription.link("prev-archive") == site.base + "all/archive/2025-01.atom"
    # People find the archive from the index page too.
    assert f'href="{site.base}all/archive/2025-01.atom"' in (site.out / "index.html").read_text()
    [current] = site.walk()
    assert sorted(current.entries.values()) == ["Wire story 1", "Wire story 2"]  # only what left the window
    assert current.link("next-archive") is None and current.link("prev-archive") is None

    # February: January is over and its pages are final: all of its stories, those still
    # shown too, four to a page (the feed's max_items).
    site.step(at(FEB, 25), [*january, sponsored, *february], [daily_other, copy7])
    assert site.page(JAN).exists() and site.page(JAN, 2).exists()
    january_pages = {p: p.read_bytes() for p in (site.page(JAN), site.page(JAN, 2))}
    titles = {t for p in january_pages for t in Doc("", "", p.read_bytes()).entries.values()}
    assert titles == {
        "Wire story 1",
        "Wire story 2",
        "Wire story 3",
        "Wire story 4",
        "Wire story 5",
        "Daily's own January story",
    }

    # March: story 3 is corrected at its source; January's pages are not rewritten. A story
    # dated January turns up only now: it joins March, the month it was first stored.
    march = wire_entries(MAR, 11, 3)
    corrected = [Entry(e.guid, "Wire story 3, corrected", e.published) if e.guid == "w3" else e for e in january]
    late = Entry("late", "Late January story", at(JAN, 31, 23))
    changed = site.step(at(MAR, 25), [*corrected, sponsored, *february, late, *march], [daily_other, copy7])
    assert not set(january_pages) & set(changed)
    assert {p: p.read_bytes() for p in january_pages} == january_pages

    # April, nothing new: March becomes final, April's page is empty.
    site.publish(at(APR, 2))

    pages = site.walk()
    assert [d.url.removeprefix(site.base) for d in pages] == [
        "all/archive/2025-04.atom",
        "all/archive/2025-03.atom",
        "all/archive/2025-02-2.atom",
        "all/archive/2025-02.atom",
        "all/archive/2025-01-2.atom",
        "all/archive/2025-01.atom",
    ]
    archived: dict[str, str] = {}
    newer = site.get("all.atom")
    for doc in pages:
        assert doc.content_type == "application/atom+xml; charset=utf-8"
        assert atom_problems(doc.body) == [], doc.url
        assert reparse_problems(doc.body) == [], doc.url
        assert doc.link("self") == doc.url
        assert doc.link("current") == site.base + "all.atom"
        assert doc.root.find(f"{{{FH}}}archive") is not None
        assert doc.root.find(f"{{{ATOM}}}link[@rel='hub']") is None
        # next-archive leads back to the page that linked here; the newest page has none.
        assert doc.link("next-archive") == (newer.url if newer.url != site.base + "all.atom" else None)
        assert not archived.keys() & doc.entries.keys(), f"{doc.url} repeats entries"
        archived |= doc.entries
        newer = doc
    # Everything the feed ever showed, under the same ids; nothing the feed's rules exclude;
    # the two copies of story 7 one item.
    assert site.seen_live.keys() <= archived.keys()
    expected = {f"Wire story {n}" for n in range(1, 14)} | {"Daily's own January story", "Late January story"}
    assert set(archived.values()) == expected and len(archived) == len(expected)
    assert "Wire story 3" in archived.values()  # as January's final page showed it
    assert set(pages[1].entries.values()) == {"Late January story", *(f"Wire story {n}" for n in (11, 12, 13))}


def test_a_missing_page_is_written_again_and_the_rest_stay(site: Site) -> None:
    site.step(at(JAN, 25), wire_entries(JAN, 1, 6), [])
    site.step(at(FEB, 25), wire_entries(JAN, 1, 6) + wire_entries(FEB, 7, 2), [])
    february = site.page(FEB).read_bytes()
    first = site.page(JAN)
    lost = first.read_bytes()
    first.unlink()
    changed = site.publish(at(FEB, 26))
    assert first in changed and first.read_bytes() == lost
    assert site.page(FEB).read_bytes() == february


def test_a_month_that_needs_fewer_pages_loses_the_rest(site: Site) -> None:
    site.step(at(JAN, 25), wire_entries(JAN, 1, 10), [])
    assert site.page(JAN, 2).exists()  # six stories left the window of four
    [all_feed, plain] = site.config.feeds
    site.config = replace(site.config, feeds=[replace(all_feed, max_items=8), plain])
    site.publish(at(JAN, 26))
    assert not site.page(JAN, 2).exists()
    [page] = site.walk()
    assert set(page.entries.values()) == {"Wire story 1", "Wire story 2"}


def test_a_feed_without_archive_has_no_pages_and_hubs_hear_only_of_subscriptions(site: Site) -> None:
    changed = site.step(at(JAN, 25), wire_entries(JAN, 1, 6), [])
    assert site.page(JAN) in changed
    assert not (site.out / "plain").exists()
    assert site.get("plain.atom").link("prev-archive") is None
    assert site.get("all.rss").body.count(b"prev-archive") == 0  # archive pages are Atom, linked from Atom
    assert announce(site.config, changed) == []
    pinged = {parse_qs(r.body.decode())["hub.url"][0] for r in site.feed_server.hits("/hub")}
    assert site.base + "all.atom" in pinged
    assert not [url for url in pinged if "/archive/" in url]


def test_archive_needs_the_atom_format(tmp_path: Path) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text("feeds:\n  - name: all\n    formats: [json]\n    archive: true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        config_module.load(path)
    assert "archive: true needs atom in formats" in str(raised.value)
