"""The long-running service: poll due sources on schedule, republish, serve over HTTP.

It takes config changes without a restart (SIGHUP or the file changing), keeps running on
the old config when the new one is invalid, and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from newsriver.config import load as config_module
from newsriver.config.schema import Config
from newsriver.errors import ConfigError
from newsriver.plural import counted
from newsriver.publish.access import AdminAccess
from newsriver.publish.publisher import announce, publish_feeds
from newsriver.publish.serve import FeedServer, close_server, make_server
from newsriver.run.digesting import Digesting
from newsriver.run.health import FAILURES, Health, reason
from newsriver.run.metrics import CONTENT_TYPE, Metrics, SourceFigures
from newsriver.run.outcome import Outcome
from newsriver.run.poll import Clock, fetch_threads, poll_sources, utcnow
from newsriver.run.prune import apply_retention
from newsriver.run.replan import changed_schedules, replan
from newsriver.store import full_text
from newsriver.store.coordination import Coordinator
from newsriver.store.store import Store

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 10
# Retention runs daily, first a while after start: the first polls and publish go ahead,
# and a service restarted more often than daily still prunes.
PRUNE_EVERY = timedelta(days=1)
PRUNE_FIRST_AFTER = timedelta(minutes=10)


class Service:
    def __init__(
        self,
        config_path: Path,
        config: Config,
        store: Store,
        clock: Clock = utcnow,
        on_outcome: Callable[[Outcome], None] | None = None,
        role: str = "all",
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.store = store
        self.clock = clock
        self.on_outcome = on_outcome
        self.metrics = Metrics(self._source_figures)
        self.role = role
        self.coordinator = Coordinator(store, role)
        self._version = ""
        self.last_publish: datetime | None = None
        self.checks = Health(store, clock())
        self._config_stamp = _stamp(config_path)
        self._reload_requested = threading.Event()
        self._stopping = threading.Event()
        self._work = threading.Lock()  # one tick or reload at a time
        self._scheduler = BackgroundScheduler(timezone="UTC")
        # The parse workers, kept from one batch to the next (see ``_digesting``).
        self._parsing = ExitStack()
        self._digesting: tuple[float, Digesting] | None = None
        self._fetching: tuple[int, ThreadPoolExecutor] | None = None  # the fetch threads (see ``_fetcher``)
        self._publish_waited = False  # the last tick's publish waited for this one (``_publish_waits``)

    def health(self) -> dict[str, Any]:
        return self.checks.report(self.config, self.clock(), self.last_publish)

    def _source_figures(self) -> list[SourceFigures]:
        rows, counts = self.store.sources.rows(), self.store.sources.entry_counts()
        return [
            SourceFigures(s.name, rows[s.name].last_success, rows[s.name].errors, counts.get(s.name, 0))
            for s in self.config.sources
            if s.name in rows
        ]

    # --- work --------------------------------------------------------------------------

    def tick(self) -> None:
        """Reload if asked; poll due sources (workers); republish when content changed."""
        with self._work:
            if self._stopping.is_set():
                return
            # A full disk or a database gone fails every tick alike: said once (Trouble) and
            # by /healthz, not as a traceback per tick.
            try:
                if self._reload_requested.is_set() or _stamp(self.config_path) != self._config_stamp:
                    self._reload_requested.clear()
                    self.reload()
                self.coordinator.heartbeat(self.clock())
                if self.role in ("all", "worker"):
                    self._poll_due()
            except FAILURES as exc:
                self.checks.storing.failed(exc)
            else:
                self.checks.storing.ok()
            try:
                if self._publishes():
                    version = self.coordinator.version()
                    if (self.last_publish is None or version != self._version) and not self._publish_waits():
                        self.publish()
                        self._version = version  # only once published: a failed publish is tried again
            except FAILURES as exc:
                self.checks.publishing.failed(exc)
            else:
                self.checks.publishing.ok()

    def _poll_due(self) -> None:
        """Claim due sources in batches and poll them until none is left, we stop, or it is
        time to publish."""
        settings = self.config.settings
        names = {s.name for s in self.config.sources}
        batch = settings.concurrency * 4
        # On PostgreSQL other workers' fetches count against a host's slots, so a claim takes no
        # more than its free ones. On SQLite this is the only worker (WriterLock), and the pass
        # keeps each host to its slots (HostSlots): a batch stopped at them polled a host that
        # serves many sources a few at a time, each batch paying its claim, threads and commits.
        per_host = settings.host_concurrency if self.coordinator.postgres else batch
        # Polling gives way to publishing at least once per reader cache lifetime: with
        # thousands of sources, one comes due every moment and the loop might never end, nor
        # anything new be published; a reader would see it no sooner published more often.
        until = time.monotonic() + self.config.cache_max_age()
        while not self._stopping.is_set() and time.monotonic() < until:
            # A heartbeat per batch, not per tick: a long tick must not look like a dead worker
            # to one starting (Coordinator.take_over).
            self.coordinator.heartbeat(self.clock())
            claimed = self.coordinator.claim(names, self.clock(), batch, per_host, settings.lease)
            if not claimed:
                return
            try:
                outcomes = poll_sources(
                    self.config,
                    self.store,
                    claimed,
                    clock=self.clock,
                    on_outcome=self._outcome,
                    stopping=self._stopping,
                    digesting=self._digester(),
                    fetching=self._fetcher(),
                )
            except BaseException:
                self._end_digesting()  # a pass cut short may not have given back its documents' places
                self._end_fetching()  # nor waited for its fetches to end
                raise
            finally:
                self.coordinator.release(claimed)
            if any(o.new or o.updated for o in outcomes):
                self.coordinator.bump()

    def _publish_waits(self) -> bool:
        """Whether a publish waits for the next tick, once: when sources of this process come
        due before it. The sources a round of polls changed come due again over a few seconds,
        each a little after the one polled before it, so ticks in a row each found a few and
        each republished everything (~55 ms of CPU at 1,000 sources): two or three publishes
        for one round of changes. The output is never more than a tick later for it."""
        if self._publish_waited or self.last_publish is None or self.role not in ("all", "worker"):
            self._publish_waited = False
            return False
        names = {s.name for s in self.config.sources}
        self._publish_waited = self.coordinator.due_by(names, self.clock() + self.config.settings.tick)
        return self._publish_waited

    def _digester(self) -> Digesting:
        """The parse workers for a batch: the same from batch to batch while the parse
        deadline stays. A worker process costs a start-up of its own (tens of milliseconds
        of CPU and more) that the batches of a few dozen sources would each pay again."""
        seconds = self.config.settings.parse_timeout.total_seconds()
        if self._digesting is None or self._digesting[0] != seconds:
            self._end_digesting()
            self._digesting = (seconds, Digesting(self._parsing, seconds, self._stopping))
        return self._digesting[1]

    def _end_digesting(self) -> None:
        self._digesting = None
        self._parsing.close()

    def _fetcher(self) -> ThreadPoolExecutor:
        """The fetch threads for a batch: the same from batch to batch while ``concurrency``
        stays. A pool of its own per batch started its threads again each time, which cost
        more than a tenth of what the main process spent on a batch of 304s."""
        workers = self.config.settings.concurrency
        if self._fetching is None or self._fetching[0] != workers:
            self._end_fetching()
            self._fetching = (workers, fetch_threads(self.config.settings))
        return self._fetching[1]

    def _end_fetching(self) -> None:
        """End the fetch threads once their fetches are done, as a pass's own pool ended."""
        if self._fetching is not None:
            pool, self._fetching = self._fetching[1], None
            pool.shutdown(wait=True)

    def _publishes(self) -> bool:
        """The publisher publishes; a worker only when elected and no publisher is alive."""
        if self.role in ("all", "publisher"):
            return True
        if self.coordinator.live_publisher(self.clock()):
            return False
        return self.coordinator.try_publish_lock()

    def _outcome(self, outcome: Outcome) -> None:
        self.metrics.observe(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def publish(self) -> None:
        started = time.monotonic()
        changed = publish_feeds(self.config, self.store)
        if changed:
            output = self.config.settings.output_dir
            self.coordinator.keep_rendered(output, [str(p.relative_to(output)) for p in changed], self.clock())
        self.metrics.publish_duration.observe(time.monotonic() - started)
        self.last_publish = self.clock()
        self.metrics.last_publish.set(self.last_publish.timestamp())
        counts = self.store.sources.counts("error", "warning")
        self.metrics.sources_in_error.set(counts["error"])
        self.metrics.sources_warning.set(counts["warning"])
        if any(cfg.full_text for cfg in self.config.sources):
            self.metrics.full_text(full_text.counts(self.store))
        if changed:
            log.info("published %s", ", ".join(p.name for p in changed))
            # Hubs may be slow or down; retries must not hold up the next poll.
            threading.Thread(target=announce, args=(self.config, changed), name="websub", daemon=True).start()

    def prune(self) -> None:
        """The daily retention job. A prune never changes a published feed, so nothing is
        republished after it. Every role runs it: concurrent prunes wait for each other
        and the later one finds its work done."""
        with self._work:
            if self._stopping.is_set():
                return
            pruned = apply_retention(self.config, self.store, self.clock())
        by_source = ", ".join(f"{name} {count}" for name, count in sorted(pruned.removed.items()))
        log.info(
            "pruned %s%s; %s expired",
            counted(sum(pruned.removed.values()), "entry", "entries"),
            f" ({by_source})" if by_source else "",
            counted(pruned.tombstones_expired, "tombstone"),
            extra={"event": "prune", "removed": pruned.removed, "kept": pruned.kept},
        )

    def reload(self) -> bool:
        """Swap in the config file's current contents; keep the old config if it is invalid."""
        self._config_stamp = _stamp(self.config_path)
        try:
            new = config_module.load(self.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("config not reloaded: %s", problem)
            return False
        for setting in ("database", "listen", "admin_networks", "trusted_proxies"):
            if getattr(new.settings, setting) != getattr(self.config.settings, setting):
                log.warning("config: settings.%s changes only take effect after a restart", setting)
        # New sources get a row with no next poll, so the next tick polls them at once.
        try:
            self.store.sources.sync((s.name, s.url) for s in new.sources)
        except FAILURES:
            self._config_stamp = (0, 0)  # the store refused it (a full disk): reload again next tick
            raise
        old_sources = {s.name for s in self.config.sources}
        rescheduled = changed_schedules(self.config, new)
        self.config = replace(new, settings=replace(new.settings, database=self.config.settings.database))
        added = sorted({s.name for s in new.sources} - old_sources)
        removed = sorted(old_sources - {s.name for s in new.sources})
        for name, when in sorted(replan(self.config, self.store, rescheduled, self.clock()).items()):
            log.info("%s: its schedule changed; next poll %s", name, when.isoformat(timespec="seconds"))
        log.info(
            "config reloaded: %s, added %s, removed %s",
            counted(len(new.sources), "source"),
            added or "none",
            removed or "none",
        )
        self.last_publish = None  # feeds may have changed: republish on this tick
        return True

    # --- lifecycle ---------------------------------------------------------------------

    def run(self) -> bool:
        """Serve and poll until SIGTERM or SIGINT; False if work was still running at exit."""
        if self.role in ("all", "worker") and self.config.settings.dedupe.enabled:
            # Imported here: the fingerprint module brings numpy, which a publisher never needs.
            from newsriver.stories.fingerprint import fingerprint_path

            log.info("near-duplicate fingerprints by the %s", fingerprint_path())
        self.config.settings.output_dir.mkdir(parents=True, exist_ok=True)
        self.store.sources.sync((s.name, s.url) for s in self.config.sources)
        self.coordinator.heartbeat(self.clock())
        released = self.coordinator.take_over(self.clock())
        if released:
            log.info("released %s of a stopped predecessor: its sources are polled at once", counted(released, "lease"))
        # The handlers before the server answers: whoever sees it up may signal at once, and
        # SIGHUP's handler moves the tick, which must be scheduled by then.
        self._schedule()
        self._handle_signals()
        server = self._serve() if self.role != "worker" else None  # workers only poll
        log.info("running as %s (%s)", self.role, self.coordinator.id)
        self._scheduler.start()
        self._stopping.wait()
        self._scheduler.shutdown(wait=False)
        if server is not None:
            close_server(server)
        # Every store write is a transaction and every output file an atomic rename, so an
        # abandoned fetch loses nothing: it is polled again next start. Wait a little for a
        # tick in progress to commit, then exit regardless.
        clean = self._work.acquire(timeout=STOP_GRACE_SECONDS)
        if clean:
            self._end_digesting()
            self._end_fetching()
            self._work.release()
            try:
                self.coordinator.leave()  # our leases go at once; a killed worker's at its successor's start
            except FAILURES as exc:
                log.warning("leases not released (%s): the next start releases them", reason(exc))
        log.info("stopped")
        return clean

    def _serve(self) -> Any:
        """Answer readers over HTTP from a thread (the publisher, or `serve` nodes)."""
        settings = self.config.settings
        app = FeedServer(
            settings.output_dir,
            self.health,
            max_age=self.config.cache_max_age(),
            metrics=lambda: (CONTENT_TYPE, self.metrics.render()),
            admin=AdminAccess.of(settings),
        )
        server = make_server(app, settings.listen_host, settings.listen_port)
        threading.Thread(target=server.run, name="http", daemon=True).start()
        log.info("serving %s on http://%s/", settings.output_dir, settings.listen)
        return server

    def _handle_signals(self) -> None:
        def stop(signum: int, _frame: Any) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self._stopping.set()

        def hangup(_signum: int, _frame: Any) -> None:
            log.info("received SIGHUP, reloading %s", self.config_path)
            self._reload_requested.set()
            self._scheduler.modify_job("tick", next_run_time=self.clock())

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hangup)

    def _schedule(self) -> None:
        self._scheduler.add_job(
            self.tick,
            "interval",
            id="tick",
            seconds=self.config.settings.tick.total_seconds(),
            next_run_time=self.clock(),
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.add_job(
            self.prune,
            "interval",
            id="prune",
            seconds=PRUNE_EVERY.total_seconds(),
            next_run_time=self.clock() + PRUNE_FIRST_AFTER,
            max_instances=1,
            coalesce=True,
        )


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)
