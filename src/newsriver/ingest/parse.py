"""Bytes from the network to entries: which reader reads which document.

JSON Feed has a reader of its own (``parse_json``). Plain RSS and Atom documents take a fast
lxml path (``parse_xml``) that gives what feedparser would; anything it is unsure of goes to
feedparser (``parse_feedparser``). All give ``Entry`` values, so ``normalize`` has one input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from newsriver.ingest.parse_common import FeedHead, feed_meta, handed_over
from newsriver.ingest.parse_feedparser import read_with_feedparser
from newsriver.ingest.parse_json import parse_json_feed
from newsriver.ingest.parse_xml import read_feed
from newsriver.ingest.sanitize import replace_bad_char_refs
from newsriver.models import Entry, ParsedFeed

_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_XML_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)")


def parse(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed document, or raise ParseError saying why it is not one."""
    head, entries = parse_lazily(body, url, content_type)
    return replace(head, entries=tuple(entries))


def parse_lazily(
    body: bytes, url: str, content_type: str = "", hold: int | None = None
) -> tuple[ParsedFeed, Iterator[Entry]]:
    """``parse``, its entries apart (the head's are none), each let go of as it is taken: a
    document of more than ``hold`` entries on the fast path is read again as they are taken,
    never held whole (see ``read_feed``)."""
    if _looks_like_json(body, content_type):
        parsed = parse_json_feed(body, url)
        return replace(parsed, entries=()), handed_over(list(parsed.entries))
    body = replace_bad_char_refs(body)
    header = _utf8_if_misdeclared(body, content_type) or "application/xml"
    head, entries = read_feed(body, header, hold) or _feedparsers(body, header)
    return ParsedFeed(meta=feed_meta(head, url), entries=(), base_url=url), entries


def _feedparsers(body: bytes, header: str) -> tuple[FeedHead, Iterator[Entry]]:
    head, entries = read_with_feedparser(body, header)
    return head, handed_over(list(entries))


def _utf8_if_misdeclared(body: bytes, content_type: str) -> str:
    """``content_type`` with charset=utf-8 when a legacy charset is declared for UTF-8 bytes.

    A feed that says ISO-8859-1 or windows-1252 (in HTTP or its XML declaration) but whose
    non-ASCII bytes all decode as UTF-8 is UTF-8: text in a single-byte charset almost never
    forms valid UTF-8 sequences, while CMSs that copy a stale declaration are common.
    """
    declared = []
    if http := _HTTP_CHARSET.search(content_type):
        declared.append(http.group(1))
    if prolog := _XML_ENCODING.match(body):
        declared.append(prolog.group(1).decode("ascii"))
    if all(_is_unicode(name) for name in declared) or body.isascii():
        return content_type
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return content_type
    return "application/xml; charset=utf-8"


def _is_unicode(charset: str) -> bool:
    return charset.lower().replace("-", "").replace("_", "").startswith(("utf", "ucs", "unicode"))


def _looks_like_json(body: bytes, content_type: str) -> bool:
    if "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
