"""One pass of the pipeline, in named stages around one loop:

- claim: the sources to poll; those left alone are skipped, the rest queued by host (``HostSlots``);
- retrieve: fetch threads fetch each source's document (``_retrieve``) and
- digest it: parse → normalize → fingerprint (``Digesting``, in worker processes, under a deadline);
- store: the loop stores finished fetches, several in one transaction (``_Writer``), near-duplicates
  folded inside the store;
- report: each outcome is logged and handed on once what it stored is committed (``_Report``).

Publishing follows a pass; it is its caller's.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from newsriver import redact
from newsriver.config.schema import Config, Settings, SourceConfig
from newsriver.errors import FetchError, NewsriverError, ParseError, StoreError
from newsriver.ingest.credentials import discovery_stays_public, for_source, public_only
from newsriver.ingest.fetch import FetchLimits, fetch
from newsriver.ingest.network import Network
from newsriver.ingest.schedule import Policy, Response, feed_interval, left_alone, rhythm_since
from newsriver.models import FetchResult, FetchState
from newsriver.run import memory
from newsriver.run.digesting import Digester, Digesting, ParseTimeout
from newsriver.run.outcome import Fetched, Outcome, Retrieved, settle
from newsriver.run.slots import HostSlots
from newsriver.store.sources import SourceRow
from newsriver.store.store import Store
from newsriver.urls import canonical, origin_of

if TYPE_CHECKING:
    from newsriver.ingest.discover import FeedLink
    from newsriver.run.full_text import FullText

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# Bounds on the source rows a pass holds before writing them (see ``_Writer``).
HELD_ROWS = 500
HELD_SECONDS = 1.0
# Fetches stored in one transaction at most: their outcomes wait for its commit. A commit
# writes every index page its saves touched (new entries land at random places in the
# near-duplicate index and the entries' indexes), so on SQLite fewer, larger transactions
# write fewer pages: storing 1,000 farm feeds took 255-295 µs of CPU an entry 32 fetches a
# transaction, 237-253 at 64-250 (commits 3.0-3.4 s against 1.0-1.9). On PostgreSQL a save
# holds the write lock (``Store.one_at_a_time``) until its transaction ends, which other
# workers wait for. The price on SQLite: a failed save rolls back (to be fetched again) up to
# 128 fetches' work, and another writer (a cron ``prune``) waits longer for the lock.
BATCH_FETCHES = 32
SQLITE_BATCH_FETCHES = 128
UNCHANGED_UNPARSABLE = "the document is unchanged since its parse failed; it is parsed again once it changes"


def utcnow() -> datetime:
    return datetime.now(UTC)


def fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        connect_timeout=settings.connect_timeout.total_seconds(),
        read_timeout=settings.timeout.total_seconds(),
        deadline=settings.deadline.total_seconds(),
    )


def fetch_state(row: SourceRow, cfg: SourceConfig) -> FetchState:
    """What fetching the source needs from its stored row, and whether it must stay on public addresses."""
    return FetchState(row.feed_url, row.etag, row.last_modified, public=row.via_public or public_only(cfg))


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
    digesting: Digesting | None = None,
    fetching: ThreadPoolExecutor | None = None,
) -> list[Outcome]:
    """Fetch the named sources (default: all) concurrently and store what they hold.

    Once ``stopping`` is set no further fetch starts; those in flight finish and are stored.
    ``digesting``: the parse workers to use (the service keeps its own across its passes);
    by default the pass starts its own as documents need them, and ends them. ``fetching``:
    the fetch threads to use, at most ``settings.concurrency`` of them (the service keeps
    its own too); by default the pass starts its own, and ends them.

    Sources that asked to be left alone — gone, or their host inside a Retry-After — are
    skipped even when named. At most ``settings.concurrency`` fetches run at once and at
    most ``settings.host_concurrency`` to one origin: scheme, host and port (see ``HostSlots``).
    """
    from newsriver.config.load import holds_a_placeholder

    # The CLI never gives a fetching command such a config; this keeps it so for any caller.
    if holds_a_placeholder(config):
        raise NewsriverError("the config was loaded without its secrets (a variable unset): it cannot poll")
    settings = config.settings
    memory.cap_arenas()
    limits = limits or fetch_limits(settings)
    network = network or Network()
    rng = rng or random.Random()
    report = _Report(on_outcome)
    claim = _claim(config, store, names, clock, report)
    with ExitStack() as stack:
        digesting = digesting or Digesting(stack, settings.parse_timeout.total_seconds(), stopping)
        how = _Retrieval(limits, network, digesting, settings.dedupe.enabled, store.sources.known_entries)
        pool = fetching or stack.enter_context(fetch_threads(settings))
        fetches = _Fetches(pool, claim.rows, clock, how)
        writer = _Writer(config, store, claim, clock, rng)
        full_text = _full_text(stack, config, store, claim, limits, network)
        _Loop(claim.slots, fetches, digesting, writer, report, stopping, full_text).run()
    if any(o.note.startswith("moved permanently") for o in report.outcomes):
        for line in shared_feeds(config, store):
            log.warning("%s", line)
    return report.outcomes


def fetch_threads(settings: Settings) -> ThreadPoolExecutor:
    """The threads a pass fetches in: ``settings.concurrency`` fetches at once at most."""
    return ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="fetch")


def shared_feeds(config: Config, store: Store) -> list[str]:
    """A line for each source that polls the same feed as another (after a move or a
    discovery, or as configured): its entries are stored twice."""
    rows = store.sources.rows()
    by_feed: dict[str, list[str]] = {}
    for cfg in config.sources:
        row = rows.get(cfg.name)
        by_feed.setdefault(canonical(row.feed_url if row else cfg.url), []).append(cfg.name)
    return [
        redact.text(f"{' and '.join(names)} poll the same feed {url}: remove all but one from the config")
        for url, names in by_feed.items()
        if len(names) > 1
    ]


# --- claim -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claim:
    """The sources a pass polls: their rows, queued by host, and their publishing rhythms."""

    rows: dict[str, SourceRow]
    slots: HostSlots
    rhythms: dict[str, dict[str, datetime]]  # by source, publication times by entry key


def _claim(
    config: Config, store: Store, names: Iterable[str] | None, clock: Clock, report: Callable[[Outcome], None]
) -> _Claim:
    """The named sources (default: all) the pass fetches; those left alone are reported skipped."""
    wanted = set(names) if names is not None else {s.name for s in config.sources}
    # A worker's batch is a few of many thousand sources: only its own rows are read.
    rows = store.sources.rows(wanted if names is not None else None)
    now = clock()
    slots = HostSlots(config.settings.host_concurrency)
    adaptive = []  # the queued sources polled at their publishing rate
    for cfg in config.sources:
        row = rows.get(cfg.name)
        if cfg.name not in wanted or row is None:
            continue
        reason = left_alone(row.status == "gone", row.retry_after, now)
        if reason:
            report(Outcome(cfg.name, "skipped", note=reason))
        else:
            slots.add(origin_of(row.feed_url), cfg)
            if is_adaptive(config, cfg):
                adaptive.append(cfg.name)
    # The publishing rhythm of every queued adaptive source, read at once: a pass fetches a
    # source once, so what its own fetch brings is all that changes its rhythm. A day's
    # margin keeps the window right for a clock read later in the pass. The schedule of a
    # source on its fixed interval never reads it (``base_interval``).
    rhythms = store.sources.recent_publication_times(adaptive, rhythm_since(now))
    return _Claim(rows, slots, rhythms)


# --- retrieve (in fetch threads; digesting is run/digesting.py) ----------------------------


@dataclass(frozen=True, slots=True)
class _Retrieval:
    """What retrieving takes besides the source: the same for a whole pass."""

    limits: FetchLimits
    network: Network
    digest: Digester
    near: bool  # near-duplicates are looked for: digesting fingerprints the articles
    known: Callable[[str], str | None]  # a source's known entries (``sources.digests``), read for a changed document


@dataclass(frozen=True, slots=True)
class _InFlight:
    source: SourceConfig
    host: str
    started: float  # time.monotonic() when it was handed to a fetch thread
    paged: bool = False  # back from the full-text stage: its host slot and document place are given back


class _Fetches:
    """The fetch threads: at most ``settings.concurrency`` fetches run at once, the rest wait their turn.

    Each fetch, as it finishes, puts its future on a queue the loop waits on: ``wait()`` on
    all running futures cost more than a 304 exchange's own Python.
    """

    def __init__(self, pool: ThreadPoolExecutor, rows: dict[str, SourceRow], clock: Clock, how: _Retrieval) -> None:
        self._pool = pool
        self._rows = rows
        self._clock = clock
        self._how = how
        self._running: dict[Future[Retrieved], _InFlight] = {}
        self._done: queue.SimpleQueue[Future[Retrieved]] = queue.SimpleQueue()

    def __bool__(self) -> bool:
        return bool(self._running)

    def start(self, host: str, cfg: SourceConfig) -> None:
        future = self._pool.submit(_retrieve, self._rows[cfg.name], cfg, self._clock(), self._how)
        self.follow(future, _InFlight(cfg, host, time.monotonic()))

    def follow(self, future: Future[Retrieved], flight: _InFlight) -> None:
        """Wait for ``future`` (a fetch's, or the full-text stage's)."""
        self._running[future] = flight
        future.add_done_callback(self._done.put)

    def finished(self) -> list[tuple[_InFlight, Retrieved]]:
        """Waits for a fetch to finish: those that have."""
        done = [self._done.get()]
        with contextlib.suppress(queue.Empty):
            while True:
                done.append(self._done.get_nowait())
        return [(self._running.pop(future), future.result()) for future in done]

    def also_finished(self) -> list[tuple[_InFlight, Retrieved]]:
        """The fetches that finished meanwhile, but for a failed one: that is left to ``finished``."""
        done: list[Future[Retrieved]] = []
        failed: list[Future[Retrieved]] = []
        with contextlib.suppress(queue.Empty):
            while True:
                future = self._done.get_nowait()
                (failed if future.exception() else done).append(future)
        for future in failed:
            self._done.put(future)
        return [(self._running.pop(future), future.result()) for future in done]


def _discovery() -> Callable[[FetchResult], list[FeedLink] | None]:
    """The one seam to HTML discovery, which brings lxml: imported when a body first arrives
    (a pass of 304s never needs it)."""
    from newsriver.ingest.discover import feeds_in

    return feeds_in


def _full_text(
    stack: ExitStack, config: Config, store: Store, claim: _Claim, limits: FetchLimits, network: Network
) -> FullText | None:
    """The full-text stage, when a source has ``full_text``: only then is it (and its
    extractor) imported."""
    if not any(cfg.full_text for cfg in config.sources):
        return None
    from newsriver.run.full_text import FullText

    return FullText(stack, config, store, claim.rows, limits, network)


def _retrieve(row: SourceRow, cfg: SourceConfig, now: datetime, how: _Retrieval) -> Retrieved:
    try:
        result, values, notes = _document(row, cfg, how)
        return _digested(row, cfg, now, result, values, redact.text("; ".join(notes)), how)
    except (FetchError, ParseError) as exc:
        status, headers = (exc.status, exc.headers) if isinstance(exc, FetchError) else (None, {})
        return Retrieved("error", Response("error", status, headers), error=redact.text(str(exc)))
    except Exception as exc:  # a source must never take the worker down
        log.exception("%s: unexpected failure", cfg.name)
        return Retrieved("error", Response("error"), error=redact.text(f"internal error: {type(exc).__name__}: {exc}"))


def _document(row: SourceRow, cfg: SourceConfig, how: _Retrieval) -> tuple[FetchResult, dict[str, Any], list[str]]:
    """The source's document (the feed an HTML page links to, for a page), the source columns
    that change with it, and notes on what changed."""
    request = for_source(cfg)  # credentials and headers, for the source's own origin only
    result = fetch(fetch_state(row, cfg), how.limits, how.network, request)
    values: dict[str, Any] = {"etag": result.etag, "last_modified": result.last_modified}
    notes = []
    if result.permanent_url:
        # 301/308 only: a 302/307 is followed but the configured URL stays.
        values |= {"feed_url": result.permanent_url, "feed_url_origin": "redirect", "via_public": result.public}
        notes.append(f"moved permanently to {result.permanent_url}; update the config")
        log.warning("%s: %s", cfg.name, notes[-1])
    if result.body is None:
        return result, values, notes
    page, feeds_in = result, _discovery()
    found = feeds_in(page)
    if found is None:  # a feed
        return result, values, notes
    if not found:
        raise ParseError('not a feed: an HTML page without a <link rel="alternate"> to a feed')
    # A different resource: the page's validators do not apply to it.
    public = page.public or discovery_stays_public(cfg, page.url, found[0].url)
    result = fetch(FetchState(found[0].url, public=public), how.limits, how.network, request)
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
    return result, values, notes


def _digested(
    row: SourceRow,
    cfg: SourceConfig,
    now: datetime,
    result: FetchResult,
    values: dict[str, Any],
    note: str,
    how: _Retrieval,
) -> Retrieved:
    asked = timedelta(seconds=row.feed_interval)  # what the document said when last parsed
    body_hash = hashlib.sha256(result.body).hexdigest() if result.body is not None else ""
    # An unchanged body is not parsed again even when the server ignores conditional GET.
    if result.body is None or body_hash == row.body_hash:
        response = Response("not_modified", result.status, result.headers, asked)
        return Retrieved("not modified", response, values=values, note=note)
    if _unparsable(body_hash) == row.body_hash:
        return Retrieved("error", Response("error", result.status, result.headers), error=UNCHANGED_UNPARSABLE)
    known = _known_entries(cfg, how)
    try:
        digested = how.digest(result.body, result.url, result.content_type, cfg, now, how.near, known)
    except ParseTimeout as exc:
        # Kept without the validators: a 304 would read as a healthy source.
        unparsable = {"body_hash": _unparsable(body_hash)}
        return Retrieved("error", Response("error", result.status, result.headers), values=unparsable, error=str(exc))
    meta = digested.meta
    asked = feed_interval(meta.ttl_minutes, meta.update_period, meta.update_frequency)
    values |= {
        "body_hash": body_hash,
        "title": meta.title,
        "link": meta.link,
        "feed_interval": int(asked.total_seconds()),
        "digests": digested.known,
    }
    response = Response("ok", result.status, result.headers, asked)
    return Retrieved("ok", response, digested.articles, values, note=note, warning=redact.text(meta.warning))


def _known_entries(cfg: SourceConfig, how: _Retrieval) -> str | None:
    """The entries of the source's last stored document that need no normalizing again if
    this one carries them as they were (``digest.Known``)."""
    # A full-text source's stored articles hold their pages' texts, not what its entries
    # normalize to: every entry is digested, and nothing is recorded as known.
    if cfg.full_text:
        return None
    try:
        return how.known(cfg.name)
    except StoreError:  # costs only the skip: storing the document will say what is wrong
        return None


def _unparsable(body_hash: str) -> str:
    """What the ``body_hash`` column holds for a body whose digest ran past its deadline or
    killed its worker: it is not parsed again until it changes (the column is 64 long)."""
    return "!" + body_hash[:63]


# --- store -------------------------------------------------------------------------------


def is_adaptive(config: Config, cfg: SourceConfig) -> bool:
    """Whether ``cfg`` is polled at its publishing rate (else on its fixed interval)."""
    return config.settings.adaptive if cfg.adaptive is None else cfg.adaptive


def policy_for(config: Config, cfg: SourceConfig) -> Policy:
    """How often ``cfg`` is polled under ``config`` (its interval, adaptive or not, the bounds)."""
    settings = config.settings
    return Policy(
        interval=config.interval(cfg),
        adaptive=is_adaptive(config, cfg),
        min_interval=settings.min_interval,
        max_interval=settings.max_interval,
        jitter=settings.jitter,
    )


class _Writer:
    """Writes finished fetches to the store: every store call of the pass after its claim is here.

    A fetch that brought no articles (a 304 above all) changes its source's row only. Those
    rows are held and written many at once, by one statement, within at most a second; the
    outcomes wait (``committed``) until what they stored is committed.
    """

    def __init__(self, config: Config, store: Store, claim: _Claim, clock: Clock, rng: random.Random) -> None:
        self._config = config
        self._store = store
        self._claim = claim
        self._clock = clock
        self._rng = rng
        self._rows: list[tuple[str, dict[str, Any]]] = []  # held source rows, to write
        self._held_since = 0.0  # when the oldest of them was held
        self._outcomes: list[Outcome] = []  # stored, waiting for the rows above to be written
        self._host_waits: dict[str, datetime] = {}  # Retry-After answers received during this pass

    @property
    def batch_fetches(self) -> int:
        """Fetches stored in one transaction at most."""
        return BATCH_FETCHES if self._store.postgres else SQLITE_BATCH_FETCHES

    def transaction(self, saving: bool) -> AbstractContextManager[None]:
        """Fetches with articles are stored in one transaction; rows alone need none."""
        return self._store.batch() if saving else nullcontext()

    def store(self, flight: _InFlight, got: Retrieved) -> datetime | None:
        """Store one fetch; on Retry-After, until when its host waits."""
        cfg = flight.source
        seconds = time.monotonic() - flight.started
        fetched = Fetched(
            cfg.name,
            self._claim.rows[cfg.name].errors,
            got,
            policy_for(self._config, cfg),
            self._clock(),
            self._rng.random(),
            seconds,
            self._host_waits.get(flight.host),
            self._claim.rhythms.get(cfg.name, {}),
            self._claim.rows[cfg.name].warning,
        )
        settled = settle(fetched)
        outcome = settled.outcome
        if got.articles:
            from newsriver.store.entries import FORGET_KNOWN  # with the store's saving: not for a 304

            dedupe = self._config.settings.dedupe
            near, related = dedupe.near, dedupe.related_policy
            # A chunk at a time, in the transaction the loop holds open: one document's are
            # all stored or none.
            values = settled.values
            for articles, prints, seen in got.articles:
                counts = self._store.entries.save(cfg.name, articles, values, near, prints, related, seen)
                outcome = replace(outcome, new=outcome.new + counts.new, updated=outcome.updated + counts.updated)
                if counts.stale:  # the chunks after it must not record its known entries again
                    values = values | FORGET_KNOWN
        else:
            if not self._rows:
                self._held_since = time.monotonic()
            self._rows.append((cfg.name, settled.values))
        self._outcomes.append(outcome)
        return settled.host_wait

    def defer_host(self, host: str, until: datetime, waiting: list[SourceConfig]) -> None:
        """``host`` asked to be left alone until ``until``: so are all its sources, and those
        ``waiting`` for it in this pass are skipped."""
        self._write_rows()  # written before the wait, which must have the last word on these rows
        self._host_waits[host] = until
        on_host = (name for name, row in self._store.sources.rows().items() if origin_of(row.feed_url) == host)
        self._store.sources.defer(on_host, until)
        note = left_alone(False, until, self._clock())
        self._outcomes += [Outcome(source.name, "skipped", note=note) for source in waiting]

    def write_rows_if_due(self, now_anyway: bool) -> None:
        """Write the held rows if ``now_anyway``, or if there are many or they have waited long."""
        due = len(self._rows) >= HELD_ROWS or time.monotonic() - self._held_since >= HELD_SECONDS
        if self._rows and (now_anyway or due):
            self._write_rows()

    def committed(self) -> list[Outcome]:
        """The outcomes whose writes are all committed, once: none while rows are held."""
        if self._rows:
            return []
        done, self._outcomes = self._outcomes, []
        return done

    def _write_rows(self) -> None:
        if self._rows:
            self._store.sources.update_many(self._rows)
            self._rows.clear()


# --- the loop, and report ----------------------------------------------------------------


class _Report:
    """Each outcome logged (one event per fetch), handed to ``on_outcome``, and kept."""

    def __init__(self, on_outcome: Callable[[Outcome], None] | None) -> None:
        self._on_outcome = on_outcome
        self.outcomes: list[Outcome] = []

    def __call__(self, outcome: Outcome) -> None:
        log.log(outcome.level, outcome.line(), extra=outcome.fields())
        if self._on_outcome:
            self._on_outcome(outcome)
        self.outcomes.append(outcome)


@dataclass(frozen=True, slots=True)
class _Loop:
    """The pass's loop: start the fetches the host slots allow, store each as it finishes,
    give its slot to the next source of its host, report what is committed."""

    slots: HostSlots
    fetches: _Fetches
    digesting: Digesting
    writer: _Writer
    report: _Report
    stopping: threading.Event | None
    full_text: FullText | None = None

    def run(self) -> None:
        for host, cfg in self.slots.opening():
            self.fetches.start(host, cfg)
        while self.fetches:
            self._store(self.fetches.finished())
            for outcome in self.writer.committed():
                self.report(outcome)

    def _store(self, results: list[tuple[_InFlight, Retrieved]]) -> None:
        """Store fetches that finished together, in one transaction if any brought articles."""
        saving = any(got.articles for _, got in results)
        with self.writer.transaction(saving):
            stored = 0
            while results:
                for flight, got in results:
                    self._store_one(flight, got)
                stored += len(results)
                # Fetches that finished meanwhile join this transaction: a commit costs
                # about as much as the saves it ends.
                results = self.fetches.also_finished() if saving and stored < self.writer.batch_fetches else []
            self.writer.write_rows_if_due(now_anyway=saving or not self.fetches)

    def _store_one(self, flight: _InFlight, got: Retrieved) -> None:
        later = self.full_text.take(flight.source, got) if self.full_text and not flight.paged else None
        if later is not None:  # stored when its pages are in; its slot and place are free now
            self.fetches.follow(later, replace(flight, paged=True))
            self.digesting.stored(got)
        else:
            host_wait = self.writer.store(flight, got)
            if self.full_text is not None and flight.paged:
                self.full_text.stored(flight.source.name, utcnow())
            else:
                self.digesting.stored(got)
            if host_wait is not None:
                self.writer.defer_host(flight.host, host_wait, self.slots.close(flight.host))
        if flight.paged or (self.stopping is not None and self.stopping.is_set()):
            return
        source = self.slots.freed(flight.host)
        if source is not None:
            self.fetches.start(flight.host, source)
