"""The whole pipeline through the CLI: YAML → poll → store → publish → re-parse."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest

from newsriver.cli import main

from .conftest import FIXTURES, ConfigWriter, FixtureServer
from .processes import poll_on_a_terminal

CARTEL = "https://news.example.org/world/cartel-extradition?id=5"


@pytest.fixture
def three_sources(feed_server: FixtureServer, write_config: ConfigWriter) -> Path:
    feed_server.add("/wire.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    feed_server.add("/daily.atom", FIXTURES / "daily.atom", content_type="application/atom+xml")
    feed_server.add("/broken.xml", FIXTURES / "broken.xml", content_type="text/plain")
    return write_config(
        [
            {"name": "wire", "url": feed_server.url("/wire.rss"), "title": "Wire Service", "tags": ["world"]},
            {"name": "daily", "url": feed_server.url("/daily.atom"), "tags": ["local", "world"]},
            {"name": "broken", "url": feed_server.url("/broken.xml")},
        ],
        feeds=[
            {"name": "all", "title": "Everything"},
            {"name": "local", "title": "Local", "include": {"tags": ["local"]}},
        ],
    )


def poll(config: Path, *extra: str) -> int:
    return main(["--config", str(config), "poll", *extra])


def test_poll_publishes_each_story_once_with_attribution(
    three_sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert poll(three_sources) == 0
    printed = capsys.readouterr().out
    assert "wire: new 3, updated 0" in printed
    assert "daily: new 2, updated 0" in printed
    assert "broken: error: not a feed" in printed
    assert "3 sources: 2 ok, 1 failed; 5 new" in printed

    out = three_sources.parent / "out"
    atom = feedparser.parse((out / "all.atom").read_bytes())
    rss = feedparser.parse((out / "all.rss").read_bytes())
    assert not atom.bozo, atom.get("bozo_exception")
    assert not rss.bozo, rss.get("bozo_exception")
    document = json.loads((out / "all.json").read_text(encoding="utf-8"))

    # Five entries in, four stories out: the cartel story came from both sources.
    for parsed in (atom, rss):
        assert len(parsed.entries) == 4
    assert len(document["items"]) == 4
    cartel = [e for e in atom.entries if "cartel-extradition" in e.link]
    assert len(cartel) == 1
    # The copy seen first (wire, polled in the same pass but stored first) is kept stably:
    # whichever it is, it carries its own source in all three formats.
    kept_source = cartel[0].source.title
    assert kept_source in ("Wire Service", "The Daily Example")
    rss_cartel = next(e for e in rss.entries if "cartel" in e.link)
    assert rss_cartel.source.title == kept_source
    assert rss_cartel.source.href.endswith((".rss", ".atom"))
    json_cartel = next(i for i in document["items"] if "cartel" in i["url"])
    assert json_cartel["_source"]["title"] == kept_source
    assert json_cartel["_source"]["name"] in ("wire", "daily")

    # Atom <source> is complete: id, title, link and updated (feedgen alone omits id/updated).
    assert cartel[0].source.id
    assert cartel[0].source.updated

    # Sanitized: no script, no event handler, no tracking pixel; relative links absolute.
    everything = (out / "all.atom").read_text(encoding="utf-8") + (out / "all.rss").read_text(encoding="utf-8")
    assert "alert(" not in everything and "onclick" not in everything and "tracker.example.com" not in everything
    bikes = next(e for e in atom.entries if "bike" in e.link)
    assert bikes.link == "https://daily.example.com/local/bike-lanes"
    assert 'href="https://daily.example.com/local/map"' in bikes.content[0].value

    # The filtered feed holds only the local source's stories.
    local = feedparser.parse((out / "local.atom").read_bytes())
    assert {e.source.title for e in local.entries} == {"The Daily Example"}
    assert len(local.entries) == 2


def test_second_poll_is_conditional_and_output_is_byte_identical(
    three_sources: Path, feed_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert poll(three_sources) == 0
    out = three_sources.parent / "out"
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()

    assert poll(three_sources) == 0
    printed = capsys.readouterr().out
    assert "wire: not modified" in printed
    assert "daily: not modified" in printed
    assert "0 files written" in printed
    assert feed_server.hits("/wire.rss")[-1].headers.get("If-None-Match")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_strict_poll_fails_when_a_source_failed(three_sources: Path) -> None:
    assert poll(three_sources, "--strict") == 1


def test_edited_entry_is_updated_in_place(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    original = (FIXTURES / "wire.rss").read_text(encoding="utf-8")
    feed_server.add("/wire.rss", original)
    config = write_config([{"name": "wire", "url": feed_server.url("/wire.rss")}])
    assert poll(config) == 0
    feed_server.add("/wire.rss", original.replace("left its key rate unchanged", "kept its key rate"))
    capsys.readouterr()
    assert poll(config) == 0
    assert "wire: new 0, updated 1" in capsys.readouterr().out
    atom = feedparser.parse((config.parent / "out" / "all.atom").read_bytes())
    rates = [e for e in atom.entries if "rates" in e.link]
    assert len(rates) == 1
    assert "kept its key rate" in rates[0].summary


def test_status_lists_every_source(three_sources: Path, capsys: pytest.CaptureFixture[str]) -> None:
    poll(three_sources)
    capsys.readouterr()
    assert main(["--config", str(three_sources), "status", "--json"]) == 0
    rows = {r["source"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["wire"]["status"] == "ok" and rows["wire"]["entries"] == 3
    assert rows["broken"]["status"] == "error" and rows["broken"]["errors"] == 1
    assert "not a feed" in rows["broken"]["last_error"]
    assert rows["broken"]["next_poll"] is not None


def test_a_truncated_feed_is_stored_with_a_warning_until_it_is_whole(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = (FIXTURES / "wire.rss").read_bytes()
    feed_server.add("/wire.rss", whole[: whole.index(b"<title>Central bank")])  # cut mid-document
    config = write_config([{"name": "wire", "url": feed_server.url("/wire.rss")}], public_status=True)
    out = config.parent / "out"

    def status() -> dict[str, object]:
        capsys.readouterr()
        assert main(["--config", str(config), "status", "--json"]) == 0
        [row] = json.loads(capsys.readouterr().out)
        return dict(row)

    assert poll(config, "--strict") == 0  # usable: not a failure
    printed = capsys.readouterr().out
    assert "wire: new 2, updated 0; warning: the document ends early, without its </rss> (cut off?)" in printed
    row = status()
    assert (row["status"], row["errors"], row["entries"]) == ("warning", 0, 2)  # not the item cut through
    assert str(row["warning"]).startswith("the document ends early") and row["last_error"] == ""
    assert '<span class="state warning">warning</span>' in (out / "status.html").read_text(encoding="utf-8")

    assert poll(config) == 0  # unchanged: still the broken document
    assert "wire: not modified\n" in capsys.readouterr().out
    assert status()["status"] == "warning"

    # A failed fetch shows the error; the same broken document served again brings the warning back.
    feed_server.add("/wire.rss", b"", status=500)
    poll(config)
    row = status()
    assert (row["status"], row["last_error"]) == ("error", "HTTP 500 Internal Server Error"), row
    feed_server.add("/wire.rss", whole[: whole.index(b"<title>Central bank")])
    assert main(["--config", str(config), "sources", "reset", "wire"]) == 0  # out of its backoff
    assert poll(config) == 0
    assert "wire: not modified\n" in capsys.readouterr().out  # the body it had: not parsed again
    row = status()
    assert (row["status"], row["last_error"]) == ("warning", ""), row
    assert str(row["warning"]).startswith("the document ends early")

    feed_server.add("/wire.rss", whole)
    assert poll(config) == 0
    row = status()
    assert (row["status"], row["last_error"], row["warning"], row["entries"]) == ("ok", "", "", 3), row
    assert '<span class="state ok">ok</span>' in (out / "status.html").read_text(encoding="utf-8")


def test_poll_on_a_terminal_shows_progress(three_sources: Path) -> None:
    output = poll_on_a_terminal(str(three_sources))
    text = output.decode("utf-8", "replace")
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert "polling" in text and "3/3" in text
    assert "wire: new 3, updated 0" in text and "3 sources: 2 ok, 1 failed" in text


def test_poll_into_a_pipe_prints_plain_lines(three_sources: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert poll(three_sources) == 0
    assert "\x1b[" not in capsys.readouterr().out
