"""Host-fair concurrency for a pass: which source's fetch starts next."""

from __future__ import annotations

from collections import deque

from newsriver.config.schema import SourceConfig


class HostSlots:
    """The sources a pass still has to fetch, queued by host, each host with ``per_host`` slots.

    A source is handed out only when its host has a free slot, so a slow host ties up its
    own slots, never everyone's: every host gets its first slot before any host gets its
    second (``opening``), and a finished fetch's slot goes to the next source of its host
    (``freed``).
    """

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._queues: dict[str, deque[SourceConfig]] = {}

    def add(self, host: str, source: SourceConfig) -> None:
        self._queues.setdefault(host, deque()).append(source)

    def names(self) -> list[str]:
        """The queued sources' names."""
        return [source.name for queue in self._queues.values() for source in queue]

    def opening(self) -> list[tuple[str, SourceConfig]]:
        """The fetches a pass starts with, taking their slots: host by host, round by round."""
        started = []
        for _round in range(self._per_host):
            for host, queue in self._queues.items():
                if queue:
                    started.append((host, queue.popleft()))
        return started

    def freed(self, host: str) -> SourceConfig | None:
        """A fetch to ``host`` finished: the source that takes its slot, if any is waiting."""
        queue = self._queues.get(host)
        return queue.popleft() if queue else None

    def close(self, host: str) -> list[SourceConfig]:
        """``host`` asked to be left alone: the sources still waiting for it, no longer queued."""
        return list(self._queues.pop(host, ()))
