"""The operator's commands: which of them need a config's secrets (those that send nothing
do not), and what they print (status columns, a poll's counts, resolved paths, a host named
once, the log level in any case); the config cache's bound."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from newsriver import redact
from newsriver.cli import _parser, main
from newsriver.config import load
from newsriver.errors import ConfigError, NewsriverError
from newsriver.ingest.fetch import cannot_connect
from newsriver.reports import columns
from newsriver.run.outcome import Outcome, summary
from newsriver.run.poll import poll_sources
from newsriver.store.store import Store

from .conftest import FIXTURES, FixtureServer
from .processes import on_a_terminal

SECRET_CONFIG = (
    "settings:\n  database: sqlite:///{db}\n"
    "sources:\n  - name: members\n    url: {url}\n"
    '    auth: {{basic: {{username: reader, password: "${{NR_TRIAL_PASSWORD}}"}}}}\n'
)


def test_the_log_level_is_taken_in_any_case() -> None:
    assert _parser().parse_args(["--log-level", "DEBUG", "status"]).log_level == "debug"


def test_a_host_that_is_an_address_is_named_once() -> None:
    assert cannot_connect("127.0.0.1", 8703, [("127.0.0.1", "Connection refused")]) == (
        "cannot connect to 127.0.0.1:8703: Connection refused"
    )
    # A name's addresses are still told apart: which one failed how.
    assert cannot_connect("feeds.example", 80, [("192.0.2.1", "timed out after 5 s"), ("::1", "refused")]) == (
        "cannot connect to feeds.example:80: 192.0.2.1: timed out after 5 s; ::1: refused"
    )


def test_a_poll_that_only_warned_does_not_say_all_ok() -> None:
    outcomes = [Outcome("cut", "ok", new=2, warning="the document ends early"), Outcome("fine", "not modified")]
    assert summary(outcomes, 0, Path("/out")).startswith("2 sources: 1 ok, 1 warning, 0 failed; 2 new")
    failed = [Outcome("down", "error", error="refused"), Outcome("off", "skipped", note="paused")]
    assert (
        summary(failed, 3, Path("/out"))
        == "2 sources: 0 ok, 1 failed, 1 skipped; 0 new, 0 updated; 3 files written to /out"
    )


def test_the_last_column_is_cut_only_to_a_given_width() -> None:
    error = "cannot connect to feeds.example:80: " + "192.0.2.1: timed out after 5 s; " * 5
    headers, rows = ["SOURCE", "LAST ERROR"], [["wire", error]]
    assert columns(headers, rows, None)[1] == f"wire    {error.rstrip()}"  # piped: all of it
    lines = columns(headers, rows, 60)
    assert all(len(line) <= 60 for line in lines) and lines[1].endswith("…")
    assert len(columns(headers, rows, 200)[1]) > 60  # a wide terminal shows more than 60


def test_the_worker_columns_line_up_with_their_header() -> None:
    header, row = columns(["WORKER", "ROLE", "LAST HEARTBEAT"], [["host-4121-a1b2c3", "worker", "5s ago"]], None)
    assert header.index("ROLE") == row.index("worker") and header.index("LAST") == row.index("5s ago")


def test_printed_paths_are_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "cfg" / "newsriver.yaml"
    config.write_text(
        "settings:\n  database: sqlite:///../out/db.sqlite\n  output_dir: ../out\n"
        "sources:\n  - {name: a, url: 'https://example.com/rss'}\n"
    )
    assert main(["--config", str(config), "check"]) == 0
    assert f"database sqlite:///{tmp_path.resolve()}/out/db.sqlite" in capsys.readouterr().out
    assert load.load(config).settings.output_dir == tmp_path.resolve() / "out"


def test_the_config_cache_keeps_only_the_newest_files(tmp_path: Path, own_cache_folder: Path) -> None:
    folder = own_cache_folder / "newsriver"
    folder.mkdir()
    old = [folder / f"config-{n:032x}.pickle" for n in range(load.CACHE_KEPT + 5)]
    for age, file in enumerate(old):
        file.write_bytes(b"stale")
        os.utime(file, (1_000_000_000 - age, 1_000_000_000 - age))  # old[0] the newest of them
    config = tmp_path / "newsriver.yaml"
    config.write_text("sources:\n  - {name: a, url: 'https://example.com/rss'}\n")
    load.load(config)
    kept = set(folder.iterdir())
    assert len(kept) == load.CACHE_KEPT
    assert set(old[: load.CACHE_KEPT - 1]) < kept  # the newest stay, the one just written too
    assert load.load(config) == load.load(config)


def test_evicted_is_all_but_the_newest() -> None:
    files = [(Path("a"), 3.0), (Path("b"), 1.0), (Path("c"), 2.0)]
    assert load.evicted(files, 2) == [Path("b")]
    assert load.evicted(files, 16) == []


def test_commands_that_send_nothing_take_a_config_whose_secret_is_unset(
    feed_server: FixtureServer,
    tmp_path: Path,
    own_cache_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("NR_TRIAL_PASSWORD", raising=False)
    url = feed_server.add("/members.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    db = tmp_path / "db.sqlite"
    config = tmp_path / "newsriver.yaml"
    config.write_text(SECRET_CONFIG.format(db=db, url=url))
    Store(f"sqlite:///{db}").close()
    unset = "environment variable ${NR_TRIAL_PASSWORD} is not set"

    # Fetching commands refuse, with the message they always gave, and fetch nothing.
    for command in (["poll"], ["run"]):
        assert main(["--config", str(config), *command]) == 2
        assert unset in capsys.readouterr().err
    assert feed_server.requests == []

    # The read-only ones go on, saying what is unset (check too: a warning, see the README).
    for command in (["status"], ["status", "--json"], ["dupes"], ["check"]):
        assert main(["--config", str(config), *command]) == 0, command
        printed = capsys.readouterr()
        assert f"{unset}: {command[0]} fetches nothing" in printed.err
        assert "members" in printed.out or command[0] in ("dupes", "check")
        if command == ["check"]:  # not a plain "ok" beside the warning
            assert ": valid, but poll and run refuse it until ${NR_TRIAL_PASSWORD} is set:" in printed.out
        assert "newsriver-unset" not in printed.out + printed.err
    assert feed_server.requests == []
    # The placeholder prints masked wherever it would show, and was never cached.
    assert redact.text(f"failed: {load.unset_placeholder('NR_TRIAL_PASSWORD')}") == "failed: ***"
    assert not (own_cache_folder / "newsriver").exists()

    # With the variable set, poll sends it.
    monkeypatch.setenv("NR_TRIAL_PASSWORD", "the-real-password")
    assert main(["--config", str(config), "poll"]) == 0
    assert feed_server.requests


def test_check_names_every_unset_variable_in_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """stdout's summary says which variables, whatever became of stderr's lines."""
    for name in ("NR_TRIAL_USER", "NR_TRIAL_PASSWORD", "NR_TRIAL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NR_TRIAL_TOKEN", "set")
    config = tmp_path / "newsriver.yaml"
    config.write_text(
        f"settings:\n  database: sqlite:///{tmp_path / 'db.sqlite'}\n"
        "sources:\n  - name: members\n    url: 'https://example.com/rss?token=${NR_TRIAL_TOKEN}'\n"
        '    auth: {basic: {username: "${NR_TRIAL_USER}", password: "${NR_TRIAL_PASSWORD}"}}\n'
    )
    assert main(["--config", str(config), "check"]) == 0
    printed = capsys.readouterr().out
    assert ": valid, but poll and run refuse it until ${NR_TRIAL_PASSWORD}, ${NR_TRIAL_USER} are set:" in printed


def test_a_setting_s_unset_variable_is_refused_even_by_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database URL's password would be sent, to the database, by status itself."""
    monkeypatch.delenv("NR_TRIAL_PASSWORD", raising=False)
    config = tmp_path / "newsriver.yaml"
    config.write_text(
        "settings:\n  database: 'postgresql+psycopg://u:${NR_TRIAL_PASSWORD}@127.0.0.1:5432/x'\n"
        "sources:\n  - {name: a, url: 'https://example.com/rss'}\n"
    )
    unset: list[str] = []
    with pytest.raises(ConfigError, match=r"settings.database: environment variable \$\{NR_TRIAL_PASSWORD\}"):
        load.load(config, unset)
    assert main(["--config", str(config), "status"]) == 2


def _status_on(config: Path, terminal: bool) -> str:
    """``newsriver status``'s output, written to a pipe or to a terminal 100 columns wide."""
    command = [sys.executable, "-m", "newsriver.cli", "--config", str(config), "status"]
    if terminal:
        return on_a_terminal(command, stderr=False).decode().replace("\r\n", "\n")
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=True).stdout


def test_status_shows_the_whole_error_piped_and_fits_a_terminal(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "newsriver.yaml"
    config.write_text(
        f"settings:\n  database: '{database_url}'\nsources:\n  - {{name: a, url: 'https://example.com/rss'}}\n"
    )
    error = "cannot connect to feeds.example:80: " + "; ".join(f"192.0.2.{n}: timed out after 5 s" for n in range(6))
    store = Store(database_url)
    try:
        store.sources.sync([("a", "https://example.com/rss")])
        with store.engine.begin() as db:
            db.execute(text("UPDATE sources SET status = 'error', errors = 1, last_error = :e"), {"e": error})
    finally:
        store.close()
    assert error in _status_on(config, terminal=False)
    shown = _status_on(config, terminal=True).splitlines()
    assert shown and all(len(line) <= 100 for line in shown) and shown[1].endswith("…")


def test_a_config_holding_a_placeholder_never_polls(
    feed_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever calls poll_sources with it (not the CLI, which refuses first): nothing is sent."""
    monkeypatch.delenv("NR_TRIAL_PASSWORD", raising=False)
    url = feed_server.add("/members.rss", FIXTURES / "wire.rss", content_type="application/rss+xml")
    config_file = tmp_path / "newsriver.yaml"
    config_file.write_text(SECRET_CONFIG.format(db=tmp_path / "db.sqlite", url=url))
    unset: list[str] = []
    config = load.load(config_file, unset)
    assert len(unset) == 1 and load.holds_a_placeholder(config)
    assert load.unset_variables(config) == ["NR_TRIAL_PASSWORD"]
    store = Store(config.settings.database)
    try:
        with pytest.raises(NewsriverError, match="loaded without its secrets"):
            poll_sources(config, store)
    finally:
        store.close()
    assert feed_server.requests == []


def test_an_unset_variable_is_not_named_for_another_whose_name_it_begins(tmp_path: Path) -> None:
    from newsriver.config.load import load, unset_variables

    config = tmp_path / "newsriver.yaml"
    for names in (["NR_TOKEN"], ["NR_TOKEN_B"]):  # one process: the first load's placeholder is remembered
        sources = "".join(
            f"  - {{name: s{i}, url: 'https://example.org/{i}.rss', auth: {{bearer: '${{{n}}}'}}}}\n"
            for i, n in enumerate(names)
        )
        config.write_text(f"sources:\n{sources}feeds:\n  - name: all\n")
        assert unset_variables(load(config, [])) == names
