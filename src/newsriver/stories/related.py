"""Related coverage: are two independent stories reports of one event?

Pure functions over strings and counts; ``store.related`` keeps the document frequencies,
the key index and the groups, and applies the verdicts.

Two stories report one event when their headline and lead (the first ``LEAD_WORDS`` words
of the text) use the same rare words: TF-IDF cosine, with document frequencies learned
from the store's own entries, so "extradition" or a place name weighs much and "says"
little. A headline alone says less, and invites chance matches: a pair where either side
has no lead needs ``headline_threshold``. This is deliberately a separate test from the
copies' (``fingerprint``): a copy shares its text, a related report only its subject.

An entry joins the group of its best earlier match within the window (a copy, its story's
group), never two groups: groups of several stories do not merge, and a member is there
because it matched a member directly, within a window of the group's first report, so a
group cannot drift to another event. A group's id is its first report's, for good once it
holds two stories (a lone report a later one matches joins that one's group: see
``adopted``).
"""

from __future__ import annotations

import functools
import hashlib
import math
import operator
import re
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

LEAD_WORDS = 60  # the lead: what an outlet says first about an event
HEADLINE_ONLY_WORDS = 8  # a text with fewer words beyond its headline is a headline alone
TITLE_WEIGHT = 2  # a headline's word counts as this many of the lead's
# The crudest stemmer, and on headlines the best of those tried: "Mexican" and "Mexico",
# "prisoners" and "prison", "extradited" and "extradition" meet.
STEM = 6
PRIOR_DOCUMENTS = 1000
KEYS = 8  # index keys per entry: its weightiest words (see keys)
MIN_KEY_WEIGHT = 2  # a stored report is compared when the lookup keys it shares weigh this much (see key_weights)
# An entry with a lead: sharing its headline's HEADLINE_KEYS weightiest lookup keys is
# enough on its own (each weighs MIN_KEY_WEIGHT; see key_weights).
HEADLINE_KEYS = 1
MIN_KEY_LENGTH = 3  # "us", "eu": too short to be rare for the right reasons

_WORD = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")
# "one" too: a number word, as in the usual English lists, and in a product's name ("Xbox
# One", "Motorola One", "Uniti One") the generic part, on which teasers of three products matched.
_STOPWORDS = frozenset(
    """a an the and or but nor of in on at to for from by with as is are was were be been being it its this that
    these those he she they we you i his her their our your him them us who whom which what when where why how
    has have had do does did will would shall should can could may might must not no yes than then so too very
    just also into onto over under about after before up down out off again more most some any all each other
    such only own same s t says said say new after amid while per via vs one""".split()
)
# German function words, as above: a young store cannot tell yet that "für" or "im" says
# nothing (in a store of 100 teasers each is held by a few entries, as rare as "Motorola"),
# and teasers of two events then matched on them ("Motorola One … für 299 Euro im Test",
# "Xbox One X im 4K-Test: … für UHD-TVs", cosine 0.27). Left out: those that are English
# words that say something ("war", "man", "bald", "die", "mit", "des", "bis", "aus", "seine",
# "hat", "den", "er", "da"): a German store soon learns they are common, an English one must
# not lose "dies" or "MIT".
_GERMAN_STOPWORDS = frozenset(
    """der das dem ein eine einen einem einer eines und oder aber sondern denn auch als an am auf
    bei durch für gegen ohne um im in ins nach seit von vom vor zu zum zur über unter zwischen haben
    hatte hatten ist sind sein seinen seiner ihr ihre ihren ihrem ihrer sich sie es wir ich du wird werden
    wurde wurden worden kann können konnte soll sollen sollte wollen wollte muss müssen nicht kein keine keinen noch
    nur schon sehr mehr wie wenn dass daß ob weil wo dann doch dafür dabei damit hier jetzt nun bereits immer
    wieder etwa gibt diese dieser dieses diesem diesen jedoch sowie laut beim""".split()
)
# A weekday says when a report came, not what it reports: two teasers of different events
# of one day share it, two of one event often name different days ("on Thursday", "yesterday").
_WEEKDAYS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday montag dienstag mittwoch donnerstag freitag samstag
    sonntag""".split()
)
_IGNORED = _STOPWORDS | _GERMAN_STOPWORDS | _WEEKDAYS
_MASK = (1 << 63) - 1
_DIGIT = re.compile(r"\d")
_DATE_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july"
    " august september october november december".split()
)  # keys are signed 64-bit integers in the database


@dataclass(frozen=True, slots=True)
class Lead:
    """What related coverage reads of one entry: its headline's and lead's words, counted."""

    terms: Mapping[str, int]  # word → weight (headline words count TITLE_WEIGHT)
    headline_only: bool  # no lead worth the name: a stricter threshold applies
    headline: frozenset[str]  # the headline's words: as lookup keys they weigh more (key_weights)


@dataclass(frozen=True, slots=True)
class RelatedPolicy:
    """``settings.dedupe.related``, with the window of ``settings.dedupe``."""

    threshold: float
    headline_threshold: float
    window: timedelta


@dataclass(frozen=True, slots=True)
class Report:
    """An entry as the decision needs it: a stored one the key index offered, or the new one."""

    id: str
    title: str
    group: str  # the event group it belongs to (its own id when it founded one)
    group_published: datetime  # when the group's first report was published
    story: str  # the story it is a copy of: a story is never related coverage of itself
    published: datetime
    headline_only: bool
    vector: Mapping[str, float]  # its TF-IDF weights, made when it was stored


@dataclass(frozen=True, slots=True)
class Joined:
    group: str
    group_published: datetime  # when the group's first report was published
    report: str  # the stored report it matched best
    score: float | None  # None for a copy, which joins its story's group unscored


def words(text: str) -> list[str]:
    """The words of a text as related coverage compares them: lowercased, stopwords out, a
    plural's "s" and a possessive's "'s" off, "U.S." one word, cut to ``STEM`` letters."""
    raws = _WORD.findall(text.lower())
    found = list(map(_STEMS.get, raws))  # at C speed: most words of a new text were seen before
    if None in found:
        for i, raw in enumerate(raws):
            if found[i] is None:
                found[i] = word = _stem(raw)
                if len(_STEMS) < _STEMS_KEPT:
                    _STEMS[raw] = word
    return [word for word in found if word]


def _stem(raw: str) -> str:
    """A word as ``words`` keeps it; "" for a stopword (or a weekday)."""
    word = raw.replace("’", "'").removesuffix("'s").replace(".", "").replace("'", "")
    # Tested before the plural's "s" comes off too: "this" and "does" are no plurals of
    # "thi" and "doe", which no stopword list holds.
    if word in _IGNORED:
        return ""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:STEM] if word not in _IGNORED else ""


_STEMS: dict[str, str] = {}  # remembered: most words of a new text were seen before
_STEMS_KEPT = 1 << 18  # a bound on memory


def lead_of(title: str, text: str) -> Lead:
    """The headline and lead of an entry (``text``: its plain text, headline not included)."""
    head = words(title)
    # maxsplit: the words past the lead are never split apart (the rest is one piece, dropped).
    pieces = text.split(maxsplit=LEAD_WORDS)
    opening = " ".join(pieces[:LEAD_WORDS])
    lead = words(without_tags(opening) if len(pieces) <= LEAD_WORDS else opening)
    # Feeds often open the text with the headline again: that is no lead.
    if lead[: len(head)] == head:
        lead = lead[len(head) :]
    terms: Counter[str] = Counter(lead)
    for word in head:
        terms[word] += TITLE_WEIGHT
    return Lead(dict(terms), len(lead) < HEADLINE_ONLY_WORDS, frozenset(head))


_SENTENCE_ENDS = frozenset('.!?…"“”»«')
TAGS_LENGTH = 120  # characters of a closing parenthesis that may be a tag list


def without_tags(teaser: str) -> str:
    """A whole text (a teaser: its lead is all of it) without the parenthesis it may close
    with after its last sentence: a feed's topic tags, links to its pages of those topics
    ("… sind geplant. (Elektromobilität, Elektroauto)", "… (Xbox One, Microsoft)"), or an
    agency's credit ("(AP)"). Tags say which topic, not which event: two reports of one
    topic shared them ("One", "Microsoft"), and they were half the words a short teaser
    shares with another report of its event."""
    if teaser.endswith(")"):
        start = teaser.rfind("(")
        before = teaser[:start].rstrip()
        if before and before[-1] in _SENTENCE_ENDS and len(teaser) - start <= TAGS_LENGTH:
            return before
    return teaser


def idf(df: int, documents: int) -> float:
    """How much a word says, from how many of ``documents`` stored entries hold it: one no
    stored entry holds is as rare as one that one holds. ``PRIOR_DOCUMENTS`` more are
    assumed, holding none of the words: in a young store, where every word is rare or
    common by chance, all weigh about alike (plain word overlap); from a few thousand
    entries on, the store's own frequencies decide."""
    return math.log((documents + PRIOR_DOCUMENTS + 1) / max(df, 1))


def vector(lead: Lead, df: Mapping[str, int], documents: int) -> dict[str, float]:
    """The lead's TF-IDF weights, of unit length."""
    return weighted(lead, Idf(df, documents))


class Idf(dict[str, float]):
    """``idf`` of each word asked for, worked out once: the entries of one save share many
    words, and each word's logarithm was most of making their vectors."""

    def __init__(self, df: Mapping[str, int], documents: int) -> None:
        super().__init__()
        self.df = df
        self.documents = documents

    def __missing__(self, word: str) -> float:
        value = self[word] = idf(self.df.get(word, 0), self.documents)
        return value


def weighted(lead: Lead, idfs: Idf) -> dict[str, float]:
    """``vector``, with the words' IDF from ``idfs`` (shared by the entries of a save)."""
    tfs = _TFS
    weights = {w: tfs[n] * idfs[w] for w, n in lead.terms.items()}
    values = weights.values()
    # The same sum as of a generator of squares, in the same order, without a Python frame per word.
    norm = math.sqrt(sum(map(operator.mul, values, values))) or 1.0
    return {w: v / norm for w, v in weights.items()}


class _Tf(dict[int, float]):
    """A word's weight by its count in a lead, worked out once per count."""

    def __missing__(self, n: int) -> float:
        value = self[n] = 1.0 + math.log(n)
        return value


_TFS = _Tf()


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    # Only the shared words: the others would add 0.0, which changes no sum.
    return sum(v * b[w] for w, v in a.items() if w in b)


def threshold_for(a_headline_only: bool, b_headline_only: bool, policy: RelatedPolicy) -> float:
    return policy.headline_threshold if a_headline_only or b_headline_only else policy.threshold


def keys(weights: Mapping[str, float], df: Mapping[str, int], max_df: int, held_by: int = 0) -> list[int]:
    """The index keys of a lead: its ``KEYS`` weightiest words (``vector``'s weights: rare
    words of the headline first), leaving out words more than ``max_df`` entries hold, which
    would offer thousands of candidates and find none. For a lookup, ``held_by=1``: only
    words another entry holds besides this one, since a key nobody else has finds nothing.

    Not simply its rarest words: the first report of an event holds its event's words
    alone, as it holds its typos and its own asides, and only the weight tells them apart.
    """
    return first_keys(key_words(weights, usable_words(weights, df, max_df)), df, held_by)


def usable_words(words: Iterable[str], df: Mapping[str, int], max_df: int) -> set[str]:
    """Those of ``words`` that may be keys: long enough, held by an entry, and by at most
    ``max_df``. Told once for all the words of a save."""
    return {w for w in words if len(w) >= MIN_KEY_LENGTH and 0 < df.get(w, 0) <= max_df}


def key_words(weights: Mapping[str, float], usable: Container[str]) -> list[str]:
    """The words of a lead that may be keys (``usable_words``), the weightiest first: ranked
    once for both the lookup's keys and the index's."""
    ranked = [w for w in weights if w in usable]
    # By word, then (a stable sort) by weight: ties go to the word, so every worker picks the same.
    ranked.sort()
    ranked.sort(key=weights.__getitem__, reverse=True)
    return ranked


def first_keys(ranked: Sequence[str], df: Mapping[str, int], held_by: int) -> list[int]:
    """The keys of the first ``KEYS`` of ``ranked`` (``key_words``) more than ``held_by`` entries hold."""
    return [term_key(w) for w in first_words(ranked, df, held_by)]


def first_words(ranked: Sequence[str], df: Mapping[str, int], held_by: int) -> list[str]:
    """The words of ``first_keys``: a lookup weighs its keys by their words (``key_weights``)."""
    return list(islice((w for w in ranked if df[w] > held_by), KEYS))


def key_weights(looked: Sequence[str], headline: Container[str], headline_only: bool) -> dict[str, int]:
    """What a stored report sharing each of a new entry's lookup keys (``looked``: their words,
    the weightiest first) counts for towards ``MIN_KEY_WEIGHT``: all of it for the
    ``HEADLINE_KEYS`` weightiest words of the entry's ``headline`` (and for every key of a
    headline alone), one for another word.

    A headline names its event in its rarest word, and another outlet's report of the event
    holds it, if not the rest: of the 50 same-event article pairs of
    ``benchmarks/related_quality.py``, the 5 the index did not offer when two keys were
    needed each shared one, the event's name in both headlines ("plague", "duvet", "meth"),
    and told the event in other words (one lead names an agency's reporter, the other the
    hunter's rabbit); the headline's weightiest key offers 4 of them (in the fifth, "duvet" is
    one headline's second-weightiest key and the other's fifth). Another word is often an
    aside, a byline or a place, and needs a second: reports sharing one such key are most of
    those the index offers (``benchmarks/related_cost.py`` at 100,000 stored: 2,899 of
    2,999), each a row read and a vector decoded; so are those sharing a headline's commoner
    words, which every headline has (counting a headline's two weightiest words, the cost
    benchmark decoded 3.7 stored vectors a lookup, one word 2.8, none 0.3). A headline alone
    has few keys, and reports of its event often share one only (at two, the STS headline
    pairs grouped would be 409 of 510, not 425).
    """
    weights = {}
    named = 0
    for word in looked:
        if headline_only or (word in headline and named < HEADLINE_KEYS):
            weights[word] = MIN_KEY_WEIGHT
            named += 1
        else:
            weights[word] = 1
    return weights


def weighs_enough(shared: Iterable[str], weights: Mapping[str, int]) -> bool:
    """Whether the lookup keys a stored report shares with a new entry (their words), of
    these ``key_weights``, make the index offer it."""
    return sum(weights[w] for w in shared) >= MIN_KEY_WEIGHT


@functools.lru_cache(maxsize=1 << 16)
def term_key(word: str) -> int:
    """A stable 63-bit hash of a word: keys and frequencies outlive the process."""
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little") & _MASK


def join(entry: Report, reports: Sequence[Report], policy: RelatedPolicy) -> Joined | None:
    """The group a new entry joins, or None when it reports an event of its own.

    ``entry`` is the new entry (its group its own), ``reports`` the stored entries offered.
    The best match (see ``matching``) wins, ties to the earlier report, then the smaller
    id, so every worker decides alike. The source does not matter: an outlet's own
    follow-up on the event joins its group.
    """
    found = [
        (report, score)
        for report, score in matching(entry, reports, policy)
        if _spans(entry, report, report.group_published, policy.window)
    ]
    if not found:
        return None
    best, score = min(found, key=lambda pair: (-pair[1], pair[0].published, pair[0].id))
    return Joined(best.group, best.group_published, best.id, score)


def matching(entry: Report, reports: Sequence[Report], policy: RelatedPolicy) -> list[tuple[Report, float]]:
    """The reports that tell ``entry``'s event, with their scores: TF-IDF cosine at least
    the threshold, within a window of the entry. Never a report of the entry's own story (a
    copy), nor one whose headline is the entry's but for its figures: a templated series
    ("Brent crude closes at $71.42"), one post a day, not one event."""
    found = []
    for report in reports:
        if report.story == entry.story or abs(entry.published - report.published) > policy.window:
            continue
        score = cosine(entry.vector, report.vector)
        enough = score >= threshold_for(entry.headline_only, report.headline_only, policy)
        if enough and not templated(entry.title, report.title):  # the costlier test last
            found.append((report, score))
    return found


def _spans(entry: Report, report: Report, began: datetime, window: timedelta) -> bool:
    """Whether both are within a window of their group's beginning: a group spans one at most."""
    return max(abs(entry.published - began), abs(report.published - began)) <= window


def adopted(entry: Report, group: Joined, found: Sequence[tuple[Report, float]], policy: RelatedPolicy) -> list[Joined]:
    """The other groups ``entry`` matches a report of (``found``, from ``matching``), now
    that it is placed in ``group``: each as (its group, ``group``'s beginning, that report,
    the score). Those that hold one story only join ``group`` (the caller knows which).

    So a report alone with its event, stored before the copy or report that ties it to a
    group, joins that group whatever the order they came in. A group of one story was
    never shown (an item lists other stories), so its id may go; groups of several never
    merge, so none drifts.
    """
    return [
        Joined(report.group, group.group_published, report.id, score)
        for report, score in found
        if report.group != group.group and _spans(entry, report, group.group_published, policy.window)
    ]


def templated(a: str, b: str) -> bool:
    """Whether two headlines are one template with other figures: the same words, and
    figures (numbers, prices, dates, weekdays and months) that differ."""
    words_a, figures_a = _pattern(a)
    words_b, figures_b = _pattern(b)
    return bool(figures_a or figures_b) and words_a == words_b and figures_a != figures_b


def _pattern(title: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    tokens = [t.strip(".,:;!?'\"()[]") for t in title.lower().split()]
    figures = tuple(t for t in tokens if _DIGIT.search(t) or t in _DATE_WORDS)
    return tuple(t for t in tokens if t and t not in figures), figures
