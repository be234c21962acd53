"""What hostile answers cost a fetch: peak memory of decompression bombs, time of a trickle.

Serves each case from 127.0.0.1 and fetches it with the default limits (15 MiB body cap,
60 s deadline unless shortened here). Prints one line per case:

    .venv/bin/python benchmarks/fetch_limits.py [--gib N]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import zlib
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler

import brotli
from bench import static_server

from newsriver.errors import FetchError
from newsriver.ingest.fetch import FetchLimits, fetch
from newsriver.models import FetchState

MIB = 1024 * 1024


def gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = b"\0" * MIB
    parts = [packer.compress(zeros) for _ in range(size // MIB)]
    return b"".join([*parts, packer.flush()])


def brotli_bomb(size: int) -> bytes:
    packer = brotli.Compressor(quality=5)
    zeros = b"\0" * MIB
    parts = [packer.process(zeros) for _ in range(size // MIB)]
    return b"".join([*parts, packer.finish()])


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """A server that sends one byte every 0.1 s of the million it announced."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000000")
    handler.end_headers()
    for _ in range(600):  # at most a minute, then it stops by itself
        handler.wfile.write(b" ")
        time.sleep(0.1)


def measure(url: str, limits: FetchLimits) -> tuple[str, float, float]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = fetch(FetchState(url), limits=limits)
        outcome = f"fetched {len(result.body or b'')} bytes"
    except FetchError as exc:
        outcome = str(exc)
    seconds = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, seconds, peak / MIB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gib", type=int, default=1, help="expanded size of each bomb in GiB")
    size = parser.parse_args().gib * 1024 * MIB
    print(f"building {size // MIB} MiB bombs ...", flush=True)
    bodies: dict[str, tuple[bytes, Mapping[str, str]]] = {
        "/gzip": (gzip_bomb(size), {"Content-Encoding": "gzip"}),
        "/br": (brotli_bomb(size), {"Content-Encoding": "br"}),
        "/endless": (b"<rss>" + b" " * (64 * MIB), {}),  # no Content-Length: it ends when the server closes
    }
    with static_server({**bodies, "/trickle": trickle}) as base:
        for path, (body, _headers) in bodies.items():
            outcome, seconds, peak = measure(base + path, FetchLimits())
            print(f"{path:9} sent {len(body) / 1024:9.1f} KiB  peak {peak:6.1f} MiB  {seconds:5.2f} s  {outcome}")
        outcome, seconds, peak = measure(base + "/trickle", FetchLimits(deadline=3.0))
        print(f"/trickle  1 byte per 0.1 s, deadline 3 s: {seconds:5.2f} s  peak {peak:6.1f} MiB  {outcome}")


if __name__ == "__main__":
    main()
