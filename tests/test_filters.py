"""Keep/block and include/exclude rules as pure predicates over Articles."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from newsriver.config.load import load_text
from newsriver.config.schema import Config
from newsriver.errors import ConfigError
from newsriver.models import Author
from newsriver.stories.filters import cap_per_source, matches, shown, stored

from .factories import make_article

NOW = datetime(2026, 3, 1, tzinfo=UTC)
BASE = make_article(
    id="1",
    source="a",
    entry_key="k",
    title="Election results are in",
    text="Turnout was 61 percent.",
    authors=(Author(name="Ann Lee"),),
    published=NOW - timedelta(days=2),
    updated=NOW,
    first_seen=NOW,
    categories=("Politics", "Europe"),
)


def load(yaml_text: str) -> Config:
    return load_text(
        "sources:\n  - {name: a, url: 'http://a.example/', tags: [x]}\n  - {name: b, url: 'http://b.example/'}\n"
        + yaml_text
    )


def test_a_rule_matches_when_any_pattern_finds_its_field() -> None:
    rules = load("feeds:\n  - name: f\n    include: {title: '(?i)^sport', category: '^Europe$'}\n").feeds[0].include
    assert rules is not None and matches(rules, BASE)
    assert not matches(rules, replace(BASE, categories=("Politics",)))
    assert matches(load("feeds:\n  - {name: f, include: {author: 'Lee$'}}\n").feeds[0].include, BASE)  # type: ignore[arg-type]
    assert matches(load("feeds:\n  - {name: f, include: {content: '61 percent'}}\n").feeds[0].include, BASE)  # type: ignore[arg-type]


def test_feed_include_exclude_and_age() -> None:
    feed = load(
        "feeds:\n  - name: f\n    include: {title: '(?i)election'}\n"
        "    exclude: {category: Sponsored}\n    max_age: 7d\n"
    ).feeds[0]
    assert shown(feed, BASE, NOW)
    assert not shown(feed, replace(BASE, title="Weather"), NOW)
    assert not shown(feed, replace(BASE, categories=("Sponsored",)), NOW)
    assert not shown(feed, replace(BASE, published=NOW - timedelta(days=8)), NOW)


def test_exclude_by_source_and_tag_narrows_the_sources() -> None:
    loaded = load("feeds:\n  - {name: f, exclude: {tags: [x]}}\n  - {name: g, exclude: {sources: [b]}}\n")
    assert loaded.feed_sources(loaded.feeds[0]) == ["b"]
    assert loaded.feed_sources(loaded.feeds[1]) == ["a"]


def test_source_keep_and_block() -> None:
    keep_only = load_text("sources:\n  - {name: a, url: 'http://a/', keep: {title: Election}}\n").sources[0]
    assert stored(keep_only, BASE) and not stored(keep_only, replace(BASE, title="Weather"))
    block = load_text("sources:\n  - {name: a, url: 'http://a/', block: {category: '(?i)politics'}}\n").sources[0]
    assert not stored(block, BASE) and stored(block, replace(BASE, categories=()))
    plain = load_text("sources:\n  - {name: a, url: 'http://a/'}\n").sources[0]
    assert stored(plain, BASE)


def test_per_source_cap_keeps_order() -> None:
    items = [replace(BASE, id=str(n), source="a" if n % 3 else "b") for n in range(9)]
    assert [a.id for a in cap_per_source(items, 2, lambda a: a.source)] == ["0", "1", "2", "3"]
    assert len(list(cap_per_source(items, None, lambda a: a.source))) == 9


def test_invalid_regular_expression_is_a_config_error_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_text("sources:\n  - name: a\n    url: 'http://a/'\n    block:\n      title: '(unclosed'\n", "c.yaml")
    assert caught.value.problems[0].startswith(
        "c.yaml:5: sources[0].block.title: invalid regular expression '(unclosed'"
    )
