"""The exact-duplicate decision as a pure function: stored rows in, verdict out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from newsriver.stories.match import Stored, Verdict, decide

from .factories import make_article

T = datetime(2026, 1, 1, tzinfo=UTC)
ARTICLE = make_article(
    id="new-id",
    source="b",
    entry_key="b-guid",
    url="https://x.org/story",
    canonical_url="https://x.org/story",
    title="t",
    published=T,
    updated=T,
    first_seen=T,
    content_hash="h1",
)


def stored(**kw: object) -> Stored:
    values: dict[str, object] = {
        "id": "old-id",
        "source": "b",
        "entry_key": "b-guid",
        "canonical_url": "https://x.org/story",
        "content_hash": "h1",
        "story": "old-id",
        "published": T,
    }
    values.update(kw)
    return Stored(**values)  # type: ignore[arg-type]


ONCE = {"https://x.org/story": 1}


def test_same_key_same_content_is_unchanged() -> None:
    decision = decide(ARTICLE, stored(), [], ONCE)
    assert decision.verdict is Verdict.UNCHANGED and decision.target == "old-id"


def test_same_key_changed_content_is_an_edit_of_the_same_row() -> None:
    decision = decide(ARTICLE, stored(content_hash="h0", story="kept"), [], ONCE)
    assert (decision.verdict, decision.target, decision.story) == (Verdict.EDITED, "old-id", "kept")


def test_new_guid_for_the_same_link_in_the_same_source_is_the_same_entry() -> None:
    old = stored(entry_key="old-guid")
    decision = decide(ARTICLE, None, [old], ONCE)
    assert (decision.verdict, decision.target) == (Verdict.UNCHANGED, "old-id")
    edited = decide(ARTICLE, None, [stored(entry_key="old-guid", content_hash="h0")], ONCE)
    assert (edited.verdict, edited.target) == (Verdict.EDITED, "old-id")


def test_same_link_twice_in_one_document_stays_two_entries() -> None:
    old = stored(entry_key="old-guid")
    decision = decide(ARTICLE, None, [old], {"https://x.org/story": 2})
    assert (decision.verdict, decision.target) == (Verdict.NEW, "new-id")


def test_same_url_from_another_source_joins_that_story() -> None:
    first = stored(id="a1", source="a", story="a1")
    decision = decide(ARTICLE, None, [first], ONCE)
    assert (decision.verdict, decision.target, decision.story) == (Verdict.NEW, "new-id", "a1")


def test_joins_the_kept_copy_even_when_a_later_copy_is_older() -> None:
    kept = stored(id="a1", source="a", story="a1", published=T)
    follower = stored(id="c1", source="c", story="a1", published=datetime(2025, 1, 1, tzinfo=UTC))
    assert decide(ARTICLE, None, [follower, kept], ONCE).story == "a1"


def test_front_page_links_never_merge_stories() -> None:
    homepage = replace(ARTICLE, canonical_url="https://x.org/")
    other = stored(id="a1", source="a", story="a1", canonical_url="https://x.org/")
    decision = decide(homepage, None, [other], {"https://x.org/": 1})
    assert (decision.verdict, decision.story) == (Verdict.NEW, "new-id")


def test_no_match_is_new_and_its_own_story() -> None:
    decision = decide(ARTICLE, None, [], ONCE)
    assert (decision.verdict, decision.target, decision.story) == (Verdict.NEW, "new-id", "new-id")
