"""The optional C extension gives the same fingerprints as the Python path, field by field.

``stories/_fingerprint_c.c`` rewrites the inner part of ``fingerprint()`` (a body's tokens,
figures, word hashes, shingles and keys) in one pass over the bytes; every rule there is a
rule of the Python path, so any text on which the two disagree is a bug in one of them.
These inputs are built here (no corpus needed): the characters and places each rule turns
on, and random texts made of them. ``benchmarks/fingerprint_ab.py --native`` does the same
for every text of the corpus and the farm.

Skipped when the extension is not built (no C compiler at install); under CI (``CI`` set,
or ``NEWSRIVER_REQUIRE_NATIVE=1`` as ``.ci/run`` sets it) a missing extension fails instead.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from newsriver.stories import fingerprint as fp

from .conftest import FIXTURES

NATIVE = fp._native
if NATIVE is None and not os.environ.get("CI") and os.environ.get("NEWSRIVER_REQUIRE_NATIVE") != "1":
    # Why, as fingerprint.py tells it: not built, turned off, failed to load, or a stale build refused.
    pytest.skip(
        f"the C extension newsriver.stories._fingerprint_c is not in use: {fp.fingerprint_path()};"
        " `pip install -e .` with gcc builds it",
        allow_module_level=True,
    )


# What each rule of the tokenizer turns on, at a text's edges and inside it.
PIECES = [
    "", " ", "\n", "\t", ".", "..", "...", "-", "_", "__init__", "a_b_c", "snake_case_word", ",", ":", "/",
    # digits beyond ASCII, alone, grouped by thousands and mixed with ASCII ones
    "٣٤", "١,٠٠٠", "१२३", "۱۲۳,۴۵۶", "1,٠٠٠", "٣,000", "٣٤.٥", "x٣", "𝟙𝟚", "²", "½", "Ⅻ", "〇", "三",
    # lone and paired surrogates
    "\ud800", "a\udfffb", "\ud83d\ude00", "x\ud800.y", "\udc00,1",
    # separators at a token's edges, doubled, mixed
    ".a", "a.", "-a-", ",1,000,", ":x:", "/a/b/", "a..b", "a.-b", "a-.b", ".-.,:/", "1.,2", "a/-b", "x:y:z",
    # initials at a text's edges and inside words
    "u.s", "u.s.", ".u.s", "U.S.", "e.u.", "u.s.a.f", "u.s.a.f.x", "a.b.c.d.e", "j.a.n", "s.e.p.t", "o.c.t.",
    "é.u", "u.é", "u.s2", "u.s-a", "x.y.z", "a.1", "ｕ.ｓ.",
    # figures only, and the thousands rule's edges
    "1 2 3 4", "2025-02-27 12:04 71.42", "1,000,000", "2,00", "3,0000", "12,345,678", "a,000", "1,00a",
    "1,000a", ",000", "1,", "$71.42", "4.5%", "r730", "2.3.1", "v1.2", "0", "00", "1,000.5",
    # date words, in any case and dotted
    "monday", "Monday", "MONDAY", "jan.", "sept", "sep.", "may", "dec", "december", "mon",
    # letters beyond ASCII, marks, spaces and controls
    "naïve café", "東京", "ǅ", "ﬁ", "ß", "İstanbul", "ǈ", "ａｂｃ", "\u0301", "e\u0301", "\u00a0", "\u2003", "\u3000",
    "\u200b", "\x00", "\x01\x05", "\x1c\x1f", "\x7f", "—", "–", "“q”", "‘q’", "…", "«»", "ا", "ישראל", "Ελλάδα",
    # markup and entities (body_text's part, before the tokenizer)
    "<p>", "</p>", "<br>", "&amp;", "&#x2013;", "&nbsp;", "<b>x</b>", "Read more", "Copyright 2024",
    # words about the word-hash table's head (8 bytes) and its limit of remembered words (64)
    "abcdefgh", "abcdefghi", "abcdefghijklmnop", "abcdefghijklmnopq", "x" * 64, "y" * 65, "é" * 40,
    "http://example.com/" + "a/" * 50,
    # plain words
    "the", "vote", "was", "close", "council", "met", "extradition", "cartel", "said", "prices", "rose",
]  # fmt: skip

WORDS = [piece for piece in PIECES if piece.isalpha() and piece.isascii()]


def texts() -> Iterator[tuple[str, str]]:
    """(title, body) pairs: each piece alone and at a text's edges, the fixtures' entries,
    long and repetitive bodies, and random texts made of the pieces."""
    for piece in PIECES:
        yield piece, piece
        yield "Headline words for a title", f"{piece} the vote was close {piece}"
        yield f"{piece} prices rose 4.5% on monday", " ".join(["council met"] * 20 + [piece] * 3)
    for path in sorted(FIXTURES.iterdir()):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        yield path.name, text
        yield path.name, text[: len(text) // 3]
    yield "", ""
    yield "Only figures 1 2 3", " ".join(str(n * 7919) for n in range(400))
    yield "Repeated", "word " * 5000  # one distinct shingle: a short body however long
    yield "Alternating", "a b " * 3000  # two distinct shingles, each thousands of times
    yield "Three", "a b c " * 200 + "d e f " * 200
    rng = random.Random(20261206)
    # Many distinct words: the table of word hashes grows several times.
    yield "Many words", " ".join(f"w{rng.getrandbits(40):x}" for _ in range(20000))
    for n in range(600):
        size = rng.choice([3, 10, 30, 100, 400, 1500])
        pieces = [rng.choice(PIECES) if rng.random() < 0.35 else rng.choice(WORDS) for _ in range(size)]
        glue = [rng.choice([" ", " ", " ", "", "\n", ".", ",", "-", "_", "\u00a0", ". "]) for _ in range(size)]
        body = "".join(piece + sep for piece, sep in zip(pieces, glue, strict=True))
        title = " ".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))
        yield title, body if n % 7 else f"<p>{body}</p><p>{body[::-1]}</p>"


def fields(print_: fp.Fingerprint) -> dict[str, Any]:
    """Every field, arrays by their dtype and bytes, the figures with their type."""
    return {
        "title_words": print_.title_words,
        "words": print_.words,
        "shingles": (print_.shingles.dtype.str, print_.shingles.tobytes()),
        "opening": (print_.opening.dtype.str, print_.opening.tobytes()),
        "figures": (type(print_.figures), dict(print_.figures)),
        "lead_words": print_.lead_words,
        "title_figures": print_.title_figures,
        "length": print_.length,
        "keys": print_.keys,
    }


def test_the_extension_is_built_and_in_use() -> None:
    # Under CI the extension must be there; and one that disagrees with fingerprint.py's
    # constants, or was built from another C source, is not used (the Python path is): this
    # says so.
    assert NATIVE is not None, f"newsriver.stories._fingerprint_c is not used: {fp.fingerprint_path()}"
    assert fp.fingerprint_path() == "C extension"
    assert fp.native_disagreement(NATIVE, fp._source_sha()) == ""
    assert len(NATIVE.SOURCE_SHA) == 64


def test_a_build_from_another_source_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # An in-place build left over from before an edit of _fingerprint_c.c: its rules may be
    # the old ones, which its constants would not show.
    assert NATIVE is not None
    source = fp._SOURCE.read_bytes()
    edited = tmp_path / fp._SOURCE.name
    edited.write_bytes(source.replace(b"#define LEAD_WORDS", b"/* edited */\n#define LEAD_WORDS", 1))
    assert edited.read_bytes() != source
    monkeypatch.setattr(fp, "_SOURCE", edited)
    with caplog.at_level("WARNING", logger=fp.__name__):
        native, why = fp._load_native()
    assert native is None
    assert why.startswith(f"the C extension is refused: built from another source than {edited} (")
    assert f"built from another source than {edited}" in caplog.text
    assert "pip install -e ." in caplog.text
    # The same source, copied elsewhere, is the build's; no source beside it (a wheel) trusts the build.
    edited.write_bytes(source)
    assert fp._load_native() == (NATIVE, "")
    monkeypatch.setattr(fp, "_SOURCE", tmp_path / "absent.c")
    assert fp._source_sha() is None
    assert fp._load_native() == (NATIVE, "")
    assert fp.native_disagreement(NATIVE, "0" * 64).startswith("built from another source than")


def test_a_build_with_other_constants_is_not_used() -> None:
    assert NATIVE is not None
    for name, value in (("SHINGLE", 5), ("LIMIT", 1 << 16), ("DATE_WORDS", ("monday",))):
        other = SimpleNamespace(PARAMETERS={**NATIVE.PARAMETERS, name: value}, SOURCE_SHA=NATIVE.SOURCE_SHA)
        assert fp.native_disagreement(other, fp._source_sha()) == f"its constants differ from fingerprint.py's ({name})"


def test_both_paths_give_the_same_fingerprint_of_every_text(monkeypatch: pytest.MonkeyPatch) -> None:
    assert NATIVE is not None
    compared = 0
    for title, body in texts():
        monkeypatch.setattr(fp, "_native", NATIVE)
        native = fields(fp.fingerprint(title, body))
        monkeypatch.setattr(fp, "_native", None)
        python = fields(fp.fingerprint(title, body))
        assert native == python, f"the paths differ on title={title[:80]!r} body={body[:200]!r}"
        compared += 1
    assert compared > 1000


def test_the_native_word_hashes_are_blake2b_and_stay_right_past_the_limit() -> None:
    assert NATIVE is not None
    rng = random.Random(7)
    # Sizes about the head (8 bytes), the longest remembered (64) and beyond; enough words
    # to grow the table and to start it afresh once.
    words = [rng.randbytes(rng.choice([1, 2, 7, 8, 9, 16, 17, 63, 64, 65, 200])) for _ in range(140_000)]
    words += [b"", "é".encode(), "\ud800".encode("utf-8", "surrogatepass")]
    for word in words[:2000] + words[-2000:] + words[:2000]:  # the first ones again: found, or hashed anew
        expected = int.from_bytes(hashlib.blake2b(word, digest_size=8).digest(), "little")
        assert NATIVE.word_hash(word) == expected, word
    for word in words:
        NATIVE.word_hash(word)
    assert 0 < NATIVE.remembered() <= fp._WordHashes.LIMIT
    for word in words[-3000:]:
        assert NATIVE.word_hash(word) == int.from_bytes(hashlib.blake2b(word, digest_size=8).digest(), "little")


def test_the_word_bytes_kept_beside_the_table_are_bounded() -> None:
    # The bytes of words beyond their first 8 are kept beside the table, up to TAILS_LIMIT
    # (2 MiB): 64-byte words fill that long before LIMIT words, and the table starts afresh.
    assert NATIVE is not None
    rng = random.Random(11)
    before = NATIVE.remembered()
    while NATIVE.remembered() >= before:  # 8-byte words (no bytes kept beside) until it starts afresh
        before = NATIVE.remembered()
        NATIVE.word_hash(rng.randbytes(8))
    assert NATIVE.remembered() == 1
    long_words = [rng.randbytes(64) for _ in range(40_000)]  # 56 bytes beside each: 2.2 MB
    for word in long_words:
        NATIVE.word_hash(word)
    assert NATIVE.remembered() < 40_000 - (1 << 21) // 56 + 2
    for word in long_words[::97]:
        assert NATIVE.word_hash(word) == int.from_bytes(hashlib.blake2b(word, digest_size=8).digest(), "little")


def test_a_date_word_that_does_not_fit_its_table_fails_the_import(tmp_path: Path) -> None:
    # Three date words share a first letter and size at most ("jan", "jun", "jul"): a fourth
    # must fail the module's init, not overwrite the next place of the table.
    if shutil.which("cc") is None and not os.environ.get("CI"):
        pytest.skip("needs a C compiler (cc) to build two copies of the extension")
    source = fp._SOURCE.read_text(encoding="utf-8")
    assert source.count('"dec"};') == 1
    (tmp_path / "fits.c").write_text(source, encoding="utf-8")
    (tmp_path / "overflows.c").write_text(source.replace('"dec"};', '"dec", "jux"};'), encoding="utf-8")
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    code = (
        "import importlib.machinery as m, importlib.util as u, sys\n"
        "loader = m.ExtensionFileLoader('_fingerprint_c', sys.argv[1])\n"
        "module = u.module_from_spec(u.spec_from_file_location('_fingerprint_c', sys.argv[1], loader=loader))\n"
        "print(len(module.PARAMETERS['DATE_WORDS']))\n"
    )
    for name, words in (("fits", "29"), ("overflows", "")):
        built = tmp_path / name / f"_fingerprint_c{suffix}"
        built.parent.mkdir()
        compiler = ["cc", "-shared", "-fPIC", "-O0", f"-I{include}", str(tmp_path / f"{name}.c"), "-o", str(built)]
        subprocess.run(compiler, check=True, capture_output=True)
        ran = subprocess.run([sys.executable, "-c", code, str(built)], capture_output=True, text=True)
        assert ran.stdout.strip() == words, ran.stderr
        if not words:
            assert "ImportError: _fingerprint_c: DATE_WORDS does not fit its lookup table" in ran.stderr


def test_the_python_path_is_chosen_by_the_environment() -> None:
    code = "from newsriver.stories import fingerprint as fp; print(fp._native is None, fp.fingerprint_path())"
    for value, said in (("1", "True Python path (NEWSRIVER_PURE_PYTHON is set)"), ("", "False C extension")):
        env = {**os.environ, "NEWSRIVER_PURE_PYTHON": value}
        ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert ran.stdout.strip() == said


def test_version_says_which_fingerprint_path_runs() -> None:
    # pip hides a failed optional build: --version is where a user sees it.
    for value, said in (("1", "Python path (NEWSRIVER_PURE_PYTHON is set)"), ("", "C extension")):
        env = {**os.environ, "NEWSRIVER_PURE_PYTHON": value}
        ran = subprocess.run(
            [sys.executable, "-c", "from newsriver.cli import main; main(['--version'])"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert ran.stdout.splitlines()[1] == f"near-duplicate fingerprints: {said}"
