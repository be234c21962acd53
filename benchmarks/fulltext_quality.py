"""Full-text extraction quality and cost on the corpus's article-extraction benchmark.

181 real article pages with their bodies as people marked them (``fulltext/``). Each page
goes through ``ingest.fulltext.extract`` (trafilatura, then nh3), its text is compared with
the marked body by the benchmark's own method: the 4-word sequences both hold, counted with
multiplicity; precision and recall are averaged over the pages and F1 taken from the averages.
CPU time is the whole extraction's, sanitizing included (the page is already read and
decompressed). Beside it, in the same run, passes along each path alternating, the plain
call it replaced: ``trafilatura.extract`` with the same options, then the same nh3 sanitizing.

Memory, each in a fresh interpreter: what importing ``ingest.fulltext`` adds to a process
holding newsriver's polling modules, and to one that has also published (lxml, nh3 and
feedgen loaded, as in the service after its first pass); what such a process holds more
after extracting every page, along each path; and that the polling modules alone do not
import trafilatura (a pass without a ``full_text`` source does not either: tests).

    python benchmarks/fulltext_quality.py [--rounds N]

Targets (issue 21): F1 ≥ 0.95, no crash, ≤ 3 pages below 0.5, ≤ 25 ms median and ≤ 60 ms
p95 CPU a page, ≤ 10 MB added to the polling process at import.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura
from bench import corpus_path, print_table

from newsriver.ingest.fulltext import EXTRACTION, extract
from newsriver.ingest.sanitize import clean_html, to_text

SHINGLE = 4
_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str) -> Counter[tuple[str, ...]]:
    """The benchmark's 4-word sequences of ``text`` (all of it, for a text shorter than four words)."""
    tokens = _TOKEN.findall(text)
    n = min(len(tokens), SHINGLE)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def precision_recall(true: str, found: str) -> tuple[float, float]:
    expected, got = shingles(true), shingles(found)
    common = sum((expected & got).values())
    precision = common / sum(got.values()) if got else (1.0 if not expected else 0.0)
    recall = common / sum(expected.values()) if expected else 1.0
    return precision, recall


def f1_of(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def plain(page: bytes, url: str) -> str:
    """The extraction as newsriver first called it: trafilatura.extract, then nh3."""
    body = trafilatura.extract(page, url=url, **EXTRACTION)
    return clean_html(body, url).strip() if body else ""


PATHS: dict[str, Callable[[bytes, str], str]] = {"newsriver": extract, "plain trafilatura.extract": plain}


def pages() -> list[tuple[str, bytes, str, str]]:
    """(page id, page, its URL, the body people marked) for every page of the corpus."""
    truth = json.loads(corpus_path("fulltext/ground-truth.json").read_text(encoding="utf-8"))
    return [
        (page_id, gzip.decompress(corpus_path(f"fulltext/html/{page_id}.html.gz").read_bytes()), marked.get("url", ""),
         marked["articleBody"])
        for page_id, marked in sorted(truth.items())
    ]  # fmt: skip


_RESIDENT = "[int(line.split()[1]) / 1024 for line in open('/proc/self/status') if line[:6] in ('VmRSS:', 'RssFil')]"
# A fresh interpreter: resident MB and MB of mapped files (shared libraries) after the imports
# of argv[2], after importing ingest.fulltext, after reading the corpus, after extracting
# every page along the path named by argv[1].
MEMORY_PROBE = f"""
import gc, json, sys
exec(sys.argv[2])
steps = [{_RESIDENT}]
import newsriver.ingest.fulltext
steps.append({_RESIDENT})
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from fulltext_quality import PATHS, pages
corpus = pages()
steps.append({_RESIDENT})
for _, page, url, _ in corpus:
    PATHS[sys.argv[1]](page, url)
gc.collect()
steps.append({_RESIDENT})
print(json.dumps(steps))
"""
POLLING = "import newsriver.cli, newsriver.run.poll, newsriver.store.store"
# What a pass that publishes has imported besides (lxml, nh3, feedgen): the polling process
# of the service, or of `poll`, once it has published.
PUBLISHED = f"{POLLING}, newsriver.publish.render_feedgen, newsriver.publish.render_rss, newsriver.ingest.sanitize"


def memory(path: str, before: str) -> tuple[str, str]:
    """MB resident added by importing ingest.fulltext after ``before``, and held more after
    extracting every page along ``path``; each with the MB of mapped files in it."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, path, before], check=True, capture_output=True, text=True
    )
    start, imported, read, extracted = json.loads(done.stdout)
    return (
        f"{imported[0] - start[0]:.1f} ({imported[1] - start[1]:.1f})",
        f"{extracted[0] - read[0]:.1f} ({extracted[1] - read[1]:.1f})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="passes along each path; a page's CPU is its median")
    args = parser.parse_args()
    corpus = pages()
    names = list(PATHS)
    bodies: dict[str, dict[str, str]] = {name: {} for name in names}
    cpu_ms: dict[str, list[list[float]]] = {name: [[] for _ in corpus] for name in names}
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    for round_ in range(args.rounds):
        # A whole pass along one path, then along the other (first the other way round in the
        # next round): page by page, the second path would find the first's caches warm for
        # the very page (trafilatura keeps some), which a page extracted once never does.
        for name in names if round_ % 2 == 0 else names[::-1]:
            for index, (page_id, page, url, _) in enumerate(corpus):
                start = time.process_time()
                bodies[name][page_id] = PATHS[name](page, url)
                cpu_ms[name][index].append((time.process_time() - start) * 1000)
    print(f"load average {os.getloadavg()[0]:.2f} at end")

    print(f"\n{len(corpus)} pages, 4-word sequences, CPU a page (its median of {args.rounds} passes):")
    rows = []
    scores: dict[str, dict[str, tuple[float, float]]] = {}
    for name in names:
        scores[name] = {pid: precision_recall(marked, to_text(bodies[name][pid])) for pid, _, _, marked in corpus}
        precision = statistics.fmean(p for p, _ in scores[name].values())
        recall = statistics.fmean(r for _, r in scores[name].values())
        f1 = f1_of(precision, recall)
        below = sum(1 for p, r in scores[name].values() if f1_of(p, r) < 0.5)
        per_page = [statistics.median(times) for times in cpu_ms[name]]
        median, p95 = statistics.median(per_page), statistics.quantiles(per_page, n=20)[-1]
        rows.append((name, f"{f1:.3f}", f"{precision:.3f}", f"{recall:.3f}", below, f"{median:.1f}", f"{p95:.1f}"))
    print_table(("path", "F1", "precision", "recall", "below 0.5", "CPU ms median", "CPU ms p95"), rows)
    same = sum(to_text(bodies[names[0]][pid]) == to_text(bodies[names[1]][pid]) for pid, _, _, _ in corpus)
    print(f"the same text along both paths: {same} of {len(corpus)} pages")

    low = sorted((f1_of(p, r), page_id) for page_id, (p, r) in scores[names[0]].items())
    truth = {page_id: url for page_id, _, url, _ in corpus}
    below = [(f"{score:.3f}", page_id[:16], truth[page_id][:70]) for score, page_id in low if score < 0.5]
    print(f"\npages below F1 0.5 ({names[0]}): {len(below)}")
    if below:
        print_table(("F1", "page", "url"), below)

    print("\nMB resident added to a process (of it mapped files, shared libraries):")
    imported, held = memory(names[0], POLLING)
    rows = [("importing ingest.fulltext after the polling modules", imported)]
    rows.append(("importing ingest.fulltext after a publishing pass's modules", memory(names[0], PUBLISHED)[0]))
    rows.append((f"then extracting every page, {names[0]}", held))
    rows.append((f"then extracting every page, {names[1]}", memory(names[1], POLLING)[1]))
    print_table(("", "MB"), rows)
    polled = subprocess.run(
        [sys.executable, "-c", f"import sys; {POLLING}; print('trafilatura' in sys.modules)"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    print(f"the polling modules import trafilatura: {polled.stdout.strip()}")


if __name__ == "__main__":
    main()
