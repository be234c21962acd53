"""Entries of any format to ``Article``: identity, dates, URLs, safe HTML, fields.

Pure functions over data: the clock comes in as ``now``.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import html
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from newsriver.ingest.sanitize import clean_html, to_text, xml_safe
from newsriver.models import Article, Author, Enclosure, Entry, EntryDate, EntryText, ParsedFeed, Seen
from newsriver.urls import absolute, canonical, host_of

if TYPE_CHECKING:
    import msgspec

log = logging.getLogger(__name__)

# uuid5 namespace for newsriver ids: fixed forever, or every published id would change.
ID_NAMESPACE = uuid.UUID("6f0d2a1e-8c1b-5b8e-9a57-3e2f4d1c0b9a")
_NAMESPACE_BYTES = ID_NAMESPACE.bytes
FUTURE_TOLERANCE = timedelta(days=1)
# Part of every entry's raw hash (``digested``, ``_code_key``), with the release, nh3's version
# and the source of the modules that make an article of an entry: one more with any other
# change to what normalizing makes of an entry, so that an entry a source still carries is
# normalized again by the new code rather than taken as known.
NORMALIZE_VERSION = 1
RAW_HASH_DIGITS = 16  # of an entry's raw hash (``raw_hash``), as ``sources.digests`` holds it
# Dates before this are CMS defaults (Unix time 0, MySQL's zero date), not publication dates;
# they also keep every output date a four-digit year, as RFC 822 and RFC 3339 need.
OLDEST_DATE = datetime(1970, 1, 2, tzinfo=UTC)
TITLE_FROM_TEXT = 100
# Text that changes on every fetch without the story changing ("updated 3 minutes ago",
# "12:04 GMT"): left out of the content hash so such entries do not flap as edits.
# Each alternative starts with a digit not preceded by a word character (that is \b\d): a
# pattern that opens with a plain \d is searched several times faster than one opening with \b.
_CLOCK_NOISE = re.compile(
    r"\d(?<!\w\d)(?:\d?:\d{2}(?::\d{2})?(?:[.,]\d+)?\s*(?:[ap]\.?m\.?|[A-Z]{2,4}|Z|[+-]\d{2}:?\d{2})?\b"
    r"|\d*\s+(?:seconds?|minutes?|mins?|hours?|hrs?)\s+ago\b)",
    re.IGNORECASE,
)
# What every match holds: a ":" between a digit and two digits, or "ago" after a blank (in
# the lower-cased text: a, g and o are the only letters IGNORECASE takes for them). Both open
# with a literal, which a search skips to several times faster than to a \d.
_CLOCK_COLON = re.compile(r":(?<=\d:)\d\d")
_BLANK_AGO = re.compile(r"ago(?<=\sago)")
_TWELVE_HOUR = re.compile(r"\b(\d{1,2})(:\d{2}(?::\d{2})?)\s*([ap])\.?m\b\.?", re.IGNORECASE)
# The year as written: the first number of three or four digits that is no part of a time,
# a fraction or a zone offset ("+0500", " -0500", "10:00:00-0500").
_WRITTEN_YEAR = re.compile(r"(?<![\d:.+])(?<![\d\s]-)(\d{3,4})(?!\d)")
# A numeric zone offset after a time: "10:00:00 +0200", "10:00+02:00".
_WRITTEN_OFFSET = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*([+-])(\d\d):?(\d\d)(?!\d)")
# Zone offsets in use span UTC−12:00 to UTC+14:00, in minutes.
_OFFSETS = {"+": 14 * 60, "-": 12 * 60}
_UNIX_TIME = re.compile(r"^\s*(\d{9,10}|\d{12,13})\s*$")  # seconds or milliseconds since 1970
# Month names and abbreviations in the languages feeds most often localize dates into
# (German, French, Italian, Spanish, Portuguese, Dutch), by their first four or three letters.
_MONTHS = {
    **{m.lower(): m for m in "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()},
    **dict.fromkeys(("mär", "mrz", "mrt"), "Mar"),
    **dict.fromkeys(("fév", "fev"), "Feb"),
    **dict.fromkeys(("avr", "abr"), "Apr"),
    **dict.fromkeys(("mai", "mag", "mei"), "May"),
    **dict.fromkeys(("juin", "giu"), "Jun"),
    **dict.fromkeys(("juil", "lug"), "Jul"),
    **dict.fromkeys(("aoû", "aou", "ago"), "Aug"),
    **dict.fromkeys(("okt", "ott", "out"), "Oct"),
    **dict.fromkeys(("dez", "déc", "dic"), "Dec"),
    "gen": "Jan",
    "ene": "Jan",
    "set": "Sep",
}
_EMAIL_IN_TEXT = r"(?:mailto:)?([^@\s()<>]+@[^@\s()<>]+)"
_EMAIL_THEN_NAME = re.compile(rf"^{_EMAIL_IN_TEXT}\s*\((.+)\)$")
_CUT_AUTHOR = re.compile(r"^([a-z]+) \(([^()]+)$")  # the rest of a top-level domain, then "(Name"
_NAME_THEN_EMAIL = re.compile(rf"^(.*?)\s*[(<]{_EMAIL_IN_TEXT}[)>]$")
_MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def newsriver_id(source: str, entry_key: str) -> str:
    """``str(uuid.uuid5(ID_NAMESPACE, f"{source}\\n{entry_key}"))`` at a third of its cost: the
    first 16 bytes of the SHA-1 with version 5 and RFC 4122's variant set, and no UUID object."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source}\n{entry_key}".encode()).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50
    digest[8] = digest[8] & 0x3F | 0x80
    hex_ = digest.hex()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


def normalize_feed(parsed: ParsedFeed, source: str, source_url: str, now: datetime) -> list[Article]:
    """Every entry of a feed that can be normalized; the others are logged and skipped."""
    return list(articles_of(parsed, source, source_url, now))


def articles_of(
    parsed: ParsedFeed, source: str, source_url: str, now: datetime, entries: Iterable[Entry] | None = None
) -> Iterator[Article]:
    """``normalize_feed`` one article at a time, for a caller that hands them on in batches;
    ``entries`` (default ``parsed.entries``) lets it drop each entry once it is normalized."""
    for _raw, article in digested(parsed, source, source_url, now, entries):
        assert isinstance(article, Article)  # nothing is known: every entry is normalized
        yield article


def digested(
    parsed: ParsedFeed,
    source: str,
    source_url: str,
    now: datetime,
    entries: Iterable[Entry] | None = None,
    known: Mapping[str, str] | None = None,
    salt: str = "",
) -> Iterator[tuple[str, Article | Seen]]:
    """``articles_of``, each with its entry's raw hash (``raw_hash``; "" without ``known``),
    but for the entries ``known`` holds by raw hash: those are not normalized again, only
    identified (``Seen``, with ``known``'s value as its ``content_hash``).

    Sanitizing and hashing an entry's text is most of a poll's CPU, and a changed document
    mostly carries the entries its last one did, as they were. An entry's raw hash covers
    the entry as parsed, everything of the document and of the code that normalizing it
    reads (``_Feed``, ``source``, ``_code_key``) and ``salt`` (the caller's rules over
    articles): an entry with the same hash normalizes to the same
    article, but for what depends on ``now``, which ``Seen`` is made with as ``normalize_entry``
    would. An entry identified by neither guid nor URL has a key made of its text: always
    normalized.
    """
    feed = _Feed.of(parsed, source_url)
    keyed = hashlib.sha256(_raw_key(feed, source, salt)) if known is not None else None
    keys_seen: set[str] = set()
    for position, entry in enumerate(parsed.entries if entries is None else entries):
        raw = raw_hash(entry, keyed) if keyed is not None else ""
        article: Article | Seen | None = None
        try:
            recorded = known.get(raw) if known else None
            if recorded is not None:
                article = _seen(entry, source, feed, now, recorded)
            if article is None:
                article = normalize_entry(entry, source, feed, now)
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
        yield raw, article


def _rekey(article: Article | Seen, source: str, key: str) -> Article | Seen:
    return replace(article, entry_key=key, id=newsriver_id(source, key))


def raw_hash(entry: Entry, keyed: hashlib._Hash) -> str:
    """An entry as parsed, with what normalizing it reads besides (``keyed``: a SHA-256 fed
    ``_raw_key``), in 16 hex digits. MessagePack by msgspec, then SHA-256, which the CPU
    does in hardware here: 5.1 µs for a farm entry of 3.4 kB, 7.1 with BLAKE2b (normalizing
    it, with its fingerprint, took ~260)."""
    hashed = keyed.copy()
    hashed.update(_entry_encoder().encode(entry))
    return hashed.hexdigest()[:RAW_HASH_DIGITS]


def _raw_key(feed: _Feed, source: str, salt: str) -> bytes:
    """What every raw hash of one document of ``source`` covers besides its entry. Spelled
    out field by field: a frozenset's order changes from one process to the next."""
    parts = (_code_key(), source, salt, feed.link, feed.base, sorted(feed.site_hosts), feed.language)
    return repr(parts).encode("utf-8", "surrogatepass")


@cache
def _code_key() -> str:
    """The code that makes an article of an entry: ``NORMALIZE_VERSION``, the release, nh3's
    version and the source of this module, of those it has sanitized text and canonical
    URLs from, and of the rules deciding which articles a source stores (``filters``: a
    known entry keeps the verdict it had), so that a change to any of them (in development too, between releases) makes
    every entry normalized again. Made once a process (a parse worker's first document)."""
    from importlib.metadata import PackageNotFoundError, version

    from newsriver import __version__, urls
    from newsriver.ingest import sanitize
    from newsriver.stories import filters

    try:
        nh3_version = version("nh3")
    except PackageNotFoundError:
        nh3_version = ""
    code = hashlib.sha256(f"{NORMALIZE_VERSION}\n{__version__}\n{nh3_version}".encode())
    for module in (sys.modules[__name__], sanitize, urls, filters):
        # Run without its sources, the release and NORMALIZE_VERSION stand for them.
        with contextlib.suppress(OSError):
            code.update(Path(module.__file__ or "").read_bytes())
    return code.hexdigest()


@cache
def _entry_encoder() -> msgspec.msgpack.Encoder:
    import msgspec  # the parse workers' (they preload it)

    return msgspec.msgpack.Encoder(enc_hook=_plain)


def _plain(value: object) -> object:
    """A parsed date's ``time.struct_time`` as its fields."""
    if isinstance(value, time.struct_time):
        return tuple(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def _seen(entry: Entry, source: str, feed: _Feed, now: datetime, recorded: str) -> Seen | None:
    """A known entry as ``normalize_entry`` would identify it (None for one keyed by its text)."""
    _url, canonical_url, published, guid = _identity(entry, feed, now)
    entry_key = guid or canonical_url
    if not entry_key:
        return None
    return Seen(newsriver_id(source, entry_key), source, entry_key, xml_safe(canonical_url), published, now, recorded)


@dataclass(frozen=True, slots=True)
class _Feed:
    """What every entry of one document is normalized against, worked out once for them all."""

    link: str  # the feed's own link, resolved
    base: str  # what an entry's relative URLs resolve against, without an xml:base
    site_hosts: frozenset[str]  # whose ?ref= marks a referral (urls.canonical)
    language: str  # the feed's language tag, for entries that name none

    @classmethod
    def of(cls, parsed: ParsedFeed, source_url: str) -> _Feed:
        link = absolute(parsed.meta.link, parsed.base_url)
        return cls(
            link=link,
            # Relative URLs without an xml:base resolve against the feed's site, then its own
            # URL: feeds served from a CDN or proxy still link to the site that wrote them.
            base=link if link.startswith(("http://", "https://")) else parsed.base_url,
            site_hosts=frozenset(h for h in (host_of(parsed.meta.link), host_of(source_url)) if h),
            language=language_tag(parsed.meta.language),
        )


def _identity(entry: Entry, feed: _Feed, now: datetime) -> tuple[str, str, datetime, str]:
    """An entry's URL, canonical URL, publication date and guid: what identifies it, and
    what a ``Seen`` entry is made of (cheap next to its text's sanitizing and hashing)."""
    base = feed.base
    url = _web_url(absolute(entry.link, base)) or _first_alternate(entry, base)
    canonical_url = canonical(url, feed.site_hosts) if url else ""
    published = _date((entry.published, entry.created, entry.updated), now, now)
    return url, canonical_url, published, xml_safe(entry.id.strip())


def normalize_entry(entry: Entry, source: str, feed: _Feed, now: datetime) -> Article:
    base = feed.base
    url, canonical_url, published, guid = _identity(entry, feed, now)

    content_base = url or feed.link or base
    content = _as_html(entry.content, content_base)
    # An Atom entry's content is its summary too (feedparser's doing, which the fast path
    # mirrors): cleaned again it would give the content's HTML, which is no summary.
    summary = "" if _same_markup(entry.summary, entry.content) else _as_html(entry.summary, content_base)
    if summary == content:
        summary = ""
    text = to_text(content or summary)
    title = to_text(entry.title) or _shorten(text, TITLE_FROM_TEXT) or url or "(untitled)"

    if entry.updated is entry.published or (entry.published is None and entry.created is None):
        # Most entries have one date: RSS's, which the parsers give as both (one object), or
        # Atom's updated alone. Read once, it made published what it would make updated,
        # whether or not it was usable.
        updated = published
    else:
        updated = max(_date((entry.updated,), now, published), published)
    enclosures = _enclosures(entry, base)
    image = _image(entry, enclosures, base)
    content_language = entry.content.language if entry.content else ""

    entry_key = guid or canonical_url or "sha256:" + _digest(title, content or summary, str(published))
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
        authors=_authors(entry, base),
        published=published,
        updated=updated,
        first_seen=now,
        categories=_unique(to_text(c) for c in entry.categories),
        enclosures=enclosures,
        language=language_tag(entry.language or content_language) or feed.language,
        image=image,
        comments=xml_safe(_web_url(absolute(entry.comments, base))),
        content_hash=_content_hash(title, canonical_url, text, enclosures, image),
        podcast=entry.podcast,
    )


def content_hash(article: Article, text: str) -> str:
    """The hash of what a reader sees of ``article`` with ``text`` as its text (a full text
    fetched from its page replaces its teaser's)."""
    return _content_hash(article.title, article.canonical_url, text, article.enclosures, article.image)


def _content_hash(title: str, canonical_url: str, text: str, enclosures: tuple[Enclosure, ...], image: str) -> str:
    return _digest(title, canonical_url, _without_clock_noise(text), " ".join(e.url for e in enclosures), image)


def _without_clock_noise(text: str) -> str:
    # Most texts hold no match, but a ":" or an "ago" ("Chicago") is common: the two signs
    # every match holds are looked for first, spared the pattern's test of every character.
    if _CLOCK_COLON.search(text) or _BLANK_AGO.search(text.lower()):
        return _CLOCK_NOISE.sub("", text)
    return text


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return (cut or text[:limit]) + "…"


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _as_html(detail: EntryText | None, base: str) -> str:
    if detail is None or not detail.value or detail.value.isspace():  # not a stripped copy of it all
        return ""
    value = detail.value
    if detail.type.lower() == "text/plain":
        value = html.escape(value).replace("\n\n", "<br><br>")
    return clean_html(value, detail.base or base)


def _same_markup(one: EntryText | None, other: EntryText | None) -> bool:
    """Whether ``_as_html`` makes the same HTML of both: it reads the value, the base and
    whether the type is plain text (the copy of a content kept as the summary has no type)."""
    if one is None or other is None:
        return False
    return (
        one.value == other.value
        and one.base == other.base
        and (one.type.lower() == "text/plain") == (other.type.lower() == "text/plain")
    )


def _web_url(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else ""


def language_tag(value: str) -> str:
    """A BCP 47-shaped language tag ("en-US" from "en_US"), or "" for anything else."""
    tag = value.strip().replace("_", "-")
    return tag if len(tag) <= 35 and _LANGUAGE.match(tag) else ""


def _first_alternate(entry: Entry, base: str) -> str:
    for link in entry.links:
        url = _web_url(absolute(link.href, base))
        if url and link.rel == "alternate":
            return url
    return ""


def _date(dates: tuple[EntryDate | None, ...], now: datetime, default: datetime) -> datetime:
    """The first usable date among ``dates`` (as the parser read it, else from its text), else ``default``.

    A date more than a day ahead becomes ``now``: it would pin the entry to the top of
    every feed it is republished in.
    """
    for date in dates:
        if date is None or _impossible(date.text):
            continue
        # feedparser ignores AM/PM, reading "02:02 PM" as 02:02: such dates are read here.
        when = None if _TWELVE_HOUR.search(date.text) else _from_struct(date.parsed)
        when = when or _from_text(date.text)
        if when is not None:
            return when if when <= now + FUTURE_TOLERANCE else now
    return default


def _impossible(text: str) -> bool:
    """A date no one can have meant, which parsers read as another one: the year 0 (read as
    2000, as a two-digit year would be) or an offset of 99 h 99 min (applied as such). Such a
    date is dropped, as unreadable dates are: the entry keeps its other date or the time it
    was first seen, never a date made up from the text."""
    if (year := _WRITTEN_YEAR.search(text)) and int(year.group(1)) < OLDEST_DATE.year:
        return True
    if offset := _WRITTEN_OFFSET.search(text):
        sign, hours, minutes = offset.groups()
        return int(minutes) >= 60 or int(hours) * 60 + int(minutes) > _OFFSETS[sign]
    return False


def _from_struct(parsed: time.struct_time | None) -> datetime | None:
    if parsed is None:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return when if when >= OLDEST_DATE else None


def _from_text(text: str) -> datetime | None:
    """Dates feedparser misreads: Unix times (it reads 1700000000 as the year 1699), 12-hour
    clocks, and RFC 822 dates with names in another language ("mer, 16 nov 2022 …").
    """
    if not text:
        return None
    if unix := _UNIX_TIME.match(text):
        digits = unix.group(1)
        return datetime.fromtimestamp(int(digits) // (1000 if len(digits) > 11 else 1), UTC)
    text = _TWELVE_HOUR.sub(lambda m: f"{int(m[1]) % 12 + (12 if m[3].lower() == 'p' else 0):02d}{m[2]}", text)
    words = text.lower().replace(",", " ").replace(".", " ").split()
    for i in range(1, len(words)):
        month = _MONTHS.get(words[i][:4]) or _MONTHS.get(words[i][:3])
        if month and words[i - 1].isdigit():
            # RFC 822 order from the day on, the month in English; a day name in any language goes.
            words = [words[i - 1], month, *words[i + 1 :]]
            break
    try:
        when = parsedate_to_datetime(" ".join(words))
    except (TypeError, ValueError, IndexError):
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when if when >= OLDEST_DATE else None


def _split_author(text: str) -> tuple[str, str]:
    """(name, email) of a free-text author: "jo@x.org (Jo Doe)", "Jo Doe <jo@x.org>", "Jo (mailto:jo@x.org)"."""
    text = text.strip()
    if match := _EMAIL_THEN_NAME.match(text):
        return match.group(2).strip(), match.group(1)
    if match := _NAME_THEN_EMAIL.match(text):
        return match.group(1), match.group(2)
    return ("", text.removeprefix("mailto:")) if _EMAIL.match(text.removeprefix("mailto:")) else (text, "")


def _authors(entry: Entry, base: str) -> tuple[Author, ...]:
    found = []
    people = entry.authors
    # feedparser splits "jo@x.industries (Jo)" with an e-mail pattern that allows only 2–4
    # letter top-level domains: "jo@x.indu" and the name "stries (Jo". With one author its
    # text is at hand and is split again; with several, the cut is mended.
    if len(people) == 1 and "@" in entry.author:
        name, email = _split_author(entry.author)
        people = (replace(people[0], name=name, email=email),)
    for person in people:
        name, email = person.name, person.email.strip().removeprefix("mailto:")
        if email and (cut := _CUT_AUTHOR.match(name)):
            name, email = cut.group(2), email + cut.group(1)
        author = Author(
            name=to_text(name.removesuffix("(mailto:").strip()),
            email=xml_safe(email) if _EMAIL.match(email) else "",
            url=xml_safe(_web_url(absolute(person.href, base))),
        )
        if author.name or author.email or author.url:
            found.append(author)
    # An author whose name is only markup has no name: none rather than an empty one (JSON
    # Feed requires a name, url or avatar).
    if not found and (name := to_text(entry.author)):
        found.append(Author(name=name))
    return tuple(dict.fromkeys(found))


def _length(value: str) -> int | None:
    text = value.strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def _enclosures(entry: Entry, base: str) -> tuple[Enclosure, ...]:
    found: dict[str, Enclosure] = {}
    for raw in entry.enclosures:
        href = absolute(raw.href, base)
        if href.startswith(("http://", "https://")) and href not in found:
            kind = raw.type.strip().lower()
            found[href] = Enclosure(
                url=xml_safe(href), type=kind if _MEDIA_TYPE.match(kind) else "", length=_length(raw.length)
            )
    return tuple(found.values())


def _image(entry: Entry, enclosures: tuple[Enclosure, ...], base: str) -> str:
    candidates = [
        *entry.images,
        *(e.url for e in enclosures if e.type.startswith("image/")),
        entry.image,
    ]
    for candidate in candidates:
        url = absolute(candidate, base)
        if url.startswith(("http://", "https://")):
            return xml_safe(url)
    return ""
