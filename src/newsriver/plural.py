"""Counts in messages: "1 source", "2 sources", never "1 sources"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str = "") -> str:
    """``n`` and the noun agreeing with it; ``plural`` for nouns not made plural by an "s"
    ("entry", "entries")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
