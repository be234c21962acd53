"""Related coverage through the whole pipeline: local sources polled over HTTP into SQLite
and PostgreSQL, published, read back. Two outlets' own reports of one event (real article
bodies of two outlets) become a group each item lists; another event stays apart."""

from __future__ import annotations

import html
import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import func, select

from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.store.related import recent_groups, related_entries_table, related_keys_table
from newsriver.store.store import Store
from newsriver.stories.related import lead_of, vector
from newsriver.stories.retention import RetentionLimits

from .conftest import CORPUS, ConfigWriter, FixtureServer, poll_one_source_at_a_time, skip_module_without_corpus
from .factories import WHEN, make_article, rss
from .feedcheck import format_problems

skip_module_without_corpus()

PAGES = json.loads((CORPUS / "fulltext" / "ground-truth.json").read_text(encoding="utf-8"))


def body(prefix: str) -> str:
    [text] = [page["articleBody"] for pid, page in PAGES.items() if pid.startswith(prefix)]
    return "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())


# Sweden dropping its Assange investigation, as the BBC and Al Bawaba each reported it; a
# copy of the BBC's under another headline; Home Depot's results and a plague case: other events.
ASSANGE_BBC = {
    "title": "Julian Assange: Swedish prosecutors drop rape investigation",
    "path": "/assange",
    "date": "Tue, 19 Nov 2019 10:00:00 GMT",
    "body": body("c7e39ac4"),
}
ASSANGE_BAWABA = {
    "title": "Sweden Drops Its Investigation of Rape Allegation Against Julian Assange",
    "path": "/news/assange",
    "date": "Tue, 19 Nov 2019 12:30:00 GMT",
    "body": body("dc7ccccc"),
}
ASSANGE_COPY = {
    "title": "Sweden ends the Assange case",
    "path": "/world/assange",
    "date": "Tue, 19 Nov 2019 11:00:00 GMT",
    "body": body("c7e39ac4"),
}
HOME_DEPOT = {
    "title": "Home Depot stock drops after it cuts its sales forecast",
    "path": "/home-depot",
    "date": "Tue, 19 Nov 2019 13:00:00 GMT",
    "body": body("f8ff621a"),
}
PLAGUE = {"title": "Chinese hunter catches bubonic plague after eating wild rabbit", "path": "/plague",
          "date": "Mon, 18 Nov 2019 09:00:00 GMT", "body": body("432362af")}  # fmt: skip


FEEDS = {
    "bbc": ("BBC News", "https://bbc.example", [ASSANGE_BBC, HOME_DEPOT]),
    "bawaba": ("Al Bawaba", "https://bawaba.example", [ASSANGE_BAWABA, PLAGUE]),
    "metro": ("Metro Courier", "https://metro.example", [ASSANGE_COPY]),
}


def sources(feed_server: FixtureServer, names: tuple[str, ...] = ("bbc", "bawaba", "metro")) -> list[dict[str, Any]]:
    for name, (title, site, items) in FEEDS.items():
        feed_server.add(f"/{name}.rss", rss(title, site, items if name in names else []))
    return [{"name": n, "url": feed_server.url(f"/{n}.rss"), "title": FEEDS[n][0]} for n in FEEDS]


def poll(config: Path) -> None:
    assert main(["--config", str(config), "poll"]) == 0


def out(config: Path, name: str) -> bytes:
    return (config.parent / "out" / name).read_bytes()


def atom_entries(config: Path, feed: str = "all") -> dict[str, Any]:
    parsed = feedparser.parse(out(config, f"{feed}.atom"))
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {e.link: e for e in parsed.entries}


# Said where a test needs it whatever the default; the `config` fixture relies on the default (on).
RELATED_ON = {"related": {"enabled": True}}


def related_links(entry: Any) -> list[str]:
    return sorted(link.href for link in entry.links if link.rel == "related")


def text_of(entry: Any) -> str:
    return str(entry.content[0].value if "content" in entry else entry.summary)


@pytest.fixture
def config(feed_server: FixtureServer, write_config: ConfigWriter) -> Path:
    return write_config(
        sources(feed_server),
        feeds=[
            {"name": "all", "title": "Everything"},
            {"name": "short", "title": "One item per event", "related": "fold"},
            {"name": "plain", "title": "No related coverage", "related": "off"},
        ],
    )


def test_two_outlets_reports_of_one_event_list_each_other(config: Path) -> None:
    poll(config)
    entries = atom_entries(config)
    # Six entries, four items: the copy folds into the BBC's story, the Assange reports stay two.
    assert sorted(entries) == [
        "https://bawaba.example/news/assange",
        "https://bawaba.example/plague",
        "https://bbc.example/assange",
        "https://bbc.example/home-depot",
    ]
    bbc, bawaba = entries["https://bbc.example/assange"], entries["https://bawaba.example/news/assange"]
    # The copy is listed as a copy ("Also reported by"), never as related coverage of itself.
    assert related_links(bbc) == ["https://bawaba.example/news/assange", "https://metro.example/world/assange"]
    assert related_links(bawaba) == ["https://bbc.example/assange"]
    assert "Related coverage:" in text_of(bawaba)
    assert 'BBC News — <a href="https://bbc.example/assange">' in text_of(bawaba)
    assert "Al Bawaba — " in text_of(bbc) and "Metro Courier — " not in text_of(bbc)
    for other in ("https://bbc.example/home-depot", "https://bawaba.example/plague"):
        assert related_links(entries[other]) == []
        assert "Related coverage" not in text_of(entries[other])

    document = json.loads(out(config, "all.json"))
    items = {i["url"]: i for i in document["items"]}
    assert items["https://bawaba.example/news/assange"]["_related"] == [
        {
            "url": "https://bbc.example/assange",
            "title": ASSANGE_BBC["title"],
            "source": {
                "name": "bbc",
                "title": "BBC News",
                "url": items["https://bbc.example/assange"]["_source"]["url"],
            },
        }
    ]
    assert [c["name"] for c in items["https://bbc.example/assange"]["_also_reported_by"]] == ["metro"]
    assert "_related" not in items["https://bbc.example/home-depot"]
    for fmt in ("atom", "rss", "json"):
        assert format_problems(fmt, out(config, f"all.{fmt}"), "http://127.0.0.1:8080/all.rss") == [], fmt


def test_fold_shows_one_item_per_event_and_off_shows_none(config: Path) -> None:
    poll(config)
    short = atom_entries(config, "short")
    # The earliest report stands for the event (no priorities set), listing the other.
    assert "https://bawaba.example/news/assange" not in short
    assert "https://bawaba.example/news/assange" in related_links(short["https://bbc.example/assange"])
    assert len(short) == 3
    plain = atom_entries(config, "plain")
    assert len(plain) == 4
    assert all("Related coverage" not in text_of(e) for e in plain.values())
    assert related_links(plain["https://bawaba.example/news/assange"]) == []


def test_the_feed_page_lists_related_coverage_under_its_item(config: Path) -> None:
    poll(config)
    page = out(config, "all.html").decode()
    listed = f'<li><a href="https://bbc.example/assange">{html.escape(ASSANGE_BBC["title"])}</a>'
    assert listed + ' <span class="meta">(BBC News)</span></li>' in page
    assert page.count('<div class="related">') == 2  # the two Assange reports, each listing the other
    assert '<div class="related">' not in out(config, "plain.html").decode()


def test_a_group_growing_changes_no_items_updated(feed_server: FixtureServer, write_config: ConfigWriter) -> None:
    config = write_config(sources(feed_server, names=("bbc",)), dedupe=RELATED_ON)
    poll(config)
    before = atom_entries(config)["https://bbc.example/assange"]
    assert related_links(before) == []
    sources(feed_server)  # the other outlets publish
    poll(config)
    after = atom_entries(config)["https://bbc.example/assange"]
    assert "https://bawaba.example/news/assange" in related_links(after)
    assert after.updated == before.updated and after.id == before.id


def test_dupes_lists_the_groups(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    poll(config)
    assert main(["--config", str(config), "dupes"]) == 0
    printed = capsys.readouterr().out
    listing = printed[printed.index("\nRelated coverage") :].splitlines()[2:]
    assert listing[0] == f"event: {ASSANGE_BBC['title']}"
    # Earliest published first; whichever was stored first founded the group.
    assert [line.split()[0] for line in listing[1:4]] == ["bbc", "metro", "bawaba"]
    # The BBC's story and its copy (whichever was stored first shows as the copy's story).
    assert sum("copy of a story" in line for line in listing[1:3]) == 1
    assert sum("first report" in line for line in listing[1:4]) == 1
    assert sum("TF-IDF cosine" in line for line in listing[1:4]) == 1
    store = Store(config_module.load(config).settings.database)
    try:
        with store.engine.connect() as conn:
            [group] = recent_groups(conn, datetime(2000, 1, 1, tzinfo=UTC), 10)
    finally:
        store.close()
    assert [m.source for m in group] == ["bbc", "metro", "bawaba"]


def test_related_coverage_can_be_turned_off(feed_server: FixtureServer, write_config: ConfigWriter) -> None:
    config = write_config(sources(feed_server), dedupe={"related": {"enabled": False}})
    assert config_module.load(config).settings.dedupe.related_policy is None
    poll(config)
    entries = atom_entries(config)
    assert related_links(entries["https://bawaba.example/news/assange"]) == []
    assert related_links(entries["https://bbc.example/assange"]) == ["https://metro.example/world/assange"]


@pytest.mark.parametrize("order", list(itertools.permutations(["bbc", "bawaba", "metro"])), ids="-".join)
def test_the_group_is_the_same_whatever_order_the_reports_arrive_in(
    feed_server: FixtureServer, write_config: ConfigWriter, order: tuple[str, ...]
) -> None:
    path = write_config(sources(feed_server), dedupe=RELATED_ON, feeds=[{"name": "all", "title": "Everything"}])
    poll_one_source_at_a_time(path, order)
    poll(path)
    entries = atom_entries(path)
    assert len(entries) == 4
    assert related_links(entries["https://bawaba.example/news/assange"]) == ["https://bbc.example/assange"]
    assert related_links(entries["https://bbc.example/assange"]) == [
        "https://bawaba.example/news/assange",
        "https://metro.example/world/assange",
    ]


def test_retention_drops_the_related_rows_of_what_it_removes(database_url: str) -> None:
    policy = config_module.load_text("settings: {dedupe: {related: {enabled: true}}}").settings.dedupe.related_policy
    assert policy is not None
    store = Store(database_url)
    try:
        for source, title, when in (("a", "Sweden drops Assange inquiry", 1), ("b", "Assange inquiry dropped", 40)):
            article = make_article(
                id=f"{source}-1", source=source, entry_key="1", title=title, text="Swedish prosecutors said so.",
                published=WHEN + timedelta(days=when), first_seen=WHEN + timedelta(days=when),
            )  # fmt: skip
            store.entries.save(source, [article], {"status": "ok"}, related=policy)
        with store.engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(related_entries_table)).scalar()
        store.prune.apply(
            lambda s: RetentionLimits(timedelta(days=30), None), (), {"a", "b"}, WHEN + timedelta(days=45)
        )
        with store.engine.connect() as conn:
            kept = conn.execute(select(related_entries_table.c.entry_id)).scalars().all()
            keys_of = conn.execute(select(related_keys_table.c.entry_id).distinct()).scalars().all()
    finally:
        store.close()
    assert before == 2 and kept == ["b-1"] and keys_of == ["b-1"]


class _Failed(Exception):
    pass


def test_frequencies_kept_between_saves_see_other_writers_and_rollbacks(database_url: str) -> None:
    """Two stores on one database (two workers), each keeping the frequencies it met
    between saves, and a save rolled back: every vector stored is the one the frequencies
    of the entries stored before it (and its own) make, as if each save read them all."""
    policy = config_module.load_text("settings: {dedupe: {related: {enabled: true}}}").settings.dedupe.related_policy
    assert policy is not None
    titles = ["Assange inquiry dropped by Swedish prosecutors", "Swedish prosecutors drop Assange rape inquiry"]
    titles += [
        "Assange: Sweden drops its inquiry",
        "Sweden drops inquiry into Assange",
        "Prosecutors drop Assange case",
    ]
    first, second = Store(database_url), Store(database_url)
    stored: list[tuple[str, str]] = []
    try:
        for n, (store, title) in enumerate(zip([first, second, first, second, first], titles, strict=True)):
            article = make_article(
                id=f"s{n}-1", source=f"s{n}", entry_key="1", title=title, text="",
                published=WHEN + timedelta(hours=n), first_seen=WHEN + timedelta(hours=n),
            )  # fmt: skip
            # A save that fails after related coverage recorded it: nothing of it stays. The
            # other store's save next leaves as many entries counted as it would have.
            if n == 3:
                failed = make_article(
                    id="x-1", source="x", entry_key="1", title="Assange Assange Sweden inquiry", text="",
                    published=WHEN, first_seen=WHEN,
                )  # fmt: skip
                with pytest.raises(_Failed), first.batch():
                    first.entries.save("x", [failed], {"status": "ok"}, related=policy)
                    raise _Failed
            store.entries.save(f"s{n}", [article], {"status": "ok"}, related=policy)
            stored.append((article.id, title))
        with first.engine.connect() as conn:
            r = related_entries_table.c
            vectors = dict(conn.execute(select(r.entry_id, r.vector)).all())
    finally:
        first.close()
        second.close()
    df: Counter[str] = Counter()
    for n, (entry_id, title) in enumerate(stored):
        lead = lead_of(title, "")
        df.update(lead.terms.keys())
        expected = vector(lead, df, n + 1)
        assert json.loads(vectors[entry_id]) == {w: round(v, 4) for w, v in expected.items()}, entry_id


def test_a_report_sharing_one_key_is_compared_when_it_is_the_headlines_weightiest_word(
    database_url: str,
) -> None:
    """Each pair shares one key word ("Zelensky"), and its cosine is far above the threshold
    through short words that are never keys: an entry with a lead is not compared with such
    a report when the word is of its lead only (most reports the index offers share one key,
    and almost none match), it is when the word is its headline's weightiest key, and a
    headline alone is."""
    policy = config_module.load_text("settings: {dedupe: {related: {enabled: true}}}").settings.dedupe.related_policy
    assert policy is not None
    lead = "UK EU UN AI UK EU UN AI"
    saves = [
        ("a", "Zelensky visits Kyiv", f"{lead} talks begin", 0),
        ("b", "Summit returns", f"Zelensky {lead} summit ends", 1),  # the word in its lead: not compared with a-1
        ("c", "Zelensky visits Kyiv", f"{lead} talks begin", 30),  # a window later: a group of its own
        ("d", "Zelensky UK EU UN AI", "", 31),  # a headline alone: compared with c-1, and joins it
        ("e", "Zelensky speaks", f"{lead} summit ends", 32),  # its headline's weightiest key: joins c-1
    ]
    store = Store(database_url)
    try:
        for source, title, text, day in saves:
            article = make_article(
                id=f"{source}-1", source=source, entry_key="1", title=title, text=text,
                published=WHEN + timedelta(days=day), first_seen=WHEN + timedelta(days=day),
            )  # fmt: skip
            store.entries.save(source, [article], {"status": "ok"}, related=policy)
        with store.engine.connect() as conn:
            r = related_entries_table.c
            groups = dict(conn.execute(select(r.entry_id, r.grp)).all())
    finally:
        store.close()
    assert groups == {"a-1": "a-1", "b-1": "b-1", "c-1": "c-1", "d-1": "c-1", "e-1": "c-1"}
