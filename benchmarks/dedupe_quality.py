"""How well near-duplicate detection tells copies from look-alikes.

Run from the repository root: ``.venv/bin/python benchmarks/dedupe_quality.py``.

Two measurements, both at the shipped threshold (``settings.dedupe.threshold``'s default):

1. Headline pairs: the corpus's ``dedupe/sts-headlines-train.tsv``, scored 0–5 by
   people; >= 4.0 is the same story told the same way, <= 2.0 a different one (pairs in
   between are left out). Each headline is an item with no body.
2. The outlet corpus of ``story_corpus.py``: the real article texts of
   ``fulltext/ground-truth.json`` and the cartel article as outlets run them (a new headline
   always, new leads, cuts, reordering, boilerplate, spelling) and the look-alikes that must
   stay apart, for its tuning half and its held-out half.
3. The team's earlier syndication corpus built here from the corpus feeds' entries (see
   ``build_corpus`` and benchmarks/README.md), whose copies mostly keep their headline.

A pair counts as merged when the candidate index would bring the two together (they share
MIN_SHARED_KEYS index keys) and the decision calls them one article — what ``store.entries.save`` does.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator

import story_corpus
from bench import SENTENCE_END, Doc, Pair, blocks, copies, corpus_path, html_paragraphs, originals

from newsriver.config.schema import DedupeSettings
from newsriver.stories.fingerprint import MIN_SHARED_KEYS, Fingerprint, compare, fingerprint

_FIGURE = re.compile(r"\d+(?:[.,:]\d+)*")


# --- the corpus: copies come from bench.copies, look-alikes from here ------------------------


def look_alikes(doc: Doc, other: Doc, rng: random.Random) -> Iterator[Pair]:
    """Posts that look like ``doc`` but are other news: they must stay apart."""

    def pair(kind: str, title: str, body: str) -> Pair:
        return Pair(kind, False, doc, Doc(title, body))

    # Figures in the lead a reader sees, not in link targets: what tells a templated post
    # from the last one (issue 15: a figure deeper in the body is an update's, or a cut's).
    figures = [m for m in _FIGURE.finditer(doc.body) if _visible(doc.body, m.start()) and _in_lead(doc.body, m.start())]
    if figures:
        m = rng.choice(figures)
        yield pair("lead figure differs", doc.title, doc.body[: m.start()] + _bump(m.group(0)) + doc.body[m.end() :])
    if _FIGURE.search(doc.title):
        yield pair("headline figure differs", _FIGURE.sub(lambda m: _bump(m.group(0)), doc.title, count=1), doc.body)
    days = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|January|February|March|April|June|July)\b")
    dates = [m for m in days.finditer(doc.body) if _visible(doc.body, m.start()) and _in_lead(doc.body, m.start())]
    if dates:
        m = dates[0]
        other_day = "Tuesday" if m.group(0) == "Monday" else "Monday"
        yield pair("lead date differs", doc.title, doc.body[: m.start()] + other_day + doc.body[m.end() :])
    yield pair("same headline, other body", doc.title, other.body)
    yield pair("weekly column", "Weekly roundup", other.body)
    sentences = SENTENCE_END.split(re.sub(r"<[^>]+>", " ", doc.body))
    # Another outlet quotes a statement or two, never most of the article.
    quotes = [s for s in sentences if re.search(r"[\"“”«]", s)][: len(sentences) // 4]
    own = blocks(other.body)
    middle = max(1, len(own) // 2)  # an outlet's own article opens with its own lead
    yield pair("same event, own article", doc.title, html_paragraphs([*own[:middle], *quotes, *own[middle:]]))


def _in_lead(body: str, position: int) -> bool:
    """Whether ``position`` is within the first 50 words of the visible text."""
    return len(re.sub(r"<[^>]*>", " ", body[:position]).split()) < 50


def _visible(body: str, position: int) -> bool:
    return not re.search(r"<[^>]*$", body[:position])


def _bump(figure: str) -> str:
    return figure[:-1] + str((int(figure[-1]) + 1) % 10)


def build_corpus(seed: int = 4) -> list[Pair]:
    rng = random.Random(seed)
    docs = originals()
    pairs: list[Pair] = []
    for i, doc in enumerate(docs):
        other = docs[(i + 1 + rng.randrange(len(docs) - 1)) % len(docs)]
        pairs.extend(copies(doc, other, rng))
        pairs.extend(look_alikes(doc, other, rng))
    for a, b in itertools.combinations(docs, 2):
        pairs.append(Pair("distinct corpus articles", False, a, b))
    return pairs


# --- measuring -------------------------------------------------------------------------


def merged(a: Fingerprint, b: Fingerprint, threshold: float) -> bool:
    if len(a.keys & b.keys) < MIN_SHARED_KEYS:
        return False
    similarity = compare(a, b)
    return not similarity.veto and similarity.score >= threshold


def headline_pairs(threshold: float) -> tuple[int, int, int, int]:
    """(true merges, false merges, same pairs, different pairs) on the STS headlines."""
    path = corpus_path("dedupe/sts-headlines-train.tsv")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    tp = fp = same = different = 0
    for row in rows:
        score, a, b = float(row[4]), row[5], row[6]
        if 2.0 < score < 4.0:
            continue
        is_same = score >= 4.0
        same += is_same
        different += not is_same
        if merged(fingerprint(a, ""), fingerprint(b, ""), threshold):
            tp += is_same
            fp += not is_same
    return tp, fp, same, different


def outlet_corpus(half: str, threshold: float, show: bool) -> None:
    """The tables of one half of story_corpus: recall per kind of copy, merges per look-alike."""
    pairs = story_corpus.build(half)
    totals = _tally(pairs, threshold, show, uncounted="teaser")
    originals = len({p.a for p in pairs if p.kind == "retitled"})
    print(f"outlet corpus, {half} half: {originals} real articles, {len(pairs)} pairs")
    _tables(totals, teaser="teaser")


def _tally(
    pairs: list[Pair], threshold: float, show: bool, uncounted: str = ""
) -> dict[tuple[bool, str], Counter[str]]:
    """Pairs, candidates and merges by (must merge, kind); with ``show``, each wrong verdict
    printed (but for the ``uncounted`` kind, which may fold or not)."""
    cache: dict[Doc, Fingerprint] = {}

    def fp_of(doc: Doc) -> Fingerprint:
        if doc not in cache:
            cache[doc] = fingerprint(doc.title, doc.body)
        return cache[doc]

    totals: dict[tuple[bool, str], Counter[str]] = defaultdict(Counter)
    for pair in pairs:
        a, b = fp_of(pair.a), fp_of(pair.b)
        counts = totals[(pair.same, pair.kind)]
        counts["pairs"] += 1
        counts["candidates"] += len(a.keys & b.keys) >= MIN_SHARED_KEYS
        was_merged = merged(a, b, threshold)
        counts["merged"] += was_merged
        if show and was_merged != pair.same and pair.kind != uncounted:
            print(f"  {'MISSED' if pair.same else 'FALSE MERGE'} [{pair.kind}] {compare(a, b)}: {pair.a.title[:60]!r}")
    return totals


def _tables(totals: dict[tuple[bool, str], Counter[str]], teaser: str = "") -> None:
    print("  copies (must merge):                 merged/pairs  offered by the index")
    for (is_same, kind), counts in sorted(totals.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        if is_same:
            note = "  (may fold or not: not counted)" if kind == teaser else ""
            print(f"    {kind:34s} {counts['merged']:4d}/{counts['pairs']:<4d} {counts['candidates']:4d}{note}")
    print("  look-alikes (must stay apart):")
    for (is_same, kind), counts in sorted(totals.items()):
        if not is_same:
            print(f"    {kind:34s} merged {counts['merged']:4d} of {counts['pairs']}")
    counted = [(s, k) for s, k in totals if k != teaser]
    copies_total = sum(totals[key]["pairs"] for key in counted if key[0])
    copies_merged = sum(totals[key]["merged"] for key in counted if key[0])
    false_merges = sum(totals[key]["merged"] for key in counted if not key[0])
    looks = sum(totals[key]["pairs"] for key in counted if not key[0])
    print(f"  copies recall {copies_merged / copies_total:.3f} ({copies_merged}/{copies_total})")
    print(f"  false merges among look-alikes: {false_merges} of {looks}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=DedupeSettings().threshold)
    parser.add_argument("--show", action="store_true", help="print every missed copy and false merge")
    parser.add_argument("--half", choices=("tuning", "held-out", "both"), default="both")
    args = parser.parse_args()
    threshold = args.threshold

    tp, fp, same, different = headline_pairs(threshold)
    print(f"threshold {threshold}")
    print(f"headline pairs: {same} same (>= 4.0), {different} different (<= 2.0)")
    print(f"  merged {tp + fp}: {tp} same, {fp} different")
    print(f"  precision {tp / max(1, tp + fp):.3f}  recall {tp / same:.3f}")
    for half in ("tuning", "held-out") if args.half == "both" else (args.half,):
        outlet_corpus(half, threshold, args.show)

    pairs = build_corpus()
    docs = {id(p.a) for p in pairs}
    print(f"earlier syndication corpus (feed entries): {len(docs)} real articles, {len(pairs)} pairs")
    totals = _tally(pairs, threshold, args.show)
    _tables(totals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
