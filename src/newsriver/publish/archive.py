"""RFC 5005 archives of an output feed: which monthly pages it has and what each holds.

Pure: stories and file names in, pages out; ``publisher`` queries the store and writes files.

- A story belongs to the month (UTC) in which newsriver first stored it, not the month its
  source dated it. That month never changes and is over once the calendar month is, so a
  finished month's pages can be written once and never miss a story that came late: an
  article dated 31 March but fetched on 1 April joins April, as does a new source's backlog.
- A finished month's pages hold all of its stories, those still in the feed's
  files too (they must be somewhere once they leave it, and the month will not be
  written again); readers reconcile the overlap by item id, as RFC 5005 §4.2 says.
- The current month's pages hold only its stories that have left the feed's
  files, and change until the month is over.
- A page holds at most as many items as the feed's files (the feed's
  ``max_items``); a month with more is split into ``YYYY-MM.atom``, ``YYYY-MM-2.atom``, …
  in publication order. Every month from the feed's first to the current one has at least
  its ``YYYY-MM.atom`` page, empty if need be, so a finished month can name the next
  month's first page in its ``next-archive`` link before that month is over.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from newsriver.stories.match import Story

FOLDER = "archive"  # <feed>/archive/ in the output folder
_PAGE_NAME = re.compile(r"^(\d{4})-(\d{2})(?:-(\d+))?\.atom$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int  # 1 … 12

    @classmethod
    def of(cls, when: datetime) -> Month:
        utc = when.astimezone(UTC)
        return cls(utc.year, utc.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    def following(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def preceding(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Page:
    path: str  # under the output folder: "<feed>/archive/YYYY-MM.atom"
    stories: tuple[Story, ...]  # newest first, as in the feed's files
    previous: str | None  # path of the prev-archive page; None on the very first page
    following: str | None  # path of the next-archive page; None on the newest page


def page_path(feed: str, month: Month, part: int = 1) -> str:
    return f"{feed}/{FOLDER}/{month}{'' if part == 1 else f'-{part}'}.atom"


def written(names: Iterable[str]) -> dict[Month, int]:
    """Months that have pages among the archive folder's file ``names``, and how many.

    A month counts only when its first page is there (it is written after the others).
    """
    parts: dict[Month, set[int]] = {}
    for name in names:
        match = _PAGE_NAME.match(name)
        if match and 1 <= int(match[2]) <= 12:
            parts.setdefault(Month(int(match[1]), int(match[2])), set()).add(int(match[3] or 1))
    counts = {}
    for month, numbers in parts.items():
        count = 0
        while count + 1 in numbers:
            count += 1
        if count:
            counts[month] = count
    return counts


def to_write(first: Month, current: Month, on_disk: Mapping[Month, int], unfinished: Collection[Month]) -> list[Month]:
    """The months, oldest first, whose pages are rendered now: the current month every
    time; a finished month when it has no pages, or when its pages are ``unfinished``
    ones, written while it was the current month."""
    months = []
    month = first
    while month <= current:
        if month == current or month not in on_disk or month in unfinished:
            months.append(month)
        month = month.following()
    return months


def maybe_unfinished(current: Month, on_disk: Mapping[Month, int]) -> list[Month]:
    """The finished months whose pages may date from while they were current.

    A finished month's final pages are always written before the next month's first page,
    so only a month whose next month has no page yet can lack them; its last page tells.
    """
    return [month for month in on_disk if month < current and month.following() not in on_disk]


def month_pages(
    feed: str, month: Month, stories: Sequence[Story], size: int, before: str | None, final: bool
) -> list[Page]:
    """One month's pages: ``stories`` in publication order, ``size`` to a page.

    ``before`` is the path of the page preceding the month (the previous month's last);
    ``final`` links the last page to the next month's first, as once the month is over.
    """
    ordered = sorted(stories, key=lambda s: (s.item.published, s.item.id))
    chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)] or [[]]
    paths = [page_path(feed, month, part) for part in range(1, len(chunks) + 1)]
    pages = []
    for index, chunk in enumerate(chunks):
        if index + 1 < len(chunks):
            following: str | None = paths[index + 1]
        else:
            following = page_path(feed, month.following()) if final else None
        previous = paths[index - 1] if index else before
        pages.append(Page(paths[index], tuple(reversed(chunk)), previous, following))
    return pages
