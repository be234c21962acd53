"""Published feeds are valid, carry every field, and feedgen 1.0's defects stay mended.

Each test of a feedgen workaround checks what feedgen alone gets wrong (ANCHORS.md lists the
defects), so it fails if the workaround goes. The corpora's outputs are validated in
test_corpus.py; these are the cases the corpora do not pin down.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
from newsriver.models import Article
from newsriver.publish.formats import RENDERERS
from newsriver.publish.related import Reported
from newsriver.publish.render_atom import render_atom
from newsriver.publish.render_common import NO_COPIES, FeedInfo, SourceInfo
from newsriver.publish.render_json import render_json
from newsriver.publish.render_rss import render_rss, rss_generator
from newsriver.store.store import Store
from newsriver.stories.match import Copy

from .feedcheck import ATOM, NS, format_problems, link_problems, output_dangers

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INFO = FeedInfo(
    name="all",
    title="All",
    description="Everything",
    base_url="http://127.0.0.1:8080/",
    link="https://river.example/",
    hubs=("https://hub.example/",),
)
SOURCES = {"wire": SourceInfo("wire", "Wire Service", "https://wire.example/feed.rss", "https://wire.example/")}
MEDIA = "http://search.yahoo.com/mrss/"
DC = "http://purl.org/dc/elements/1.1/"

FULL = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel><title>Wire</title><link>https://wire.example/</link><description>d</description>
<language>en-gb</language>
<item>
  <guid>https://wire.example/news/1</guid><link>https://wire.example/news/1?utm_source=rss</link>
  <title>Rates &lt;b&gt;held&lt;/b&gt;</title>
  <description>&lt;p&gt;The bank &lt;a href="/rates"&gt;held&lt;/a&gt; rates.&lt;/p&gt;</description>
  <pubDate>Sun, 01 Mar 2026 09:00:00 +0100</pubDate>
  <author>desk@wire.example (Ann Editor)</author><dc:creator>Bo Reporter</dc:creator>
  <category>Economy</category><category>Banks</category>
  <enclosure url="https://wire.example/a.mp3" length="1234" type="audio/mpeg"/>
  <media:thumbnail url="https://wire.example/a.jpg"/>
  <comments>https://wire.example/news/1#comments</comments>
</item>
<item><guid isPermaLink="false">2</guid><title>Undated, no link</title><description>Text only.</description></item>
</channel></rss>"""


def articles(document: str = FULL) -> list[Article]:
    parsed = parse(document.encode(), "https://wire.example/feed.rss")
    return normalize_feed(parsed, "wire", "https://wire.example/feed.rss", NOW)


def render_all(items: list[Article]) -> dict[str, bytes]:
    return {
        "atom": render_atom(INFO, items, SOURCES),
        "rss": render_rss(INFO, items, SOURCES),
        "json": render_json(INFO, items, SOURCES),
    }


def test_every_format_is_valid_and_safe() -> None:
    for fmt, data in render_all(articles()).items():
        assert format_problems(fmt, data, INFO.url("rss")) == [], fmt
        assert output_dangers(fmt, data) == [], fmt


def test_every_field_reaches_every_format() -> None:
    outputs = render_all(articles())
    atom = feedparser.parse(outputs["atom"]).entries[0]
    rss = feedparser.parse(outputs["rss"]).entries[0]
    item = json.loads(outputs["json"])["items"][0]

    for entry in (atom, rss):
        assert entry.title == "Rates held"
        assert entry.link == "https://wire.example/news/1?utm_source=rss"  # shown as the source gave it
        assert [t.term for t in entry.tags] == ["Economy", "Banks"]
        assert entry.enclosures[0].href == "https://wire.example/a.mp3"
        assert entry.enclosures[0].length == "1234" and entry.enclosures[0].type == "audio/mpeg"
        assert entry.media_thumbnail[0]["url"] == "https://wire.example/a.jpg"
        assert entry.published_parsed[:6] == (2026, 3, 1, 8, 0, 0)
        assert 'href="https://wire.example/rates"' in entry.summary
    assert [a.name for a in atom.authors] == ["Ann Editor", "Bo Reporter"]
    assert atom.authors[0].email == "desk@wire.example"
    assert {(link.rel, link.href) for link in atom.links} >= {("replies", "https://wire.example/news/1#comments")}
    assert atom.title_detail.language == "en-gb"
    assert rss.comments == "https://wire.example/news/1#comments"
    root = etree.fromstring(outputs["rss"])
    assert root.findtext("channel/item/author") == "desk@wire.example (Ann Editor)"
    assert root.findtext(f"channel/item/{{{DC}}}creator") == "Bo Reporter"
    assert root.findtext(f"channel/item/{{{DC}}}language") == "en-gb"

    assert item["title"] == "Rates held"
    assert item["authors"] == [{"name": "Ann Editor", "url": "mailto:desk@wire.example"}, {"name": "Bo Reporter"}]
    assert item["tags"] == ["Economy", "Banks"]
    assert item["attachments"] == [
        {"url": "https://wire.example/a.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1234}
    ]
    assert item["image"] == "https://wire.example/a.jpg"
    assert item["language"] == "en-gb"
    assert item["date_published"] == item["date_modified"] == "2026-03-01T08:00:00Z"
    assert item["external_url"] == "https://wire.example/news/1#comments"


# --- feedgen's defects (ANCHORS.md), each with the behaviour its workaround restores ---------


def atom_entry(items: list[Article]) -> etree._Element:
    return etree.fromstring(render_atom(INFO, items, SOURCES)).find("a:entry", NS)


def test_entry_links_keep_rel_type_and_length() -> None:
    # feedgen 1.0 (issue #135) writes every entry link as a bare href: the enclosure becomes
    # a second alternate link, which RFC 4287 forbids.
    links = [
        (link.get("rel"), link.get("type"), link.get("length"))
        for link in atom_entry(articles()).iterfind("a:link", NS)
    ]
    assert links == [
        ("alternate", "text/html", None),
        ("enclosure", "audio/mpeg", "1234"),
        ("replies", "text/html", None),
    ]


def test_atom_source_is_complete() -> None:
    # feedgen writes <source> with a title and link only; readers need id and updated, and
    # an entry without an author needs its source's (RFC 4287 §4.1.2).
    undated = articles()[1]
    source = atom_entry([undated]).find("a:source", NS)
    assert source.findtext("a:id", namespaces=NS) == "https://wire.example/feed.rss"
    assert source.findtext("a:title", namespaces=NS) == "Wire Service"
    assert source.findtext("a:updated", namespaces=NS) == NOW.isoformat()
    assert source.findtext("a:author/a:name", namespaces=NS) == "Wire Service"
    assert [(link.get("rel"), link.get("href")) for link in source.iterfind("a:link", NS)] == [
        ("self", "https://wire.example/feed.rss"),
        ("alternate", "https://wire.example/"),
    ]


def test_hubs_are_advertised_in_rss_too() -> None:
    # feedgen never writes atom:link rel="hub" into RSS (its issue #122).
    channel = etree.fromstring(render_rss(INFO, articles(), SOURCES)).find("channel")
    links = {(link.get("rel"), link.get("href")) for link in channel.iterfind(f"{{{ATOM}}}link")}
    assert links == {("self", INFO.url("rss")), ("hub", "https://hub.example/")}
    atom = etree.fromstring(render_atom(INFO, articles(), SOURCES))
    assert atom.xpath("a:link[@rel='hub']/@href", namespaces=NS) == ["https://hub.example/"]


def test_rss_channel_link_is_the_web_page_whichever_link_came_last() -> None:
    # feedgen makes the channel <link> whichever fg.link() was called last; the generator sets
    # the Atom self link after the alternate one.
    generator = rss_generator(INFO, articles(), SOURCES, NO_COPIES)
    channel = etree.fromstring(generator.rss_str()).find("channel")
    assert channel.findtext("link") == "https://river.example/"
    assert etree.fromstring(render_rss(INFO, articles(), SOURCES)).findtext("channel/link") == "https://river.example/"


def test_dates_read_back_from_the_database_are_aware(tmp_path: Path) -> None:
    # SQLite keeps no time zone and feedgen raises ValueError on a naive datetime: the store
    # must hand back aware UTC dates, and they must reach the output as UTC.
    store = Store(f"sqlite:///{tmp_path / 'dates.db'}")
    store.sources.sync([("wire", "https://wire.example/feed.rss")])
    store.entries.save("wire", articles(), {"status": "ok"})
    stored = store.selection.for_feed(["wire"], 10)
    store.close()
    assert all(a.published.tzinfo is not None and a.updated.tzinfo is not None for a in stored)
    atom = etree.fromstring(render_atom(INFO, stored, SOURCES))
    assert atom.findtext("a:updated", namespaces=NS) == NOW.isoformat()
    assert etree.fromstring(render_rss(INFO, stored, SOURCES)).findtext("channel/lastBuildDate") == (
        "Sun, 01 Mar 2026 12:00:00 +0000"
    )


def test_characters_illegal_in_xml_never_reach_feedgen() -> None:
    # feedgen (through lxml) raises ValueError on \\x00-\\x08, \\x0b, \\x0c, \\x0e-\\x1f.
    hostile = (
        FULL.replace("Rates &lt;b&gt;held", "Rates&#x1; &lt;b&gt;held&#x1f;")
        .replace("Economy", "Eco&#x8;nomy")
        .replace("Ann Editor", "Ann&#xc; Editor")
        .replace("<title>Wire</title>", "<title>Wi&#xb;re</title>")
    )
    items = articles(hostile)
    assert items[0].title == "Rates held" and items[0].categories[0] == "Economy"
    sources = {
        "wire": SourceInfo(
            "wire", parse(hostile.encode(), "https://wire.example/").meta.title, "https://wire.example/feed.rss", ""
        )
    }
    for fmt, data in {
        "atom": render_atom(INFO, items, sources),
        "rss": render_rss(INFO, items, sources),
        "json": render_json(INFO, items, sources),
    }.items():
        assert not any(chr(c).encode() in data for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]), fmt
        assert format_problems(fmt, data, INFO.url("rss")) == [], fmt


def test_feed_date_is_the_newest_items_so_bytes_only_change_with_content() -> None:
    # feedgen dates the feed "now" (updated, lastBuildDate) unless told otherwise.
    items = articles()
    newest = max(a.updated for a in items)
    atom = etree.fromstring(render_atom(INFO, items, SOURCES))
    assert atom.findtext("a:updated", namespaces=NS) == newest.isoformat()
    assert render_atom(INFO, items, SOURCES) == render_atom(INFO, items, SOURCES)
    assert render_rss(INFO, [], SOURCES) == render_rss(INFO, [], SOURCES)


def test_items_keep_their_order() -> None:
    # feedgen's add_entry() prepends unless asked to append.
    items = sorted(articles(), key=lambda a: a.published, reverse=True)
    atom_ids = [
        e.findtext("a:id", namespaces=NS)
        for e in etree.fromstring(render_atom(INFO, items, SOURCES)).iterfind("a:entry", NS)
    ]
    rss_ids = [g.text for g in etree.fromstring(render_rss(INFO, items, SOURCES)).iterfind("channel/item/guid")]
    assert atom_ids == rss_ids == [f"urn:uuid:{a.id}" for a in items]


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
def test_an_empty_feed_is_valid(fmt: str) -> None:
    data = RENDERERS[fmt](INFO, [], SOURCES)
    assert format_problems(fmt, data, INFO.url("rss")) == []


def test_future_dated_and_undated_items_stay_valid() -> None:
    far = (NOW + timedelta(days=400)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    items = articles(FULL.replace("Sun, 01 Mar 2026 09:00:00 +0100", far))
    assert items[0].published == NOW
    for fmt, data in render_all(items).items():
        assert format_problems(fmt, data, INFO.url("rss")) == [], fmt


IRIS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link><description>d</description>
<item>
  <guid isPermaLink="false">1</guid><link>https://wire.example/nachrichten/über-zölle?q=straße#teil 2</link>
  <title>Zölle</title><description>Text.</description><pubDate>Sun, 01 Mar 2026 09:00:00 +0100</pubDate>
  <enclosure url="https://bücher.example/hörbuch.mp3" length="1" type="audio/mpeg"/>
  <comments>https://wire.example/kommentare/ä</comments>
</item>
</channel></rss>"""


def test_non_ascii_links_are_published_as_uris() -> None:
    rendered = render_all(articles(IRIS))
    for fmt, data in rendered.items():
        assert link_problems(fmt, data) == [], fmt
        assert format_problems(fmt, data, INFO.url("rss")) == [], fmt
    item = feedparser.parse(rendered["rss"]).entries[0]
    assert item.link == "https://wire.example/nachrichten/%C3%BCber-z%C3%B6lle?q=stra%C3%9Fe#teil%202"
    assert item.enclosures[0].href == "https://xn--bcher-kva.example/h%C3%B6rbuch.mp3"


def test_atom_tells_a_storys_copies_from_its_related_coverage() -> None:
    # Both are rel="related" (the issue asks for it for related coverage, and no other
    # registered relation fits an edited copy): each link's title says which it is and names
    # the outlet, so a reader showing link titles can tell "the same text elsewhere" from
    # "another report of the event".
    sources = {
        **SOURCES,
        "daily": SourceInfo("daily", "Daily Example", "https://daily.example/feed", "https://daily.example/"),
        "metro": SourceInfo("metro", "Metro", "https://metro.example/feed", "https://metro.example/"),
    }
    item = articles()[0]
    copies = {item.id: [Copy("daily", "https://daily.example/29-cartel", "US extradites cartel leader", NOW)]}
    related = {item.id: [Reported("metro", "https://metro.example/reaction", "Mexico reacts", NOW)]}
    data = render_atom(INFO, [item], sources, copies, related)
    assert format_problems("atom", data, INFO.url("rss")) == []
    entry = feedparser.parse(data).entries[0]
    assert [(link.rel, link.href, link.title) for link in entry.links if link.rel == "related"] == [
        ("related", "https://daily.example/29-cartel", "Also reported by: Daily Example — US extradites cartel leader"),
        ("related", "https://metro.example/reaction", "Related coverage: Metro — Mexico reacts"),
    ]
