"""The hand-off of articles from a parse worker to the store stage: encoded chunks, held in
memory and past a bound in a temporary file, decoded to what went in."""

from __future__ import annotations

import numpy as np
import pytest

import newsriver.run.outcome as outcome
from newsriver.models import Author, Enclosure, Podcast, Seen
from newsriver.run.outcome import Articles, Chunks, encoded
from newsriver.stories.fingerprint import Fingerprint, of_entry

from .factories import WHEN, make_article

BODY = "<p>" + " ".join(f"word{i} and the 2.{i} release of March {i % 28 + 1}, 2026" for i in range(60)) + "</p>"


def test_a_chunk_decodes_to_the_articles_and_fingerprints_encoded() -> None:
    articles = [
        make_article(id="a", title="Release 2.3 is out", content=BODY, published=WHEN),
        make_article(
            id="b",
            title="Short one",
            summary="<p>Only a teaser.</p>",
            authors=(Author("Jo", "jo@x.example"),),
            enclosures=(Enclosure("https://x.example/e.mp3", "audio/mpeg", 12), Enclosure("https://x.example/f")),
            categories=("a", "b"),
            podcast=Podcast(duration=61, explicit=False, episode=3),
        ),
    ]
    prints = [of_entry(a.title, a.summary, a.content) for a in articles]
    assert prints[0].shingles.size and prints[0].figures  # the arrays and the figures travel too
    seen = [Seen("c", "s", "https://x.example/c", "https://x.example/c", WHEN, WHEN, "0123456789abcdef")]
    chunks = Chunks()
    chunks.add(memoryview(encoded(articles, prints, seen, mark=b"c"))[1:])
    [(got_articles, got_prints, got_seen)] = list(Articles(chunks))
    assert list(got_articles) == articles
    assert list(got_seen) == seen
    for got, made in zip(got_prints, prints, strict=True):
        for name in Fingerprint.__dataclass_fields__:
            mine, theirs = getattr(got, name), getattr(made, name)
            if isinstance(theirs, np.ndarray):
                assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name
                assert not mine.flags.writeable  # views of the message, as pickle gave
            else:
                assert mine == theirs, name
                # The figures were a Counter: read only as a mapping, a dict now.
                assert type(mine) is (dict if name == "figures" else type(theirs)), name


def test_chunks_past_the_bound_wait_in_a_file_and_come_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcome, "IN_MEMORY", 3000)
    made = [[make_article(id=f"{n}-{i}", content="x" * 700) for i in range(n % 3 + 1)] for n in range(12)]
    chunks = Chunks()
    for articles in made:
        chunks.add(encoded(articles, ()))
    assert len(chunks) == 12
    spilled = chunks._file  # the later chunks are not held
    assert spilled is not None and 0 < spilled.tell() < sum(len(encoded(a, ())) for a in made)
    held = Articles(chunks)
    for _ in range(2):  # read as often as needed
        assert [list(articles) for articles, _prints, _seen in held] == made
    assert held.flat() == ([a for articles in made for a in articles], [])


def test_a_document_without_articles_has_no_chunks() -> None:
    assert not Articles()
    assert not Articles.of([], [], {})
    assert Articles.of([make_article()], [], {"key": WHEN}).flat() == ([make_article()], [])
