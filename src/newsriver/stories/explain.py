"""Why two articles are, or are not, copies of one story: what ``dupes --explain`` prints.

Pure: two articles and the policy in, the scores and the deciding rule out. It follows the
steps ``Store.save`` takes for a new article and a stored one: one source, one URL, the
window, the candidate index, then ``fingerprint.compare`` and the threshold.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from newsriver.models import Article
from newsriver.stories.fingerprint import MIN_SHARED_KEYS, MIN_TITLE_WORDS, Fingerprint, compare, of_entry
from newsriver.stories.match import NearPolicy, identifies_article
from newsriver.stories.related import (
    HEADLINE_KEYS,
    MIN_KEY_WEIGHT,
    RelatedPolicy,
    Report,
    cosine,
    key_weights,
    matching,
    term_key,
    threshold_for,
    weighs_enough,
    words,
)


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
    # Two texts without shingles are compared on headline and text words together.
    short = not (fa.shingles.size or fb.shingles.size)
    scores = _scores(fa, fb, short)
    similarity = compare(fa, fb)
    scores += (
        # compare's own score, which the threshold is for: named, since it is not always one of the above.
        ("fingerprint score", str(similarity)),
        ("  which is", _measure(similarity.basis, short)),
        ("threshold", f"{policy.threshold:.2f}"),
    )

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
    return verdict(True, similarity.basis, _folds_because(similarity.basis, similarity.score, short))


def _folds_because(basis: str, score: float, short: bool) -> str:
    # Worded as ``_measure`` and the score lines name each measure: a figure is never given
    # the name of another (two short texts are scored on headline and text words together,
    # which is not the "headline words jaccard" listed above).
    if basis == "contained":
        return f"{score:.0%} of the shorter text is in the longer: a copy, whatever the headlines"
    if basis == "text":
        return f"the texts share {score:.0%} of their shingles"
    if not short:
        return f"the headlines share {score:.0%} of their words"
    return f"both texts short: their headline and text words together share {score:.0%}"


def _measure(basis: str, short: bool) -> str:
    """What the fingerprint score measured: not always one of the scores listed above it."""
    if basis == "contained":
        return "the containment above"
    if basis == "text":
        return "the jaccard above"
    if not short:
        # A short text with a body that does not open the long one is 0, whatever its headline.
        zero = f"0 under {MIN_TITLE_WORDS} words, or if the short text is not the long one's start"
        return f"the headline words jaccard; {zero}"
    return "both texts short: the headline+text jaccard above"


def _scores(a: Fingerprint, b: Fingerprint, short: bool) -> tuple[tuple[str, str], ...]:
    shared = int(np.intersect1d(a.shingles, b.shingles, assume_unique=True).size)
    union = a.shingles.size + b.shingles.size - shared
    shorter = min(a.shingles.size, b.shingles.size)
    title_union = len(a.title_words | b.title_words)
    words_union = len(a.words | b.words)
    # Two short texts are compared on headline and text words together: listed under its own name.
    both_short = (
        (("headline+text jaccard", f"{len(a.words & b.words) / words_union:.2f}" if words_union else "-"),)
        if short
        else ()
    )
    return (
        ("shingles (a, b, shared)", f"{a.shingles.size}, {b.shingles.size}, {shared}"),
        ("jaccard", f"{shared / union:.2f}" if union else "-"),
        ("containment", f"{shared / shorter:.2f}" if shorter else "- (a short text: compared by words)"),
        ("headline words jaccard", f"{len(a.title_words & b.title_words) / title_union:.2f}" if title_union else "-"),
        *both_short,
        ("index keys shared", f"{len(a.keys & b.keys)} of {len(a.keys)}, {len(b.keys)}"),
        ("headline figures", f"{list(a.title_figures)} / {list(b.title_figures)}"),
    )


@dataclass(frozen=True, slots=True)
class RelatedExplanation:
    """Why two stories are, or are not, reports of one event (related coverage)."""

    grouped: bool  # whether they are stored in one event group
    rule: str  # the step that decided: "one story", "index", "window", "threshold", "templated", "cosine"
    why: str
    scores: tuple[tuple[str, str], ...]

    def lines(self) -> list[str]:
        verdict = "grouped, listed as reports of one event" if self.grouped else "not grouped"
        # Copies of one story are one item: related coverage (between stories) does not apply
        # to them, and "grouped" would say they are two reports of one event.
        head = "not applicable, one story" if self.rule == "one story" else f"{verdict} (rule: {self.rule})"
        return [
            f"related coverage: {head}",
            f"  {self.why}",
            *(f"  {k:<26} {v}" for k, v in self.scores),
        ]


_HEADLINE_WORDS = "word" if HEADLINE_KEYS == 1 else f"{HEADLINE_KEYS} words"


def explain_related(
    earlier: Report,
    later: Report,
    lookup: Sequence[int],
    indexed: Collection[int],
    policy: RelatedPolicy,
    names: tuple[str, str] = ("A", "B"),
) -> RelatedExplanation:
    """Whether ``later`` (stored after ``earlier``) is grouped with it as a report of one event,
    by which step of ``store.related.record`` and why: the index offers ``earlier`` only
    when ``later``'s ``lookup`` keys among its ``indexed`` ones weigh enough (``key_weights``),
    then ``matching`` decides. Both as stored, with their stored groups and vectors; ``names``
    are what the lines call ``earlier`` and ``later``."""
    e, n = names
    score = cosine(later.vector, earlier.vector)
    threshold = threshold_for(later.headline_only, earlier.headline_only, policy)
    needed = MIN_KEY_WEIGHT
    by_key = {term_key(w): w for w in later.vector}
    shared_keys = sorted(by_key.get(k, "?") for k in set(lookup) & set(indexed))
    weights = key_weights([by_key.get(k, "?") for k in lookup], set(words(later.title)), later.headline_only)
    weight = sum(weights[w] for w in shared_keys)
    shared_words = sorted(
        ((w, v * earlier.vector[w]) for w, v in later.vector.items() if w in earlier.vector), key=lambda p: -p[1]
    )
    alone = {True: "a headline alone", False: "headline and lead"}
    # How key_weights weighed the keys: every key of a headline alone counts in full.
    if later.headline_only:
        weighed = f"each key of {n}'s headline alone {needed}"
    else:
        weighed = f"{n}'s headline's weightiest {_HEADLINE_WORDS} {needed} each, another word 1"

    def both(of_earlier: str, of_later: str) -> str:  # A's first, whichever was stored first
        return f"{of_earlier}, {of_later}" if e == "A" else f"{of_later}, {of_earlier}"

    scores = (
        ("TF-IDF cosine", f"{score:.2f} (headline and lead, stored vectors)"),
        ("threshold", f"{threshold:.2f}" + (" (for a headline alone)" if threshold != policy.threshold else "")),
        ("compared as (A, B)", both(alone[earlier.headline_only], alone[later.headline_only])),
        ("shared words: cosine part", ", ".join(f"{w} {v:.2f}" for w, v in shared_words[:8]) or "none"),
        ("stored first", f"{e}: {n} looked it up in the key index"),
        (
            f"lookup keys of {n} shared",
            f"{len(shared_keys)} ({', '.join(shared_keys) or 'none'}), weighing {weight} ({weighed}), {needed} needed",
        ),
        ("stored groups (A, B)", both(earlier.group, later.group)),
    )
    grouped = earlier.group == later.group
    through = ", they are grouped through other reports" if grouped else ""

    def verdict(rule: str, why: str) -> RelatedExplanation:
        return RelatedExplanation(grouped, rule, why, scores)

    if earlier.story == later.story:
        return verdict("one story", "copies of one story are one item, never each other's related coverage")
    if not weighs_enough(shared_keys, weights):
        why = (
            f"{n} (stored later) shares {len(shared_keys)} of its lookup keys with {e}'s index keys, weighing"
            f" {weight}, less than {needed}: the key index never offers {e} to {n}"
        )
        return verdict("index", why + through)
    if matching(later, [earlier], policy):
        if grouped:
            why = f"cosine {score:.2f} reaches the threshold {threshold:.2f}: {n} joined {e}'s group"
            return verdict("cosine", why)
        if later.group != later.id:
            why = f"cosine {score:.2f} reaches the threshold {threshold:.2f}, but {n} joined a better match's group"
        else:
            # It joined no group at all, so the index did not offer the other then; which of
            # the lookup's limits kept it out is not recorded, so the possible causes are named.
            why = (
                f"cosine {score:.2f} reaches the threshold {threshold:.2f} and the index would offer {e} now,"
                f" but {n} joined no group when it was stored: {e} was not offered then (its lookup keys are"
                " chosen by the document frequencies of that moment, and a lookup reads a limited number of"
                " rows a key and compares a limited number of candidates)"
            )
        return verdict("cosine", why)
    apart = abs(later.published - earlier.published)
    if apart > policy.window:
        rule, why = "window", f"published {apart} apart, more than the window of {policy.window}"
    elif score < threshold:
        rule, why = "threshold", f"cosine {score:.2f} is below the threshold {threshold:.2f}"
    else:
        rule, why = "templated", "one headline template with other figures: a series, not one event"
    return verdict(rule, why + through)
