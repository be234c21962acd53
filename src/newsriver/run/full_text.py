"""The full-text stage of a pass, for ``full_text`` sources: between a source's digest and its
store, the pages of its teasers are fetched and their articles put in place of the teasers.

It runs in page threads of its own (``settings.full_text.threads``), after the source's feed
fetch has given back its fetch thread and its host slot, so fetching pages never delays
another source's feed. The source is stored once its pages are in: its new articles reach
copy detection with their full text, so a teaser outlet's article folds with the full copies
others carry.

A page is fetched once per entry and link: a stored entry whose page was fetched keeps what
came of it (its full text is put back in place of the feed's teaser, so the teaser is no
edit), and is fetched again only when its link changes. A pass fetches at most
``pages_per_source`` pages a source, the oldest entries first; the rest wait for the next.

Only a pass with a ``full_text`` source imports this module (and trafilatura under it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from newsriver.config.schema import Config, FullTextSettings, SourceConfig
from newsriver.ingest.credentials import RequestSettings, for_source, public_only
from newsriver.ingest.fetch import FetchLimits
from newsriver.ingest.fulltext import extract, is_teaser, with_full_text
from newsriver.ingest.network import Network
from newsriver.ingest.normalize import content_hash
from newsriver.ingest.pages import PageResult, Pages
from newsriver.models import Article
from newsriver.run.outcome import Articles, Retrieved
from newsriver.store import full_text as stored_pages
from newsriver.store.full_text import KnownPage, PageRecord
from newsriver.store.sources import SourceRow
from newsriver.store.store import Store
from newsriver.urls import origin_of

if TYPE_CHECKING:
    from newsriver.stories.fingerprint import Fingerprint

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Job:
    """One source's pages to fetch, and what fetching them needs."""

    source: SourceConfig
    settings: FullTextSettings
    public: bool  # the source's feed must stay on public addresses: so must its pages
    feed_origin: str
    request: RequestSettings | None


class FullText:
    """The pass's full-text stage: ``take`` hands a digested source to the page threads."""

    def __init__(
        self,
        stack: ExitStack,
        config: Config,
        store: Store,
        rows: dict[str, SourceRow],
        limits: FetchLimits,
        network: Network,
    ) -> None:
        self._settings = settings = config.settings.full_text
        self._store = store
        self._rows = rows
        self._pool = stack.enter_context(ThreadPoolExecutor(settings.threads, thread_name_prefix="page"))
        # One for the pass: sources on one site take turns with each other too.
        self._pages = Pages(limits, network, settings.spacing.total_seconds(), settings.max_bytes)
        self._records: dict[str, list[PageRecord]] = {}  # by source: written when the source is stored

    def take(self, cfg: SourceConfig, got: Retrieved) -> Future[Retrieved] | None:
        """The source's retrieval with full texts in place, to come; None when it needs no page."""
        if not cfg.full_text or not got.articles:
            return None
        row = self._rows[cfg.name]
        job = _Job(cfg, self._settings, row.via_public or public_only(cfg), origin_of(row.feed_url), for_source(cfg))
        known = stored_pages.known(self._store, [a.id for chunk, _, _ in got.articles for a in chunk])
        return self._pool.submit(self._fetch, job, got, known, self._pages)

    def stored(self, source: str, now: datetime) -> None:
        """``source``'s articles are stored: so is what came of their pages (same transaction)."""
        stored_pages.record(self._store, source, self._records.pop(source, []), now)

    def _fetch(self, job: _Job, got: Retrieved, known: dict[str, KnownPage], pages: Pages) -> Retrieved:
        before, prints = got.articles.flat()
        try:
            after, records = _with_pages(job, before, known, pages)
        except Exception:  # a page must never cost its source the feed: store the teasers
            log.exception("%s: full text failed", job.source.name)
            return got
        self._records[job.source.name] = records
        return replace(got, articles=Articles.of(after, _prints(before, prints, after), got.articles.published))


def _with_pages(
    job: _Job, articles: Sequence[Article], known: dict[str, KnownPage], pages: Pages
) -> tuple[tuple[Article, ...], list[PageRecord]]:
    done = list(articles)
    wanted: list[int] = []
    for i, article in enumerate(articles):
        page = known.get(article.id)
        if page is not None and page.page_url == article.url:
            if page.result == PageResult.EXTRACTED:
                done[i] = _restored(article, page)
        elif is_teaser(article, job.settings.teaser_chars, job.source.full_text == "always"):
            wanted.append(i)
    wanted.sort(key=lambda i: articles[i].published)
    records = []
    for i in wanted[: job.settings.pages_per_source]:
        article, result = _fetched(job, articles[i], pages)
        done[i] = article
        records.append(PageRecord(article.id, articles[i].url, result))
    return tuple(done), records


def _fetched(job: _Job, article: Article, pages: Pages) -> tuple[Article, PageResult]:
    # A link to another site than the feed's is the feed's word, not the operator's: it may
    # not lead into private address space.
    public = job.public or origin_of(article.url) != job.feed_origin
    page = pages.get(article.url, public, job.request)
    if page.refused:
        return article, PageResult.REFUSED
    if page.error:
        log.info("%s: page %s: %s", job.source.name, article.url, page.error)
        return article, PageResult.FAILED
    full = with_full_text(article, extract(page.body, page.url, job.source.full_text_selector))
    return (full, PageResult.EXTRACTED) if full is not None else (article, PageResult.KEPT_TEASER)


def _restored(article: Article, page: KnownPage) -> Article:
    """``article`` with the full text stored for it, so the feed's teaser is not taken for an edit."""
    return replace(
        article,
        content=page.content,
        summary=page.summary,
        text=page.text,
        content_hash=content_hash(article, page.text),
    )


def _prints(before: Sequence[Article], prints: Sequence[Fingerprint], after: Sequence[Article]) -> list[Fingerprint]:
    """The articles' fingerprints, made again for those whose text changed."""
    if not prints:
        return []
    from newsriver.stories.fingerprint import of_entry  # numpy: the digest stage imported it already

    return [
        p if a is b else of_entry(b.title, b.summary, b.content) for a, b, p in zip(before, after, prints, strict=True)
    ]
