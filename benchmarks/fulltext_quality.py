"""Full-text extraction quality and cost on the corpus's article-extraction benchmark.

181 real article pages with their bodies as people marked them (``fulltext/``). Each page
goes through ``ingest.fulltext.extract`` (trafilatura, then nh3), its text is compared with
the marked body by the benchmark's own method: the 4-word sequences both hold, counted with
multiplicity; precision and recall are averaged over the pages and F1 taken from the averages.
CPU time is the extraction's alone (the page is already read and decompressed).

    python benchmarks/fulltext_quality.py

Targets (issue 21): F1 ≥ 0.95, no crash, ≤ 3 pages below 0.5, ≤ 25 ms median and ≤ 60 ms
p95 CPU a page.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import time
from collections import Counter

from bench import corpus_path, print_table

from newsriver.ingest.fulltext import extract
from newsriver.ingest.sanitize import to_text

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


def main() -> None:
    truth = json.loads(corpus_path("fulltext/ground-truth.json").read_text(encoding="utf-8"))
    scores: dict[str, tuple[float, float]] = {}
    cpu_ms: list[float] = []
    for page_id, marked in sorted(truth.items()):
        page = gzip.decompress(corpus_path(f"fulltext/html/{page_id}.html.gz").read_bytes())
        start = time.process_time()
        body = extract(page, marked.get("url", ""))
        cpu_ms.append((time.process_time() - start) * 1000)
        scores[page_id] = precision_recall(marked["articleBody"], to_text(body))
    precision = statistics.fmean(p for p, _ in scores.values())
    recall = statistics.fmean(r for _, r in scores.values())
    f1 = 2 * precision * recall / (precision + recall)
    p95 = statistics.quantiles(cpu_ms, n=20)[-1]
    print(f"{len(scores)} pages, 4-word sequences")
    print_table(
        ("F1", "precision", "recall", "CPU ms median", "CPU ms p95"),
        [(f"{f1:.3f}", f"{precision:.3f}", f"{recall:.3f}", f"{statistics.median(cpu_ms):.1f}", f"{p95:.1f}")],
    )
    low = sorted((2 * p * r / (p + r) if p + r else 0.0, page_id) for page_id, (p, r) in scores.items())
    below = [
        (f"{score:.3f}", page_id[:16], truth[page_id].get("url", "")[:70]) for score, page_id in low if score < 0.5
    ]
    print(f"\npages below F1 0.5: {len(below)}")
    if below:
        print_table(("F1", "page", "url"), below)


if __name__ == "__main__":
    main()
