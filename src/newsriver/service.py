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
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from . import config as config_module
from .config import Config
from .errors import ConfigError
from .metrics import CONTENT_TYPE, Metrics
from .output import announce, publish_feeds
from .poll import Clock, Outcome, poll_sources, utcnow
from .schedule import is_due
from .serve import FeedServer, make_server
from .store import Store

log = logging.getLogger(__name__)
TICK_SECONDS = 5  # how often due sources are looked for; intervals are minutes, so plenty
STOP_GRACE_SECONDS = 10


class Service:
    def __init__(
        self,
        config_path: Path,
        config: Config,
        store: Store,
        clock: Clock = utcnow,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.store = store
        self.clock = clock
        self.on_outcome = on_outcome
        self.metrics = Metrics()
        self.last_publish: datetime | None = None
        self._config_stamp = _stamp(config_path)
        self._reload_requested = threading.Event()
        self._stopping = threading.Event()
        self._work = threading.Lock()  # one tick or reload at a time
        self._scheduler = BackgroundScheduler(timezone="UTC")

    def health(self) -> dict[str, Any]:
        failing = sum(1 for row in self.store.sources().values() if row.status == "error")
        return {
            "status": "ok",
            "last_publish": self.last_publish.isoformat() if self.last_publish else None,
            "failing_sources": failing,
        }

    # --- work --------------------------------------------------------------------------

    def tick(self) -> None:
        """Reload if asked, poll every due source, then republish if anything was stored."""
        with self._work:
            if self._stopping.is_set():
                return
            if self._reload_requested.is_set() or _stamp(self.config_path) != self._config_stamp:
                self._reload_requested.clear()
                self.reload()
            now = self.clock()
            rows = self.store.sources()
            # A gone source has no next poll and is never due again.
            due = [
                s.name
                for s in self.config.sources
                if s.name in rows and rows[s.name].status != "gone" and is_due(rows[s.name].next_poll, now)
            ]
            outcomes = (
                poll_sources(self.config, self.store, due, clock=self.clock, on_outcome=self._outcome) if due else []
            )
            if self.last_publish is None or any(o.new or o.updated for o in outcomes):
                self.publish()

    def _outcome(self, outcome: Outcome) -> None:
        self.metrics.observe(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def publish(self) -> None:
        started = time.monotonic()
        changed = publish_feeds(self.config, self.store)
        self.metrics.publish_duration.observe(time.monotonic() - started)
        self.last_publish = self.clock()
        self.metrics.last_publish.set(self.last_publish.timestamp())
        self.metrics.sources_in_error.set(self.health()["failing_sources"])
        if changed:
            log.info("published %s", ", ".join(p.name for p in changed))
            # Hubs may be slow or down; retries must not hold up the next poll.
            threading.Thread(target=announce, args=(self.config, changed), name="websub", daemon=True).start()

    def reload(self) -> bool:
        """Swap in the config file's current contents; keep the old config if it is invalid."""
        self._config_stamp = _stamp(self.config_path)
        try:
            new = config_module.load(self.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("config not reloaded: %s", problem)
            return False
        for setting in ("database", "listen"):
            if getattr(new.settings, setting) != getattr(self.config.settings, setting):
                log.warning("config: settings.%s changes only take effect after a restart", setting)
        old_sources = {s.name for s in self.config.sources}
        self.config = new.model_copy(
            update={"settings": new.settings.model_copy(update={"database": self.config.settings.database})}
        )
        # New sources get a row with no next poll, so the next tick polls them at once.
        self.store.sync_sources((s.name, s.url) for s in new.sources)
        added = sorted({s.name for s in new.sources} - old_sources)
        removed = sorted(old_sources - {s.name for s in new.sources})
        log.info(
            "config reloaded: %d sources, added %s, removed %s", len(new.sources), added or "none", removed or "none"
        )
        self.last_publish = None  # feeds may have changed: republish on this tick
        return True

    # --- lifecycle ---------------------------------------------------------------------

    def run(self) -> bool:
        """Serve and poll until SIGTERM or SIGINT; False if work was still running at exit."""
        settings = self.config.settings
        settings.output_dir.mkdir(parents=True, exist_ok=True)
        self.store.sync_sources((s.name, s.url) for s in self.config.sources)
        app = FeedServer(settings.output_dir, self.health, metrics=lambda: (CONTENT_TYPE, self.metrics.render()))
        server = make_server(app, settings.listen_host, settings.listen_port)
        server_thread = threading.Thread(target=server.run, name="http", daemon=True)
        server_thread.start()
        log.info("serving %s on http://%s/", settings.output_dir, settings.listen)

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
        self._scheduler.add_job(
            self.tick,
            "interval",
            id="tick",
            seconds=TICK_SECONDS,
            next_run_time=self.clock(),
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.start()
        self._stopping.wait()
        self._scheduler.shutdown(wait=False)
        server.close()
        # Every store write is a transaction and every output file an atomic rename, so an
        # abandoned fetch loses nothing: it is polled again next start. Wait a little for a
        # tick in progress to commit, then exit regardless.
        clean = self._work.acquire(timeout=STOP_GRACE_SECONDS)
        if clean:
            self._work.release()
        log.info("stopped")
        return clean


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)
