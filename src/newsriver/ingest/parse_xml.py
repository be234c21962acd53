"""A fast reader for plain RSS 2.0 / 0.9x and Atom 1.0 documents, with feedparser as the fallback.

feedparser spends about 400 µs per entry: a Python callback per SAX event, a FeedParserDict
per value, and many regular expressions. Most real feeds are well-formed, UTF-8 or ASCII,
and use a small vocabulary. For those this path reads an lxml tree into ``Entry`` values,
mirroring what feedparser's strict (expat) parser would have put under each key that
``parse_feedparser`` reads, with feedparser's own helpers wherever one exists (encoding
conversion, date parsing, URL fixing, HTML sniffing). It is not a second feed parser: it is
feedparser's behaviour on the documents it can be sure about, and ``tests/test_parse_fast.py``
proves ``normalize_feed`` output identical on the whole corpus.

This module decides whether a document can take the path; ``parse_xml_walk`` walks it as
feedparser's handlers would (state, names, xml:base, where text lands), and
``parse_xml_people`` and ``parse_xml_reader`` hold the handlers of each element.

``read_feed`` returns None — feedparser then runs as before — whenever it is not certain:

* feedparser would not use its strict parser: no encoding it can decode (the bytes go
  through feedparser's own ``convert_to_utf8``, so charset choice is identical), or libxml2
  refuses the document (not well-formed, undefined entity or namespace prefix);
* anything before the root element but the XML declaration, comments and processing
  instructions: a DOCTYPE or entity declaration (feedparser rewrites those), or any DTD;
* a root other than ``<rss>`` holding one ``<channel>`` and nothing else, or ``<feed>``
  (Atom 1.0, Atom 0.3 or no namespace; they share one code path in feedparser);
* namespaced attributes other than xml:lang and xml:base (SAX reports them under their
  bare name too), except harmless ones on the root; xml:base beside a plain ``base``
  attribute; attribute names that collide once lower-cased;
* namespace declarations feedparser would name differently from their plain meaning: a
  standard prefix bound to another known namespace, a prefix bound to an unknown namespace
  and to another URI, an unknown namespace under two prefixes, the userland RSS namespaces,
  the RSS 1.0 / 0.90 namespaces (they change feedparser's idea of the version); a namespace
  URI written with character references or spaces;
* any element feedparser has a handler for that is not mirrored here (RDF, GeoRSS, Podlove
  chapters, Creative Commons, admin:, ``<tags>``, ``<abstract>``, XHTML ``<body>``, item
  images, Atom ``<source>``, ...), and unknown elements stored under a key ``parse_feedparser``
  reads or holding elements that have handlers;
* markup inside a text element (Atom type="xhtml", inline HTML in RSS), base64 or other
  non-text content types.

xml:base and xml:lang are tracked as feedparser tracks them (quirks included: a base declared
under a base-less parent stays in force for the siblings that follow). An unexpected exception
here is logged and also means "decline": a bug costs speed, never a feed.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import Any

import feedparser.encodings
from feedparser.encodings import convert_to_utf8
from lxml import etree

from newsriver.ingest.parse_common import FeedHead, handed_over
from newsriver.ingest.parse_xml_reader import Reader
from newsriver.ingest.parse_xml_walk import ROOT_TAGS, Decline
from newsriver.models import Entry

log = logging.getLogger(__name__)

# Anything but a comment or processing instruction before the root: DOCTYPE, ENTITY.
_DECLARATION = re.compile(rb"<!(?!--)")
_FIRST_ELEMENT = re.compile(rb"<\w")


class _PIEncodingMatch:
    def __init__(self, value: bytes) -> None:
        self.value = value

    def groups(self) -> tuple[bytes]:
        return (self.value,)

    def group(self, index: int = 0) -> bytes:
        if index != 1:
            raise IndexError("only group 1 is kept")
        return self.value


class PIEncoding:
    """feedparser's RE_XML_PI_ENCODING, ``^<\\?.*encoding=['"](.*?)['"].*\\?>``, in linear time.

    Its greedy ``.*`` backtracks from the end of the first line: half a millisecond for a
    feed written on one 100 kB line, on every parse, fast path or not. This finds the same
    match with ``bytes.rfind``: the last "encoding=" of the first line that is followed by a
    quote, a value up to the next quote, and a "?>" after that (tests compare the two).
    """

    pattern = feedparser.encodings.RE_XML_PI_ENCODING.pattern

    def match(self, data: bytes) -> _PIEncodingMatch | None:
        if not data.startswith(b"<?"):
            return None
        limit = data.find(b"\n")  # "." does not match a line break
        if limit < 0:
            limit = len(data)
        # Candidates, found forwards (fast), then tried from the last as the regex does.
        candidates = []
        at = data.find(b"encoding=", 2, limit)
        while at >= 0:
            candidates.append(at)
            at = data.find(b"encoding=", at + 9, limit)
        for at in reversed(candidates):
            start = at + 9
            if start >= limit or data[start] not in b"'\"":
                continue
            ends = [i for i in (data.find(b'"', start + 1, limit), data.find(b"'", start + 1, limit)) if i >= 0]
            if ends and data.find(b"?>", min(ends) + 1, limit) >= 0:
                return _PIEncodingMatch(data[start + 1 : min(ends)])
        return None


# feedparser's convert_to_utf8 reads the module global on every call: both paths use this.
feedparser.encodings.RE_XML_PI_ENCODING = PIEncoding()


# Options of the parser: as strict as feedparser's expat, and never reaching out.
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "dtd_validation": False,
    "remove_comments": True,  # feedparser's SAX handler never sees comments or PIs
    "remove_pis": True,
    "strip_cdata": True,
    "collect_ids": False,
}
# The document is given to the parser this much at a time: the elements of each piece are
# walked before the next is read.
_PIECE = 64 * 1024


def read_feed(body: bytes, content_type: str, hold: int | None = None) -> tuple[FeedHead, Iterator[Entry]] | None:
    """The document's head and entries as feedparser would read them; None if unsure.

    ``content_type`` is the header feedparser would be given. The document is read to its end
    first: whether this path takes it, and its head, are known only then. Its entries are kept
    meanwhile, unless there are more than ``hold``: those of such a document are read again,
    one at a time as the caller takes them, so that it is never held whole (100,000 entries
    took 2 kB each, and the tree of their elements more).
    """
    try:
        data = _utf8(body, content_type)
        walker = Reader(data)
        entries = walker.read(_growing(data))
        kept = list(entries if hold is None else islice(entries, hold + 1))
        if hold is not None and len(kept) > hold:
            kept = []
            walker.making_entries = False  # read again below: a third of the walk's time spared
            deque(entries, maxlen=0)  # to the end: the head, and whether the path takes the document
            return walker.head(), _read_again(data)
        return walker.head(), handed_over(kept)
    except (Decline, etree.XMLSyntaxError):
        return None
    except Exception:  # a bug here must cost speed, not the feed: feedparser still reads it
        log.warning("fast XML path failed; falling back to feedparser", exc_info=True)
        return None


def _utf8(body: bytes, content_type: str) -> bytes:
    """The document as feedparser's strict parser would get it, if it would."""
    result: dict[str, Any] = {}
    # feedparser's own charset detection and conversion: its strict parser gets these bytes.
    data: bytes = convert_to_utf8({"content-type": content_type}, body, result)
    if not result.get("encoding"):
        raise Decline("no encoding: feedparser's loose parser would run")
    start = _FIRST_ELEMENT.search(data)
    if start is None or _DECLARATION.search(data, 0, start.start()):
        raise Decline("DOCTYPE or declaration")
    return data


def _growing(data: bytes) -> Iterator[etree._Element | None]:
    """The document's root (None until the parser reaches it) each time the parser has read
    another piece of ``data``, and once more when it has read all of it."""
    # Events for the elements that can be the root only: an event for every element cost
    # about as much as building the tree.
    parser = etree.XMLPullParser(events=("start",), tag=ROOT_TAGS, **_PARSER_OPTIONS)
    root = None
    for at in range(0, len(data), _PIECE):
        parser.feed(data[at : at + _PIECE])
        for _event, element in parser.read_events():
            root = element if root is None else root
        yield root
    parser.close()  # raises if the document ended early
    yield root


def _read_again(data: bytes) -> Iterator[Entry]:
    """The entries of a document read to its end once already: the same walk, which took it."""
    yield from Reader(data).read(_growing(data))
