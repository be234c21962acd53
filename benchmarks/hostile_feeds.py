"""What a hostile or pathological document costs a real ``newsriver poll``: wall time and peak
memory of the command (its own peak RSS, and the peak PSS of it with its worker processes).

Each case is one source served from 127.0.0.1, polled (parsed, stored, published) by a fresh
``newsriver poll`` with a fresh SQLite database; a feed of one ordinary entry gives the
baseline. Prints one line per case:

    .venv/bin/python benchmarks/hostile_feeds.py [--parse-timeout 120s] [--entries 100000]

``--parse-timeout`` is left out of the config unless given (a checkout without the setting
takes none); the 100,000-entry feed needs more than the default 10 s of CPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import yaml
from bench import measure_process, print_table, static_server

MIB = 1024 * 1024
HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title><link>https://h.example/</link><description>d</description>'
TAIL = b"</channel></rss>"


def one_entry(description: bytes) -> bytes:
    return (
        HEAD
        + b"<item><title>a</title><guid>https://h.example/a</guid><description>"
        + description
        + b"</description></item>"
        + TAIL
    )


def ordinary() -> bytes:
    return one_entry(b"An ordinary entry.")


def nested_divs(count: int = 150_000) -> bytes:
    """One entry whose HTML is ``count`` nested (unclosed) divs: 733 KB at 150,000."""
    return one_entry(b"<![CDATA[" + b"<div>" * count + b"x]]>")


def nested_escaped_divs(count: int = 50_000) -> bytes:
    """The same as escaped text, which the parser unescapes into markup."""
    return one_entry(b"&lt;div&gt;" * count + b"x")


def many_entries(count: int) -> bytes:
    """``count`` small entries: 14.6 MiB at 100,000."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>E{i}</title><link>https://h.example/{i}</link>"
        f"<pubDate>{format_datetime(start + timedelta(seconds=i))}</pubDate>"
        f"<description>{i}</description></item>"
        for i in range(count)
    )
    return HEAD + items.encode() + TAIL


def poll(document: bytes, work: Path, parse_timeout: str | None) -> list[str]:
    """One fresh ``newsriver poll`` of a source serving ``document``: a table row."""
    with static_server({"/feed.xml": (document, {"Content-Type": "application/rss+xml"})}) as base:
        settings: dict[str, str] = {"database": f"sqlite:///{work / 'db.sqlite'}", "output_dir": str(work / "out")}
        if parse_timeout:
            settings["parse_timeout"] = parse_timeout
        config = work / "newsriver.yaml"
        config.write_text(yaml.safe_dump({"settings": settings, "sources": [{"name": "s", "url": f"{base}/feed.xml"}]}))
        run = measure_process([sys.executable, "-m", "newsriver.cli", "--config", str(config), "poll"], cwd=work)
    return [
        f"{len(document) / MIB:.2f} MiB",
        f"{run.seconds:.1f} s",
        f"{run.peak_rss_mb:.0f} MB",
        f"{run.peak_tree_mb:.0f} MB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parse-timeout", help="settings.parse_timeout, e.g. 120s (default: the config default)")
    parser.add_argument("--entries", type=int, default=100_000, help="entries of the large feed")
    args = parser.parse_args()
    cases: list[tuple[str, Callable[[], bytes]]] = [
        ("baseline: one ordinary entry", ordinary),
        ("150,000 nested divs in one entry", nested_divs),
        ("50,000 nested escaped divs", nested_escaped_divs),
        (f"{args.entries:,} entries", lambda: many_entries(args.entries)),
    ]
    rows = []
    for name, make in cases:
        with tempfile.TemporaryDirectory() as folder:
            rows.append([name, *poll(make(), Path(folder), args.parse_timeout)])
    print_table(["case", "body", "poll", "peak RSS", "peak PSS with workers"], rows)


if __name__ == "__main__":
    main()
