"""Related coverage of short teasers through the whole pipeline: the corpus's two German
feeds (heise online's RDF, 60 entries, and Golem.de's RSS, 40, of 25-28 October 2018: a
headline and a sentence or two each) polled over HTTP into SQLite and PostgreSQL, as a
user's first run of newsriver on them stores them. Two product tests of one outlet, which
share only "One", "Test", German function words and topic tags, stay apart; the two outlets' reports
of one plant closing are grouped."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from newsriver.cli import main

from .conftest import CORPUS, ConfigWriter, FixtureServer, poll_one_source_at_a_time, skip_module_without_corpus

skip_module_without_corpus()

FEEDS = CORPUS / "feeds" / "miniflux" / "parser"
# heise's RDF 0.9 has no dates: the store dates its entries when it fetches them, today.
# Golem's are moved by one shift so that its newest are of the hours before today's fetch,
# as they were when heise's snapshot was taken (both within a window of each other).
SNAPSHOT = datetime(2018, 10, 28, 14, tzinfo=UTC)
_DATE = re.compile(r"<(pubDate|lastBuildDate)>([^<]+)</\1>")


def golem_now() -> bytes:
    shift = datetime.now(UTC) - SNAPSHOT
    text = (FEEDS / "encoding_ISO-8859-1.xml").read_bytes().decode("iso-8859-1")

    def moved(found: re.Match[str]) -> str:
        return f"<{found[1]}>{format_datetime(parsedate_to_datetime(found[2]) + shift)}</{found[1]}>"

    return _DATE.sub(moved, text).encode("iso-8859-1")


def related_titles(config: Path) -> dict[str, list[str]]:
    """Each item's title, and the titles its "Related coverage" lists (JSON Feed ``_related``)."""
    document = json.loads((config.parent / "out" / "all.json").read_bytes())
    return {item["title"]: [r["title"] for r in item.get("_related", [])] for item in document["items"]}


@pytest.mark.parametrize(
    "order", [None, ("heise", "golem"), ("golem", "heise")], ids=["together", "heise-first", "golem-first"]
)
def test_german_teasers_group_reports_of_one_event_and_not_two_product_tests(
    feed_server: FixtureServer, write_config: ConfigWriter, order: tuple[str, ...] | None
) -> None:
    sources: list[dict[str, Any]] = [
        {"name": "heise", "url": feed_server.add("/heise.rdf", FEEDS / "rdf_UTF8.xml"), "title": "heise online"},
        {"name": "golem", "url": feed_server.add("/golem.rss", golem_now()), "title": "Golem.de"},
    ]
    config = write_config(sources, feeds=[{"name": "all", "title": "Everything", "max_items": 200}])
    if order:  # each source in a save of its own, in this order: the frequencies each save reads differ
        poll_one_source_at_a_time(config, order)
    assert main(["--config", str(config), "poll"]) == 0
    related = related_titles(config)
    assert len(related) == 100
    # Four products' reports. Two were grouped on "für", "im", "als", "und" and "One"
    # (cosine 0.27): in a store of 100 German teasers each function word was as rare as a
    # product's name. Golem's teasers close with their topic tags ("(Xbox One, Microsoft)").
    products = {
        "Motorola One: Android-One-Smartphone für 299 Euro im Test",
        "Xbox One X im 4K-Test: Spaßzentrale für UHD-TVs",
        "Microsoft: PC-Spieleangebot des Xbox Game Pass wird erweitert",
        "Uniti One: Elektroauto für 15.000 Euro wird in Großbritannien gebaut",
    }
    assert {title: set(related[title]) & products for title in products} == {title: set() for title in products}
    assert related["Fujitsu schließt Werk in Augsburg"] == ["Augsburg: Fujitsu Deutschland macht alles dicht"]
    assert related["British-Airways-Hack: 185.000 weitere Kunden betroffen"] == [
        "Sicherheitslücke: Daten von 185.000 weiteren British-Airways-Kunden betroffen"
    ]
