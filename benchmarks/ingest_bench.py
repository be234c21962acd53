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
every process it started (see bench.measure_process); "CPU s" their user + system time (the
warm scenario prints every pass's). Needs nginx, and reader in
a separate venv (made on first use at ``--reader-venv``; reader's dependencies must not
mix with ours).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench import (
    Run,
    build_farm,
    churn,
    compile_newsriver,
    measure_process,
    newsriver_config,
    nginx,
    print_table,
    reader_python,
)

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

    compile_newsriver()
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
                    tries[name].append(measure_process(command, cwd=cwd))
            for name, measured in tries.items():
                runs[name, scenario] = sorted(measured, key=lambda r: r.seconds)[len(measured) // 2]
            print(
                f"  {scenario}: "
                + ", ".join(
                    f"{name} {runs[name, scenario].seconds:.1f} s"
                    + (f" (CPU {', '.join(f'{r.cpu_seconds:.2f}' for r in tries[name])} s)" if repeats > 1 else "")
                    for name in tools
                )
            )
        for name in tools:
            rows.append((name, "cold", runs[name, "cold"], total / runs[name, "cold"].seconds))
            rows.append((name, "warm (304)", runs[name, "warm (304)"], args.feeds / runs[name, "warm (304)"].seconds))
            rows.append((name, "churn", runs[name, "churn"], added / runs[name, "churn"].seconds))

    # Peak RSS is the main process's own (VmHWM); "all processes" sums the proportional set
    # size of it and every process it started (newsriver's parse workers), sampled.
    print()
    print_table(
        ("tool", "scenario", "seconds", "CPU s", "rate", "peak RSS", "all processes"),
        [
            (
                name,
                scenario,
                f"{run.seconds:.1f}",
                f"{run.cpu_seconds:.2f}",
                f"{rate:,.0f} {'feeds/s' if scenario.startswith('warm') else 'entries/s'}",
                f"{run.peak_rss_mb:.0f} MB",
                f"{run.peak_tree_mb:.0f} MB",
            )
            for name, scenario, run, rate in rows
        ],
        left=2,
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
        # The publish scenario is publish_bench.py's, run as its own process: newsriver alone
        # (reader publishes nothing), on a database of its own.
        print(flush=True)
        script = Path(__file__).with_name("publish_bench.py")
        command = [sys.executable, str(script), "--entries", str(args.publish_entries), "--runs", "7"]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
