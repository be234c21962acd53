"""The near-duplicate index as the store grows: a key many entries share (a footer, a
"Read more" paragraph) offers no candidate, so a lookup reads a bounded number of rows;
real copies are still offered. Through a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from newsriver.models import Article
from newsriver.store import near_index as store_module
from newsriver.store.near_index import offered
from newsriver.store.store import Store
from newsriver.stories.fingerprint import of_entry
from newsriver.stories.match import NearPolicy

from .factories import WHEN, make_article

NEAR = NearPolicy(0.6, timedelta(days=7))
FOOTER = (
    "Stories like this one come in our daily newsletter, delivered to your inbox every morning before seven, "
    "free of charge for all registered readers of this site, and follow us on social media for the latest news as "
    "it happens. Our journalism depends on readers like you: subscribe today and get the first month for free, "
    "cancel at any time. Tips and corrections are welcome at our newsroom, which answers every message it gets."
)
WORDS = (
    "mexico sent alleged cartel leaders united states among them rafael caro quintero largest transfers country "
    "history officials talks trade security tariffs border analysts warned violence routes prosecutors courts "
    "federal cities families justice agents decades extradition operation weapons money laundering charges"
).split()


def text(seed: int) -> str:
    """An article no other shares a phrase with, then the footer every one carries."""
    rng = random.Random(seed)
    return "".join(f"<p>{' '.join(rng.choices(WORDS, k=40))}.</p>" for _ in range(4)) + f"<p>{FOOTER}</p>"


def article(n: int, source: str, content: str) -> Article:
    url = f"https://{source}.example/{n}"
    return make_article(
        id=f"e{n}", source=source, entry_key=str(n), url=url, canonical_url=url, title=f"Story {n}", content=content,
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
    )  # fmt: skip


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    opened.sources.sync((f"s{n}", "https://x.example/") for n in range(8))
    for n in range(6):
        opened.entries.save(f"s{n}", [article(n, f"s{n}", text(n))], {"errors": 0}, NEAR)
    yield opened
    opened.close()


def lookup(store: Store, content: str) -> list[str]:
    keys = of_entry("A headline of its own", "", content).keys
    with store.engine.connect() as conn:
        [found] = offered(conn, "s7", [(keys, int(WHEN.timestamp()))], NEAR)
    return found


def test_a_key_more_entries_share_than_the_cap_offers_no_candidate(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    news = text(100)  # news of its own: only the footer is shared
    assert len(lookup(store, news)) == 6  # the footer's keys alone would offer every entry
    monkeypatch.setattr(store_module, "KEY_CAP", 5)
    assert lookup(store, news) == []


def test_a_copy_is_still_offered_when_its_footer_is_common(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "KEY_CAP", 5)
    copy = text(3).replace("<p>", "<p>Cut and copied. ", 1)
    assert lookup(store, copy) == ["e3"]


def test_an_edit_indexes_the_keys_its_new_text_brings(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "KEY_CAP", 5)  # the footer offers none
    edited = text(50)
    for _ in range(2):  # the same edit seen twice: its keys are there already, none is added again
        store.entries.save("s0", [article(0, "s0", edited)], {"errors": 0}, NEAR)
    assert lookup(store, edited.replace("<p>", "<p>Copied. ", 1)) == ["e0"]
    assert lookup(store, text(0)) == ["e0"]  # the text before the edit still offers it
