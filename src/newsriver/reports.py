"""What the read-only commands print: `status` (each source's state and why it is due next) and
`dupes` (stories several sources carried, related coverage, and why two items did or did not fold)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from newsriver import redact
from newsriver.config.schema import Config
from newsriver.ingest.schedule import RATE_WINDOW
from newsriver.models import Article
from newsriver.plural import counted
from newsriver.run.poll import policy_for, shared_feeds, utcnow
from newsriver.store import full_text
from newsriver.store.store import Store
from newsriver.stories.match import explain, identifies_article, shown_copy

if TYPE_CHECKING:
    from newsriver.stories.related import RelatedPolicy

STALE = " (stale: not seen for over a minute)"


def _headline(title: str) -> str:
    """A headline in ``dupes``' lines: at most 60 characters, cut at a word with an ellipsis,
    so that a cut one reads as cut."""
    from newsriver.publish.river import excerpt  # the river's modules: only when dupes prints a headline

    return excerpt(title, 60)


def dupes(config: Config, store: Store, args: argparse.Namespace) -> int:
    if args.explain:
        return _explain_pair(config, store, args.explain)

    groups: Sequence[Copies] = store.selection.duplicate_groups(utcnow() - args.since, args.limit)
    if not groups:
        print("no story has more than one copy among the entries stored in that time")
    if not args.all:
        groups, under_one_url = split_same_url(groups)
        if under_one_url:
            print(same_url_summary(under_one_url))
    ids = [article.id for members in groups for article, _ in members]
    paged = full_text.extracted(store, ids) if any(cfg.full_text for cfg in config.sources) else set()
    priorities = {s.name: s.priority for s in config.sources}
    for members in groups:
        # Headed by the copy the feeds show (and its source), not the first stored: that is
        # the headline a reader saw for the story.
        shown = shown_copy([article for article, _ in members], priorities)
        print(f"{shown.title} (shown: {shown.source})")
        for position, (article, similarity) in enumerate(members):
            earlier = [m for m, _ in members[:position]]
            how = "first stored"
            if earlier and similarity is not None:
                how = f"{similarity:.2f} {explain(article, earlier)}"
            elif earlier:
                # Its own story was folded into this one when a later copy matched both (a
                # bridge): it has no similarity of its own, so say what ties it to the others.
                how = f"bridged: {explain(article, [m for m, _ in members if m.id != article.id])}"
            if article.id in paged:  # what was compared is the article from its page, not the feed's teaser
                how += " (its page's full text)"
            print(f"  {article.source:<20} {article.published:%Y-%m-%d %H:%M}  {how:<28} {_headline(article.title)}")
    from newsriver.store.related import listing  # related groups follow the copies

    print("\n".join(listing(store.engine, utcnow() - args.since, args.limit)))
    return 0


Copies = Sequence[tuple[Article, float | None]]  # a story's copies, each with the similarity that joined it


def split_same_url(groups: Sequence[Copies]) -> tuple[list[Copies], list[Copies]]:
    """The groups worth reading one by one, and those whose every copy carries one URL.

    A feed and its mirror (or two feeds of one site) carry the same article at the same URL:
    each such story is a group whose copies all say "1.00 same URL", and they drown the
    groups a reader checks dedupe by. Only a group whose copies all share one URL that
    identifies an article is set aside: one with any copy joined otherwise is listed."""
    listed: list[Copies] = []
    under_one_url: list[Copies] = []
    for members in groups:
        urls = {article.canonical_url for article, _ in members}
        [url, *others] = urls
        one_url = not others and identifies_article(url)
        (under_one_url if one_url else listed).append(members)
    return listed, under_one_url


def same_url_summary(groups: Sequence[Copies]) -> str:
    """One line for the stories several sources carried at one URL: how many, by which sources."""
    by_sources: Counter[str] = Counter(
        " + ".join(sorted({article.source for article, _ in members})) for members in groups
    )
    carriers = ", ".join(f"{sources} ({count})" for sources, count in sorted(by_sources.items(), key=lambda p: -p[1]))
    stories = counted(len(groups), "story", "stories")
    return f"{stories} carried at one URL by several sources, not listed (--all lists them): {carriers}"


def _explain_pair(config: Config, store: Store, refs: Sequence[str]) -> int:
    from newsriver.stories.explain import explain_pair
    from newsriver.stories.match import NearPolicy

    found = [store.selection.find_article(ref) for ref in refs]
    for ref, hit in zip(refs, found, strict=True):
        if hit is None:
            print(f"no stored article or item {ref!r}", file=sys.stderr)
            return 1
    (a, a_story), (b, b_story) = (hit for hit in found if hit is not None)
    if a.id == b.id:
        print(f"A and B are the same entry: {a.source}, {_headline(a.title)} (id {a.id}); nothing to compare")
        return 0
    dedupe = config.settings.dedupe
    explanation = explain_pair(a, b, NearPolicy(dedupe.threshold, dedupe.window))
    paged = full_text.extracted(store, [a.id, b.id]) if any(cfg.full_text for cfg in config.sources) else set()
    for label, article in (("A", a), ("B", b)):
        compared = "  (compared: its page's full text)" if article.id in paged else ""
        print(f"{label}: {article.source:<20} {article.published:%Y-%m-%d %H:%M}  {_headline(article.title)}{compared}")
    if a_story != b_story:
        print("stored in two stories")
    elif explanation.folds:
        print("stored in one story")
    else:  # a pair apart, both folded into a third
        print("stored in one story: each folded with another copy of it, not with each other")
    print("\n".join(explanation.lines()))
    print("\n".join(_explain_related(store, dedupe.related_policy, a, b)))
    return 0


def _explain_related(store: Store, policy: RelatedPolicy | None, a: Article, b: Article) -> list[str]:
    """The related-coverage part of ``dupes --explain``: the store's records, its decision's steps."""
    from newsriver.store.related import recorded
    from newsriver.stories.explain import explain_related

    if policy is None:
        return ["related coverage: off (settings.dedupe.related.enabled)"]
    with store.reading() as db:
        records = recorded(db, [a.id, b.id])
    missing = [label for label, article in (("A", a), ("B", b)) if article.id not in records]
    if missing:
        return [f"related coverage: {' and '.join(missing)} not recorded (stored while related coverage was off)"]
    # The one stored later looked the other up: the store's order, not the publication's.
    # (Of two stored in one pass, A is taken as the earlier.)
    (first, e), (then, n) = sorted(((a, "A"), (b, "B")), key=lambda pair: (pair[0].first_seen, pair[1]))
    earlier, later = records[first.id], records[then.id]
    return explain_related(earlier.report, later.report, later.lookup, earlier.indexed, policy, (e, n)).lines()


def status(config: Config, store: Store, args: argparse.Namespace) -> int:
    # Worker coordination brings the HTTP server's file type (waitress): imported by this command only.
    from newsriver.store.coordination import HEARTBEAT_STALE, Coordinator

    coordinator = Coordinator(store, "status")
    leases = coordinator.leases()
    table, notes = _status_table(config, store, leases)
    if args.json:
        print(json.dumps(table, default=lambda v: v.isoformat(), indent=2))
        return 0
    now = utcnow()
    headers = ["SOURCE", "STATE", "LAST SUCCESS", "ENTRIES", "NEXT POLL", "WHY", "ERRORS", "LAST ERROR"]
    cells = [
        [
            r["source"],
            r["status"],
            _ago(r["last_success"], now),
            str(r["entries"]),
            "never" if r["status"] == "gone" else _ago(r["next_poll"], now),
            r["schedule"],
            str(r["errors"]),
            r["last_error"] or (f"warning: {r['warning']}" if r["warning"] else ""),
        ]
        for r in table
    ]
    # Cut to the terminal's width on a terminal only: piped, the whole error is what is wanted.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print("\n".join(columns(headers, cells, width)))
    for note in notes:
        print(note)
    for source, (owner, until) in sorted(leases.items()):
        print(f"{source}: being polled by {owner} (lease until {until:%H:%M:%S} UTC)")
    workers = coordinator.workers()
    if workers:
        rows = [
            [w.id, w.role, _ago(w.heartbeat, now) + (STALE if now - w.heartbeat > HEARTBEAT_STALE else "")]
            for w in workers
        ]
        print("\n" + "\n".join(columns(["WORKER", "ROLE", "LAST HEARTBEAT"], rows, None)))
    return 0


def columns(headers: list[str], rows: list[list[str]], width: int | None) -> list[str]:
    """A table's lines, each column as wide as its widest cell. Given a ``width``, the last
    column is cut to what is left of it (at least ``_LAST_MIN`` characters, so a narrow
    terminal wraps rather than shows nothing of the error)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    if width is not None:
        room = max(width - sum(widths[:-1]) - 2 * (len(widths) - 1), _LAST_MIN)
        rows = [[*r[:-1], r[-1] if len(r[-1]) <= room else r[-1][: room - 1] + "…"] for r in rows]
        widths[-1] = min(widths[-1], max(room, len(headers[-1])))
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    ]


_LAST_MIN = 20


def _status_table(
    config: Config, store: Store, leases: dict[str, tuple[str, datetime]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per configured source, and notes on the sources polled at another URL."""
    from newsriver.run.why import schedule_reason

    rows = store.sources.rows()
    counts = store.sources.entry_counts()
    pages = full_text.counts(store) if any(cfg.full_text for cfg in config.sources) else {}
    now = utcnow()
    rhythms = store.sources.recent_publication_times([s.name for s in config.sources], now - RATE_WINDOW)
    table: list[dict[str, Any]] = []
    notes: list[str] = []
    for cfg in config.sources:
        row = rows.get(cfg.name)
        table.append(
            {
                "source": cfg.name,
                # ok, not modified, warning, moved, error, backoff, gone, or new (never polled)
                "status": row.state if row else "new",
                "last_fetch": row.last_fetch if row else None,
                "last_success": row.last_success if row else None,
                "entries": counts.get(cfg.name, 0),
                "next_poll": row.next_poll if row else None,
                # what set the next poll: the interval, the publishing rate, the feed's ttl, a backoff
                "schedule": schedule_reason(
                    policy_for(config, cfg),
                    row.status if row else "new",
                    row.errors if row else 0,
                    row.retry_after if row else None,
                    timedelta(seconds=row.feed_interval if row else 0),
                    list(rhythms.get(cfg.name, {}).values()),
                    now,
                ),
                "errors": row.errors if row else 0,
                "last_error": redact.text(row.last_error) if row else "",
                # what the last document lost (state "warning"; kept while an error shows)
                "warning": redact.text(row.warning) if row else "",
                "url": redact.display_url(cfg.url),  # secrets masked: status output gets pasted around
                "feed_url": redact.display_url(row.feed_url if row else cfg.url),  # differs after a move or discovery
                "retry_after": row.retry_after if row else None,
                # which worker is polling it right now, and until when its claim holds
                "lease": {"worker": leases[cfg.name][0], "until": leases[cfg.name][1]} if cfg.name in leases else None,
            }
        )
        if cfg.full_text:
            table[-1]["full_text"] = pages.get(cfg.name, dict.fromkeys(full_text.COUNTED, 0))
            notes.append(f"{cfg.name}: full text: " + ", ".join(f"{k} {v}" for k, v in table[-1]["full_text"].items()))
        if row and row.feed_url_origin == "redirect":
            notes.append(redact.text(f"{cfg.name}: moved permanently to {row.feed_url}; update the config"))
        elif row and row.feed_url_origin == "discovery":
            notes.append(redact.text(f"{cfg.name}: polling {row.feed_url}, the feed discovered on {cfg.url}"))
    return table, notes + shared_feeds(config, store)


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = int((when - now).total_seconds())
    span = abs(seconds)
    text = f"{span}s" if span < 120 else f"{span // 60}m" if span < 7200 else f"{span // 3600}h"
    return f"in {text}" if seconds > 0 else f"{text} ago"
