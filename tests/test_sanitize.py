"""HTML from feeds made safe: unit cases, and feedparser's 745 injection cases end to end."""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import nh3
import pytest

from newsriver.ingest import sanitize
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
from newsriver.ingest.sanitize import (
    ATTRIBUTES,
    MAX_DEPTH,
    TAGS,
    URL_SCHEMES,
    clean_html,
    flatten_deep,
    replace_bad_char_refs,
    to_text,
    xml_safe,
)

from .conftest import needs_corpus
from .corpus import FEEDS, chunks, run_chunk
from .feedcheck import html_dangers, output_dangers

BASE = "https://news.example.org/section/"
SANITIZE = FEEDS / "feedparser-tests" / "wellformed" / "sanitize"
SANITIZE_CHUNKS = [c for c in chunks() if c.startswith("feedparser-tests/wellformed/sanitize")]
# Case names that carry a payload a browser would run, load or style ("entry_title_onclick.xml",
# "style_background_url.xml"). Not "…_script_nested_cdata": its script sits in a CDATA section,
# which HTML parsers read as a comment.
PAYLOAD = re.compile(
    r"_(script(?!_nested)|on[a-z]+|style|object|meta|link|iframe|frame|embed|applet|crazy)(_|\.xml)|^style_"
)


# --- unit cases ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dirty",
    [
        '<p onclick="steal()">x</p><script>alert(1)</script><style>p{}</style>',
        '<a href="javascript:alert(1)">x</a><a href="  JaVaScRiPt:alert(1)">y</a>',
        '<a href="java&#x09;script:alert(1)">x</a><a href="vbscript:msgbox(1)">y</a>',
        '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
        '<img src="x.png" onerror="alert(1)" style="position:fixed">',
        '<img srcset="javascript:alert(1) 1x, data:image/png;base64,AA 2x" src="a.png">',
        '<blockquote cite="javascript:alert(1)">q</blockquote>',
        '<iframe src="https://evil.example/"></iframe><iframe src="javascript:alert(1)"></iframe>',
        "<object data='x.swf'></object><embed src='x.swf'><applet code='x'></applet>",
        '<form action="https://evil.example/"><input name="password"><button>go</button></form>',
        '<meta http-equiv="refresh" content="0;url=https://evil.example/"><link rel="stylesheet" href="x.css">',
        "<svg><script>alert(1)</script></svg><math><mi>x</mi></math>",
        "<!--[if IE]><script>alert(1)</script><![endif]-->",
        '<video src="javascript:alert(1)" poster="javascript:alert(2)"></video>',
        "<base href='https://evil.example/'><noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    ],
)
def test_nothing_dangerous_survives(dirty: str) -> None:
    assert html_dangers(dirty), "the case must be dangerous to begin with"
    assert html_dangers(clean_html(dirty, BASE)) == []


def test_video_players_may_be_embedded_sandboxed_and_other_frames_go_whole() -> None:
    cleaned = clean_html(
        '<iframe src="https://www.youtube.com/embed/abc" width="560"></iframe>'
        '<iframe src="https://ads.example/frame">fallback text</iframe>',
        BASE,
    )
    assert cleaned == (
        '<iframe src="https://www.youtube.com/embed/abc" width="560" '
        'sandbox="allow-scripts allow-same-origin allow-popups"></iframe>'
    )


@pytest.mark.parametrize(
    "pixel",
    [
        '<img src="https://t.example/p.gif" width="1" height="1">',
        "<img src='https://t.example/p.gif' height=0 width=0 alt=''>",
        '<img width="1px" height="1px" src="/open.gif">',
        '<img src="http://feeds.feedburner.com/~r/site/~4/abc">',
        '<img src="https://pixel.wp.com/b.gif?v=1" alt="">',
    ],
)
def test_tracking_pixels_are_removed(pixel: str) -> None:
    assert clean_html(f"<p>story{pixel}</p>", BASE) == "<p>story</p>"


def test_real_images_links_and_relative_urls() -> None:
    cleaned = clean_html('<p><a href="../next">n</a> <img src="pic.jpg" width="640" height="1" alt="a"></p>', BASE)
    assert cleaned == (
        '<p><a href="https://news.example.org/next" rel="noopener noreferrer">n</a> '
        '<img src="https://news.example.org/section/pic.jpg" width="640" height="1" alt="a"></p>'
    )


@pytest.mark.parametrize(
    "fragment",
    [
        '<p><a href="https://a.example/x">abs</a> <img src="http://b.example/i.png" alt=""></p>',
        '<a href="/x">root-relative</a>',
        '<a href="y?q=1#f">file-relative</a>',
        '<a href="//c.example/z">scheme-relative</a>',
        '<video poster="p.jpg" src="https://v.example/v.mp4" controls></video>',
        '<audio src="a.mp3"></audio>',
        '<a href="HTTPS://UP.example/">upper</a> <a href=" https://sp.example/">space</a> <a href="mailto:x@y.z">m</a>',
        '<p>text that says href="not-a-url"</p><a title="x" href="rel">t</a>',
        '<a href="">empty</a>',
        '<img src="?only=query">',
        '<a href="#frag">f</a>',
    ],
)
def test_urls_come_out_as_if_every_fragment_were_rewritten_against_its_base(fragment: str) -> None:
    # clean_html rewrites only fragments that keep a relative URL: the result must not differ
    # from having nh3 rewrite every fragment against the base.
    rewritten = nh3.clean(
        fragment,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        url_relative=("rewrite_with_base", BASE),
    )
    assert clean_html(fragment, BASE) == rewritten.strip()


def test_markup_is_kept_where_it_is_safe() -> None:
    html = "<h2>T</h2><p><b>b</b> <em>e</em> <code>c</code></p><ul><li>i</li></ul><table><tr><td>1</td></tr></table>"
    assert clean_html(html, BASE) == html.replace("<table><tr>", "<table><tbody><tr>").replace(
        "</tr></table>", "</tr></tbody></table>"
    )


def test_text_has_no_markup_even_when_it_was_escaped_twice() -> None:
    assert to_text("<p>Rates <b>up</b></p><p>again&nbsp;&amp; more</p>") == "Rates up again & more"
    # A title escaped once too often decodes to a tag: RSS readers that render titles as HTML
    # would run it, so it goes too.
    assert to_text("Breaking &lt;script&gt;alert(1)&lt;/script&gt; news") == "Breaking news"
    assert to_text("&amp;lt;b&amp;gt; stays text") == "&lt;b&gt; stays text"
    assert to_text("x < y and 3<4") == "x < y and 3<4"


def test_characters_illegal_in_xml_are_dropped() -> None:
    assert xml_safe("a\x00b\x0bc\x1fd\ufffee\ud800f\tg\nh") == "abcdef\tg\nh"
    assert clean_html("<p>a\x01b</p>") == "<p>ab</p>"


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("plain ASCII, \t tab and \r\n breaks\x7f", "plain ASCII, \t tab and \r\n breaks\x7f"),
        ("".join(map(chr, range(32))), "\t\n\r"),
        ("caf\xe9 \u201cq\u201d \U0001f600 \U0010fffd", "caf\xe9 \u201cq\u201d \U0001f600 \U0010fffd"),
        ("caf\xe9\x00\x1f \ud83d\ude00 \ufffe\uffff\ufffd \U0001f600\n", "caf\xe9  \ufffd \U0001f600\n"),
        ("\x85\xa0\u2028 \u200b\xad", "\x85\xa0\u2028 \u200b\xad"),  # unprintable, yet legal
    ],
)
def test_xml_safe_drops_exactly_the_illegal_characters(text: str, safe: str) -> None:
    assert xml_safe(text) == safe


def test_xml_safe_agrees_with_the_pattern_on_every_character() -> None:
    # Each character alone (ASCII and printable text take other paths than the pattern), and
    # amid ASCII text, amid printable text and amid unprintable text.
    for code in range(0x110000):
        c = chr(code)
        for text in (c, f"ab{c}c", f"\xe9{c}x", f"\n\xe9{c}"):
            assert xml_safe(text) == sanitize._XML_ILLEGAL.sub("", text), hex(code)


_BLANKS = [chr(code) for code in range(0x110000) if chr(code).isspace()]


def test_every_kind_of_whitespace_folds_to_one_space() -> None:
    assert len(_BLANKS) == 29  # str.isspace(): \t-\r, \x1c-\x1f, space, and 19 outside ASCII
    for blank in _BLANKS:
        assert to_text(f"{blank}a{blank}{blank} b{blank}") == "a b", hex(ord(blank))
        assert to_text(f"\xe9{blank}\xe9 {blank}") == "\xe9 \xe9", hex(ord(blank))


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "     ",
        "one",
        " lead and trail ",
        "runs  of   three    and\n\n\t five     spaces",
        "\x1c\x1d\x1e\x1f\x0b\x0c blanks that XML forbids",
        "\x00 \x01  \x7f control characters that are no blanks",
        "non-ASCII\xa0no-break\u3000ideographic\u2028line \U0001f600 \ud800 \x85next",
        "mixed \xe9  \t\n runs\u2003\u2003 of\u200b zero-width (no blank)",
    ],
)
def test_whitespace_folds_as_str_split_does(text: str) -> None:
    assert sanitize._fold_spaces(text) == " ".join(text.split())


def test_text_drops_illegal_characters_after_folding() -> None:
    # \x1f is a blank to str.split() and illegal in XML: it parts words. \x00 is no blank:
    # it goes after folding, and the spaces around it stay.
    assert to_text("a\x1fb \x00 c\x0bd") == "a b  c d"


# --- feedparser's 745 injection cases -------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def raw_dangers(path: Path) -> list[str]:
    """What the case carries before any sanitizing: feedparser with its own sanitizer off."""
    result = feedparser.parse(path.read_bytes(), sanitize_html=False, resolve_relative_uris=False)
    document = {"feed": dict(result.feed), "entries": [dict(e) for e in result.entries]}
    return [danger for text in _strings(document) for danger in html_dangers(text)]


@needs_corpus
def test_the_injection_cases_carry_payloads_the_checker_sees() -> None:
    cases = sorted(SANITIZE.glob("*.xml"))
    assert len(cases) == 745
    # "acceptable_*" cases are harmless markup (an attribute named "frame") that must be kept.
    armed = [p for p in cases if PAYLOAD.search(p.name) and not p.name.startswith("acceptable_")]
    unseen = [p.name for p in armed if not raw_dangers(p)]
    assert len(armed) >= 480
    assert unseen == [], "the checker must see every payload in the raw feed"


@needs_corpus
@pytest.mark.parametrize("chunk_id", SANITIZE_CHUNKS)
def test_no_injection_survives_to_any_output_format(chunk_id: str) -> None:
    run = run_chunk(chunk_id)
    assert not run.crashes, "\n\n".join(run.crashes)
    problems = []
    for file in run.files:
        assert not file.parse_error, file.name
        for fmt, data in file.outputs:
            problems += [f"{file.name} → {fmt}: {p}" for p in output_dangers(fmt, data)]
    assert problems == [], "\n".join(problems[:40])


@pytest.mark.parametrize(
    "markup",
    [
        "<div>" * 150_000 + "deep text" + "</div>" * 150_000,
        "<b><i>" * 60_000 + "deep text",
        "<section class=x>" * 100_000 + "deep text",
    ],
)
def test_markup_nested_beyond_the_limit_is_flattened_keeping_its_text(markup: str) -> None:
    # html5ever checks the open elements at every tag: nested n deep, sanitizing cost O(n²)
    # (a hostile feed's 150,000 nested <div>s held a poll for minutes). Beyond MAX_DEPTH the
    # tags go and the text stays, so the cost is linear (benchmarks/hostile_feeds.py times it).
    cleaned = clean_html(markup)
    assert "deep text" in cleaned
    assert cleaned.count("<div>") + cleaned.count("<b>") + cleaned.count("<section>") <= MAX_DEPTH
    assert to_text(markup) == "deep text"
    escaped = html.escape(markup)
    assert to_text(escaped) == "deep text"


def test_what_is_too_shallow_to_flatten_is_not_walked() -> None:
    # flatten_deep skips the walk (_flattened) when too few tags could each open a level:
    # never when one would have been dropped. Tags that do not nest, odd case, names that
    # only begin like a tag that does not nest, Unicode letters that fold to ASCII ones.
    rng = random.Random(19)
    kinds = [
        "<div>",
        "</div>",
        "<p>",
        "<LI>",
        "<br/>",
        "<b >",
        "</b>",
        "<pre>",
        "<p1>",
        "<li-x>",
        "<lin\u212a>",
        "<ba\u017fe>",
        "<a",
        "x",
    ]
    for _ in range(400):
        fragment = "".join(rng.choice(kinds) for _ in range(rng.randrange(100, 400)))
        for limit in (4, 64, 128):
            assert flatten_deep(fragment, limit) == sanitize._flattened(fragment, limit)
    deep = "<div>" * 130 + "<br>" * 200 + "x"
    assert flatten_deep(deep) == "<div>" * MAX_DEPTH + "<br>" * 200 + "x"


def test_ordinary_nesting_is_untouched() -> None:
    # Paragraphs and list items close themselves: many of them do not count as depth.
    markup = "<div><ul>" + "<li><p>item" * 400 + "</ul></div>" + "<div>" * 20 + "x" + "</div>" * 20
    assert flatten_deep(markup) == markup


@pytest.mark.parametrize("ref", ["&#xD800;", "&#xdfff;", "&#x110000;", "&#99999999999;", "&#x" + "f" * 40 + ";"])
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_reference_to_no_character_costs_one_character_not_the_source(ref: str, kind: str) -> None:
    if kind == "rss":
        document = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>t{ref}</title>'
            f"<item><title>bad {ref} one</title><link>http://a.example/1</link></item>"
            "<item><title>good</title><link>http://a.example/2</link></item></channel></rss>"
        )
    else:
        document = (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>'
            f"<updated>2026-01-01T00:00:00Z</updated><entry><title>bad {ref} one</title><id>urn:1</id>"
            '<updated>2026-01-01T00:00:00Z</updated><link href="http://a.example/1"/></entry>'
            "<entry><title>good</title><id>urn:2</id><updated>2026-01-01T00:00:00Z</updated>"
            '<link href="http://a.example/2"/></entry></feed>'
        )
    parsed = parse(document.encode(), "http://a.example/feed")
    articles = normalize_feed(parsed, "s", "http://a.example/feed", datetime(2026, 2, 1, tzinfo=UTC))
    assert [a.title for a in articles] == ["bad \ufffd one", "good"]


def test_valid_references_are_left_alone() -> None:
    document = b"&#x41; &#65; &#x1F600; &#0065; &amp;#xD800;"
    assert replace_bad_char_refs(document) == document


@pytest.mark.parametrize(
    ("ref", "bad"),
    [
        (b"&#xD7FF;", False),
        (b"&#55295;", False),  # U+D7FF
        (b"&#55296;", True),  # U+D800
        (b"&#xDC00;", True),
        (b"&#x0000D800;", True),
        (b"&#X00000000000041;", False),  # leading zeros are no digits
        (b"&#00000000000000065;", False),
        (b"&#x10FFFF;", False),
        (b"&#x110000;", True),
        (b"&#1114111;", False),
        (b"&#1114112;", True),
        (b"&#x123456789;", True),
        (b"&#x000;", False),  # not a character either, but feedparser takes it
        (b"&#xD800", False),  # no reference without its ";"
    ],
)
def test_references_at_the_edges_of_unicode(ref: bytes, bad: bool) -> None:
    document = b"<t>a" + ref + b"b #</t>"
    assert replace_bad_char_refs(document) == (b"<t>a&#xFFFD;b #</t>" if bad else document)
