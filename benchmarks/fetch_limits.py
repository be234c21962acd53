"""What hostile answers cost a fetch: peak memory of decompression bombs, time of a trickle.

Serves each case from 127.0.0.1 and fetches it with the default limits (15 MiB body cap,
60 s deadline unless shortened here). Prints one line per case:

    .venv/bin/python benchmarks/fetch_limits.py [--gib N]
"""

from __future__ import annotations

import argparse
import threading
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli

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


def serve(bodies: dict[str, tuple[bytes, dict[str, str]]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                if self.path == "/trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    for _ in range(600):  # at most a minute, then it stops by itself
                        self.wfile.write(b" ")
                        time.sleep(0.1)
                    return
                body, headers = bodies[self.path]
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


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
    bodies = {
        "/gzip": (gzip_bomb(size), {"Content-Encoding": "gzip"}),
        "/br": (brotli_bomb(size), {"Content-Encoding": "br"}),
        "/endless": (b"<rss>" + b" " * (64 * MIB), {}),
    }
    server = serve(bodies)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for path, (body, _headers) in bodies.items():
        outcome, seconds, peak = measure(base + path, FetchLimits())
        print(f"{path:9} sent {len(body) / 1024:9.1f} KiB  peak {peak:6.1f} MiB  {seconds:5.2f} s  {outcome}")
    outcome, seconds, peak = measure(base + "/trickle", FetchLimits(deadline=3.0))
    print(f"/trickle  1 byte per 0.1 s, deadline 3 s: {seconds:5.2f} s  peak {peak:6.1f} MiB  {outcome}")
    server.shutdown()


if __name__ == "__main__":
    main()
