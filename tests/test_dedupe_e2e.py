"""Near-duplicates through the whole pipeline: several local sources carrying copies and
look-alikes, polled with the CLI into a real SQLite file, published and read back."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import feedparser
import pytest

from newsriver.cli import main

from .conftest import CORPUS, ConfigWriter, FixtureServer, poll_one_source_at_a_time, skip_module_without_corpus
from .factories import rss

skip_module_without_corpus()

TITLE, _, REST = (CORPUS / "articles" / "cartel-extradition.txt").read_text(encoding="utf-8").partition("\n")
PARAGRAPHS = [p.strip() for p in REST.split("\n\n") if p.strip()]
FULL = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
SUMMARY = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:3]) + "<p>Read more at VitalNews.</p>"
SYNDICATED = (
    "<p>(Daily Example) — "
    + "</p><p>".join(PARAGRAPHS[2:-1])
    + "</p><p>Copyright © 2025 Daily Example. All rights reserved.</p>"
)
OWN_ARTICLE = (
    "<p>Mexico on Thursday sent 29 prisoners accused of drug trafficking to the United States, the largest such "
    "transfer in years, as officials from both countries met in Washington to discuss trade and security.</p>"
    "<p>Security analysts in Mexico City said the move was meant to ease pressure over tariffs, and warned that "
    "the cartels would quickly replace the leaders they lost, as they have after every arrest.</p>"
)


def brent(price: str, day: str) -> str:
    return (
        f"<p>Brent crude futures settled at ${price} a barrel on {day}, as traders weighed OPEC+ output plans "
        "against signs of slowing demand in Asia. The international benchmark has traded in a narrow band for "
        "most of the month, and analysts expect little change before the next meeting of producers.</p>"
    )


def roundup(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


WIRE = [
    {"title": TITLE, "path": "/cartel", "date": "Thu, 27 Feb 2025 18:00:00 GMT", "body": FULL},
    {"title": "Brent crude closes at $71.42", "path": "/brent-27", "date": "Thu, 27 Feb 2025 20:00:00 GMT",
     "body": brent("71.42", "Thursday")},
]  # fmt: skip
DAILY = [
    {"title": "Mexico hands 29 cartel figures to the U.S.", "path": "/world/29-cartel", "body": SYNDICATED,
     "date": "Thu, 27 Feb 2025 19:30:00 GMT"},
    {"title": "Brent crude closes at $71.45", "path": "/brent", "date": "Fri, 28 Feb 2025 20:00:00 GMT",
     "body": brent("71.45", "Friday")},
    {"title": "Weekly roundup", "path": "/roundup", "date": "Fri, 28 Feb 2025 08:00:00 GMT",
     "body": roundup(PARAGRAPHS[5:12])},
]  # fmt: skip
METRO = [
    {"title": TITLE, "path": "/s/cartel", "date": "Thu, 27 Feb 2025 18:30:00 GMT", "body": SUMMARY},
    {"title": "Mexico sends 29 prisoners north", "path": "/own", "date": "Thu, 27 Feb 2025 21:00:00 GMT",
     "body": OWN_ARTICLE},
    {"title": "Weekly roundup", "path": "/weekly", "date": "Fri, 28 Feb 2025 09:00:00 GMT",
     "body": roundup(PARAGRAPHS[14:22])},
]  # fmt: skip


def sources(feed_server: FixtureServer, **priority: int) -> list[dict[str, Any]]:
    feed_server.add("/wire.rss", rss("Wire Service", "https://wire.example", WIRE))
    feed_server.add("/daily.rss", rss("Daily Example", "https://daily.example", DAILY))
    feed_server.add("/metro.rss", rss("Metro Courier", "https://metro.example", METRO))
    return [
        {"name": name, "url": feed_server.url(f"/{name}.rss"), "title": title, "priority": priority.get(name, 0)}
        for name, title in (("wire", "Wire Service"), ("daily", "Daily Example"), ("metro", "Metro Courier"))
    ]


def poll(config: Path) -> int:
    return main(["--config", str(config), "poll"])


def atom(config: Path, feed: str = "all") -> Any:
    parsed = feedparser.parse((config.parent / "out" / f"{feed}.atom").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def text_of(entry: Any) -> str:
    return str(entry.content[0].value if "content" in entry else entry.summary)


def cartel_items(parsed: Any) -> list[Any]:
    return [e for e in parsed.entries if "cartel" in e.link or "29-cartel" in e.link]


@pytest.fixture
def config(feed_server: FixtureServer, write_config: ConfigWriter) -> Path:
    return write_config(
        sources(feed_server),
        feeds=[{"name": "all", "title": "Everything"}, {"name": "raw", "title": "Every copy", "dedupe": False}],
    )


def test_copies_from_several_sources_are_one_item_crediting_the_others(config: Path) -> None:
    assert poll(config) == 0
    parsed = atom(config)
    # 8 entries in: the cartel story three times (full, syndicated retitled copy, summary),
    # the rest news of its own, look-alikes included.
    assert len(parsed.entries) == 6
    [story] = cartel_items(parsed)
    assert story.source.title == "Wire Service"  # the earliest published copy is shown
    related = sorted(link.href for link in story.links if link.rel == "related")
    # The two copies, and Metro's own report of the event ("Mexico sends 29 prisoners north"),
    # listed as related coverage: its headline and the Daily's copy's share their weightiest
    # word ("Mexico"), which the key index offers on (stories.related.key_weights).
    copies = ["https://daily.example/world/29-cartel", "https://metro.example/s/cartel"]
    assert related == sorted([*copies, "https://metro.example/own"])
    content = text_of(story)
    assert "Also reported by:" in content
    assert '<a href="https://daily.example/world/29-cartel">Daily Example</a>' in content
    assert '<a href="https://metro.example/s/cartel">Metro Courier</a>' in content

    document = json.loads((config.parent / "out" / "all.json").read_text(encoding="utf-8"))
    item = next(i for i in document["items"] if i["url"] == "https://wire.example/cartel")
    assert [c["title"] for c in item["_also_reported_by"]] == ["Metro Courier", "Daily Example"]
    rss_story = next(
        e for e in feedparser.parse((config.parent / "out" / "all.rss").read_bytes()).entries if "cartel" in e.link
    )
    assert "Also reported by:" in rss_story.description


@pytest.mark.parametrize("order", list(itertools.permutations(["wire", "daily", "metro"])), ids="-".join)
def test_the_copies_are_one_item_whatever_order_they_arrive_in(
    feed_server: FixtureServer, write_config: ConfigWriter, order: tuple[str, ...]
) -> None:
    # The summary (metro) and the syndicated copy (daily) share too little to match each
    # other: stored before the full text, they are one story only once it bridges them.
    path = write_config(sources(feed_server), feeds=[{"name": "all", "title": "Everything"}])
    poll_one_source_at_a_time(path, order)
    assert poll(path) == 0
    [story] = cartel_items(atom(path))
    assert story.source.title == "Wire Service"
    assert sorted(link.href for link in story.links if link.rel == "related") == [
        "https://daily.example/world/29-cartel",
        "https://metro.example/own",  # Metro's own report of the event: related coverage, in every order
        "https://metro.example/s/cartel",
    ]


def test_look_alikes_stay_apart(config: Path) -> None:
    assert poll(config) == 0
    titles = sorted(e.title for e in atom(config).entries)
    assert "Brent crude closes at $71.42" in titles and "Brent crude closes at $71.45" in titles
    assert titles.count("Weekly roundup") == 2
    assert "Mexico sends 29 prisoners north" in titles  # another outlet's own article on the event
    assert all("Also reported by" not in text_of(e) for e in atom(config).entries if "cartel" not in e.link)


def test_a_feed_may_turn_dedupe_off(config: Path) -> None:
    assert poll(config) == 0
    raw = atom(config, "raw")
    assert len(raw.entries) == 8
    assert not any(link.rel == "related" for e in raw.entries for link in e.links)


def test_the_item_keeps_its_id_when_priority_changes_what_it_shows(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    config = write_config(sources(feed_server))
    assert poll(config) == 0
    [before] = cartel_items(atom(config))
    out = config.parent / "out"
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert poll(config) == 0  # republishing the same data changes no byte
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first

    config = write_config(sources(feed_server, daily=10))
    assert poll(config) == 0
    [after] = cartel_items(atom(config))
    assert after.id == before.id
    assert after.source.title == "Daily Example" and after.link == "https://daily.example/world/29-cartel"


def test_a_later_full_text_enriches_a_summary_without_a_new_item(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    feed_server.add("/metro.rss", rss("Metro Courier", "https://metro.example", METRO[:1]))
    metro = {"name": "metro", "url": feed_server.url("/metro.rss"), "title": "Metro Courier"}
    config = write_config([metro])
    assert poll(config) == 0
    [summary] = cartel_items(atom(config))
    assert "Treviño Morales" not in text_of(summary)

    # A second outlet with the full text arrives later, in another run: the index is on disk.
    feed_server.add("/wire.rss", rss("Wire Service", "https://wire.example", WIRE[:1]))
    wire = {"name": "wire", "url": feed_server.url("/wire.rss"), "title": "Wire Service"}
    config = write_config([metro, wire])
    assert poll(config) == 0
    [enriched] = cartel_items(atom(config))
    assert enriched.id == summary.id
    assert "Treviño Morales" in text_of(enriched)


def test_dupes_lists_groups_with_the_similarity_that_joined_them(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert poll(config) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "dupes", "--since", "1h"]) == 0
    printed = capsys.readouterr().out
    lines = printed.partition("\nRelated coverage")[0].splitlines()  # related groups follow the copies
    assert len([line for line in lines if not line.startswith(" ")]) == 1  # one story with copies
    copies = [line for line in lines if line.startswith("  ")]
    assert len(copies) == 3
    assert sum("first stored" in line for line in copies) == 1
    joined = [line for line in copies if "first stored" not in line]
    assert all(any(basis in line for basis in ("text", "contained", "title")) for line in joined)
    assert "Brent" not in printed and "roundup" not in printed


def test_dupes_heads_a_story_with_the_copy_the_feed_shows(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    # Wire's copy is stored first, Daily's is the one the feed shows (its priority): the
    # heading is the headline a reader saw, and names Daily.
    config = write_config(sources(feed_server, daily=10))
    poll_one_source_at_a_time(config, ["wire", "metro", "daily"])
    assert poll(config) == 0  # publishes
    [item] = cartel_items(atom(config))
    assert item.title == "Mexico hands 29 cartel figures to the U.S."
    capsys.readouterr()
    assert main(["--config", str(config), "dupes", "--since", "3650d"]) == 0
    lines = capsys.readouterr().out.partition("\nRelated coverage")[0].splitlines()
    assert [line for line in lines if not line.startswith(" ")] == [f"{item.title} (shown: daily)"]
    assert "first stored" in next(line for line in lines if line.startswith("  wire "))


def test_dedupe_disabled_stores_copies_as_stories_of_their_own(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    config = write_config(sources(feed_server), dedupe={"enabled": False})
    assert poll(config) == 0
    assert len(cartel_items(atom(config))) == 3


def test_dupes_sums_up_the_stories_a_feed_and_its_mirror_carry_at_one_url(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    # A mirror of the wire's feed: both of its stories are stored twice at one URL each. The
    # cartel story is folded with other outlets' copies too and stays listed; the Brent one
    # (wire and mirror only) is summed up in one line, and listed with --all.
    feed_server.add("/mirror.rss", rss("Wire Mirror", "https://wire.example", WIRE))
    mirror = {"name": "mirror", "url": feed_server.url("/mirror.rss"), "title": "Wire Mirror"}
    config = write_config([*sources(feed_server), mirror])
    assert poll(config) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "dupes", "--since", "3650d"]) == 0
    lines = capsys.readouterr().out.partition("\nRelated coverage")[0].splitlines()
    headings = [line for line in lines if not line.startswith(" ")]
    assert (
        headings[0] == "1 story carried at one URL by several sources, not listed (--all lists them): mirror + wire (1)"
    )
    assert len(headings) == 2 and "Brent" not in "\n".join(lines), lines
    cartel = [line for line in lines if line.startswith("  ")]
    assert {line.split()[0] for line in cartel} == {"wire", "mirror", "daily", "metro"}

    assert main(["--config", str(config), "dupes", "--since", "3650d", "--all"]) == 0
    lines = capsys.readouterr().out.partition("\nRelated coverage")[0].splitlines()
    assert "not listed" not in "\n".join(lines)
    assert any(line.startswith("Brent crude closes at $71.42") for line in lines), lines
    brent = [line for line in lines if "71.42" in line and line.startswith("  ")]
    assert len(brent) == 2 and "same URL" in brent[1], brent
