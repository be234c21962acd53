"""HTTP retrieval of one source: conditional, bounded in time and size, honest about redirects.

Not through requests, because the fetch needs two hooks requests does not offer: connecting
only to addresses ``network`` has vetted, and a hard deadline that can interrupt a server
trickling its headers one byte at a time. The exchange itself is ``http1``'s (a 304 costs
a third of what it cost through urllib3's connection and response objects); urllib3 decodes
bodies and parses the URLs that are not plain (see ``_target``).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from typing import IO, TYPE_CHECKING, cast
from urllib.parse import urljoin, urlsplit

from newsriver import __version__
from newsriver.errors import FetchError
from newsriver.ingest.credentials import RequestSettings
from newsriver.ingest.http1 import Body, Connection, Head, HTTPFault, Unanswered, host_header, request_head
from newsriver.ingest.network import IPAddress, Network, Route
from newsriver.models import FetchResult, FetchState

if TYPE_CHECKING:
    import ssl

USER_AGENT = f"newsriver/{__version__} (+https://github.com/newsriver/newsriver)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


def _accept_encoding() -> str:
    """Every coding urllib3 can decode here, as its ``make_headers(accept_encoding=True)``
    says (gzip and deflate always, br with brotli installed, zstd with a zstd module), found
    without importing urllib3 nor those modules (tests/test_http1.py compares the two)."""

    def found(*names: str) -> bool:
        for name in names:
            try:
                if find_spec(name) is not None:
                    return True
            except ImportError:  # its parent package is missing
                continue
        return False

    codings = "gzip,deflate"
    if found("brotlicffi", "brotli"):
        codings += ",br"
    if found("compression.zstd" if sys.version_info >= (3, 14) else "backports.zstd"):
        codings += ",zstd"
    return codings


ACCEPT_ENCODING = _accept_encoding()
# Headers the scheduler and status need later; the rest of the response is dropped.
KEPT_HEADERS = ("cache-control", "expires", "date", "age", "retry-after", "content-type", "etag", "last-modified")
REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # longest silence while waiting for bytes
    deadline: float = 60.0  # the whole exchange, redirects included: a trickling server cannot hold a worker
    max_bytes: int = 15 * 1024 * 1024  # after decompression: a gzip bomb stops here
    max_redirects: int = 5


def fetch(
    state: FetchState,
    limits: FetchLimits | None = None,
    network: Network | None = None,
    request: RequestSettings | None = None,
) -> FetchResult:
    """GET a feed, conditionally when validators are known; raise FetchError on failure.

    ``state.public`` says the URL was reached from a public address (a stored redirect or
    discovery), so it may not lead into private address space either. ``request`` holds the
    source's credentials and headers, sent only to its own origin (see ``credentials``).
    """
    limits = limits or FetchLimits()
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    route = Route(network or Network(), state.public)
    with _Deadline(limits.deadline) as deadline:
        try:
            return _follow(state.url, headers, limits, route, deadline, request)
        except FetchError:
            if deadline.expired:
                raise deadline.error() from None
            raise
        except (OSError, HTTPFault) as exc:
            if deadline.expired:
                raise deadline.error() from exc
            raise FetchError(_describe(exc, limits)) from exc
        except ValueError as exc:
            # What a server sends must never escape as anything but a FetchError (a poll
            # would log it as an internal error, discover would crash): a parse missed.
            raise FetchError(f"invalid HTTP response: {exc}") from exc


def _follow(
    url: str,
    headers: dict[str, str],
    limits: FetchLimits,
    route: Route,
    deadline: _Deadline,
    request: RequestSettings | None,
) -> FetchResult:
    visited = [url]
    permanent = ""  # where the leading run of 301/308 redirects ends: the feed's new home
    moving = True
    while True:
        sent = request.apply(headers, url) if request else headers  # re-decided at every hop
        with _exchange(url, sent, limits, route, deadline) as (head, body):
            answered = head.headers
            location = answered.get("location", "")
            if head.status in REDIRECTS and location:
                target = _redirect_target(visited, location, limits)
                moving = moving and head.status in PERMANENT
                if moving:
                    permanent = target
                visited.append(target)
                url = target
                continue
            kept = {k: answered[k] for k in KEPT_HEADERS if k in answered}
            if head.status == 304:
                return FetchResult(
                    url=url,
                    status=304,
                    body=None,
                    etag=answered.get("etag", headers.get("If-None-Match", "")),
                    last_modified=answered.get("last-modified", headers.get("If-Modified-Since", "")),
                    permanent_url=permanent,
                    headers=kept,
                    public=route.public,
                )
            if not 200 <= head.status < 300:
                raise FetchError(f"HTTP {head.status} {head.reason or ''}".strip(), head.status, kept)
            content = _read_body(head, body, limits, deadline)
            return FetchResult(
                url=url,
                status=head.status,
                body=content,
                content_type=answered.get("content-type", ""),
                etag=answered.get("etag", ""),
                last_modified=answered.get("last-modified", ""),
                permanent_url=permanent,
                headers=kept,
                public=route.public,
            )


def _redirect_target(visited: list[str], location: str, limits: FetchLimits) -> str:
    try:
        target = urljoin(visited[-1], location.strip())
        scheme = urlsplit(target).scheme.lower()
    except ValueError as exc:  # "http://[x": an unclosed IPv6 address
        raise FetchError(f"redirected to an invalid URL: {location[:200]!r} ({exc})") from None
    if scheme not in ("http", "https"):
        raise FetchError(f"redirected to an unsupported URL scheme: {target}")
    if target in visited:
        raise FetchError("redirect loop: " + " → ".join([*visited[visited.index(target) :], target]))
    if len(visited) > limits.max_redirects:
        raise FetchError(f"more than {limits.max_redirects} redirects (last to {target})")
    return target


# A URL as feeds' URLs mostly are: a lower-case http(s) scheme and host name (or IPv4
# address), perhaps a port, and a path and query of characters a request line carries as
# they are: no "%", no dot segment, no user, no fragment. urllib3's parse_url changes
# nothing in these (tests/test_http1.py compares the two), so a poll of such sources never
# imports urllib3; any other URL goes through parse_url.
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_PLAIN_URL = re.compile(
    rf"(https?)://((?:{_LABEL}\.)*{_LABEL})(?::([1-9][0-9]{{0,4}}))?"
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)?(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*)?"
)


@lru_cache(maxsize=4096)
def _target(url: str) -> tuple[str, str, int, str, str]:
    """The URL's scheme, host, port, request target and Host header; a poll asks for the
    same URLs each pass."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None and int(plain[3] or 0) <= 65535 and "/." not in (plain[4] or ""):
        scheme, host, port, path, query = plain.groups()
        target = (path or "/") + (query or "")
        default = 443 if scheme == "https" else 80
        number = int(port) if port else default
        return scheme, host, number, target, host_header(host, number, default)
    return _parsed(url)


def _parsed(url: str) -> tuple[str, str, int, str, str]:
    """``_target`` by urllib3's parse, which percent-encodes what a request line may not hold."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = parse_url(url)
    except LocationParseError as exc:
        raise FetchError(f"invalid URL: {url}") from exc
    scheme = (parts.scheme or "").lower()
    if scheme not in ("http", "https") or not parts.host:
        raise FetchError(f"unsupported URL: {url} (only http and https)")
    host = parts.host.strip("[]")
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    return scheme, host, port, parts.request_uri, host_header(host, port, default)


@contextlib.contextmanager
def _exchange(
    url: str, headers: dict[str, str], limits: FetchLimits, route: Route, deadline: _Deadline
) -> Iterator[tuple[Head, Body]]:
    """One request and its response's head, on a kept connection to the origin (see
    ``_Kept``) or a new one; the connection is kept again if the response was read to its end."""
    scheme, host, port, target, host_value = _target(url)
    try:
        sent = request_head(target, host_value, headers)
    except ValueError as exc:  # UnicodeEncodeError among them
        raise FetchError(f"cannot send the request: {exc}") from exc
    origin = (scheme, host, port, route.network)
    connection, head = _open(origin, sent, limits, route, deadline)
    reusable = False
    try:
        body = connection.body(head)
        yield head, body
        # Read to its end (a 304 has no body) and not closing: the next request may use it.
        reusable = connection.sock is not None and body.reusable
    finally:
        deadline.unwatch()  # after this a deadline passing no longer touches the connection
        if reusable and not deadline.expired:
            _KEPT.keep(origin, connection)
        else:
            connection.close()


def _open(
    origin: tuple[str, str, int, Network],
    sent: bytes,
    limits: FetchLimits,
    route: Route,
    deadline: _Deadline,
) -> tuple[Connection, Head]:
    """The request sent and its response's head read, on a kept connection or a new one."""
    kept = _KEPT.take(origin, route)
    if kept is not None:
        assert kept.sock is not None
        deadline.watch(kept.sock)
        try:
            return kept, _request(kept, sent, limits)
        except (ConnectionResetError, BrokenPipeError):  # Unanswered among them
            kept.close()
            if kept.answered:  # a part of an answer came: the server did see the request
                raise
            # The server closed the idle connection as we sent: once more on a new one.
            deadline.unwatch()
        except BaseException:
            kept.close()
            raise
    scheme, host, port, _ = origin
    sock, ip = _connect(route, host, port, min(limits.connect_timeout, deadline.remaining()))
    try:
        deadline.watch(sock)
        sock.settimeout(limits.read_timeout)
        if scheme == "https":
            sock = _tls().wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    connection = Connection(sock, ip)
    try:
        return connection, _request(connection, sent, limits)
    except BaseException:
        connection.close()
        raise


def _request(connection: Connection, sent: bytes, limits: FetchLimits) -> Head:
    assert connection.sock is not None
    connection.sock.settimeout(limits.read_timeout)
    connection.send(sent)
    return connection.head()


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """The TLS settings of every https fetch, made by urllib3 as its HTTPSConnection made
    them: certificates verified against the system's store, the host name checked against
    the subjectAltName only (never the common name), TLS 1.2 at least, no session tickets."""
    # With the first https fetch: a pass of plain-http 304s imports neither ssl nor urllib3.
    from urllib3.util.ssl_ import create_urllib3_context

    context = create_urllib3_context()
    context.load_default_certs()
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass(frozen=True, slots=True)
class _Idle:
    connection: Connection
    since: float  # time.monotonic() when it was kept


class _Kept:
    """Connections left open after a whole exchange, by origin, for the next fetch from the
    same host: a feed farm or a blog host serves many sources, and a new connection costs a
    third of a 304 exchange. A kept connection is taken only by a route that may reach the
    address it was vetted for when it was opened; one idle for ``IDLE_SECONDS``, or closed by
    its server meanwhile, is closed instead."""

    IDLE_SECONDS = 30.0
    PER_ORIGIN = 64  # as many as fetches may run at once to one host (host_concurrency's bound)
    TOTAL = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[object, ...], list[_Idle]] = {}
        self._count = 0
        self._swept = 0.0

    def take(self, origin: tuple[object, ...], route: Route) -> Connection | None:
        now = time.monotonic()
        stale = self._sweep(now)
        found = None
        with self._lock:
            idle = self._idle.get(origin, [])
            while idle and found is None:
                kept = idle.pop()  # the most recent: the least likely to have been closed
                self._count -= 1
                if not kept.connection.is_connected:  # closed by its server, or sent something unasked
                    stale.append(kept.connection)
                elif route.allows(kept.connection.ip):
                    found = kept.connection
                else:  # vetted for a route that may reach what this one may not: left for another
                    idle.insert(0, kept)
                    self._count += 1
                    break
        for connection in stale:
            connection.close()
        if found is not None:
            route.reached(found.ip)
        return found

    def keep(self, origin: tuple[object, ...], connection: Connection) -> None:
        now = time.monotonic()
        surplus = self._sweep(now)
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            idle.append(_Idle(connection, now))
            self._count += 1
            if len(idle) > self.PER_ORIGIN or self._count > self.TOTAL:
                surplus.append(idle.pop(0).connection)
                self._count -= 1
        for stale in surplus:
            stale.close()

    def _sweep(self, now: float) -> list[Connection]:
        """Takes out the connections idle too long (once a second at most): to be closed."""
        stale: list[Connection] = []
        if now - self._swept < 1.0:
            return stale
        with self._lock:
            self._swept = now
            for origin, idle in list(self._idle.items()):
                fresh = [kept for kept in idle if now - kept.since < self.IDLE_SECONDS]
                stale += [kept.connection for kept in idle if now - kept.since >= self.IDLE_SECONDS]
                if fresh:
                    self._idle[origin] = fresh
                else:
                    del self._idle[origin]
            self._count -= len(stale)
        return stale

    def _forget(self) -> None:
        # A forked child must not share its parent's sockets: it opens its own.
        self._lock = threading.Lock()
        self._idle, self._count = {}, 0


_KEPT = _Kept()
os.register_at_fork(after_in_child=_KEPT._forget)


def _connect(route: Route, host: str, port: int, timeout: float) -> tuple[socket.socket, IPAddress]:
    if timeout <= 0:
        raise FetchError(f"the deadline passed before connecting to {host}")
    failures: list[tuple[str, str]] = []
    for ip in route.addresses(host, port):
        try:
            sock = socket.create_connection((str(ip), port), timeout)
        except TimeoutError:
            failures.append((str(ip), f"timed out after {timeout:g} s"))
            continue
        except OSError as exc:
            failures.append((str(ip), str(exc.strerror or exc)))
            continue
        route.reached(ip)
        return sock, ip
    raise FetchError(cannot_connect(host, port, failures))


def cannot_connect(host: str, port: int, failures: Sequence[tuple[str, str]]) -> str:
    """Why no address of ``host`` took the connection. Each address is named when they are
    the name's (which one failed how), not when the host was the address itself: that said
    it twice ("127.0.0.1:8703: 127.0.0.1: Connection refused")."""
    reasons = [reason if address == host else f"{address}: {reason}" for address, reason in failures]
    return f"cannot connect to {host}:{port}: " + "; ".join(reasons)


def _read_body(head: Head, body: Body, limits: FetchLimits, deadline: _Deadline) -> bytes:
    too_large = FetchError(f"body larger than {limits.max_bytes / (1024 * 1024):g} MiB (after decompression)")
    coding = head.headers.get("content-encoding", "")
    if not coding:
        if body.declared is not None and body.declared > limits.max_bytes:
            raise too_large  # no need to read it to know
        content = _read_plain(body, limits, too_large)
    else:
        content = _read_decoded(coding, head, body, limits, too_large)
    if deadline.expired:  # the watchdog's shutdown can look like a clean end of a body
        raise deadline.error()
    return content


def _read_plain(body: Body, limits: FetchLimits, too_large: FetchError) -> bytes:
    """A body sent without a content coding, as it came: read here, not through urllib3's
    response, whose read(_CHUNK) put each piece it returned together again in a new buffer
    (an io.BytesIO grown by each piece read, the rest held through a memoryview). At 16
    fetch threads reading at once those copies added about 1 MB to the peak of a cold pass
    of 1,000 feeds (benchmarks/cold_split.py); nor is urllib3 imported for such bodies."""
    try:
        return _bounded(iter(lambda: body.read(_CHUNK), b""), limits, too_large)
    except OSError as exc:  # as urllib3's response words them, for one message whichever path read the body
        raise FetchError(_broken(exc, limits)) from exc


def _bounded(chunks: Iterator[bytes], limits: FetchLimits, too_large: FetchError) -> bytes:
    """A body's pieces joined, ``too_large`` raised as soon as they pass ``limits.max_bytes``."""
    kept: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limits.max_bytes:
            raise too_large
        kept.append(chunk)
    return b"".join(kept)  # a single piece is returned as it is, not copied


def _broken(exc: OSError, limits: FetchLimits) -> str:
    """Why a body's read failed, in the words of urllib3's exceptions as ``_read_decoded`` gives them."""
    import ssl

    if isinstance(exc, TimeoutError):
        return _describe(exc, limits)
    if isinstance(exc, ssl.SSLError):
        return f"transfer failed: {exc}"
    return f"transfer failed: Connection broken: {exc!r}"


def _read_decoded(coding: str, head: Head, body: Body, limits: FetchLimits, too_large: FetchError) -> bytes:
    # urllib3 decodes (gzip, deflate, br): imported with the first coded body, which a pass of 304s never reads.
    from urllib3 import HTTPHeaderDict, HTTPResponse
    from urllib3.exceptions import DecodeError, HTTPError, ProtocolError, ReadTimeoutError

    response = HTTPResponse(
        body=cast("IO[bytes]", body),  # a raw file: what urllib3 reads a body from
        # Only what decoding needs: the framing is Body's, and urllib3 must not judge it
        # again from a length Body did not use (after a Transfer-Encoding, or "٥").
        headers=HTTPHeaderDict({"content-encoding": coding}),
        status=head.status,
        version=head.version,
        reason=head.reason,
        preload_content=False,
        decode_content=True,
        request_method="GET",
    )
    # stream() decompresses at most _CHUNK bytes per step, so a bomb is stopped after
    # max_bytes of output having cost no more than that in memory.
    try:
        return _bounded(response.stream(_CHUNK, decode_content=True), limits, too_large)
    except ReadTimeoutError as exc:
        raise FetchError(_describe(TimeoutError(), limits)) from exc
    except DecodeError as exc:
        raise FetchError("cannot decompress the body: the server sent corrupt data") from exc
    except ProtocolError as exc:  # the connection failed (urllib3 wraps an OSError so)
        raise FetchError(f"transfer failed: {exc.args[0] if exc.args else exc}") from exc
    except HTTPError as exc:  # its SSLError (a TLS record broken mid-body) among them
        raise FetchError(f"transfer failed: {exc}") from exc


def _describe(exc: BaseException, limits: FetchLimits) -> str:
    import ssl  # on a failure only: a pass of plain-http 304s never needs it

    if isinstance(exc, TimeoutError):
        return f"timed out: nothing received for {limits.read_timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, Unanswered):
        return "the server closed the connection without answering"
    if isinstance(exc, HTTPFault):
        return f"invalid HTTP response: {exc}"
    if isinstance(exc, OSError):
        return f"network error: {exc.strerror or exc}"
    return str(exc)


class _Deadline:
    """Ends a fetch after ``seconds`` whatever the server does, by shutting its socket.

    Socket timeouts only bound each silence; a server sending a byte a second never
    trips them. A timer that shuts the connection's socket down wakes the blocked read.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: socket.socket | None = None

    def __enter__(self) -> _Deadline:
        _WATCHDOG.add(self._end, self)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done = True
        self.unwatch()

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def error(self) -> FetchError:
        return FetchError(f"took longer than {self.seconds:g} s (the deadline for one fetch)")

    def watch(self, sock: socket.socket) -> None:
        """Arm the timer on ``sock``.

        The timer holds a duplicate descriptor: TLS wraps a new connection's socket after it
        is watched (wrapping detaches the original), but a shutdown through any descriptor
        stops the one connection underneath.
        """
        with self._lock:
            self._close_watched()
            # Through the descriptor: a TLS socket (a kept connection's) has no dup().
            self._watched = socket.socket(sock.family, sock.type, sock.proto, os.dup(sock.fileno()))
            if self.expired:
                self._watched.shutdown(socket.SHUT_RDWR)

    def unwatch(self) -> None:
        with self._lock:
            self._close_watched()

    def _close_watched(self) -> None:
        if self._watched is not None:
            self._watched.close()
            self._watched = None

    def _expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._watched is not None:
                with contextlib.suppress(OSError):  # already closed by the peer
                    self._watched.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """The one thread that expires every fetch's deadline, the earliest first.

    A timer thread per fetch cost more than a whole 304 exchange: starting one waits for it
    to run. A finished fetch's deadline stays queued, marked done, until the thread next
    wakes, for the earliest deadline of a fetch still running: then every finished one
    ahead of that goes at once. Waking at each finished fetch's deadline cost a thread
    switch per fetch.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._queue: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()  # ties never compare deadlines
        self._thread: threading.Thread | None = None
        os.register_at_fork(after_in_child=self._forget_thread)

    def add(self, end: float, deadline: _Deadline) -> None:
        with self._wake:
            heapq.heappush(self._queue, (end, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fetch-deadlines", daemon=True)
                self._thread.start()
            elif self._queue[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._queue and (self._queue[0][0] <= now or self._queue[0][2].done):
                    heapq.heappop(self._queue)[2]._expire()  # a finished fetch's: nothing to do
                self._wake.wait(self._queue[0][0] - now if self._queue else None)

    def _forget_thread(self) -> None:
        # A forked child has no copy of the thread; its first fetch starts its own.
        self._wake = threading.Condition()
        self._thread = None


_WATCHDOG = _Watchdog()
