"""Entries a source's last document carried as they are now are not normalized again: the
parse worker identifies them (``Seen``) and the store takes them as unchanged. What depends
on an entry being in the document must not notice: edits, new entries, rules, retention's
tombstones, the publication rhythm. Pure digests first, then polls on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

import newsriver.ingest.normalize as normalize_module
import newsriver.ingest.parse as parse_module
from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.config.schema import Rule, SourceConfig
from newsriver.ingest.digest import DROPPED, SEEN_HASH, Digest, Known, digest_in_chunks
from newsriver.models import Article, Seen
from newsriver.run.poll import poll_sources
from newsriver.store.store import Store

from .conftest import ConfigWriter, FixtureServer

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
URL = "https://news.example/feed.xml"
SOURCE = SourceConfig(name="news", url=URL)

Item = tuple[str, str, str]  # guid ("" for none), title, text


def item_xml(guid: str, title: str, text: str, when: datetime | None = NOW - HOUR, link: bool = True) -> str:
    date = f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>" if when is not None else ""
    ident = f"<guid isPermaLink='false'>{guid}</guid>" if guid else ""
    href = f"<link>https://news.example/{title.replace(' ', '-')}</link>" if link else ""
    return f"<item><title>{title}</title>{href}{ident}{date}<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"


def feed(*items: str, channel_link: str = "https://news.example/") -> bytes:
    body = "".join(items)
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>News</title><link>{channel_link}</link>"
        f"{body}</channel></rss>"
    ).encode()


BASE = [item_xml(f"g{n}", f"Story {n}", f"The text of story {n}, told at length.") for n in range(5)]


def digested(
    body: bytes, known: Known | None, source: SourceConfig = SOURCE, now: datetime = NOW, size: int = 1000
) -> tuple[list[Article], list[Seen]]:
    _meta, chunks = digest_in_chunks(body, URL, "application/rss+xml", source, now, near=True, size=size, known=known)
    made: list[Digest] = list(chunks)
    for chunk in made:
        assert len(chunk.prints) == len(chunk.articles)  # fingerprints for the normalized ones only
    return [a for c in made for a in c.articles], [s for c in made for s in c.seen]


def known_after(body: bytes, source: SourceConfig = SOURCE, before: str | None = None) -> str:
    known = Known.read(before)
    digested(body, known, source)
    assert known.text is not None
    return known.text


@pytest.fixture(params=["fast", "feedparser"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both ways a document is parsed: the lxml fast path, and feedparser where it declines."""
    if request.param == "feedparser":
        monkeypatch.setattr(parse_module, "read_feed", lambda body, content_type, hold=None: None)
    yield request.param


def as_seen(article: Article) -> Seen:
    return Seen(
        article.id,
        article.source,
        article.entry_key,
        article.canonical_url,
        article.published,
        article.first_seen,
        article.content_hash[:SEEN_HASH],
    )


# --- pure: what a worker normalizes, and what it identifies only ---------------------------


def test_only_the_new_and_edited_entries_are_normalized_again(parser: str) -> None:
    before = known_after(feed(*BASE))
    edited = item_xml("g2", "Story 2", "The text of story 2, corrected.")
    changed = feed(item_xml("g9", "Story 9", "Fresh news."), *BASE[:2], edited, *BASE[3:])
    later = NOW + timedelta(minutes=30)
    articles, seen = digested(changed, Known.read(before), now=later)
    assert [a.entry_key for a in articles] == ["g9", "g2"]
    # The others are identified exactly as normalizing them would, at this poll's clock.
    full, none_seen = digested(changed, None, now=later)
    assert none_seen == []
    assert articles == [a for a in full if a.entry_key in ("g9", "g2")]
    assert seen == [as_seen(a) for a in full if a.entry_key not in ("g9", "g2")]


def test_what_is_recorded_is_every_entry_of_the_last_document(parser: str) -> None:
    first = known_after(feed(*BASE))
    assert len(first.split()) == 5
    # An entry gone from the document is gone from what is known; the others stay known.
    second = known_after(feed(*BASE[1:]), before=first)
    assert second.split() == first.split()[1:]
    articles, seen = digested(feed(*BASE), Known.read(second))
    assert [a.entry_key for a in articles] == ["g0"]
    assert [s.entry_key for s in seen] == ["g1", "g2", "g3", "g4"]


@pytest.mark.parametrize(
    "change",
    [
        "keep rule",
        "block rule",
        "channel link",  # relative URLs resolve against it
        "normalize version",
    ],
)
def test_what_changes_how_an_entry_is_read_normalizes_every_entry_again(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = known_after(feed(*BASE))
    source, body = SOURCE, feed(*BASE)
    if change == "keep rule":
        source = SourceConfig(name="news", url=URL, keep=Rule(title="Story"))
    elif change == "block rule":
        source = SourceConfig(name="news", url=URL, block=Rule(title="Nothing like it"))
    elif change == "channel link":
        body = feed(*BASE, channel_link="https://other.example/")
    else:
        monkeypatch.setattr(normalize_module, "NORMALIZE_VERSION", normalize_module.NORMALIZE_VERSION + 1)
        normalize_module._code_key.cache_clear()
    try:
        articles, seen = digested(body, Known.read(before), source)
    finally:
        normalize_module._code_key.cache_clear()  # made again, with the version restored
    assert seen == []
    assert len(articles) == 5


def test_an_entry_the_rules_drop_stays_dropped_without_being_normalized() -> None:
    source = SourceConfig(name="news", url=URL, block=Rule(title="Story 3"))
    before = known_after(feed(*BASE), source)
    assert sorted(t[16:] for t in before.split()).count(DROPPED) == 1
    articles, seen = digested(feed(*BASE, item_xml("g9", "Story 9", "More.")), Known.read(before), source)
    assert [a.entry_key for a in articles] == ["g9"]
    assert [s.entry_key for s in seen] == ["g0", "g1", "g2", "g4"]


def test_an_undated_entry_is_dated_by_this_poll_and_one_without_guid_or_link_is_normalized() -> None:
    undated = item_xml("u1", "Undated", "No date at all.", when=None)
    anonymous = item_xml("", "Anonymous", "Neither guid nor link.", link=False)
    repeated = [item_xml("dup", f"Twin {n}", f"Twin text {n}.") for n in range(3)]  # one guid, rekeyed
    body = feed(undated, anonymous, *repeated)
    before = known_after(body)
    later = NOW + timedelta(hours=5)
    articles, seen = digested(body, Known.read(before), now=later)
    assert [a.title for a in articles] == ["Anonymous"]
    full, _ = digested(body, None, now=later)
    assert seen == [as_seen(a) for a in full if a.title != "Anonymous"]
    assert seen[0].published == later
    assert [s.entry_key for s in seen[1:]] == [
        "dup",
        "dup#https://news.example/Twin-1",
        "dup#https://news.example/Twin-2",
    ]


def test_chunks_keep_the_document_order_of_articles_and_seen_entries() -> None:
    items = [item_xml(f"g{n}", f"Story {n}", f"Text {n}.") for n in range(7)]
    before = known_after(feed(*items[::2]))
    _meta, chunks = digest_in_chunks(feed(*items), URL, "", SOURCE, NOW, near=False, size=3, known=Known.read(before))
    made = [([a.entry_key for a in c.articles], [s.entry_key for s in c.seen]) for c in chunks]
    assert made == [(["g1"], ["g0", "g2"]), (["g3", "g5"], ["g4"]), ([], ["g6"])]


def test_a_document_of_more_entries_than_the_limit_records_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import newsriver.ingest.digest as digest_module

    monkeypatch.setattr(digest_module, "KNOWN_LIMIT", 4)
    known = Known.read(None)
    digested(feed(*BASE), known)
    assert known.text is None


# --- polls, on both backends -----------------------------------------------------------


def poll(config_path: Path, *names: str) -> dict[str, str]:
    config = config_module.load(config_path)
    store = Store(config.settings.database)
    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        return {o.source: o.line() for o in poll_sources(config, store, names=list(names) or None)}
    finally:
        store.close()


def rows(database_url: str, source: str = "news") -> dict[str, tuple[str, str]]:
    with closing(Store(database_url)) as store, store.reading() as sql:
        found = sql.rows("SELECT entry_key, title, text FROM entries WHERE source = ?", (source,))
    return {key: (title, text) for key, title, text in found}


def column(database_url: str, name: str, source: str = "news") -> Any:
    with closing(Store(database_url)) as store, store.reading() as sql:
        return sql.first(f"SELECT {name} FROM sources WHERE name = ?", (source,))[0]


def run_sql(database_url: str, statement: str, params: tuple[Any, ...]) -> None:
    with closing(Store(database_url)) as store, store.transaction() as tx:
        tx.sql.run(statement, params)


def test_an_edit_and_a_new_entry_are_stored_as_before_and_the_rest_is_known(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str
) -> None:
    feed_server.add("/news.xml", feed(*BASE))
    config = write_config([{"name": "news", "url": feed_server.url("/news.xml")}])
    assert poll(config) == {"news": "news: new 5, updated 0"}
    assert len(column(database_url, "digests").split()) == 5

    edited = item_xml("g2", "Story 2", "The text of story 2, corrected.")
    feed_server.add("/news.xml", feed(item_xml("g9", "Story 9", "Fresh news."), *BASE[:2], edited, *BASE[3:]))
    assert poll(config) == {"news": "news: new 1, updated 1"}
    stored = rows(database_url)
    assert stored["g2"] == ("Story 2", "The text of story 2, corrected.")
    assert stored["g9"] == ("Story 9", "Fresh news.")
    assert len(stored) == 6
    assert len(column(database_url, "digests").split()) == 6

    # Only the head changed: every entry is known, and stays stored as it was.
    # (The document's end, "</channel></rss>", is 16 bytes: 23 cut the last item's end tag
    # too, a broken document that only the lenient parser read, now a source warning.)
    feed_server.add("/news.xml", feed(item_xml("g9", "Story 9", "Fresh news."), *BASE[:2], edited, *BASE[3:])[:-16]
                    + b"<ttl>60</ttl></channel></rss>")  # fmt: skip
    assert poll(config) == {"news": "news: new 0, updated 0"}
    assert rows(database_url) == stored


def test_a_rule_taken_off_stores_the_entries_it_had_dropped(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str
) -> None:
    feed_server.add("/news.xml", feed(*BASE))
    source = {"name": "news", "url": feed_server.url("/news.xml")}
    blocked = write_config([source | {"block": {"title": "Story 3"}}])
    assert poll(blocked) == {"news": "news: new 4, updated 0"}
    feed_server.add("/news.xml", feed(*BASE, item_xml("g9", "Story 9", "More.")))
    unblocked = write_config([source])
    assert poll(unblocked) == {"news": "news: new 2, updated 0"}
    assert sorted(rows(database_url)) == ["g0", "g1", "g2", "g3", "g4", "g9"]


def test_a_row_changed_behind_the_polls_back_is_stored_by_the_next_poll(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str
) -> None:
    feed_server.add("/news.xml", feed(*BASE))
    config = write_config([{"name": "news", "url": feed_server.url("/news.xml")}])
    poll(config)
    # Rows change only by their source's polls and retention (which leaves a tombstone): a
    # row gone otherwise disagrees with what the source's last document recorded.
    run_sql(database_url, "DELETE FROM entries WHERE source = ? AND entry_key = ?", ("news", "g1"))
    run_sql(database_url, "UPDATE entries SET content_hash = ? WHERE entry_key = ?", ("0" * 64, "g3"))
    feed_server.add("/news.xml", feed(*BASE, item_xml("g9", "Story 9", "More.")))
    assert poll(config) == {"news": "news: new 1, updated 0"}
    assert column(database_url, "digests") is None
    assert column(database_url, "etag") == ""
    # The document is the same, and would be answered 304: it is fetched and digested whole.
    assert poll(config) == {"news": "news: new 1, updated 1"}
    assert sorted(rows(database_url)) == ["g0", "g1", "g2", "g3", "g4", "g9"]
    assert len(column(database_url, "digests").split()) == 6


def test_an_entry_retention_removed_stays_out_while_known_and_its_tombstone_sees_it_leave(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    aged = [item_xml(f"g{n}", f"Story {n}", f"Text of {n}.", when=now - timedelta(days=n)) for n in range(4)]
    feed_server.add("/news.xml", feed(*aged))
    source = {"name": "news", "url": feed_server.url("/news.xml"), "retention": {"max_items": 3}}
    config = write_config([source], feeds=[{"name": "all", "title": "All", "max_items": 1}])
    poll(config)
    assert main(["--config", str(config), "prune"]) == 0
    assert "news: removed 1" in capsys.readouterr().out
    assert sorted(rows(database_url)) == ["g0", "g1", "g2"]

    fresh = item_xml("g9", "Story 9", "More.", when=now)
    feed_server.add("/news.xml", feed(fresh, *aged))
    assert poll(config) == {"news": "news: new 1, updated 0"}  # g3 is known, and buried
    assert sorted(rows(database_url)) == ["g0", "g1", "g2", "g9"]
    assert column(database_url, "digests") is not None
    with closing(Store(database_url)) as store, store.reading() as sql:
        assert sql.rows("SELECT missing_since FROM tombstones WHERE source = ?", ("news",)) == [(None,)]

    feed_server.add("/news.xml", feed(fresh, *aged[:3]))  # g3 leaves the document
    assert poll(config) == {"news": "news: new 0, updated 0"}
    with closing(Store(database_url)) as store, store.reading() as sql:
        [(since,)] = sql.rows("SELECT missing_since FROM tombstones WHERE source = ?", ("news",))
    assert since is not None


def test_a_full_text_source_records_nothing_known(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str
) -> None:
    feed_server.add("/news.xml", feed(*BASE))
    config = write_config([{"name": "news", "url": feed_server.url("/news.xml"), "full_text": True}])
    poll(config)
    assert column(database_url, "digests") is None


def test_an_entry_known_under_a_new_guid_is_still_the_row_its_url_holds(
    feed_server: FixtureServer, write_config: ConfigWriter, database_url: str
) -> None:
    feed_server.add("/news.xml", feed(*BASE))
    config = write_config([{"name": "news", "url": feed_server.url("/news.xml")}])
    poll(config)
    # g1 comes back as h1 (same link, same text): the row keyed g1, found by its URL.
    regenerated = item_xml("h1", "Story 1", "The text of story 1, told at length.")
    feed_server.add("/news.xml", feed(BASE[0], regenerated, *BASE[2:]))
    assert poll(config) == {"news": "news: new 0, updated 0"}
    # Known now as h1, with no row of that key: judged against the row its URL holds.
    feed_server.add("/news.xml", feed(item_xml("g9", "Story 9", "More."), BASE[0], regenerated, *BASE[2:]))
    assert poll(config) == {"news": "news: new 1, updated 0"}
    assert column(database_url, "digests") is not None  # nothing disagreed
    assert sorted(rows(database_url)) == ["g0", "g1", "g2", "g3", "g4", "g9"]
