"""Two versions of the fingerprint module side by side, in one process: whether they make the
same fingerprints, and what each costs an entry.

    .venv/bin/python benchmarks/fingerprint_ab.py --baseline /work/main/src/newsriver/stories/fingerprint.py
    .venv/bin/python benchmarks/fingerprint_ab.py --native

``--baseline`` is another checkout's ``stories/fingerprint.py`` (main's, say); the other is
this checkout's. Both are loaded as separate modules. The baseline runs its Python path: a
baseline module that has a C path would import this checkout's build of it, not its own.
This checkout runs the path ``--path`` says: its Python path (the default, so that both
sides run Python), or its C extension (what the service runs when it is built). ``--native``
compares this checkout's two paths instead: its Python path (the module loaded again, its C
extension turned off) against the C extension (``stories/_fingerprint_c.c``, which must be
built). Which path each side runs is printed first. The texts:

- the ingest farm's (``bench.build_farm``, ``--feeds`` × 50 entries, parsed and normalized as
  a pass does: what ``cost_floor.py`` times);
- the outlet corpus's (``story_corpus.build``, both halves) and the earlier syndication
  corpus's (``dedupe_quality.build_corpus``): real article texts as outlets edit them;
- every entry of the corpus feeds, the STS headlines, the full-text pages, and each of those
  again with trailers, figures, initials, dashes and markup spliced in at random places;
- texts made to try the tokenizer's edges (``ADVERSARIAL``): digits beyond ASCII, lone
  surrogates, "_", separators and initials at a text's edges, empty texts, figures alone.

1. Identity: every field of every text's fingerprint from both (arrays by their bytes), and
   the digest of all of this checkout's, so that two runs can be compared too.
2. Cost: ``of_entry`` over the farm's texts and the outlet corpus's, the two modules
   alternating round by round (process time per text: the median of ``--rounds`` each, and
   their range), with the load.

The word-hash caches are warm after the first round, as in a pass of any length.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import dedupe_quality
import story_corpus
from bench import build_farm, corpus_path

from newsriver.config.schema import SourceConfig
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
from newsriver.stories import fingerprint as this
from newsriver.stories.filters import stored

NOW = datetime(2026, 12, 1, tzinfo=UTC)
Text = tuple[str, str, str]  # title, summary, content: what of_entry takes
# Spliced into texts for the identity check: what the text cleanup and the tokenizer treat specially.
SPLICES = (
    "Copyright 2024", "copyright ©2023 x", "Read more", "read more…", "Continue reading", "Read the full story",
    "The post X appeared first on Y.", "U.S.", "e.u.", "1,000", "$71.42", "2.3.1", "12:04", "r730", "a_b", "—",
    "“q”", "\xa0", "…", "٣٤", "x-y", "a/b", "(AP) - ", "\nWASHINGTON - ", "<p>", "</p>", "<br>", "&amp;", "Monday",
    "march", "Related: ", "\nBy Jane Doe\n", "© ", "readmore", "xcopyright 2020", "the posts appeared first on",
    # what the C extension's rules turn on, at a text's edges and inside it
    "١,٠٠٠", "1,٠٠٠", "x٣", "\ud800", "a\udfffb", "\ud83d\ude00", "_", "__x__", ".", ",", ":", "/", "-", "..",
    ".-.,:/", "a..b", "u.s.a.f", "a.b.c.d.e", "j.a.n", "é.u", "3,0000", "12,345,678", "1,00a", ",000", "1,", "\u0301",
    "\u200b", "\u3000", "\x00", "\x1c", "ß", "ﬁ", "ａｂｃ", "東京", "x" * 65, "abcdefghi",
)  # fmt: skip
# Whole texts for the same (title and body each).
ADVERSARIAL = (
    "", " ", "_", "__", "٣٤", "١,٠٠٠ ٢,٣٤٥", "\ud800", "\ud800 \udfff", ".u.s.", "u.s", "u.s.a.f.x", "-a-", ",1,000,",
    "/a/b/", ":x:", "1 2 3 4 5 6 7 8 9 10", " ".join(str(n * 7919) for n in range(300)), "2025-02-27 12:04 71.42",
    "monday " * 40, "word " * 3000, "a b " * 2000, "x" * 200, "<p></p>", "&amp;", "\u200b" * 5, "é" * 100,
)  # fmt: skip


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_fingerprint", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def path_of(module: ModuleType) -> str:
    """Which path a fingerprint module runs (one from before fingerprint_path: by its _native)."""
    if hasattr(module, "fingerprint_path"):
        return str(module.fingerprint_path())
    return "C extension" if getattr(module, "_native", None) is not None else "Python path"


def farm_texts(feeds: int) -> list[Text]:
    found: list[Text] = []
    with tempfile.TemporaryDirectory() as folder:
        build_farm(Path(folder), feeds, 50)
        for path in sorted(Path(folder).iterdir()):
            url = f"http://127.0.0.1/{path.name}"
            source = SourceConfig(name=path.stem, url=url)
            for article in normalize_feed(parse(path.read_bytes(), url), path.stem, url, NOW):
                if stored(source, article):
                    found.append((article.title, article.summary, article.content))
    return found


def outlet_texts() -> list[Text]:
    pairs = [*story_corpus.build("tuning"), *story_corpus.build("held-out"), *dedupe_quality.build_corpus()]
    docs = {(doc.title, doc.body) for pair in pairs for doc in (pair.a, pair.b)}
    return [(title, "", body) for title, body in sorted(docs)]


def corpus_texts() -> list[Text]:
    found: list[Text] = []
    for path in sorted(corpus_path("feeds").rglob("*")):
        url = f"http://127.0.0.1/{path.name}"
        try:
            articles = normalize_feed(parse(path.read_bytes(), url), "s", url, NOW) if path.is_file() else []
        except Exception:  # the corpus holds deliberately broken feeds
            continue
        found.extend((a.title, a.summary, a.content) for a in articles)
    with corpus_path("dedupe/sts-headlines-train.tsv").open(encoding="utf-8", newline="") as handle:
        for row in list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
            found.extend([(row[5], "", ""), (row[6], "", "")])
    for path in sorted(corpus_path("fulltext/html").rglob("*")):
        if path.is_file():
            found.append((path.stem, "", path.read_text(encoding="utf-8", errors="replace")))
    return found


def spliced(texts: Sequence[Text], count: int, rng: random.Random) -> list[Text]:
    found: list[Text] = []
    for _ in range(count):
        title, summary, content = rng.choice(texts)
        body = content or summary
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(body) + 1)
            splice = rng.choice(["", " ", "\n"]) + rng.choice(SPLICES) + rng.choice(["", " ", "\n"])
            body = body[:at] + splice + body[at:]
        found.append((f"{title} {rng.choice(SPLICES)}", "", body))
    return found


def adversarial() -> list[Text]:
    """Each ADVERSARIAL text as a title and as a body, alone and around an ordinary text."""
    found: list[Text] = []
    ordinary = "The council met on Monday and the vote was close, 1,000 people said."
    for text in ADVERSARIAL:
        found += [(text, "", text), ("", text, ""), (text, "", f"{text} {ordinary} {text}"), (ordinary, text, "")]
    return found


def digest(fingerprint: object) -> bytes:
    """Every field, arrays by their bytes, sets and mappings in order."""
    fields = (
        sorted(fingerprint.title_words),  # type: ignore[attr-defined]
        sorted(fingerprint.words),  # type: ignore[attr-defined]
        sorted(fingerprint.figures.items()),  # type: ignore[attr-defined]
        fingerprint.lead_words,  # type: ignore[attr-defined]
        fingerprint.title_figures,  # type: ignore[attr-defined]
        fingerprint.length,  # type: ignore[attr-defined]
        sorted(fingerprint.keys),  # type: ignore[attr-defined]
    )
    made = hashlib.sha256(repr(fields).encode())
    made.update(fingerprint.shingles.tobytes())  # type: ignore[attr-defined]
    made.update(fingerprint.opening.tobytes())  # type: ignore[attr-defined]
    return made.digest()


def cost(modules: dict[str, ModuleType], texts: Sequence[Text], rounds: int) -> dict[str, list[float]]:
    """Process seconds per text of each module's of_entry, each round's, alternating."""
    found: dict[str, list[float]] = {name: [] for name in modules}
    for n in range(rounds):
        order = list(modules.items())
        for name, module in order if n % 2 == 0 else reversed(order):
            of_entry = module.of_entry
            started = time.process_time()
            for text in texts:
                of_entry(*text)
            found[name].append((time.process_time() - started) / len(texts))
    return found


def described(seconds: list[float]) -> str:
    """The median µs, and the range of the rounds."""
    return f"{statistics.median(seconds) * 1e6:6.1f} µs ({min(seconds) * 1e6:.1f}–{max(seconds) * 1e6:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout's stories/fingerprint.py")
    parser.add_argument("--native", action="store_true", help="this checkout's Python path against its C extension")
    parser.add_argument(
        "--path",
        choices=("python", "native"),
        default="python",
        help="with --baseline: this checkout's path (the baseline always runs its Python path)",
    )
    parser.add_argument("--feeds", type=int, default=100, help="farm feeds of 50 entries")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--spliced", type=int, default=3000, help="texts with special material spliced in")
    args = parser.parse_args()
    if args.native == bool(args.baseline):
        parser.error("give --baseline or --native")
    if (args.native or args.path == "native") and this._native is None:
        raise SystemExit(f"this checkout does not run its C extension: {this.fingerprint_path()}")
    if args.native:
        python_path = load(Path(this.__file__))
        python_path._native = None
        modules = {"baseline": python_path, "this": this}
        names = ("Python path", "C extension")
    else:
        modules = {"baseline": load(args.baseline), "this": this}
        names = ("baseline", "this checkout")
        if hasattr(modules["baseline"], "_native"):
            modules["baseline"]._native = None
        if args.path == "python":
            this._native = None
    for name, module in zip(names, modules.values(), strict=True):
        print(f"{name}: {module.__file__}, {path_of(module)}")
    farm, outlet = farm_texts(args.feeds), outlet_texts()
    everything = [*farm, *outlet, *corpus_texts()]
    everything += spliced(everything, args.spliced, random.Random(1))
    everything += adversarial()
    differ = 0
    total = hashlib.sha256()
    for text in everything:
        mine = digest(this.of_entry(*text))
        total.update(mine)
        if digest(modules["baseline"].of_entry(*text)) != mine:
            differ += 1
            if differ <= 3:
                print(f"  differs: {text[0][:60]!r}")
    summary = f"{len(everything):,} texts, {differ} fingerprints differ"
    print(f"identity: {summary}; digest of this checkout's {total.hexdigest()[:16]}")
    load_before = os.getloadavg()[0]
    for label, texts in (("farm", farm), ("outlet corpus", outlet)):
        per_text = cost(modules, texts, args.rounds)
        base, mine = per_text["baseline"], per_text["this"]
        change = statistics.median(mine) / statistics.median(base) - 1
        print(
            f"{label:14s} {len(texts):5d} texts: {names[0]} {described(base)}, {names[1]} {described(mine)}"
            f" ({change:+.0%})"
        )
    print(f"load average {load_before:.1f} before timing, {os.getloadavg()[0]:.1f} after")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
