"""Related coverage in the database: document frequencies, the key index, event groups.

``record`` runs inside ``store.entries``' save transaction, after the new entries are inserted and
folded into stories; the decisions are ``stories.related``'s. Three tables:

- ``related_terms``: how many stored entries hold each word (by ``term_key``), and under
  ``DOCUMENTS`` how many entries were counted: the IDF of every comparison. Entries removed
  by retention stay counted: frequencies only need to say which words are rare. The
  process keeps those it met in memory between saves (``Frequencies``), exact by the
  token each save leaves under ``MARK``.
- ``related_keys``: each entry under its ``KEYS`` weightiest words, by publication
  time. A lookup reads at most ``PER_KEY`` rows of a key on either side, the nearest, so a word
  many entries share cannot make it slower as the store grows; words held by more than
  ``MAX_DF_SHARE`` of the entries are never keys at all. Of the entries it offers, those
  whose shared keys weigh less than ``MIN_KEY_WEIGHT`` (see ``key_weights``) are never read.
- ``related_entries``: each entry with its group, and its TF-IDF vector as made when it
  was stored (comparing with it reads one short row, never its text; its headline and
  story are read from ``entries`` only for the few reports close enough to match).
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    select,
)

from newsriver.store.schema import (
    chunks,
    entries_table,
    related_entries_table,
    related_keys_table,
)
from newsriver.store.sql import Sql, marks
from newsriver.stories.related import (
    MIN_KEY_WEIGHT,
    Idf,
    Joined,
    Lead,
    RelatedPolicy,
    Report,
    adopted,
    cosine,
    first_keys,
    first_words,
    join,
    key_weights,
    key_words,
    keys,
    lead_of,
    matching,
    term_key,
    threshold_for,
    usable_words,
    weighted,
)

DOCUMENTS = -1  # the related_terms row counting entries (term keys are never negative)
MARK = -2  # the related_terms row each save sets to a token of its own (see Frequencies)
PER_KEY = 12  # rows of one key read per lookup on either side in time, the nearest
MAX_CANDIDATES = 10  # stored reports compared with a new entry, those sharing most keys first
MAX_DF_SHARE = 0.01  # a word more entries hold than this share is never a key
MIN_MAX_DF = 50  # ... nor in a young store, one more than this many hold


class Frequencies:
    """The document frequencies a store's saves have read and written, kept between saves
    in the store's process, so that a save reads from ``related_terms`` only the words it
    never met (reading each word's row cost as much as all of the rest of featurizing).

    Kept exact, whoever else writes: every save sets the ``MARK`` row to a token of its own
    and remembers it, with the count of entries it left. A save that finds another token or
    count there (another worker or process saved since, or this process's last save was
    rolled back) forgets every frequency and reads again those it needs. Saves run one at
    a time (each inside a transaction that has inserted entries: SQLite's one writer,
    PostgreSQL's advisory lock in ``save``), so no two use this at once.
    """

    __slots__ = ("df", "documents", "mark")

    KEPT = 1 << 18  # words remembered at most (a bound on memory): past it, all are forgotten

    def __init__(self) -> None:
        self.df: dict[str, int] = {}  # word → entries holding it, as stored
        self.mark: int | None = None  # the token this process's last save wrote
        self.documents = 0  # and the number of entries counted it left


def record(
    db: Sql, rows: Sequence[Mapping[str, Any]], policy: RelatedPolicy, memory: Frequencies | None = None
) -> None:
    """Count the new entries' words, and put each in an event group: a copy in its story's,
    another the group of its best earlier match, or a group of its own. ``rows`` are the
    entry rows just inserted (their ``story`` final); ``memory``, the store's frequencies
    kept between saves (without it, every word's is read)."""
    if not rows:
        return
    leads = {row["id"]: lead_of(row["title"], row["text"]) for row in rows}
    batch: Counter[str] = Counter()
    for lead in leads.values():
        batch.update(lead.terms.keys())  # the entries holding each word, counted in C
    memory = memory if memory is not None else Frequencies()
    df, documents, mark = _frequencies(db, batch, memory)
    memory.mark = _count(db, batch, df, documents, len(rows), mark)
    for word, n in batch.items():
        df[word] += n
    documents += len(rows)
    memory.documents = documents
    max_df = _max_df(documents)
    window = int(policy.window.total_seconds())
    idfs, usable = Idf(df, documents), usable_words(batch, df, max_df)
    for row in rows:
        lead = leads[row["id"]]
        mine = weighted(lead, idfs)
        ranked = key_words(mine, usable)
        when, story = row["published"], row["story"]
        entry = Report(row["id"], row["title"], row["id"], when, story, when, lead.headline_only, mine)
        weights = key_weights(first_words(ranked, df, held_by=1), lead.headline, lead.headline_only)
        wanted = [(term_key(w), n) for w, n in weights.items()]
        reports = _offered(db, entry, wanted, window, policy)
        # A copy is in its story's group: compared itself, it could find another group
        # with its own lead, or the same one by another arrival order.
        joined = _story_group(db, story) if story != row["id"] else None
        found = matching(entry, reports, policy)
        joined = joined or join(entry, [report for report, _ in found], policy)
        placed = joined or Joined(entry.id, when, entry.id, None)
        _store(db, entry, lead, placed)
        _index(db, first_keys(ranked, df, held_by=0), _seconds(when), row["id"])
        for other in adopted(entry, placed, found, policy):
            if _one_story(db, other.group):
                _move(db, other, placed)


# The statements of ``record`` go straight to the driver's cursor, in the transaction's
# connection: built through SQLAlchemy's expression language, or even passed through its
# result machinery, each cost more than its query.


def _frequencies(db: Sql, words: Collection[str], memory: Frequencies) -> tuple[dict[str, int], int, int | None]:
    """The stored document frequency of each word (in ``memory.df``, which is returned,
    for every word of ``words`` and maybe others; 0 for a word without a row), the number of
    entries counted, and the ``MARK`` token: one statement, reading the words ``memory``
    does not hold, and a second when what it holds turns out stale."""
    df = memory.df
    full = memory.mark is None or len(df) > Frequencies.KEPT
    if full:
        df.clear()
    documents, mark = _read_terms(db, words if full else [w for w in words if w not in df], df)
    if not full and (mark, documents) != (memory.mark, memory.documents):
        # Another save since this process's last (or this one's was rolled back): every
        # frequency held may be stale. The count too, for a writer that sets no mark.
        df.clear()
        _read_terms(db, words, df)
    return df, documents, mark


def _max_df(documents: int) -> int:
    """How many entries may hold a word that is still a key (see MAX_DF_SHARE, MIN_MAX_DF)."""
    return max(MIN_MAX_DF, int(documents * MAX_DF_SHARE))


def _read_terms(db: Sql, words: Collection[str], df: dict[str, int]) -> tuple[int, int | None]:
    """Read the frequencies of ``words`` into ``df`` (0 for a word no stored entry holds),
    and with them the number of entries counted and the ``MARK`` token."""
    by_key = {term_key(w): w for w in words}
    for w in by_key.values():
        df[w] = 0
    documents, mark = 0, None
    for chunk in chunks([DOCUMENTS, MARK, *by_key]):
        for term, n in db.rows(f"SELECT term, df FROM related_terms WHERE term IN ({marks(len(chunk))})", chunk):
            if term == DOCUMENTS:
                documents = n
            elif term == MARK:
                mark = n
            else:
                df[by_key[term]] = n
    return documents, mark


def _count(
    db: Sql, batch: Mapping[str, int], df: Mapping[str, int], documents: int, added: int, mark: int | None
) -> int:
    """Add the batch's counts to the stored ones (``df``, ``documents`` and ``mark``, as
    ``_frequencies`` read them); the token it set in the ``MARK`` row.

    A word's row is updated when it has one, else inserted: ``df`` says which (its 0 is a
    word without a row), so neither statement looks a row up twice, as an upsert would."""
    token = random.randrange(1, 1 << 31)  # fits the column on every backend
    updates = [(n, term_key(w)) for w, n in batch.items() if df[w]]
    inserts = [(term_key(w), n) for w, n in batch.items() if not df[w]]
    if documents:
        updates.append((added, DOCUMENTS))
    else:
        inserts.append((DOCUMENTS, added))
    if mark is not None:
        updates.append((token - mark, MARK))
    else:
        inserts.append((MARK, token))
    # Sorted: two transactions writing the same words lock them in one order.
    updates.sort(key=lambda row: row[1])
    inserts.sort()
    db.run_many("UPDATE related_terms SET df = df + ? WHERE term = ?", updates)
    db.run_many("INSERT INTO related_terms (term, df) VALUES (?, ?)", inserts)
    return token


# Of each key, the rows nearest in time before and after: both ranges read in index order;
# each row with its key's weight (``key_weights``), a constant of the statement.
_NEAREST = (
    "SELECT * FROM (SELECT entry_id, published, {w} AS w FROM related_keys WHERE key = ?"
    " AND published BETWEEN ? AND ? ORDER BY published DESC LIMIT ?) b{n} UNION ALL"
    " SELECT * FROM (SELECT entry_id, published, {w} AS w FROM related_keys WHERE key = ?"
    " AND published > ? AND published <= ? ORDER BY published LIMIT ?) a{n}"
)
# The offered entries ranked where the rows are (a lookup reads up to 2 × PER_KEY rows a
# key, and only MAX_CANDIDATES of them are wanted, of those whose shared keys weigh
# ``MIN_KEY_WEIGHT``:
# an entry has one row a key, unless it was deleted outside retention and stored again with
# another date: see _store), then their vectors, in one round trip.
# An entry's rows all have its publication time. Ties go to the smaller id in code point
# order, as in Python: PostgreSQL's text order is its collation's unless told.
_REPORTS = (
    "WITH hits(entry_id, published, w) AS ({hits}),"
    " ranked(entry_id) AS (SELECT entry_id FROM hits GROUP BY entry_id HAVING sum(w) >= ?"
    " ORDER BY sum(w) DESC, min(abs(published - ?)), entry_id{collate} LIMIT ?)"
    " SELECT r.entry_id, r.grp, r.group_published, r.published, r.headline_only, r.vector"
    " FROM ranked JOIN related_entries r ON r.entry_id = ranked.entry_id ORDER BY r.entry_id{collate}"
)


@functools.cache
def _reports_text(weights: tuple[int, ...], sqlite: bool) -> str:
    """``_REPORTS`` for keys of these weights: made once (building it cost a tenth of the lookup)."""
    hits = " UNION ALL ".join(_NEAREST.format(n=n, w=w) for n, w in enumerate(weights))
    return _REPORTS.format(hits=hits, collate="" if sqlite else ' COLLATE "C"')


def _offered(
    db: Sql, entry: Report, wanted: Sequence[tuple[int, int]], window: int, policy: RelatedPolicy
) -> list[Report]:
    """The stored reports within the window whose keys shared with an entry (``wanted``: key,
    weight) weigh most, at least ``MIN_KEY_WEIGHT``, at most MAX_CANDIDATES, ties to the nearest in time; of each
    key at most PER_KEY rows before and after it, the nearest in time. Only those
    ``matching`` could keep: a report the entry's vector is too far from (most of them) is
    dropped before its headline and story are read from ``entries``, and before a Report
    is made of it."""
    if not wanted:
        return []
    published = _seconds(entry.published)
    sql = _reports_text(tuple(w for _, w in wanted), db.sqlite)
    params = [
        value
        for key, _ in wanted
        for value in (key, published - window, published, PER_KEY, key, published, published + window, PER_KEY)
    ]
    decode, mine, alone = _VECTOR.decode, entry.vector, entry.headline_only
    near = []
    for i, group, began, when, headline_only, weights in db.rows(
        sql, [*params, MIN_KEY_WEIGHT, published, MAX_CANDIDATES]
    ):
        # The stored time is whole seconds and the entry's may not be: a second more, and
        # ``matching`` tells exactly.
        if abs(when - published) <= window + 1:
            vector = decode(weights)  # the same floats as json.loads, in a fifth of the time
            if cosine(mine, vector) >= threshold_for(alone, bool(headline_only), policy):
                near.append((i, group, began, when, bool(headline_only), vector))
    if not near:
        return []
    entries = {
        i: (title, story)
        for i, title, story in db.rows(
            f"SELECT id, title, story FROM entries WHERE id IN ({marks(len(near))})", [n[0] for n in near]
        )
    }
    return [
        Report(i, entries[i][0], group, _datetime(began), entries[i][1], _datetime(when), headline_only, vector)
        for i, group, began, when, headline_only, vector in near
        if i in entries  # as the join did: a report whose entry is gone (retention) is no candidate
    ]


_VECTOR = msgspec.json.Decoder(dict[str, float])


def _story_group(db: Sql, story: str) -> Joined | None:
    """The group a story's entries are in (the smaller id if two stories were bridged)."""
    found = db.rows(
        "SELECT r.grp, r.group_published, r.entry_id FROM related_entries r JOIN entries e ON e.id = r.entry_id"
        " WHERE e.story = ? ORDER BY r.grp LIMIT 1",
        (story,),
    )
    return Joined(found[0][0], _datetime(found[0][1]), found[0][2], None) if found else None


def _store(db: Sql, entry: Report, lead: Lead, placed: Joined) -> None:
    # JSON written directly, each weight to 4 decimals (the value json.dumps of round(v, 4)
    # wrote, in a third of the time): a word holds letters and digits only, nothing to escape.
    weights = "{" + ",".join([f'"{w}":{v:.4f}' for w, v in entry.vector.items()]) + "}"
    # An upsert: rows of an entry deleted other than by retention (which forgets them) would
    # otherwise make every later save of that entry fail on its key, and its source with it.
    db.run(
        "INSERT INTO related_entries (entry_id, grp, group_published, published, headline_only, vector, score)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id) DO UPDATE SET grp = excluded.grp,"
        " group_published = excluded.group_published, published = excluded.published,"
        " headline_only = excluded.headline_only, vector = excluded.vector, score = excluded.score",
        (
            entry.id,
            placed.group,
            _seconds(placed.group_published),
            _seconds(entry.published),
            lead.headline_only,
            weights,
            placed.score,
        ),
    )


def _one_story(db: Sql, group: str) -> bool:
    sql = "SELECT DISTINCT e.story FROM related_entries r JOIN entries e ON e.id = r.entry_id WHERE r.grp = ? LIMIT 2"
    return len(db.rows(sql, (group,))) == 1


def _move(db: Sql, other: Joined, placed: Joined) -> None:
    """Move the group ``other`` (of one story) into ``placed``'s, scored by its match."""
    began = _seconds(placed.group_published)
    db.run(
        "UPDATE related_entries SET grp = ?, group_published = ? WHERE grp = ?",
        (placed.group, began, other.group),
    )
    db.run("UPDATE related_entries SET score = ? WHERE entry_id = ?", (other.score, other.report))


def _index(db: Sql, wanted: Sequence[int], published: int, entry_id: str) -> None:
    if wanted:
        rows = [(key, published, entry_id) for key in wanted]
        db.run_many("INSERT INTO related_keys (key, published, entry_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows)


def forget(conn: Connection) -> None:
    """Drop the keys and group rows of entries no longer stored (after retention)."""
    e = entries_table.c
    for table, column in ((related_keys_table, related_keys_table.c.entry_id),
                          (related_entries_table, related_entries_table.c.entry_id)):  # fmt: skip
        conn.execute(delete(table).where(~select(e.id).where(e.id == column).exists()))


@dataclass(frozen=True, slots=True)
class Recorded:
    """An entry as related coverage recorded it: what ``dupes --explain`` compares."""

    report: Report  # its group, headline-only flag and vector as stored
    indexed: frozenset[int]  # its keys in the key index, as stored
    lookup: tuple[int, ...]  # the keys a lookup by it reads, by the frequencies stored now


def recorded(db: Sql, entry_ids: Sequence[str]) -> dict[str, Recorded]:
    """Those of these entries related coverage recorded, by id. The lookup keys are worked out
    as ``record`` does, by the same functions, from the stored vector (its words ranked as
    when it was stored, but for its 4 decimals) and today's frequencies (which may have grown
    since)."""
    wanted = marks(len(entry_ids))
    rows = db.rows(
        "SELECT r.entry_id, r.grp, r.group_published, r.published, r.headline_only, r.vector, e.title, e.story"
        f" FROM related_entries r JOIN entries e ON e.id = r.entry_id WHERE r.entry_id IN ({wanted})",
        list(entry_ids),
    )
    indexed: dict[str, set[int]] = {}
    for key, entry_id in db.rows(
        f"SELECT key, entry_id FROM related_keys WHERE entry_id IN ({wanted})", list(entry_ids)
    ):
        indexed.setdefault(entry_id, set()).add(key)
    vectors = {row[0]: _VECTOR.decode(row[5]) for row in rows}
    # Today's frequencies of every word of these entries, in one read.
    df: dict[str, int] = {}
    documents, _ = _read_terms(db, set().union(*vectors.values()), df)
    max_df = _max_df(documents)
    found = {}
    for i, group, began, when, headline_only, _weights, title, story in rows:
        vector = vectors[i]
        lookup = keys(vector, df, max_df, held_by=1)
        report = Report(i, title, group, _datetime(began), story, _datetime(when), bool(headline_only), vector)
        found[i] = Recorded(report, frozenset(indexed.get(i, ())), tuple(lookup))
    return found


# --- reading groups: the feeds and ``dupes`` ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """One report of an event group, as feeds list it."""

    entry_id: str
    story: str  # the story it is in (its own id when it is the story's first entry)
    source: str
    url: str
    title: str
    published: datetime
    score: float | None  # how strongly it matched when it joined; None for the group's first


def groups_of(conn: Connection, entry_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The story of each of these entries, and that story's event group when it is in one:
    entry id → (story, group)."""
    r, e = related_entries_table.c, entries_table.c
    stories: dict[str, str] = {}
    for chunk in chunks(list(entry_ids)):
        stories.update((i, story) for i, story in conn.execute(select(e.id, e.story).where(e.id.in_(chunk))))
    groups: dict[str, str] = {}
    query = select(e.story, r.grp).join_from(related_entries_table, entries_table, e.id == r.entry_id)
    for chunk in chunks(sorted(set(stories.values()))):
        # A story two stories bridged may have been in two groups: the smaller id, as anywhere.
        for story, group in conn.execute(query.where(e.story.in_(chunk)).order_by(r.grp)):
            groups.setdefault(story, group)
    return {i: (story, groups[story]) for i, story in stories.items() if story in groups}


def members(conn: Connection, groups: Collection[str]) -> dict[str, list[Member]]:
    """Every stored report of these groups, earliest published first."""
    r, e = related_entries_table.c, entries_table.c
    query = select(r.grp, r.entry_id, e.story, e.source, e.url, e.title, e.published, r.score).join_from(
        related_entries_table, entries_table, e.id == r.entry_id
    )
    found: dict[str, list[Member]] = {}
    for chunk in chunks(sorted(groups)):
        for row in conn.execute(query.where(r.grp.in_(chunk))):
            found.setdefault(row.grp, []).append(
                Member(row.entry_id, row.story, row.source, row.url, row.title, row.published, row.score)
            )
    for listed in found.values():
        listed.sort(key=lambda m: (m.published, m.entry_id))
    return found


def story_entries(conn: Connection, groups: Collection[str]) -> dict[str, list[Member]]:
    """Every stored entry of every story in these groups (copies too: a feed shows a story
    by the copy of its choice), by group."""
    r, e = related_entries_table.c, entries_table.c
    story_groups: dict[str, str] = {}
    query = select(r.grp, e.story).join_from(related_entries_table, entries_table, e.id == r.entry_id)
    for chunk in chunks(sorted(groups)):
        for group, story in conn.execute(query.where(r.grp.in_(chunk)).order_by(r.grp.desc())):
            story_groups[story] = group  # a story in two groups (see groups_of): the smaller id
    found: dict[str, list[Member]] = {}
    columns = select(e.id, e.story, e.source, e.url, e.title, e.published)
    for chunk in chunks(sorted(story_groups)):
        for row in conn.execute(columns.where(e.story.in_(chunk))):
            member = Member(row.id, row.story, row.source, row.url, row.title, row.published, None)
            found.setdefault(story_groups[row.story], []).append(member)
    return found


def recent_groups(conn: Connection, since: datetime, limit: int) -> list[list[Member]]:
    """Groups a report joined that was stored since ``since``, the most recently joined first."""
    r, e = related_entries_table.c, entries_table.c
    newest = (
        select(r.grp)
        .join_from(related_entries_table, entries_table, e.id == r.entry_id)
        .where(r.score.is_not(None), e.first_seen >= since)
        .group_by(r.grp)
        .order_by(func.max(e.first_seen).desc(), r.grp)
        .limit(limit)
    )
    groups = list(conn.execute(newest).scalars())
    found = members(conn, groups)
    return [found[g] for g in groups if len(found.get(g, ())) > 1]


def listing(engine: Engine, since: datetime, limit: int) -> list[str]:
    """What ``newsriver dupes`` prints of the event groups a report joined since ``since``."""
    with engine.connect() as conn:
        groups = recent_groups(conn, since, limit)
    lines = ["", "Related coverage (independent reports of one event, grouped, never merged):"]
    if not groups:
        return [*lines, "no event has reports of more than one story among the entries stored in that time"]
    for group in groups:
        lines.append(f"event: {group[0].title}")
        for m in group:
            how = f"{m.score:.2f} TF-IDF cosine" if m.score is not None else "first report"
            if m.score is None and m.story != m.entry_id:
                how = "copy of a story"
            lines.append(f"  {m.source:<20} {m.published:%Y-%m-%d %H:%M}  {how:<28} {m.title[:60]}")
    return lines


def _seconds(when: datetime) -> int:
    return int(when.timestamp())


def _datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
