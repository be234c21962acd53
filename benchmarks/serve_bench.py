"""Requests/s of the built-in server vs nginx on the same folder, side by side.

    .venv/bin/python benchmarks/serve_bench.py [--seconds 5] [--connections 16]

Needs wrk and nginx (Debian packages `wrk`, `nginx`). Everything runs on 127.0.0.1.
Three cases per server: a full 100-item Atom feed, the same with gzip, and a conditional
request answered 304 (what a feed reader's poll of an unchanged feed costs).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from farm import free_port, nginx, wait_up

from newsriver.models import Article, Author
from newsriver.publish.render_atom import render_atom
from newsriver.publish.render_common import FeedInfo, SourceInfo


def build_folder(folder: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    body = "<p>" + "A realistic paragraph of news text, about forty words long, repeated a few times. " * 12 + "</p>"
    items = [
        Article(
            id=f"00000000-0000-5000-8000-{n:012d}",
            source="wire",
            entry_key=str(n),
            url=f"https://news.example.org/{n}",
            canonical_url=f"https://news.example.org/{n}",
            title=f"Story number {n}",
            summary="",
            content=body,
            text=body,
            authors=(Author(name="Desk"),),
            published=start + timedelta(minutes=n),
            updated=start + timedelta(minutes=n),
            first_seen=start,
            categories=("World",),
            enclosures=(),
            language="en",
            image="",
            comments="",
            content_hash="",
        )
        for n in range(100)
    ]
    info = FeedInfo("all", "All", "", "http://127.0.0.1/", "http://127.0.0.1/")
    sources = {"wire": SourceInfo("wire", "Wire", "https://wire.example/feed", "https://wire.example/")}
    (folder / "all.atom").write_bytes(render_atom(info, items, sources))


def wrk(url: str, seconds: int, connections: int, headers: list[str]) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if found is None:
        raise SystemExit(output)
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    folder = work / "out"
    folder.mkdir()
    build_folder(folder)
    ours_port = free_port()
    config = work / "newsriver.yaml"
    config.write_text(
        f"settings:\n  database: sqlite:///{work / 'db.sqlite'}\n  output_dir: {folder}\n"
        f"  listen: 127.0.0.1:{ours_port}\nsources: []\n"
    )
    ours = subprocess.Popen(
        [sys.executable, "-m", "newsriver.cli", "--config", str(config), "--log-level", "error", "serve"]
    )
    try:
        with nginx(folder, work) as nginx_base:
            urls = {"newsriver": f"http://127.0.0.1:{ours_port}/all.atom", "nginx": f"{nginx_base}all.atom"}
            results: dict[str, dict[str, float]] = {}
            for name, url in urls.items():
                wait_up(url)
                first = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=5)
                first.raise_for_status()
                results[name] = {
                    "full body": wrk(url, args.seconds, args.connections, []),
                    "gzip body": wrk(url, args.seconds, args.connections, ["Accept-Encoding: gzip"]),
                    "304": wrk(url, args.seconds, args.connections, [f"If-None-Match: {first.headers['ETag']}"]),
                }
    finally:
        ours.terminate()
        ours.wait(timeout=10)
    size = (folder / "all.atom").stat().st_size
    print(
        f"built-in server (waitress, 8 threads) vs nginx (2 workers); {size // 1024} KiB Atom feed; "
        f"wrk -t2 -c{args.connections} -d{args.seconds}s on 127.0.0.1, one server at a time"
    )
    print(f"{'case':<10} {'newsriver req/s':>16} {'nginx req/s':>12} {'ratio':>7}")
    for case in results["newsriver"]:
        mine, theirs = results["newsriver"][case], results["nginx"][case]
        print(f"{case:<10} {mine:>16,.0f} {theirs:>12,.0f} {mine / theirs:>7.2f}")


if __name__ == "__main__":
    main()
