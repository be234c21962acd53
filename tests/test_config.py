"""Config loading: every problem reported as FILE:LINE: field.path: message."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

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
    assert problems(text) == ["cfg.yaml:10: sources[1].intervall: unknown field; did you mean 'interval'?"]
    far = GOOD.replace("    interval: 1h30m", "    poll_every: 1h30m")  # close to no field: no guess
    assert problems(far) == ["cfg.yaml:10: sources[1].poll_every: unknown field (check the spelling)"]


def test_bad_values_each_reported_with_their_line() -> None:
    text = GOOD.replace("45m", "soon").replace("https://two.example.com/atom", "ftp://two.example.com/")
    found = problems(text)
    assert len(found) == 2
    assert found[0].startswith("cfg.yaml:3: settings.default_interval: 'soon' is not a duration")
    assert found[1].startswith("cfg.yaml:9: sources[1].url: 'ftp://two.example.com/' is not an http")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - name: a\n    url: https://a.example/\n    tags: world\n",
         "cfg.yaml:4: sources[0].tags: expected a list ([a, b], or one '- item' a line); got 'world'"),
        ("sources:\n  name: a\n  url: https://a.example/\n",
         "cfg.yaml:1: sources: expected a list ([a, b], or one '- item' a line); got a mapping"),
        ("settings:\n  dedupe: yes\n",
         "cfg.yaml:2: settings.dedupe: expected a mapping ('field: value' lines, indented under it); got true"),
        ("sources:\n  - name: a\n    url: https://a.example/\n    priority: high\n",
         "cfg.yaml:4: sources[0].priority: expected a whole number; got 'high'"),
        ("sources:\n  - name: a\n    url: https://a.example/\n    adaptive: maybe\n",
         "cfg.yaml:4: sources[0].adaptive: expected true or false; got 'maybe'"),
        ("settings:\n  title: [a, b]\n", "cfg.yaml:2: settings.title: expected text; got a list"),
        ("feeds:\n  - name: all\n    max_items: 0\n", "cfg.yaml:3: feeds[0].max_items: must be at least 1; got 0"),
        ("settings:\n  jitter: 2\n", "cfg.yaml:2: settings.jitter: must be at most 0.5; got 2"),
        ("feeds:\n  - name: all\n    related: folded\n",
         "cfg.yaml:3: feeds[0].related: expected one of list, fold, off; got 'folded'; did you mean 'fold'?"),
        # A union's branches are one message, at the field (not at "full_text.bool").
        ("sources:\n  - name: a\n    url: https://a.example/\n    full_text: sometimes\n",
         "cfg.yaml:4: sources[0].full_text: expected true or false, or always; got 'sometimes'"),
        ("settings:\n  dedupe:\n    related:\n      treshold: 0.3\n",
         "cfg.yaml:4: settings.dedupe.related.treshold: unknown field; did you mean 'threshold'?"),
        ("feeds:\n  - name: all\n    include:\n      tag: [x]\n",
         "cfg.yaml:4: feeds[0].include.tag: unknown field; did you mean 'tags'?"),
        ("setings:\n  title: x\n", "cfg.yaml:1: setings: unknown field; did you mean 'settings'?"),
        # A field of another part of the config, written in the wrong place.
        ("settings:\n  interval: 10m\n",
         "cfg.yaml:2: settings.interval: unknown field here; interval is a field of sources[]"),
        ("feeds:\n  - name: all\n    tags: [x]\n",
         "cfg.yaml:3: feeds[0].tags: unknown field here;"
         " tags is a field of sources[], feeds[].include, feeds[].exclude"),
    ],
    ids=["list", "list, not mapping", "mapping", "integer", "boolean", "text", "at least", "at most", "option",
         "union", "nested field", "selection field", "top level", "misplaced", "misplaced, two places"],
)  # fmt: skip
def test_common_mistakes_are_said_plainly(text: str, expected: str) -> None:
    found = problems(text)
    assert found == [expected]
    assert not any(pydantic in found[0] for pydantic in ("Input should", "instance of", "Field required"))


def test_missing_required_field_points_at_its_parent() -> None:
    found = problems("sources:\n  - name: a\n    tags: [x]\n")
    assert found == ["cfg.yaml:2: sources[0].url: missing: it is required"]


def test_cross_references_are_checked_each_at_its_entry() -> None:
    text = GOOD.replace("include: {tags: [politics]}", "include: {sources: [three]}") + "  - name: politics\n"
    assert problems(text) == [
        "cfg.yaml:13: feeds[0].include.sources[0]: feed 'politics' includes unknown source 'three'",
        "cfg.yaml:14: feeds[1].name: feed name 'politics' is used twice",
    ]
    text = GOOD.replace("name: two", "name: one").replace("tags: [politics]}", "tags: [politics]}\n    exclude:")
    text += "      tags: [nosuchtag]\n"
    assert problems(text) == [
        "cfg.yaml:8: sources[1].name: source name 'one' is used twice",
        "cfg.yaml:15: feeds[0].exclude.tags[0]: feed 'politics' excludes tag 'nosuchtag' that no source has",
    ]


def test_problems_are_reported_in_the_order_of_their_lines() -> None:
    # pydantic reports in the order of the models' fields: sources after settings,
    # default_interval before jitter.
    text = (
        "sources:\n  - {name: a, url: 'ftp://a.example/'}\n"
        "settings:\n  jitter: 2\n  timeout: 0\n  default_interval: soon\n"
    )
    assert [p.split(": ")[0] for p in problems(text)] == ["cfg.yaml:2", "cfg.yaml:4", "cfg.yaml:5", "cfg.yaml:6"]


def test_zero_durations_are_refused_not_taken_for_the_default() -> None:
    text = GOOD.replace("interval: 1h30m", "interval: 0m").replace(
        "{tags: [politics]}", "{tags: [politics]}\n    max_age: 0s"
    )
    assert problems(text) == [
        "cfg.yaml:10: sources[1].interval: must be longer than 0 s",
        "cfg.yaml:14: feeds[0].max_age: must be longer than 0 s",
    ]
    assert problems(GOOD.replace("default_interval: 45m", "default_interval: 0")) == [
        "cfg.yaml:3: settings.default_interval: must be longer than 0 s"
    ]


def test_yaml_syntax_error_has_a_line() -> None:
    found = problems("sources:\n  - name: a\n\t url: x\n")
    # libyaml's wording (PyYAML's pure-Python parser says "found character '\\t' that cannot start any token").
    assert found == [
        "cfg.yaml:2: yaml: while scanning a plain scalar from column 11: "
        "found a tab character that violates indentation at line 3, column 1"
    ]


def test_an_unterminated_quote_is_reported_where_it_starts() -> None:
    found = problems(GOOD.replace("url: https://one.example.com/feed.xml", 'url: "https://one.example.com/feed.xml'))
    assert found == [
        "cfg.yaml:6: yaml: while scanning a quoted scalar from column 10: "
        "found unexpected end of stream at line 14, column 1"
    ]


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
    assert "ok: 2 sources, 1 feed " in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("name: two", "name: Two Words"))
    assert main(["--config", str(bad), "check"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:8: sources[1].name: a name is lowercase letters, digits, - and _" in err


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv("NEWSRIVER_CONFIG", str(path))
    assert config.resolve_path(None) == path
    assert main(["check"]) == 0


def test_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml"), "check"]) == 2
    assert f"{tmp_path / 'nope.yaml'}: no such config file (named by --config" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["run"], ["poll"], ["status"]])
def test_no_config_in_the_current_folder_says_where_it_looked_and_how_to_name_one(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSRIVER_CONFIG", raising=False)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"looked for config/newsriver.yaml in the current folder ({tmp_path / 'config/newsriver.yaml'})" in err
    assert "neither --config nor $NEWSRIVER_CONFIG" in err and f"newsriver --config PATH {command[0]}" in err
    assert not list(tmp_path.iterdir())  # nothing made on the way: no database, no output folder

    monkeypatch.setenv("NEWSRIVER_CONFIG", "elsewhere/river.yaml")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"elsewhere/river.yaml: no such config file (named by $NEWSRIVER_CONFIG; looked for {tmp_path}" in err


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


def test_durations_too_long_for_a_date_are_line_errors_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = GOOD.replace("default_interval: 45m", "timeout: .inf\n  deadline: .nan").replace(
        "interval: 1h30m", "interval: 99999999999w"
    )
    assert problems(text) == [
        "cfg.yaml:3: settings.timeout: inf is longer than 36,500 days",
        "cfg.yaml:4: settings.deadline: nan is not a duration like 90s, 15m, 2h or 7d",
        "cfg.yaml:11: sources[1].interval: '99999999999w' is longer than 36,500 days",
    ]
    path = tmp_path / "long.yaml"
    path.write_text(text)
    assert main(["--config", str(path), "check"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_an_alias_bomb_is_refused_quickly_with_its_line() -> None:
    # Nine lines whose aliases of aliases expand to 9**9 (387 million) values.
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for name, alias in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{alias}"] * 9) + "]")
    started = time.monotonic()
    found = problems("\n".join(lines) + "\nsources: []\n")
    assert time.monotonic() - started < 5
    assert len(found) == 1
    assert re.fullmatch(
        r"cfg\.yaml:[3-9]: yaml: aliases expand to more than 100,000 nodes; write the values out", found[0]
    )


def test_aliases_of_shared_defaults_still_load() -> None:
    # The first source's fields are every other source's defaults: 4,000 merged keys.
    first = "  - &first {name: s0, url: 'https://s0.example/', tags: [a, b, c], interval: 1h}\n"
    rest = "".join(f"  - {{<<: *first, name: s{i}, url: 'https://s{i}.example/'}}\n" for i in range(1, 2000))
    loaded = config.load_text(f"sources:\n{first}{rest}")
    assert len(loaded.sources) == 2000
    assert loaded.sources[-1].tags == ["a", "b", "c"]


# --- the validated-config cache (config/load.py's _Cache) ---------------------------------------

PRIVATE = GOOD.replace(
    "    interval: 1h30m\n", "    interval: 1h30m\n    auth: {basic: {username: reader, password: hunter2-secret}}\n"
)


def _load_in_a_new_process(path: Path, then: str = "") -> list[str]:
    """Loads ``path`` in a fresh interpreter (as each cron run of ``poll`` does); prints whether
    pydantic was imported (it is to validate) and ``then``'s lines."""
    code = (
        "import sys; from pathlib import Path; from newsriver.config import load; "
        "c = load.load(Path(sys.argv[1])); print('pydantic' in sys.modules); " + then
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_a_config_validated_once_is_read_back_without_validating(tmp_path: Path, own_cache_folder: Path) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text(PRIVATE)
    assert _load_in_a_new_process(path) == ["True"]  # validated, and cached
    (cached,) = (own_cache_folder / "newsriver").iterdir()
    assert cached.stat().st_mode & 0o777 == 0o600  # it holds what the config holds: the password
    # Read back: equal to the validated config, and pydantic not even imported.
    # Its settings too, anchored as load anchors them (not taken from the cached config).
    check = "p = Path(sys.argv[1]); print(c == load.anchored(load.load_text(p.read_text()), p.absolute().parent))"
    assert _load_in_a_new_process(path, check) == ["False", "True"]
    # What validating does beyond checking is done on a hit too: the source's secrets masked.
    masked = "from newsriver import redact; print(redact.text('failed: hunter2-secret'))"
    assert _load_in_a_new_process(path, masked) == ["False", "failed: ***"]


def test_an_edited_config_is_validated_again(tmp_path: Path, own_cache_folder: Path) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text(GOOD)
    assert _load_in_a_new_process(path) == ["True"]
    path.write_text(GOOD.replace("interval: 1h30m", "interval: 2h"))
    assert _load_in_a_new_process(path, "print(c.sources[1].interval)") == ["True", "2:00:00"]
    path.write_text(GOOD.replace("name: two", "name: Two Words"))  # an invalid edit is still refused
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "sources[1].name: a name is lowercase letters" in caught.value.problems[0]
    assert len(list((own_cache_folder / "newsriver").iterdir())) == 1  # one file per config, replaced


def test_a_config_naming_environment_variables_is_never_cached(
    tmp_path: Path, own_cache_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its values may be secrets kept out of files on purpose; and they change without the file."""
    monkeypatch.setenv("FEED_TOKEN", "s3cret-token-value")
    path = tmp_path / "newsriver.yaml"
    path.write_text("sources:\n  - {name: a, url: 'https://example.com/rss', auth: {bearer: '${FEED_TOKEN}'}}\n")
    assert _load_in_a_new_process(path) == ["True"]
    assert _load_in_a_new_process(path) == ["True"]
    assert not (own_cache_folder / "newsriver").exists()


def test_a_variable_spelt_by_a_yaml_escape_is_not_cached_either(
    tmp_path: Path, own_cache_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A double-quoted scalar's "\\x24{VAR}" is "${VAR}" once parsed, and is expanded."""
    path = tmp_path / "newsriver.yaml"
    path.write_text('sources:\n  - {name: a, url: "https://example.com/rss", auth: {bearer: "\\x24{FEED_TOKEN}"}}\n')
    monkeypatch.setenv("FEED_TOKEN", "first-token-value")
    assert config.load(path).sources[0].auth.bearer == "first-token-value"  # type: ignore[union-attr]
    monkeypatch.setenv("FEED_TOKEN", "second-token-value")
    assert config.load(path).sources[0].auth.bearer == "second-token-value"  # type: ignore[union-attr]
    cached = list(own_cache_folder.rglob("*"))
    assert not any(b"token-value" in f.read_bytes() for f in cached if f.is_file())


def test_a_relative_cache_folder_is_not_taken_from_where_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache holds the config's secrets: never in the working folder (an output folder,
    say) because $XDG_CACHE_HOME is relative. The XDG spec says to ignore such a value."""
    home, public = tmp_path / "home", tmp_path / "public"
    public.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", "cache")
    monkeypatch.chdir(public)
    path = tmp_path / "newsriver.yaml"
    path.write_text(PRIVATE)
    config.load(path)
    assert list(public.rglob("*")) == []
    assert len(list((home / ".cache" / "newsriver").iterdir())) == 1


def test_a_cache_file_naming_anything_but_the_config_types_is_refused(tmp_path: Path, own_cache_folder: Path) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text(GOOD)
    fresh = config.load(path)
    (cached,) = (own_cache_folder / "newsriver").iterdir()
    key = cached.read_bytes()[:32]  # the key is a sha256 digest, followed by the pickle
    ran = tmp_path / "ran"

    class Planted:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {ran}",))

    cached.write_bytes(key + pickle.dumps(Planted()))
    assert config.load(path) == fresh  # validated instead
    assert not ran.exists()
    assert cached.read_bytes()[:32] == key and b"system" not in cached.read_bytes()  # and written again
