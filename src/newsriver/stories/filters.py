"""Which articles a source stores and a feed shows: pure predicates over Articles."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

from newsriver.config.schema import FeedConfig, Rule, SourceConfig
from newsriver.models import Article

T = TypeVar("T")


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def matches(rule: Rule, article: Article) -> bool:
    """True when any of the rule's patterns finds its field; a rule without patterns never matches."""
    fields = (
        (rule.title, (article.title,)),
        (rule.content, (article.text,)),
        (rule.author, tuple(a.name for a in article.authors)),
        (rule.category, article.categories),
    )
    return any(
        _compiled(pattern).search(value) is not None
        for pattern, values in fields
        if pattern is not None
        for value in values
    )


def stored(source: SourceConfig, article: Article) -> bool:
    """Source-level rules: whether an article is stored at all."""
    if source.keep is not None and source.keep.has_patterns and not matches(source.keep, article):
        return False
    return not (source.block is not None and matches(source.block, article))


def shown(feed: FeedConfig, article: Article, now: datetime) -> bool:
    """Feed-level text rules and age; sources and tags were chosen before, in the query."""
    if feed.max_age is not None and article.published < now - feed.max_age:
        return False
    if feed.include is not None and feed.include.has_patterns and not matches(feed.include, article):
        return False
    return not (feed.exclude is not None and matches(feed.exclude, article))


def cap_per_source(items: Iterable[T], limit: int | None, source: Callable[[T], str]) -> Iterator[T]:
    """At most ``limit`` items from any one source, in the order given (newest first)."""
    counts: dict[str, int] = {}
    for item in items:
        name = source(item)
        counts[name] = counts.get(name, 0) + 1
        if limit is None or counts[name] <= limit:
            yield item
