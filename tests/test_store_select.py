"""store.selection.stories reads the newest stories from the published index, not by grouping
every row: it must pick exactly the stories, in exactly the order, that grouping does."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from newsriver.store.schema import entries_table
from newsriver.store.sql import read_time
from newsriver.store.store import Store

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.close()


def fill(store: Store, rng: random.Random, entries: int, sources: int) -> None:
    """Entries over few distinct dates (many ties), a third of them copies of an earlier
    story from another source, some published before the story's first copy."""
    rows = []
    stories: list[str] = []
    for n in range(entries):
        entry_id = f"{n:08d}-0000-0000-0000-000000000000"
        story = rng.choice(stories) if stories and rng.random() < 0.33 else entry_id
        if story == entry_id:
            stories.append(entry_id)
        when = START + timedelta(hours=rng.randrange(60))
        rows.append(
            {
                "id": entry_id,
                "source": f"s{rng.randrange(sources)}",
                "entry_key": str(n),
                "story": story,
                "url": "",
                "canonical_url": "",
                "url_hash": "",
                "title": f"t{n}",
                "summary": "",
                "content": "",
                "text": "",
                "authors": [],
                "published": when,
                "updated": when,
                "first_seen": when,
                "categories": [],
                "enclosures": [],
                "language": "",
                "image": "",
                "comments": "",
                "content_hash": "",
            }
        )
    with store.engine.begin() as conn:
        conn.execute(insert(entries_table), rows)


def grouped(store: Store, chosen: list[str], limit: int) -> list[str]:
    """The stories by plain grouping: the definition selection.stories must meet."""
    e = entries_table
    query = (
        select(e.c.story)
        .where(e.c.source.in_(chosen))
        .group_by(e.c.story)
        .order_by(func.min(e.c.published).desc(), e.c.story)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def test_the_newest_stories_are_those_grouping_finds(store: Store) -> None:
    rng = random.Random(7)
    fill(store, rng, entries=900, sources=24)
    every = [f"s{i}" for i in range(24)]
    # Few sources are read one by one, many down the published index: both ways, and past the end.
    cases = [(every, 10), (every, 200), (every, 2000), (["s1"], 7), (["s2", "s4"], 50), (["s0", "s3"], 1000)]
    cases += [(rng.sample(every, rng.randint(1, 24)), rng.randint(1, 150)) for _ in range(16)]
    for chosen, limit in cases:
        expected = grouped(store, chosen, limit)
        found = [story.item.id for story in store.selection.stories(chosen, limit, fold=True)]
        # A story's item carries its first stored copy's id among the chosen sources; map back.
        story_ids = [story_of(store, item_id) for item_id in found]
        assert story_ids == expected, (chosen, limit)


def story_of(store: Store, entry_id: str) -> str:
    e = entries_table
    with store.engine.connect() as conn:
        return str(conn.execute(select(e.c.story).where(e.c.id == entry_id)).scalar_one())


def test_a_source_whose_entries_are_all_older_than_the_rhythm_window_gives_its_newest(store: Store) -> None:
    """sources.recent_publication_times: for such a source, its newest entries (every one of a
    tie), as grouping by source finds them; none for a source without entries."""
    rng = random.Random(11)
    fill(store, rng, entries=600, sources=12)
    every = [f"s{i}" for i in range(13)]  # s12 has no entries
    store.sources.sync((name, f"https://{name}.example/feed") for name in every)
    e = entries_table
    newest = select(e.c.source, func.max(e.c.published).label("published")).group_by(e.c.source).subquery()
    query = select(e.c.source, e.c.entry_key, e.c.published).join(
        newest, (e.c.source == newest.c.source) & (e.c.published == newest.c.published)
    )
    expected: dict[str, dict[str, datetime]] = {name: {} for name in every}
    with store.engine.connect() as conn:
        for source, key, published in conn.execute(query):
            expected[source][key] = published.replace(tzinfo=UTC)
    assert any(len(times) > 1 for times in expected.values())  # ties are there to be kept
    assert store.sources.recent_publication_times(every, START + timedelta(days=30)) == expected


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("2026-03-01 12:00:05.250000", datetime(2026, 3, 1, 12, 0, 5, 250000, tzinfo=UTC)),  # as written here
        ("2026-03-01 12:00:05", datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),  # a date alone: midnight, not a naive date
        ("2026-03-01 12:00:05+02:00", datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)),  # its offset dropped, as ever
        (datetime(2026, 3, 1, 12, 0, 5), datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)),  # psycopg's naive UTC
    ],
)
def test_a_stored_date_reads_back_aware_in_utc(stored: object, read: datetime) -> None:
    found = read_time(stored)
    assert (found, found.tzinfo) == (read, UTC)
