"""The lxml fast path (newsriver.ingest.parse_xml) against feedparser, on every file of the corpora.

Wherever the fast path accepts a document, ``normalize_feed`` must give the same articles and
the same feed metadata as it does from feedparser's result; wherever it is unsure it must
decline, and feedparser runs as before. The share it accepts is pinned too, so that a fast
path that declines everything fails here rather than passing vacuously.
"""

from __future__ import annotations

import logging
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import feedparser
import feedparser.encodings
import pytest

import newsriver.ingest.parse as parse_module
from newsriver.errors import ParseError
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
from newsriver.ingest.parse_common import FeedHead
from newsriver.ingest.parse_xml import PIEncoding, read_feed
from newsriver.models import Entry, ParsedFeed

from .conftest import needs_corpus
from .corpus import FEEDS, NOW, chunks, content_type, url_of

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@dataclass(frozen=True)
class Outcome:
    name: str
    accepted: bool
    entries: int = 0
    problem: str = ""  # how the two paths differ, "" when they agree


def _header(body: bytes, declared: str) -> str:
    return parse_module._utf8_if_misdeclared(body, declared) or "application/xml"


def _slow_parse(body: bytes, url: str, declared: str) -> ParsedFeed:
    """parse() with the fast path switched off: what newsriver did before it existed."""
    original = parse_module.read_feed
    parse_module.read_feed = lambda body, content_type, hold=None: None  # type: ignore[assignment]
    try:
        return parse(body, url, declared)
    finally:
        parse_module.read_feed = original


def _read_again_alike(body: bytes, header: str, head: FeedHead, entries: list[Entry]) -> bool:
    """A document of more entries than are held is read to its end, then again for its
    entries: the second reading must give what one reading does."""
    again = read_feed(body, header, hold=0)
    return again is not None and again[0] == head and list(again[1]) == entries


def _differences(fast: ParsedFeed, slow: ParsedFeed, url: str) -> str:
    if fast.meta != slow.meta:
        return f"meta: {fast.meta} != {slow.meta}"
    ours, theirs = normalize_feed(fast, "s", url, NOW), normalize_feed(slow, "s", url, NOW)
    if len(ours) != len(theirs):
        return f"{len(ours)} articles != {len(theirs)}"
    for position, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for field in a.__dataclass_fields__:
            if getattr(a, field) != getattr(b, field):
                return f"entry {position} {field}: {getattr(a, field)!r:.300} != {getattr(b, field)!r:.300}"
    return ""


def compare(path: Path) -> Outcome:
    body = path.read_bytes()
    name = str(path.relative_to(FEEDS))
    declared = content_type(body)
    if parse_module._looks_like_json(body, declared):
        return Outcome(name, accepted=False)
    fast = read_feed(body, _header(body, declared))
    if fast is None:
        return Outcome(name, accepted=False)
    head, entries = fast[0], list(fast[1])
    if not _read_again_alike(body, _header(body, declared), head, entries):
        return Outcome(name, True, len(entries), "read again, the document gave other entries")
    url = url_of(path)
    try:
        slow = _slow_parse(body, url, declared)
    except ParseError as exc:
        return Outcome(name, True, len(entries), f"feedparser path: {exc}")
    return Outcome(name, True, len(entries), _differences(parse(body, url, declared), slow, url))


@cache
def chunk_outcomes(chunk_id: str) -> tuple[Outcome, ...]:
    return tuple(compare(path) for path in chunks()[chunk_id])


def all_outcomes() -> Iterator[Outcome]:
    for chunk_id in chunks():
        yield from chunk_outcomes(chunk_id)


@needs_corpus
@pytest.mark.parametrize("chunk_id", list(chunks()))
def test_fast_path_normalizes_like_feedparser(chunk_id: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="newsriver.ingest.parse_xml"):
        outcomes = chunk_outcomes(chunk_id)
    problems = [f"{o.name}: {o.problem}" for o in outcomes if o.problem]
    assert not problems, "\n".join(problems)
    # A bug in the fast path falls back to feedparser with a warning: none may happen here.
    assert [r.getMessage() for r in caplog.records if r.name == "newsriver.ingest.parse_xml"] == []


# Real captured feeds in plain RSS 2.0 / 0.9x or Atom 1.0 that must take the fast path.
REAL_FEEDS_ACCEPTED = [
    "feed-rs/atom/atom_example_2.xml",  # xml:base
    "feed-rs/atom/atom_example_reddit.xml",
    "feed-rs/atom/atom_mediarss_reddit_1.xml",
    "feed-rs/atom/atom_mediarss_youtube_1.xml",
    "feed-rs/rss0/rss_0.91_spec_1.xml",
    "feed-rs/rss0/rss_0.92_spec_1.xml",
    "feed-rs/rss2/rss_2.0_anchorfm.xml",
    "feed-rs/rss2/rss_2.0_bbc.xml",
    "feed-rs/rss2/rss_2.0_cloudflare.xml",
    "feed-rs/rss2/rss_2.0_example_2.xml",  # xml:base
    "feed-rs/rss2/rss_2.0_ghost_1.xml",
    "feed-rs/rss2/rss_2.0_nbcny.xml",
    "feed-rs/rss2/rss_2.0_nightvale.xml",
    "feed-rs/rss2/rss_2.0_reddit.xml",
    "feed-rs/rss2/rss_2.0_spiegel.xml",
    "feed-rs/rss2/rss_2.0_vimeo_media.xml",
    "feed-rs/rss2/rss_2.0_wirecutter.xml",
    "miniflux/parser/encoding_ISO-8859-1.xml",
    "miniflux/parser/encoding_WINDOWS-1251.xml",
    "miniflux/parser/large_atom.xml",
    "miniflux/parser/large_rss.xml",
    "miniflux/parser/urdu_UTF8.xml",
]


@needs_corpus
def test_the_fast_path_takes_a_meaningful_share_of_the_corpus() -> None:
    outcomes = list(all_outcomes())
    accepted = [o for o in outcomes if o.accepted]
    entries = sum(o.entries for o in accepted)
    print(f"fast path: {len(accepted)} of {len(outcomes)} files, {entries} entries")
    names = {o.name for o in accepted}
    assert [name for name in REAL_FEEDS_ACCEPTED if name not in names] == []
    # 1,550 files and 1,170 entries when written; a little slack for rules made stricter.
    assert len(accepted) >= 1400
    assert entries >= 1000


@needs_corpus  # the farm's words come from the corpus article
def test_the_benchmark_farm_feeds_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench

    rng = random.Random(1)
    vocabulary = bench.words()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    entries = []
    for i in range(20):
        title, body = bench.story(rng, vocabulary)
        entries.append((title, f"https://x.example/{i}", body, now - timedelta(hours=i)))
    for kind in (0, 1):  # RSS 2.0, Atom
        path = tmp_path / f"feed{kind}.xml"
        bench.write_feed(path, kind, entries)
        body = path.read_bytes()
        fast = read_feed(body, "application/xml")
        assert fast is not None and len(list(fast[1])) == 20
        url = "https://x.example/feed"
        assert _differences(parse(body, url, "application/xml"), _slow_parse(body, url, "application/xml"), url) == ""
    sys.modules.pop("bench", None)


def test_parse_does_not_call_feedparser_for_a_plain_feed(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("feedparser was called")

    monkeypatch.setattr(feedparser, "parse", refuse)
    parsed = parse(rss(), "https://x.example/feed", "application/rss+xml")
    assert parsed.meta.title == "Feed" and parsed.meta.link == "https://x.example/"
    assert [e.title for e in parsed.entries] == ["Story"]


# ----- what the fast path declines

RSS = (
    '<?xml version="1.0" encoding="utf-8"?>\n{doctype}<rss version="2.0"{ns}><channel><title>Feed</title>'
    "<link>https://x.example/</link><description>d</description>{item}</channel></rss>"
)
ITEM = "<item><title>Story</title><link>https://x.example/1</link><description>Text</description></item>"
ATOM = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{attrs}><title>Feed</title>'
    '<id>urn:f</id><entry><title>Story</title><id>urn:1</id><link href="https://x.example/1"/>{content}</entry></feed>'
)


def rss(item: str = ITEM, doctype: str = "", ns: str = "") -> bytes:
    return RSS.format(item=item, doctype=doctype, ns=ns).encode()


def atom(content: str = "", attrs: str = "") -> bytes:
    return ATOM.format(content=content, attrs=attrs).encode()


def test_plain_documents_are_accepted() -> None:
    assert read_feed(rss(), "application/xml") is not None
    assert read_feed(atom('<content type="html">&lt;p&gt;x&lt;/p&gt;</content>'), "application/xml") is not None
    assert read_feed(atom(attrs=' xml:lang="en"'), "application/xml") is not None


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("DOCTYPE", rss(doctype='<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x">\n')),
        ("entity declaration", rss(doctype='<!DOCTYPE rss [<!ENTITY e "x">]>\n', item=ITEM.replace("Text", "&e;"))),
        ("undefined entity", rss(item=ITEM.replace("Text", "&nbsp;"))),
        ("not well-formed", rss(item=ITEM.replace("</title>", ""))),
        ("xml:base beside a base attribute", atom(attrs=' xml:base="https://x.example/" base="https://y.example/"')),
        ("xhtml content", atom('<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></content>')),
        ("base64 content", atom('<content type="image/png">AAAA</content>')),
        ("markup inside an RSS title", rss(item="<item><title>A <b>bold</b> one</title></item>")),
        (
            "RSS 1.0",
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
            b"<channel><title>t</title></channel></rdf:RDF>",
        ),
        ("unknown root", b"<catalog><book>x</book></catalog>"),
        (
            "item outside the channel",
            rss().replace(b"</channel></rss>", b"</channel><item><title>x</title></item></rss>"),
        ),
        (
            "GeoRSS",
            rss(
                item="<item><georss:point>1 2</georss:point></item>", ns=' xmlns:georss="http://www.georss.org/georss"'
            ),
        ),
        ("namespaced attribute", rss(item='<item><guid x:isPermaLink="false">1</guid></item>', ns=' xmlns:x="urn:x"')),
        (
            "known prefix bound to another known namespace",
            rss(
                item="<item><c:encoded>x</c:encoded></item>",
                ns=' xmlns:content="http://purl.org/dc/elements/1.1/" xmlns:c="http://purl.org/rss/1.0/modules/content/"',
            ),
        ),
        ("item image", rss(item="<item><image><url>https://x.example/i.png</url></image></item>")),
        ("unknown element under a key normalize reads", rss(item="<item><date>2024-01-01</date></item>")),
        (
            "unknown element holding a known one",
            rss(item="<item><x:wrap xmlns:x='urn:x'><title>t</title></x:wrap></item>"),
        ),
    ],
)
def test_documents_the_fast_path_is_unsure_of_are_declined(why: str, body: bytes) -> None:
    assert read_feed(body, "application/xml") is None, why


# Documents the fast path accepts that exercise feedparser's quirks: each must normalize the
# same on both paths (the corpus has most of these too; here they are on purpose).
CRAFTED = {
    "guid before link": rss(item="<item><guid>https://x.example/g</guid><link>https://x.example/l</link></item>"),
    "guid not a permalink": rss(item='<item><guid isPermaLink="false">tag:x,1</guid><title>t</title></item>'),
    "second description becomes content": rss(
        item="<item><description>a</description><description>b</description></item>"
    ),
    "podcast summary after description": rss(
        item="<item><description>&lt;p&gt;a&lt;/p&gt;</description>"
        "<itunes:summary>Plain &amp;amp; text</itunes:summary></item>",
        ns=' xmlns:itunes="http://www.itunes.com/DTDs/PodCast-1.0.dtd"',
    ),
    "content then description": rss(
        item="<item><content:encoded>&lt;b&gt;full&lt;/b&gt;</content:encoded><description>short</description></item>",
        ns=' xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    ),
    "media group": rss(
        item='<item><media:group><media:content url="https://x.example/v.mp4" medium="video">'
        "<media:title>M</media:title><media:description>d</media:description>"
        '<media:thumbnail url="https://x.example/t.jpg"/></media:content>'
        "</media:group></item>",
        ns=' xmlns:media="http://search.yahoo.com/mrss/"',
    ),
    "categories and enclosures": rss(
        item='<item><category domain="d">A</category><category domain="d">B</category><category>A</category>'
        '<enclosure url="https://x.example/a.mp3" length="12" type="Audio/MPEG"/><enclosure url=""/></item>'
    ),
    "authors": rss(
        item="<item><author>jo@x.industries (Jo Doe)</author><dc:creator>Ann</dc:creator></item>",
        ns=' xmlns:dc="http://purl.org/dc/elements/1.1/"',
    ),
    "link with an escaped query": rss(item="<item><link>https://x.example/?a=1&amp;amp;b=2&amp;c;</link></item>"),
    "dates": rss(
        item="<item><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate><dc:date>2003-06-11T04:00:00Z</dc:date></item>",
        ns=' xmlns:dc="http://purl.org/dc/elements/1.1/"',
    ),
    "windows-1252 C1 characters and double-encoded UTF-8": rss(item="<item><title>\u0093q\u0094 CafÃ©</title></item>"),
    "mis-declared charset": rss(item="<item><title>caf\xe9</title></item>")
    .replace(b"\xc3\xa9", b"\xe9")
    .replace(b'encoding="utf-8"', b'encoding="bogus-charset"'),
    "unknown extensions": rss(
        item="<item><slash:comments>3</slash:comments><comments>https://x.example/c</comments><x:y a='1'><x:z>q</x:z>"
        "</x:y></item>",
        ns=' xmlns:slash="http://purl.org/rss/1.0/modules/slash/" xmlns:x="urn:x"',
    ),
    "atom authors, links and summary after content": atom(
        "<author><name>A</name><email>a@x.example</email><uri>https://x.example/a</uri></author>"
        '<link rel="enclosure" href="https://x.example/e.mp3"/><content type="html">&lt;p&gt;c&lt;/p&gt;</content>'
        '<summary type="text">s &lt; t</summary><category term="t" label="T"/>',
        attrs=' xml:lang="de_DE"',
    ),
    "xml:base, nested and leaking to siblings": ATOM.replace("{attrs}", ' xml:base="https://x.example/blog/"')
    .replace(
        "{content}",
        '<link rel="related" href="../rel"/><content type="html" xml:base="posts/">&lt;a href="p.html"&gt;p&lt;/a&gt;'
        '</content><summary xml:base="/s/">s</summary><comments xml:base="c/">thread.html</comments>',
    )
    .replace("<id>urn:1</id>", '<id xml:base="http://other.example/">1</id>')
    .encode(),
    "atom title after an entry": ATOM.replace("{content}", "")
    .replace("{attrs}", "")
    .replace("</feed>", "<title>Late</title></feed>")
    .encode(),
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_documents_normalize_like_feedparser(name: str) -> None:
    body = CRAFTED[name]
    fast = read_feed(body, "application/xml")
    assert fast is not None, name
    assert _read_again_alike(body, "application/xml", fast[0], list(fast[1]))
    url = "https://x.example/feed"
    assert _differences(parse(body, url), _slow_parse(body, url, ""), url) == ""


def test_declined_documents_still_parse_with_feedparser() -> None:
    parsed = parse(
        atom('<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><b>x</b></div></content>'), "u"
    )
    content = parsed.entries[0].content
    assert content is not None and content.value == "<b>x</b>"


def test_the_linear_encoding_sniffer_matches_feedparsers_pattern() -> None:
    original = re.compile(PIEncoding.pattern)
    assert isinstance(feedparser.encodings.RE_XML_PI_ENCODING, PIEncoding)
    fast = PIEncoding()
    pieces = [b"<", b"?", b">", b'"', b"'", b"\n", b"\r", b" ", b"x", b"=", b"?>", b"<?", b'"?>', b"encoding"]
    pieces += [b"encoding=", b'encoding="', b"encoding='", b"encodingencoding="]
    rng = random.Random(11)
    matched = 0
    for _ in range(50_000):
        data = b"<?" * rng.randint(0, 1) + b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        want, got = original.match(data), fast.match(data)
        assert (want.groups() if want else None) == (got.groups() if got else None), data
        matched += want is not None
    assert matched > 1000


# ----- random documents from the vocabulary the fast path mirrors, in random orders

_TEXTS = [
    "plain",
    " spaced  ",
    "a &amp; b",
    "&lt;b&gt;bold&lt;/b&gt;",
    "<![CDATA[<p>x</p>]]>",
    "caf\u00e9",
    "\u0093q\u0094",
    "\u00c3\u00a9t\u00e9",
    "https://x.example/a",
    "http:///x.example/b",
    "tag:x,2020:1",
    "jo@x.example (Jo)",
    "Jo <jo@x.example>",
    "",
    "Tue, 10 Jun 2003 04:00:00 GMT",
    "2003-06-11T04:00:00Z",
    "1700000000",
    "a, b ,c",
    "x&amp;amp;y=1&amp;z;",
    "&#x93;&#8217;",
    "a\r\nb\tc",
    "&lt;/x&gt;",
    "page.html",
    "/abs/p",
    '&lt;a href="rel.html"&gt;x&lt;/a&gt;',
]
_BASES = ["http://b.example/dir/", "sub/", "/root/", "", "javascript:alert(1)", "https://c.example/x?y#z", "../up/"]
_VALUES = [
    "text",
    "html",
    "TEXT",
    "alternate",
    "self",
    "enclosure",
    "false",
    "true",
    "https://x.example/e",
    "",
    "audio/mpeg",
]
_NAMESPACES = (
    ' xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:itunes="http://www.itunes.com/DTDs/PodCast-1.0.dtd" xmlns:media="http://search.yahoo.com/mrss/"'
    ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
)
_RSS_ITEM = [
    "<title{type}{base}>{t}</title>",
    "<link{rel}{type}{href}{base}>{t}</link>",
    "<guid{isPermaLink}{base}>{t}</guid>",
    "<description{type}{base}>{t}</description>",
    "<content:encoded>{t}</content:encoded>",
    "<itunes:summary>{t}</itunes:summary>",
    "<pubDate>{t}</pubDate>",
    "<dc:date>{t}</dc:date>",
    "<author>{t}</author>",
    "<dc:creator>{t}</dc:creator>",
    "<category{domain}>{t}</category>",
    "<comments>{t}</comments>",
    '<enclosure url="{t}"{type}{length}/>',
    "<media:thumbnail{url}>{t}</media:thumbnail>",
    "<media:content{url}{type}><media:title>{t}</media:title><media:description>{t}</media:description></media:content>",
    "<media:title>{t}</media:title>",
    "<itunes:image{href}/>",
    "<itunes:keywords>{t}</itunes:keywords>",
    "<language>{t}</language>",
    "<source url='u'>{t}</source>",
    "<slash:comments>{t}</slash:comments>",
    "<summary>{t}</summary>",
]
_RSS_CHANNEL = [
    "<title>{t}</title>",
    "<link>{t}</link>",
    "<description>{t}</description>",
    "<itunes:summary>{t}</itunes:summary>",
    "<language>{t}</language>",
    "<ttl>{t}</ttl>",
    "<itunes:subtitle>{t}</itunes:subtitle>",
    "<image><title>{t}</title><url>{t}</url></image>",
]
_ATOM_ENTRY = [
    "<title{type}>{t}</title>",
    "<id>{t}</id>",
    "<link{rel}{type}{href}{base}/>",
    "<updated>{t}</updated>",
    "<published>{t}</published>",
    "<summary{type}{base}>{t}</summary>",
    "<content{type}{base}>{t}</content>",
    "<author><name>{t}</name><email>{t}</email><uri>{t}</uri></author>",
    "<category{term}{label}/>",
    "<media:group><media:title>{t}</media:title><media:community><media:starRating count='1'/></media:community>"
    "</media:group>",
]
_ATOM_FEED = ["<title>{t}</title>", "<id>{t}</id>", "<link{rel}{href}/>", "<subtitle>{t}</subtitle>"]


def _random_document(rng: random.Random) -> bytes:
    def fill(template: str) -> str:
        names = re.findall(r"\{(\w+)\}", template)
        values = {n: f' {n}="{rng.choice(_VALUES)}"' if rng.random() < 0.3 else "" for n in names}
        if values.get("base"):
            values["base"] = f' xml:base="{rng.choice(_BASES)}"'
        return re.sub(r"\{t\}", lambda _: rng.choice(_TEXTS), template.format(**{**values, "t": "{t}"}))

    def some(templates: list[str], most: int) -> str:
        return "".join(fill(rng.choice(templates)) for _ in range(rng.randint(0, most)))

    if rng.random() < 0.5:
        opens = ["<item>", '<item xml:base="http://i.example/i/">']
        items = "".join(f"{rng.choice(opens)}{some(_RSS_ITEM, 7)}</item>" for _ in range(rng.randint(1, 3)))
        return f'<rss version="2.0"{_NAMESPACES}><channel>{some(_RSS_CHANNEL, 5)}{items}</channel></rss>'.encode()
    langs = ["", ' xml:lang="fr"', ' xml:lang=""', ' xml:base="http://e.example/a/"', ' xml:base="rel/"']
    entries = "".join(f"<entry{rng.choice(langs)}>{some(_ATOM_ENTRY, 7)}</entry>" for _ in range(rng.randint(1, 3)))
    lang = rng.choice(["", ' xml:lang="en_US"', ' xml:base="http://root.example/r/"'])
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom"{_NAMESPACES}{lang}>{some(_ATOM_FEED, 4)}{entries}</feed>'.encode()
    )


def test_random_documents_normalize_like_feedparser() -> None:
    rng = random.Random(2026)
    accepted = 0
    url = "https://x.example/feed"
    for _ in range(400):
        body = _random_document(rng)
        if read_feed(body, "application/xml") is None:
            continue
        accepted += 1
        assert _differences(parse(body, url), _slow_parse(body, url, ""), url) == "", body.decode()
    assert accepted > 150
