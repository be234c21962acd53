"""Test data: an Article with plain defaults, so a test names only the fields it is about."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from newsriver.models import Article

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def make_article(**fields: Any) -> Article:
    values: dict[str, Any] = {
        "id": "id",
        "source": "src",
        "entry_key": "key",
        "url": "",
        "canonical_url": "",
        "title": "t",
        "summary": "",
        "content": "",
        "text": "",
        "authors": (),
        "published": WHEN,
        "updated": WHEN,
        "first_seen": WHEN,
        "categories": (),
        "enclosures": (),
        "language": "",
        "image": "",
        "comments": "",
        "content_hash": "",
    }
    values.update(fields)
    return Article(**values)


def rss(title: str, site: str, items: list[dict[str, str]]) -> str:
    """An RSS 2.0 document: items of ``title``, ``path`` (under ``site``), ``date``, ``body`` (HTML)."""
    entries = "".join(
        f"<item><title>{html.escape(i['title'])}</title><link>{site}{i['path']}</link>"
        f"<guid isPermaLink='false'>{i['path']}</guid><pubDate>{i['date']}</pubDate>"
        f"<description>{html.escape(i['body'])}</description></item>"
        for i in items
    )
    channel = f"<title>{title}</title><link>{site}</link>{entries}"
    return f"<?xml version='1.0'?><rss version='2.0'><channel>{channel}</channel></rss>"
