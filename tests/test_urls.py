from __future__ import annotations

import pytest

from newsriver.urls import absolute, canonical


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://News.Example.ORG:443/a/b?id=5#top", "https://news.example.org/a/b?id=5"),
        ("http://example.org:80/", "http://example.org/"),
        ("http://example.org:8080/x", "http://example.org:8080/x"),
        ("https://example.org", "https://example.org/"),
        ("https://e.org/p?utm_source=rss&b=2&UTM_Medium=x&a=1", "https://e.org/p?b=2&a=1"),
        ("https://e.org/p?fbclid=1&gclid=2&mc_eid=3&__readwiseLocation=4&_hsenc=5", "https://e.org/p"),
        ("https://e.org/p?mtm_campaign=x&keep=1", "https://e.org/p?keep=1"),
        ("https://e.org/p?q=a%20b&x=", "https://e.org/p?q=a%20b&x="),
        ("https://e.org/caf%C3%A9", "https://e.org/caf%C3%A9"),
        ("mailto:someone@example.org", "mailto:someone@example.org"),
    ],
)
def test_canonical(url: str, expected: str) -> None:
    assert canonical(url) == expected


def test_ref_dropped_only_when_it_names_the_site() -> None:
    hosts = frozenset({"news.example.org"})
    assert canonical("https://news.example.org/a?ref=news.example.org", hosts) == "https://news.example.org/a"
    assert canonical("https://news.example.org/a?ref=v2", hosts) == "https://news.example.org/a?ref=v2"


def test_absolute() -> None:
    assert absolute(" /x ", "https://e.org/feed/") == "https://e.org/x"
    assert absolute("y", "https://e.org/feed/") == "https://e.org/feed/y"
    assert absolute("", "https://e.org/") == ""
