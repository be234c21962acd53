"""Podcast sources keep their itunes:* metadata through the store into the combined feeds."""

from __future__ import annotations

import json

import feedparser
import pytest
from lxml import etree

from newsriver.cli import main
from newsriver.ingest import parse_feedparser
from newsriver.ingest.parse import parse
from newsriver.ingest.podcast import duration_seconds
from newsriver.models import Podcast

from .conftest import FIXTURES, ConfigWriter, FixtureServer
from .feedcheck import format_problems

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
EPISODE = Podcast(duration=3723, explicit=True, season=2, episode=7, episode_type="full")


def test_both_parsers_read_the_same_podcast_metadata() -> None:
    body = (FIXTURES / "podcast.rss").read_bytes()
    fast = parse(body, "https://pod.example/feed").entries[0]
    slow = parse_feedparser.entry_of(feedparser.parse(body).entries[0])
    assert fast.podcast == slow.podcast == EPISODE


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("3723", 3723), ("62:03", 3723), ("1:02:03", 3723), ("1:02:03.5", 3723), ("", None), ("soon", None)],
)
def test_durations(written: str, seconds: int | None) -> None:
    assert duration_seconds(written) == seconds


def test_a_podcast_poll_publishes_its_itunes_metadata(feed_server: FixtureServer, write_config: ConfigWriter) -> None:
    config = write_config([{"name": "pod", "url": feed_server.add("/pod.rss", FIXTURES / "podcast.rss")}])
    assert main(["--config", str(config), "poll"]) == 0
    out = config.parent / "out"
    rss = (out / "all.rss").read_bytes()
    assert format_problems("rss", rss, "http://127.0.0.1:8080/all.rss") == []
    item = etree.fromstring(rss).find("channel/item")
    found = {etree.QName(e).localname: e.text or e.get("href") for e in item if etree.QName(e).namespace == ITUNES}
    assert found == {
        "duration": "3723",
        "image": "https://pod.example/1.jpg",
        "explicit": "true",
        "season": "2",
        "episode": "7",
        "episodeType": "full",
    }
    attachment = json.loads((out / "all.json").read_bytes())["items"][0]["attachments"][0]
    assert attachment["duration_in_seconds"] == 3723
    assert b"itunes" not in (out / "all.atom").read_bytes()


def test_a_feed_without_podcasts_does_not_declare_the_namespace(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    config = write_config([{"name": "wire", "url": feed_server.add("/wire.rss", FIXTURES / "wire.rss")}])
    assert main(["--config", str(config), "poll"]) == 0
    assert b"itunes" not in (config.parent / "out" / "all.rss").read_bytes()
