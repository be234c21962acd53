"""Full text, the pure part (ingest/fulltext.py): the article found on its page and nothing
around it, sanitized; teasers told from full articles; the teaser kept when the page says less."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime

from newsriver.ingest.fulltext import extract, is_teaser, with_full_text
from newsriver.ingest.sanitize import to_text
from newsriver.models import Article

from .fulltext_site import COMMENT, COOKIE, NAVIGATION, PARAGRAPHS, RELATED, article_page

URL = "https://news.example/city/tram-extension"


def teaser(text: str = "The council voted to extend the tram line …", url: str = URL) -> Article:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    return Article(
        id="a1", source="news", entry_key="k1", url=url, canonical_url=url, title="Tram line extended",
        summary="", content=f"<p>{text}</p>", text=text, authors=(), published=now, updated=now, first_seen=now,
        categories=(), enclosures=(), language="en", image="", comments="", content_hash="h",
    )  # fmt: skip


def test_the_article_is_extracted_without_what_surrounds_it() -> None:
    body = extract(article_page("Tram line extended", PARAGRAPHS).encode(), URL)
    text = to_text(body)
    for paragraph in PARAGRAPHS:
        assert paragraph in text
    for boilerplate in (COOKIE, RELATED, COMMENT, NAVIGATION, "All rights reserved", "do not take me"):
        assert boilerplate not in text


def test_the_extracted_html_is_sanitized_with_absolute_links() -> None:
    body = extract(article_page("Tram line extended", PARAGRAPHS).encode(), URL)
    assert "<p>" in body
    assert 'href="https://news.example/world/index.html"' in body
    for attribute in ("class=", "style=", "id=", "<script"):
        assert attribute not in body


def bare_page(inside: str, after: str = "") -> bytes:
    """A page of the article's paragraphs in ``inside``'s markup (``{}`` where they go), ``after`` them."""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in PARAGRAPHS)
    body = inside.format(f"<h1>Tram line extended</h1>{paragraphs}{after}")
    return f"<!doctype html><html><head><title>Tram</title></head><body>{body}</body></html>".encode()


def test_links_and_images_are_resolved_against_the_page() -> None:
    # as a browser does: "results.html" on /city/tram-extension is /city/results.html (not the
    # site's root), an image without a scheme takes the page's (https, not http)
    page = bare_page(
        "<article>{}</article>",
        '<p>See <a href="results.html">the results</a> and <a href="#notes">the notes</a>.</p>'
        '<figure><img src="//cdn.news.example/tram.jpg" alt="A tram on the embankment"></figure>',
    )
    body = extract(page, URL)
    assert 'href="https://news.example/city/results.html"' in body
    assert 'href="https://news.example/city/tram-extension#notes"' in body
    assert 'src="https://cdn.news.example/tram.jpg"' in body


def test_the_pruning_before_extraction_keeps_what_the_extractor_looks_into() -> None:
    # a page-wide ASP.NET form is the article; the text after a script is the article's
    page = bare_page(
        '<form id="aspnetForm" action="/tram"><div class="content">{}</div></form>',
        "<p>The mayor <script>track()</script>said work would start in spring.</p>",
    )
    text = to_text(extract(page, URL))
    for paragraph in PARAGRAPHS:
        assert paragraph in text
    assert "The mayor said work would start in spring." in text
    assert "track()" not in text


def test_a_selector_picks_the_body_for_sites_the_extractor_gets_wrong() -> None:
    page = article_page("Tram line extended", PARAGRAPHS).encode()
    body = extract(page, URL, selector="aside.related-links")
    assert RELATED in to_text(body)
    assert PARAGRAPHS[0] not in to_text(body)
    assert 'href="https://news.example/markets/rally"' in body


def test_a_selected_body_keeps_its_characters_without_a_declared_charset() -> None:
    # the page is read as trafilatura reads it (UTF-8 first), not as lxml would (Latin-1)
    page = "<html><body><div class='story'><p>Café à Zürich — déjà vu</p></div></body></html>".encode()
    assert to_text(extract(page, URL, selector="div.story")) == "Café à Zürich — déjà vu"


def test_a_page_without_an_article_gives_nothing() -> None:
    assert extract(b"", URL) == ""
    navigation = extract(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", URL)
    assert with_full_text(teaser(), navigation) is None  # the teaser stays
    assert extract(b"\x00\x01binary", URL) == ""


def test_teasers_are_short_entries_with_a_web_link() -> None:
    assert is_teaser(teaser(), 500)
    assert not is_teaser(teaser(" ".join(PARAGRAPHS)), 500)
    assert is_teaser(teaser(" ".join(PARAGRAPHS)), 500, always=True)
    assert not is_teaser(teaser(url=""), 500)
    assert not is_teaser(teaser(url="mailto:desk@news.example"), 500, always=True)


def test_the_full_text_replaces_the_teaser_only_when_it_says_more() -> None:
    short = teaser()
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    full = with_full_text(short, body)
    assert full is not None
    assert full.content == body and full.summary == short.content
    assert full.text == " ".join(PARAGRAPHS)
    assert full.content_hash != short.content_hash
    assert with_full_text(short, "<p>Tram.</p>") is None
    assert with_full_text(short, "") is None
    # the hash is what normalizing such an entry gives: the same full text, the same hash
    assert with_full_text(replace(short, content_hash="other"), body) == full
