"""One pass of the pipeline: fetch → parse → normalize → store (dedupe inside) → publish."""

from __future__ import annotations

import hashlib
import itertools
import logging
import multiprocessing
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from newsriver import redact
from newsriver.config.schema import Config, Settings, SourceConfig
from newsriver.errors import FetchError, ParseError
from newsriver.ingest.credentials import discovery_stays_public, for_source, public_only
from newsriver.ingest.fetch import FetchLimits, fetch
from newsriver.ingest.network import Network
from newsriver.ingest.schedule import RATE_WINDOW, Policy, Response, feed_interval, left_alone, plan_next_poll
from newsriver.models import Article, FetchResult
from newsriver.store.store import SourceRow, Store
from newsriver.urls import origin_of

if TYPE_CHECKING:
    # The parsing stage (feedparser, nh3, lxml) and HTML discovery are imported where a body
    # first needs them: a pass of 304s never does, and start-up is much of its time.
    from newsriver.ingest.digest import Digest
    from newsriver.stories.fingerprint import Fingerprint

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Digester = Callable[[bytes, str, str, SourceConfig, datetime, bool], "Digest"]
# A pass parses its first documents in this process and the rest, if there are more, in
# worker processes, one per core: starting them costs a few hundred milliseconds, about what
# parsing this many documents of 50 entries does, so a pass where a few sources changed
# never starts them.
PROCESS_POOL_AFTER_DOCUMENTS = 16
# Documents a pass holds between their fetch and their store: parsed ones wait for the store,
# which is slower than parsing on two cores; without a bound each fetch thread held one, with
# its articles and fingerprints (about a megabyte for a feed of 50 entries).
DOCUMENTS_IN_HAND = 6
# Bounds on the source rows a pass holds before writing them (see poll_sources).
HELD_ROWS = 500
HELD_SECONDS = 1.0
# Fetches stored in one transaction at most: their outcomes wait for its commit.
BATCH_FETCHES = 32


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one source's poll did, for the per-source line and the logs."""

    source: str
    result: str  # "ok", "not modified", "error", "skipped"
    new: int = 0
    updated: int = 0
    error: str = ""
    seconds: float = 0.0
    note: str = ""  # why it was skipped, or what changed: a move, a discovered feed

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
            "note": self.note,
        }

    def line(self) -> str:
        if self.result == "error":
            return f"{self.source}: error: {self.error}"
        if self.result == "skipped":
            return f"{self.source}: skipped: {self.note}"
        done = "not modified" if self.result == "not modified" else f"new {self.new}, updated {self.updated}"
        return f"{self.source}: {done}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True, slots=True)
class _Retrieved:
    """A fetch's result after parsing, before storing (computed off the main thread)."""

    status: str  # "ok" | "not modified" | "error"
    response: Response  # what the schedule needs to know
    articles: Sequence[Article] = ()
    values: dict[str, Any] = field(default_factory=dict)  # source columns to store
    prints: Sequence[Fingerprint] = ()  # the articles' fingerprints, when near-duplicates are looked for
    error: str = ""
    note: str = ""


def fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        connect_timeout=settings.connect_timeout.total_seconds(),
        read_timeout=settings.timeout.total_seconds(),
        deadline=settings.deadline.total_seconds(),
    )


def _policy(config: Config, cfg: SourceConfig) -> Policy:
    settings = config.settings
    return Policy(
        interval=config.interval(cfg),
        adaptive=settings.adaptive if cfg.adaptive is None else cfg.adaptive,
        min_interval=settings.min_interval,
        max_interval=settings.max_interval,
        jitter=settings.jitter,
    )


def _retrieve(
    row: SourceRow,
    cfg: SourceConfig,
    now: datetime,
    limits: FetchLimits,
    network: Network,
    digester: Digester,
    near: bool,
) -> _Retrieved:
    try:
        request = for_source(cfg)
        public = row.via_public or public_only(cfg)
        result = fetch(row.feed_url, row.etag, row.last_modified, limits, network, public, request)
        values: dict[str, Any] = {"etag": result.etag, "last_modified": result.last_modified}
        notes = []
        if result.permanent_url:
            # 301/308 only: a 302/307 is followed but the configured URL stays.
            values |= {"feed_url": result.permanent_url, "feed_url_origin": "redirect", "via_public": result.public}
            notes.append(f"moved permanently to {result.permanent_url}; update the config")
            log.warning("%s: %s", cfg.name, notes[-1])
        page = result
        found = None
        if page.body is not None:
            from newsriver.ingest.discover import feeds_in

            found = feeds_in(page)
        if found is not None:
            if not found:
                raise ParseError('not a feed: an HTML page without a <link rel="alternate"> to a feed')
            # A different resource: the page's validators do not apply to it.
            public = page.public or discovery_stays_public(cfg, page.url, found[0].url)
            result = fetch(found[0].url, limits=limits, network=network, public=public, request=request)
            if feeds_in(result) is not None:
                raise ParseError(f"not a feed: {found[0].url}, discovered on {page.url}, is an HTML page too")
            values = {
                "etag": result.etag,
                "last_modified": result.last_modified,
                "feed_url": result.permanent_url or found[0].url,
                "feed_url_origin": "discovery",
                "via_public": result.public,
            }
            notes.append(f"discovered feed {values['feed_url']} on {page.url}")
            log.info("%s: %s", cfg.name, notes[-1])
        return _parsed(row, cfg, now, result, values, redact.text("; ".join(notes)), digester, near)
    except (FetchError, ParseError) as exc:
        status, headers = (exc.status, exc.headers) if isinstance(exc, FetchError) else (None, {})
        return _Retrieved("error", Response("error", status, headers), error=redact.text(str(exc)))
    except Exception as exc:  # a source must never take the worker down
        log.exception("%s: unexpected failure", cfg.name)
        return _Retrieved("error", Response("error"), error=redact.text(f"internal error: {type(exc).__name__}: {exc}"))


def _parsed(
    row: SourceRow,
    cfg: SourceConfig,
    now: datetime,
    result: FetchResult,
    values: dict[str, Any],
    note: str,
    digester: Digester,
    near: bool,
) -> _Retrieved:
    asked = timedelta(seconds=row.feed_interval)  # what the document said when last parsed
    body_hash = hashlib.sha256(result.body).hexdigest() if result.body is not None else ""
    # An unchanged body is not parsed again even when the server ignores conditional GET.
    if result.body is None or body_hash == row.body_hash:
        response = Response("not_modified", result.status, result.headers, asked)
        return _Retrieved("not modified", response, values=values, note=note)
    digested = digester(result.body, result.url, result.content_type, cfg, now, near)
    meta = digested.meta
    asked = feed_interval(meta.ttl_minutes, meta.update_period, meta.update_frequency)
    values |= {
        "body_hash": body_hash,
        "title": meta.title,
        "link": meta.link,
        "feed_interval": int(asked.total_seconds()),
    }
    response = Response("ok", result.status, result.headers, asked)
    return _Retrieved("ok", response, digested.articles, values, note=note, prints=digested.prints)


def poll_sources(
    config: Config,
    store: Store,
    names: Iterable[str] | None = None,
    clock: Clock = utcnow,
    on_outcome: Callable[[Outcome], None] | None = None,
    limits: FetchLimits | None = None,
    rng: random.Random | None = None,
    network: Network | None = None,
    stopping: threading.Event | None = None,
) -> list[Outcome]:
    """Fetch the named sources (default: all) concurrently and store what they hold.

    Once ``stopping`` is set no further fetch starts; those in flight finish and are stored.

    Sources that asked to be left alone — gone, or their origin inside a Retry-After — are
    skipped even when named. At most ``settings.concurrency`` fetches run at once and at
    most ``settings.host_concurrency`` to one origin (scheme, host, port: two services on
    one machine are two origins); a source is handed to a worker only when its origin has
    room, so a slow server ties up its own slots, never everyone's.
    """
    settings = config.settings
    limits = limits or fetch_limits(settings)
    network = network or Network()
    rng = rng or random.Random()
    wanted = set(names) if names is not None else {s.name for s in config.sources}
    # A worker's batch is a few of many thousand sources: only its own rows are read.
    rows = store.sources(wanted if names is not None else None)
    outcomes: list[Outcome] = []

    def report(outcome: Outcome) -> None:
        log.info(outcome.line(), extra=outcome.fields())
        if on_outcome:
            on_outcome(outcome)
        outcomes.append(outcome)

    now = clock()
    queues: dict[str, deque[SourceConfig]] = {}
    for cfg in config.sources:
        if cfg.name not in wanted or cfg.name not in rows:
            continue
        row = rows[cfg.name]
        reason = left_alone(row.status == "gone", row.retry_after, now)
        if reason:
            report(Outcome(cfg.name, "skipped", note=reason))
        else:
            queues.setdefault(origin_of(row.feed_url), deque()).append(cfg)

    host_waits: dict[str, datetime] = {}  # Retry-After answers received during this pass
    # The publishing rhythm of every queued source, read at once: a pass fetches a source
    # once, so what its own fetch brings is all that changes its rhythm. A day's margin
    # keeps the window right for a clock read later in the pass.
    queued = [cfg.name for queue in queues.values() for cfg in queue]
    rhythms = store.recent_publication_times(queued, now - RATE_WINDOW - timedelta(days=1))
    near = settings.dedupe.near is not None
    # Parsing here and storing take turns. Under the GIL they never ran at once anyway, but
    # each database call (dozens a source) gives the GIL up and could wait up to a switch
    # interval (5 ms) to get it back from a parsing thread.
    turns = threading.Lock()
    with ExitStack() as stack:
        digester = _digester(stack, turns)
        in_hand = threading.Semaphore(DOCUMENTS_IN_HAND)

        def bounded(body: bytes, url: str, content_type: str, cfg: SourceConfig, now: datetime, near: bool) -> Digest:
            in_hand.acquire()  # released once stored: every "ok" result was digested here
            try:
                return digester(body, url, content_type, cfg, now, near)
            except BaseException:
                in_hand.release()
                raise

        pool = stack.enter_context(ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="fetch"))
        running: dict[Future[_Retrieved], tuple[SourceConfig, str, float]] = {}

        def start(host: str) -> None:
            cfg = queues[host].popleft()
            future = pool.submit(_retrieve, rows[cfg.name], cfg, clock(), limits, network, bounded, near)
            running[future] = (cfg, host, time.monotonic())

        # Every host gets its first slot before any host gets its second.
        for _slot in range(settings.host_concurrency):
            for host in queues:
                if queues[host]:
                    start(host)
        # A fetch that brought no articles (a 304 above all) changes its source's row only.
        # Those rows are written many at once, by one statement, within at most a second;
        # outcomes are reported once what they stored is committed.
        updates: list[tuple[str, dict[str, Any]]] = []
        held_since = 0.0  # when the oldest row in ``updates`` was added
        finished: list[Outcome] = []
        while running:
            done, _pending = wait(running, return_when=FIRST_COMPLETED)
            results = [(future, future.result()) for future in done]
            # The fetches with articles that finished together are stored in one transaction.
            saving = any(got.articles for _, got in results)
            with turns, store.batch() if saving else nullcontext():
                if not updates:
                    held_since = time.monotonic()
                stored = 0
                while results:
                    for future, got in results:
                        cfg, host, started = running.pop(future)
                        seconds = time.monotonic() - started
                        outcome, host_wait = _store(
                            config,
                            store,
                            cfg,
                            rows[cfg.name],
                            got,
                            clock(),
                            rng.random(),
                            seconds,
                            host_waits.get(host),
                            rhythms.get(cfg.name, {}),
                            updates,
                        )
                        finished.append(outcome)
                        if got.status == "ok":
                            in_hand.release()
                        if host_wait is not None:
                            # Written before the wait, which must have the last word on these rows.
                            store.update_sources(updates)
                            updates.clear()
                            host_waits[host] = host_wait
                            store.defer(
                                (n for n, r in store.sources().items() if origin_of(r.feed_url) == host), host_wait
                            )
                            note = left_alone(False, host_wait, clock())
                            finished += [
                                Outcome(waiting.name, "skipped", note=note) for waiting in queues.pop(host, ())
                            ]
                        if queues.get(host) and not (stopping and stopping.is_set()):
                            start(host)
                    stored += len(results)
                    # Fetches that finished meanwhile join this transaction: a commit costs
                    # about as much as the saves it ends. A failed one is left to ``wait``.
                    if saving and stored < BATCH_FETCHES:
                        results = [(f, f.result()) for f in list(running) if f.done() and not f.exception()]
                    else:
                        results = []
                if updates and (
                    saving or not running or len(updates) >= HELD_ROWS or time.monotonic() - held_since >= HELD_SECONDS
                ):
                    store.update_sources(updates)
                    updates.clear()
            if not updates:
                for outcome in finished:
                    report(outcome)
                finished.clear()
    return outcomes


def _digester(stack: ExitStack, turns: threading.Lock) -> Digester:
    """Where documents are parsed: in this process (taking ``turns`` with storing), or once
    a pass has more than a few on a multi-core machine, in worker processes (the fetch
    threads wait for their digest)."""

    def here(body: bytes, url: str, content_type: str, cfg: SourceConfig, now: datetime, near: bool) -> Digest:
        from newsriver.ingest.digest import digest

        with turns:
            return digest(body, url, content_type, cfg, now, near)

    processes = min(os.cpu_count() or 1, 4)
    if processes < 2:
        return here
    # forkserver: workers start from a small single-threaded process that imported only the
    # parsing stage, never by forking this one with its threads, connections and database.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["newsriver.ingest.digest"])
    workers = stack.enter_context(ProcessPoolExecutor(max_workers=processes, mp_context=context))
    documents = itertools.count()  # none of the workers starts before the first submit

    def in_worker(body: bytes, url: str, content_type: str, cfg: SourceConfig, now: datetime, near: bool) -> Digest:
        if next(documents) < PROCESS_POOL_AFTER_DOCUMENTS:
            return here(body, url, content_type, cfg, now, near)
        from newsriver.ingest.digest import digest

        try:
            job = workers.submit(digest, body, url, content_type, cfg, now, near)
        except BrokenProcessPool:  # a worker died (its document's source is in error): parse here
            return here(body, url, content_type, cfg, now, near)
        return job.result()

    return in_worker


def _store(
    config: Config,
    store: Store,
    cfg: SourceConfig,
    row: SourceRow,
    got: _Retrieved,
    now: datetime,
    spread: float,
    seconds: float,
    host_wait: datetime | None,
    rhythm: dict[str, datetime],
    updates: list[tuple[str, dict[str, Any]]],
) -> tuple[Outcome, datetime | None]:
    """Record one fetch; returns its outcome and, on Retry-After, until when its host waits.

    ``rhythm`` holds the source's publication times by entry key, as read at the start of
    the pass (see ``Store.recent_publication_times``). A fetch without articles only changes
    the source's row: that change is appended to ``updates``, for the caller to write.
    """
    history = rhythm | {a.entry_key: a.published for a in got.articles} if got.articles else rhythm
    decision = plan_next_poll(now, _policy(config, cfg), row.errors, list(history.values()), got.response, spread)
    next_poll = decision.next_poll
    if next_poll is not None and host_wait is not None:
        next_poll = max(next_poll, host_wait)  # another source on this host was told to wait
    if got.status == "error":
        error = got.error
        if decision.state == "gone":
            error += ": the feed was removed for good; it is no longer polled"
        elif decision.host_wait_until is not None:
            error += f"; the host asked to wait until {decision.host_wait_until:%Y-%m-%d %H:%M:%S} UTC"
        updates.append(
            (
                cfg.name,
                {
                    "status": decision.state,
                    "last_error": error,
                    "errors": decision.errors,
                    "last_fetch": now,
                    "next_poll": next_poll,
                },
            )
        )
        return Outcome(cfg.name, "error", error=error, seconds=seconds), decision.host_wait_until
    values = got.values | {
        "status": decision.state,
        "last_error": "",
        "errors": 0,
        "last_fetch": now,
        "last_success": now,
        "next_poll": next_poll,
        "retry_after": None,
    }
    if not got.articles:
        updates.append((cfg.name, values))
        return Outcome(cfg.name, got.status, seconds=seconds, note=got.note), None
    counts = store.save(cfg.name, got.articles, values, near=config.settings.dedupe.near, prints=got.prints)
    outcome = Outcome(cfg.name, got.status, new=counts.new, updated=counts.updated, seconds=seconds, note=got.note)
    return outcome, None
