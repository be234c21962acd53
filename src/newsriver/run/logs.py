"""Logging setup: readable text by default, one JSON object per line for log shippers."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from newsriver import redact

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, ensure_ascii=False)


def setup(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = (
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    # Every line, at every level, passes through redact: no source's secret reaches the log.
    handler.setFormatter(redact.Scrubbing(formatter))
    handler.set_name("newsriver")
    root = logging.getLogger()
    # Replace only our own handler, so calling main() twice (tests, embedding) logs once.
    for existing in [h for h in root.handlers if h.get_name() == "newsriver"]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # APScheduler logs every job run at INFO: noise in a service that ticks every few seconds.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


@contextmanager
def writing_to(stream: TextIO) -> Iterator[None]:
    """Our log lines go to ``stream`` for a while: a progress display's, which prints them
    above its bar instead of gluing them onto it."""
    handlers = [
        h for h in logging.getLogger().handlers if h.get_name() == "newsriver" and isinstance(h, logging.StreamHandler)
    ]
    streams = [h.setStream(stream) for h in handlers]
    try:
        yield
    finally:
        for handler, previous in zip(handlers, streams, strict=True):
            if previous is not None:  # None: it was writing to ``stream`` already
                handler.setStream(previous)
