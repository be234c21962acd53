"""What the service's claims cost as sources grow, for newsriver's code from several source trees, in turns.

    .venv/bin/python benchmarks/claim_cost.py --sources 1000 10000 --rounds 5 \\
        main=/path/to/main/src branch=src

For each ``--sources`` count, each tree makes a SQLite database of its own (its own schema)
holding that many sources on 20 hosts, and then, in a process of its own (``PYTHONPATH`` set
to the tree), measures the CPU of what a service's tick asks of the store before it polls:
a claim of 64 due sources and their release (``Coordinator.claim``/``release``, as
``Service._poll_due`` does a batch at a time), the source rows the pass reads for them
(``Sources.rows``), every source's row (what a publish reads) and ``Coordinator.due_by``
(a publish's question), with every source due (a round starting) and none due (an idle tick
between rounds). The trees run in turns,
``--rounds`` times; printed: the median CPU per call and the spread over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from bench import compile_newsriver, load_average, print_table

# Run by each tree's Python: "make" fills a database, "measure" prints the CPU per call (µs).
CHILD = textwrap.dedent(
    """
    import json, sys, time
    from datetime import UTC, datetime, timedelta
    from newsriver.store.coordination import Coordinator
    from newsriver.store.store import Store

    action, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store(url)
    names = [f"s{n:05}" for n in range(count)]
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    if action == "make":
        store.sources.sync((name, f"http://h{n % 20}.example/{name}.xml") for n, name in enumerate(names))
        # Due over a minute, as a round's polls leave them.
        due = [(name, {"next_poll": start + timedelta(milliseconds=6 * n)}) for n, name in enumerate(names)]
        store.sources.update_many(due)
        sys.exit()
    wanted, lease = set(names), timedelta(minutes=10)
    coordinator = Coordinator(store, "all")

    def cpu(call, repeat):
        call()  # the connection's caches warm
        began = time.thread_time()
        for _ in range(repeat):
            call()
        return (time.thread_time() - began) / repeat * 1e6

    def claimed(at):
        coordinator.release(coordinator.claim(wanted, at, 64, 64, lease))

    figures = {}
    for state, at in (("all due", start + timedelta(hours=1)), ("none due", start - timedelta(hours=1))):
        figures[f"claim 64 + release, {state}"] = cpu(lambda: claimed(at), 20)
        figures[f"due_by, {state}"] = cpu(lambda: coordinator.due_by(wanted, at), 20)
    figures["rows of 64 sources"] = cpu(lambda: store.sources.rows(names[:64]), 20)
    figures["rows of every source (a publish's)"] = cpu(store.sources.rows, 5)
    print(json.dumps(figures))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", help="NAME=SRC: a name and the folder holding its newsriver package")
    parser.add_argument("--sources", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trees = dict(tree.split("=", 1) for tree in args.trees)
    for src in trees.values():
        compile_newsriver(Path(src))
    work = Path(tempfile.mkdtemp(prefix="claim-cost-"))

    def child(src: str, *argv: str) -> str:
        env = os.environ | {"PYTHONPATH": os.path.abspath(src)}
        done = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        return done.stdout

    for count in args.sources:
        urls = {name: f"sqlite:///{work / f'{name}-{count}.db'}" for name in trees}
        for name, src in trees.items():
            child(src, "make", urls[name], str(count))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, src in trees.items():
                runs[name].append(json.loads(child(src, "measure", urls[name], str(count))))
        print(f"\n{count:,} sources, {args.rounds} rounds in turns, {load_average()}")
        parts = list(next(iter(runs.values()))[0])
        rows = []
        for part in parts:
            row = [part]
            for name in trees:
                values = [run[part] for run in runs[name]]
                row.append(f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})")
            rows.append(row)
        print_table(("µs of CPU a call (median, range)", *trees), rows)


if __name__ == "__main__":
    main()
