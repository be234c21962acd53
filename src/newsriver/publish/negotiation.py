"""Proactive negotiation (RFC 9110 12): what a request's Accept headers consent to."""

from __future__ import annotations


def weights(header: str) -> dict[str, float]:
    """The q of each element an Accept or Accept-Encoding header names (RFC 9110 12.4.2), by
    the element in lower case without its parameters; 1 when it gives none. A malformed q
    counts as 0: no consent."""
    found: dict[str, float] = {}
    for element in header.split(","):
        name, _, params = element.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        found[name.strip().lower()] = weight
    return found
