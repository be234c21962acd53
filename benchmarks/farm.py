"""Shared benchmark plumbing: a static-file server (nginx) on 127.0.0.1 and process measurement."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise SystemExit("nginx is needed: apt-get install nginx")
    return found


@contextmanager
def nginx(root: Path, work: Path, types: str = "application/atom+xml atom; application/rss+xml rss;") -> Iterator[str]:
    """Serve ``root`` with nginx (ETag and Last-Modified on) and yield its base URL."""
    port = free_port()
    (work / "nginx-tmp").mkdir(parents=True, exist_ok=True)
    for folder in (work, root):
        folder.chmod(0o755)  # nginx workers run as an unprivileged user
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
daemon off;
pid {work / "nginx.pid"};
error_log {work / "nginx-error.log"};
events {{ worker_connections 4096; }}
http {{
  access_log off;
  types {{ {types} }}
  charset utf-8;
  charset_types application/atom+xml application/rss+xml;
  gzip on; gzip_types application/atom+xml application/rss+xml; gzip_vary on;
  client_body_temp_path {work}/nginx-tmp; proxy_temp_path {work}/nginx-tmp; fastcgi_temp_path {work}/nginx-tmp;
  uwsgi_temp_path {work}/nginx-tmp; scgi_temp_path {work}/nginx-tmp;
  server {{ listen 127.0.0.1:{port} backlog=4096; root {root}; etag on; }}
}}
""")
    process = subprocess.Popen([nginx_binary(), "-c", str(conf)])
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_up(base)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float  # the child's own peak resident set (its VmHWM)
    returncode: int
    peak_tree_mb: float = 0.0  # the peak of the whole process tree's summed PSS, sampled


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo += [int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def _hwm_kb(pid: int) -> int:
    """The process's peak resident set so far (VmHWM). Unlike wait4's ru_maxrss it does not
    count the pages of the parent it was forked from before it ran the tool."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size: resident memory with pages shared between processes (a
    forked worker's copy of its parent's) counted once across them, not once per process."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Wall time and peak memory of one child process: its own peak RSS (VmHWM), and the
    peak summed PSS of it and every process it started; both sampled every 20 ms."""
    started = time.monotonic()
    process = subprocess.Popen(
        list(command), env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = [0, 0]  # the child's VmHWM, the tree's summed PSS
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _hwm_kb(process.pid))
            peak[1] = max(peak[1], sum(_pss_kb(pid) for pid in _tree(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status = os.waitpid(process.pid, 0)
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        assert process.stderr is not None
        raise SystemExit(f"{command[0]} failed:\n{process.stderr.read().decode()[-3000:]}")
    return Run(seconds, peak[0] / 1024, process.returncode, peak[1] / 1024)
