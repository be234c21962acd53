"""The near-duplicate index: each stored entry's fingerprint keys, the candidate lookup
over them, and folding a new article that is another source's copy into that story.

A process-wide cache keeps the fingerprints of recently stored texts (``_RecentPrints``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text, update

from newsriver.store.schema import chunks as _chunks
from newsriver.store.schema import dedupe_keys_table, entries_table
from newsriver.store.sql import Sql, marks
from newsriver.stories.match import Candidate, NearPolicy, match_story

if TYPE_CHECKING:
    # Imported where near-duplicates are looked for (see dedupe): numpy comes with it.
    from newsriver.stories.fingerprint import Fingerprint

MAX_CANDIDATES = 8  # stored entries compared with a new one, those sharing most keys first
# Entries within the window beyond which a key is common (a footer, boilerplate, "Read more…")
# and offers no candidate: a lookup reads at most this many rows a key, however large the store.
KEY_CAP = 100
_KEY_COLUMNS = ("key", "published", "entry_id", "source")
_INSERT_KEYS = f"INSERT OR IGNORE INTO dedupe_keys ({', '.join(_KEY_COLUMNS)}) VALUES (?, ?, ?, ?)"


def _fingerprints(
    inserts: list[dict[str, Any]],
    updates: list[tuple[str, dict[str, Any]]],
    edited: Mapping[str, str],
    known: Mapping[str, Fingerprint],
) -> dict[str, Fingerprint]:
    """The fingerprint of every row to insert (by its id) or update (by its target): from
    ``known`` (by article id) when there, else made from the row's text."""
    from newsriver.stories.fingerprint import of_entry

    found = {}
    for row in inserts:
        found[row["id"]] = known.get(row["id"]) or of_entry(row["title"], row["summary"], row["content"])
        _RECENT_PRINTS.remember(row["id"], row["title"], row["summary"], row["content"], found[row["id"]])
    for target, row in updates:
        found[target] = known.get(edited[target]) or of_entry(row["title"], row["summary"], row["content"])
        _RECENT_PRINTS.remember(target, row["title"], row["summary"], row["content"], found[target])
    return found


def _fold_near_duplicates(
    conn: Connection, source: str, inserts: list[dict[str, Any]], near: NearPolicy, prints: Mapping[str, Fingerprint]
) -> None:
    """Join each new row that is another source's copy of a stored story to that story:
    rewrites the rows' ``story`` and ``similarity``. The stored stories a row bridges
    (see ``match_story``) join that story too, in the database and in this batch."""
    # Rows that joined a story by URL already have theirs.
    fresh = [row for row in inserts if row["story"] == row["id"]]
    if not fresh:
        return
    times = [_seconds(row["published"]) for row in fresh]
    found = offered(conn, source, [(prints[row["id"]].keys, t) for row, t in zip(fresh, times, strict=True)], near)
    offered_ids = {row["id"]: ids for row, ids in zip(fresh, found, strict=True)}
    stored, story_sources = _candidates(conn, sorted({i for ids in found for i in ids}))
    for row in inserts:
        if row["story"] != row["id"]:
            story_sources[row["story"]].add(source)  # the stories this batch joined by URL hold its copy
    made: dict[str, Fingerprint] = {}
    moved: dict[str, str] = {}  # a bridged story → the story it joined

    def fingerprint_of(entry_id: str) -> Fingerprint:
        if entry_id not in made:
            c = stored[entry_id]
            made[entry_id] = _RECENT_PRINTS.of(entry_id, c.title, c.summary, c.content)
        return made[entry_id]

    def story_of(entry_id: str) -> str:
        cluster = stored[entry_id].cluster
        while cluster in moved:
            cluster = moved[cluster]
        return cluster

    for row in fresh:
        candidates = []
        for i in offered_ids[row["id"]]:
            if i not in stored:
                continue
            cluster = story_of(i)
            # match_story passes over a story that has this source's copy already: its
            # copies' fingerprints, the costliest part of a candidate, are not made for it.
            if source not in story_sources[cluster]:
                candidates.append(Candidate(i, cluster, fingerprint_of(i), frozenset(story_sources[cluster])))
        match = match_story(prints[row["id"]], source, candidates, near.threshold)
        if match is None:
            continue
        row["story"], row["similarity"] = match.cluster, match.similarity.score
        # A story holds one copy per source, within this batch too.
        story_sources[match.cluster].add(source)
        # A bridged story holds no copy of this source, so none of this batch's rows.
        for bridged in match.bridged:
            conn.execute(update(entries_table).where(entries_table.c.story == bridged).values(story=match.cluster))
            story_sources[match.cluster] |= story_sources.pop(bridged)
            moved[bridged] = match.cluster


def offered(
    conn: Connection, source: str, wanted: Sequence[tuple[frozenset[int], int]], near: NearPolicy
) -> list[list[str]]:
    """The candidate lookup: for each (keys, published) the ids of the stored entries of
    other sources within the window that share the most keys with it (at least
    MIN_SHARED_KEYS), at most MAX_CANDIDATES. A key more than KEY_CAP entries of the
    window have (of any source: a source's own footer too) offers none."""
    from newsriver.stories.fingerprint import MIN_SHARED_KEYS

    window = int(near.window.total_seconds())
    times = [published for _, published in wanted]
    since, until = min(times) - window, max(times) + window
    hits: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for chunk in _chunks(sorted({key for keys, _ in wanted for key in keys})):
        for key, entry_id, published, of in _key_rows(conn, chunk, since, until):
            if of != source:
                hits[key].append((entry_id, published))
    found = []
    for keys, published in wanted:
        shared: Counter[str] = Counter()
        for key in keys:
            # Most of an entry's keys no other entry has: those cost a lookup, nothing more.
            if rows := hits.get(key):
                # An entry whose publication date an edit changed has a key twice: it counts once.
                shared.update({entry_id for entry_id, when in rows if abs(when - published) <= window})
        ranked = sorted(((-n, entry_id) for entry_id, n in shared.items() if n >= MIN_SHARED_KEYS))
        found.append([entry_id for _, entry_id in ranked[:MAX_CANDIDATES]])
    return found


# The rows of the keys that are not common: whether a key is, is told by the KEY_CAP+1st row
# of its range (the primary key's order), so a common key costs KEY_CAP index steps, not a
# read of every entry that has it.
_KEY_ROWS = """
WITH wanted(key) AS ({wanted}),
usable(key) AS MATERIALIZED (
    SELECT key FROM wanted WHERE NOT EXISTS (
        SELECT 1 FROM dedupe_keys AS c WHERE c.key = wanted.key AND c.published BETWEEN {since} AND {until}
        LIMIT 1 OFFSET {cap}))
SELECT d.key, d.entry_id, d.published, d.source FROM usable JOIN dedupe_keys AS d
    ON d.key = usable.key AND d.published BETWEEN {since} AND {until}
"""
_SQLITE_KEY_ROWS = _KEY_ROWS.format(wanted="SELECT value FROM json_each(?)", since="?", until="?", cap="?")
_POSTGRES_KEY_ROWS = text(
    _KEY_ROWS.format(wanted="SELECT unnest(CAST(:keys AS BIGINT[]))", since=":since", until=":until", cap=":cap")
)


def _key_rows(conn: Connection, keys: Sequence[int], since: int, until: int) -> Iterable[Any]:
    """(key, entry id, published, source) of every index row of ``keys`` within [since, until]
    whose key is not common."""
    if conn.dialect.name == "sqlite":
        # Hundreds of keys a feed, as one JSON parameter: straight to the driver, as _index
        # does. SQLAlchemy's processing of the parameters costs more than the lookup.
        window = (since, until)
        rows = conn.exec_driver_sql(_SQLITE_KEY_ROWS, (json.dumps(list(keys)), *window, KEY_CAP, *window))
    else:
        rows = conn.execute(_POSTGRES_KEY_ROWS, {"keys": list(keys), "since": since, "until": until, "cap": KEY_CAP})
    return rows


class _RecentPrints(OrderedDict[tuple[str, int], "Fingerprint"]):
    """Fingerprints of recently stored texts, by (entry id, hash of its title, summary and
    content): the copies of one story mostly arrive in one pass, and each is compared with
    the same stored entries, whose fingerprints are then not made again from their text."""

    SIZE = 512  # a bound on memory: a fingerprint holds a few kilobytes
    LOCK = threading.Lock()

    def remember(self, entry_id: str, title: str, summary: str, content: str, fingerprint: Fingerprint) -> None:
        key = (entry_id, hash((title, summary, content)))
        with self.LOCK:
            self[key] = fingerprint
            self.move_to_end(key)
            if len(self) > self.SIZE:
                self.popitem(last=False)

    def of(self, entry_id: str, title: str, summary: str, content: str) -> Fingerprint:
        found = self.get((entry_id, hash((title, summary, content))))
        if found is None:
            from newsriver.stories.fingerprint import of_entry

            found = of_entry(title, summary, content)
            self.remember(entry_id, title, summary, content, found)
        return found


_RECENT_PRINTS = _RecentPrints()


@dataclass(frozen=True, slots=True)
class _Offered:
    """A stored entry the index offered, with the text its fingerprint is made from."""

    cluster: str
    title: str
    summary: str
    content: str


def _candidates(conn: Connection, ids: Sequence[str]) -> tuple[dict[str, _Offered], dict[str, set[str]]]:
    """The offered entries by id, and the sources of each of their stories."""
    # Twice a save: straight to the driver the transaction lent (building and compiling the
    # select cost more than running it).
    sql = Sql(conn.connection.driver_connection, conn.dialect.name == "sqlite")
    found: dict[str, _Offered] = {}
    for chunk in _chunks(ids):
        query = f"SELECT id, story, title, summary, content FROM entries WHERE id IN ({marks(len(chunk))})"
        for entry_id, story, title, summary, content in sql.rows(query, chunk):
            found[entry_id] = _Offered(story, title, summary, content)
    sources: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted({c.cluster for c in found.values()})):
        query = f"SELECT story, source FROM entries WHERE story IN ({marks(len(chunk))})"
        for cluster, member_source in sql.rows(query, chunk):
            sources[cluster].add(member_source)
    return found, sources


def _index(
    conn: Connection,
    source: str,
    inserts: list[dict[str, Any]],
    updates: list[tuple[str, dict[str, Any]]],
    prints: Mapping[str, Fingerprint],
) -> None:
    """Add the new rows' fingerprint keys, and the keys an edit brought to an edited row."""
    # Keys of the text before an edit stay: they only ever offer a candidate, which is then
    # compared with the text as it is now. An edited row's keys are all offered again, and
    # those it has already ignored: reading them first would read every row of a common key.
    rows = [
        (key, published, entry_id, source)
        for entry_id, row in [*((row["id"], row) for row in inserts), *updates]
        for published in (_seconds(row["published"]),)
        for key in prints[entry_id].keys
    ]
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        # A dozen rows per entry: straight to the driver, without SQLAlchemy's per-row
        # parameter processing, which costs more than the insert (plain integers and text).
        conn.exec_driver_sql(_INSERT_KEYS, rows)
    else:
        from sqlalchemy.dialects.postgresql import insert as upsert

        keys = [dict(zip(_KEY_COLUMNS, r, strict=True)) for r in rows]
        conn.execute(upsert(dedupe_keys_table).on_conflict_do_nothing(), keys)


def _seconds(when: datetime) -> int:
    return int(when.timestamp())
