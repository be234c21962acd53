"""Full text from teaser feeds, the pure part: which articles are teasers, the article body
extracted from its page, and the article with that body in place of its teaser.

Extraction is trafilatura's (HTML output, ``favor_precision``, comments left out): it
scored F1 0.958 on the corpus's article-extraction benchmark, at about 20 ms CPU a page
(``benchmarks/fulltext_quality.py``). Its output is sanitized here last, like every other
HTML newsriver republishes: links absolute, no class, style or id.

This module imports trafilatura (about 10 MB): only a pass with a ``full_text`` source does.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import lxml.html
import trafilatura
from lxml.etree import ParserError

from newsriver.ingest.normalize import content_hash
from newsriver.ingest.sanitize import clean_html, to_text
from newsriver.models import Article

log = logging.getLogger(__name__)
# trafilatura logs every page it finds nothing in as an ERROR; for newsriver that is a teaser
# kept, counted in full_text_pages, not an error of the service.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def is_teaser(article: Article, teaser_chars: int, always: bool = False) -> bool:
    """Whether ``article`` carries a teaser whose page is worth fetching: it links to a web
    page, and its text is shorter than ``teaser_chars`` or its source says all are teasers."""
    if not article.url.startswith(("http://", "https://")):
        return False
    return always or len(article.text) < teaser_chars


def extract(page: bytes, url: str, selector: str = "") -> str:
    """The article body of ``page`` (HTML text fetched from ``url``) as sanitized HTML; "" when
    none is found. ``selector`` (CSS) picks the body for sites the extractor gets wrong."""
    if selector:
        return _selected(page, url, selector)
    try:
        body = trafilatura.extract(
            page,
            url=url,
            output_format="html",
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            include_links=True,
            include_images=True,
            with_metadata=False,
        )
    except (ValueError, ParserError) as exc:  # a page lxml cannot read at all
        log.info("cannot extract %s: %s", url, exc)
        return ""
    return _unwrapped(clean_html(body, url)) if body else ""


def _selected(page: bytes, url: str, selector: str) -> str:
    try:
        tree = lxml.html.document_fromstring(page, base_url=url)
    except (ValueError, ParserError):
        return ""
    found = tree.cssselect(selector)
    return clean_html("".join(lxml.html.tostring(node, encoding="unicode") for node in found), url)


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
