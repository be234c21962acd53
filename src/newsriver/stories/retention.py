"""What retention removes, and which incoming articles were removed before.

Pure decisions over data: ``store`` gathers the rows and applies the verdicts, ``prune``
runs the job. The rules, and why:

- An article is past its source's limits when it was published more than ``max_age`` ago
  or is not among the source's ``max_items`` newest.
- A story (one article's copies from several sources) goes whole, once every copy is past
  its own source's limits: the copy a story shows and its id never change because another
  copy went, and a story never comes back dated later because its earliest copy went.
- A story that an output feed shows (or an archive page not yet final) stays, whatever its
  age: a prune never changes a published file. A feed never shrinks; its items leave only
  as newer ones push them out, and then retention takes them.
- Each removed article leaves a tombstone, so that its source cannot bring it back. A
  tombstone lives while its entry is still in the source's document, and ``TOMBSTONE_GRACE``
  after it was first missing there: a stale document served again brings nothing back.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsriver.models import Article, Seen
from newsriver.stories.match import identifies_article

TOMBSTONE_GRACE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class RetentionLimits:
    """One source's limits, built from the config by ``config.schema.limits_for``."""

    max_age: timedelta | None  # None: no age limit
    max_items: int | None  # None: no count limit


@dataclass(frozen=True, slots=True)
class Held:
    """What retention needs to know of a stored article."""

    id: str
    source: str
    cluster: str  # its story's key
    published: datetime


def over_limits(held: Iterable[Held], limits: RetentionLimits, now: datetime) -> list[Held]:
    """Of one source's articles, those past its limits, newest first.

    Newest by publication date, ties to the smaller id, so the count limit always keeps
    the same articles.
    """
    newest_first = sorted(sorted(held, key=lambda h: h.id), key=lambda h: h.published, reverse=True)
    cutoff = now - limits.max_age if limits.max_age is not None else None
    return [
        h
        for rank, h in enumerate(newest_first)
        if (limits.max_items is not None and rank >= limits.max_items) or (cutoff is not None and h.published < cutoff)
    ]


def removable(over: Iterable[Held], stories: Iterable[Held], shown: Collection[str]) -> list[Held]:
    """Of the articles past their limits (``over``), those to remove.

    ``stories`` holds every stored copy of the stories of ``over``; ``shown`` the keys of
    the stories some feed shows.
    """
    past = list(over)
    past_ids = {h.id for h in past}
    kept = set(shown) | {h.cluster for h in stories if h.id not in past_ids}
    return [h for h in past if h.cluster not in kept]


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune did."""

    removed: Mapping[str, int]  # articles removed, by source
    kept: Mapping[str, int]  # past the limits but kept (a feed shows its story, or a copy is within its limits)
    tombstones_expired: int


# --- tombstones -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tombstone:
    id: str  # the removed article's id, which stands for its source and entry key
    url_hash: str  # of its canonical URL when that stands for one article, else ""
    missing_since: datetime | None  # its source's first document without it; None while it is there


@dataclass(frozen=True, slots=True)
class Sifted:
    buried: frozenset[str]  # ids of the articles removed before: not to be stored again
    back: tuple[str, ...]  # tombstones whose entry is in the source's document again
    missing: tuple[str, ...]  # tombstones whose entry the source's document no longer carries


def sift(articles: Sequence[Article | Seen], tombstones: Iterable[Tombstone], url_hash: Callable[[str], str]) -> Sifted:
    """Which articles of one document of a source were removed before, and which
    tombstones' entries the document still carries.

    ``tombstones`` must hold every tombstone of the source not yet missing, and any other
    the articles may match. An article matches by id, or by canonical URL when that
    stands for one article and occurs once in the document: the rule by which dedupe knows a
    source's entry under a regenerated guid (``match.decide``).
    """
    by_id = {t.id: t for t in tombstones}
    by_url: dict[str, list[Tombstone]] = defaultdict(list)
    for t in by_id.values():
        if t.url_hash:
            by_url[t.url_hash].append(t)
    in_document = Counter(a.canonical_url for a in articles)
    buried: set[str] = set()
    seen: set[str] = set()
    for article in articles:
        matched = [by_id[article.id]] if article.id in by_id else []
        if not matched and identifies_article(article.canonical_url) and in_document[article.canonical_url] == 1:
            matched = by_url.get(url_hash(article.canonical_url), [])
        if matched:
            buried.add(article.id)
            seen.update(t.id for t in matched)
    return Sifted(
        frozenset(buried),
        back=tuple(sorted(i for i in seen if by_id[i].missing_since is not None)),
        missing=tuple(sorted(t.id for t in by_id.values() if t.id not in seen and t.missing_since is None)),
    )
