"""newsriver's normalized entries against feed-rs's expected parse of the same real feeds.

feed-rs (the Rust feed parser) ships, beside each captured feed X, the model it parsed as
X.serde.json. Every entry is compared field by field; where newsriver deliberately differs,
the comparison encodes the difference and the reason is written next to it.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest

from newsriver.ingest.normalize import FUTURE_TOLERANCE
from newsriver.ingest.parse import parse
from newsriver.models import Article, Entry

from .conftest import skip_module_without_corpus
from .corpus import FEEDS, NOW, content_type, file_run, url_of

skip_module_without_corpus()

EXPECTATIONS = sorted((FEEDS / "feed-rs").rglob("*.serde.json"))
# feed-rs names the RSS <author> element's person "author" and keeps the e-mail; newsriver
# reads the name out of "jo@example.org (Jo Doe)", as the RSS 2.0 spec writes it.
FEED_RS_PLACEHOLDER_NAME = "author"
FEED_RS_INVENTED_ID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
# Differences that are deliberate, by file and field, with the reason.
DELIBERATE = {
    ("jsonfeed_elastic_1.1.json", "authors"): (
        "JSON Feed 1.1 says 'authors' replaces the deprecated 'author'; feed-rs merges the two"
    ),
}
# Dates feed-rs cannot read (it reports none) that newsriver reads, by file and entry.
DATES_ONLY_NEWSRIVER_READS = {
    ("rss_2.0_nbcny.xml", 0): "2023-12-16T14:02:33Z",  # "Sat, Dec 16 2023 02:02:33 PM": 12-hour clock
    ("rss_1.0_example_1.xml", 1): "2017-06-13T03:18:00Z",  # "2017-06-13T03:18:00+00:0": a truncated offset
}
# "Jo Doe (mailto:jo@example.org)": newsriver keeps the name and the e-mail apart.
EMAIL_IN_NAME = re.compile(r"\s*[(<](?:mailto:)?[^()<>\s]+@[^()<>\s]+[)>]")


def feed_of(expectation: Path) -> Path:
    stem = expectation.name.removesuffix(".serde.json")
    return next(p for p in expectation.parent.iterdir() if p.name in (f"{stem}.xml", f"{stem}.json"))


def seconds(value: str | None) -> datetime | None:
    """An RFC 3339 date to whole seconds: feedparser, newsriver's parser, reads no fractions."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(microsecond=0)


def same_url(a: str, b: str) -> bool:
    """Equal as URLs: feed-rs lower-cases the host and adds "/" to an empty path, newsriver
    keeps the URL as the feed wrote it for display."""

    def norm(url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, parts.fragment))

    return norm(a) == norm(b)


def plain(title: dict[str, Any] | None) -> str:
    text = (title or {}).get("content") or ""
    if (title or {}).get("content_type") == "text/html":
        text = re.sub(r"<[^>]*>", "", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


@pytest.mark.parametrize("expectation", EXPECTATIONS, ids=lambda p: str(p.relative_to(FEEDS / "feed-rs")))
def test_entries_match_feed_rs(expectation: Path) -> None:
    expected = json.loads(expectation.read_text(encoding="utf-8"))
    path = feed_of(expectation)
    run = file_run(path)
    assert not run.parse_error, run.parse_error
    body = path.read_bytes()
    parsed = parse(body, url_of(path), content_type(body))
    # Relative links resolve against the feed's own link, else the URL it was fetched from.
    base = parsed.meta.link or url_of(path)
    assert len(run.articles) == len(expected["entries"])
    problems: list[str] = []
    for position, (want, got, raw) in enumerate(zip(expected["entries"], run.articles, parsed.entries, strict=True)):
        problems += [f"entry {position}: {p}" for p in compare(path.name, position, want, got, raw, base)]
    assert not problems, "\n".join(problems)


def compare(name: str, position: int, want: dict[str, Any], got: Article, raw: Entry, base: str) -> list[str]:
    problems = []

    # Title: a missing one becomes the first words of the text (feed-rs leaves it empty).
    title = plain(want.get("title"))
    if title and title != got.title:
        problems.append(f"title {got.title!r} != {title!r}")

    # Link: feed-rs leaves relative links relative; newsriver makes them absolute. Without a
    # link, an http(s) id (RSS permalink guid, Atom id) is the link; feed-rs gives none.
    links = [link["href"] for link in want["links"] if link.get("rel") in (None, "alternate")]
    if links and not same_url(urljoin(base, links[0]), got.url):
        problems.append(f"link {got.url!r} != {links[0]!r}")
    if not links and got.url and got.url != want["id"]:
        problems.append(f"link {got.url!r} from nowhere (id is {want['id']!r})")

    # Id: feed-rs invents one (an MD5 or a UUID) for entries without a guid or Atom id, and
    # for RSS 1.0 items, whose rdf:about newsriver (through feedparser) takes as the id.
    # newsriver keys entries without any id by link or content hash. Where both read an id
    # from the feed, it must be the same one.
    if raw.id and not FEED_RS_INVENTED_ID.match(want["id"]) and got.entry_key != want["id"]:
        problems.append(f"id {got.entry_key!r} != {want['id']!r}")

    # Dates: published, else updated, else first seen (now); never more than a day ahead;
    # and newsriver never reports an entry updated before it was published.
    published = (
        seconds(want.get("published"))
        or seconds(want.get("updated"))
        or seconds(DATES_ONLY_NEWSRIVER_READS.get((name, position)))
        or NOW
    )
    published = NOW if published > NOW + FUTURE_TOLERANCE else published
    updated = max(seconds(want.get("updated")) or published, published)
    if got.published != published:
        problems.append(f"published {got.published.isoformat()} != {published.isoformat()}")
    if got.updated != updated:
        problems.append(f"updated {got.updated.isoformat()} != {updated.isoformat()}")

    # Authors and categories: newsriver reads more sources of both (itunes:author,
    # dc:subject, itunes:keywords, Atom <category> text) and drops repeats, so feed-rs's
    # must be among newsriver's.
    authors = {EMAIL_IN_NAME.sub("", a["name"]) for a in want["authors"] if a.get("name")}
    authors -= {FEED_RS_PLACEHOLDER_NAME}
    missing = authors - {a.name for a in got.authors}
    if missing and (name, "authors") not in DELIBERATE:
        problems.append(f"authors {missing} missing from {got.authors}")
    categories = {c["term"] for c in want["categories"]}
    if not categories <= set(got.categories):
        problems.append(f"categories {categories - set(got.categories)} missing from {got.categories}")
    return problems


def test_every_expectation_has_its_feed() -> None:
    assert len(EXPECTATIONS) >= 60
    assert all(feed_of(e).exists() for e in EXPECTATIONS)
