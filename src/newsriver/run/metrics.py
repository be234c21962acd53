"""Prometheus metrics of the service, served at ``/metrics`` by the built-in server."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsriver.run.outcome import Outcome

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True, slots=True)
class SourceFigures:
    """One source's state, as an alert reads it."""

    name: str
    last_success: datetime | None
    errors: int  # failures in a row
    entries: int  # stored now


class _PerSource(Collector):
    """Per-source series, read from the database at each scrape: with many workers, each
    serves every source's state, not only what its own fetches saw."""

    def __init__(self, figures: Callable[[], Sequence[SourceFigures]]) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "newsriver_source_last_success_timestamp_seconds",
            "Unix time of the source's last successful fetch (absent before the first)",
            labels=["source"],
        )
        errors = GaugeMetricFamily(
            "newsriver_source_consecutive_errors", "The source's failed fetches in a row", labels=["source"]
        )
        entries = GaugeMetricFamily("newsriver_source_entries", "Entries stored for the source", labels=["source"])
        for source in self._figures():
            if source.last_success is not None:
                success.add_metric([source.name], source.last_success.timestamp())
            errors.add_metric([source.name], source.errors)
            entries.add_metric([source.name], source.entries)
        yield from (success, errors, entries)


class Metrics:
    """One registry per service, so tests and embedded uses do not share global state."""

    def __init__(self, sources: Callable[[], Sequence[SourceFigures]] | None = None) -> None:
        self.registry = CollectorRegistry()
        if sources is not None:
            self.registry.register(_PerSource(sources))
        self.fetches = Counter("newsriver_fetches", "Source fetches by result", ["result"], registry=self.registry)
        self.fetch_duration = Histogram(
            "newsriver_fetch_duration_seconds",
            "Time to fetch, parse and store one source",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.entries = Counter(
            "newsriver_entries_ingested", "Entries stored, new or updated", ["kind"], registry=self.registry
        )
        self.duplicates = Counter(
            "newsriver_duplicates_merged", "Entries folded into a story another source reported", registry=self.registry
        )
        self.publish_duration = Histogram(
            "newsriver_publish_duration_seconds",
            "Time to render and write the output folder",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.sources_in_error = Gauge(
            "newsriver_sources_in_error", "Sources whose last fetch failed", registry=self.registry
        )
        self.sources_warning = Gauge(
            "newsriver_sources_warning",
            "Sources whose last document lost entries (cut short, unreadable), stored all the same",
            registry=self.registry,
        )
        self.last_publish = Gauge(
            "newsriver_last_publish_timestamp_seconds",
            "Unix time of the last successful publish",
            registry=self.registry,
        )
        self.full_text_pages = Gauge(
            "newsriver_full_text_pages",
            "Article pages of full_text sources: fetched, extracted, refused (robots.txt), failed",
            ["source", "result"],
            registry=self.registry,
        )
        for result in ("ok", "not modified", "error"):
            self.fetches.labels(result)  # present from the start, so rate() has a baseline
        for kind in ("new", "updated"):
            self.entries.labels(kind)

    def observe(self, outcome: Outcome) -> None:
        self.fetches.labels(outcome.result).inc()
        self.fetch_duration.observe(outcome.seconds)
        self.entries.labels("new").inc(outcome.new)
        self.entries.labels("updated").inc(outcome.updated)

    def full_text(self, counts: dict[str, dict[str, int]]) -> None:
        """The page counts of ``full_text`` sources (``store.full_text.counts``)."""
        for source, tally in counts.items():
            for result, n in tally.items():
                self.full_text_pages.labels(source, result).set(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
