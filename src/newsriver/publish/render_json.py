"""Render a feed as JSON Feed 1.1, written directly (no library).

newsriver's own fields start with an underscore, as the spec asks of extensions:
``_source`` credits an item's source, ``_also_reported_by`` lists its story's other copies,
``_related`` the other stories' reports of its event (related coverage).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from newsriver.ingest.sanitize import to_text
from newsriver.models import Article, Author, Enclosure
from newsriver.publish.related import NO_RELATED, Related, json_related
from newsriver.publish.render_common import NO_COPIES, CopiesByItem, FeedInfo, Item, SourceInfo, item_id, items


def render_json(
    info: FeedInfo,
    articles: Sequence[Article],
    sources: Mapping[str, SourceInfo],
    copies: CopiesByItem = NO_COPIES,
    related: Related = NO_RELATED,
) -> bytes:
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title or info.name,
        "home_page_url": info.link,
        "feed_url": info.url("json"),
        "description": info.description or f"{info.title or info.name}, combined by newsriver",
    }
    if info.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in info.hubs]
    feed["items"] = [_item(item) for item in items(articles, sources, copies, related)]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _item(item: Item) -> dict[str, Any]:
    a = item.article
    fields: dict[str, Any] = {"id": item_id(a)}
    if a.url:
        fields["url"] = a.url
    fields["title"] = a.title
    if a.content or a.summary:
        fields["content_html"] = a.content or a.summary
    else:
        fields["content_text"] = a.text or a.title
    if a.summary and a.content:
        fields["summary"] = to_text(a.summary)
    if a.image:
        fields["image"] = a.image
    fields["date_published"] = _rfc3339(a.published)
    fields["date_modified"] = _rfc3339(a.updated)
    if authors := [_author(author) for author in a.authors]:
        fields["authors"] = authors
    if a.categories:
        fields["tags"] = list(a.categories)
    if a.language:
        fields["language"] = a.language
    if a.enclosures:
        fields["attachments"] = [_attachment(e) for e in a.enclosures]
        if a.podcast and a.podcast.duration:  # the episode's audio: its first enclosure, as in RSS
            fields["attachments"][0]["duration_in_seconds"] = a.podcast.duration
    if a.comments:
        fields["external_url"] = a.comments
    return fields | _credits(item)


def _author(author: Author) -> dict[str, str]:
    url = author.url or (f"mailto:{author.email}" if author.email else "")
    return {k: v for k, v in (("name", author.name), ("url", url)) if v}


def _attachment(enclosure: Enclosure) -> dict[str, Any]:
    attachment: dict[str, Any] = {"url": enclosure.url, "mime_type": enclosure.type or "application/octet-stream"}
    if enclosure.length is not None:
        attachment["size_in_bytes"] = enclosure.length
    return attachment


def _credits(item: Item) -> dict[str, Any]:
    """newsriver's fields: the item's source, its story's other copies, its event's other reports."""
    source = item.source
    fields: dict[str, Any] = {"_source": {"name": source.name, "title": source.title, "url": source.url}}
    if item.copies:
        fields["_also_reported_by"] = [
            {"name": copy.source, "title": outlet.title, "url": copy.url, "date_published": _rfc3339(copy.published)}
            for copy, outlet in item.copies
        ]
    if item.related:
        fields["_related"] = json_related(item.related)
    return fields
