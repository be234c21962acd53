"""Counts in messages agree with their noun."""

from __future__ import annotations

import pytest

from newsriver.plural import counted


@pytest.mark.parametrize(
    ("n", "noun", "plural", "expected"),
    [
        (0, "source", "", "0 sources"),
        (1, "source", "", "1 source"),
        (2, "source", "", "2 sources"),
        (1, "entry", "entries", "1 entry"),
        (3, "entry", "entries", "3 entries"),
    ],
)
def test_counted(n: int, noun: str, plural: str, expected: str) -> None:
    assert counted(n, noun, plural) == expected
