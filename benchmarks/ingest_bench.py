"""Ingest speed of newsriver vs the `reader` library on the same local feed farm, in one run.

    .venv/bin/python benchmarks/ingest_bench.py --feeds 1000 --entries 50

The farm is N static feeds of M entries (half RSS 2.0, half Atom; realistic article
lengths; 10 % of stories syndicated into a second feed under another title and URL),
served by nginx with ETag and Last-Modified. Each tool runs in its own process with its
own fresh database, scenario by scenario, the tools in turn:

- cold: every entry is new;
- warm: nothing changed, every feed answers 304 (``--warm-runs N``: N passes per tool in
  turns, the median reported: a pass takes seconds, so the machine's noise weighs);
- churn: 10 % of feeds gained 5 entries;
- publish: a 100-item feed rendered with ``--publish-entries`` stored (see publish_bench.py).

reader runs with each worker count in ``--reader-workers`` and its best is compared.
Peak RSS is the tool process's own (VmHWM); "all processes" the peak summed PSS of it and
every process it started (see farm.measure). Needs nginx, and reader in
a separate venv (made on first use at ``--reader-venv``; reader's dependencies must not
mix with ours).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from farm import Run, measure, nginx

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
READER_SCRIPT = textwrap.dedent(
    """
    import sys
    from reader import make_reader
    db, workers, urls = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with make_reader(db) as reader:
        for url in open(urls).read().split():
            reader.add_feed(url, exist_ok=True)
        # scheduled=False: every feed, as newsriver's poll does; by default reader 3.x
        # updates only the feeds whose update interval has passed (none, on the warm run).
        reader.update_feeds(workers=workers, scheduled=False)
    """
)


def words() -> list[str]:
    text = (CORPUS / "articles" / "cartel-extradition.txt").read_text(encoding="utf-8")
    return [w for w in text.split() if w.isascii()] or ["news"]


def story(rng: random.Random, vocabulary: list[str]) -> tuple[str, str]:
    title = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 12))).capitalize()
    paragraphs = [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randint(40, 90))) for _ in range(rng.randint(3, 7))
    ]
    return title, "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def write_feed(path: Path, index: int, entries: list[tuple[str, str, str, datetime]]) -> None:
    if index % 2:
        items = "".join(
            f'<entry><title>{escape(title)}</title><id>{url}</id><link href="{url}"/>'
            f'<updated>{when.isoformat()}</updated><content type="html">{escape(body)}</content></entry>'
            for title, url, body, when in entries
        )
        path.write_text(
            f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>Feed {index}</title><id>urn:feed:{index}</id><link href="https://f{index}.example/"/>'
            f"<updated>{entries[0][3].isoformat()}</updated>{items}</feed>",
            encoding="utf-8",
        )
    else:
        items = "".join(
            f"<item><title>{escape(title)}</title><link>{url}</link><guid>{url}</guid>"
            f"<pubDate>{format_datetime(when)}</pubDate><description>{escape(body)}</description></item>"
            for title, url, body, when in entries
        )
        path.write_text(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {index}</title>'
            f"<link>https://f{index}.example/</link><description>d</description>{items}</channel></rss>",
            encoding="utf-8",
        )


def build_farm(root: Path, feeds: int, per_feed: int, seed: int = 5) -> dict[int, list[tuple[str, str, str, datetime]]]:
    rng = random.Random(seed)
    vocabulary = words()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    farm: dict[int, list[tuple[str, str, str, datetime]]] = {}
    for f in range(feeds):
        entries = []
        for e in range(per_feed):
            title, body = story(rng, vocabulary)
            entries.append((title, f"https://f{f}.example/story/{e}", body, start + timedelta(minutes=7 * e + f)))
        farm[f] = entries
    # Syndication: 10 % of stories also run in another feed, retitled, under that feed's URL.
    for f in range(feeds):
        for e in range(0, per_feed, 10):
            other = (f + 1 + rng.randrange(max(feeds - 1, 1))) % feeds
            title, _, body, when = farm[f][e]
            farm[other][e] = (f"{title} (syndicated)", f"https://f{other}.example/story/{e}", body, when)
    for f, entries in farm.items():
        write_feed(root / f"f{f}.xml", f, sorted(entries, key=lambda x: x[3], reverse=True))
    return farm


def churn(root: Path, farm: dict[int, list[tuple[str, str, str, datetime]]], seed: int = 9) -> int:
    """Add 5 entries to 10 % of the feeds; returns how many entries were added."""
    rng = random.Random(seed)
    vocabulary = words()
    changed = rng.sample(sorted(farm), max(1, len(farm) // 10))
    for f in changed:
        newest = max(e[3] for e in farm[f])
        for n in range(5):
            title, body = story(rng, vocabulary)
            farm[f].append((title, f"https://f{f}.example/new/{n}", body, newest + timedelta(minutes=n + 1)))
        write_feed(root / f"f{f}.xml", f, sorted(farm[f], key=lambda x: x[3], reverse=True))
    return 5 * len(changed)


def reader_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "reader", "sgmllib3k"], check=True)
    return python


def newsriver_config(work: Path, urls: list[str], settings: str) -> Path:
    sources = "".join(f"  - {{name: f{n}, url: '{url}'}}\n" for n, url in enumerate(urls))
    config = work / "newsriver.yaml"
    config.write_text(
        f"settings:\n  database: sqlite:///{work / 'newsriver.db'}\n  output_dir: {work / 'out'}\n"
        f"{settings}sources:\n{sources}"
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--reader-workers", default="4,16", help="comma-separated worker counts to try")
    parser.add_argument("--reader-venv", type=Path, default=Path(tempfile.gettempdir()) / "newsriver-bench-reader")
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument(
        "--warm-runs",
        type=int,
        default=1,
        help="warm passes per tool, taken in turns; the median is reported (a pass takes seconds, so noise weighs)",
    )
    parser.add_argument(
        "--publish-entries", type=int, default=1_000_000, help="entries stored for the publish scenario (0: skip it)"
    )
    # The farm is one host (127.0.0.1) and reader has no per-host limit: newsriver's
    # host_concurrency (default 2, a politeness rule for real hosts) is raised to match.
    parser.add_argument(
        "--settings",
        default="  concurrency: 16\n  host_concurrency: 16\n",
        help="extra YAML lines under settings: for newsriver",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    root = work / "farm"
    root.mkdir()
    farm = build_farm(root, args.feeds, args.entries)
    total = args.feeds * args.entries
    size = sum(p.stat().st_size for p in root.iterdir())
    print(f"farm: {args.feeds} feeds × {args.entries} entries = {total:,} entries, {size / 2**20:.1f} MiB, nginx")

    rows: list[tuple[str, str, Run, float]] = []
    with nginx(root, work) as base:
        urls = [f"{base}f{f}.xml" for f in range(args.feeds)]
        (work / "urls.txt").write_text("\n".join(urls))
        tools: dict[str, tuple[list[str], Path]] = {}
        mine = work / "newsriver"
        mine.mkdir()
        tools["newsriver"] = (
            [
                sys.executable,
                "-m",
                "newsriver.cli",
                "--config",
                str(newsriver_config(mine, urls, args.settings)),
                "poll",
            ],
            mine,
        )
        if not args.skip_reader:
            python = reader_python(args.reader_venv)
            (work / "reader_update.py").write_text(READER_SCRIPT)
            for workers in (int(w) for w in args.reader_workers.split(",")):
                tools[f"reader w={workers}"] = (
                    [
                        str(python),
                        str(work / "reader_update.py"),
                        str(work / f"reader-{workers}.db"),
                        str(workers),
                        str(work / "urls.txt"),
                    ],
                    work,
                )
        # Scenario by scenario, each tool in turn on the same farm (each with its own
        # database), so a change in the machine's load touches both tools alike.
        runs: dict[tuple[str, str], Run] = {}
        for scenario in ("cold", "warm (304)", "churn"):
            if scenario == "churn":
                added = churn(root, farm)
            repeats = max(args.warm_runs, 1) if scenario.startswith("warm") else 1
            tries: dict[str, list[Run]] = {name: [] for name in tools}
            for _ in range(repeats):
                for name, (command, cwd) in tools.items():
                    tries[name].append(measure(command, cwd=cwd))
            for name, measured in tries.items():
                runs[name, scenario] = sorted(measured, key=lambda r: r.seconds)[len(measured) // 2]
            print(f"  {scenario}: " + ", ".join(f"{name} {runs[name, scenario].seconds:.1f} s" for name in tools))
        for name in tools:
            rows.append((name, "cold", runs[name, "cold"], total / runs[name, "cold"].seconds))
            rows.append((name, "warm (304)", runs[name, "warm (304)"], args.feeds / runs[name, "warm (304)"].seconds))
            rows.append((name, "churn", runs[name, "churn"], added / runs[name, "churn"].seconds))

    # Peak RSS is the main process's own (VmHWM); "all processes" sums the proportional set
    # size of it and every process it started (newsriver's parse workers), sampled.
    print(f"\n{'tool':<14} {'scenario':<11} {'seconds':>8} {'rate':>19} {'peak RSS':>9} {'all processes':>14}")
    for name, scenario, run, rate in rows:
        unit = "feeds/s" if scenario.startswith("warm") else "entries/s"
        print(
            f"{name:<14} {scenario:<11} {run.seconds:>8.1f} {rate:>9,.0f} {unit:<9} "
            f"{run.peak_rss_mb:>6.0f} MB {run.peak_tree_mb:>11.0f} MB"
        )
    readers = [r for r in rows if r[0].startswith("reader")]
    if readers:
        print()
        for scenario in ("cold", "warm (304)", "churn"):
            ours = next(r for r in rows if r[0] == "newsriver" and r[1] == scenario)
            best = max((r for r in readers if r[1] == scenario), key=lambda r: r[3])
            print(
                f"{scenario:<11} newsriver/reader ({best[0]}): {ours[3] / best[3]:.2f}× rate, "
                f"peak RSS {ours[2].peak_rss_mb:.0f} vs {best[2].peak_rss_mb:.0f} MB, "
                f"all processes {ours[2].peak_tree_mb:.0f} vs {best[2].peak_tree_mb:.0f} MB"
            )
    if args.publish_entries:
        print()
        publish_scenario(args.publish_entries)


def publish_scenario(entries: int) -> None:
    """The publish scenario: see publish_bench.py (newsriver alone: reader publishes nothing)."""
    import publish_bench

    with tempfile.TemporaryDirectory(prefix="publish-bench-") as tmp:
        store = publish_bench.Store(f"sqlite:///{Path(tmp) / 'publish.db'}")
        try:
            publish_bench.populate(store, entries, random.Random(3))
            print(f"publish: a 100-item feed with {entries:,} entries stored (SQLite), median of 7")
            for what, ms in publish_bench.measure(store, 7):
                print(f"  {what:<52} {ms:8.1f} ms")
        finally:
            store.close()


if __name__ == "__main__":
    main()
