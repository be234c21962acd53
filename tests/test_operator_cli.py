"""The CLI as an operator meets it: pipes, relative paths, read-only commands, the usage line."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsriver.cli import _parser, main
from newsriver.run.outcome import Outcome
from newsriver.store.store import Store

from .conftest import FIXTURES, FixtureServer
from .processes import poll_on_a_terminal

REPO = Path(__file__).resolve().parents[1]


def test_status_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    config = tmp_path / "newsriver.yaml"
    sources = "".join(f"  - name: s{n}\n    url: https://s{n}.example.org/feed\n" for n in range(50))
    config.write_text(f"settings:\n  database: sqlite:///{tmp_path / 'db.sqlite'}\nsources:\n{sources}")
    Store(f"sqlite:///{tmp_path / 'db.sqlite'}").close()
    for command in ("status", "dupes"):
        reader, writer = os.pipe()
        os.close(reader)  # `| head` that has already read its lines
        try:
            done = subprocess.run(
                [sys.executable, "-m", "newsriver.cli", "--config", str(config), command],
                stdout=writer,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
            )
        finally:
            os.close(writer)
        assert done.returncode in (0, 141), done.stderr
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_relative_paths_resolve_against_the_config_folder(
    feed_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = feed_server.add("/wire.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    folder, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    config = folder / "newsriver.yaml"
    config.write_text(
        "settings:\n  database: sqlite:///var/newsriver.db\n  output_dir: feeds\n"
        f"sources:\n  - name: wire\n    url: {url}\n"
    )
    monkeypatch.chdir(elsewhere)
    assert main(["--config", str(config), "poll"]) == 0
    assert (folder / "var" / "newsriver.db").is_file() and (folder / "feeds" / "all.atom").is_file()
    assert list(elsewhere.iterdir()) == []
    capsys.readouterr()
    assert main(["--config", str(config), "status"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[:2] for row in rows] == [["wire", "ok"]]  # the poll's database, not a new one


@pytest.mark.parametrize("command", ["status", "dupes"])
def test_a_read_only_command_never_creates_a_database(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsriver.yaml"
    config.write_text("settings:\n  database: sqlite:///var/newsriver.db\nsources: []\n")
    assert main(["--config", str(config), command]) == 1
    database = tmp_path / "var" / "newsriver.db"
    assert capsys.readouterr().err == f"newsriver: no database at {database}: run `newsriver poll` first\n"
    assert not database.exists() and not database.parent.exists()


def test_a_duration_option_names_itself_and_the_form_it_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--config", str(tmp_path / "newsriver.yaml"), "dupes", "--since", "soon"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "newsriver dupes: error: argument --since: 'soon' is not a duration like 90s, 15m, 2h or 7d"
    )


def test_the_usage_line_in_the_readme_names_every_global_option() -> None:
    usage = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("`newsriver ["))
    options = {o for action in _parser()._actions for o in action.option_strings if o.startswith("--")}
    assert options - {"--help"} <= {word.strip("[]`") for word in usage.split()}
    docstring = sys.modules["newsriver.cli"].__doc__ or ""
    assert all(option in docstring for option in options - {"--help"})


def test_a_failing_source_is_a_warning_once_then_its_retries_are_info() -> None:
    first = Outcome("wire", "error", error="HTTP 500", errors=1)
    again = Outcome("wire", "error", error="HTTP 500", errors=2)
    assert first.level == logging.WARNING and again.level == logging.INFO
    assert Outcome("wire", "ok").level == logging.INFO


def test_poll_logs_a_first_failure_at_warning(
    feed_server: FixtureServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "newsriver.yaml"
    broken = feed_server.add("/broken.xml", FIXTURES / "broken.xml", content_type="text/plain")
    config.write_text(
        f"settings:\n  database: sqlite:///{tmp_path / 'db.sqlite'}\n  output_dir: {tmp_path / 'out'}\n"
        f"sources:\n  - name: broken\n    url: {broken}\n"
    )
    with caplog.at_level(logging.INFO, logger="newsriver"):
        main(["--config", str(config), "poll"])
        main(["--config", str(config), "poll"])
    levels = [r.levelno for r in caplog.records if r.getMessage().startswith("broken: error")]
    assert levels == [logging.WARNING, logging.INFO]


def test_the_etag_is_the_same_from_the_folder_and_from_the_database(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from newsriver.publish.serve import FeedServer
    from newsriver.store.coordination import Coordinator, RenderedDocuments

    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "all.atom").write_bytes(b"<feed>same bytes</feed>")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        Coordinator(store, "publisher").keep_rendered(folder, ["all.atom"], datetime.now(UTC))
        etags = []
        for files in (None, RenderedDocuments(store)):
            sent: dict[str, str] = {}
            server = FeedServer(folder, files=files)
            server({"PATH_INFO": "/all.atom", "REQUEST_METHOD": "GET"}, lambda _s, h, got=sent: got.update(h))
            etags.append(sent["ETag"])
    finally:
        store.close()
    assert etags[0] == etags[1]


def test_poll_by_source_and_tag_polls_only_those(
    feed_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsriver.yaml"
    wire = feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    daily = feed_server.add("/daily.atom", FIXTURES / "daily.atom")
    other = feed_server.add("/other.rss", FIXTURES / "wire.rss")
    config.write_text(
        f"settings:\n  database: sqlite:///{tmp_path / 'db.sqlite'}\n  output_dir: {tmp_path / 'out'}\nsources:\n"
        f"  - {{name: wire, url: '{wire}'}}\n  - {{name: daily, url: '{daily}', tags: [local]}}\n"
        f"  - {{name: other, url: '{other}'}}\n"
    )
    assert main(["--config", str(config), "poll", "--source", "wire", "--tag", "local"]) == 0
    assert "2 sources: 2 ok" in capsys.readouterr().out
    assert sorted(r.path for r in feed_server.requests) == ["/daily.atom", "/wire.rss"]
    assert main(["--config", str(config), "poll", "--source", "nope"]) == 1
    assert "no source named nope in the config" in capsys.readouterr().err


def test_a_log_line_is_not_glued_onto_the_progress_bar(feed_server: FixtureServer, tmp_path: Path) -> None:
    import re

    config = tmp_path / "newsriver.yaml"
    slow = feed_server.add("/slow.rss", FIXTURES / "wire.rss", delay=1.0)  # the bar is shown meanwhile
    broken = feed_server.add("/broken.xml", FIXTURES / "broken.xml", content_type="text/plain")
    config.write_text(
        f"settings:\n  database: sqlite:///{tmp_path / 'db.sqlite'}\n  output_dir: {tmp_path / 'out'}\nsources:\n"
        f"  - {{name: slow, url: '{slow}'}}\n  - {{name: broken, url: '{broken}'}}\n"
    )
    output = poll_on_a_terminal(str(config))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))
    assert "WARNING newsriver.run.poll: broken: error" in text
    for line in text.replace("\r\n", "\n").split("\n"):
        if "WARNING" in line:
            shown = line.split("\r")[-1]  # what a terminal shows of the line after carriage returns
            assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING", shown), repr(line)


def test_an_empty_feed_shows_when_it_was_first_published_never_the_epoch(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from newsriver.config.load import load_text
    from newsriver.publish.publisher import publish_feeds

    output = tmp_path / "out"
    config = load_text(
        f"settings:\n  output_dir: {output}\n  database: sqlite:///{tmp_path / 'db.sqlite'}\n"
        "sources: [{name: quiet, url: 'https://quiet.example/feed'}]\n"
        "feeds: [{name: all, archive: true}]\n"
    )
    store = Store(config.settings.database)
    first = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    try:
        publish_feeds(config, store, now=first)
        atom = (output / "all.atom").read_bytes()
        assert b"1970" not in atom and b"<updated>2026-03-01T12:00:00+00:00</updated>" in atom
        assert b"1970" not in (output / "all.rss").read_bytes()
        assert publish_feeds(config, store, now=first + timedelta(days=1)) == []  # the same bytes a day on
    finally:
        store.close()


def test_ids_per_feed_give_each_feed_its_own_stable_item_ids(feed_server: FixtureServer, tmp_path: Path) -> None:
    import feedparser

    url = feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    config = tmp_path / "newsriver.yaml"
    config.write_text(
        f"settings:\n  database: sqlite:///{tmp_path / 'db.sqlite'}\n  output_dir: out\n"
        f"sources: [{{name: wire, url: '{url}', tags: [pods]}}]\n"
        "feeds:\n  - {name: all}\n  - {name: pods, include: {tags: [pods]}}\n"
        "  - {name: mine, ids: per-feed}\n  - {name: theirs, ids: per-feed}\n"
    )
    assert main(["--config", str(config), "poll"]) == 0

    def ids(feed: str) -> list[str]:
        return [e.id for e in feedparser.parse((tmp_path / "out" / f"{feed}.atom").read_bytes()).entries]

    assert len(ids("all")) == 3 and ids("all") == ids("pods")  # one story, one id: the default
    assert not set(ids("mine")) & set(ids("all")) and not set(ids("mine")) & set(ids("theirs"))
    first = ids("mine")
    (tmp_path / "out" / "mine.atom").unlink()
    assert main(["--config", str(config), "poll"]) == 0
    assert ids("mine") == first  # stable


def test_a_source_moved_onto_another_sources_feed_is_warned_about_and_not_its_own_copy(
    feed_server: FixtureServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    wire = feed_server.add("/wire.rss", FIXTURES / "wire.rss")
    feed_server.add("/old.rss", b"", status=301, headers={"Location": wire})
    config = tmp_path / "newsriver.yaml"
    config.write_text(
        f"settings:\n  database: sqlite:///{tmp_path / 'db.sqlite'}\n  output_dir: out\n"
        f"sources:\n  - {{name: wire, url: '{wire}'}}\n  - {{name: old, url: '{feed_server.url('/old.rss')}'}}\n"
    )
    with caplog.at_level(logging.WARNING, logger="newsriver"):
        assert main(["--config", str(config), "poll"]) == 0
    same = f"wire and old poll the same feed {wire}: remove all but one from the config"
    assert same in caplog.messages
    for fmt in ("atom", "rss", "json"):
        assert b"Also reported by" not in (tmp_path / "out" / f"all.{fmt}").read_bytes(), fmt
    capsys.readouterr()
    assert main(["--config", str(config), "status"]) == 0
    assert same in capsys.readouterr().out
