"""One pass of the pipeline: fetch → parse → normalize → store (dedupe inside) → publish."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import Config, SourceConfig
from .errors import FetchError, ParseError
from .fetch import Limits, fetch
from .models import Article, FeedMeta
from .normalize import normalize_feed
from .parse import parse
from .schedule import Policy, next_poll
from .store import SourceRow, Store
from .urls import host_of

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one source's poll did, for the per-source line and the logs."""

    source: str
    result: str  # "ok", "not modified", "error"
    new: int = 0
    updated: int = 0
    error: str = ""
    seconds: float = 0.0

    def fields(self) -> dict[str, object]:
        """The outcome as structured log fields (one event per fetch)."""
        return {
            "event": "fetch",
            "source": self.source,
            "result": self.result,
            "seconds": round(self.seconds, 3),
            "new": self.new,
            "updated": self.updated,
            "error": self.error,
        }

    def line(self) -> str:
        if self.result == "error":
            return f"{self.source}: error: {self.error}"
        if self.result == "not modified":
            return f"{self.source}: not modified"
        return f"{self.source}: new {self.new}, updated {self.updated}"


@dataclass(frozen=True, slots=True)
class _Retrieved:
    """A fetch's result after parsing, before storing (computed off the main thread)."""

    status: str  # "ok" | "not modified" | "error"
    articles: Sequence[Article] = ()
    meta: FeedMeta | None = None
    values: dict[str, Any] = field(default_factory=dict)  # source columns to store
    error: str = ""


class HostLimiter:
    """At most ``per_host`` fetches at once to one host, so a pass never hammers a site."""

    def __init__(self, per_host: int = 2) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.Semaphore] = {}

    def __call__(self, url: str) -> threading.Semaphore:
        with self._lock:
            return self._semaphores.setdefault(host_of(url), threading.Semaphore(self.per_host))


def _retrieve(row: SourceRow, cfg: SourceConfig, now: datetime, limits: Limits, hosts: HostLimiter) -> _Retrieved:
    try:
        with hosts(row.feed_url):
            result = fetch(row.feed_url, row.etag, row.last_modified, limits)
        values: dict[str, Any] = {"etag": result.etag, "last_modified": result.last_modified}
        if result.permanent_url and result.permanent_url != row.feed_url:
            log.warning("%s: moved permanently to %s; update the config", cfg.name, result.permanent_url)
            values["feed_url"] = result.permanent_url
        if result.body is None:
            return _Retrieved("not modified", values=values)
        body_hash = hashlib.sha256(result.body).hexdigest()
        if body_hash == row.body_hash:
            # The server ignores conditional GET, but nothing changed: skip parsing.
            return _Retrieved("not modified", values=values)
        parsed = parse(result.body, result.url, result.content_type)
        articles = normalize_feed(parsed, cfg.name, row.feed_url, now)
        values |= {"body_hash": body_hash, "title": parsed.meta.title, "link": parsed.meta.link}
        return _Retrieved("ok", articles=articles, meta=parsed.meta, values=values)
    except (FetchError, ParseError) as exc:
        return _Retrieved("error", error=str(exc))
    except Exception as exc:  # a source must never take the worker down
        log.exception("%s: unexpected failure", cfg.name)
        return _Retrieved("error", error=f"internal error: {type(exc).__name__}: {exc}")


def poll_sources(
    config: Config,
    store: Store,
    names: Iterable[str] | None = None,
    clock: Clock = utcnow,
    on_outcome: Callable[[Outcome], None] | None = None,
    limits: Limits | None = None,
    rng: random.Random | None = None,
) -> list[Outcome]:
    """Fetch the named sources (default: all) concurrently and store what they hold."""
    limits = limits or Limits(read_timeout=config.settings.timeout.total_seconds())
    rng = rng or random.Random()
    wanted = set(names) if names is not None else {s.name for s in config.sources}
    sources = [s for s in config.sources if s.name in wanted]
    rows = store.sources()
    hosts = HostLimiter()
    outcomes = []
    with ThreadPoolExecutor(max_workers=config.settings.concurrency, thread_name_prefix="fetch") as pool:
        started = {s.name: time.monotonic() for s in sources}
        futures = {pool.submit(_retrieve, rows[s.name], s, clock(), limits, hosts): s for s in sources}
        for future in as_completed(futures):
            cfg = futures[future]
            seconds = time.monotonic() - started[cfg.name]
            outcome = _store(config, store, cfg, rows[cfg.name], future.result(), clock(), rng, seconds)
            log.info(outcome.line(), extra=outcome.fields())
            if on_outcome:
                on_outcome(outcome)
            outcomes.append(outcome)
    return outcomes


def _store(
    config: Config,
    store: Store,
    cfg: SourceConfig,
    row: SourceRow,
    got: _Retrieved,
    now: datetime,
    rng: random.Random,
    seconds: float,
) -> Outcome:
    policy = Policy(interval=config.interval(cfg))
    if got.status == "error":
        errors = row.errors + 1
        store.update_source(
            cfg.name,
            status="error",
            last_error=got.error,
            errors=errors,
            last_fetch=now,
            next_poll=next_poll(now, policy, errors, rng.random()),
        )
        return Outcome(cfg.name, "error", error=got.error, seconds=seconds)
    values = got.values | {
        "status": "ok" if got.status == "ok" else "not_modified",
        "last_error": "",
        "errors": 0,
        "last_fetch": now,
        "last_success": now,
        "next_poll": next_poll(now, policy, 0, rng.random()),
    }
    counts = store.save(cfg.name, got.articles, values)
    return Outcome(cfg.name, got.status, new=counts.new, updated=counts.updated, seconds=seconds)
