"""A feed that dates nothing (heise's RDF 0.9): its entries are dated when first seen, and a
poll that first sees many at once (a first poll's backlog) counts as one publication in the
adaptive schedule, not as 60 (``schedule.publication_times``). Polled over HTTP on 127.0.0.1
into both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsriver.config import load as config_module
from newsriver.run.poll import poll_sources
from newsriver.store.store import Store

from .conftest import ConfigWriter, FixtureServer
from .test_fetch_faults import Middle

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def rdf(numbers: range) -> str:
    items = "".join(
        f"<item><title>Meldung {n}</title><link>https://heise.example/news/{n}.html</link></item>" for n in numbers
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://my.netscape.com/rdf/simple/0.9/">'
        "<channel><title>heise online</title><link>https://heise.example/</link>"
        "<description>News</description></channel>"
        f"{items}</rdf:RDF>"
    )


def test_an_undated_backlog_counts_as_one_publication(feed_server: FixtureServer, write_config: ConfigWriter) -> None:
    url = feed_server.add("/heise.rdf", rdf(range(60, 0, -1)))
    path = write_config([{"name": "heise", "url": url}], max_interval="7d")
    config = config_module.load(path)
    store = Store(config.settings.database)

    def poll(at: datetime) -> timedelta:
        poll_sources(config, store, clock=lambda: at, rng=Middle())
        next_poll = store.sources.rows()["heise"].next_poll
        assert next_poll is not None
        return next_poll - at

    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        poll(NOW)
        # Two days on, nothing new: one publication (the backlog) in the window, two days ago.
        # Counted as 60, the source was polled every 48 min (every 5 when the document was
        # read again: it dated all 60 anew).
        assert poll(NOW + timedelta(days=2)) == timedelta(days=2)
        # Three new undated entries four days on: a second publication, not 63 of them now.
        feed_server.add("/heise.rdf", rdf(range(63, 0, -1)))
        assert poll(NOW + timedelta(days=4)) == timedelta(days=2)
        assert store.sources.entry_counts()["heise"] == 63  # every entry kept, none twice
    finally:
        store.close()
