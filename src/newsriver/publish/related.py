"""Related coverage in output feeds: each item lists the other reports of its event.

A feed's ``related`` option: ``list`` (each item keeps its place and lists the group's
other reports), ``fold`` (one item per event: the highest-priority source's report, else
the earliest, listing the rest) or ``off``. What an item shows of them: a "Related
coverage" list at the end of its text, an Atom ``<link rel="related">`` each, and in JSON
Feed ``_related``. The list never changes an item's ``updated``: a group growing is not
an edit of the item's own report.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from newsriver.models import Article
from newsriver.stories.match import Story, precedence

if TYPE_CHECKING:
    from newsriver.publish.render_common import SourceInfo
    from newsriver.store.store import Store


@dataclass(frozen=True, slots=True)
class Reported:
    """Another story's report of an item's event."""

    source: str
    url: str
    title: str
    published: datetime


Related = Mapping[str, Sequence[Reported]]  # item id → the other reports of its event, earliest first
NO_RELATED: Related = {}


def related_for(
    store: Store, stories: Sequence[Story], sources: Sequence[str], mode: str, priorities: Mapping[str, int]
) -> tuple[list[Story], dict[str, tuple[Reported, ...]]]:
    """The stories a feed shows (``fold``: one per event) and each item's other reports of
    its event, from the stories of ``sources`` only."""
    if mode == "off" or not stories:
        return list(stories), {}
    from newsriver.store.related import groups_of, story_entries

    with store.engine.connect() as conn:
        of_item = groups_of(conn, [s.item.id for s in stories])
        grouped = story_entries(conn, {group for _, group in of_item.values()})
    chosen = set(sources)
    shown = list(stories)
    if mode == "fold":
        shown = _one_per_event(stories, of_item, priorities)
    listed: dict[str, tuple[Reported, ...]] = {}
    for story in shown:
        if story.item.id not in of_item:
            continue
        own, group = of_item[story.item.id]
        # Each other story by the copy a feed shows of it.
        reports: dict[str, Reported] = {}
        ranked = sorted(
            grouped.get(group, ()), key=lambda m: (*precedence(m.source, m.published, priorities), m.entry_id)
        )
        for m in ranked:
            if m.story != own and m.source in chosen and m.story not in reports:
                reports[m.story] = Reported(m.source, m.url, m.title, m.published)
        if reports:
            listed[story.item.id] = tuple(sorted(reports.values(), key=lambda r: (r.published, r.source, r.url)))
    return shown, listed


def _one_per_event(
    stories: Sequence[Story], of_item: Mapping[str, tuple[str, str]], priorities: Mapping[str, int]
) -> list[Story]:
    """The stories without those another story of their event stands for: of each event the
    highest-priority source's, then the earliest published (then the smaller id)."""
    best: dict[str, Story] = {}
    for story in stories:
        if story.item.id in of_item:
            group = of_item[story.item.id][1]
            if group not in best or _rank(story, priorities) < _rank(best[group], priorities):
                best[group] = story
    kept = {id(s) for s in best.values()}
    return [s for s in stories if s.item.id not in of_item or id(s) in kept]


def _rank(story: Story, priorities: Mapping[str, int]) -> tuple[int, datetime, str]:
    item = story.item
    return (*precedence(item.source, item.published, priorities), item.id)


# --- what an item shows of them: the renderers' hooks -------------------------------------


# What an Atom ``<link rel="related">`` title starts with: the same relation serves a
# story's other copies and its event's other reports, so the title tells them apart.
ALSO_REPORTED_BY = "Also reported by"
RELATED_COVERAGE = "Related coverage"


def with_related(article: Article, reports: Sequence[Reported], sources: Mapping[str, SourceInfo]) -> Article:
    """The article with a "Related coverage" list at the end of the text a reader sees."""
    if not reports:
        return article
    rows = "".join(
        f"<li>{_outlet(r, sources)} — "
        + (f'<a href="{html.escape(r.url)}">{html.escape(r.title)}</a>' if r.url else html.escape(r.title))
        + "</li>"
        for r in reports
    )
    block = f"<p>{RELATED_COVERAGE}:</p><ul>{rows}</ul>"
    if article.content:
        return replace(article, content=article.content + block)
    if article.summary:
        return replace(article, summary=article.summary + block)
    return replace(article, content=f"<p>{html.escape(article.text or article.title)}</p>{block}")


def link_title(kind: str, outlet: str, headline: str) -> str:
    """An Atom link title: which kind of link it is, the outlet, then its headline if any."""
    return f"{kind}: {outlet} — {headline}" if headline else f"{kind}: {outlet}"


def related_links(reports: Sequence[tuple[Reported, SourceInfo]]) -> tuple[tuple[str, str], ...]:
    """(URL, title) of each report, for Atom ``<link rel="related">``."""
    return tuple((r.url, link_title(RELATED_COVERAGE, outlet.title, r.title)) for r, outlet in reports if r.url)


def json_related(reports: Sequence[tuple[Reported, SourceInfo]]) -> list[dict[str, Any]]:
    """JSON Feed's ``_related``."""
    return [
        {"url": r.url, "title": r.title, "source": {"name": r.source, "title": outlet.title, "url": outlet.url}}
        for r, outlet in reports
    ]


def _outlet(report: Reported, sources: Mapping[str, SourceInfo]) -> str:
    return html.escape(sources[report.source].title)
