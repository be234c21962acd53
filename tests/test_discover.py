"""Finding a site's feeds in its HTML page, and `newsriver discover URL`."""

from __future__ import annotations

import pytest

from newsriver.cli import main
from newsriver.ingest.discover import FeedLink, find_feeds, looks_like_html

from .conftest import FIXTURES, FixtureServer

BASE = "https://blog.example.org/2026/post/"


def page(head: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>t</title>{head}</head><body><p>x</p></body></html>".encode()


def test_feeds_are_found_in_document_order_and_made_absolute() -> None:
    html = page(
        '<link rel="alternate" type="application/rss+xml" title="Blog » Feed" href="/feed/">'
        '<link rel="alternate" type="application/atom+xml" href="https://blog.example.org/atom.xml">'
        '<link rel="alternate" type="application/feed+json" title=" JSON\n feed " href="feed.json">'
        '<link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed/">'
    )
    assert find_feeds(html, BASE) == [
        FeedLink("https://blog.example.org/feed/", "application/rss+xml", "Blog » Feed"),
        FeedLink("https://blog.example.org/atom.xml", "application/atom+xml", ""),
        FeedLink("https://blog.example.org/2026/post/feed.json", "application/feed+json", "JSON feed"),
        FeedLink("https://blog.example.org/comments/feed/", "application/rss+xml", "Comments"),
    ]


def test_other_alternates_are_ignored() -> None:
    html = page(
        '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">'  # WordPress REST API
        '<link rel="alternate" type="application/json+oembed" href="/oembed?url=x">'
        '<link rel="alternate" hreflang="de" href="/de/">'
        '<link rel="stylesheet" type="application/rss+xml" href="/not-alternate.xml">'
        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
        '<link rel="alternate" type="application/rss+xml">'
    )
    assert find_feeds(html, BASE) == []


def test_rel_and_type_are_matched_loosely_and_duplicates_dropped() -> None:
    html = page(
        '<LINK REL="Alternate Home" TYPE="Application/RSS+XML; charset=utf-8" HREF="/rss">'
        '<link rel="alternate" type="application/rss+xml" href="https://blog.example.org/rss">'
    )
    assert find_feeds(html, BASE) == [FeedLink("https://blog.example.org/rss", "application/rss+xml", "")]


def test_base_href_is_respected() -> None:
    html = page(
        '<base href="https://cdn.example.net/site/"><link rel="alternate" type="application/atom+xml" href="a">'
    )
    assert [f.url for f in find_feeds(html, BASE)] == ["https://cdn.example.net/site/a"]


def test_charset_from_the_header_decodes_titles() -> None:
    html = page('<link rel="alternate" type="application/rss+xml" title="Café" href="/f">').replace(
        "Café".encode(), "Café".encode("iso-8859-1")
    )
    assert find_feeds(html, BASE, "iso-8859-1")[0].title == "Café"


def test_a_meta_charset_is_honoured_without_a_header() -> None:
    html = page('<meta charset="iso-8859-1"><link rel="alternate" type="application/rss+xml" title="Café" href="/f">')
    latin1 = html.replace("Café".encode(), "Café".encode("iso-8859-1"))
    assert find_feeds(latin1, BASE)[0].title == "Café"


@pytest.mark.parametrize("body", [b"", b"   ", b"\x00\x01\x02"])
def test_an_empty_or_binary_page_has_no_feeds(body: bytes) -> None:
    assert find_feeds(body, BASE) == []


@pytest.mark.parametrize(
    ("body", "content_type", "html"),
    [
        (page(""), "text/html", True),
        (page(""), "", True),
        (b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head/></html>', "", True),
        (b"<head><title>no html element</title></head>", "text/html; charset=utf-8", True),
        # Feeds mislabelled text/html are still feeds.
        ((FIXTURES / "wire.rss").read_bytes(), "text/html", False),
        ((FIXTURES / "daily.atom").read_bytes(), "text/html", False),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "text/html", False),
        (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"/>', "text/html", False),
        (b"garbage", "application/octet-stream", False),
    ],
)
def test_looks_like_html(body: bytes, content_type: str, html: bool) -> None:
    assert looks_like_html(body, content_type) is html


# --- the command ---------------------------------------------------------------------------


def discover(url: str) -> int:
    return main(["discover", url])


def test_discover_lists_a_pages_feeds(feed_server: FixtureServer, capsys: pytest.CaptureFixture[str]) -> None:
    html = page(
        '<link rel="alternate" type="application/rss+xml" title="Wire" href="/wire.rss">'
        '<link rel="alternate" type="application/atom+xml" href="/daily.atom">'
    )
    url = feed_server.add("/", html, content_type="text/html; charset=utf-8")
    assert discover(url) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{url}: 2 feeds (a source with this URL polls the first)"
    assert out[1].split() == [feed_server.url("/wire.rss"), "application/rss+xml", "Wire"]
    assert out[2].split() == [feed_server.url("/daily.atom"), "application/atom+xml"]


def test_discover_recognises_a_feed(feed_server: FixtureServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = feed_server.add("/wire.rss", FIXTURES / "wire.rss", content_type="text/html")
    assert discover(url) == 0
    assert capsys.readouterr().out.startswith(f"{url} is a feed ")


def test_discover_reports_a_page_without_feeds(feed_server: FixtureServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = feed_server.add("/", page(""), content_type="text/html")
    assert discover(url) == 1
    assert 'without a <link rel="alternate"> to a feed' in capsys.readouterr().err


def test_discover_reports_a_fetch_error(feed_server: FixtureServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert discover(feed_server.url("/missing")) == 1
    assert capsys.readouterr().err.strip() == "newsriver: HTTP 404 Not Found"
