"""A poll parses in worker processes: what it stores must be what parsing in the
polling process gives, field for field."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from newsriver.config import load as config_module
from newsriver.ingest.digest import digest
from newsriver.run.poll import poll_sources
from newsriver.store.store import Store

from .conftest import CORPUS, FIXTURES, ConfigWriter, FixtureServer, needs_corpus

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
# Real feeds of both formats and several encodings, plus the suite's own fixtures.
DOCUMENTS = (
    sorted((CORPUS / "feeds" / "feed-rs" / "rss2").glob("rss_2.0_*.xml"))[:12]
    + sorted((CORPUS / "feeds" / "feed-rs" / "atom").glob("*.xml"))[:6]
)
DOCUMENTS += [FIXTURES / "wire.rss", FIXTURES / "daily.atom"]


def _children() -> set[str]:
    """The command lines of this process's child processes."""
    found = set()
    for task in os.listdir("/proc/self/task"):
        try:
            pids = Path(f"/proc/self/task/{task}/children").read_text().split()
        except OSError:  # the thread ended since the listing; its children moved to another
            continue
        for pid in pids:
            try:
                found.add(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return found


@needs_corpus
def test_a_poll_parsed_in_worker_processes_stores_what_parsing_here_gives(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    urls = {f"s{i:02d}": feed_server.add(f"/{i}/{path.name}", path) for i, path in enumerate(DOCUMENTS)}
    config = config_module.load(write_config([{"name": name, "url": url} for name, url in urls.items()]))
    store = Store(config.settings.database)
    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        outcomes = poll_sources(config, store, clock=lambda: NOW)
        assert sorted(o.result for o in outcomes) == ["ok"] * len(DOCUMENTS), [o.line() for o in outcomes]
        assert any("forkserver" in command for command in _children()), "no worker process was started"
        for cfg, path in zip(config.sources, DOCUMENTS, strict=True):
            body = path.read_bytes()
            expected = digest(body, urls[cfg.name], "", cfg, NOW, near=True).articles
            stored = {a.entry_key: a for a in _stored(store, cfg.name)}
            assert sorted(stored) == sorted(a.entry_key for a in expected), path.name
            for article in expected:
                # The stored row is the parsed article, but for the story it joined.
                assert stored[article.entry_key] == article, (path.name, article.entry_key)
    finally:
        store.close()


def _stored(store: Store, source: str) -> list[object]:
    return [story.item for story in store.selection.stories([source], 10_000, fold=False)]
