"""Test data: an Article with plain defaults, so a test names only the fields it is about."""

from __future__ import annotations

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
