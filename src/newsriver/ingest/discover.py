"""A site's feeds, found in its HTML page's ``<link rel="alternate">`` elements."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

from newsriver.models import FetchResult

# application/json is left out on purpose: WordPress advertises its REST API with it.
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml")
_FEED_ROOTS = (b"rss", b"feed", b"rdf:rdf", b"rdf", b"channel")
_FIRST_ELEMENT = re.compile(rb"<([a-zA-Z][\w:.-]*)")


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    type: str
    title: str


def feeds_in(result: FetchResult) -> list[FeedLink] | None:
    """The feeds an HTML page links to, in document order; None when it is not an HTML page."""
    if result.body is None or not looks_like_html(result.body, result.content_type):
        return None
    return find_feeds(result.body, result.url, _charset(result.content_type))


def looks_like_html(body: bytes, content_type: str) -> bool:
    """True for an HTML page, judged by its first element before its Content-Type.

    Servers label feeds text/html often enough that the header alone cannot decide.
    """
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return False
    first = _FIRST_ELEMENT.search(head)
    name = first.group(1).lower() if first else b""
    if name in _FEED_ROOTS:
        return False
    return name == b"html" or b"<!doctype html" in head.lower() or "html" in content_type.lower()


def find_feeds(html: bytes, base_url: str, encoding: str | None = None) -> list[FeedLink]:
    """Every ``<link rel="alternate">`` to an RSS, Atom or JSON feed, made absolute."""
    # lxml only for a page: a pass whose documents are all feeds keeps it out of the polling
    # process (4 MB of a cold pass's peak).
    import lxml.html
    from lxml import etree

    if encoding is None and _is_utf8(html):
        # Without a declared charset libxml2 assumes Latin-1; a page that is valid UTF-8
        # is almost certainly UTF-8 (pure ASCII reads the same either way).
        encoding = "utf-8"
    parser = lxml.html.HTMLParser(encoding=encoding) if encoding else None
    try:
        document = lxml.html.document_fromstring(html, parser=parser)
    except (etree.LxmlError, ValueError, LookupError):  # empty page, unknown charset
        return []
    base = base_url
    for element in document.iter("base"):
        if element.get("href"):
            base = urljoin(base_url, element.get("href").strip())
        break
    found: list[FeedLink] = []
    for element in document.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        kind = (element.get("type") or "").split(";")[0].strip().lower()
        href = (element.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in (f.url for f in found):
            found.append(FeedLink(url=url, type=kind, title=" ".join((element.get("title") or "").split())))
    return found


def _charset(content_type: str) -> str | None:
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return charset.strip() if isinstance(charset, str) and charset.strip() else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
