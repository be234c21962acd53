"""The XSL view of an Atom or RSS file, made by the server for a browser.

Atom and RSS files name ``feed.xsl`` in ``<?xml-stylesheet?>`` so that a browser shows a page
saying what a feed is. Browsers are dropping XSLT (Chromium 156 puts a red "this site uses
XSLT; that functionality is being removed" banner over the page, and then stops applying
it), so newsriver's own server applies the same stylesheet itself and answers a browser
with the HTML. A file served by nginx keeps the ``<?xml-stylesheet?>``, for browsers that
still apply it.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# The media types feed readers name in Accept. A reader that also names text/html (SimplePie
# and FreshRSS do, at a low q) must still get the feed; browsers name none of these.
_FEED_TYPES = re.compile(r"application/(?:atom|rss|rdf|feed)\+(?:xml|json)", re.IGNORECASE)


def wants_page(accept: str) -> bool:
    """Whether an Accept header is a browser's: it names text/html and no feed type."""
    return "text/html" in accept.lower() and _FEED_TYPES.search(accept) is None


def render(feed: bytes, stylesheet: bytes) -> bytes | None:
    """The HTML ``stylesheet`` makes of ``feed``; None when either cannot be read (the
    caller then serves the feed itself)."""
    from lxml import etree  # only for a browser's request: a server may never need it

    # Both files are the publisher's own, but neither may reach beyond itself: no entities
    # resolved, no network, and the stylesheet may read or write no other document.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        transform = etree.XSLT(etree.fromstring(stylesheet, parser), access_control=etree.XSLTAccessControl.DENY_ALL)
        page = bytes(transform(etree.fromstring(feed, parser)))
    except (etree.LxmlError, ValueError) as exc:
        log.debug("XSL view not made: %s", exc)
        return None
    return page or None
