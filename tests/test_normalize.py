"""Normalization as a pure function: feed text in, Articles out."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsriver.ingest.normalize import ID_NAMESPACE, _without_clock_noise, newsriver_id, normalize_feed
from newsriver.ingest.parse import parse
from newsriver.models import Article, Entry
from newsriver.store.entries import SaveCounts
from newsriver.store.store import Store

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
    assert first.id == "80f2be7a-5443-5296-96ec-6083ced4177a"  # and across versions: published ids never change


@pytest.mark.parametrize("key", ["g1", "https://site.example/caf\xe9?q=\u201c\u201d", "\U0001f600 \U0010fffd", ""])
def test_ids_are_uuid5_of_source_and_entry_key(key: str) -> None:
    assert newsriver_id("src", key) == str(uuid.uuid5(ID_NAMESPACE, f"src\n{key}"))


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


@pytest.mark.parametrize(
    ("dates", "published", "updated"),
    [
        ("<updated>2026-02-27T10:00:00Z</updated>", datetime(2026, 2, 27, 10, tzinfo=UTC), None),
        ("<updated>2027-02-27T10:00:00Z</updated>", NOW, None),  # in the future
        ("<updated>0000-02-27T10:00:00Z</updated>", NOW, None),  # impossible
        ("<updated>someday</updated>", NOW, None),
        (
            "<published>2026-02-27T10:00:00Z</published><updated>2026-02-28T10:00:00Z</updated>",
            datetime(2026, 2, 27, 10, tzinfo=UTC),
            datetime(2026, 2, 28, 10, tzinfo=UTC),
        ),
        (
            "<published>2026-02-27T10:00:00Z</published><updated>2026-02-26T10:00:00Z</updated>",
            datetime(2026, 2, 27, 10, tzinfo=UTC),
            None,  # updated before published: published
        ),
        (
            "<published>someday</published><updated>2026-02-28T10:00:00Z</updated>",
            *[datetime(2026, 2, 28, 10, tzinfo=UTC)] * 2,
        ),
    ],
)
def test_atom_dates(dates: str, published: datetime, updated: datetime | None) -> None:
    document = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>'
        f"<entry><id>1</id><title>a</title>{dates}</entry></feed>"
    )
    (a,) = normalize_feed(parse(document.encode(), "https://site.example/f"), "src", "https://site.example/f", NOW)
    assert (a.published, a.updated) == (published, updated or published)


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


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Updated 12:04 GMT, 3 minutes ago.", "Updated , ."),
        ("At 9:05 pm and 10:00:00+02:00; 2 HOURS AGO, 5 mins\u00a0ago", "At  and ; , "),
        ("posted 5 mins\u00a0ago", "posted "),
        ("Chicago, ago, 3 agonies, said: 12 people, 9:5, 1:2x, 12 hours\u00a0later", None),
        ("The vote: 52:48, in the third\u2009hour ago", "The vote: , in the third\u2009hour ago"),
        ("\u0663:\u0664\u0665 (Arabic-Indic digits are \\d too)", " (Arabic-Indic digits are \\d too)"),
    ],
)
def test_clock_noise_is_what_the_pattern_finds(text: str, kept: str | None) -> None:
    assert _without_clock_noise(text) == (text if kept is None else kept)


def test_a_summary_that_is_the_content_again_is_none() -> None:
    document = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
<link href="https://site.example/"/>
<entry><id>1</id><title>a</title><content type="html">&lt;p&gt;Rates &lt;b&gt;up&lt;/b&gt;&lt;/p&gt;</content></entry>
<entry><id>2</id><title>b</title><content type="text">x &lt;b&gt; y</content></entry>
<entry><id>3</id><title>c</title>
<content type="html" xml:base="https://other.example/">&lt;a href="p"&gt;l&lt;/a&gt;</content></entry>
<entry><id>4</id><title>d</title><summary type="html">&lt;a href="p"&gt;l&lt;/a&gt;</summary>
<content type="html" xml:base="https://other.example/">&lt;a href="p"&gt;l&lt;/a&gt;</content></entry></feed>"""
    url = "https://cdn.example/feed.xml"
    html, text, other_base, same_base = normalize_feed(parse(document, url), "src", url, NOW)
    # The parsers keep a copy of the content as the summary, untyped (so read as HTML) and
    # without the content's xml:base: where that makes other HTML, the summary stays.
    assert (html.content, html.summary) == ("<p>Rates <b>up</b></p>", "")
    assert (text.content, text.summary) == ("x &lt;b&gt; y", "x <b> y</b>")
    assert (
        other_base.content == same_base.content == '<a href="https://other.example/p" rel="noopener noreferrer">l</a>'
    )
    assert other_base.summary == '<a href="https://site.example/p" rel="noopener noreferrer">l</a>'
    assert same_base.summary == ""


def test_one_bad_entry_does_not_cost_the_rest() -> None:
    parsed = parse(
        b"<rss version='2.0'><channel><title>t</title><item><guid>1</guid><title>ok</title></item></channel></rss>",
        "https://x.example/",
    )
    bad = Entry(id="2", title="t", categories=5)  # type: ignore[arg-type]  # a shape no parser should produce
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


# --- identity and edits, through a real database -----------------------------------------


def stored_after(tmp_path: Path, *documents: tuple[str, datetime]) -> tuple[list[SaveCounts], list[Article]]:
    """Each (items, clock) document normalized and saved in turn, as successive polls would."""
    store = Store(f"sqlite:///{tmp_path / 'ids.db'}")
    store.sources.sync([("src", "https://cdn.example/feed.xml")])
    counts = []
    for items, clock in documents:
        document = f"""<rss version="2.0"><channel><title>T</title><link>https://site.example/</link>
        <description>d</description>{items}</channel></rss>"""
        parsed = parse(document.encode(), "https://cdn.example/feed.xml")
        articles = normalize_feed(parsed, "src", "https://cdn.example/feed.xml", clock)
        counts.append(store.entries.save("src", articles, {"status": "ok"}))
    articles = store.selection.for_feed(["src"], 100)
    store.close()
    return counts, articles


def item(guid: str, text: str, date: str = "Sun, 01 Mar 2026 08:00:00 GMT") -> str:
    return (
        f"<item><guid isPermaLink='false'>{guid}</guid><link>https://site.example/story?utm_source={guid}</link>"
        f"<title>Story</title><description>{text}</description><pubDate>{date}</pubDate></item>"
    )


def test_a_feed_that_rotates_guids_keeps_one_entry_that_never_flaps(tmp_path: Path) -> None:
    later = NOW + timedelta(hours=1)
    counts, articles = stored_after(
        tmp_path, (item("g1", "Text."), NOW), (item("g2", "Text."), later), (item("g3", "Text."), later)
    )
    assert [(c.new, c.updated) for c in counts] == [(1, 0), (0, 0), (0, 0)]
    (article,) = articles
    assert article.updated == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_an_edit_updates_in_place_and_is_republished_as_updated(tmp_path: Path) -> None:
    first, edit_seen = NOW, NOW + timedelta(hours=2)
    counts, articles = stored_after(tmp_path, (item("g1", "Rates held."), first), (item("g1", "Rates cut."), edit_seen))
    assert [(c.new, c.updated) for c in counts] == [(1, 0), (0, 1)]
    (article,) = articles
    assert article.text == "Rates cut."
    # The feed kept its date, so the edit is dated when it was seen; published stays the feed's.
    assert article.updated == edit_seen
    assert article.published == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert article.first_seen == first


def test_an_edit_under_a_new_guid_is_still_one_entry(tmp_path: Path) -> None:
    counts, articles = stored_after(tmp_path, (item("g1", "Rates held."), NOW), (item("g2", "Rates cut."), NOW))
    assert [(c.new, c.updated) for c in counts] == [(1, 0), (0, 1)]
    assert [a.entry_key for a in articles] == ["g2"]


def test_a_timestamp_in_the_content_is_not_an_edit(tmp_path: Path) -> None:
    polls = [
        (item("g1", f"Brent at $71.42. Updated {hh}:0{mm} GMT, {mm} minutes ago."), NOW + timedelta(minutes=5 * i))
        for i, (hh, mm) in enumerate([(12, 1), (12, 6), (13, 1), (12, 6), (14, 9)])
    ]
    counts, articles = stored_after(tmp_path, *polls)
    assert sum(c.updated for c in counts) == 0
    assert len(articles) == 1


# --- dates, URLs and people as feeds really write them --------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Sun, 01 Mar 2026 10:00:00 +0200", datetime(2026, 3, 1, 8, 0, tzinfo=UTC)),
        ("2026-02-28T23:30:00-05:00", datetime(2026, 3, 1, 4, 30, tzinfo=UTC)),
        ("mer, 16 nov 2022 00:38:15 +0100", datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)),
        ("Di, 01 Okt 2024 10:00:00 GMT", datetime(2024, 10, 1, 10, 0, tzinfo=UTC)),
        ("sábado, 3 ago 2024 10:00:00 -0300", datetime(2024, 8, 3, 13, 0, tzinfo=UTC)),
        ("Sat, Dec 16 2023 02:02:33 PM", datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", NOW),  # a CMS's "no date", not 1970
        ("0000-00-00 00:00:00", NOW),
        ("yesterday-ish", NOW),
        ("Mon, 01 Mar 2027 10:00:00 GMT", NOW),  # a year ahead
        ("Mon, 02 Mar 2026 11:00:00 GMT", datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),  # within a day: kept
    ],
)
def test_dates_become_utc_or_the_time_first_seen(written: str, expected: datetime) -> None:
    (a,) = rss(f"<item><guid>1</guid><title>t</title><pubDate>{written}</pubDate></item>")
    assert a.published == expected
    assert a.published.utcoffset() == timedelta(0)


def test_only_web_urls_are_links_and_ids_are_not_links() -> None:
    urn, word, permalink, script, spaced = rss(
        "<item><guid>urn:uuid:1234</guid><title>a</title></item>"
        "<item><guid>Correct Value</guid><title>b</title></item>"
        "<item><guid>https://site.example/p/3</guid><title>c</title></item>"
        "<item><guid>4</guid><link>javascript:alert(1)</link><title>d</title>"
        "<comments>javascript:alert(2)</comments></item>"
        "<item><guid>5</guid><link>/a story/\tpage</link><title>e</title></item>"
    )
    assert (urn.url, word.url, permalink.url) == ("", "", "https://site.example/p/3")
    assert (script.url, script.comments) == ("", "")
    assert spaced.url == "https://site.example/a%20story/page"


@pytest.mark.parametrize(
    ("written", "name", "email"),
    [
        ("jonas@insanity.industries (Jonas Große Sundrup)", "Jonas Große Sundrup", "jonas@insanity.industries"),
        ("Simon St.Laurent (mailto:simonstl@simonstl.com)", "Simon St.Laurent", "simonstl@simonstl.com"),
        ("Jo Doe &lt;jo@example.org&gt;", "Jo Doe", "jo@example.org"),
        ("newsroom@example.org", "", "newsroom@example.org"),
        ("The Editors", "The Editors", ""),
    ],
)
def test_authors_written_as_text(written: str, name: str, email: str) -> None:
    (a,) = rss(f"<item><guid>1</guid><title>t</title><author>{written}</author></item>")
    assert [(x.name, x.email) for x in a.authors] == [(name, email)]


def test_values_outputs_would_reject_are_dropped_or_mended() -> None:
    (a,) = rss(
        "<item><guid>1</guid><title>t</title><dc:creator>Ann</dc:creator>"
        '<enclosure url="https://site.example/a.mp3" length="12 MB" type="audio"/></item>',
        channel="<language>en_GB</language>",
    )
    assert a.enclosures[0].type == "" and a.enclosures[0].length is None
    assert a.language == "en-GB"
    (b,) = rss("<item><guid>1</guid><title>t</title></item>", channel="<language>English (UK)</language>")
    assert b.language == ""


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Sat, 01 Jan 0000 10:00:00 GMT", NOW),  # parsers read the year 0 as 2000
        ("0000-06-01T10:00:00Z", NOW),
        ("Sun, 01 Mar 2026 10:00:00 +9999", NOW),  # parsers apply it as 99 h 99 min
        ("Sun, 01 Mar 2026 10:00:00 -9999", NOW),
        ("2026-02-28T10:00:00+15:00", NOW),  # outside UTC−12 … UTC+14
        ("2026-02-28T10:00:00+05:75", NOW),
        ("Sun, 01 Mar 2026 10:00:00 +1400", datetime(2026, 2, 28, 20, 0, tzinfo=UTC)),  # Kiribati
        ("2026-02-28T10:00:00-12:00", datetime(2026, 2, 28, 22, 0, tzinfo=UTC)),
        ("Mon, 01 Mar 99 10:00:00 -0500", datetime(1999, 3, 1, 15, 0, tzinfo=UTC)),  # RFC 822's two digits
    ],
)
def test_dates_no_one_can_mean_are_dropped_not_invented(written: str, expected: datetime) -> None:
    (a,) = rss(f"<item><guid>1</guid><title>t</title><pubDate>{written}</pubDate></item>")
    assert a.published == expected


def test_an_impossible_date_leaves_the_entrys_other_date() -> None:
    (a,) = rss(
        "<item><guid>1</guid><title>t</title><pubDate>Sat, 01 Jan 0000 10:00:00 GMT</pubDate>"
        "<dc:date>2026-02-28T10:00:00Z</dc:date></item>"
    )
    assert a.published == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)


def test_an_author_whose_name_is_only_markup_is_no_author() -> None:
    document = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>f</id>
<entry><title>a</title><id>1</id><author><name>&lt;b&gt;&lt;/b&gt;</name></author></entry>
<entry><title>b</title><id>2</id><author><name>&lt;img src=x&gt;Ann</name></author></entry></feed>"""
    url = "https://cdn.example/feed.xml"
    a, b = normalize_feed(parse(document, url), "src", url, NOW)
    assert a.authors == ()
    assert [x.name for x in b.authors] == ["Ann"]
