"""Feed entries of any format to ``Article``: identity, dates, URLs, safe HTML, fields.

Pure functions over data: the clock comes in as ``now``.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import logging
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from .models import Article, Author, Enclosure, ParsedFeed
from .sanitize import clean_html, to_text, xml_safe
from .urls import absolute, canonical, host_of

log = logging.getLogger(__name__)

# uuid5 namespace for newsriver ids: fixed forever, or every published id would change.
ID_NAMESPACE = uuid.UUID("6f0d2a1e-8c1b-5b8e-9a57-3e2f4d1c0b9a")
FUTURE_TOLERANCE = timedelta(days=1)
TITLE_FROM_TEXT = 100
# Text that changes on every fetch without the story changing ("updated 3 minutes ago",
# "12:04 GMT"): left out of the content hash so such entries do not flap as edits.
_CLOCK_NOISE = re.compile(
    r"\b\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?|[A-Z]{2,4})?\b"
    r"|\b\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?)\s+ago\b",
    re.IGNORECASE,
)


def newsriver_id(source: str, entry_key: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{source}\n{entry_key}"))


def normalize_feed(parsed: ParsedFeed, source: str, source_url: str, now: datetime) -> list[Article]:
    """Every entry of a feed that can be normalized; the others are logged and skipped."""
    site_hosts = frozenset(h for h in (host_of(parsed.meta.link), host_of(source_url)) if h)
    keys_seen: set[str] = set()
    articles = []
    for position, entry in enumerate(parsed.entries):
        try:
            article = normalize_entry(entry, source, parsed, site_hosts, now)
        except Exception:  # one bad entry must not cost the rest of its feed
            log.warning("%s: skipped entry %d that could not be normalized", source, position, exc_info=True)
            continue
        if article.entry_key in keys_seen:
            # A guid repeated inside one document: tell the copies apart by link, then position.
            key = f"{article.entry_key}#{article.canonical_url}"
            if key in keys_seen:
                key = f"{article.entry_key}#{position}"
            article = _rekey(article, source, key)
        keys_seen.add(article.entry_key)
        articles.append(article)
    return articles


def _rekey(article: Article, source: str, key: str) -> Article:
    return replace(article, entry_key=key, id=newsriver_id(source, key))


def normalize_entry(
    entry: Mapping[str, Any],
    source: str,
    parsed: ParsedFeed,
    site_hosts: frozenset[str],
    now: datetime,
) -> Article:
    feed_link = absolute(parsed.meta.link, parsed.base_url)
    # Relative URLs without an xml:base resolve against the feed's site, then its own URL:
    # feeds served from a CDN or proxy still link to the site that wrote them.
    base = feed_link if feed_link.startswith(("http://", "https://")) else parsed.base_url
    url = absolute(_text(entry.get("link")), base) or _first_alternate(entry, base)
    canonical_url = canonical(url, site_hosts) if url else ""

    content_base = url or feed_link or base
    contents = entry.get("content") or []
    content = _as_html(contents[0], content_base) if contents else ""
    summary = _as_html({"value": entry.get("summary", ""), **(entry.get("summary_detail") or {})}, content_base)
    if summary == content:
        summary = ""
    text = to_text(content or summary)

    title = to_text(_text(entry.get("title")))
    if not title:
        title = _shorten(text, TITLE_FROM_TEXT) or url or "(untitled)"

    published = _date(entry, ("published_parsed", "created_parsed", "updated_parsed"), now, now)
    updated = max(_date(entry, ("updated_parsed",), now, published), published)

    authors = _authors(entry)
    categories = _unique(to_text(_text(t.get("term") or t.get("label"))) for t in entry.get("tags") or [])
    enclosures = _enclosures(entry, base)
    image = _image(entry, enclosures, base)
    comments = absolute(_text(entry.get("comments")), base)
    language = _text(entry.get("language")) or (contents[0].get("language") if contents else "") or parsed.meta.language

    guid = xml_safe(_text(entry.get("id")).strip())
    entry_key = guid or canonical_url or "sha256:" + _digest(title, content or summary, str(published))
    content_hash = _digest(
        title,
        canonical_url,
        _CLOCK_NOISE.sub("", text),
        " ".join(e.url for e in enclosures),
        image,
    )
    return Article(
        id=newsriver_id(source, entry_key),
        source=source,
        entry_key=entry_key,
        url=xml_safe(url),
        canonical_url=xml_safe(canonical_url),
        title=title,
        summary=summary,
        content=content,
        text=text,
        authors=authors,
        published=published,
        updated=updated,
        first_seen=now,
        categories=categories,
        enclosures=enclosures,
        language=xml_safe(language or "")[:35],
        image=image,
        comments=comments,
        content_hash=content_hash,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return (cut or text[:limit]) + "…"


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _as_html(detail: Mapping[str, Any], base: str) -> str:
    value = _text(detail.get("value"))
    if not value.strip():
        return ""
    kind = _text(detail.get("type")).lower()
    if kind == "text/plain":
        value = html.escape(value).replace("\n\n", "<br><br>")
    return clean_html(value, _text(detail.get("base")) or base)


def _first_alternate(entry: Mapping[str, Any], base: str) -> str:
    for link in entry.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return absolute(link["href"], base)
    return ""


def _date(entry: Mapping[str, Any], keys: tuple[str, ...], now: datetime, default: datetime) -> datetime:
    """The first usable date among ``keys``, else ``default``.

    A date more than a day ahead becomes ``now``: it would pin the entry to the top of
    every feed it is republished in.
    """
    for key in keys:
        parsed = entry.get(key)
        if not isinstance(parsed, time.struct_time):
            continue
        try:
            when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        except (OverflowError, ValueError, OSError):
            continue
        return when if when <= now + FUTURE_TOLERANCE else now
    return default


def _authors(entry: Mapping[str, Any]) -> tuple[Author, ...]:
    found = []
    for raw in entry.get("authors") or []:
        if not isinstance(raw, Mapping):
            continue
        author = Author(
            name=to_text(_text(raw.get("name"))),
            email=xml_safe(_text(raw.get("email"))),
            url=xml_safe(_text(raw.get("href"))),
        )
        if author.name or author.email or author.url:
            found.append(author)
    if not found and _text(entry.get("author")):
        found.append(Author(name=to_text(entry["author"])))
    return tuple(dict.fromkeys(found))


def _length(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def _enclosures(entry: Mapping[str, Any], base: str) -> tuple[Enclosure, ...]:
    found: dict[str, Enclosure] = {}
    for raw in entry.get("enclosures") or []:
        href = absolute(_text(raw.get("href") or raw.get("url")), base)
        if href.startswith(("http://", "https://")) and href not in found:
            found[href] = Enclosure(
                url=xml_safe(href), type=xml_safe(_text(raw.get("type"))), length=_length(raw.get("length"))
            )
    return tuple(found.values())


def _image(entry: Mapping[str, Any], enclosures: tuple[Enclosure, ...], base: str) -> str:
    candidates: list[str] = []
    candidates += [_text(m.get("url")) for m in entry.get("media_thumbnail") or []]
    candidates += [
        _text(m.get("url"))
        for m in entry.get("media_content") or []
        if m.get("medium") == "image" or _text(m.get("type")).startswith("image/")
    ]
    candidates += [e.url for e in enclosures if e.type.startswith("image/")]
    image = entry.get("image")
    if isinstance(image, Mapping):
        candidates.append(_text(image.get("href") or image.get("url")))
    for candidate in candidates:
        url = absolute(candidate, base)
        if url.startswith(("http://", "https://")):
            return xml_safe(url)
    return ""
