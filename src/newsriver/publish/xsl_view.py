"""The XSL view of an Atom or RSS file, made by the server for a browser.

Atom and RSS files name ``feed.xsl`` in ``<?xml-stylesheet?>`` so that a browser shows a page
saying what a feed is. Browsers are dropping XSLT (Chromium 156 puts a red "this site uses
XSLT; that functionality is being removed" banner over the page, and then stops applying
it), so newsriver's own server applies the same stylesheet itself and answers a browser
navigating to the file with the HTML. A file served by nginx keeps the
``<?xml-stylesheet?>``, for browsers that still apply it.
"""

from __future__ import annotations

import logging
import re

from newsriver.publish.negotiation import weights

log = logging.getLogger(__name__)

# The media types feed readers name in Accept. A reader that also names text/html (SimplePie
# and FreshRSS do, at a low q) must still get the feed; browsers name none of these.
_FEED_TYPES = re.compile(r"application/(?:atom|rss|rdf|feed)\+(?:xml|json)", re.IGNORECASE)


def browser_accept(accept: str) -> bool:
    """Whether an Accept header reads as a browser's: ``text/html`` with a q above 0, and no
    feed type named. Such a request gets an Atom or RSS file as ``application/xml`` (the same
    bytes), which a browser renders through the file's ``<?xml-stylesheet?>`` where it
    still applies XSLT, and shows as XML text where it does not."""
    return weights(accept).get("text/html", 0.0) > 0 and _FEED_TYPES.search(accept) is None


def wants_page(accept: str, fetch_dest: str, upgrade_insecure: str) -> bool:
    """Whether a request (its ``Accept``, ``Sec-Fetch-Dest`` and ``Upgrade-Insecure-Requests``
    headers, "" when absent) is a browser navigating to the file, which gets the XSL view.

    An Accept alone does not tell: some feed readers send a browser's, to pass the bot filters
    in front of sites, and must still get the feed's bytes. Browsers mark a navigation with
    headers those readers do not send: ``Sec-Fetch-Dest: document`` (to https and localhost
    only) and ``Upgrade-Insecure-Requests: 1`` (over plain http too)."""
    navigating = fetch_dest.strip().lower() == "document" or upgrade_insecure.strip() == "1"
    return navigating and browser_accept(accept)


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
