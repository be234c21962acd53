"""The long-running service: poll due sources on schedule, republish, serve over HTTP."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from .config import Config
from .output import announce, publish_feeds
from .poll import Clock, poll_sources, utcnow
from .schedule import is_due
from .serve import FeedServer, make_server
from .store import Store

log = logging.getLogger(__name__)
TICK_SECONDS = 5  # how often due sources are looked for; intervals are minutes, so plenty


class Service:
    def __init__(self, config: Config, store: Store, clock: Clock = utcnow) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.last_publish: datetime | None = None
        self._stopping = threading.Event()
        self._scheduler = BackgroundScheduler(timezone="UTC")

    def health(self) -> dict[str, Any]:
        failing = sum(1 for row in self.store.sources().values() if row.status == "error")
        return {
            "status": "ok",
            "last_publish": self.last_publish.isoformat() if self.last_publish else None,
            "failing_sources": failing,
        }

    def tick(self) -> None:
        """Poll every due source, then republish if anything was stored."""
        if self._stopping.is_set():
            return
        now = self.clock()
        due = [name for name, row in self.store.sources().items() if is_due(row.next_poll, now)]
        due = [s.name for s in self.config.sources if s.name in due]
        if not due:
            return
        outcomes = poll_sources(self.config, self.store, due, clock=self.clock)
        if self.last_publish is None or any(o.new or o.updated for o in outcomes):
            self.publish()

    def publish(self) -> None:
        changed = publish_feeds(self.config, self.store)
        self.last_publish = self.clock()
        if changed:
            log.info("published %s", ", ".join(p.name for p in changed))
            # Hubs may be slow or down; retries must not hold up the next poll.
            threading.Thread(target=announce, args=(self.config, changed), name="websub", daemon=True).start()

    def run(self) -> None:
        """Serve and poll until SIGTERM or SIGINT."""
        settings = self.config.settings
        settings.output_dir.mkdir(parents=True, exist_ok=True)
        self.store.sync_sources((s.name, s.url) for s in self.config.sources)
        self.publish()  # a subscriber gets a valid (maybe empty) feed from the first second
        server = make_server(FeedServer(settings.output_dir, self.health), settings.listen_host, settings.listen_port)
        server_thread = threading.Thread(target=server.run, name="http", daemon=True)
        server_thread.start()
        log.info("serving %s on http://%s/", settings.output_dir, settings.listen)
        self._scheduler.add_job(
            self.tick, "interval", seconds=TICK_SECONDS, next_run_time=self.clock(), max_instances=1, coalesce=True
        )
        self._scheduler.start()

        def stop(signum: int, _frame: Any) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self._stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self._stopping.wait()
        # Every store write is a transaction and every output file an atomic rename, so
        # abandoning in-flight fetches loses nothing: they are polled again next start.
        self._scheduler.shutdown(wait=False)
        server.close()
        log.info("stopped")
