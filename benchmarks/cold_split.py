"""Where a cold pass's CPU goes: per process and per thread, for newsriver checkouts in turns.

    .venv/bin/python benchmarks/cold_split.py --feeds 300 --rounds 2 main=/path/to/main/src branch=src
    .venv/bin/python benchmarks/cold_split.py --feeds 1000 pure=src native=src --env pure:NEWSRIVER_PURE_PYTHON=1

Each NAME=SRC polls the ingest farm (``bench.build_farm``, on nginx) into a fresh SQLite
file with ``SRC`` first on ``PYTHONPATH``, the checkouts in turns, round after round, so a
change in the machine's load touches each alike. Sampled every 20 ms from /proc: the CPU
(user and sys) of the polling process, of its main thread and of its other threads (the
fetch threads), of the parse workers and their forkserver, the polling process's peak RSS
(VmHWM) and the tree's peak summed PSS. CPU per entry survives a busy machine better than
wall time; the load average is printed beside each run.

``--timeline S`` prints, every S seconds of each run, the cores each part kept busy and,
after "+", the cores it was runnable for but waited (schedstat: the machine's other load, or
its own parts crowding two cores). A part whose busy and waiting add up to about 1.00 a
thread (the store's main thread in a cold pass) always had work: it sets the pace.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import _status_kb, _tree, build_farm, load_average, newsriver_config, nginx, tree_fingerprint_path

TICK = os.sysconf("SC_CLK_TCK")
KINDS = ("polling process", "  main thread", "  other threads", "workers", "forkserver")


def _waited(path: str) -> int:
    """Nanoseconds /proc/``path`` has spent runnable but waiting for a core (schedstat); 0 once gone."""
    try:
        return int(Path(f"/proc/{path}/schedstat").read_text().split()[1])
    except (OSError, IndexError):
        return 0


def _stat(path: str) -> tuple[int, int, int] | None:
    """utime, stime (ticks) and parent pid of /proc/``path``/stat; None once it is gone."""
    try:
        fields = Path(f"/proc/{path}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[11]), int(fields[12]), int(fields[1])


@dataclass
class Split:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    peak_tree_mb: float = 0.0
    cpu: dict[str, list[float]] = field(default_factory=dict)  # kind -> [user, sys] seconds
    # (seconds since the start, CPU ticks so far by kind, ns waited for a core so far by kind),
    # every sample: where the cores idled, and where the machine's other load held the pass back
    timeline: list[tuple[float, dict[str, int], dict[str, int]]] = field(default_factory=list)

    def total(self) -> float:
        return sum(user + system for kind, (user, system) in self.cpu.items() if "thread" not in kind)


def measure(command: list[str], env: dict[str, str]) -> Split:
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pid = process.pid
    ticks: dict[tuple[str, int], tuple[int, int]] = {}  # (kind, pid or tid) -> last seen
    peaks = [0, 0]
    timeline: list[tuple[float, dict[str, int], dict[str, int]]] = []
    waits: dict[tuple[str, int], int] = {}  # (kind, pid or tid) -> ns waited for a core
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peaks[0] = max(peaks[0], _status_kb(pid, "status", "VmHWM:"))
            tree = _tree(pid)
            peaks[1] = max(peaks[1], sum(_status_kb(p, "smaps_rollup", "Pss:") for p in tree))
            for current in tree:
                found = _stat(str(current))
                if found is not None:
                    kind = "polling process" if current == pid else "forkserver" if found[2] == pid else "workers"
                    ticks[kind, current] = found[:2]
                    if kind != "polling process":
                        # A task that ended between two reads reads 0: its wait so far stands.
                        waits[kind, current] = max(waits.get((kind, current), 0), _waited(str(current)))
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for task in tasks:
                found = _stat(f"{pid}/task/{task}")
                if found is not None:
                    kind = "  main thread" if int(task) == pid else "  other threads"
                    ticks[kind, int(task)] = found[:2]
                    waits[kind, int(task)] = max(waits.get((kind, int(task)), 0), _waited(f"{pid}/task/{task}"))
            so_far: dict[str, int] = {}
            for (kind, _), (user, system) in list(ticks.items()):
                so_far[kind] = so_far.get(kind, 0) + user + system
            waited: dict[str, int] = {}
            for (kind, _), ns in list(waits.items()):
                waited[kind] = waited.get(kind, 0) + ns
            timeline.append((time.monotonic() - started, so_far, waited))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status = os.waitpid(pid, 0)
    split = Split(seconds=time.monotonic() - started, timeline=timeline)
    done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        assert process.stderr is not None
        raise SystemExit(f"the poll failed:\n{process.stderr.read().decode()[-3000:]}")
    split.peak_rss_mb, split.peak_tree_mb = peaks[0] / 1024, peaks[1] / 1024
    for (kind, _), (user, system) in ticks.items():
        cpu = split.cpu.setdefault(kind, [0.0, 0.0])
        cpu[0] += user / TICK
        cpu[1] += system / TICK
    return split


def print_timeline(split: Split, step: float) -> None:
    """The cores each kind kept busy in every ``step`` seconds of the pass (1.00: one whole
    core), and after "+" the cores it wanted but waited for (the machine's other load): their
    sum is what the pass would have used on cores of its own."""
    kinds = ("  main thread", "  other threads", "workers", "forkserver")
    print(f"    {'seconds':>9}  " + "  ".join(f"{k.strip():>13}" for k in kinds) + "   all of them")
    last_time, last, last_waited = 0.0, dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0)
    bound = step
    for at, so_far, waited in split.timeline:
        if at < bound:
            continue
        span = at - last_time
        busy = [(so_far.get(k, 0) - last[k]) / TICK / span for k in kinds]
        wait = [(waited.get(k, 0) - last_waited[k]) / 1e9 / span for k in kinds]
        cells = "  ".join(f"{b:6.2f} +{w:5.2f}" for b, w in zip(busy, wait, strict=True))
        print(f"    {last_time:4.1f}-{at:4.1f}  {cells}  {sum(busy):5.2f} +{sum(wait):5.2f}")
        last_time, last = at, {k: so_far.get(k, 0) for k in kinds}
        last_waited = {k: waited.get(k, 0) for k in kinds}
        bound = at + step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="+", help="NAME=SRC: a checkout's src folder, put first on PYTHONPATH")
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeline", type=float, default=0.0, help="print the cores busy every so many seconds")
    parser.add_argument("--settings", default="  concurrency: 16\n  host_concurrency: 16\n")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE",
        help="an environment variable for one checkout's runs (NEWSRIVER_PURE_PYTHON=1, say: one tree, both paths)",
    )
    args = parser.parse_args()
    checkouts = dict(c.partition("=")[::2] for c in args.checkouts)
    extra: dict[str, dict[str, str]] = {name: {} for name in checkouts}
    for given in args.env:
        name, _, setting = given.partition(":")
        if name not in checkouts or "=" not in setting:
            parser.error(f"--env {given}: not NAME:VAR=VALUE of a checkout named")
        variable, _, value = setting.partition("=")
        extra[name][variable] = value
    work = Path(tempfile.mkdtemp(prefix="cold-split-"))
    root = work / "farm"
    root.mkdir()
    build_farm(root, args.feeds, args.entries)
    entries = args.feeds * args.entries
    runs: dict[str, list[Split]] = {name: [] for name in checkouts}
    for name, src in checkouts.items():
        env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()), **extra[name]}
        print(f"{name}: {src}, fingerprints by the {tree_fingerprint_path(env)}")
    with nginx(root, work) as base:
        urls = [f"{base}f{f}.xml" for f in range(args.feeds)]
        for round_ in range(args.rounds):
            for name, src in checkouts.items():
                folder = work / f"{name}-{round_}"
                folder.mkdir()
                config = newsriver_config(folder, urls, args.settings)
                env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()), **extra[name]}
                command = [sys.executable, "-m", "newsriver.cli", "--config", str(config), "poll"]
                split = measure(command, env)
                runs[name].append(split)
                print(
                    f"{name} round {round_ + 1}: {split.seconds:.1f} s, CPU {split.total():.2f} s "
                    f"({split.total() / entries * 1e6:.0f} µs an entry), peak RSS {split.peak_rss_mb:.0f} MB, "
                    f"all processes {split.peak_tree_mb:.0f} MB; {load_average()}"
                )
                for kind in KINDS:
                    user, system = split.cpu.get(kind, (0.0, 0.0))
                    print(f"    {kind:<17} user {user:6.2f} s  sys {system:6.2f} s")
                if args.timeline:
                    print_timeline(split, args.timeline)
    print()
    for name, splits in runs.items():
        cpu = statistics.median(s.total() for s in splits)
        rss, tree = max(s.peak_rss_mb for s in splits), max(s.peak_tree_mb for s in splits)
        print(
            f"{name}: median CPU {cpu:.2f} s ({cpu / entries * 1e6:.0f} µs an entry), "
            f"peak RSS {rss:.0f} MB, all processes {tree:.0f} MB"
        )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
