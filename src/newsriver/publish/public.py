"""What the public sees of sources and links: chosen, never leaked.

A source's URL may carry its credentials (``https://user:pass@…``, ``?token=…`` as paid
and private feeds hand them out). Published files (index.html, the OPML lists, the
feeds' source credits) show it without userinfo and without secret-looking parameters,
or not at all when the source says ``public: false``: its items are then credited by
title, linked to this site's index page. Links to articles lose their tracking
parameters (``urls.TRACKING_PREFIXES`` and ``TRACKING_NAMES``, the list canonical URLs
use), so readers neither leak nor collect tracking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from newsriver import redact
from newsriver.stories.match import Story
from newsriver.urls import host_of, is_tracking


@lru_cache(maxsize=1 << 14)
def public_url(url: str) -> str:
    """``url`` without userinfo and without the query parameters that look like secrets.

    Cached: every publish credits every source by it (a tenth of a service's publish)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    netloc = parts.netloc.rpartition("@")[2]
    kept = [(n, rest) for n, rest in redact.split_query(parts.query) if not redact.is_secret_name(unquote_plus(n))]
    query = "&".join(n + rest for n, rest in kept) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def hidden_source_url(base_url: str, name: str) -> str:
    """Where a ``public: false`` source's credit points: this site's index, not the source.

    Unique per source, so it still serves as the Atom ``<source>``'s id.
    """
    return f"{base_url}#source-{name}"


def clean_link(url: str) -> str:
    """``url`` without tracking parameters; everything else, fragment included, as it was."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    site = frozenset({host_of(url)})  # ?ref=<this very site> is a referral marker
    kept = [
        (n, rest)
        for n, rest in redact.split_query(parts.query)
        if not is_tracking(unquote_plus(n), unquote_plus(rest[1:]), site)
    ]
    query = "&".join(n + rest for n, rest in kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def clean_stories(stories: Sequence[Story], clean: bool) -> Sequence[Story]:
    """The stories with their item's and copies' links cleaned (``settings.clean_links``)."""
    if not clean:
        return stories
    return [
        replace(
            s,
            item=replace(s.item, url=clean_link(s.item.url)),
            copies=tuple(replace(c, url=clean_link(c.url)) for c in s.copies),
        )
        for s in stories
    ]


def listed(names: Iterable[str], hidden: set[str]) -> list[str]:
    """The sources an OPML list may name: ``public: false`` ones are left out."""
    return [name for name in names if name not in hidden]
