"""HTTP retrieval of one source: conditional, bounded in time and size, honest about redirects.

urllib3 is used directly rather than through requests because the fetch needs two hooks
requests does not offer: connecting only to addresses ``network`` has vetted, and a hard
deadline that can interrupt a server trickling its headers one byte at a time.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPException, RemoteDisconnected
from urllib.parse import urljoin, urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import DecodeError, LocationParseError, ProtocolError, ReadTimeoutError
from urllib3.response import BaseHTTPResponse
from urllib3.util import make_headers, parse_url

from newsriver import __version__
from newsriver.errors import FetchError
from newsriver.ingest.credentials import RequestSettings
from newsriver.ingest.network import IPAddress, Network, Route
from newsriver.models import FetchResult, FetchState

USER_AGENT = f"newsriver/{__version__} (+https://github.com/newsriver/newsriver)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
# Every coding urllib3 can decode here (gzip and deflate always, br with brotli installed).
ACCEPT_ENCODING = make_headers(accept_encoding=True)["accept-encoding"]
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
        except (OSError, HTTPException, ProtocolError, DecodeError, ReadTimeoutError) as exc:
            if deadline.expired:
                raise deadline.error() from exc
            raise FetchError(_describe(exc, limits)) from exc


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
        with _exchange(url, sent, limits, route, deadline) as response:
            location = response.headers.get("location", "")
            if response.status in REDIRECTS and location:
                target = _redirect_target(visited, location, limits)
                moving = moving and response.status in PERMANENT
                if moving:
                    permanent = target
                visited.append(target)
                url = target
                continue
            kept = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
            if response.status == 304:
                return FetchResult(
                    url=url,
                    status=304,
                    body=None,
                    etag=response.headers.get("etag", headers.get("If-None-Match", "")),
                    last_modified=response.headers.get("last-modified", headers.get("If-Modified-Since", "")),
                    permanent_url=permanent,
                    headers=kept,
                    public=route.public,
                )
            if not 200 <= response.status < 300:
                raise FetchError(f"HTTP {response.status} {response.reason or ''}".strip(), response.status, kept)
            body = _read_body(response, limits, deadline)
            return FetchResult(
                url=url,
                status=response.status,
                body=body,
                content_type=response.headers.get("content-type", ""),
                etag=response.headers.get("etag", ""),
                last_modified=response.headers.get("last-modified", ""),
                permanent_url=permanent,
                headers=kept,
                public=route.public,
            )


def _redirect_target(visited: list[str], location: str, limits: FetchLimits) -> str:
    target = urljoin(visited[-1], location.strip())
    scheme = urlsplit(target).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"redirected to an unsupported URL scheme: {target}")
    if target in visited:
        raise FetchError("redirect loop: " + " → ".join([*visited[visited.index(target) :], target]))
    if len(visited) > limits.max_redirects:
        raise FetchError(f"more than {limits.max_redirects} redirects (last to {target})")
    return target


@contextlib.contextmanager
def _exchange(
    url: str, headers: dict[str, str], limits: FetchLimits, route: Route, deadline: _Deadline
) -> Iterator[BaseHTTPResponse]:
    """One request and its response's headers, on a kept connection to the origin (see
    ``_Kept``) or a new one; the connection is kept again if the response was read to its end."""
    try:
        parts = parse_url(url)
    except LocationParseError as exc:
        raise FetchError(f"invalid URL: {url}") from exc
    scheme = (parts.scheme or "").lower()
    if scheme not in ("http", "https") or not parts.host:
        raise FetchError(f"unsupported URL: {url} (only http and https)")
    host = parts.host.strip("[]")
    port = parts.port or (443 if scheme == "https" else 80)
    origin = (scheme, host, port, route.network)
    connection, response = _open(origin, parts.request_uri, headers, limits, route, deadline)
    reusable = False
    try:
        try:
            yield response
            # Read to its end (a 304 has no body) and not closing: the next request may use it.
            reusable = connection.sock is not None and (response.closed or response.length_remaining == 0)
        finally:
            response.close()
    finally:
        deadline.unwatch()  # after this a deadline passing no longer touches the connection
        if reusable and not deadline.expired:
            _KEPT.keep(origin, connection)
        else:
            connection.close()


def _open(
    origin: tuple[str, str, int, Network],
    path: str,
    headers: dict[str, str],
    limits: FetchLimits,
    route: Route,
    deadline: _Deadline,
) -> tuple[_Connection, BaseHTTPResponse]:
    """The request sent and its response's headers read, on a kept connection or a new one."""
    kept = _KEPT.take(origin, route)
    if kept is not None:
        deadline.watch(kept.sock)
        try:
            return kept, _request(kept, path, headers, limits)
        except (RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the idle connection as we sent: once more on a new one.
            deadline.unwatch()
            kept.close()
        except BaseException:
            kept.close()
            raise
    scheme, host, port, _ = origin
    connection = (_VettedTLS if scheme == "https" else _Vetted)(host, port, timeout=limits.read_timeout)
    connection.opener = lambda: deadline.watch(
        _connect(route, connection, host, port, min(limits.connect_timeout, deadline.remaining()))
    )
    try:
        return connection, _request(connection, path, headers, limits)
    except BaseException:
        connection.close()
        raise


def _request(connection: _Connection, path: str, headers: dict[str, str], limits: FetchLimits) -> BaseHTTPResponse:
    connection.timeout = limits.read_timeout
    connection.request("GET", path, headers=headers, preload_content=False, decode_content=True)
    return connection.getresponse()


class _VettedMixin:
    """Connects through ``opener`` (to vetted addresses) instead of urllib3's own resolver,
    and remembers the address it reached."""

    opener: Callable[[], socket.socket]
    ip: IPAddress

    def _new_conn(self) -> socket.socket:
        return self.opener()


class _Vetted(_VettedMixin, HTTPConnection):
    pass


class _VettedTLS(_VettedMixin, HTTPSConnection):
    pass


_Connection = _Vetted | _VettedTLS


@dataclass(frozen=True, slots=True)
class _Idle:
    connection: _Connection
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

    def take(self, origin: tuple[object, ...], route: Route) -> _Connection | None:
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

    def keep(self, origin: tuple[object, ...], connection: _Connection) -> None:
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

    def _sweep(self, now: float) -> list[_Connection]:
        """Takes out the connections idle too long (once a second at most): to be closed."""
        stale: list[_Connection] = []
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


def _connect(route: Route, connection: _VettedMixin, host: str, port: int, timeout: float) -> socket.socket:
    if timeout <= 0:
        raise FetchError(f"the deadline passed before connecting to {host}")
    failures = []
    for ip in route.addresses(host, port):
        try:
            sock = socket.create_connection((str(ip), port), timeout)
        except TimeoutError:
            failures.append(f"{ip}: timed out after {timeout:g} s")
            continue
        except OSError as exc:
            failures.append(f"{ip}: {exc.strerror or exc}")
            continue
        route.reached(ip)
        connection.ip = ip
        return sock
    raise FetchError(f"cannot connect to {host}:{port}: " + "; ".join(failures))


def _read_body(response: BaseHTTPResponse, limits: FetchLimits, deadline: _Deadline) -> bytes:
    too_large = FetchError(f"body larger than {limits.max_bytes / (1024 * 1024):g} MiB (after decompression)")
    declared = response.headers.get("content-length", "")
    if not response.headers.get("content-encoding") and declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_large  # no need to read it to know
    chunks: list[bytes] = []
    size = 0
    # stream() decompresses at most _CHUNK bytes per step, so a bomb is stopped after
    # max_bytes of output having cost no more than that in memory.
    for chunk in response.stream(_CHUNK, decode_content=True):
        size += len(chunk)
        if size > limits.max_bytes:
            raise too_large
        chunks.append(chunk)
    if deadline.expired:  # the watchdog's shutdown can look like a clean end of a body
        raise deadline.error()
    return b"".join(chunks)


def _describe(exc: BaseException, limits: FetchLimits) -> str:
    if isinstance(exc, TimeoutError | ReadTimeoutError):
        return f"timed out: nothing received for {limits.read_timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, DecodeError):
        return "cannot decompress the body: the server sent corrupt data"
    if isinstance(exc, ProtocolError):
        return f"transfer failed: {exc.args[0] if exc.args else exc}"
    if isinstance(exc, HTTPException):
        return f"invalid HTTP response: {type(exc).__name__} {exc}".strip()
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

    def watch(self, sock: socket.socket) -> socket.socket:
        """Arm the timer on ``sock``; returns it.

        The timer holds a duplicate descriptor: the original changes hands (TLS wraps it,
        http.client closes its reference early) but a shutdown through any descriptor
        stops the one connection underneath.
        """
        with self._lock:
            self._close_watched()
            # Through the descriptor: a TLS socket (a kept connection's) has no dup().
            self._watched = socket.socket(sock.family, sock.type, sock.proto, os.dup(sock.fileno()))
            if self.expired:
                self._watched.shutdown(socket.SHUT_RDWR)
        return sock

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
