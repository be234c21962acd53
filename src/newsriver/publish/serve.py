"""The HTTP side: a WSGI app serving the output folder, run by waitress.

Files are served only from inside the output folder, with validators so a feed reader's
poll of an unchanged feed costs a 304 and no body.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import stat
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

from waitress.server import create_server

from newsriver.errors import NewsriverError
from newsriver.files import FEED_XSL, ServedFile, version_of
from newsriver.publish import negotiation, xsl_view
from newsriver.publish.access import ADMIN_PATHS, AdminAccess

StartResponse = Callable[..., Any]
Health = Callable[[], dict[str, Any]]

MIN_GZIP_BYTES = 512  # below this the gzip header costs more than it saves
CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8",  # feed.xsl: browsers apply only a stylesheet served as XML
}

# A browser shows application/atom+xml and application/rss+xml as raw text. Those files go to
# a browser navigating to them as the page feed.xsl makes of them (xsl_view.wants_page), and
# to another request with a browser's Accept (or without the stylesheet) as application/xml,
# the same bytes, which a browser still styling XML renders through the file's
# <?xml-stylesheet?>. Their answer depends on these request headers: caches must key on them.
BROWSER_XML = (".atom", ".rss")
BROWSER_XML_VARY = "Accept-Encoding, Accept, Sec-Fetch-Dest, Upgrade-Insecure-Requests"


def file_name(url_path: str) -> str | None:
    """The relative file name a URL path asks for; None for anything that could leave the folder."""
    # WSGI servers already percent-decode PATH_INFO once; decode again so %252e%252e
    # and friends cannot smuggle a ".." past the check below.
    decoded = unquote(url_path)
    parts = [p for p in decoded.replace("\\", "/").split("/") if p]
    if any(p in (".", "..") or "\x00" in p or p.startswith(".") for p in parts):
        return None
    return "/".join(parts) or "index.html"


class FeedServer:
    """WSGI application over the output folder (or ``files``, e.g. the database).

    ``health`` feeds ``/healthz`` and ``metrics`` ``/metrics``, for ``admin``'s clients only.
    """

    def __init__(
        self,
        root: Path,
        health: Health | None = None,
        max_age: int = 60,
        metrics: Callable[[], tuple[str, bytes]] | None = None,
        files: Callable[[str], ServedFile | None] | None = None,
        admin: AdminAccess | None = None,
    ) -> None:
        self.root = root
        self.admin = admin or AdminAccess()
        self.files = files
        self.health = health
        self.max_age = max_age
        self.metrics = metrics
        self._lock = threading.Lock()
        self._compressed: dict[str, tuple[str, bytes]] = {}
        self._versions: dict[str, tuple[tuple[int, int], str]] = {}  # by name: (mtime, size), version
        # XSL views by file name: the versions of the feed and stylesheet each was made of,
        # and the page, or None when it could not be made (not tried again until either
        # changes). One per Atom or RSS file a browser asked for, as _compressed holds one
        # gzip per file: bounded by the folder, and a crawler walking the archive evicts no
        # page a browser looks at again.
        self._pages: dict[str, tuple[str, ServedFile | None]] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", b"method not allowed\n", [("Allow", "GET, HEAD")])
        path = environ.get("PATH_INFO", "/")
        if path in ADMIN_PATHS and not self.admin.allows(environ):
            return _plain(start_response, "403 Forbidden", b"forbidden: not in settings.admin_networks\n")
        if path == "/healthz":
            report = self.health() if self.health else {"status": "ok"}
            body = json.dumps(report, default=str).encode()
            # A monitor or load balancer reads the status line; the body says why.
            status = "200 OK" if report.get("status", "ok") == "ok" else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [] if method == "HEAD" else [body]
        if path == "/metrics" and self.metrics is not None:
            content_type, body = self.metrics()
            start_response("200 OK", [("Content-Type", content_type), ("Cache-Control", "no-store")])
            return [] if method == "HEAD" else [body]
        name = file_name(path)
        served = None
        if name is not None:
            served = self._file(name)
        if name is None or served is None:
            return _plain(start_response, "404 Not Found", b"not found\n")
        content_type = CONTENT_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream")
        if name.endswith(BROWSER_XML):
            accept = environ.get("HTTP_ACCEPT", "")
            navigation = (environ.get("HTTP_SEC_FETCH_DEST", ""), environ.get("HTTP_UPGRADE_INSECURE_REQUESTS", ""))
            page = self._page(name, served) if xsl_view.wants_page(accept, *navigation) else None
            if page is not None:
                served, content_type = page, CONTENT_TYPES[".html"]
            elif xsl_view.browser_accept(accept):
                content_type = CONTENT_TYPES[".xml"]
        return self._send(environ, start_response, name, served, content_type, method == "HEAD")

    def _page(self, name: str, feed: ServedFile) -> ServedFile | None:
        """The XSL view of ``feed`` (the file ``name``): made once per version of the feed and
        of the stylesheet; None when there is no stylesheet or it makes no page of the feed."""
        stylesheet = self._file(FEED_XSL)
        if stylesheet is None:
            return None
        version = f"{feed.version}.{stylesheet.version}"
        with self._lock:
            known = self._pages.get(name)
        if known is not None and known[0] == version:
            return known[1]
        html = xsl_view.render(feed.data, stylesheet.data)
        page = None if html is None else ServedFile(html, version, max(feed.modified, stylesheet.modified))
        with self._lock:
            self._pages[name] = (version, page)
        return page

    def _file(self, name: str) -> ServedFile | None:
        return self.files(name) if self.files is not None else self._from_folder(name)

    def _from_folder(self, name: str) -> ServedFile | None:
        root = os.path.realpath(self.root)
        candidate = os.path.realpath(os.path.join(root, name))
        # realpath follows symlinks, so a link pointing out of the folder lands outside it.
        if os.path.commonpath([root, candidate]) != root:
            return None
        try:
            info = os.stat(candidate)
            if not stat.S_ISREG(info.st_mode):
                return None
            data = Path(candidate).read_bytes()
        except OSError:
            return None
        # write_atomic replaces a file only when its bytes change, so a file's bytes are
        # hashed once per mtime and size, not on every request.
        stamp = (info.st_mtime_ns, info.st_size)
        with self._lock:
            known = self._versions.get(name)
        version = known[1] if known is not None and known[0] == stamp else version_of(data)
        with self._lock:
            self._versions[name] = (stamp, version)
        return ServedFile(data, version, datetime.fromtimestamp(int(info.st_mtime), UTC))

    def _send(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        name: str,
        served: ServedFile,
        content_type: str,
        head: bool,
    ) -> Iterable[bytes]:
        data = served.data
        gzipped = len(data) > MIN_GZIP_BYTES and accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        # Each encoding is its own representation with its own validator (RFC 9110 8.8.3).
        etag = f'"{served.version}-gz"' if gzipped else f'"{served.version}"'
        headers = [
            ("ETag", etag),
            ("Last-Modified", format_datetime(served.modified, usegmt=True)),
            ("Cache-Control", f"public, max-age={self.max_age}"),
            ("Vary", BROWSER_XML_VARY if name.endswith(BROWSER_XML) else "Accept-Encoding"),
        ]
        if _not_modified(environ, etag, served.modified):
            start_response("304 Not Modified", headers)
            return []
        if gzipped:
            # The XSL view is its own file to compress; the feed's bytes are one, whichever type they go as.
            page = content_type == CONTENT_TYPES[".html"] and name.endswith(BROWSER_XML)
            data = self._gzip(f"{name} page" if page else name, served.version, data)
            headers.append(("Content-Encoding", "gzip"))
        headers += [("Content-Type", content_type), ("Content-Length", str(len(data)))]
        start_response("200 OK", headers)
        return [] if head else [data]

    def _gzip(self, key: str, version: str, data: bytes) -> bytes:
        # Feed readers poll the same few files over and over: compress each version once.
        with self._lock:
            cached = self._compressed.get(key)
            if cached is not None and cached[0] == version:
                return cached[1]
        packed = gzip.compress(data, compresslevel=6, mtime=0)
        with self._lock:
            self._compressed[key] = (version, packed)
        return packed


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header (RFC 9110 12.5.3) lets the answer be gzip-coded.

    ``gzip;q=0`` refuses it even though the word is there, and ``*`` stands for every coding
    the header does not name.
    """
    weights = negotiation.weights(accept_encoding)  # a malformed weight is no consent
    for name in ("gzip", "x-gzip"):
        if name in weights:
            return weights[name] > 0
    return weights.get("*", 0.0) > 0


def _not_modified(environ: dict[str, Any], etag: str, modified: datetime) -> bool:
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        # RFC 9110: If-None-Match wins over If-Modified-Since when both are sent.
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return etag in tags or "*" in tags
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since:
        try:
            return modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _plain(
    start_response: StartResponse, status: str, body: bytes, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *(extra or [])])
    return [body]


# waitress accepts no connection past its limit (default 100): about 110 half-open connections
# sending a header line every 2 s took the server offline for every reader. Its channels are
# asynchronous, so an idle connection costs a file descriptor and a few kB, not a thread; the
# limit is raised far above what a slow-client attack from one machine holds, and idle
# channels are closed sooner. The public internet still belongs behind a reverse proxy
# (README: "Behind a reverse proxy"), which buffers requests and limits clients.
CONNECTION_LIMIT = 4096
CHANNEL_TIMEOUT = 30  # seconds without a byte in either direction (default 120)


def make_server(app: FeedServer, host: str, port: int, threads: int = 8) -> Any:
    """A waitress server bound now (so a busy port fails at start); run with ``.run()``."""
    _raise_open_files_limit(CONNECTION_LIMIT + 256)
    try:
        return create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="newsriver",
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=CHANNEL_TIMEOUT,
            cleanup_interval=10,
            # select() cannot watch a descriptor numbered past 1,023: poll() has no such limit.
            asyncore_use_poll=True,
        )
    except OSError as exc:
        raise NewsriverError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _raise_open_files_limit(wanted: int) -> None:
    """Lift the soft limit on open files towards ``wanted`` (systemd's default soft limit is 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def close_server(server: Any) -> None:
    """Close a server that ``.run()`` serves in another thread.

    Closed from outside, its socket can vanish under the thread's select() (EBADF); the
    trigger runs the close in the serving thread itself, between two rounds of its loop.
    """
    try:
        server.trigger.pull_trigger(server.close)
    except OSError:
        # The trigger's pipe is already gone (seen once in a loaded test run: EBADF), so no
        # loop is left to run the close in: close here, which is then safe.
        server.close()
