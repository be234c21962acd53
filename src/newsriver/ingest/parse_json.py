"""JSON Feed (jsonfeed.org, versions 1 and 1.1) to ``Entry``: feedparser 6 has no reader for it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# feedparser's date reader: a dozen formats and their quirks, so that a JSON Feed's dates are
# read exactly as an XML feed's are. Private, but it is feedparser's real work, not its shape.
from feedparser.datetimes import _parse_date

from newsriver.errors import ParseError
from newsriver.ingest.parse_common import web_link
from newsriver.ingest.sanitize import to_text, xml_safe
from newsriver.models import Entry, EntryDate, EntryEnclosure, EntryPerson, EntryText, FeedMeta, ParsedFeed


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
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
        link=web_link(_str(doc.get("home_page_url")), url),
        subtitle=to_text(_str(doc.get("description"))),
        language=xml_safe(_str(doc.get("language")).strip()),
    )
    feed_authors = _authors(doc)
    entries = tuple(_entry(item, feed_authors) for item in items if isinstance(item, dict))
    return ParsedFeed(meta=meta, entries=entries, base_url=url)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _authors(obj: Mapping[str, Any]) -> tuple[EntryPerson, ...]:
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return tuple(
        EntryPerson(name=_str(a.get("name")), href=_str(a.get("url")))
        for a in raw
        if isinstance(a, dict) and (a.get("name") or a.get("url"))
    )


def _entry(item: Mapping[str, Any], feed_authors: tuple[EntryPerson, ...]) -> Entry:
    tags = item.get("tags")
    attachments = item.get("attachments")
    return Entry(
        id="" if item.get("id") is None else str(item["id"]),  # JSON Feed 1.0 allowed numbers; identity wants text
        link=_str(item.get("url")),
        title=_str(item.get("title")),
        content=_content(item),
        summary=EntryText(item["summary"], "text/plain") if _str(item.get("summary")) else None,
        published=_date(item.get("date_published")),
        updated=_date(item.get("date_modified")),
        authors=_authors(item) or feed_authors,
        categories=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        enclosures=tuple(
            EntryEnclosure(a["url"], _str(a.get("mime_type")), str(a.get("size_in_bytes", "")))
            for a in (attachments if isinstance(attachments, list) else ())
            if isinstance(a, dict) and _str(a.get("url"))
        ),
        images=tuple(image for image in (_str(item.get("image")) or _str(item.get("banner_image")),) if image),
        language=_str(item.get("language")),
    )


def _content(item: Mapping[str, Any]) -> EntryText | None:
    if _str(item.get("content_html")):
        return EntryText(item["content_html"], "text/html")
    if _str(item.get("content_text")):
        return EntryText(item["content_text"], "text/plain")
    return None


def _date(value: Any) -> EntryDate | None:
    return EntryDate(value, _parse_date(value)) if _str(value) else None
