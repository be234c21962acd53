"""A badly behaved HTTP server on 127.0.0.1: one endpoint per way a feed host can fail.

Every endless or trickling answer stops by itself after ``LOOP_SECONDS`` or as soon as
the client hangs up, so a test that gives up early leaves nothing running for long.
"""

from __future__ import annotations

import functools
import gzip
import select
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli

from .conftest import FIXTURES, Request

LOOP_SECONDS = 10.0
TRICKLE_SECONDS = 0.05  # between two bytes of a slow answer
BOMB_BYTES = 20 * 1024 * 1024  # expands past the 15 MiB cap
FEED = (FIXTURES / "wire.rss").read_bytes()
DAILY = (FIXTURES / "daily.atom").read_bytes()
LAST_MODIFIED = formatdate(1740000000, usegmt=True)
ETAG = '"wire-v1"'

PAGE = b"""<!DOCTYPE html>
<html><head><title>Wire Service</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Wire feed" href="%s">
</head><body><p>News.</p></body></html>
"""
BARE_PAGE = b"<!DOCTYPE html><html><head><title>No feeds here</title></head><body>Hi</body></html>"
# Salvageable: an unescaped ampersand and an unclosed channel. feedparser's loose parser
# still finds both items.
MALFORMED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>
<item><title>Salt & pepper</title><link>https://broken.example/a</link><guid>a</guid></item>
<item><title>Second</title><link>https://broken.example/b</link><guid>b</guid></item>
"""
NOT_XML = b"\x00\x01\x02 this is not a feed at all <<<"
# Declared ISO-8859-1 in the document, sent as UTF-8 in the header: the bytes are Latin-1.
WRONG_CHARSET = """<?xml version="1.0" encoding="iso-8859-1"?>
<rss version="2.0"><channel><title>Caf\xe9 news</title><link>https://cafe.example/</link>
<item><title>Caf\xe9 cr\xe8me</title><link>https://cafe.example/creme</link><guid>creme</guid></item>
</channel></rss>
""".encode("iso-8859-1")


def feed_with(channel_extra: str) -> bytes:
    """The wire fixture with extra channel elements (ttl, sy:updatePeriod, …)."""
    text = FEED.decode("utf-8")
    text = text.replace("<rss ", '<rss xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" ', 1)
    return text.replace("<channel>", "<channel>" + channel_extra, 1).encode("utf-8")


@functools.cache
def bomb(coding: str) -> bytes:
    raw = b"\0" * BOMB_BYTES
    if coding == "gzip":
        return gzip.compress(raw, compresslevel=9)
    if coding == "deflate":
        return zlib.compress(raw, 9)
    return bytes(brotli.compress(raw, quality=1))


Handler = Callable[[BaseHTTPRequestHandler], None]


class FaultServer:
    """Serves the fault endpoints; records every request and when it arrived."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.retry_date = datetime(2026, 1, 1, tzinfo=UTC)  # the 503's Retry-After date; tests set it
        self.private_base = ""  # where /to-private and /page-to-private.html lead
        self.flaky_ok = False  # /flaky fails with 500 until this is set
        self.arrivals: list[tuple[str, float]] = []  # (Host header, monotonic time) per request
        self._lock = threading.Lock()
        server = self
        routes = self._routes()

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(Request(self.path, dict(self.headers)))
                    server.arrivals.append((self.headers.get("Host", ""), time.monotonic()))
                try:
                    route = routes.get(self.path) or _prefixed(routes, self.path)
                    if route is None:
                        self.send_error(404)
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        # A short poll interval makes shutdown() quick; the default costs half a second a test.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- endpoints -----------------------------------------------------------------------

    def _routes(self) -> dict[str, Handler]:
        def redirect(status: int, location: str) -> Handler:
            return lambda h: _send(h, status, headers={"Location": location})

        def status(code: int, **headers: str) -> Handler:
            return lambda h: _send(h, code, b"failed\n", headers, "text/plain")

        routes: dict[str, Handler] = {
            "/feed.rss": lambda h: _conditional(h, etag=ETAG, last_modified=LAST_MODIFIED),
            "/daily.atom": lambda h: _send(h, 200, DAILY, content_type="application/atom+xml"),
            "/etag.rss": lambda h: _conditional(h, etag=ETAG),
            "/last-modified.rss": lambda h: _conditional(h, last_modified=LAST_MODIFIED),
            "/no-conditional.rss": lambda h: _send(h, 200, FEED),
            "/gzip.rss": lambda h: _send(h, 200, gzip.compress(FEED), {"Content-Encoding": "gzip"}),
            "/cached.rss": lambda h: _send(h, 200, FEED, {"Cache-Control": "public, max-age=7200"}),
            "/ttl.rss": lambda h: _conditional(h, etag=ETAG, body=feed_with("<ttl>180</ttl>")),
            "/sy.rss": lambda h: _send(
                h, 200, feed_with("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>")
            ),
            "/slow-headers": _slow_headers,
            "/stall": _stall,
            "/slow-body": _slow_body,
            "/endless": _endless,
            "/status/500": status(500),
            "/status/404": status(404),
            "/status/410": status(410),
            "/flaky": lambda h: _send(h, 200, FEED) if self.flaky_ok else _send(h, 500, b"down\n"),
            "/429": status(429, **{"Retry-After": "7200"}),
            "/503": lambda h: _send(h, 503, b"maintenance\n", {"Retry-After": format_datetime(self.retry_date, True)}),
            "/301": redirect(301, "/feed.rss"),
            "/302": redirect(302, "/feed.rss"),
            "/307": redirect(307, "/feed.rss"),
            "/308": redirect(308, "/feed.rss"),
            "/chain": redirect(301, "/chain/2"),
            "/chain/2": redirect(308, "/chain/3"),
            "/chain/3": redirect(302, "/feed.rss"),
            "/loop/a": redirect(302, "/loop/b"),
            "/loop/b": redirect(302, "/loop/a"),
            "/to-ftp": redirect(302, "ftp://127.0.0.1/feed.rss"),
            "/to-private": lambda h: _send(h, 302, headers={"Location": self.private_base + "/feed.rss"}),
            "/page.html": lambda h: _send(h, 200, PAGE % b"/feed.rss", content_type="text/html; charset=utf-8"),
            "/page-to-private.html": lambda h: _send(
                h, 200, PAGE % (self.private_base + "/feed.rss").encode(), content_type="text/html"
            ),
            "/bare.html": lambda h: _send(h, 200, BARE_PAGE, content_type="text/html"),
            "/malformed.xml": lambda h: _send(h, 200, MALFORMED),
            "/not-xml": lambda h: _send(h, 200, NOT_XML, content_type="application/octet-stream"),
            "/wrong-charset.rss": lambda h: _send(
                h, 200, WRONG_CHARSET, content_type="application/rss+xml; charset=utf-8"
            ),
        }
        for coding in ("gzip", "deflate", "br"):
            routes[f"/bomb/{coding}"] = functools.partial(_bomb, coding=coding)
        routes["/hops/"] = _hops
        return routes


def _prefixed(routes: dict[str, Handler], path: str) -> Handler | None:
    return routes["/hops/"] if path.startswith("/hops/") else None


def _send(
    h: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    content_type: str = "application/rss+xml",
) -> None:
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(body)


def _conditional(h: BaseHTTPRequestHandler, etag: str = "", last_modified: str = "", body: bytes = FEED) -> None:
    validators = {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}
    if (etag and h.headers.get("If-None-Match") == etag) or (
        last_modified and h.headers.get("If-Modified-Since") == last_modified
    ):
        h.send_response(304)
        for name, value in validators.items():
            h.send_header(name, value)
        h.end_headers()
        return
    _send(h, 200, body, validators)


def _hops(h: BaseHTTPRequestHandler) -> None:
    """/hops/N redirects N times before the feed."""
    left = int(h.path.rsplit("/", 1)[1])
    if left == 0:
        _send(h, 200, FEED)
    else:
        _send(h, 302, headers={"Location": f"/hops/{left - 1}"})


def _bomb(h: BaseHTTPRequestHandler, coding: str) -> None:
    _send(h, 200, bomb(coding), {"Content-Encoding": coding})


def _trickle(h: BaseHTTPRequestHandler, byte: bytes) -> None:
    end = time.monotonic() + LOOP_SECONDS
    while time.monotonic() < end:
        h.wfile.write(byte)
        time.sleep(TRICKLE_SECONDS)


def _slow_headers(h: BaseHTTPRequestHandler) -> None:
    """Headers one byte at a time, each well within any read timeout: only a deadline ends it."""
    h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    _trickle(h, b"a")


def _stall(h: BaseHTTPRequestHandler) -> None:
    """Accept the request, then say nothing until the client hangs up."""
    select.select([h.connection], [], [], LOOP_SECONDS)


def _slow_body(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    _trickle(h, b" ")


def _endless(h: BaseHTTPRequestHandler) -> None:
    """A body without length that never ends (up to 4× the cap, then it gives up)."""
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.end_headers()
    h.wfile.write(b"<rss><channel>")
    chunk = b"<item><title>more</title></item>" * 2048
    for _ in range(4 * BOMB_BYTES // len(chunk)):
        h.wfile.write(chunk)
