"""`newsriver poll` renders nothing when nothing the output shows changed, and everything otherwise."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, event

from newsriver.cli import main
from newsriver.store.entries import ENTRY_ROW
from newsriver.store.sql import Sql

from .conftest import FIXTURES, ConfigWriter, FixtureServer


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL the store reads with while the test runs (the CLI opens its own store): at the
    driver (``store.sql``) and through any SQLAlchemy engine."""
    seen: list[str] = []
    rows = Sql.rows

    def read(self: Sql, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        seen.append(statement)
        return rows(self, statement, params)

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    monkeypatch.setattr(Sql, "rows", read)
    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def rendered(statements: list[str]) -> bool:
    """Whether stories were read for rendering: only rendering reads whole entries."""
    return any(s.startswith(f"SELECT {ENTRY_ROW} FROM entries") for s in statements)


@pytest.fixture
def two_sources(feed_server: FixtureServer, write_config: ConfigWriter) -> Path:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    feed_server.add("/daily.atom", FIXTURES / "daily.atom", content_type="application/atom+xml")
    return write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss")},
            {"name": "daily", "url": feed_server.url("/daily.atom")},
        ],
        feeds=[{"name": "all", "title": "Everything"}],
    )


def poll(config: Path) -> int:
    return main(["--config", str(config), "poll"])


def test_poll_that_changed_nothing_renders_nothing(
    two_sources: Path, statements: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert poll(two_sources) == 0
    assert rendered(statements)
    out = two_sources.parent / "out"
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    statements.clear()
    capsys.readouterr()

    assert poll(two_sources) == 0  # both sources answer 304
    assert "wire: not modified" in capsys.readouterr().out
    assert not rendered(statements)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_a_deleted_output_file_is_written_again(two_sources: Path) -> None:
    assert poll(two_sources) == 0
    atom = two_sources.parent / "out" / "all.atom"
    written = atom.read_bytes()
    atom.unlink()
    assert poll(two_sources) == 0
    assert atom.read_bytes() == written


def test_a_changed_config_is_published(two_sources: Path, statements: list[str]) -> None:
    assert poll(two_sources) == 0
    document = yaml.safe_load(two_sources.read_text(encoding="utf-8"))
    document["feeds"][0]["title"] = "Every story"
    two_sources.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    statements.clear()
    assert poll(two_sources) == 0
    assert rendered(statements)
    assert "Every story" in (two_sources.parent / "out" / "index.html").read_text(encoding="utf-8")


def test_a_source_starting_to_fail_is_published(two_sources: Path, feed_server: FixtureServer) -> None:
    # Source health is on status.html, and only when the operator makes it public (issue 16).
    document = yaml.safe_load(two_sources.read_text(encoding="utf-8"))
    document["settings"]["public_status"] = True
    two_sources.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    assert poll(two_sources) == 0
    status = two_sources.parent / "out" / "status.html"
    assert "failing" not in status.read_text(encoding="utf-8")
    feed_server.add("/wire.rss", b"", status=500)
    assert poll(two_sources) == 0
    assert "failing" in status.read_text(encoding="utf-8")


def test_a_new_entry_is_published(two_sources: Path, feed_server: FixtureServer) -> None:
    assert poll(two_sources) == 0
    original = (FIXTURES / "wire.rss").read_text(encoding="utf-8")
    item = original.index("<item>")
    extra = (
        "<item><title>A story that came later</title><link>https://wire.example.com/later</link>"
        "<guid>https://wire.example.com/later</guid><description>Later.</description></item>"
    )
    feed_server.add("/wire.rss", original[:item] + extra + original[item:], content_type="application/rss+xml")
    assert poll(two_sources) == 0
    assert "A story that came later" in (two_sources.parent / "out" / "all.atom").read_text(encoding="utf-8")


def test_a_feed_with_max_age_is_rendered_on_every_poll(
    feed_server: FixtureServer, write_config: ConfigWriter, statements: list[str]
) -> None:
    # What it shows changes with the clock alone: its stories age out.
    feed_server.add("/wire.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    config = write_config(
        [{"name": "wire", "url": feed_server.url("/wire.rss")}],
        feeds=[{"name": "all", "title": "Everything", "max_age": "3650d"}],
    )
    assert poll(config) == 0
    statements.clear()
    assert poll(config) == 0
    assert rendered(statements)
