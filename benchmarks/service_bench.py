"""What the service costs: CPU per 1,000 source polls and steady memory of `newsriver run`
against the `reader` library updating the same farm, in one run.

    .venv/bin/python benchmarks/service_bench.py --feeds 10000 --rounds 5

The farm is ingest_bench.py's (``bench.build_farm``: N static feeds of M entries, served by
nginx). Each tool starts on a fresh database and first takes in the whole farm (a cold round,
not measured) and one more round (not measured either: the service publishes what the cold
round brought). Then come ``--rounds`` measured rounds; before each, 10 % of the feeds gain
5 entries (``bench.churn``, another 10 % every round), so each round polls every source once
and finds 10 % of them changed.

- newsriver: ``newsriver run`` with every source on a fixed ``--interval`` (no adaptive
  schedule, no jitter): every source is due once per interval, and the farm changes at the
  start of each. The service runs as people run it: it logs each fetch at its default level
  (read here to count polls), republishes after changes and serves its output folder. Its
  CPU over the measured rounds (all its processes: the parse workers and their forkserver
  too) is divided by the polls it logged in them; idle ticks between rounds count.
- reader: a process that runs ``update_feeds(scheduled=False)`` (every feed, conditional
  requests) once per round, the farm changed between rounds the same way; its CPU over the
  measured rounds divided by the feeds it updated.

Steady memory is the summed PSS of the tool's processes (as ``bench.measure_process``
reports "all processes"), sampled every half second over the measured rounds: the median
and the peak. Both tools run on the same farm in the same state: it is restored from a copy
before the second. Needs nginx, and reader in a venv of its own (see ingest_bench.py).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bench import (
    Farm,
    build_farm,
    churn,
    compile_newsriver,
    free_port,
    load_average,
    newsriver_config,
    nginx,
    print_table,
    reader_python,
    tree_cpu_seconds,
    tree_pss_mb,
)

READER_SCRIPT = textwrap.dedent(
    """
    import sys
    from reader import make_reader
    db, workers, urls = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with make_reader(db) as reader:
        for url in open(urls).read().split():
            reader.add_feed(url, exist_ok=True)
        print("ready", flush=True)
        for _ in sys.stdin:  # a round per line: the farm changes between rounds
            reader.update_feeds(workers=workers, scheduled=False)
            print("done", flush=True)
    """
)
# With --threads the service starts through this: each thread gives its Python name to the
# kernel (prctl PR_SET_NAME, 15 bytes), so /proc/PID/task/*/comm tells the threads apart.
NAMED_THREADS = textwrap.dedent(
    """
    import ctypes, runpy, threading
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
    _inner = threading.Thread._bootstrap_inner
    def _named(self):
        _prctl(15, self.name[:15].encode(), 0, 0, 0)
        _inner(self)
    threading.Thread._bootstrap_inner = _named
    runpy.run_module("newsriver.cli", run_name="__main__", alter_sys=True)
    """
)
# The line the service logs for each fetch (text format, at its default level, info).
PUBLISHED = " newsriver.run.service: published "
POLLED = re.compile(r" newsriver\.run\.poll: (f\d+): (?:not modified|new (\d+), updated \d+|error: )")


@dataclass(frozen=True)
class Measured:
    polls: int
    changed: int  # polls that brought new entries
    cpu_seconds: float
    others_cpu_seconds: float  # of which the processes the tool started (newsriver's parse workers)
    pss_mb: list[float]
    seconds: float
    load: str
    threads: dict[str, ThreadUse] | None = None  # with --threads: by kind of thread
    publishes: int | None = None  # newsriver's publishes that wrote files

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_seconds / self.polls * 1000


class _Sampler:
    """The summed PSS of a process tree, every half second, while ``on``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.on = False
        self.samples: list[float] = []
        self._done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._done.wait(0.5):
            if self.on:
                self.samples.append(tree_pss_mb(self.pid))

    def stop(self) -> None:
        self._done.set()


class _PollLog:
    """Counts the polls a service logs on its stderr (and those that brought new entries)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.polls = 0
        self.publishes = 0  # publishes that wrote files
        self.changed = 0
        self.sources: set[str] = set()
        self.tail: list[str] = []
        self._process = process
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            found = POLLED.search(line)
            with self._lock:
                if found:
                    self.polls += 1
                    self.changed += bool(found.group(2) and found.group(2) != "0")
                    self.sources.add(found.group(1))
                else:
                    self.publishes += PUBLISHED in line
                    self.tail = [*self.tail[-20:], line]

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self.polls, self.changed

    def wait_for_every_source(self, sources: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while len(self.sources) < sources:
            if self._process.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"the service polled {len(self.sources)} of {sources} sources:\n" + "".join(self.tail))
            time.sleep(0.2)


def run_newsriver(
    work: Path,
    urls: list[str],
    farm: Farm,
    root: Path,
    rounds: int,
    interval: float,
    extra: str,
    threads: bool = False,
    profile: Path | None = None,
) -> Measured:
    folder = work / "newsriver"
    folder.mkdir()
    settings = (
        f"  default_interval: {interval:g}s\n  adaptive: false\n  jitter: 0\n"
        f"  concurrency: 16\n  host_concurrency: 16\n  listen: 127.0.0.1:{free_port()}\n{extra}"
    )
    config = newsriver_config(folder, urls, settings)
    start = ["-c", NAMED_THREADS] if threads else ["-m", "newsriver.cli"]
    command = [sys.executable, *start, "--config", str(config), "run"]
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = _PollLog(process)
    sampler = _Sampler(process.pid)
    spy: subprocess.Popen[bytes] | None = None
    try:
        log.wait_for_every_source(len(urls), timeout=3600)  # the cold round
        # Each source is now polled once per interval. The farm changes at the start of each
        # interval, so every poll finds the changes of one (10 % of the feeds), whatever the
        # phase of its source's schedule.
        started = time.monotonic()
        churn(root, farm, seed=1000, tag="r0-")
        _sleep_until(started + interval, process)  # the warm-up round
        cpu, own, (polls, changed) = tree_cpu_seconds(process.pid), _own_cpu(process.pid), log.counts()
        publishes = log.publishes
        by_thread = _thread_cpu(process.pid)
        spy = _profiler(process.pid, rounds * interval, profile) if profile else None
        window = time.monotonic()
        sampler.on = True
        for n in range(1, rounds + 1):
            churn(root, farm, seed=1000 + n, tag=f"r{n}-")
            _sleep_until(started + (n + 1) * interval, process)
        sampler.on = False
        polls_now, changed_now = log.counts()
        measured = _measured(process.pid, cpu, own, window, polls_now - polls, changed_now - changed, sampler)
        measured = replace(measured, publishes=log.publishes - publishes)
        if threads:
            measured = replace(measured, threads=_thread_kinds(by_thread, _thread_cpu(process.pid), measured))
        return measured
    finally:
        if spy is not None:
            spy.wait()
        sampler.stop()
        process.terminate()
        process.wait(timeout=60)


def _measured(pid: int, cpu: float, own: float, window: float, polls: int, changed: int, sampler: _Sampler) -> Measured:
    """The rounds measured since ``cpu`` (the tree's CPU), ``own`` (the process's) and ``window``."""
    used = tree_cpu_seconds(pid) - cpu
    return Measured(
        polls, changed, used, used - (_own_cpu(pid) - own), sampler.samples, time.monotonic() - window, load_average()
    )


@dataclass(frozen=True)
class ThreadUse:
    cpu: float  # seconds, user and system
    system: float | None  # of which in the kernel
    switches: int | None  # context switches, voluntary (a wait) or not


def _thread_cpu(pid: int) -> dict[int, tuple[str, ThreadUse]]:
    """Each thread of the process: its name and what it has used so far."""
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            name = Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/task/{task}/stat").read_text().rpartition(")")[2].split()
            status = Path(f"/proc/{pid}/task/{task}/status").read_text()
        except OSError:
            continue
        switches = sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", status))
        found[int(task)] = (
            name,
            ThreadUse((int(fields[11]) + int(fields[12])) / tick, int(fields[12]) / tick, switches),
        )
    return found


def _thread_kinds(
    before: dict[int, tuple[str, ThreadUse]], after: dict[int, tuple[str, ThreadUse]], m: Measured
) -> dict[str, ThreadUse]:
    """What threads used between two readings by kind of thread (its name without its number),
    the threads that ended meanwhile (the process's CPU not in any thread read at the end) and
    the parse workers and forkserver (the processes it started)."""
    kinds: dict[str, ThreadUse] = {}
    zero = ThreadUse(0.0, 0.0, 0)
    for tid, (name, use) in after.items():
        kind = re.sub(r"[-_]?\d+(_\d+)?$", "", name)
        was, sum_ = before.get(tid, (name, zero))[1], kinds.get(kind, zero)
        assert was.system is not None and was.switches is not None and use.system is not None
        assert use.switches is not None and sum_.system is not None and sum_.switches is not None
        kinds[kind] = ThreadUse(
            sum_.cpu + use.cpu - was.cpu,
            sum_.system + use.system - was.system,
            sum_.switches + use.switches - was.switches,
        )
    ended = m.cpu_seconds - m.others_cpu_seconds - sum(k.cpu for k in kinds.values())
    kinds["(threads that ended)"] = ThreadUse(ended, None, None)
    kinds["(parse workers, forkserver)"] = ThreadUse(m.others_cpu_seconds, None, None)
    return kinds


def _profiler(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the service over the measured rounds, without pausing it, each
    thread's stacks apart (collapsed stacks: ``output``)."""
    spy = shutil.which("py-spy") or str(Path(tempfile.gettempdir()) / "pyspy-venv/bin/py-spy")
    command = [spy, "record", "--pid", str(pid), "--rate", "100", "--duration", str(int(seconds)), "--nonblocking"]
    command += ["--threads", "--format", "raw", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _own_cpu(pid: int) -> float:
    """CPU seconds the process itself has used (not those it started)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sleep_until(moment: float, process: subprocess.Popen[str]) -> None:
    while time.monotonic() < moment:
        if process.poll() is not None:
            raise SystemExit("the service stopped")
        time.sleep(min(0.5, max(moment - time.monotonic(), 0)))


def run_reader(
    work: Path, python: Path, workers: int, urls: list[str], farm: Farm, root: Path, rounds: int
) -> Measured:
    script = work / "reader_rounds.py"
    script.write_text(READER_SCRIPT)
    (work / "urls.txt").write_text("\n".join(urls))
    command = [str(python), str(script), str(work / "reader.db"), str(workers), str(work / "urls.txt")]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout
    sampler = _Sampler(process.pid)

    def round_() -> None:
        stdin.write("go\n")
        stdin.flush()
        if stdout.readline().strip() != "done":
            raise SystemExit("reader stopped")

    try:
        if stdout.readline().strip() != "ready":
            raise SystemExit("reader did not start")
        round_()  # cold
        churn(root, farm, seed=1000, tag="r0-")
        round_()  # warm-up, as newsriver's
        cpu, own, window, changed = tree_cpu_seconds(process.pid), _own_cpu(process.pid), time.monotonic(), 0
        sampler.on = True
        for n in range(1, rounds + 1):
            changed += max(1, len(farm) // 10)  # what churn changes: each is updated this round
            churn(root, farm, seed=1000 + n, tag=f"r{n}-")
            round_()
        sampler.on = False
        return _measured(process.pid, cpu, own, window, len(urls) * rounds, changed, sampler)
    finally:
        sampler.stop()
        stdin.close()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=20, help="entries per feed at the start")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="seconds between two polls of a source in the service (default: 30, or 10 ms a feed if more)",
    )
    parser.add_argument("--reader-workers", type=int, default=16)
    parser.add_argument("--reader-venv", type=Path, default=Path(tempfile.gettempdir()) / "newsriver-bench-reader")
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument("--settings", default="", help="extra YAML lines under settings: for newsriver")
    parser.add_argument("--threads", action="store_true", help="newsriver's CPU by thread too (each names itself)")
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of the service's measured rounds")
    args = parser.parse_args()
    interval = args.interval or max(30.0, args.feeds / 100)

    compile_newsriver()
    work = Path(tempfile.mkdtemp(prefix="service-bench-"))
    root, pristine = work / "farm", work / "farm-start"
    pristine.mkdir()
    farm = build_farm(pristine, args.feeds, args.entries)
    shutil.copytree(pristine, root)
    print(f"farm: {args.feeds} feeds × {args.entries} entries, nginx; {args.rounds} rounds, interval {interval:g} s")
    results: dict[str, Measured] = {}
    with nginx(root, work) as base:
        urls = [f"{base}f{f}.xml" for f in range(args.feeds)]
        runs: list[tuple[str, Callable[[Farm], Measured]]] = [
            (
                "newsriver run",
                lambda f: run_newsriver(
                    work, urls, f, root, args.rounds, interval, args.settings, args.threads, args.profile
                ),
            )
        ]
        if not args.skip_reader:
            python = reader_python(args.reader_venv)
            name = f"reader w={args.reader_workers}"
            runs.append((name, lambda f: run_reader(work, python, args.reader_workers, urls, f, root, args.rounds)))
        for name, run in runs:
            # Each tool from the same start: the pristine farm, churned by the same seeds.
            for path in pristine.iterdir():
                shutil.copyfile(path, root / path.name)
            results[name] = run(copy.deepcopy(farm))
            print(f"  {name}: {results[name].seconds:.0f} s measured, {results[name].load}", flush=True)

    print()
    print_table(
        (
            "tool",
            "polls",
            "changed",
            "publishes",
            "CPU s",
            "of which workers",
            "CPU s / 1,000 polls",
            "PSS median",
            "PSS peak",
        ),
        [
            (
                name,
                f"{m.polls:,}",
                f"{m.changed / m.polls:.1%}",
                "-" if m.publishes is None else str(m.publishes),
                f"{m.cpu_seconds:.1f}",
                f"{m.others_cpu_seconds:.1f}",
                f"{m.cpu_per_1000:.2f}",
                f"{statistics.median(m.pss_mb):.0f} MB" if m.pss_mb else "-",
                f"{max(m.pss_mb):.0f} MB" if m.pss_mb else "-",
            )
            for name, m in results.items()
        ],
    )
    for name, m in results.items():
        if m.threads:
            print(f"\n{name}: CPU by thread, µs a poll")
            rows = sorted(m.threads.items(), key=lambda kv: -kv[1].cpu)
            print_table(
                ("thread", "CPU s", "µs a poll", "in the kernel", "switches a poll"),
                [
                    (
                        kind,
                        f"{use.cpu:.2f}",
                        f"{use.cpu / m.polls * 1e6:.0f}",
                        "-" if not use.system or not use.cpu else f"{use.system / use.cpu:.0%}",
                        "-" if use.switches is None else f"{use.switches / m.polls:.1f}",
                    )
                    for kind, use in rows
                ],
            )
    if len(results) == 2:
        ours, theirs = results.values()
        print(f"\nCPU per poll: reader / newsriver = {theirs.cpu_per_1000 / ours.cpu_per_1000:.2f}×")


if __name__ == "__main__":
    main()
