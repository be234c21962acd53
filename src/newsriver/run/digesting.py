"""The digest stage of a pass: where documents are parsed (parse → normalize → fingerprint),
under what deadline, and how many a pass holds between their fetch and their store.

Every document is digested in a worker process, under a CPU deadline
(``settings.parse_timeout``): a document that takes longer to parse (150,000 nested
elements kept a pass busy for ten minutes) costs only its own source, which records the
error, while the other sources are digested by the other workers and stored meanwhile.
Code running in this process could not be stopped: a worker past its deadline is killed.
"""

from __future__ import annotations

import math
import os
import pickle
import resource
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from newsriver.config.schema import SourceConfig
from newsriver.errors import ParseError
from newsriver.ingest.schedule import publication_times, rhythm_of
from newsriver.models import FeedMeta
from newsriver.run.outcome import Articles, Chunks, Retrieved, encoded

if TYPE_CHECKING:
    # multiprocessing itself is imported when the first worker starts: a pass where every
    # feed answers 304 starts none.
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkServerContext
    from multiprocessing.process import BaseProcess


@dataclass(frozen=True, slots=True)
class Digested:
    """A document digested: what it says of itself, and its articles as the store takes them."""

    meta: FeedMeta
    articles: Articles
    known: str | None = None  # the document's entries by raw hash, for the next one (``sources.digests``)


# (body, url, content type, source, now, near, the source's known entries: ``sources.digests``)
Digester = Callable[[bytes, str, str, SourceConfig, datetime, bool, str | None], Digested]
# Documents a pass holds between their fetch and their store: parsed ones wait for the store,
# which is slower than parsing on two cores; without a bound each fetch thread held one, with
# its articles and fingerprints (about a megabyte for a feed of 50 entries).
DOCUMENTS_IN_HAND = 6
# Wall time a worker may take per second of its CPU deadline before it is killed anyway: the
# deadline is CPU time (a busy machine does not fail documents), this only catches a worker
# that stopped without using any.
WALL_PER_CPU_SECOND = 10
# A worker that digested a document of more bytes keeps much of what it grew to for the rest of
# the pass (its word hashes, memory its allocator holds on to), beside what the store stage
# takes meanwhile: 144 MB after a feed of 100,000 entries. It is ended, and the next document
# starts a fresh one (a fraction of a second, once in a while).
LARGE_DOCUMENT = 2 * 1024 * 1024
# How often a fetch thread waiting for its digest looks whether the pass is stopping.
STOP_CHECK_SECONDS = 0.2
# Bytes a worker's end of its pipe (a Unix socket pair) holds before sending blocks: a farm
# feed of 50 entries comes to ~470 kB of articles and fingerprints, more than the default
# ~208 kB. The fetch thread that reads them needs the polling process's GIL, which the store
# holds most of the time, so a worker whose chunk does not fit waited: 5.7-6.7 s of a cold
# pass of 1,000 feeds per worker, 1.2 s with room for a document. The kernel caps it at twice
# net.core.wmem_max: ~416 kB on a stock kernel (212,992), where the largest chunks still wait;
# those figures were taken where wmem_max is 4 MiB.
SEND_BUFFER = 1024 * 1024
# A worker's messages for one document: its chunks of articles as it makes them (``encoded``),
# then the answer (the document's meta, its rhythm (``rhythm_of``) and its known entries
# (``Known.text``), or an exception: pickled, once a document).
CHUNK = b"c"
ANSWER = b"a"


class ParseTimeout(ParseError):
    """A document's digest ran past its deadline, or killed its worker: its source's error
    until the document changes (see ``poll._digested``)."""


def _digest_in_worker(
    pipe: Connection,
    body: bytes,
    url: str,
    content_type: str,
    cfg: SourceConfig,
    now: datetime,
    near: bool,
    known: str | None,
) -> tuple[FeedMeta, dict[str, datetime], str | None]:
    """A worker's digest of one document: its articles are sent a chunk at a time as they
    are normalized, so that the worker never holds them all."""
    # The parsing stack (feedparser, nh3, lxml) and numpy, under the near-duplicate
    # fingerprints: imported by the workers only (their forkserver preloads it).
    from newsriver.ingest.digest import Known, digest_in_chunks

    # A full-text source's entries change when their pages are read, after this digest:
    # none is known, and none is hashed for the next document.
    entries = None if cfg.full_text else Known.read(known)
    meta, chunks = digest_in_chunks(body, url, content_type, cfg, now, near, known=entries)

    def sent() -> Iterator[tuple[str, str, datetime, datetime | None]]:
        for chunk in chunks:
            pipe.send_bytes(encoded(chunk.articles, chunk.prints, chunk.seen, mark=CHUNK))
            yield from (("", a.entry_key, a.published, a.first_seen) for a in chunk.articles)
            # A known entry without a date of its own is dated by this fetch again: its stored
            # time (when it was first seen) stands, not this one.
            yield from (("", s.entry_key, s.published, None) for s in chunk.seen if s.published != s.first_seen)

    rhythm = rhythm_of(((key, when) for _, key, when in publication_times(sent())), now)
    return meta, rhythm, entries.text if entries is not None else None


class Digesting:
    """Digests documents for the fetch threads, a ``Digester``: each in a worker process,
    which is killed past ``seconds`` of CPU time (``ParseTimeout``) or when ``stopping``.

    Each digested document holds one of ``DOCUMENTS_IN_HAND`` places until the store stage
    says it is ``stored``.
    """

    def __init__(self, stack: ExitStack, seconds: float, stopping: threading.Event | None = None) -> None:
        self._seconds = seconds
        self._stopping = stopping or threading.Event()
        self._in_hand = threading.Semaphore(DOCUMENTS_IN_HAND)
        self._workers = _Workers(min(max(os.cpu_count() or 1, 2), 4), math.ceil(seconds))
        stack.callback(self._workers.close)

    def __call__(
        self,
        body: bytes,
        url: str,
        content_type: str,
        cfg: SourceConfig,
        now: datetime,
        near: bool,
        known: str | None = None,
    ) -> Digested:
        self._in_hand.acquire()
        try:
            return self._digest((body, url, content_type, cfg, now, near, known), len(body) > LARGE_DOCUMENT)
        except BaseException:
            self._in_hand.release()
            raise

    def stored(self, got: Retrieved) -> None:
        """``got`` is stored: its document's place is free (every "ok" result was digested here)."""
        if got.status == "ok":
            self._in_hand.release()

    def _digest(self, job: tuple[Any, ...], large: bool) -> Digested:
        worker = self._workers.take()
        try:
            worker.send(job)
            answer = self._answer(worker)
            if large:
                worker.kill()  # it has answered: nothing is lost (see LARGE_DOCUMENT)
        except BaseException:
            worker.kill()
            raise
        finally:
            self._workers.give_back(worker)
        if isinstance(answer, BaseException):  # the document's own error: the worker goes on
            raise answer
        return answer

    def _answer(self, worker: _Worker) -> Digested | BaseException:
        """The worker's chunks and answer (its digest or the document's error); ParseTimeout
        past the deadline, or if the worker died."""
        chunks = Chunks()
        waited = 0.0
        while True:
            if not worker.ready(STOP_CHECK_SECONDS):
                waited += STOP_CHECK_SECONDS
                if self._stopping.is_set():
                    raise ParseError("stopped before its document was parsed; it is parsed again next pass")
                if waited > WALL_PER_CPU_SECOND * max(self._seconds, 1):
                    raise ParseTimeout(f"parse took longer than {self._seconds:g} s")
                continue
            try:
                message = worker.receive()
            except (EOFError, OSError):
                break
            if message.startswith(CHUNK):
                chunks.add(memoryview(message)[len(CHUNK) :])
                continue
            answer = pickle.loads(memoryview(message)[len(ANSWER) :])
            if isinstance(answer, BaseException):
                return answer
            meta, published, known = answer
            return Digested(meta, Articles(chunks, published), known)
        worker.kill()
        if worker.exitcode == -signal.SIGXCPU:
            raise ParseTimeout(f"parse took longer than {self._seconds:g} s")
        raise ParseTimeout(f"the parser died (exit code {worker.exitcode})")


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, context: ForkServerContext, cpu_seconds: int) -> None:
        self._pipe, theirs = context.Pipe()
        end = socket.socket(fileno=theirs.fileno())
        try:
            with suppress(OSError):
                end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        finally:
            end.detach()  # the descriptor stays the pipe's
        self._process: BaseProcess = context.Process(target=_serve, args=(theirs, cpu_seconds), daemon=True)
        self._process.start()
        theirs.close()
        self.alive = True

    def send(self, job: tuple[Any, ...]) -> None:
        self._pipe.send(job)

    def ready(self, seconds: float) -> bool:
        """The worker answered or ended within ``seconds``."""
        from multiprocessing.connection import wait

        return bool(wait([self._pipe, self._process.sentinel], seconds))

    def receive(self) -> bytes:
        return self._pipe.recv_bytes()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def kill(self) -> None:
        self.alive = False
        self._process.kill()
        self._process.join()
        self._pipe.close()

    def stop(self) -> None:
        """Ends an idle worker: it exits when its pipe closes."""
        self._pipe.close()
        self._process.join(1)
        if self._process.exitcode is None:
            self.kill()


class _Workers:
    """At most ``count`` worker processes, started as documents need them (a pass of 304s
    starts none); a killed one is replaced by the next document that needs one."""

    def __init__(self, count: int, cpu_seconds: int) -> None:
        self._cpu_seconds = cpu_seconds
        self._free = threading.Semaphore(count)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []

    def take(self) -> _Worker:
        self._free.acquire()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            worker = _Worker(_context(), self._cpu_seconds)
        except BaseException:
            self._free.release()
            raise
        with self._lock:
            self._all.append(worker)
        return worker

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive:
                self._idle.append(worker)
            else:
                self._all.remove(worker)
        self._free.release()

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
        for worker in workers:
            worker.stop()


def _context() -> ForkServerContext:
    # forkserver: workers start from a small single-threaded process that imported only the
    # parsing stage, never by forking this one with its threads, connections and database.
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    preload = ["newsriver.run.digesting", "newsriver.ingest.digest", "msgspec", "newsriver.run.frozen"]
    context.set_forkserver_preload(preload)  # in this order: frozen last
    return context


def _serve(pipe: Connection, cpu_seconds: int) -> None:
    """A worker's loop: digest each job under a CPU limit of ``cpu_seconds`` more than it has
    used so far; past it the kernel ends the process (SIGXCPU), even inside C code."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU dumps core by default
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    while True:
        try:
            job = pipe.recv()
        except EOFError:  # the pass is over
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        limit = math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds
        resource.setrlimit(resource.RLIMIT_CPU, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
        answer: object
        try:
            answer = _digest_in_worker(pipe, *job)
        except ParseError as exc:
            answer = exc
        except Exception as exc:  # a source must never take the worker down
            answer = RuntimeError(f"{type(exc).__name__}: {exc}")
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        pipe.send_bytes(ANSWER + pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
