"""Full text from teaser feeds, the pure part: which articles are teasers, the article body
extracted from its page, and the article with that body in place of its teaser.

Extraction is trafilatura's (HTML output, ``favor_precision``, comments left out): it
scored F1 0.956 on the corpus's article-extraction benchmark, at about 13 ms CPU a page, two
thirds of a plain ``trafilatura.extract`` call (``benchmarks/fulltext_quality.py``). Its
output is sanitized here last, like every other HTML newsriver republishes: links absolute,
no class, style or id.

This module imports trafilatura and nh3 (13 MB resident, 6 of it shared libraries): only a
pass with a ``full_text`` source does.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import replace
from typing import Any

import lxml.etree
import lxml.html
import trafilatura
from trafilatura.htmlprocessing import build_html_output
from trafilatura.settings import Document
from trafilatura.utils import decode_file

from newsriver.ingest.normalize import content_hash
from newsriver.ingest.sanitize import clean_html, to_text
from newsriver.models import Article

# trafilatura logs every page it finds nothing in as an ERROR; for newsriver that is a teaser
# kept, counted in full_text_pages, not an error of the service.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def is_teaser(article: Article, teaser_chars: int, always: bool = False) -> bool:
    """Whether ``article`` carries a teaser whose page is worth fetching: it links to a web
    page, and its text is shorter than ``teaser_chars`` or its source says all are teasers."""
    if not article.url.startswith(("http://", "https://")):
        return False
    return always or len(article.text) < teaser_chars


# Elements trafilatura's own cleaning deletes with all they hold, deleted before it runs: its
# passes over the raw page (XPath regular expressions, Python's re called for every element)
# and its readability fallback then walk about half the elements (47 % on the corpus's 181
# pages), which saves a quarter of its CPU; the text extracted is the same but on one page.
# trafilatura's list (MANUALLY_CLEANED) less what it looks into first: <form> (a page-wide
# ASP.NET form is the article), <figure>, <picture> and <source> (the images kept), <math>
# (formulas salvaged), <head> and <script> (JSON-LD tells it a forum thread; the other scripts
# go below). And <meta>, which it strips: it holds nothing.
_NEVER_EXTRACTED = (
    "aside applet area audio blink button canvas datalist dialog embed fencedframe fieldset footer frame "
    "frameset iframe input label legend link map marquee menu menuitem meta nav noindex noscript object "
    "optgroup option output param progress rp rt rtc select style svg textarea time track use video"
).split()
_JSON_LD = "application/ld+json"


# What trafilatura is asked for: HTML, precision over recall (a page's boxes and teasers of
# other articles are worse than a sentence missed), no comments; tables, links and images kept.
EXTRACTION: dict[str, Any] = {
    "output_format": "html",
    "favor_precision": True,
    "include_comments": False,
    "include_tables": True,
    "include_links": True,
    "include_images": True,
    "with_metadata": False,
}


def extract(page: bytes, url: str, selector: str = "") -> str:
    """The article body of ``page`` (HTML text fetched from ``url``) as sanitized HTML; "" when
    none is found. ``selector`` (CSS) picks the body for sites the extractor gets wrong."""
    if selector:
        return _selected(page, url, selector)
    tree = trafilatura.load_html(page)  # None for what is not HTML; never raises on bytes
    if tree is None:
        return ""
    _prune(tree, url)
    # bare_extraction and serializing its body is what extract(output_format="html") does, less
    # the simhash of the text it computes for metadata nobody reads: 2 ms a page, and a cache of
    # 16,384 token vectors (12 MB) kept for the life of the process.
    # No url: trafilatura would resolve links against the site's root ("a.html" on /news/b.html
    # to /a.html, "#notes" to /#notes); nh3 below resolves them against the page, as a browser.
    document = trafilatura.bare_extraction(tree, **EXTRACTION)
    if not isinstance(document, Document):  # None: no article found (a dict only when asked for)
        return ""
    body = unicodedata.normalize("NFC", build_html_output(document))  # as trafilatura.extract's output
    return _unwrapped(clean_html(body, url))


# Bytes parsed as UTF-8 whatever the page's <meta charset> says: they were decoded and
# encoded again as UTF-8 first.
_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def _selected(page: bytes, url: str, selector: str) -> str:
    # Decoded as load_html decodes (UTF-8 first, then a guess; lxml alone reads a page that
    # declares no charset as Latin-1), but not load_html itself: it rejects a page with no
    # "html" in its first 50 characters and no <head> content, where a selector still finds
    # the body the operator pointed at.
    try:
        tree = lxml.html.document_fromstring(decode_file(page).encode("utf-8"), parser=_UTF8_PARSER)
    except lxml.etree.ParserError:  # nothing to parse: an empty or blank page
        return ""
    found = tree.cssselect(selector)
    return clean_html("".join(lxml.html.tostring(node, encoding="unicode") for node in found), url)


def _prune(tree: lxml.html.HtmlElement, url: str) -> None:
    for script in [s for s in tree.iter("script") if s.get("type") != _JSON_LD]:
        script.drop_tree()  # its tail, text of the page, stays
    lxml.etree.strip_elements(tree, *_NEVER_EXTRACTED, with_tail=False)
    # Given no url, trafilatura makes an image source without a scheme ("//cdn.example/a.jpg")
    # http://; it takes the page's scheme here first (the rest of the relative ones nh3 resolves).
    scheme = url.partition("//")[0]
    for image in tree.iter("img"):
        for name, value in image.attrib.items():
            if value.startswith("//") and (name == "src" or name.startswith("data-src")):
                image.set(name, scheme + value)


def _unwrapped(fragment: str) -> str:
    # trafilatura wraps its HTML output in <html><body>…</body></html>; nh3 already drops
    # those tags but keeps no other trace of them, so only whitespace is left to trim.
    return fragment.strip()


def with_full_text(article: Article, body: str) -> Article | None:
    """``article`` with ``body`` as its content, when ``body`` says more than the teaser; else None
    (the teaser stays)."""
    text = to_text(body)
    if not text or len(text) <= len(article.text):
        return None
    summary = article.summary or article.content  # the teaser stays readable as the summary
    return replace(
        article,
        content=body,
        summary=summary,
        text=text,
        content_hash=content_hash(article, text),
    )
