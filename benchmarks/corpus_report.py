"""The real-world corpora through the whole pipeline: how much went in, and what came out valid.

Run from the repository root: ``.venv/bin/python benchmarks/corpus_report.py``.

Every file under the corpus's ``feeds/`` (``NEWSRIVER_CORPUS``, else ``../shared/corpus``) is
parsed, normalized, stored in SQLite and published as Atom, RSS and JSON Feed, exactly as
``tests/test_corpus.py`` does; then every published file is validated (RFC 4287 RELAX NG,
RSS 2.0 rules, JSON Feed 1.1 schema, re-parsing) and scanned for anything dangerous. Prints
the counts, by corpus, and the time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from bench import corpus_path, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpus import chunks, feed_info, run_chunk
from tests.feedcheck import format_problems, output_dangers


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    corpus_path("feeds")  # stops here, with the reason, when there is no corpus
    started = time.perf_counter()
    runs = [run for chunk_id in chunks() for run in run_chunk(chunk_id).files]
    crashes = sum(len(run_chunk(chunk_id).crashes) for chunk_id in chunks())
    pipeline = time.perf_counter() - started

    started = time.perf_counter()
    files: Counter[str] = Counter()
    feeds: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    outputs = invalid = dangerous = 0
    for run in runs:
        corpus = run.name.split("/")[0]
        files[corpus] += 1
        if run.parse_error:
            continue
        feeds[corpus] += 1
        entries[corpus] += len(run.articles)
        for fmt, data in run.outputs:
            outputs += 1
            invalid += bool(format_problems(fmt, data, feed_info(run.source).url("rss")))
            dangerous += bool(output_dangers(fmt, data))
    checking = time.perf_counter() - started

    rows = [(name, files[name], feeds[name], files[name] - feeds[name], entries[name]) for name in sorted(files)]
    total_files, total_feeds = sum(files.values()), sum(feeds.values())
    rows.append(("total", total_files, total_feeds, total_files - total_feeds, sum(entries.values())))
    print_table(("corpus", "files", "feeds", "not feeds", "entries"), rows)
    print(f"exceptions other than ParseError: {crashes}")
    print(f"published files: {outputs} (atom, rss, json per feed); invalid: {invalid}; dangerous: {dangerous}")
    sanitize = sum(1 for r in runs if "/sanitize/" in r.name)
    print(f"injection cases among them (feedparser wellformed/sanitize): {sanitize} feeds")
    print(f"time: pipeline {pipeline:.1f} s, validation and scan {checking:.1f} s")
    return 1 if crashes or invalid or dangerous else 0


if __name__ == "__main__":
    raise SystemExit(main())
