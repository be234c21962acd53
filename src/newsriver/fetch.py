"""HTTP retrieval of one source: conditional, bounded in time and size, honest about redirects."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from . import __version__
from .errors import FetchError
from .models import FetchResult

USER_AGENT = f"newsriver/{__version__} (+https://github.com/newsriver/newsriver)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
# Headers the scheduler and status need later; the rest of the response is dropped.
KEPT_HEADERS = ("cache-control", "expires", "retry-after", "content-type", "etag", "last-modified")


@dataclass(frozen=True, slots=True)
class Limits:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 60.0  # whole exchange, so a trickling server cannot hold a worker
    max_bytes: int = 15 * 1024 * 1024  # after decompression: a gzip bomb stops here
    max_redirects: int = 5


_local = threading.local()


def _session(limits: Limits) -> requests.Session:
    # requests.Session is not documented as thread-safe; one per worker thread is.
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers.update({"User-Agent": USER_AGENT, "Accept": ACCEPT})
        session.max_redirects = limits.max_redirects
        _local.session = session
    return session


def fetch(url: str, etag: str = "", last_modified: str = "", limits: Limits | None = None) -> FetchResult:
    """GET a feed, conditionally when validators are known; raise FetchError on failure."""
    limits = limits or Limits()
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError(f"unsupported URL scheme: {url}")
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    try:
        response = _session(limits).get(
            url,
            headers=headers,
            timeout=(limits.connect_timeout, limits.read_timeout),
            stream=True,
            allow_redirects=True,
        )
    except requests.TooManyRedirects as exc:
        raise FetchError(f"more than {limits.max_redirects} redirects") from exc
    except requests.Timeout as exc:
        raise FetchError(f"timed out: {_reason(exc)}") from exc
    except requests.RequestException as exc:
        raise FetchError(f"cannot connect: {_reason(exc)}") from exc
    with response:
        kept = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
        if response.status_code == 304:
            return FetchResult(
                url=response.url,
                status=304,
                body=None,
                etag=etag,
                last_modified=last_modified,
                permanent_url=_permanent_target(url, response),
                headers=kept,
            )
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code} {response.reason or ''}".strip(), response.status_code, kept)
        body = _read_body(response, limits, started)
    return FetchResult(
        url=response.url,
        status=response.status_code,
        body=body,
        content_type=response.headers.get("content-type", ""),
        etag=response.headers.get("etag", ""),
        last_modified=response.headers.get("last-modified", ""),
        permanent_url=_permanent_target(url, response),
        headers=kept,
    )


def _read_body(response: requests.Response, limits: Limits, started: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > limits.max_bytes:
                raise FetchError(f"body larger than {limits.max_bytes // (1024 * 1024)} MiB (after decompression)")
            if time.monotonic() - started > limits.deadline:
                raise FetchError(f"took longer than {limits.deadline:.0f} s")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise FetchError(f"transfer failed: {_reason(exc)}") from exc
    return b"".join(chunks)


def _permanent_target(requested: str, response: requests.Response) -> str:
    """Where the feed now lives for good: the end of the leading run of 301/308 redirects."""
    target = ""
    current = requested
    for hop in response.history:
        if hop.status_code not in (301, 308):
            break
        current = urljoin(current, hop.headers.get("location", ""))
        target = current
    return target


def _reason(exc: BaseException) -> str:
    # requests wraps the OS error in several layers of pool diagnostics; show the OS error.
    text = str(exc)
    found = _OS_ERROR.search(text)
    return found.group(0) if found else text


_OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")]+|Read timed out|Connection refused|Name or service not known")
