"""Whether the output folder is up to date: a digest of what it is rendered from.

Apart from the publisher so that a poll that changed nothing (most polls run from cron) can
tell without importing the renderers and the pages (tests/test_startup.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from newsriver import __version__

if TYPE_CHECKING:
    from newsriver.config.schema import Config
    from newsriver.store.store import Store

STAMP_KEY = "publish_stamp"  # in the store's meta table: what the last publish rendered from


def rendered_from(config: Config, store: Store, now: datetime) -> str | None:
    """A digest of what the output is rendered from: the config, the sources as shown, what
    moves whenever entries change (``store.sources.published_from``), the month (archive pages),
    the theme's templates and this version's renderers. None when the output changes with the clock alone."""
    if any(feed.max_age is not None for feed in config.feeds):
        return None  # stories age out of the feed as time passes
    # Archive pages change with the month: written as archive.Month writes it, whose import
    # would bring the story rules into a pass of 304s.
    month = now.astimezone(UTC)
    digest = hashlib.sha256(f"{__version__}\n{month.year:04d}-{month.month:02d}\n".encode())
    digest.update(_described(config))
    if config.settings.templates:  # a theme's edit shows at the next publish
        for path in sorted(config.settings.templates.iterdir()):
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for row in store.sources.published_from():
        if len(row) == 6 and row[4] == "not_modified":
            row = (*row[:4], "ok", *row[5:])  # shown alike (see pages): a 304 changes nothing
        digest.update(repr(row).encode())
    return digest.hexdigest()


# The last config described, and its description: a config is frozen, and a reload makes a new one.
_last: list[tuple[Config, bytes]] = []


def _described(config: Config) -> bytes:
    """Every field's value (the config's models are dataclasses: their repr shows every field).
    Worked out once per config: the service asks at every publish, and the repr of a config of
    1,000 sources costs a few ms."""
    last = _last[0] if _last else None
    if last is None or last[0] is not config:
        last = (config, repr(config).encode())
        _last[:] = [last]
    return last[1]


def up_to_date(config: Config, store: Store, stamp: str) -> bool:
    """Whether the last publish rendered from ``stamp`` and every file it wrote is still there."""
    last = json.loads(store.meta.get(STAMP_KEY) or "{}")
    output = config.settings.output_dir
    return bool(last.get("stamp") == stamp and all((output / name).exists() for name in last.get("files", ())))
