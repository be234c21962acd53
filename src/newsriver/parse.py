"""Bytes from the network to feed entries: feedparser for XML feeds, a small reader for JSON Feed.

Both produce feedparser-shaped entry dicts, so ``normalize`` has one input shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import feedparser
from feedparser.datetimes import _parse_date

from .errors import ParseError
from .models import FeedMeta, ParsedFeed


def parse(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed document, or raise ParseError saying why it is not one."""
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url)
    result = feedparser.parse(
        body,
        # No content-location: relative links stay relative unless xml:base says otherwise,
        # so normalize can prefer the feed's own link over the fetched URL as their base.
        response_headers={"content-type": content_type or "application/xml"},
        # nh3 sanitizes later, faster and stricter; relative URLs are resolved there too.
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    feed = result.get("feed", {})
    if not result.get("version") and not result.entries:
        if body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html")):
            raise ParseError("not a feed: the server sent an HTML page")
        reason = result.get("bozo_exception")
        raise ParseError(f"not a feed: {reason}" if reason else "not a feed: no entries or channel found")
    ttl = feed.get("ttl")
    meta = FeedMeta(
        title=feed.get("title", ""),
        link=feed.get("link", ""),
        subtitle=feed.get("subtitle", ""),
        language=feed.get("language", ""),
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
    )
    return ParsedFeed(meta=meta, entries=tuple(result.entries), base_url=url)


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
        title=_str(doc.get("title")),
        link=_str(doc.get("home_page_url")),
        subtitle=_str(doc.get("description")),
        language=_str(doc.get("language")),
    )
    feed_authors = _json_authors(doc)
    entries = tuple(_json_entry(item, feed_authors) for item in items if isinstance(item, dict))
    return ParsedFeed(meta=meta, entries=entries, base_url=url)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


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
    for ours, theirs in (("published_parsed", "date_published"), ("updated_parsed", "date_modified")):
        if _str(item.get(theirs)):
            entry[ours] = _parse_date(item[theirs])
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
