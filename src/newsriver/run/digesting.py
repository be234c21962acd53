"""The digest stage of a pass: where documents are parsed (parse → normalize → fingerprint),
and how many a pass holds between their fetch and their store."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING

from newsriver.config.schema import SourceConfig
from newsriver.run.outcome import Retrieved

if TYPE_CHECKING:
    from newsriver.ingest.digest import Digest

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


def _digest_function() -> Digester:
    """The one seam to the parsing stack (feedparser, nh3, lxml) and numpy, under the
    near-duplicate fingerprints: imported when a body first needs parsing. A pass of 304s
    never does, and start-up is much of its time."""
    from newsriver.ingest.digest import digest

    return digest


class Digesting:
    """Digests documents for the fetch threads, a ``Digester``.

    A document is parsed in this process, taking ``turns`` with storing, or once a pass has
    more than a few on a multi-core machine, in worker processes (the fetch thread waits for
    its digest). Each digested document holds one of ``DOCUMENTS_IN_HAND`` places until the
    store stage says it is ``stored``.
    """

    def __init__(self, stack: ExitStack, turns: threading.Lock) -> None:
        self._turns = turns
        self._in_hand = threading.Semaphore(DOCUMENTS_IN_HAND)
        self._workers = _worker_processes(stack)
        self._documents = itertools.count()  # none of the workers starts before the first submit

    def __call__(
        self, body: bytes, url: str, content_type: str, cfg: SourceConfig, now: datetime, near: bool
    ) -> Digest:
        self._in_hand.acquire()
        try:
            return self._digest(body, url, content_type, cfg, now, near)
        except BaseException:
            self._in_hand.release()
            raise

    def stored(self, got: Retrieved) -> None:
        """``got`` is stored: its document's place is free (every "ok" result was digested here)."""
        if got.status == "ok":
            self._in_hand.release()

    def _digest(self, body: bytes, url: str, content_type: str, cfg: SourceConfig, now: datetime, near: bool) -> Digest:
        if self._workers is None or next(self._documents) < PROCESS_POOL_AFTER_DOCUMENTS:
            return self._here(body, url, content_type, cfg, now, near)
        try:
            job = self._workers.submit(_digest_function(), body, url, content_type, cfg, now, near)
        except BrokenProcessPool:  # a worker died (its document's source is in error): parse here
            return self._here(body, url, content_type, cfg, now, near)
        return job.result()

    def _here(self, body: bytes, url: str, content_type: str, cfg: SourceConfig, now: datetime, near: bool) -> Digest:
        digest = _digest_function()
        with self._turns:
            return digest(body, url, content_type, cfg, now, near)


def _worker_processes(stack: ExitStack) -> ProcessPoolExecutor | None:
    """One worker process per core, up to four; none on a single core."""
    processes = min(os.cpu_count() or 1, 4)
    if processes < 2:
        return None
    # forkserver: workers start from a small single-threaded process that imported only the
    # parsing stage, never by forking this one with its threads, connections and database.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["newsriver.ingest.digest"])
    return stack.enter_context(ProcessPoolExecutor(max_workers=processes, mp_context=context))
