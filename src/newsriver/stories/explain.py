"""Why two articles are, or are not, copies of one story: what ``dupes --explain`` prints.

Pure: two articles and the policy in, the scores and the deciding rule out. It follows the
steps ``Store.save`` takes for a new article and a stored one: one source, one URL, the
window, the candidate index, then ``fingerprint.compare`` and the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsriver.models import Article
from newsriver.stories.fingerprint import MIN_SHARED_KEYS, Fingerprint, compare, of_entry
from newsriver.stories.match import NearPolicy, identifies_article


@dataclass(frozen=True, slots=True)
class Explanation:
    folds: bool  # whether dedupe makes the two one story
    rule: str  # the step that decided: "one source", "same URL", "window", "index", "figures", "opening", ...
    why: str  # that step's reason, in a sentence
    scores: tuple[tuple[str, str], ...]  # (name, value) of every measure, decided or not

    def lines(self) -> list[str]:
        verdict = "folded: one story" if self.folds else "not folded: two stories"
        return [f"{verdict} (rule: {self.rule})", f"  {self.why}", *(f"  {k:<26} {v}" for k, v in self.scores)]


def explain_pair(a: Article, b: Article, policy: NearPolicy) -> Explanation:
    """Whether dedupe folds ``a`` and ``b`` (either stored first), by which rule, and why."""
    fa, fb = of_entry(a.title, a.summary, a.content), of_entry(b.title, b.summary, b.content)
    scores = _scores(fa, fb)
    similarity = compare(fa, fb)
    scores += (("decision score", str(similarity)), ("threshold", f"{policy.threshold:.2f}"))

    def verdict(folds: bool, rule: str, why: str) -> Explanation:
        return Explanation(folds, rule, why, scores)

    if a.source == b.source:
        return verdict(False, "one source", "a source's own articles are never folded together, however alike")
    if identifies_article(a.canonical_url) and a.canonical_url == b.canonical_url:
        return verdict(True, "same URL", f"both link to {a.canonical_url}")
    apart = abs(a.published - b.published)
    if apart > policy.window:
        return verdict(False, "window", f"published {apart} apart, more than the window of {policy.window}")
    shared_keys = len(fa.keys & fb.keys)
    if shared_keys < MIN_SHARED_KEYS:
        why = f"they share {shared_keys} index keys, fewer than {MIN_SHARED_KEYS}: neither is offered to the other"
        return verdict(False, "index", why)
    if similarity.veto:
        rule = "figures" if similarity.veto.startswith("figures") else "opening"
        return verdict(False, rule, f"{similarity.veto}: different articles whatever the score")
    if similarity.score < policy.threshold:
        why = f"{similarity.basis} score {similarity.score:.2f} is below the threshold {policy.threshold:.2f}"
        return verdict(False, "threshold", why)
    return verdict(True, similarity.basis, _folds_because(similarity.basis, similarity.score))


def _folds_because(basis: str, score: float) -> str:
    if basis == "contained":
        return f"{score:.0%} of the shorter text is in the longer: a copy, whatever the headlines"
    if basis == "text":
        return f"the texts share {score:.0%} of their shingles"
    return f"the headlines share {score:.0%} of their words"


def _scores(a: Fingerprint, b: Fingerprint) -> tuple[tuple[str, str], ...]:
    shared = int(np.intersect1d(a.shingles, b.shingles, assume_unique=True).size)
    union = a.shingles.size + b.shingles.size - shared
    shorter = min(a.shingles.size, b.shingles.size)
    title_union = len(a.title_words | b.title_words)
    return (
        ("shingles (a, b, shared)", f"{a.shingles.size}, {b.shingles.size}, {shared}"),
        ("jaccard", f"{shared / union:.2f}" if union else "-"),
        ("containment", f"{shared / shorter:.2f}" if shorter else "- (a short text: compared by words)"),
        ("headline words jaccard", f"{len(a.title_words & b.title_words) / title_union:.2f}" if title_union else "-"),
        ("index keys shared", f"{len(a.keys & b.keys)} of {len(a.keys)}, {len(b.keys)}"),
        ("headline figures", f"{list(a.title_figures)} / {list(b.title_figures)}"),
    )
