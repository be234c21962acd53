"""What an article's text looks like to near-duplicate detection, and how alike two are.

Pure functions over strings. Text is normalized so that copies of one article look the
same however an outlet dressed them (markup, quote style, "U.S."/"US", "(Outlet) —"
datelines, copyright and "Related:"/"Read more" lines), then cut into word shingles. A copy
is recognized by its text: most of the shorter text found in the longer is enough, whatever
the headlines say. Figures — numbers, prices, dates, version strings — stay whole as tokens:
templated posts ("Brent crude closes at $71.42" / "$71.45") stay apart because their
headlines' figures differ, or because their leads say the same thing with another figure.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import logging
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

SHINGLE = 4  # words per shingle: long enough that shared phrases of different articles rarely match
MIN_SHINGLES = 24  # below this a body is too short to compare as text; the headline decides
SKETCH = 6  # the fewest shingle hashes indexed per article (the smallest: a bottom-k MinHash sketch)
SAMPLE = 32  # and every shingle hash below 2^64 / SAMPLE: a copy of part of a text shares keys in proportion
MAX_KEYS = 16  # up to this many: a bound on index rows per article
LEAD = 8  # the first shingles of a body: a summary's must open its full text
LEAD_KEYS = 2  # of which indexed, so a summary finds its full text despite a word or two before
HEAD = 64  # how far into a long text a summary's lead may start
OPENING = 160  # shingles of its own a copy may open with (a new lead of a paragraph or two), a digest not
RUN = 8  # shingles (about a sentence) of which half shared start the text two copies share
MIN_SHARED_KEYS = 2  # index keys a stored article must share with a new one to be compared
MIN_TITLE_WORDS = 4  # "Weekly roundup" says too little to match on
MIN_CONTAINED = 40  # shingles a contained text must share (~ two sentences): a quoted sentence is not a copy
LEAD_WORDS = 60  # the lead whose figures tell templated posts apart

_MASK = (1 << 64) - 1
_PRIME = 0x100000001B3  # FNV-1a's 64-bit prime: odd, so mixing stays a bijection mod 2^64

_STRAIGHT = {**dict.fromkeys("‘’‚‛′`´", "'"), **dict.fromkeys("“”„‟″«»", '"'), **dict.fromkeys("‐‑‒–—―−", "-")}
_BLOCK = re.compile(
    r"<\s*/?\s*(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|hr|section|article|figure|figcaption|dd|dt)"
    r"\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
# "(VitalNews.org) -", "WASHINGTON (AP) -", "LONDON, Feb 27 (Reuters) -": the outlet's, not the article's.
# Matched at the start of each line: it cannot span one. This and _BOILERPLATE start with the
# line's newline (body_text puts one before the first line): a pattern that starts with a
# literal is searched fast, where "^" would be tried at every character.
_DATELINE = re.compile(r"\n[ \t]*(?:[^()\n]{0,40}+\([^()\n]{1,40}\)|[A-Z][A-Z.,'/ ]{2,40}+)[ \t]*-+[ \t]*")
# A related-links heading takes the list under it: the short lines without a sentence's end.
_BOILERPLATE = re.compile(
    r"\n[^\w\n]*(?:copyright\b|©|\(c\)\s*\d|all rights reserved"
    r"|(?:related\s*(?:[:-]|articles|stories|coverage|content)|more\s*:|see also\b).*$(?:\n[^.!?\n]{0,80}$)*"
    r"|read (?:more|the full)|continue reading|also read\b|the post\b.*\bappeared first on\b"
    r"|(?:this (?:article|story) )?(?:was )?originally (?:appeared|published)|by [\w.'-]+(?: [\w.'-]+){0,3}[ \t]*$)"
    r".*$",
    re.M,
)
# A trailer runs from where one of these starts to the end of its line; the earliest in a line
# cuts it. One pattern each, starting with its literal (searched fast; the word boundary
# before it is a lookbehind after it), rather than an alternation tried at every character.
_TRAILERS = tuple(
    (hint, literal, re.compile(literal + rf"(?<!\w{literal})" + rest + r".*$", re.M))
    for hint, literal, rest in (
        ("copyright", "copyright", r"[ \t]*(?:©[ \t]*)?\d{4}\b"),
        ("read more", "read more", r"\b"),
        ("continue reading", "continue reading", r"\b"),
        ("read the full", "read the full", r" (?:story|article)\b"),
        ("appeared first on", "the post", r"\b.{0,300}?\bappeared first on\b"),
    )
)
# Words; and figures whole, as a reader tells them apart: 71.42, 2.3.1, 2025-02-27, 12:04, r730.
# A word is \w without "_", which _tokens turns into a space first: \w is much faster than [^\W_].
_TOKEN = re.compile(r"\w+(?:[.,:/-]\w+)*")
_DIGIT = re.compile(r"\d")
# The comma first, then the digit before it: a pattern that starts with a literal is searched fast.
_THOUSANDS = re.compile(r",(?<=\d,)(?=\d{3}(?!\d))")
# A body's tokens are what split() leaves once every character no token holds is a space:
# the same as _TOKEN finds, several times faster. A token holds only word characters
# (str.isalnum(): \w but "_") and the separators, a separator only between two word
# characters. Done in UTF-8, where translate, replace, split and search are fast whatever
# the script (on a str beyond Latin-1 several are slow): the ASCII characters no token holds
# become spaces by translate, the few others by replace. Every byte left beyond ASCII is
# then a word character's.
_BYTE_BREAKS = bytes(b if b >= 0x80 or chr(b).isalnum() or chr(b) in ".,:/-" else 0x20 for b in range(256))
_ASCII = bytes(range(0x80))
# Most separators end a word, few join two: those are marked (by a byte no text has left,
# one per separator), then every other becomes a space by translate. One pattern per
# separator: a pattern that starts with a literal is searched fast.
_WORD_BYTE = rb"[0-9A-Za-z\x80-\xff]"
_JOINING = [
    (s, re.compile(re.escape(s) + rb"(?<=" + _WORD_BYTE + rb".)(?=" + _WORD_BYTE + rb")"), bytes([mark]))
    for mark, s in enumerate((b".", b",", b":", b"/", b"-"), start=1)
]
_UNMARK = bytes.maketrans(b".,:/-\x01\x02\x03\x04\x05", b"     .,:/-")
_ASCII_DIGITS = [str(d).encode() for d in range(10)]
_INITIALS = re.compile(r"\b(?:[^\W\d_]\.){1,3}[^\W\d_]\b\.?")  # U.S., e.u.: one word however dotted
# The same in a body's spaced UTF-8 (see _body_tokens), where the last dot is gone: " u.s " is " us ".
# A word of two to four letters and the dots between them: each of those dots, told by the
# letters before it and after it, is matched alone and dropped. A replacement without groups
# is made in C; one with groups ran Python code per match. It starts with the dot, a
# literal, which is searched fast: texts have many dots, few initials.
_UTF8_INITIALS = re.compile(
    rb"\.(?:(?<= [a-z]\.)(?=[a-z](?:\.[a-z]){0,2} )|(?<= [a-z]\.[a-z]\.)(?=[a-z](?:\.[a-z])? )"
    rb"|(?<= [a-z]\.[a-z]\.[a-z]\.)(?=[a-z] ))"
)
_ZEROED = bytes.maketrans(b"123456789", b"000000000")
# Dates are figures too; "may", "sun", "sat", "mar" are words far more often than dates.
_DATE_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april june july august"
    " september october november december jan feb apr jun jul aug sep sept oct nov dec".split()
)
_UTF8_DATE_WORDS = frozenset(word.encode() for word in _DATE_WORDS)
_STOPWORDS = frozenset(
    "a an the and or but of in on at to for from by with as is are was were be been it its this that these those"
    " s t after over into about up out than then so not no new says say said".split()
)


Hashes = NDArray[np.uint64]


class _WordHashes(dict[bytes, bytes]):
    """A stable 64-bit hash per word (in UTF-8), remembered: index keys outlive the process,
    so Python's salted hash() will not do, and looking a word up beats hashing it again.
    Kept as 8 little-endian bytes: a text's are joined into an array at once, where making
    each an int and converting it took longer."""

    # Words remembered before starting afresh: a bound on memory. A word costs ~125 bytes
    # here (its bytes, its hash's, the table's slot): 2^17 words ~16 MB a process (2^20 took
    # ~120 MB). The corpus's 17,632 texts (feeds, outlet copies, full-text pages) hold
    # 93,380 distinct words; starting afresh costs ~0.4 µs a word until it is warm again.
    LIMIT = 1 << 17

    def __missing__(self, word: bytes) -> bytes:
        if len(self) >= self.LIMIT:
            self.clear()
        digest = self[word] = hashlib.blake2b(word, digest_size=8).digest()
        return digest


_WORD_HASHES = _WordHashes()
# A shingle's hash weighs each of its words by its position, so word order counts.
_POSITION_WEIGHTS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64
)
# Constants as 0-d arrays: an operation with a numpy scalar costs more than with an array.
_WEIGHTS = [np.array(weight) for weight in _POSITION_WEIGHTS]
_33 = np.array(33, dtype=np.uint64)
_FMIX = np.array(0xFF51AFD7ED558CCD, dtype=np.uint64)
_ONE = np.array(1, dtype=np.uint64)
_PRIME_ARRAY = np.array(_PRIME, dtype=np.uint64)
_EMPTY: Hashes = np.empty(0, dtype=np.uint64)
_SAMPLED = np.uint64(((1 << 64) - 1) // SAMPLE)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """An article's text reduced to what comparison and the candidate index need."""

    title_words: frozenset[str]  # title's words without stopwords, for headline comparison
    words: frozenset[str]  # the same for title and a short body: what a short item is compared by
    shingles: Hashes  # the body's distinct shingle hashes, sorted; empty when the body is short
    opening: Hashes  # the body's first OPENING shingles, in order: its first LEAD are its lead
    figures: Mapping[str, int]  # how often each number, price, date, version occurs in the body
    lead_words: bytes  # the body's first LEAD_WORDS tokens, in UTF-8, space-separated
    title_figures: tuple[str, ...]  # in headline order, repeats kept
    length: int  # tokens in title and body
    keys: frozenset[int]  # candidate index keys: sampled shingles, lead shingles, the whole headline

    def __reduce__(self) -> tuple[Callable[..., Fingerprint], tuple[Any, ...]]:
        # The hand-off from the parse workers is msgspec (run/outcome.py); pickle is what
        # handoff_bench.py compares it with, at its best: the arrays go as one buffer (each
        # array pickled alone cost as much as the rest of the fingerprint).
        arrays = self.shingles.tobytes() + self.opening.tobytes()
        fields = (self.title_words, self.words, self.figures, self.lead_words, self.title_figures)
        return _unpickled, (arrays, self.shingles.size, *fields, self.length, self.keys)


def _unpickled(
    arrays: bytes,
    shingles: int,
    title_words: frozenset[str],
    words: frozenset[str],
    figures: Mapping[str, int],
    lead_words: bytes,
    title_figures: tuple[str, ...],
    length: int,
    keys: frozenset[int],
) -> Fingerprint:
    # Views of the buffer, read-only: no fingerprint's array is ever changed in place.
    flat = np.frombuffer(arrays, dtype=np.uint64)
    return Fingerprint(
        title_words, words, flat[:shingles], flat[shingles:], figures, lead_words, title_figures, length, keys
    )


@dataclass(frozen=True, slots=True)
class Similarity:
    """How alike two articles are; ``veto`` says why they cannot be one article."""

    score: float
    basis: str  # "text": shingle Jaccard; "contained": one text begins the other; "title": headlines
    veto: str = ""

    def __str__(self) -> str:
        described = f"{self.basis} {self.score:.2f}"
        return f"{described} (apart: {self.veto})" if self.veto else described


def fingerprint(title: str, body: str) -> Fingerprint:
    """The fingerprint of a title (plain text) and a body (HTML or plain text)."""
    title_text = _normal(_straighten(title))
    if "." in title_text:
        title_text = _INITIALS.sub(lambda m: m.group(0).replace(".", ""), title_text)
    title_tokens, title_figures = _tokens(title_text)
    title_words = _content_words(title_tokens)
    made = _native_body if _native is not None else _python_body
    part = made(body_text(body), title_words)
    keys = part.keys
    if len(title_words) >= MIN_TITLE_WORDS:
        # Hashed alone, not remembered: a headline seldom comes again, a word often.
        headline = hashlib.blake2b(_encoded(" ".join(sorted(title_words))), digest_size=8).digest()
        keys.append(_salted(int.from_bytes(headline, "little"), 2))
    return Fingerprint(
        title_words=title_words,
        words=part.words,
        shingles=part.shingles,
        opening=part.opening,
        figures=part.figures,
        lead_words=part.lead_words,
        title_figures=tuple(title_figures),
        length=len(title_tokens) + part.length,
        keys=frozenset(keys),
    )


class _Body(NamedTuple):
    """What a body gives a fingerprint, from either path (_python_body, _native_body)."""

    words: frozenset[str]  # the title's when the body is long enough to compare as text, else with the body's
    shingles: Hashes  # distinct, sorted; empty when the body is too short to compare as text
    opening: Hashes
    figures: Counter[str]
    lead_words: bytes
    length: int  # the body's tokens
    keys: list[int]  # index keys but the headline's


def _python_body(text: str, title_words: frozenset[str]) -> _Body:
    body_tokens, figures = _body_tokens(text)
    shingles = _shingles(_hashes(body_tokens))
    features = _distinct(shingles)
    if len(features) >= MIN_SHINGLES:
        words, kept = title_words, features
    else:
        words, features = _short_body(title_words, body_tokens, _hashes)
        kept = _EMPTY
    lead_words = b" ".join(body_tokens[:LEAD_WORDS])
    keys = _sampled_keys(features, shingles)
    return _Body(words, kept, shingles[:OPENING], figures, lead_words, len(body_tokens), keys)


def _native_body(text: str, title_words: frozenset[str]) -> _Body:
    """What _python_body gives, from the C extension: the same in every field (proved by
    tests/test_fingerprint_native.py and benchmarks/fingerprint_ab.py --native)."""
    assert _native is not None
    figures: Counter[str] = Counter()
    length, lead_words, opening_bytes, features, keys, body_tokens = _native.body(_encoded(text), figures)
    opening = np.frombuffer(opening_bytes, dtype="<u8")
    if features is not None and keys is not None:
        return _Body(title_words, np.frombuffer(features, dtype="<u8"), opening, figures, lead_words, length, keys)
    assert body_tokens is not None
    # Its words hashed by the extension's own table too: the Python one would fill beside it.
    hashed = _native.word_hash
    words, short_features = _short_body(
        title_words, body_tokens, lambda words: np.array([hashed(w) for w in words], dtype=np.uint64)
    )
    return _Body(words, _EMPTY, opening, figures, lead_words, length, _sampled_keys(short_features, opening))


def _short_body(
    title_words: frozenset[str], body_tokens: list[bytes], hashes: Callable[[list[bytes]], Hashes]
) -> tuple[frozenset[str], Hashes]:
    """A body too short to compare as text: its words and their hashes are what count."""
    words = title_words | _content_words([_decoded(t) for t in body_tokens])
    return words, _distinct(hashes([_encoded(w) for w in words]))


def _sampled_keys(features: Hashes, shingles: Hashes) -> list[int]:
    # The shingle hashes below a bound (a sample of the text, at least the SKETCH smallest:
    # a bottom-k MinHash sketch): a text and any copy of part of it share about as many
    # keys as that part holds sampled shingles, wherever the part was cut from.
    sampled = min(max(int(features.searchsorted(_SAMPLED)), SKETCH), MAX_KEYS)
    return _keys(features[:sampled], shingles[:LEAD_KEYS])


def of_entry(title: str, summary: str, content: str) -> Fingerprint:
    """The fingerprint of an article: its full text when it has one, else its summary."""
    return fingerprint(title, content or summary)


def compare(a: Fingerprint, b: Fingerprint) -> Similarity:
    """How alike two articles are, whichever came first."""
    as_text = bool(a.shingles.size and b.shingles.size)
    similarity = _text_similarity(a, b) if as_text else _title_similarity(a, b)
    veto = _figures_veto(a, b, as_text)
    return Similarity(similarity.score, similarity.basis, veto) if veto else similarity


def body_text(body: str) -> str:
    """The body as normalized text, a paragraph a line, without the outlet's dateline and
    boilerplate."""
    text = "\n" + _straighten(html.unescape(_TAG.sub("", _BLOCK.sub("\n", body))))
    if "-" in text:
        text = _DATELINE.sub("\n", text)
    text = _BOILERPLATE.sub("\n", _normal(text))[1:]
    return _without_trailers(text)


def _without_trailers(text: str) -> str:
    """Each line cut where its first trailer starts. A trailer is looked for only in a text
    that has its hint, from where its literal first occurs: most texts have none."""
    cuts: dict[int, int] = {}  # by the end of the line, where its trailer starts
    for hint, literal, trailer in _TRAILERS:
        if hint not in text:
            continue
        for found in trailer.finditer(text, text.find(literal)):
            end = found.end()
            cuts[end] = min(cuts.get(end, end), found.start())
    if not cuts:
        return text
    pieces = []
    kept = 0
    for end in sorted(cuts):
        pieces.append(text[kept : cuts[end]])
        kept = end
    pieces.append(text[kept:])
    return "".join(pieces)


# --- comparison ----------------------------------------------------------------------


def _text_similarity(a: Fingerprint, b: Fingerprint) -> Similarity:
    shared = np.intersect1d(a.shingles, b.shingles, assume_unique=True).size
    jaccard = shared / (len(a.shingles) + len(b.shingles) - shared)
    short, long = (a, b) if len(a.shingles) <= len(b.shingles) else (b, a)
    # A copy cut, trimmed, reordered or given a new lead is contained in the text it copies,
    # whatever its headline; a summary opens it. One that does not must share more than a
    # quoted sentence. A digest's later story is contained in the digest too, but is not
    # that story: neither text may open with more of its own than a new lead or two, as a
    # digest does with its other stories.
    containment = shared / len(short.shingles)
    if containment > jaccard and (_leads(short, long) or shared >= MIN_CONTAINED):
        similarity = Similarity(containment, "contained")
    else:
        similarity = Similarity(jaccard, "text")
    if shared and not (_opens(short, long) and _opens(long, short)):
        return Similarity(similarity.score, similarity.basis, "one opens with other text")
    return similarity


def _opens(text: Fingerprint, other: Fingerprint) -> bool:
    """Whether the text ``other`` shares with ``text`` starts within ``other``'s opening: a
    run of RUN shingles (or all, when fewer) at least half of which ``text`` holds."""
    found = _found_in(other.opening, text.shingles).astype(np.int8)
    run = min(RUN, found.size)
    return bool(run) and int(np.convolve(found, np.ones(run, dtype=np.int8), "valid").max()) * 2 >= run


def _leads(short: Fingerprint, long: Fingerprint) -> bool:
    lead = short.opening[:LEAD]
    found = _found_in(lead, np.sort(long.opening[:HEAD]))
    return bool(long.opening.size) and int(found.sum()) * 2 >= lead.size


def _found_in(values: Hashes, ordered: Hashes) -> NDArray[np.bool_]:
    """Which of ``values`` ``ordered`` (sorted) holds: np.isin, without its cost on small arrays."""
    if not ordered.size:
        return np.zeros(values.size, dtype=np.bool_)
    found: NDArray[np.bool_] = ordered[np.searchsorted(ordered, values).clip(max=ordered.size - 1)] == values
    return found


def _title_similarity(a: Fingerprint, b: Fingerprint) -> Similarity:
    if a.shingles.size or b.shingles.size:
        # A short item against a long text: the same headline, and a short body (if any)
        # that opens the text, as a teaser does.
        short, long = (b, a) if a.shingles.size else (a, b)
        if short.opening.size >= LEAD and not _leads(short, long):
            return Similarity(0.0, "title")
        a_words, b_words = a.title_words, b.title_words
    else:
        a_words, b_words = a.words, b.words
    if min(len(a_words), len(b_words)) < MIN_TITLE_WORDS:
        return Similarity(0.0, "title")
    return Similarity(_jaccard(a_words, b_words), "title")


def _figures_veto(a: Fingerprint, b: Fingerprint, as_text: bool) -> str:
    """Why the figures say two texts are different articles, or "" when they agree.

    What tells a recurring templated post from the last one is its headline's figures and
    its lead's: when both headlines carry figures ("Episode 41", "Release 2.3.2"), one's
    must be the other's in the same order (a rewritten headline may drop one, not change or
    reorder them: "Day 2 of 7" is not "Day 7 of 2"); and the leads may not say the same
    words around another figure ("settled at $71.42 a barrel on Monday" / "$71.45 ... on
    Tuesday"). A figure only one text has (a new lead's "on Thursday", a cut paragraph's
    year) says nothing. A headline and a teaser, too short for that, must name only
    figures the other has.
    """
    if as_text:
        # Told at comparison, which few articles come to, rather than for every fingerprint.
        mine, theirs = _lead_figures(a), _lead_figures(b)
        missing = {f for context, f in mine.items() if theirs.get(context, f) != f}
        missing |= {f for context, f in theirs.items() if mine.get(context, f) != f}
    else:
        short, long = (a, b) if a.length <= b.length else (b, a)
        missing = (short.figures.keys() | set(short.title_figures)) - long.figures.keys() - set(long.title_figures)
    if (
        a.title_figures
        and b.title_figures
        and not (_in_order(a.title_figures, b.title_figures) or _in_order(b.title_figures, a.title_figures))
    ):
        missing |= set(a.title_figures) ^ set(b.title_figures) or set(a.title_figures)
    if not missing:
        return ""
    return "figures differ: " + ", ".join(sorted(missing)[:5])


def _lead_figures(fingerprint: Fingerprint) -> dict[str, str]:
    """Each figure of a lead (its first tokens) by its context: the two tokens either side,
    figures among them as "#", so that a template's figures changing together still match.
    A context of figures alone (a table's row) tells nothing."""
    if not fingerprint.figures:
        return {}
    lead = fingerprint.lead_words.split()
    known = {_encoded(f) for f in fingerprint.figures}  # the body's figures, found already
    marks = [t in known for t in lead]
    if not any(marks):
        return {}
    plain = [b"#" if mark else token for token, mark in zip(lead, marks, strict=True)]
    found = {}
    for i, mark in enumerate(marks):
        context = [*plain[max(0, i - 2) : i], b"|", *plain[i + 1 : i + 3]]
        if mark and len(context) - context.count(b"#") > 1:
            found[_decoded(b" ".join(context))] = _decoded(lead[i])
    return found


def _in_order(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    """Whether ``part`` is ``whole`` with some items left out (a subsequence)."""
    rest = iter(whole)
    return all(item in rest for item in part)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


# --- tokens and hashes ---------------------------------------------------------------


def _straighten(text: str) -> str:
    if text.isascii():  # none of them is ASCII but the backtick: skip the scan for most texts
        return text.replace("`", "'") if "`" in text else text
    # One replace per character there is: searching for one character is much faster than
    # a pattern's scan, and no replacement is itself replaced.
    for char, straight in _STRAIGHT.items():
        if char in text:
            text = text.replace(char, straight)
    return text


def _normal(text: str) -> str:
    # NFKC rebuilds the whole text when a character needs changing, slowly. These two, common
    # in feeds, are changed first as NFKC would (to their decompositions: both starters, so
    # the result is the same), which spares that for most texts.
    if "…" in text:
        text = text.replace("…", "...")
    if "\xa0" in text:
        text = text.replace("\xa0", " ")
    return unicodedata.normalize("NFKC", text).casefold()


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """The tokens of normalized text, and the figures among them: the date words (all
    letters) and the tokens that hold a digit."""
    if "," in text:
        text = _THOUSANDS.sub("", text)
    tokens: list[str] = []
    figures: list[str] = []
    for piece in (text.replace("_", " ") if "_" in text else text).split():
        # A token never holds a space, and most pieces between spaces are one plain word:
        # only the others need the pattern, which is slow per character.
        if piece.isalpha():
            tokens.append(piece)
            if piece in _DATE_WORDS:
                figures.append(piece)
        elif piece.isalnum():
            tokens.append(piece)
            if _DIGIT.search(piece):
                figures.append(piece)
        else:
            for token in _TOKEN.findall(piece):
                tokens.append(token)
                if (token in _DATE_WORDS) if token.isalpha() else _DIGIT.search(token):
                    figures.append(token)
    return tokens, figures


def _body_tokens(text: str) -> tuple[list[bytes], Counter[str]]:
    """What _tokens gives for normalized text, in UTF-8, the figures counted: several times
    faster on a long text (see _BYTE_BREAKS)."""
    if "," in text:
        text = _THOUSANDS.sub("", text)
    encoded = _encoded(text)
    spaced = encoded.translate(_BYTE_BREAKS)
    others = "" if text.isascii() else _decoded(encoded.translate(None, _ASCII))  # characters beyond ASCII
    digits = _ASCII_DIGITS
    if others and not others.isalpha():  # some are no letters (rarely): punctuation, symbols, digits
        for char in set(others):
            if not char.isalnum():
                spaced = spaced.replace(_encoded(char), b" ")
            elif char.isdecimal():
                digits = [*digits, _encoded(char)]
    for separator, joining, mark in _JOINING:
        if separator in spaced:
            spaced = joining.sub(mark, spaced)
    spaced = spaced.translate(_UNMARK)
    if b"." in spaced:  # "U.S." and "US" are one word
        spaced = _UTF8_INITIALS.sub(b"", b" " + spaced + b" ")
    tokens = spaced.split()
    # Figures are few: looked for by a digit, each token holding one from the first it holds.
    # ASCII digits (nearly always the only ones) are all made "0" in a copy, where a find
    # looks for one byte, many times faster than a pattern's search for any of ten.
    figure_ends: dict[int, int] = {}  # by where each token holding a digit starts
    if digits is _ASCII_DIGITS:
        zeroed = spaced.translate(_ZEROED)
        at = zeroed.find(b"0")
        while at >= 0:
            end = spaced.find(b" ", at)
            if end < 0:
                end = len(spaced)
            figure_ends[spaced.rfind(b" ", 0, at) + 1] = end
            at = zeroed.find(b"0", end)
    else:
        digit = re.compile(b"|".join(map(re.escape, digits)))
        found = digit.search(spaced)
        while found:
            at = found.start()
            end = spaced.find(b" ", at)
            if end < 0:
                end = len(spaced)
            figure_ends[spaced.rfind(b" ", 0, at) + 1] = end
            found = digit.search(spaced, end)
    figures = Counter(_decoded(spaced[start:end]) for start, end in figure_ends.items())
    for word in _UTF8_DATE_WORDS.intersection(tokens):
        figures[word.decode()] = tokens.count(word)
    return tokens, figures


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _decoded(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def _content_words(tokens: list[str]) -> frozenset[str]:
    return frozenset(_stem(t) for t in tokens if t not in _STOPWORDS)


def _stem(word: str) -> str:
    # Plurals only: headlines say "insurgents"/"insurgent" interchangeably.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and not word[0].isdigit():
        return word[:-1]
    return word


def _hashes(words: list[bytes]) -> Hashes:
    return np.frombuffer(b"".join(map(_WORD_HASHES.__getitem__, words)), dtype="<u8")


def _shingles(hashes: Hashes) -> Hashes:
    """The hash of every run of SHINGLE words (given by their hashes), in order."""
    count = hashes.size - SHINGLE + 1
    if count <= 0:
        return _EMPTY
    # Each step written into arrays made once, and with constants that are arrays: a
    # step's cost is numpy's for a call more than for the few hundred values.
    mixed: Hashes = np.multiply(hashes[:count], _WEIGHTS[0])
    step: Hashes = np.empty_like(mixed)
    for offset in range(1, SHINGLE):
        np.multiply(hashes[offset : offset + count], _WEIGHTS[offset], out=step)
        np.bitwise_xor(mixed, step, out=mixed)
    # Spread every input bit over the whole value (the MurmurHash3 finalizer), so the
    # smallest hashes are a fair sample of the shingles.
    np.bitwise_xor(mixed, np.right_shift(mixed, _33, out=step), out=mixed)
    np.multiply(mixed, _FMIX, out=mixed)
    np.bitwise_xor(mixed, np.right_shift(mixed, _33, out=step), out=mixed)
    return mixed


def _distinct(hashes: Hashes) -> Hashes:
    ordered = np.sort(hashes)
    if ordered.size < 2:
        return ordered
    first = np.empty(ordered.size, dtype=np.bool_)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    distinct: Hashes = ordered[first]
    return distinct


def _keys(sample: Hashes, lead: Hashes) -> list[int]:
    """_salted of each of the sample (salt 0) and of the lead (salt 1), at once."""
    values: Hashes = np.empty(sample.size + lead.size, dtype=np.uint64)
    values[: sample.size] = sample  # x ^ 0 is x
    np.bitwise_xor(lead, _ONE, out=values[sample.size :])
    np.multiply(values, _PRIME_ARRAY, out=values)  # wraps around, as & _MASK does
    salted: list[int] = values.view(np.int64).tolist()
    return salted


def _salted(value: int, salt: int) -> int:
    """A signed 64-bit index key, in a namespace of its own per kind of key."""
    mixed = ((value ^ salt) * _PRIME) & _MASK
    return mixed - (1 << 64) if mixed >= 1 << 63 else mixed


# --- the optional C extension --------------------------------------------------------

log = logging.getLogger(__name__)
# The C source beside this module, in a checkout, where an editable install builds in place
# and a build may be older than the source. Where there is none (a wheel need not ship it),
# the build is the one made with the package.
_SOURCE = Path(__file__).with_name("_fingerprint_c.c")


class _Native(Protocol):
    """What this module uses of the C extension (typed in _fingerprint_c.pyi, which mypy
    checks the module against wherever it is assigned to a _Native)."""

    PARAMETERS: dict[str, Any]
    SOURCE_SHA: str

    def body(
        self, text: bytes, figures: Counter[str], /
    ) -> tuple[int, bytes, bytes, bytes | None, list[int] | None, list[bytes] | None]: ...

    def word_hash(self, word: bytes, /) -> int: ...

    def remembered(self) -> int: ...


def _load_native() -> tuple[_Native | None, str]:
    """The C extension (an optional build) when it is built, agrees with this module and is
    not turned off by NEWSRIVER_PURE_PYTHON=1; else None: the Python path. With why not."""
    if os.environ.get("NEWSRIVER_PURE_PYTHON", "") not in ("", "0"):
        return None, "NEWSRIVER_PURE_PYTHON is set"
    try:
        from newsriver.stories import _fingerprint_c
    except ImportError as exc:
        if importlib.util.find_spec("newsriver.stories._fingerprint_c") is None:
            return None, "the C extension is not built"  # no C compiler at install: the Python path gives the same
        log.warning("not using the C extension for fingerprints: %s; the Python path gives the same", exc)
        return None, f"the C extension failed to load: {exc}"
    disagreement = native_disagreement(_fingerprint_c, _source_sha())
    if disagreement:
        log.warning("not using the C extension for fingerprints: %s; the Python path gives the same", disagreement)
        return None, f"the C extension is refused: {disagreement}"
    return _fingerprint_c, ""


def _source_sha() -> str | None:
    """The sha256 of the C source beside this module; None where there is none."""
    try:
        return hashlib.sha256(_SOURCE.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def native_disagreement(module: _Native, source_sha: str | None) -> str:
    """Why the C extension ``module`` must not be used, "" when it may: its constants differ
    from this module's, or it was built from another C source than ``source_sha``'s (a
    build left in place after the source was edited: its rules may be the old ones)."""
    theirs = {**module.PARAMETERS, "DATE_WORDS": frozenset(module.PARAMETERS["DATE_WORDS"])}
    ours = native_parameters()
    if theirs != ours:
        differ = sorted(name for name in theirs.keys() | ours.keys() if theirs.get(name) != ours.get(name))
        return f"its constants differ from fingerprint.py's ({', '.join(differ)})"
    if source_sha is not None and source_sha != module.SOURCE_SHA:
        built = module.SOURCE_SHA[:12] or "unknown"
        rebuild = "`pip install -e .` rebuilds it"
        return f"built from another source than {_SOURCE} ({built}, not {source_sha[:12]}): {rebuild}"
    return ""


def native_parameters() -> dict[str, object]:
    """What the C extension must agree on with this module (it reports its own as PARAMETERS)."""
    return {
        "SHINGLE": SHINGLE,
        "MIN_SHINGLES": MIN_SHINGLES,
        "SKETCH": SKETCH,
        "SAMPLE": SAMPLE,
        "MAX_KEYS": MAX_KEYS,
        "LEAD_KEYS": LEAD_KEYS,
        "LEAD_WORDS": LEAD_WORDS,
        "OPENING": OPENING,
        "WEIGHTS": tuple(int(weight) for weight in _POSITION_WEIGHTS),
        "FMIX": int(_FMIX),
        "PRIME": _PRIME,
        "DATE_WORDS": _DATE_WORDS,
        "LIMIT": _WordHashes.LIMIT,
    }


def fingerprint_path() -> str:
    """Which path fingerprint() takes, and why when it is the Python path: the service says
    it at start, the benchmarks beside each tree they run."""
    if _native is not None:
        return "C extension"
    return f"Python path ({_python_because or 'the C extension is turned off here'})"


# The module fingerprint() makes a body's part with, None for the Python path: tests and
# benchmarks set it to compare the two in one process.
_native, _python_because = _load_native()
