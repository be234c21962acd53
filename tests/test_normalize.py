"""Normalization as a pure function: feed text in, Articles out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from newsriver.models import Article
from newsriver.normalize import normalize_feed
from newsriver.parse import parse

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rss(items: str, channel: str = "") -> list[Article]:
    document = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>T</title><link>https://site.example/</link><description>d</description>{channel}{items}</channel></rss>"""
    return normalize_feed(
        parse(document.encode(), "https://cdn.example/feed.xml"), "src", "https://cdn.example/feed.xml", NOW
    )


def test_identity_guid_then_link_then_hash() -> None:
    a, b, c = rss(
        "<item><guid>g1</guid><link>https://site.example/1</link><title>A</title></item>"
        "<item><link>https://site.example/2?utm_source=x</link><title>B</title></item>"
        "<item><title>C</title><description>only text</description></item>"
    )
    assert a.entry_key == "g1"
    assert b.entry_key == "https://site.example/2"
    assert c.entry_key.startswith("sha256:")
    assert len({a.id, b.id, c.id}) == 3


def test_repeated_guid_in_one_document_is_disambiguated() -> None:
    a, b, c = rss(
        "<item><guid>same</guid><link>https://site.example/1</link><title>A</title></item>"
        "<item><guid>same</guid><link>https://site.example/2</link><title>B</title></item>"
        "<item><guid>same</guid><link>https://site.example/2</link><title>C</title></item>"
    )
    assert a.entry_key == "same"
    assert b.entry_key == "same#https://site.example/2"
    assert c.entry_key == "same#2"
    assert len({a.id, b.id, c.id}) == 3


def test_ids_are_stable_across_runs() -> None:
    first = rss("<item><guid>g1</guid><title>A</title></item>")[0]
    again = rss("<item><guid>g1</guid><title>A changed</title></item>")[0]
    assert first.id == again.id


def test_dates_missing_future_and_valid() -> None:
    missing, future, valid = rss(
        "<item><guid>1</guid><title>a</title></item>"
        "<item><guid>2</guid><title>b</title><pubDate>Mon, 01 Mar 2027 10:00:00 GMT</pubDate></item>"
        "<item><guid>3</guid><title>c</title><pubDate>Sun, 01 Mar 2026 10:00:00 +0200</pubDate></item>"
    )
    assert missing.published == NOW and missing.published.tzinfo is not None
    assert future.published == NOW
    assert valid.published == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert valid.updated == valid.published


def test_relative_links_resolve_against_the_feeds_site() -> None:
    (a,) = rss(
        '<item><guid>1</guid><link>/news/1</link><description>&lt;a href="more"&gt;m&lt;/a&gt;</description></item>'
    )
    assert a.url == "https://site.example/news/1"
    assert 'href="https://site.example/news/more"' in a.summary


def test_title_fallbacks_and_markup() -> None:
    html_title, no_title, nothing = rss(
        "<item><guid>1</guid><title>Rates &lt;b&gt;up&lt;/b&gt; &amp;amp; more</title></item>"
        "<item><guid>2</guid><description>" + "word " * 40 + "</description></item>"
        "<item><guid>3</guid><link>https://site.example/x</link></item>"
    )
    assert html_title.title == "Rates up & more"
    assert len(no_title.title) <= 101 and no_title.title.startswith("word word") and no_title.title.endswith("…")
    assert nothing.title == "https://site.example/x"


def test_fields_authors_categories_enclosures_image() -> None:
    (a,) = rss(
        "<item><guid>1</guid><title>t</title><dc:creator>Ann</dc:creator>"
        "<category>World</category><category>World</category><category>Europe</category>"
        '<enclosure url="https://site.example/a.mp3" length="1234" type="audio/mpeg"/>'
        '<media:thumbnail url="https://site.example/a.jpg"/>'
        "<comments>https://site.example/1#comments</comments></item>"
    )
    assert [x.name for x in a.authors] == ["Ann"]
    assert a.categories == ("World", "Europe")
    assert a.enclosures[0].length == 1234 and a.enclosures[0].type == "audio/mpeg"
    assert a.image == "https://site.example/a.jpg"
    assert a.comments == "https://site.example/1#comments"


def test_characters_illegal_in_xml_are_removed() -> None:
    (a,) = rss("<item><guid>1</guid><title>bad&#x1;char</title><description>x&#x8;y</description></item>")
    assert a.title == "badchar"
    assert "\x08" not in a.summary


def test_content_hash_ignores_clock_noise_but_sees_edits() -> None:
    def one(text: str) -> Article:
        return rss(f"<item><guid>1</guid><title>t</title><description>{text}</description></item>")[0]

    base = one("Brent closes at $71.42. Updated 12:04 GMT, 3 minutes ago.")
    assert one("Brent closes at $71.42. Updated 12:09 GMT, 8 minutes ago.").content_hash == base.content_hash
    assert one("Brent closes at $71.45. Updated 12:04 GMT, 3 minutes ago.").content_hash != base.content_hash


def test_one_bad_entry_does_not_cost_the_rest() -> None:
    parsed = parse(
        b"<rss version='2.0'><channel><title>t</title><item><guid>1</guid><title>ok</title></item></channel></rss>",
        "https://x.example/",
    )
    bad = {"id": "2", "title": "t", "tags": 5}  # a shape no parser should produce
    broken = replace(parsed, entries=(bad, *parsed.entries))
    articles = normalize_feed(broken, "src", "https://x.example/", NOW)
    assert [a.entry_key for a in articles] == ["1"]


def test_json_feed_is_read() -> None:
    body = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J", "home_page_url": "https://j.example/",
      "items": [{"id": 7, "url": "https://j.example/7", "title": "Seven", "content_html": "<p>hi</p>",
                 "date_published": "2026-02-01T10:00:00+01:00", "tags": ["x"],
                 "authors": [{"name": "Jo"}],
                 "attachments": [{"url": "https://j.example/7.mp3", "mime_type": "audio/mpeg",
                                  "size_in_bytes": 9}]}]}"""
    (a,) = normalize_feed(
        parse(body, "https://j.example/feed.json", "application/feed+json"), "j", "https://j.example/feed.json", NOW
    )
    assert a.entry_key == "7" and a.title == "Seven" and a.content == "<p>hi</p>"
    assert a.published == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert a.authors[0].name == "Jo" and a.categories == ("x",) and a.enclosures[0].length == 9
    assert a.published < NOW - timedelta(days=1)
