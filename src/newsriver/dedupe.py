"""Is an incoming article new, an edit of one we hold, or another outlet's copy of one?

Pure decisions over data; ``store`` gathers the candidates and applies the verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from urllib.parse import urlsplit

from .models import Article


@dataclass(frozen=True, slots=True)
class Stored:
    """What dedupe needs to know of an article already in the database."""

    id: str
    source: str
    entry_key: str
    canonical_url: str
    content_hash: str
    cluster: str  # id of the copy shown for this story; its own id when it is that copy
    published: datetime


class Verdict(Enum):
    NEW = "new"
    EDITED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    target: str  # id of the row to insert or update
    cluster: str


def identifies_article(canonical_url: str) -> bool:
    """Whether a URL can stand for one article: a site's front page stands for many."""
    if not canonical_url:
        return False
    return urlsplit(canonical_url).path not in ("", "/")


def decide(
    article: Article,
    same_key: Stored | None,
    same_url: Sequence[Stored],
    url_count_in_batch: Mapping[str, int],
) -> Decision:
    """The verdict for one incoming article.

    ``same_key`` is the stored row with the article's source and entry key; ``same_url``
    the stored rows of any source with its canonical URL; ``url_count_in_batch`` how
    often each canonical URL occurs in the document the article came in.
    """
    if same_key is not None:
        return _edit_or_same(article, same_key)
    if identifies_article(article.canonical_url):
        # A feed that regenerates guids for an unchanged link: the same entry, not a new one.
        # Only when the URL is unique in the document, else a feed that links every entry
        # to one page would fold its entries together.
        own = [s for s in same_url if s.source == article.source]
        if len(own) == 1 and url_count_in_batch.get(article.canonical_url, 0) == 1:
            return Decision(Verdict.EDITED, own[0].id, own[0].cluster)
        others = [s for s in same_url if s.source != article.source]
        if others:
            # The same story from another outlet joins that story; the copy shown stays put
            # so republished feeds never flip between copies.
            kept = min(others, key=lambda s: (s.cluster != s.id, s.published, s.source))
            return Decision(Verdict.NEW, article.id, kept.cluster)
    return Decision(Verdict.NEW, article.id, article.id)


def _edit_or_same(article: Article, stored: Stored) -> Decision:
    verdict = Verdict.UNCHANGED if stored.content_hash == article.content_hash else Verdict.EDITED
    return Decision(verdict, stored.id, stored.cluster)
