"""Issue 15's case: five outlets run the cartel-extradition article the way outlets do, each
under its own headline and URL. The four verbatim-based copies fold into one item; the
two-line teaser is folded or stays an item of its own, never lost."""

from __future__ import annotations

import html
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from newsriver.cli import main
from newsriver.config import load as config_module
from newsriver.store.store import Store
from newsriver.stories.match import NearPolicy

from .conftest import CORPUS, ConfigWriter, FixtureServer, poll_one_source_at_a_time, skip_module_without_corpus
from .factories import make_article

skip_module_without_corpus()

TITLE, _, REST = (CORPUS / "articles" / "cartel-extradition.txt").read_text(encoding="utf-8").partition("\n")
PARAGRAPHS = [p.strip() for p in REST.split("\n\n") if p.strip()][1:-1]  # no photo caption, no copyright line
NEW_LEAD = (
    "Mexico on Thursday sent 29 alleged cartel leaders to the United States, among them Rafael Caro Quintero, "
    "in one of the largest such transfers in the country's history."
)


def html_of(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


# source → (headline, body): the five versions.
OUTLETS = {
    "vital": (TITLE, html_of(PARAGRAPHS)),
    "lead": ("Mexico sends 29 cartel figures north", html_of([NEW_LEAD, *PARAGRAPHS[1:9]])),
    "reordered": (
        "Cartel bosses face American courts",
        html_of([PARAGRAPHS[i] for i in (4, 1, 2, 7, 6, 9, 11, 12, 10, 15, 16)]),
    ),
    "cut": ("Caro Quintero among 29 extradited", html_of([p.replace("U.S.", "US") for p in PARAGRAPHS[:12]])),
    "teaser": ("Drug lords flown to America", html_of([" ".join(PARAGRAPHS[0].split(". ")[:2])])),
}
COPIES = ("vital", "lead", "reordered", "cut")
START = datetime(2025, 2, 27, 18, 0, tzinfo=UTC)


def rss(name: str, title: str, body: str) -> str:
    item = (
        f"<item><title>{html.escape(title)}</title><link>https://{name}.example/cartel-story</link>"
        f"<guid isPermaLink='false'>{name}-1</guid><pubDate>Thu, 27 Feb 2025 18:00:00 GMT</pubDate>"
        f"<description>{html.escape(body)}</description></item>"
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title>{item}</channel></rss>"


def serve(feed_server: FixtureServer) -> list[dict[str, str]]:
    sources = []
    for name, (title, body) in OUTLETS.items():
        feed_server.add(f"/{name}.rss", rss(name, title, body))
        sources.append({"name": name, "url": feed_server.url(f"/{name}.rss"), "title": name.title()})
    return sources


def test_the_four_copies_are_one_item_through_poll(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(serve(feed_server), feeds=[{"name": "all", "title": "Everything"}])
    assert main(["--config", str(config), "poll"]) == 0
    entries = feedparser.parse((config.parent / "out" / "all.atom").read_bytes()).entries
    shown = {e.link.split("/")[2].split(".")[0]: e for e in entries}
    folded = [name for name in COPIES if name not in shown]
    assert len(folded) == 3, sorted(shown)  # one item shows the four copies
    [item] = [shown[name] for name in COPIES if name in shown]
    credited = {link.href.split("/")[2].split(".")[0] for link in item.links if link.rel == "related"}
    assert set(folded) <= credited
    # The teaser: folded (credited) or an item of its own, never lost.
    assert ("teaser" in shown) != ("teaser" in credited)

    # dupes --explain tells why a pair folded, and why one did not.
    capsys.readouterr()
    refs = ["https://vital.example/cartel-story", "https://lead.example/cartel-story"]  # articles' URLs
    assert main(["--config", str(config), "dupes", "--explain", *refs]) == 0
    printed = capsys.readouterr().out
    assert "stored in one story" in printed
    assert "folded: one story (rule: contained)" in printed, printed
    url = "https://{}.example/cartel-story".format
    said = []  # an item's id: its story's first entry, one of the copies
    for name in COPIES:
        assert main(["--config", str(config), "dupes", "--explain", item.id, url(name)]) == 0
        said.append(capsys.readouterr().out)
    assert sum("stored in one story" in out for out in said) == 3
    assert sum(out.startswith("A and B are the same entry") for out in said) == 1
    assert main(["--config", str(config), "dupes", "--explain", item.id, "https://nowhere.example/x"]) == 1


NAMES = list(OUTLETS)
ORDERS = [NAMES[i:] + NAMES[:i] for i in range(5)] + [(NAMES[i:] + NAMES[:i])[::-1] for i in range(5)]


@pytest.mark.parametrize("order", ORDERS, ids="-".join)
def test_polled_one_source_at_a_time_the_copies_are_one_item(
    feed_server: FixtureServer, write_config: ConfigWriter, order: list[str]
) -> None:
    # Each outlet first, each last, and each between every two (all 120 orders: below, by Store.save).
    path = write_config(serve(feed_server), feeds=[{"name": "all", "title": "Everything"}])
    poll_one_source_at_a_time(path, order)
    store = Store(config_module.load(path).settings.database)
    try:
        stories = store.selection.stories(NAMES, None)
    finally:
        store.close()
    groups = [{s.item.source, *(c.source for c in s.copies)} for s in stories]
    assert sorted(len(g) for g in groups) in ([5], [1, 4]), groups
    assert any(set(COPIES) <= g for g in groups), groups


@pytest.fixture
def store(database_url: str) -> Any:
    opened = Store(database_url)
    opened.sources.sync([(f"{n}-{i}", "https://x.example/") for i in range(120) for n in OUTLETS])
    yield opened
    opened.close()


def test_every_arrival_order_folds_the_four_copies(store: Store) -> None:
    # Each order in a week of its own (beyond the dedupe window), so orders never meet.
    near = NearPolicy(0.6, timedelta(days=7))
    for n, order in enumerate(itertools.permutations(OUTLETS)):
        when = START + timedelta(days=30 * n)
        for name in order:
            title, body = OUTLETS[name]
            article = make_article(
                id=f"{name}-{n}",
                source=f"{name}-{n}",
                entry_key="1",
                url=f"https://{name}.example/{n}",
                canonical_url=f"https://{name}.example/{n}",
                title=title,
                content=body,
                published=when,
                first_seen=when,
                content_hash=name,
            )
            store.entries.save(f"{name}-{n}", [article], {"errors": 0}, near)
        stories = store.selection.stories([f"{name}-{n}" for name in OUTLETS], None)
        groups = [{x.split("-")[0] for x in (s.item.source, *(c.source for c in s.copies))} for s in stories]
        assert sorted(len(g) for g in groups) in ([5], [1, 4]), (order, groups)
        assert any(set(COPIES) <= g for g in groups), (order, groups)
