"""Bytes from the network to feed entries: feedparser for XML feeds, a small reader for JSON Feed.

Plain RSS and Atom documents take a fast lxml path (``parse_xml``) that gives what feedparser
would; anything it is unsure of goes to feedparser. All produce feedparser-shaped entry dicts,
so ``normalize`` has one input shape.
"""

from __future__ import annotations

import json
import re
import xml.sax
from collections.abc import Mapping
from typing import Any

import feedparser
import feedparser.sanitizer
from feedparser.datetimes import _parse_date

from newsriver.errors import ParseError
from newsriver.ingest.parse_xml import read_feed
from newsriver.ingest.sanitize import replace_bad_char_refs, to_text, xml_safe
from newsriver.models import FeedMeta, ParsedFeed
from newsriver.urls import absolute

# feedparser strips a document's entity declarations and puts back only those it deems safe:
# one character reference, or any text without "&". Text of any length is not safe: one 100 kB
# entity referenced 100,000 times is 10 GB, which expat refuses but feedparser's fallback
# parser then expands in memory. Only a character reference cannot amplify, and it is the one
# kind real feeds declare (HTML entity names such as &nbsp; in RSS 0.91).
feedparser.sanitizer.RE_SAFE_ENTITY_PATTERN = re.compile(rb'\s+(\w+)\s+"(&#\w+;)"')

# Microsoft's Channel Definition Format, which feedparser reads but reports no version for:
# <CHANNEL> as the root, after any XML declaration, comments and whitespace.
_CDF_ROOT = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<channel[\s>]", re.I | re.S)

_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_XML_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)")


def parse(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed document, or raise ParseError saying why it is not one."""
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url)
    body = replace_bad_char_refs(body)
    header = _utf8_if_misdeclared(body, content_type) or "application/xml"
    fast = read_feed(body, header)
    if fast is not None:
        feed, entries = fast
        return ParsedFeed(meta=_feed_meta(feed, url), entries=tuple(entries), base_url=url)
    result = feedparser.parse(
        body,
        # No content-location: relative links stay relative unless xml:base says otherwise,
        # so normalize can prefer the feed's own link over the fetched URL as their base.
        response_headers={"content-type": header},
        # nh3 sanitizes later, faster and stricter; relative URLs are resolved there too.
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if not result.get("version") and not result.entries and not _CDF_ROOT.match(body):
        if body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html")):
            raise ParseError("not a feed: the server sent an HTML page")
        reason = result.get("bozo_exception")
        if isinstance(reason, xml.sax.SAXException):
            raise ParseError(f"not a feed: broken XML: {reason}")
        raise ParseError("not a feed: no RSS, Atom or JSON Feed document found")
    return ParsedFeed(meta=_feed_meta(result.get("feed", {}), url), entries=tuple(result.entries), base_url=url)


def _feed_meta(feed: Mapping[str, Any], url: str) -> FeedMeta:
    ttl = feed.get("ttl")
    return FeedMeta(
        title=to_text(_str(feed.get("title"))),
        link=_web_link(_str(feed.get("link")), url),
        subtitle=to_text(_str(feed.get("subtitle"))),
        language=xml_safe(_str(feed.get("language")).strip()),
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
        update_period=str(feed.get("sy_updateperiod", "")),
        update_frequency=str(feed.get("sy_updatefrequency", "")),
    )


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


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not a feed: invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise ParseError("not a feed: JSON without a jsonfeed.org version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("not a feed: JSON Feed without items")
    meta = FeedMeta(
        title=to_text(_str(doc.get("title"))),
        link=_web_link(_str(doc.get("home_page_url")), url),
        subtitle=to_text(_str(doc.get("description"))),
        language=xml_safe(_str(doc.get("language")).strip()),
    )
    feed_authors = _json_authors(doc)
    entries = tuple(_json_entry(item, feed_authors) for item in items if isinstance(item, dict))
    return ParsedFeed(meta=meta, entries=entries, base_url=url)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _web_link(link: str, base: str) -> str:
    """The feed's web page, absolute; "" unless it is an http(s) URL a reader can open."""
    resolved = absolute(link, base)
    return xml_safe(resolved) if resolved.startswith(("http://", "https://")) else ""


def _json_authors(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return [
        {"name": _str(a.get("name")), "href": _str(a.get("url"))}
        for a in raw
        if isinstance(a, dict) and (a.get("name") or a.get("url"))
    ]


def _json_entry(item: Mapping[str, Any], feed_authors: list[dict[str, str]]) -> dict[str, Any]:
    """Map a JSON Feed item onto the keys feedparser uses for an XML entry."""
    entry: dict[str, Any] = {}
    if item.get("id") is not None:
        entry["id"] = str(item["id"])  # JSON Feed 1.0 allowed numbers; identity wants text
    if _str(item.get("url")):
        entry["link"] = item["url"]
    if _str(item.get("title")):
        entry["title"] = item["title"]
    content = []
    if _str(item.get("content_html")):
        content.append({"value": item["content_html"], "type": "text/html", "base": ""})
    elif _str(item.get("content_text")):
        content.append({"value": item["content_text"], "type": "text/plain", "base": ""})
    if content:
        entry["content"] = content
    if _str(item.get("summary")):
        entry["summary"] = item["summary"]
        entry["summary_detail"] = {"type": "text/plain"}
    for ours, theirs in (("published", "date_published"), ("updated", "date_modified")):
        if _str(item.get(theirs)):
            entry[ours] = item[theirs]
            entry[f"{ours}_parsed"] = _parse_date(item[theirs])
    entry["authors"] = _json_authors(item) or feed_authors
    tags = item.get("tags")
    if isinstance(tags, list):
        entry["tags"] = [{"term": t} for t in tags if isinstance(t, str)]
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        entry["enclosures"] = [
            {"href": a["url"], "type": _str(a.get("mime_type")), "length": str(a.get("size_in_bytes", ""))}
            for a in attachments
            if isinstance(a, dict) and _str(a.get("url"))
        ]
    image = _str(item.get("image")) or _str(item.get("banner_image"))
    if image:
        entry["media_thumbnail"] = [{"url": image}]
    if _str(item.get("language")):
        entry["language"] = item["language"]
    return entry
