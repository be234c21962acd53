"""CPU of a churn pass (10 % of feeds gain 5 entries), this checkout against another, in one run.

    .venv/bin/python benchmarks/churn_cpu.py --other /work/main/.venv/bin/python --feeds 1000 --entries 50

ingest_bench.py's churn figure is wall time, which a shared machine's load moves by more
than a change to the digest stage does. This counts CPU seconds instead: each ``newsriver
poll`` is a child of this process, and its CPU with that of every process under it that was
reaped (its parse workers, their forkserver) is read from ``RUSAGE_CHILDREN`` before and
after. Both checkouts poll the same farm (ingest_bench's, served by nginx) into their own
database: a cold pass first (not measured), then ``--rounds`` churn rounds, each with new
entries in another 10 % of the feeds, the two polling in turns (who goes first alternates).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import _tree, build_farm, churn, compile_newsriver, newsriver_config, nginx

SETTINGS = "  concurrency: 16\n  host_concurrency: 16\n"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu(pid: int) -> float:
    """The CPU seconds ``pid`` itself has used so far (not its children's); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return sum(int(f) for f in stat.rpartition(")")[2].split()[11:13]) / os.sysconf("SC_CLK_TCK")


def poll(python: str, config: Path) -> tuple[float, float]:
    """CPU seconds of one ``newsriver poll`` itself, and of the processes it started."""
    before = children_cpu()
    process = subprocess.Popen(
        [python, "-m", "newsriver.cli", "--config", str(config), "poll"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The parse workers are the forkserver's children, and the forkserver is not waited for
    # when the poll exits: their CPU never reaches RUSAGE_CHILDREN. Each is read while it
    # runs (every 20 ms: a worker lives the whole pass, so little is lost).
    descendants: dict[int, float] = {}
    while process.poll() is None:
        for pid in _tree(process.pid)[1:]:
            descendants[pid] = max(descendants.get(pid, 0.0), own_cpu(pid))
        time.sleep(0.02)
    if process.returncode:
        raise SystemExit(f"newsriver poll failed ({process.returncode})")
    return children_cpu() - before, sum(descendants.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", required=True, help="the python of the other checkout's venv")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    compile_newsriver()
    subprocess.run([args.other, "-c", "import compileall, newsriver, os; compileall.compile_dir("
                    "os.path.dirname(newsriver.__file__), quiet=1)"], check=True)  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="churn-cpu-"))
    root = work / "farm"
    root.mkdir()
    farm = build_farm(root, args.feeds, args.entries)
    tools = {"this": sys.executable, "other": args.other}
    print(f"farm: {args.feeds} feeds × {args.entries} entries; this: {sys.executable}, other: {args.other}")
    with nginx(root, work) as base:
        urls = [f"{base}f{f}.xml" for f in range(args.feeds)]
        configs = {}
        for name in tools:
            (work / name).mkdir()
            configs[name] = newsriver_config(work / name, urls, SETTINGS)
        for name, python in tools.items():
            main, workers = poll(python, configs[name])
            print(f"  cold {name}: {main + workers:.2f} CPU s ({workers:.2f} of it the processes it started)")
        totals = dict.fromkeys(tools, 0.0)
        started = dict.fromkeys(tools, 0.0)
        added = 0
        for round_ in range(args.rounds):
            added += churn(root, farm, seed=100 + round_, tag=f"r{round_}")
            order = list(tools) if round_ % 2 == 0 else list(reversed(tools))
            measured = {name: poll(tools[name], configs[name]) for name in order}
            for name, (main, workers) in measured.items():
                totals[name] += main + workers
                started[name] += workers
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            figures = ", ".join(f"{n} {sum(measured[n]):.2f} CPU s ({measured[n][1]:.2f} started)" for n in tools)
            print(f"  churn {round_ + 1}: {figures} (load {load})")
    print()
    for name in tools:
        print(f"{name}: {totals[name]:.2f} CPU s for {args.rounds} churn passes ({started[name]:.2f} the workers), "
              f"{totals[name] / added * 1e3:.2f} CPU ms per new entry ({added} new)")  # fmt: skip
    print(f"other / this: {totals['other'] / totals['this']:.2f}×")


if __name__ == "__main__":
    main()
