"""What a pass makes of one fetch: the retrieve stage's result (``Retrieved``), what storing
it settles (``settle``: the source's next poll and columns), and the ``Outcome`` reported."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from tempfile import TemporaryFile
from typing import IO, TYPE_CHECKING, Any

from newsriver.ingest.schedule import Policy, Response, plan_next_poll
from newsriver.models import Article, Seen
from newsriver.plural import counted

if TYPE_CHECKING:
    from pathlib import Path

    # msgspec, and numpy under the near-duplicate index: imported once a document is digested.
    import msgspec

    from newsriver.stories.fingerprint import Fingerprint


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
    errors: int = 0  # the source's failures in a row, this one included
    warning: str = ""  # what a new document lost, stored all the same (``FeedMeta.warning``)

    @property
    def level(self) -> int:
        """WARNING for the first failure after a success (the source changed state) and for a
        document that lost entries (once a document: an unchanged one is not parsed again), INFO for the
        retries after a failure and for everything else: an operator is told once, not hourly."""
        if (self.result == "error" and self.errors <= 1) or self.warning:
            return logging.WARNING
        return logging.INFO

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
            "errors": self.errors,
            "warning": self.warning,
        }

    def line(self) -> str:
        if self.result == "error":
            return f"{self.source}: error: {self.error}"
        if self.result == "skipped":
            return f"{self.source}: skipped: {self.note}"
        done = "not modified" if self.result == "not modified" else f"new {self.new}, updated {self.updated}"
        line = f"{self.source}: {done}" + (f" ({self.note})" if self.note else "")
        return line + (f"; warning: {self.warning}" if self.warning else "")


def summary(outcomes: Sequence[Outcome], written: int, output_dir: Path) -> str:
    """A poll's last line. A source whose document lost entries is counted apart from "ok":
    stored all the same, it still needs a look (its line above says what was lost)."""
    failed = sum(o.result == "error" for o in outcomes)
    skipped = sum(o.result == "skipped" for o in outcomes)
    warned = sum(bool(o.warning) and o.result != "error" for o in outcomes)
    ok = len(outcomes) - failed - skipped - warned
    return (
        f"{counted(len(outcomes), 'source')}: {ok} ok"
        + (f", {counted(warned, 'warning')}" if warned else "")
        + f", {failed} failed"
        + (f", {skipped} skipped" if skipped else "")
        + f"; {sum(o.new for o in outcomes)} new, {sum(o.updated for o in outcomes)} updated; "
        f"{counted(written, 'file')} written to {output_dir}"
    )


# Encoded chunks a document holds in memory; past this, in a temporary file: the encoded
# articles and fingerprints of a feed of 100,000 entries took 34 MB, held until stored.
IN_MEMORY = 4 * 1024 * 1024


class Chunks:
    """A document's chunks of articles, encoded (``encoded``), in the order added: kept as
    given up to ``IN_MEMORY`` bytes, the rest in an unnamed temporary file. Filled by one
    thread, then read as often as needed."""

    def __init__(self) -> None:
        self._held: list[bytes | bytearray | memoryview] = []
        self._size = 0
        self._file: IO[bytes] | None = None  # closed, and gone (it never had a name), with this object
        self._ends: list[int] = []  # where each chunk in the file ends

    def add(self, chunk: bytes | bytearray | memoryview) -> None:
        self._size += len(chunk)
        if self._file is None and self._size <= IN_MEMORY:
            self._held.append(chunk)
            return
        if self._file is None:
            self._file = TemporaryFile()  # noqa: SIM115
        self._file.write(chunk)
        self._file.flush()  # read back by its descriptor
        self._ends.append(self._file.tell())

    def __len__(self) -> int:
        return len(self._held) + len(self._ends)

    def __iter__(self) -> Iterator[bytes | bytearray | memoryview]:
        yield from self._held
        start = 0
        for end in self._ends:
            assert self._file is not None  # there are ends once the file is made
            yield os.pread(self._file.fileno(), end - start, start)  # no shared position: readers may overlap
            start = end


@dataclass(frozen=True, slots=True)
class Articles:
    """A document's articles and their fingerprints, and the entries it carries as the last
    one did (``Seen``), as encoded chunks of a thousand: a pass holds them compact, as a
    worker process sent them, until the store stage reads one chunk at a time (decoded, the
    articles of a feed of 100,000 entries took 400 MB)."""

    chunks: Chunks = field(default_factory=Chunks)
    published: Mapping[str, datetime] = field(default_factory=dict)  # by entry key: the rhythm (rhythm_of)

    def __bool__(self) -> bool:
        return bool(self.chunks)

    def __iter__(self) -> Iterator[tuple[Sequence[Article], Sequence[Fingerprint], Sequence[Seen]]]:
        decoder = _decoder()
        for chunk in self.chunks:
            yield decoder.decode(chunk)

    @classmethod
    def of(
        cls, articles: Sequence[Article], prints: Sequence[Fingerprint], published: Mapping[str, datetime]
    ) -> Articles:
        """Articles made in this process (a teaser feed's, with its pages' full texts): one chunk."""
        chunks = Chunks()
        if articles:
            chunks.add(encoded(articles, prints))
        return cls(chunks, published)

    def flat(self) -> tuple[list[Article], list[Fingerprint]]:
        """Every article and fingerprint at once: for the few of a source that needs them so
        (one whose known entries are not looked for: it has no ``Seen``)."""
        articles: list[Article] = []
        prints: list[Fingerprint] = []
        for chunk_articles, chunk_prints, _seen in self:
            articles += chunk_articles
            prints += chunk_prints
        return articles, prints


def encoded(
    articles: Sequence[Article], prints: Sequence[Fingerprint], seen: Sequence[Seen] = (), mark: bytes = b""
) -> bytearray:
    """A chunk of articles, their fingerprints and the ``Seen`` entries as ``Articles`` reads
    it, after ``mark``.

    MessagePack by msgspec: encoding and decoding took 19 µs an article with its fingerprint
    where pickle took 32–34 (``benchmarks/handoff_bench.py``)."""
    buffer = bytearray(mark)
    _encoder().encode_into((articles, prints, seen), buffer, len(mark))
    return buffer


@cache
def _encoder() -> msgspec.msgpack.Encoder:
    import msgspec

    return msgspec.msgpack.Encoder(enc_hook=_array_bytes)


@cache
def _decoder() -> msgspec.msgpack.Decoder[tuple[list[Article], list[Fingerprint], list[Seen]]]:
    # Imported by the first document decoded: a pass of 304s needs neither msgspec nor numpy.
    import msgspec

    from newsriver.stories.fingerprint import Fingerprint

    return msgspec.msgpack.Decoder(tuple[list[Article], list[Fingerprint], list[Seen]], dec_hook=_bytes_array)


def _array_bytes(value: Any) -> bytes:
    """A fingerprint's hashes (a numpy array) travel as their bytes."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tobytes()
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def _bytes_array(kind: type, value: Any) -> Any:
    """A fingerprint's hashes as a read-only view of their bytes: no fingerprint's array is
    ever changed in place."""
    import numpy as np

    if isinstance(value, bytes):
        return np.frombuffer(value, dtype=np.uint64)
    raise NotImplementedError(f"cannot decode {kind}")


@dataclass(frozen=True, slots=True)
class Retrieved:
    """A fetch's result after digesting, before storing (made in a fetch thread)."""

    status: str  # "ok" | "not modified" | "error"
    response: Response  # what the schedule needs to know
    articles: Articles = Articles()  # with their fingerprints, when near-duplicates are looked for
    values: dict[str, Any] = field(default_factory=dict)  # source columns to store (an error's: few)
    error: str = ""
    note: str = ""
    warning: str = ""  # what an "ok" document lost, stored all the same (``FeedMeta.warning``)


@dataclass(frozen=True, slots=True)
class Fetched:
    """One finished fetch, as the store stage settles it."""

    source: str
    errors: int  # the source's failures in a row before this fetch
    got: Retrieved
    policy: Policy
    now: datetime
    spread: float  # where in its jitter this poll's next one falls, in [0, 1)
    seconds: float  # from the fetch's start to its store
    host_wait: datetime | None  # another source on this host was told to wait until then, this pass
    rhythm: dict[str, datetime]  # the source's publication times by entry key, read as the pass began
    warning: str = ""  # the last document's warning before this fetch (``SourceRow.warning``)


@dataclass(frozen=True, slots=True)
class Settled:
    """What storing one fetch writes, and reports."""

    outcome: Outcome  # without the counts of what its articles' save stores
    values: dict[str, Any]  # the source's columns
    host_wait: datetime | None  # Retry-After: until when the source's host is left alone


def settle(fetched: Fetched) -> Settled:
    """The source's next poll and columns after this fetch (pure: the caller writes them)."""
    got = fetched.got
    history = fetched.rhythm | dict(got.articles.published) if got.articles else fetched.rhythm
    decision = plan_next_poll(
        fetched.now, fetched.policy, fetched.errors, list(history.values()), got.response, fetched.spread
    )
    next_poll = decision.next_poll
    if next_poll is not None and fetched.host_wait is not None:
        next_poll = max(next_poll, fetched.host_wait)  # another source on this host was told to wait
    if got.status == "error":
        error = got.error
        if decision.state == "gone":
            error += ": the feed was removed for good; it is no longer polled"
        elif decision.host_wait_until is not None:
            error += f"; the host asked to wait until {decision.host_wait_until:%Y-%m-%d %H:%M:%S} UTC"
        outcome = Outcome(fetched.source, "error", error=error, seconds=fetched.seconds, errors=decision.errors)
        # The warning column stays: the document last stored still lost what it lost, and
        # shows its warning again once a fetch succeeds (the error dominates meanwhile).
        values = got.values | {
            "status": decision.state,
            "last_error": error,
            "errors": decision.errors,
            "last_fetch": fetched.now,
            "next_poll": next_poll,
        }
        return Settled(outcome, values, decision.host_wait_until)
    # A document that lost entries, stored all the same, makes the source's state "warning",
    # with why in its own column; an unchanged document (a 304, the same body) is the same
    # broken one, so its warning stays, failed fetches between or not, until another comes.
    warning = got.warning if got.status == "ok" else fetched.warning
    values = got.values | {
        "status": "warning" if warning else decision.state,
        "last_error": "",
        "warning": warning,
        "errors": 0,
        "last_fetch": fetched.now,
        "last_success": fetched.now,
        "next_poll": next_poll,
        "retry_after": None,
    }
    outcome = Outcome(fetched.source, got.status, seconds=fetched.seconds, note=got.note, warning=got.warning)
    return Settled(outcome, values, None)
