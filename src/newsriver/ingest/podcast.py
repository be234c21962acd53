"""An episode's podcast metadata, from the ``itunes:*`` elements of an entry as the parsers
keep them (feedparser's keys; the fast path mirrors them): duration, explicit, season,
episode and episode type. The episode's image is the entry's ``image`` already."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from newsriver.models import Podcast

# "3723", "62:03", "1:02:03", with seconds possibly fractional ("1:02:03.5").
_CLOCK = re.compile(r"^(?:(\d{1,3}):)?(?:(\d{1,4}):)?(\d{1,7})(?:\.\d+)?$")
_EPISODE_TYPES = frozenset({"full", "trailer", "bonus"})
_MAX_NUMBER = 1_000_000  # seasons and episodes: anything larger is not a count
_KEYS = ("itunes_duration", "itunes_explicit", "itunes_season", "itunes_episode", "itunes_episodetype")
_NONE = [None] * len(_KEYS)


def podcast_of(get: Callable[[str], Any]) -> Podcast | None:
    """The entry's podcast metadata, or None when it has none."""
    duration, explicit, season, episode, episode_type = values = [get(key) for key in _KEYS]
    if values == _NONE:  # most entries are no episodes: no Podcast built and compared
        return None
    found = Podcast(
        duration=duration_seconds(duration),
        # feedparser reads "yes" as True and "clean" as False; anything else says nothing.
        explicit=explicit if isinstance(explicit, bool) else None,
        season=_count(season),
        episode=_count(episode),
        episode_type=_episode_type(episode_type),
    )
    return None if found == Podcast() else found


def duration_seconds(value: Any) -> int | None:
    """``itunes:duration`` in seconds: plain seconds, MM:SS or HH:MM:SS; None when unreadable."""
    if not isinstance(value, str):
        return None
    match = _CLOCK.match(value.strip())
    if match is None:
        return None
    first, second, last = match.groups()
    hours, minutes = (int(first), int(second)) if second is not None else (0, int(first or 0))
    seconds = hours * 3600 + minutes * 60 + int(last)
    return seconds if 0 < seconds < 100 * 86400 else None


def _count(value: Any) -> int | None:
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < _MAX_NUMBER else None


def _episode_type(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in _EPISODE_TYPES else ""
