"""Config loading: every problem reported as FILE:LINE: field.path: message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from newsriver.cli import main
from newsriver.config import load as config
from newsriver.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
settings:
  database: sqlite:///var/test.db
  default_interval: 45m
sources:
  - name: one
    url: https://one.example.com/feed.xml
    tags: [politics]
  - name: two
    url: https://two.example.com/atom
    interval: 1h30m
feeds:
  - name: politics
    include: {tags: [politics]}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.load_text(text, "cfg.yaml")
    return caught.value.problems


def test_bundled_example_config_is_valid() -> None:
    loaded = config.load(REPO / "config" / "newsriver.yaml")
    assert len(loaded.sources) >= 5
    assert loaded.settings.listen == "127.0.0.1:8080"


def test_durations_defaults_and_selection() -> None:
    loaded = config.load_text(GOOD)
    assert loaded.settings.default_interval == timedelta(minutes=45)
    assert loaded.interval(loaded.source("one")) == timedelta(minutes=45)
    assert loaded.interval(loaded.source("two")) == timedelta(hours=1, minutes=30)
    assert loaded.feed_sources(loaded.feeds[0]) == ["one"]
    assert loaded.settings.base_url == "http://127.0.0.1:8080/"


def test_feeds_default_to_one_feed_of_everything() -> None:
    loaded = config.load_text("sources:\n  - {name: a, url: 'http://a.example/'}\n")
    assert [f.name for f in loaded.feeds] == ["all"]
    assert loaded.feed_sources(loaded.feeds[0]) == ["a"]


def test_unknown_key_names_file_line_and_field() -> None:
    text = GOOD.replace("    interval: 1h30m", "    intervall: 1h30m")
    assert problems(text) == ["cfg.yaml:10: sources[1].intervall: unknown field (check the spelling)"]


def test_bad_values_each_reported_with_their_line() -> None:
    text = GOOD.replace("45m", "soon").replace("https://two.example.com/atom", "ftp://two.example.com/")
    found = problems(text)
    assert len(found) == 2
    assert found[0].startswith("cfg.yaml:3: settings.default_interval: 'soon' is not a duration")
    assert found[1].startswith("cfg.yaml:9: sources[1].url: 'ftp://two.example.com/' is not an http")


def test_missing_required_field_points_at_its_parent() -> None:
    found = problems("sources:\n  - name: a\n    tags: [x]\n")
    assert found == ["cfg.yaml:2: sources[0].url: Field required"]


def test_cross_references_are_checked() -> None:
    text = GOOD.replace("include: {tags: [politics]}", "include: {sources: [three]}") + "  - name: politics\n"
    found = problems(text)
    assert len(found) == 1
    assert "feed name 'politics' is used twice" in found[0]
    assert "unknown source 'three'" in found[0]


def test_yaml_syntax_error_has_a_line() -> None:
    found = problems("sources:\n  - name: a\n\t url: x\n")
    # libyaml's wording (PyYAML's pure-Python parser says "found character '\\t' that cannot start any token").
    assert found == ["cfg.yaml:3: yaml: found a tab character that violates indentation"]


def test_environment_variables_expand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWS_HOST", "news.example.org")
    loaded = config.load_text(
        "settings: {database: '${DB_URL:-sqlite:///x.db}'}\nsources:\n  - {name: a, url: 'https://${NEWS_HOST}/rss'}\n"
    )
    assert loaded.sources[0].url == "https://news.example.org/rss"
    assert loaded.settings.database == "sqlite:///x.db"


def test_unset_environment_variable_is_an_error() -> None:
    found = problems("sources:\n  - name: a\n    url: 'https://${NO_SUCH_VAR_X}/rss'\n")
    assert found[0] == "cfg.yaml:3: sources[0].url: environment variable ${NO_SUCH_VAR_X} is not set"


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["--config", str(good), "check"]) == 0
    assert "ok: 2 sources, 1 feeds" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("name: two", "name: Two Words"))
    assert main(["--config", str(bad), "check"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:8: sources[1].name: String should match pattern" in err


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("NEWSRIVER_CONFIG", str(path))
    assert config.resolve_path(None) == path
    assert main(["check"]) == 0


def test_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml"), "check"]) == 2
    assert "nope.yaml: cannot read" in capsys.readouterr().err


def test_polling_settings_defaults_and_bounds() -> None:
    loaded = config.load_text(GOOD)
    settings = loaded.settings
    assert (settings.min_interval, settings.max_interval) == (timedelta(minutes=5), timedelta(hours=24))
    assert (settings.adaptive, settings.jitter, settings.host_concurrency) == (True, 0.1, 2)
    assert (settings.connect_timeout, settings.timeout) == (timedelta(seconds=10), timedelta(seconds=30))
    assert loaded.sources[0].adaptive is None
    bad = GOOD.replace(
        "  default_interval: 45m\n", "  default_interval: 45m\n  min_interval: 2d\n  deadline: 0\n  jitter: 2\n"
    )
    found = problems(bad)
    assert "cfg.yaml:5: settings.deadline: must be longer than 0 s" in found
    assert any(p.startswith("cfg.yaml:6: settings.jitter:") for p in found)
    assert "cfg.yaml:1: settings: min_interval is longer than max_interval" in problems(
        GOOD.replace("  default_interval: 45m\n", "  default_interval: 45m\n  min_interval: 2d\n")
    )


def test_the_readme_configuration_reference_is_a_valid_config() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Configuration reference", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = config.load_text(block, "README.md")
    assert loaded.sources[0].keep is not None and loaded.feeds[0].archive
