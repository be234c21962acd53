"""What a fingerprint reads from a text: trailers cut, figures found, words hashed within a
bound on memory. Pure functions, texts in, values out."""

from __future__ import annotations

import hashlib
from collections import Counter

from newsriver.stories import fingerprint as fp
from newsriver.stories.fingerprint import body_text


def test_a_line_is_cut_where_its_first_trailer_starts_and_other_lines_stay() -> None:
    body = (
        "<p>The vote was close. Read more here. Copyright 2024 Daily Example</p>"
        "<p>The council met. Copyright holders objected.</p>"
        "<p>Ten said so. The post Vote appeared first on Daily Example.</p>"
        "<p>Xcopyright 2020 stays, and so does continue readings.</p>"
        "<p>Read the full story at the site</p>"
    )
    assert [line for line in body_text(body).split("\n") if line] == [
        "the vote was close. ",  # "read more" comes before the copyright line
        "the council met. copyright holders objected.",  # no year: not a copyright line
        "ten said so. ",  # from "the post" to the end of the line
        "xcopyright 2020 stays, and so does continue readings.",  # neither starts a word
    ]  # and "read the full story" took its whole line


def test_a_body_counts_its_figures_and_date_words_in_any_script() -> None:
    _, figures = fp._body_tokens("prices rose 4.5% to $71.42 on 2025-02-27, 1,000 more; ٣٤ units on monday, monday")
    assert figures == Counter({"4.5": 1, "71.42": 1, "2025-02-27": 1, "1000": 1, "٣٤": 1, "monday": 2})


def test_the_word_hash_cache_stays_within_its_bound_and_its_hashes_are_stable() -> None:
    hashes = fp._WordHashes()
    first = hashes[b"extradition"]
    for n in range(hashes.LIMIT + 10):
        hashes[b"w%d" % n]
    assert len(hashes) <= hashes.LIMIT
    assert b"extradition" not in hashes  # forgotten when the cache started afresh
    assert hashes[b"extradition"] == first == hashlib.blake2b(b"extradition", digest_size=8).digest()
