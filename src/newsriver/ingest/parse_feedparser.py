"""feedparser, and the one place its result's shape is read: its dicts become ``Entry`` and ``FeedHead``.

feedparser reads every XML feed the fast path declines. The fast path mirrors feedparser's
handlers (which element's value lands under which key is what must match), so its working
entries have the same keys and are turned into ``Entry`` here too: one reading of that
shape for both, and ``tests/test_parse_fast.py`` proves the results identical.
"""

from __future__ import annotations

import logging
import re
import time
import xml.sax
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import feedparser
import feedparser.sanitizer

from newsriver.errors import ParseError
from newsriver.ingest.parse_common import FeedHead
from newsriver.ingest.podcast import podcast_of
from newsriver.models import Entry, EntryDate, EntryEnclosure, EntryLink, EntryPerson, EntryText

log = logging.getLogger(__name__)

# feedparser strips a document's entity declarations and puts back only those it deems safe:
# one character reference, or any text without "&". Text of any length is not safe: one 100 kB
# entity referenced 100,000 times is 10 GB, which expat refuses but feedparser's fallback
# parser then expands in memory. Only a character reference cannot amplify, and it is the one
# kind real feeds declare (HTML entity names such as &nbsp; in RSS 0.91).
feedparser.sanitizer.RE_SAFE_ENTITY_PATTERN = re.compile(rb'\s+(\w+)\s+"(&#\w+;)"')

# Microsoft's Channel Definition Format, which feedparser reads but reports no version for:
# <CHANNEL> as the root, after any XML declaration, comments and whitespace.
_CDF_ROOT = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<channel[\s>]", re.I | re.S)


def read_with_feedparser(body: bytes, content_type: str) -> tuple[FeedHead, tuple[Entry, ...]]:
    """The document's head and entries as feedparser reads them, or ParseError saying why it is no feed."""
    result = feedparser.parse(
        body,
        # No content-location: relative links stay relative unless xml:base says otherwise,
        # so normalize can prefer the feed's own link over the fetched URL as their base.
        response_headers={"content-type": content_type},
        # nh3 sanitizes later, faster and stricter; relative URLs are resolved there too.
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if not result.get("version") and not result.entries and not _CDF_ROOT.match(body):
        if body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html")):
            raise ParseError("not a feed: the server sent an HTML page")
        reason = result.get("bozo_exception")
        if isinstance(reason, xml.sax.SAXException):
            raise ParseError(f"not a feed: broken XML: {reason}")
        raise ParseError("not a feed: no RSS, Atom or JSON Feed document found")
    head = head_of(result.get("feed", {}))
    raws = result.entries
    problem, cut = _warning(body, result.get("bozo_exception"), len(raws))
    if problem:
        head = replace(head, warning=problem)
        raws = raws[: whole_entries(body, len(raws))] if cut else raws
    return head, tuple(_entries(raws))


# What comes before a document's root and is no element: a byte order mark, whitespace, the
# XML declaration and other processing instructions, comments and the DOCTYPE (with its
# internal subset). A tag written inside a comment (``<!-- <rss> -->``) is not the root.
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)*", re.I | re.S)
# The first element after the prolog (text a broken document has before it is skipped): its
# root, whose end tag a whole document has.
_ROOT_START = re.compile(rb"<(?![?!/])([^\s/>]+)")
_ENTRY_START = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
_ENTRY_END = re.compile(rb"</\s*(?:[\w.-]+:)?(?:item|entry)\s*>")
# Where a start tag in the bytes is no element: inside a comment or a CDATA section.
_NOT_MARKUP = re.compile(rb"<!--.*?(?:-->|$)|<!\[CDATA\[.*?(?:\]\]>|$)", re.S)


def whole_entries(body: bytes, read: int) -> int:
    """How many of the ``read`` entries of a document cut short to keep: not the one the cut
    went through (its end tag is missing). feedparser gives it with whatever it had, a title
    without its text or nothing at all, and without its id it would be stored as an item of
    its own, never replaced once the whole document comes."""
    return min(read, len(_ENTRY_END.findall(body)))


def warning_of(body: bytes, reason: object, read: int) -> str:
    """The document's warning (see ``_warning``)."""
    return _warning(body, reason, read)[0]


def _warning(body: bytes, reason: object, read: int) -> tuple[str, bool]:
    """The document's warning: why entries were lost when feedparser had to recover from it,
    having read ``read``; "" when it is whole, or its fault lost nothing. With it, whether the
    document was cut short (its last entry read is then cut too: see ``whole_entries``).

    feedparser reads a document its strict (expat) parser refuses with a lenient one, and
    says so (``bozo``) with expat's first error. Most such faults lose nothing: a bare "&",
    a control character, undeclared HTML entities, unescaped HTML in a description, junk
    after the root, "--" in a comment. The lenient parser reads every entry all the same, and
    a warning for them would be noise at every changed document. So only a loss is one:
      - a file cut short in transfer or by a size limit is read up to the cut, and then
        nothing tells its entries from a whole feed's: it is recognized by its root's end
        tag missing (whatever expat's first error was). Cut inside that end tag, after its
        name, nothing was lost;
      - more entry start tags (``<item``, ``<entry``; not in comments or CDATA) than
        entries read: the fault swallowed some.
    Not XML errors (an encoding declared wrongly, a text/plain Content-Type) are no fault of
    the document's structure.
    """
    if not isinstance(reason, xml.sax.SAXParseException):
        return "", False
    if b"\x00" in body[:200]:  # UTF-16 or -32: its bytes are not ASCII's, no pattern here reads them
        return "", False
    where = f"{reason.getMessage()}, line {reason.getLineNumber()}"
    prolog = _PROLOG.match(body)
    root = _ROOT_START.search(body, prolog.end() if prolog else 0)
    if root is not None:
        name = root.group(1)
        end_tag = re.compile(rb"</\s*" + re.escape(name) + rb"\s*(?:>|$)")  # a cut just before its ">" lost nothing
        if end_tag.search(body, root.end()) is None:  # its \s* takes trailing whitespace: no copy stripped
            end = f"</{name.decode('ascii', 'replace')}>"
            lost = "only the entries before the cut were read"
            return f"the document ends early, without its {end} (cut off?): {lost}", True
    starts = len(_ENTRY_START.findall(_NOT_MARKUP.sub(b"", body)))
    if starts > read:
        return f"{starts - read} of {starts} entries unreadable: broken XML ({where}), read leniently", False
    log.debug("broken XML (%s) read leniently, all %d entries read", where, read)
    return "", False


def _entries(raws: list[dict[str, Any]]) -> Iterator[Entry]:
    for position, raw in enumerate(raws):
        try:
            yield entry_of(raw)
        except Exception:  # one entry of a shape not foreseen must not cost the rest of its feed
            log.warning("skipped entry %d of a shape feedparser should not give", position, exc_info=True)


def head_of(feed: Mapping[str, Any]) -> FeedHead:
    """The feed-level values of feedparser's ``feed`` dict."""
    ttl = feed.get("ttl")
    return FeedHead(
        title=_str(feed.get("title")),
        link=_str(feed.get("link")),
        subtitle=_str(feed.get("subtitle")),
        language=_str(feed.get("language")),
        ttl=ttl if isinstance(ttl, str) else "",
        update_period=str(feed.get("sy_updateperiod", "")),
        update_frequency=str(feed.get("sy_updatefrequency", "")),
    )


def entry_of(entry: dict[str, Any]) -> Entry:
    """An entry dict with feedparser's keys (a FeedParserDict or the fast path's plain dict)."""
    # dict.get, not FeedParserDict's: none of the keys read here is one it renames, its get()
    # is many times slower, and it warns on "updated". The two values it computes on request,
    # "updated" falling back to the published date and "enclosures", are computed here.
    get = entry.get if type(entry) is dict else partial(dict.get, entry)
    links = get("links")
    published = _date(get("published"), get("published_parsed"))
    if "updated" in entry or "updated_parsed" in entry:
        updated_parsed = "updated_parsed" if "updated_parsed" in entry else "published_parsed"
        updated = _date(get("updated" if "updated" in entry else "published"), get(updated_parsed))
    else:
        updated = published  # most entries have no updated date of their own: shared, not copied
    return Entry(
        id=_str(get("id")),
        link=_link(_str(get("link")), get("guidislink")),
        links=tuple([EntryLink(_str(link.get("href")), _rel(link)) for link in links]) if links else (),
        title=_str(get("title")),
        summary=_summary(get("summary"), get("summary_detail")),
        content=_content(get("content")),
        published=published,
        updated=updated,
        created=_date(get("created"), get("created_parsed")),
        author=_str(get("author")),
        authors=_people(get("authors")),
        categories=_categories(get("tags")),
        enclosures=_enclosures(links) if links else (),
        images=_images(get("media_thumbnail"), get("media_content")),
        image=_image(get("image")),
        comments=_str(get("comments")),
        language=_str(get("language")),
        podcast=podcast_of(get),
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _rel(link: Mapping[str, Any]) -> str:
    rel = link.get("rel", "alternate")
    return rel if isinstance(rel, str) else ""


def _content(contents: list[Mapping[str, Any]] | None) -> EntryText | None:
    if not contents:
        return None
    first = contents[0]
    return EntryText(
        _str(first.get("value")), _str(first.get("type")), _str(first.get("base")), _str(first.get("language"))
    )


def _summary(summary: Any, detail: Mapping[str, Any] | None) -> EntryText | None:
    # The detail's value wins over the plain one: a deeper summary can replace the detail only.
    if not detail:
        return EntryText(summary) if summary and isinstance(summary, str) else None
    value = _str(detail.get("value", summary))
    return EntryText(value, _str(detail.get("type")), _str(detail.get("base"))) if value else None


def _date(text: Any, parsed: Any) -> EntryDate | None:
    if parsed is None and not text:
        return None
    return EntryDate(_str(text), parsed if isinstance(parsed, time.struct_time) else None)


def _categories(tags: list[Mapping[str, Any]] | None) -> tuple[str, ...]:
    return tuple([_str(t.get("term") or t.get("label")) for t in tags]) if tags else ()


def _link(link: str, guid_is_link: Any) -> str:
    # feedparser copies an id into "link" when there is none ("guidislink"), so urn:, tag: and
    # plain-word ids arrive as links. Such a link counts only when it is already an absolute
    # http(s) URL; a real link may be relative, and is resolved against a base later.
    if not guid_is_link:
        return link
    link = link.strip()
    return link if link.startswith(("http://", "https://")) else ""


def _images(thumbnails: list[Mapping[str, Any]] | None, media: list[Mapping[str, Any]] | None) -> tuple[str, ...]:
    if not thumbnails and not media:
        return ()
    return (
        *[_str(m.get("url")) for m in thumbnails or ()],
        *[
            _str(m.get("url"))
            for m in media or ()
            if m.get("medium") == "image" or _str(m.get("type")).startswith("image/")
        ],
    )


def _people(raws: list[Any] | None) -> tuple[EntryPerson, ...]:
    if not raws:
        return ()
    return tuple(
        [
            EntryPerson(_str(a.get("name")), _str(a.get("email")), _str(a.get("href")))
            for a in raws
            if isinstance(a, Mapping)
        ]
    )


def _enclosures(links: list[Mapping[str, Any]]) -> tuple[EntryEnclosure, ...]:
    # feedparser keeps enclosures among the links; its dict lists them on request.
    return tuple(
        [
            EntryEnclosure(
                _str(link.get("href") or link.get("url")), _str(link.get("type")), str(link.get("length") or "")
            )
            for link in links
            if link.get("rel") == "enclosure"
        ]
    )


def _image(image: Any) -> str:
    return _str(image.get("href") or image.get("url")) if image and isinstance(image, Mapping) else ""
