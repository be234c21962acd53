"""A fast reader for plain RSS 2.0 / 0.9x and Atom 1.0 documents, with feedparser as the fallback.

feedparser spends about 400 µs per entry: a Python callback per SAX event, a FeedParserDict
per value, and many regular expressions. Most real feeds are well-formed, UTF-8 or ASCII,
and use a small vocabulary. For those this module builds the entry dicts ``normalize`` reads
from an lxml tree, mirroring what feedparser's strict (expat) parser would have put under
each key that ``normalize`` and ``parse`` read, with feedparser's own helpers wherever one
exists (encoding conversion, date parsing, URL fixing, HTML sniffing). It is not a second
feed parser: it is feedparser's behaviour on the documents it can be sure about, and
``tests/test_parse_fast.py`` proves ``normalize_feed`` output identical on the whole corpus.

``read_feed`` returns None — feedparser then runs as before — whenever it is not certain:

* feedparser would not use its strict parser: no encoding it can decode (the bytes go
  through feedparser's own ``convert_to_utf8``, so charset choice is identical), or libxml2
  refuses the document (not well-formed, undefined entity or namespace prefix);
* anything before the root element but the XML declaration, comments and processing
  instructions: a DOCTYPE or entity declaration (feedparser rewrites those), or any DTD;
* a root other than ``<rss>`` holding one ``<channel>`` and nothing else, or ``<feed>``
  (Atom 1.0, Atom 0.3 or no namespace; they share one code path in feedparser);
* namespaced attributes other than xml:lang and xml:base (SAX reports them under their
  bare name too), except harmless ones on the root; xml:base beside a plain ``base``
  attribute; attribute names that collide once lower-cased;
* namespace declarations feedparser would name differently from their plain meaning: a
  standard prefix bound to another known namespace, a prefix bound to an unknown namespace
  and to another URI, an unknown namespace under two prefixes, the userland RSS namespaces,
  the RSS 1.0 / 0.90 namespaces (they change feedparser's idea of the version); a namespace
  URI written with character references or spaces;
* any element feedparser has a handler for that is not mirrored here (RDF, GeoRSS, Podlove
  chapters, Creative Commons, admin:, ``<tags>``, ``<abstract>``, XHTML ``<body>``, item
  images, Atom ``<source>``, ...), and unknown elements stored under a key ``normalize``
  reads or holding elements that have handlers;
* markup inside a text element (Atom type="xhtml", inline HTML in RSS), base64 or other
  non-text content types.

xml:base and xml:lang are tracked as feedparser tracks them (quirks included: a base declared
under a base-less parent stays in force for the siblings that follow). An unexpected exception
here is logged and also means "decline": a bug costs speed, never a feed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import suppress
from threading import local
from typing import Any

import feedparser.encodings
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict
from lxml import etree

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XML_NS_KEY = f"{{{_XML_NS}}}"
_XML_LANG = f"{_XML_NS_KEY}lang"
_XML_BASE = f"{_XML_NS_KEY}base"
# Attributes the root's handlers read (under a namespaced attribute's bare name too).
_ROOT_ATTRS = frozenset({"version", "lang", "base"})
# Atom 1.0, Atom 0.3 and namespace-less <feed>: one code path in feedparser ("atom*" versions
# differ only in xhtml content, which is declined).
_ATOM_ROOTS = frozenset({f"{{{ATOM_NS}}}feed", "{http://purl.org/atom/ns#}feed", "feed"})

# feedparser's namespace table: lower-cased URI → the prefix its handlers are named with.
_KNOWN_NS: dict[str, str] = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
# Declared namespaces that make feedparser call an Atom document something else.
_VERSION_NS = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
# A superset of the document's namespace declarations (text content may match too: harmless,
# it can only make the checks below more cautious).
_XMLNS = re.compile(rb"""xmlns(?::([^\s=>/"']+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Anything but a comment or processing instruction before the root: DOCTYPE, ENTITY.
_DECLARATION = re.compile(rb"<!(?!--)")
_FIRST_ELEMENT = re.compile(rb"<\w")
_URL_ENTITY = re.compile("&([A-Za-z0-9_]+);")

_CAN_BE_RELATIVE = _FeedParserMixin.can_be_relative_uri
_HTML_TYPES = _FeedParserMixin.html_types
_looks_like_html: Callable[[str], bool] = _FeedParserMixin.looks_like_html
_map_content_type: Callable[[str], str] = _FeedParserMixin.map_content_type
# FeedParserDict stores some keys under another name (its ``keymap``): "date" is "updated".
_KEYMAP = {key: (value[0] if isinstance(value, list) else value) for key, value in FeedParserDict.keymap.items()}
# Content types whose text feedparser keeps as it is (others it would try as base64).
_TEXT_TYPES = frozenset({"text/plain", "text/html"})
# Keys normalize or parse read: an unknown element stored under one of these would need
# FeedParserDict's exact quirks (an "<authors>" string, a "<date>" becoming "updated"), so
# such documents go to feedparser. "comments" is read but has no handler in feedparser
# either: stored the generic way, as here.
_RESERVED_KEYS = frozenset(
    {
        "author",
        "authors",
        "content",
        "created",
        "created_parsed",
        "enclosures",
        "guidislink",
        "href",
        "id",
        "image",
        "language",
        "link",
        "links",
        "media_content",
        "media_thumbnail",
        "published",
        "published_parsed",
        "subtitle",
        "summary",
        "summary_detail",
        "tags",
        "title",
        "updated",
        "updated_parsed",
    }
)
# Feed keys parse() reads as text: with attributes feedparser stores a dict there instead.
_TEXT_KEYS = frozenset({"ttl", "sy_updateperiod", "sy_updatefrequency"})
# The e-mail pattern feedparser splits free-text authors with.
_AUTHOR_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)
# Element names of handlers that leave nothing normalize reads: their content only has to be
# plain text for the skip to be exact.
_IGNORED = frozenset(
    {
        "rights",
        "copyright",
        "dc_rights",
        "generator",
        "cloud",
        "webmaster",
        "dc_publisher",
        "newlocation",
        "info",
        "feedburner_browserfriendly",
        "expirationdate",
        "media_player",
        "media_credit",
        "media_rating",
        "media_restriction",
        "media_license",
        "itunes_explicit",
        "itunes_block",
        "width",
        "height",
    }
)
# What feedparser accepts inside <author>/<contributor>, and inside a channel's <image> and
# <textInput> without ending its "in image" state.
_PERSON_CHILDREN = frozenset({"name", "email", "uri", "url", "homepage"})
_IMAGE_CHILDREN = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_TEXTINPUT_CHILDREN = frozenset({"title", "link", "description", "name"})
_DATE_TAGS = {
    "published": "published",
    "issued": "published",
    "pubdate": "published",
    "dcterms_issued": "published",
    "updated": "updated",
    "modified": "updated",
    "lastbuilddate": "updated",
    "dc_date": "updated",
    "dcterms_modified": "updated",
    "created": "created",
    "dcterms_created": "created",
}


class _PIEncodingMatch:
    def __init__(self, value: bytes) -> None:
        self.value = value

    def groups(self) -> tuple[bytes]:
        return (self.value,)

    def group(self, index: int = 0) -> bytes:
        if index != 1:
            raise IndexError("only group 1 is kept")
        return self.value


class PIEncoding:
    """feedparser's RE_XML_PI_ENCODING, ``^<\\?.*encoding=['"](.*?)['"].*\\?>``, in linear time.

    Its greedy ``.*`` backtracks from the end of the first line: half a millisecond for a
    feed written on one 100 kB line, on every parse, fast path or not. This finds the same
    match with ``bytes.rfind``: the last "encoding=" of the first line that is followed by a
    quote, a value up to the next quote, and a "?>" after that (tests compare the two).
    """

    pattern = feedparser.encodings.RE_XML_PI_ENCODING.pattern

    def match(self, data: bytes) -> _PIEncodingMatch | None:
        if not data.startswith(b"<?"):
            return None
        limit = data.find(b"\n")  # "." does not match a line break
        if limit < 0:
            limit = len(data)
        # Candidates, found forwards (fast), then tried from the last as the regex does.
        candidates = []
        at = data.find(b"encoding=", 2, limit)
        while at >= 0:
            candidates.append(at)
            at = data.find(b"encoding=", at + 9, limit)
        for at in reversed(candidates):
            start = at + 9
            if start >= limit or data[start] not in b"'\"":
                continue
            ends = [i for i in (data.find(b'"', start + 1, limit), data.find(b"'", start + 1, limit)) if i >= 0]
            if ends and data.find(b"?>", min(ends) + 1, limit) >= 0:
                return _PIEncodingMatch(data[start + 1 : min(ends)])
        return None


# feedparser's convert_to_utf8 reads the module global on every call: both paths use this.
feedparser.encodings.RE_XML_PI_ENCODING = PIEncoding()


class _Decline(Exception):
    """Not certain to match feedparser: let it parse the document."""


_state = local()


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one per thread is reused.
    parser: etree.XMLParser | None = getattr(_state, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
            dtd_validation=False,
            remove_comments=True,  # feedparser's SAX handler never sees comments or PIs
            remove_pis=True,
            strip_cdata=True,
            collect_ids=False,
        )
        _state.parser = parser
    return parser


def read_feed(body: bytes, content_type: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """(feed, entries) as feedparser would give them, for the keys newsriver reads; None if unsure.

    ``content_type`` is the header feedparser would be given.
    """
    try:
        return _read(body, content_type)
    except (_Decline, etree.XMLSyntaxError):
        return None
    except Exception:  # a bug here must cost speed, not the feed: feedparser still reads it
        log.warning("fast XML path failed; falling back to feedparser", exc_info=True)
        return None


def _read(body: bytes, content_type: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result: dict[str, Any] = {}
    # feedparser's own charset detection and conversion: its strict parser gets these bytes.
    data = convert_to_utf8({"content-type": content_type}, body, result)
    if not result.get("encoding"):
        raise _Decline("no encoding: feedparser's loose parser would run")
    start = _FIRST_ELEMENT.search(data)
    if start is None or _DECLARATION.search(data, 0, start.start()):
        raise _Decline("DOCTYPE or declaration")
    root = etree.fromstring(data, _parser())
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _Decline("DTD")
    return _Reader(data, root).read()


def _own_text(el: etree._Element) -> str:
    """Character data directly inside ``el``, as feedparser collects it for the element."""
    if len(el) == 0:
        return el.text or ""
    return (el.text or "") + "".join(child.tail or "" for child in el)


def _text(el: etree._Element) -> str:
    """The text of an element that must hold nothing else (markup inside is declined)."""
    if len(el):
        raise _Decline(f"children in {el.tag}")
    return el.text or ""


def _no_children(el: etree._Element) -> None:
    if len(el):
        raise _Decline(f"children in {el.tag}")


def _relative(output: str) -> str:
    """feedparser's resolve_uri() against an empty base: only extra slashes after "scheme://" go."""
    return _urljoin("", output) if ":///" in output else output


def _enforce_href(attrs: dict[str, str]) -> None:
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href


def _finish_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The keys FeedParserDict computes on access, made real for a plain dict."""
    if "updated" not in entry and "published" in entry:
        entry["updated"] = entry["published"]
    if "updated_parsed" not in entry and "published_parsed" in entry:
        entry["updated_parsed"] = entry["published_parsed"]
    links = entry.get("links")
    if links is not None:
        entry["enclosures"] = [
            {k: v for k, v in link.items() if k != "rel"} for link in links if link["rel"] == "enclosure"
        ]
    else:
        entry.pop("enclosures", None)
    return entry


Context = dict[str, Any]
Attrs = dict[str, str]


class _Reader:
    """One document, walked as feedparser's handlers would see it (the subset mirrored here).

    Each handler stands for feedparser's start handler, the element's content and its end
    handler together; the state kept is the part of feedparser's that those handlers use.
    """

    def __init__(self, data: bytes, root: etree._Element) -> None:
        self.root = root
        self.feed: Context = {}
        self.entries: list[Context] = []
        self.entry: Context | None = None
        self.depths: dict[str, int] = {}  # feedparser's property_depth_map for the entry
        self.atom = False
        self.item_tag = ""
        self.title_depth = -1
        self.guidislink = False
        self.has_content = False  # not reset per entry before its end, as in feedparser
        self.in_author = False
        self.in_publisher = False
        self.lang: str | None = None
        self.baseuri = ""  # feedparser's xml:base state: no Content-Location is given
        self.bases: list[str] = [""]  # the base in force at each depth (index 0: none)
        self.names: dict[Any, str] = {}  # lxml tag → feedparser's element name
        self.remapped: set[str] = set()
        self.tag_prefix = self._namespaces(data)

    # ----- document level

    def _namespaces(self, data: bytes) -> dict[str, str]:
        """Unknown namespace URI → the prefix feedparser names its elements with."""
        bindings: dict[str, set[str]] = {}  # prefix ("" for default) → URIs
        uris: dict[str, set[str]] = {}  # unknown URI → prefixes
        for prefix_b, dq, sq in _XMLNS.findall(data):
            prefix = prefix_b.decode("utf-8")
            uri = (dq or sq).decode("utf-8")
            if "&" in uri or any(c.isspace() for c in uri):
                raise _Decline("namespace URI written with references or spaces")
            lower = uri.lower()
            if "backend.userland.com/rss" in lower:
                raise _Decline("userland namespace")
            if lower in _VERSION_NS:
                raise _Decline("RSS 1.0 / 0.90 namespace")
            bindings.setdefault(prefix, set()).add(uri)
            if lower in _KNOWN_NS:
                if prefix and _KNOWN_NS[lower] != prefix:
                    # feedparser's namespacemap renames elements written with this prefix.
                    self.remapped.add(prefix)
            elif uri:
                uris.setdefault(uri, set()).add(prefix)
        for prefix, bound in bindings.items():
            # feedparser keeps the latest binding of a prefix: an unknown namespace's elements
            # would change names midway. The default namespace is never looked up by prefix.
            if prefix and len(bound) > 1 and any(uri.lower() not in _KNOWN_NS for uri in bound):
                raise _Decline(f"prefix {prefix} rebound")
        if any(len(prefixes) > 1 for prefixes in uris.values()):
            raise _Decline("namespace with two prefixes")
        # An unknown default namespace has no prefix: feedparser names its elements bare.
        return {uri: next(iter(prefixes)) for uri, prefixes in uris.items()}

    def read(self) -> tuple[Context, list[Context]]:
        root = self.root
        name, attrs, lang = self._start(root, root=True)
        if "base" in attrs:
            self._enter_base(attrs, 1)
        if lang:
            self.feed["language"] = lang.replace("_", "-")
        self.lang = lang or None
        if name == "rss" and root.tag[0] != "{":
            children = list(root)
            # Anything beside the channel is outside feedparser's "in feed" state.
            if len(children) != 1 or self._start(children[0])[0] != "channel":
                raise _Decline("not one channel")
            self.item_tag = "item"
            self._element(children[0], 2, self.feed)
        elif name == "feed" and root.tag in _ATOM_ROOTS:
            self.atom = True
            self.item_tag = "entry"
            self._children(root, 1, self.feed)
        else:
            raise _Decline(f"root {root.tag}")
        return self.feed, [_finish_entry(e) for e in self.entries]

    def _name(self, tag: Any) -> str:
        if not isinstance(tag, str):
            raise _Decline("not an element")  # cannot happen: no comments, PIs or entities
        if tag[0] != "{":
            return tag.lower()
        uri, local = tag[1:].split("}", 1)
        prefix = _KNOWN_NS.get(uri.lower())
        if prefix is None:
            prefix = self.tag_prefix.get(uri)
            if prefix is None:
                raise _Decline(f"undeclared namespace {uri}")
        # SAX gives feedparser "prefix:local" lower-cased as a whole ("blogChannel" too); the
        # prefix is then looked up in its namespacemap, keyed by the prefixes as declared.
        prefix = prefix.lower()
        if prefix in self.remapped:
            raise _Decline(f"remapped prefix {prefix}")
        return f"{prefix}_{local.lower()}" if prefix else local.lower()

    def _start(self, el: etree._Element, root: bool = False) -> tuple[str, Attrs, str | None]:
        """feedparser's element name (``dc_creator``, ``title``), attribute dict and xml:lang.

        Namespaced attributes are declined (SAX reports them under their bare local name too,
        which can shadow a real one), except xml:lang and xml:base, and on the root, whose
        handlers read only "version", where extensions such as Blogger's idx:index are harmless.
        """
        tag = el.tag
        name = self.names.get(tag)
        if name is None:
            name = self.names[tag] = self._name(tag)
        items = el.items()
        if not items:
            return name, {}, None
        attrib = el.attrib
        attrs: Attrs = {}
        lang = None
        for key, value in items:
            if key[0] == "{":
                if key == _XML_LANG and "lang" not in attrib:
                    attrs["xml:lang"] = lang = value
                    continue
                if key == _XML_BASE and "base" not in attrib:
                    attrs["xml:base"] = value
                    continue
                if root and not key.startswith(_XML_NS_KEY) and key.split("}", 1)[1].lower() not in _ROOT_ATTRS:
                    continue
                raise _Decline(f"attribute {key}")  # one feedparser would rename
            lower = key.lower()
            if lower in attrs:
                raise _Decline(f"attribute {key}")
            attrs[lower] = value.lower() if lower in ("rel", "type") else value
            if lower == "lang":
                lang = value
        # SAX also reports xml: attributes under their bare names.
        if "xml:lang" in attrs:
            attrs["lang"] = attrs["xml:lang"]
        if "xml:base" in attrs:
            attrs["base"] = attrs["xml:base"]
        return name, attrs, lang

    def _element(self, el: etree._Element, depth: int, context: Context) -> None:
        name, attrs, lang = self._start(el)
        handler = _HANDLERS.get(name, _Reader._other)
        if self.baseuri or "base" in attrs:
            self._enter_base(attrs, depth)
        if lang is None:
            handler(self, el, name, attrs, depth, context)
        else:
            # xml:lang holds for the element and its children; "" means none.
            outer = self.lang
            self.lang = lang or None
            handler(self, el, name, attrs, depth, context)
            self.lang = outer
        if self.baseuri:
            self._leave_base(depth)

    # feedparser keeps a stack of the base in force at each open element. Here it is indexed
    # by depth. While no base has been seen, every entry is "" and nothing needs doing: once
    # set, feedparser's base never becomes "" again, so "" means there is nothing to track.

    def _enter_base(self, attrs: Attrs, depth: int) -> None:
        """feedparser's xml:base tracking at an element's start, quirks included."""
        base = attrs.get("xml:base", attrs.get("base")) or self.baseuri
        if self.baseuri:
            self.baseuri = make_safe_absolute_uri(self.baseuri, base) or self.baseuri
        else:
            self.baseuri = _urljoin(self.baseuri, base)
        while len(self.bases) <= depth:
            self.bases.append("")
        self.bases[depth] = self.baseuri

    def _leave_base(self, depth: int) -> None:
        """At the element's end: back to the parent's base only when that one is not empty,
        so a base declared under a base-less parent stays in force for the siblings after it."""
        parent = self.bases[depth - 1] if 0 < depth <= len(self.bases) else ""
        if parent:
            self.baseuri = parent

    def _leaf_child(self, child: etree._Element, depth: int) -> tuple[str, Attrs]:
        """Name and attributes of a child handled in place: text only, base tracked."""
        name, attrs, lang = self._start(child)
        if lang is not None:
            raise _Decline(f"xml:lang on {child.tag}")
        _no_children(child)
        if self.baseuri or "base" in attrs:
            self._enter_base(attrs, depth)
        if self.baseuri:
            self._leave_base(depth)
        return name, attrs

    def _children(self, el: etree._Element, depth: int, context: Context) -> None:
        for child in el:
            self._element(child, depth + 1, context)

    # ----- feedparser's pop(): the text of an element, transformed, then stored

    def _resolve(self, url: str) -> str:
        """feedparser's resolve_uri(): against the xml:base in force, if any."""
        return _urljoin(self.baseuri, url) if self.baseuri else _relative(url)

    def _value(self, element: str, text: str) -> str:
        """feedparser's transformations of an element's text (pop with expecting_text)."""
        output = text.strip()
        if output and element in _CAN_BE_RELATIVE and (element != "id" or self.guidislink):
            output = self._resolve(output)
        if not output.isascii():
            # feedparser repairs UTF-8 read as ISO-8859-1, then maps windows-1252's C1 range.
            with suppress(UnicodeEncodeError, UnicodeDecodeError):
                output = output.encode("iso-8859-1").decode("utf-8")
            output = output.translate(_cp1252)
        return output

    def _store(self, element: str, output: Any, depth: int, context: Context, detail: Context | None = None) -> None:
        """Where feedparser's pop() puts a value: entry (shallowest wins) or feed (last wins)."""
        if self.entry is not None:
            if element == "description":
                element = "summary"
            old = self.depths.get(element)
            if old is None or depth <= old:
                self.depths[element] = depth
                self.entry[_KEYMAP.get(element, element)] = output
            if detail is not None:
                key = element + "_detail"
                self.entry[_KEYMAP.get(key, key)] = {**detail, "value": output}
        else:
            if element == "description":
                element = "subtitle"
            context[_KEYMAP.get(element, element)] = output
            if detail is not None:
                key = element + "_detail"
                context[_KEYMAP.get(key, key)] = {**detail, "value": output}

    def _leaf(self, el: etree._Element, element: str, depth: int, context: Context) -> str:
        value = self._value(element, _text(el))
        self._store(element, value, depth, context)
        return value

    def _content_params(self, attrs: Attrs, default: str) -> Context:
        """feedparser's push_content() parameters; declines what it would treat as non-text."""
        if not attrs:
            ctype = default
        else:
            if attrs.get("mode") == "base64":
                raise _Decline("base64")
            ctype = _map_content_type(attrs.get("type", default))
            if ctype not in _TEXT_TYPES:
                raise _Decline(f"content type {ctype}")  # xhtml markup, base64 or XML payloads
        lang = self.lang.replace("_", "-") if self.lang else self.lang
        return {"type": ctype, "language": lang, "base": self.baseuri}

    def _pop_content(self, el: etree._Element, element: str, params: Context, depth: int, context: Context) -> str:
        output = self._value(element, _text(el))
        # RSS leaves it to readers to guess whether "plain text" is HTML; feedparser guesses.
        # Only the type of a summary or content is read (a title's or subtitle's is not).
        if (
            params["type"] == "text/plain"
            and not self.atom
            and element in ("summary", "description", "content")
            and _looks_like_html(output)
        ):
            params["type"] = "text/html"
        if element == "title" and -1 < self.title_depth <= depth:
            return output  # a deeper or later title of the same item does not count
        if self.entry is not None and element == "content":
            self.entry.setdefault("content", []).append({**params, "value": output})
        else:
            self._store(element, output, depth, context, params)
        return output

    # ----- the handlers: (element, name, attributes, depth, context)

    def _other(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if name == self.item_tag and self.entry is None and depth == (2 if self.atom else 3):
            self._item(el, attrs, depth)
        elif name == "channel" and depth == 2 and not self.atom:
            if "lastmod" in attrs or "href" in attrs:
                raise _Decline("CDF channel")
            self._children(el, depth, context)
        elif name == "source" and self.entry is not None:
            # RSS 2.0 <source url="…">title</source>: kept under "source", which nothing
            # reads, but it makes a later title of the item count again.
            _no_children(el)
            self.title_depth = -1
        elif name in ("image", "textinput") and self.entry is None and not self.atom:
            self._channel_box(el, name, depth)
        elif name == "itunes_owner" and self.entry is None:
            self.in_publisher = True
            self._children(el, depth, context)
            self.in_publisher = False
        elif _has_handler(name):
            raise _Decline(name)  # feedparser does something special that is not mirrored here
        else:
            self._unknown(el, name, attrs, depth, context)

    def _item(self, el: etree._Element, attrs: Attrs, depth: int) -> None:
        if "lastmod" in attrs or "href" in attrs:
            raise _Decline("CDF item")
        entry: Context = {}
        self.entries.append(entry)
        self.entry = entry
        self.depths = {}
        self.guidislink = False
        self.title_depth = -1
        for child in el:
            self._element(child, depth + 1, entry)
        self.entry = None
        self.has_content = False

    def _channel_box(self, el: etree._Element, name: str, depth: int) -> None:
        """<image> or <textInput> of a channel: only its titles matter (they reset title_depth).

        Any child feedparser does not expect there would end its "in image" state and send
        the rest to the channel: such documents are declined.
        """
        allowed = _IMAGE_CHILDREN if name == "image" else _TEXTINPUT_CHILDREN
        self.title_depth = -1
        for child in el:
            child_name, child_attrs = self._leaf_child(child, depth + 1)
            if child_name not in allowed or child_attrs:
                raise _Decline(f"{child_name} in {name}")
            if child_name == "title" and _text(child).strip():
                self.title_depth = depth + 1

    def _title(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        saved = self.title_depth
        params = self._content_params(attrs, "text/plain")
        if self._pop_content(el, "title", params, depth, context):
            self.title_depth = depth
        if name == "media_title":
            self.title_depth = saved

    def _subtitle(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        self._pop_content(el, "subtitle", self._content_params(attrs, "text/plain"), depth, context)

    def _link(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
        _enforce_href(attrs)
        if "href" in attrs:
            attrs["href"] = self._resolve(attrs["href"])
        context.setdefault("links", []).append(attrs)
        if "href" in attrs:
            _no_children(el)
            if attrs["rel"] == "alternate" and _map_content_type(attrs["type"]) in _HTML_TYPES:
                context["link"] = attrs["href"]
            return
        output = self._value("link", _text(el))
        if "&" in output:  # feedparser's repair of "&amp;" in query strings
            if self.entry is not None:
                output = output.replace("&amp;", "&")
            output = _URL_ENTITY.sub(_keep_entity_name, output)
        context["link"] = output
        if output or self.entry is None:
            context["links"][-1]["href"] = output

    def _guid(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        self.guidislink = attrs.get("ispermalink", "true") == "true"
        value = self._leaf(el, "id", depth, context)
        context.setdefault("guidislink", self.guidislink and "link" not in context)
        if self.guidislink:
            context.setdefault("link", value)

    def _description(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if "summary" in context and not self.has_content:
            self._content_of(el, attrs, depth, context, "text/plain")
        else:
            self._pop_content(el, "description", self._content_params(attrs, "text/html"), depth, context)

    def _summary(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if "summary" in context and not self.has_content:
            self._content_of(el, attrs, depth, context, "text/plain")
        else:
            self._pop_content(el, "summary", self._content_params(attrs, "text/plain"), depth, context)

    def _content(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        self._content_of(el, attrs, depth, context, "text/plain" if name == "content" else "text/html")

    def _content_of(self, el: etree._Element, attrs: Attrs, depth: int, context: Context, default: str) -> None:
        self.has_content = True
        params = self._content_params(attrs, default)
        if default == "text/plain" and attrs.get("src"):  # feedparser's _start_content keeps src
            params["src"] = attrs["src"]
        value = self._pop_content(el, "content", params, depth, context)
        context.setdefault("summary", value)  # text and HTML content doubles as the summary

    def _date(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        key = _DATE_TAGS[name]
        context[key + "_parsed"] = _parse_date(self._leaf(el, key, depth, context))

    def _language(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        self._leaf(el, "language", depth, context)

    def _author(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        self.in_author = True
        context.setdefault("authors", []).append({})
        for child in el:
            if self._start(child)[0] not in _PERSON_CHILDREN:
                raise _Decline(f"{child.tag} in author")
            self._element(child, depth + 1, context)
        self._store("author", self._value("author", _own_text(el)), depth, context)
        self.in_author = False
        self._sync_author_detail(context)

    def _contributor(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        # Contributors are not read; only their shape is checked so that skipping them is exact.
        for child in el:
            if self._leaf_child(child, depth + 1)[0] not in _PERSON_CHILDREN:
                raise _Decline(f"{child.tag} in contributor")

    def _person_part(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        value = _text(el).strip()  # pushed without expecting text: no transformations
        key = name.removeprefix("itunes_")
        if self.in_publisher:
            self._save_author(context, key, value, "publisher")
        elif self.in_author:
            self._save_author(context, key, value)

    def _person_uri(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        value = self._value("href", _text(el))
        if self.in_author:
            self._save_author(context, "href", value)

    def _save_author(self, context: Context, key: str, value: str, prefix: str = "author") -> None:
        context.setdefault(prefix + "_detail", {})[key] = value
        self._sync_author_detail(context)
        context.setdefault("authors", [{}])
        context["authors"][-1][key] = value

    @staticmethod
    def _sync_author_detail(context: Context) -> None:
        detail = context.get("authors", [{}])[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                context["author"] = f"{name} ({email})"
            elif name:
                context["author"] = name
            elif email:
                context["author"] = email
            return
        author, email = context.get("author"), None
        if not author:
            return
        match = _AUTHOR_EMAIL.search(author)
        if match:
            email = match.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author or email:
            context.setdefault("author_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    @staticmethod
    def _add_tag(context: Context, term: str | None, scheme: str | None, label: str | None) -> None:
        tags = context.setdefault("tags", [])
        if not term and not scheme and not label:
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)

    def _category(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if name == "itunes_category":
            self._add_tag(context, attrs.get("text"), "http://www.itunes.com/", None)
            for child in el:  # nested iTunes categories are categories of their own
                if self._start(child)[0] != "itunes_category":
                    raise _Decline(f"{child.tag} in itunes:category")
                self._element(child, depth + 1, context)
            text = _own_text(el)
        else:
            if name == "media_category":
                attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
            self._add_tag(context, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label"))
            text = _text(el)
        value = self._value("category", text)
        if not value:
            return
        tags = context["tags"]
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(context, value, None, None)

    def _keywords(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if attrs:
            # feedparser keeps the attributes under the name and finds no text to split.
            _no_children(el)
            context[_KEYMAP.get(name, name)] = attrs
            return
        value = self._value(name, _text(el))
        if name == "media_keywords":
            self._store(name, value, depth, context)
        scheme = "http://www.itunes.com/" if name == "itunes_keywords" else None
        for term in value.split(","):
            if term.strip():
                self._add_tag(context, term.strip(), scheme, None)

    def _enclosure(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        _no_children(el)
        _enforce_href(attrs)
        attrs["rel"] = "enclosure"
        context.setdefault("links", []).append(attrs)

    def _media_group(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        self._children(el, depth, context)

    def _media_content(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        context.setdefault("media_content", []).append(attrs)
        self._children(el, depth, context)

    def _media_thumbnail(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        thumbnails = context.setdefault("media_thumbnail", [])
        thumbnails.append(attrs)
        url = self._value("url", _text(el))
        if url.strip() and "url" not in thumbnails[-1]:
            thumbnails[-1]["url"] = url

    def _itunes_image(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        _no_children(el)
        if attrs.get("href"):
            context["image"] = {"href": attrs["href"]}
        elif attrs.get("url"):
            context["image"] = {"href": attrs["url"]}

    def _ignored(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        _no_children(el)

    def _unknown(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        """An element feedparser has no handler for: stored under its name, text or attributes.

        Children are allowed when they are unknown too (YouTube's media:community): each is
        stored the same way, and the text they leave to this element lands under its name,
        which nothing reads.
        """
        key = _KEYMAP.get(name, name)
        if key in _RESERVED_KEYS or (attrs and key in _TEXT_KEYS):
            raise _Decline(f"unknown element {name}")
        if attrs:
            context[key] = attrs  # and no text: feedparser does not collect any for it
        for child in el:
            child_name, child_attrs, lang = self._start(child)
            if lang is not None or child_name in _HANDLERS or _has_handler(child_name):
                raise _Decline(f"{child_name} in unknown {name}")
            if self.baseuri or "base" in child_attrs:
                self._enter_base(child_attrs, depth + 1)
            self._unknown(child, child_name, child_attrs, depth + 1, context)
            if self.baseuri:
                self._leave_base(depth + 1)
        if not attrs:
            self._store(name, self._value(name, _own_text(el)), depth, context)


def _has_handler(name: str) -> bool:
    return hasattr(_FeedParserMixin, "_start_" + name) or hasattr(_FeedParserMixin, "_end_" + name)


def _keep_entity_name(match: re.Match[str]) -> str:
    return "&" + match.group(1)


_Handler = Callable[[_Reader, etree._Element, str, Attrs, int, Context], None]
_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(("title", "dc_title", "media_title"), _Reader._title),
    **dict.fromkeys(("subtitle", "tagline", "itunes_subtitle"), _Reader._subtitle),
    "link": _Reader._link,
    **dict.fromkeys(("id", "guid"), _Reader._guid),
    **dict.fromkeys(("description", "dc_description", "media_description"), _Reader._description),
    **dict.fromkeys(("summary", "itunes_summary"), _Reader._summary),
    **dict.fromkeys(("content", "content_encoded", "fullitem"), _Reader._content),
    **dict.fromkeys(_DATE_TAGS, _Reader._date),
    **dict.fromkeys(("language", "dc_language"), _Reader._language),
    **dict.fromkeys(("author", "managingeditor", "dc_author", "dc_creator", "itunes_author"), _Reader._author),
    **dict.fromkeys(("contributor", "dc_contributor"), _Reader._contributor),
    **dict.fromkeys(("name", "itunes_name", "email", "itunes_email"), _Reader._person_part),
    **dict.fromkeys(("uri", "url", "homepage"), _Reader._person_uri),
    **dict.fromkeys(("category", "keywords", "dc_subject", "media_category", "itunes_category"), _Reader._category),
    **dict.fromkeys(("media_keywords", "itunes_keywords"), _Reader._keywords),
    "enclosure": _Reader._enclosure,
    "media_group": _Reader._media_group,
    "media_content": _Reader._media_content,
    "media_thumbnail": _Reader._media_thumbnail,
    **dict.fromkeys(("itunes_image", "itunes_link"), _Reader._itunes_image),
    **dict.fromkeys(_IGNORED, _Reader._ignored),
}
