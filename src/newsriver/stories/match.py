"""Is an incoming article new, an edit of one we hold, or another outlet's copy of one?
And what does a story of several copies show?

Pure decisions over data; ``store`` gathers the candidates and applies the verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsriver.models import Article, Seen

if TYPE_CHECKING:
    # Fingerprints (and numpy under them) are imported where texts are compared: a pass
    # where every source answered 304 never does, and the import is a tenth of its start-up.
    from newsriver.stories.fingerprint import Fingerprint, Similarity


@dataclass(frozen=True, slots=True)
class Stored:
    """What dedupe needs to know of an article already in the database."""

    id: str
    source: str
    entry_key: str
    canonical_url: str
    content_hash: str
    story: str  # id of the copy shown for this story; its own id when it is that copy
    published: datetime


class Verdict(Enum):
    NEW = "new"
    EDITED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    target: str  # id of the row to insert or update
    story: str


def identifies_article(canonical_url: str) -> bool:
    """Whether a URL can stand for one article: a site's front page stands for many."""
    if not canonical_url:
        return False
    return urlsplit(canonical_url).path not in ("", "/")


def decide(
    article: Article | Seen,
    same_key: Stored | None,
    same_url: Sequence[Stored],
    url_count_in_batch: Mapping[str, int],
) -> Decision:
    """The verdict for one incoming article.

    ``same_key`` is the stored row with the article's source and entry key; ``same_url``
    the stored rows of any source with its canonical URL; ``url_count_in_batch`` how
    often each canonical URL occurs in the document the article came in. A ``Seen`` entry
    is judged as its article would be.
    """
    if same_key is not None:
        return _edit_or_same(article, same_key)
    # No stored row has its URL (most new articles): nothing below applies, and splitting
    # the URL was most of a new article's verdict.
    if same_url and identifies_article(article.canonical_url):
        # A feed that regenerates guids for an unchanged link: the same entry, not a new one.
        # Only when the URL is unique in the document, else a feed that links every entry
        # to one page would fold its entries together.
        own = [s for s in same_url if s.source == article.source]
        if len(own) == 1 and url_count_in_batch.get(article.canonical_url, 0) == 1:
            # Unchanged unless its content changed: a feed that rotates guids on every fetch
            # would otherwise count (and republish) an edit each time.
            return _edit_or_same(article, own[0])
        others = [s for s in same_url if s.source != article.source]
        if others:
            # The same story from another outlet joins that story; the copy shown stays put
            # so republished feeds never flip between copies.
            kept = min(others, key=lambda s: (s.story != s.id, s.published, s.source))
            return Decision(Verdict.NEW, article.id, kept.story)
    return Decision(Verdict.NEW, article.id, article.id)


def _edit_or_same(article: Article | Seen, stored: Stored) -> Decision:
    verdict = Verdict.UNCHANGED if stored.content_hash == article.content_hash else Verdict.EDITED
    return Decision(verdict, stored.id, stored.story)


# --- near duplicates: another outlet's copy under another URL --------------------------


@dataclass(frozen=True, slots=True)
class NearPolicy:
    """How near-duplicates are found: ``settings.dedupe``."""

    threshold: float  # the least Similarity.score that makes two texts one article
    window: timedelta  # how far apart two copies' publication dates may be


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored article the index offered as a possible copy."""

    id: str
    cluster: str
    fingerprint: Fingerprint
    story_sources: frozenset[str]  # the sources that already have a copy in its story


@dataclass(frozen=True, slots=True)
class Match:
    cluster: str  # the story the new article joins
    copy: str  # the stored copy it matched best
    similarity: Similarity
    bridged: tuple[str, ...] = ()  # other stories it is also a copy of: they join ``cluster``


def match_story(
    fingerprint: Fingerprint, source: str, candidates: Sequence[Candidate], threshold: float
) -> Match | None:
    """The story a new article of ``source`` is a copy of, or None when it is news of its own.

    A story holds one copy per source: a source's own articles are never folded together
    (a templated series, an update under a new URL), however alike. Among several matching
    stories the most similar wins, ties to the smaller story id, so every worker that sees
    the same candidates makes the same choice.

    The other matching stories are ``bridged``: copies that did not match each other (a
    summary and a syndicated copy of other paragraphs) become one story when the full
    text arrives, as they would have had it come first. A story is bridged only while the
    joined stories still hold one copy per source.
    """
    if not candidates:  # most new articles: no import on their path
        return None
    from newsriver.stories.fingerprint import compare

    matching: list[tuple[tuple[float, str, str], Candidate, Similarity]] = []
    for candidate in candidates:
        if source in candidate.story_sources:
            continue
        similarity = compare(fingerprint, candidate.fingerprint)
        if similarity.veto or similarity.score < threshold:
            continue
        matching.append(((-similarity.score, candidate.cluster, candidate.id), candidate, similarity))
    if not matching:
        return None
    matching.sort(key=lambda found: found[0])
    _, best, similarity = matching[0]
    sources = best.story_sources | {source}
    bridged: list[str] = []
    for _, other, _ in matching[1:]:
        if other.cluster != best.cluster and other.cluster not in bridged and not other.story_sources & sources:
            bridged.append(other.cluster)
            sources |= other.story_sources
    return Match(best.cluster, best.id, similarity, tuple(bridged))


# --- what a story of several copies shows ---------------------------------------------

ENRICH_RATIO = 1.5  # a copy this much longer than the shown one lends it its text (full text for a summary)


@dataclass(frozen=True, slots=True)
class Copy:
    """Another outlet's copy of a story, listed under "Also reported by"."""

    source: str
    url: str
    title: str
    published: datetime


@dataclass(frozen=True, slots=True)
class Story:
    item: Article  # what the feed publishes
    copies: tuple[Copy, ...]  # the other copies, earliest first


def precedence(source: str, published: datetime, priorities: Mapping[str, int]) -> tuple[int, datetime]:
    """Which of several reports a feed shows first (lowest first): the highest-priority
    source's, then the earliest published. One rule for a story's copies, for the reports
    of an event that related coverage lists or folds, and for ``dupes``."""
    return (-priorities.get(source, 0), published)


def shown_copy(members: Sequence[Article], priorities: Mapping[str, int]) -> Article:
    """The copy an item shows of its story: by ``precedence``, then the first stored."""
    return min(members, key=lambda a: (*precedence(a.source, a.published, priorities), a.first_seen, a.id))


def compose(story_id: str, members: Sequence[Article], priorities: Mapping[str, int]) -> Story:
    """One item for a story's copies (all from the sources a feed selects).

    The item keeps one id for good: the story's first stored copy's when the feed selects
    its source, else the first stored among those it selects. What it shows is chosen by
    a rule, never by arrival order: the highest-priority source's copy, then the earliest
    published; its text comes from a markedly longer copy when there is one (a summary
    gains the full text), so new copies change an item in place and never add one.
    """
    first = min(members, key=lambda a: (a.id != story_id, a.first_seen, a.id))
    shown = shown_copy(members, priorities)
    longest = max(members, key=lambda a: (len(a.text), -a.published.timestamp(), a.id))
    item = replace(shown, id=first.id, published=min(a.published for a in members))
    if len(longest.text) >= ENRICH_RATIO * len(shown.text):
        item = replace(
            item,
            content=longest.content or longest.summary,
            summary=shown.summary or shown.content,
            text=longest.text,
            image=shown.image or longest.image,
            updated=max(shown.updated, longest.updated),
        )
    copies = sorted(
        (Copy(a.source, a.url, a.title, a.published) for a in members if a.id != shown.id),
        key=lambda c: (c.published, c.source, c.url),
    )
    return Story(item, tuple(copies))


def explain(article: Article, earlier: Sequence[Article]) -> str:
    """Why ``article`` belongs with its story's copies stored before it: what ``dupes`` shows."""
    if identifies_article(article.canonical_url) and any(e.canonical_url == article.canonical_url for e in earlier):
        return "same URL"
    from newsriver.stories.fingerprint import compare, of_entry

    mine = of_entry(article.title, article.summary, article.content)
    similarities = [compare(mine, of_entry(e.title, e.summary, e.content)) for e in earlier]
    return str(max(similarities, key=lambda s: (not s.veto, s.score))) if similarities else ""
