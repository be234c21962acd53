"""feedparser's entry date cases as tests of newsriver's UTC dates, through every output format.

Each case is a feed whose only entry carries one kind of date (pubDate, dc:date, Atom
issued/modified/created/published/updated, dcterms:*, CDF lastmod) and an ``Expect:`` line
giving that date. newsriver must take it as the entry's published date (and, there being no
other date, as its updated date), in UTC, and publish that instant in Atom, RSS and JSON Feed.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest

from .conftest import skip_module_without_corpus
from .corpus import FEEDS, file_run

skip_module_without_corpus()

_EXPECT = re.compile(
    r"^Expect:.*?entries\[0\]\['(?:published|updated|created)(_parsed)?'\] == "
    r"(?:\((\d+), (\d+), (\d+), (\d+), (\d+), (\d+),[^)]*\)|'([^']+)')",
    re.MULTILINE,
)
CASES = sorted(
    path
    for path in (FEEDS / "feedparser-tests" / "wellformed").rglob("*.xml")
    if _EXPECT.search(path.read_text(encoding="utf-8", errors="replace"))
)


def expected_date(path: Path) -> datetime:
    match = _EXPECT.search(path.read_text(encoding="utf-8", errors="replace"))
    assert match is not None
    if match.group(1):  # a time tuple, already in UTC
        return datetime(*(int(match.group(i)) for i in range(2, 8)), tzinfo=UTC)
    text = match.group(8)
    when = datetime.fromisoformat(text) if text[:4].isdigit() else parsedate_to_datetime(text)
    return when.astimezone(UTC)


def test_the_cases_are_found() -> None:
    assert len(CASES) >= 23


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(FEEDS / "feedparser-tests")))
def test_entry_date_is_published_in_utc(path: Path) -> None:
    expected = expected_date(path)
    run = file_run(path)
    (article,) = run.articles
    assert article.published.utcoffset() == timedelta(0)
    assert (article.published, article.updated) == (expected, expected)

    outputs = dict(run.outputs)
    atom = feedparser.parse(outputs["atom"]).entries[0]
    assert atom.published == atom.updated == expected.isoformat()
    rss = feedparser.parse(outputs["rss"]).entries[0]
    assert parsedate_to_datetime(rss.published) == expected
    assert rss.published.endswith("+0000")
    item = json.loads(outputs["json"])["items"][0]
    assert item["date_published"] == item["date_modified"] == expected.isoformat().replace("+00:00", "Z")
