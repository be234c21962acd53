"""A published site for the page tests: two ordinary sources and a hostile one, over several
days, one feed with archives and a time zone, one empty feed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from newsriver.cli import main
from newsriver.config.load import load
from newsriver.publish.archive import Month
from newsriver.publish.publisher import publish_feeds
from newsriver.store.store import Store

from .conftest import FIXTURES, ConfigWriter, FixtureServer

# A title that would run if any page or the XSL view put it in as markup: it marks <body>.
PLANTED_TITLE = '<img src="x" onerror="document.body.dataset.pwned=1"><script>document.body.dataset.pwned=2</script>'
SCRIPT_TITLE = "<script>alert(1)</script>"

# (guid, title, pubDate, extra elements): newest first as a source lists them.
HOSTILE_ITEMS = [
    (
        "h1",
        SCRIPT_TITLE,
        "Sat, 01 Mar 2025 09:15:00 GMT",
        "<description>&lt;p&gt;A &lt;b&gt;bold&lt;/b&gt; claim.&lt;/p&gt;"
        '&lt;script&gt;document.body.dataset.pwned=3&lt;/script&gt;&lt;img src="https://hostile.example/c.png" '
        'alt="A chart of the claim" onerror="document.body.dataset.pwned=4"&gt;</description>'
        '<enclosure url="https://hostile.example/episode.mp3" type="audio/mpeg" length="1234"/>'
        "<author>ed@hostile.example (Ed Itor)</author>",
    ),
    ("h2", PLANTED_TITLE, "Fri, 28 Feb 2025 12:00:00 GMT", "<description>Planted.</description>"),
    (
        "h3",
        "Night owl story",
        # 03:00 UTC on the 27th is still the 26th in New York: the feed's days are New York's.
        "Thu, 27 Feb 2025 03:00:00 GMT",
        "<description>Late at night.</description>"
        '<enclosure url="https://hostile.example/photo.jpg" type="image/jpeg" length="10"/>',
    ),
]
PLANTED = {"h1": SCRIPT_TITLE, "h2": PLANTED_TITLE}
# all.html's items, newest first (max_items 5), and their days in New York
NEWEST_TITLES = [
    SCRIPT_TITLE,
    PLANTED_TITLE,
    "Mexico hands 29 cartel figures to the United States",
    "Port strike enters third week",
    "Central bank holds rates at 4.25%",
]
DAYS = ["Saturday 1 March 2025", "Friday 28 February 2025", "Thursday 27 February 2025"]


def hostile_rss() -> str:
    items = "".join(
        f"<item><title>{_escape(title)}</title><link>https://hostile.example/{guid}</link>"
        f"<guid>https://hostile.example/{guid}</guid><pubDate>{date}</pubDate>{extra}</item>"
        for guid, title, date, extra in HOSTILE_ITEMS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Hostile &lt;b&gt;Outlet&lt;/b&gt;</title><link>https://hostile.example/</link>"
        f"<description>x</description>{items}</channel></rss>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def publish_site(feed_server: FixtureServer, write_config: ConfigWriter, base_url: str, **settings: Any) -> Path:
    """Poll the three sources once; returns the config's path (the output is beside it in out/)."""
    feed_server.add("/wire.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    feed_server.add("/daily.atom", FIXTURES / "daily.atom", content_type="application/atom+xml")
    feed_server.add("/hostile.rss", hostile_rss(), content_type="application/rss+xml")
    config = write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss"), "tags": ["news"]},
            {"name": "daily", "url": feed_server.url("/daily.atom"), "tags": ["news"]},
            {"name": "hostile", "url": feed_server.url("/hostile.rss")},
        ],
        feeds=[
            {
                "name": "all",
                "title": "Everything",
                "description": "Every story from every source",
                "max_items": 5,
                "archive": True,
                "timezone": "America/New_York",
            },
            {"name": "quiet", "title": "Quiet", "include": {"title": "^nothing matches this$"}},
        ],
        base_url=base_url,
        title="River <Test>",
        **settings,
    )
    assert main(["--config", str(config), "poll"]) == 0
    plant_titles(config)
    return config


def plant_titles(config_path: Path) -> None:
    """Give two hostile stories titles that are markup, as stored, and publish again.

    Ingest strips tags from titles (``sanitize.to_text``), so no source can store these
    today; the pages must still show them as text should that ever change, or should a
    title reach the store another way.
    """
    config = load(config_path)
    engine = create_engine(config.settings.database)
    with engine.begin() as connection:
        for guid, title in PLANTED.items():
            connection.execute(
                text("UPDATE entries SET title = :title WHERE url = :url"),
                {"title": title, "url": f"https://hostile.example/{guid}"},
            )
    engine.dispose()
    store = Store(config.settings.database)
    try:
        publish_feeds(config, store)
    finally:
        store.close()


def archive_page(fmt: str = "html") -> str:
    """The path of the current month's archive page: the stories that left ``all``."""
    return f"all/archive/{Month.of(datetime.now(UTC))}.{fmt}"
