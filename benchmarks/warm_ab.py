"""A warm pass (every feed answers 304) of newsriver's code from several source trees, in turns.

    .venv/bin/python benchmarks/warm_ab.py --feeds 1000 --rounds 9 \\
        main=/path/to/main/src branch=src

One farm of ``--feeds`` feeds served by nginx; one cold ``poll`` into a database made by the
first tree; a copy of that database (and its output folder) per tree, so no tree's pass
changes what another's reads, and one warm pass of each, not counted (it publishes again:
the stamp holds the output folder). Then ``--rounds`` rounds, each running one warm ``poll`` of
every tree in turn (``PYTHONPATH`` set to the tree), so a change in the machine's load
touches every tree alike. Printed: each pass's CPU (user + system of the process and its
children) and peak RSS (VmHWM), then the median and spread per tree. CPU moves far less
than wall time on a loaded machine: it is the figure to compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import (
    build_farm,
    compile_newsriver,
    load_average,
    measure_process,
    newsriver_config,
    nginx,
    tree_fingerprint_path,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", help="NAME=SRC: a name and the folder holding its newsriver package")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--settings", default="  concurrency: 16\n  host_concurrency: 16\n")
    args = parser.parse_args()
    trees = dict(tree.split("=", 1) for tree in args.trees)
    for src in trees.values():
        # As installing from a wheel does: no tree pays for compiling its modules at start.
        compile_newsriver(Path(src))
    for name, src in trees.items():
        env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
        print(f"{name}: {src}, fingerprints by the {tree_fingerprint_path(env)}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="warm-ab-"))
    work.chmod(0o755)
    root = work / "farm"
    root.mkdir()
    build_farm(root, args.feeds, args.entries)
    with nginx(root, work) as base:
        urls = [f"{base}f{f}.xml" for f in range(args.feeds)]
        first = next(iter(trees))
        cold = work / "cold"
        cold.mkdir()
        newsriver_config(cold, urls, args.settings)
        run = measure_process(*_poll(cold, trees[first]))
        print(f"cold pass ({first}): {run.seconds:.1f} s, CPU {run.cpu_seconds:.2f} s", flush=True)
        for name in trees:
            folder = work / name
            shutil.copytree(cold, folder)
            (folder / "newsriver.yaml").unlink()
            newsriver_config(folder, urls, args.settings)  # its own database and output
            # Not counted: the first pass publishes again (the stamp holds the output folder).
            measure_process(*_poll(folder, trees[name]))
        cpu: dict[str, list[float]] = {name: [] for name in trees}
        rss: dict[str, list[float]] = {name: [] for name in trees}
        for number in range(args.rounds):
            line = []
            for name, src in trees.items():
                run = measure_process(*_poll(work / name, src))
                cpu[name].append(run.cpu_seconds)
                rss[name].append(run.peak_rss_mb)
                line.append(f"{name} {run.cpu_seconds:.3f} s {run.peak_rss_mb:.1f} MB")
            print(f"round {number + 1}: " + ", ".join(line) + f" ({load_average()})", flush=True)
    print()
    for name in trees:
        c, r = sorted(cpu[name]), sorted(rss[name])
        print(
            f"{name:<12} CPU median {statistics.median(c):.3f} s ({c[0]:.3f}–{c[-1]:.3f}), "
            f"peak RSS median {statistics.median(r):.1f} MB ({r[0]:.1f}–{r[-1]:.1f})"
        )
    shutil.rmtree(work, ignore_errors=True)


def _poll(folder: Path, src: str) -> tuple[list[str], dict[str, str], Path]:
    command = [sys.executable, "-m", "newsriver.cli", "--config", str(folder / "newsriver.yaml"), "poll"]
    return command, {"PYTHONPATH": os.path.abspath(src)}, folder


if __name__ == "__main__":
    main()
