"""The fast XML path's walk over an lxml tree, as feedparser's SAX handlers would see it.

``Walker`` keeps the part of feedparser's state its handlers use: element names as feedparser
forms them, xml:base and xml:lang, and its pop(): where an element's text lands. The entry it
fills is a dict with feedparser's keys on purpose: which element's value wins under which key
is what has to match feedparser, and ``parse_feedparser.entry_of`` reads that shape, once for
both paths. The element handlers are in ``parse_xml_people`` and ``parse_xml_reader``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from itertools import product
from typing import Any, ClassVar

# feedparser's own helpers wherever the fast path must do to a value what feedparser does:
# private, but each is real work (URL joining, character repair, HTML sniffing, the namespace
# and relative-URL tables), and calling them keeps the two paths identical by construction.
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict
from lxml import etree

from newsriver.ingest.parse_common import FeedHead
from newsriver.ingest.parse_feedparser import head_of
from newsriver.models import Entry

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
# Every tag of a root the walk takes: an RSS root in any case (feedparser lower-cases names).
ROOT_TAGS = frozenset({"".join(letters) for letters in product(*zip("rss", "RSS", strict=True))} | _ATOM_ROOTS)

# feedparser's namespace table: lower-cased URI → the prefix its handlers are named with.
_KNOWN_NS: dict[str, str] = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
# Declared namespaces that make feedparser call an Atom document something else.
_VERSION_NS = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
# A superset of the document's namespace declarations (text content may match too: harmless,
# it can only make the checks below more cautious).
_XMLNS = re.compile(rb"""xmlns(?::([^\s=>/"']+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")

_CAN_BE_RELATIVE = _FeedParserMixin.can_be_relative_uri
HTML_TYPES = _FeedParserMixin.html_types
_looks_like_html: Callable[[str], bool] = _FeedParserMixin.looks_like_html
map_content_type: Callable[[str], str] = _FeedParserMixin.map_content_type
# FeedParserDict stores some keys under another name (its ``keymap``): "date" is "updated",
# which parse_feedparser reads. Where a value lands is feedparser's behaviour, not only its shape.
KEYMAP = {key: (value[0] if isinstance(value, list) else value) for key, value in FeedParserDict.keymap.items()}
# Content types whose text feedparser keeps as it is (others it would try as base64).
_TEXT_TYPES = frozenset({"text/plain", "text/html"})


class Decline(Exception):
    """Not certain to match feedparser: let it parse the document."""


def own_text(el: etree._Element) -> str:
    """Character data directly inside ``el``, as feedparser collects it for the element."""
    if len(el) == 0:
        return el.text or ""
    return (el.text or "") + "".join(child.tail or "" for child in el)


def only_text(el: etree._Element) -> str:
    """The text of an element that must hold nothing else (markup inside is declined)."""
    if len(el):
        raise Decline(f"children in {el.tag}")
    return el.text or ""


def no_children(el: etree._Element) -> None:
    if len(el):
        raise Decline(f"children in {el.tag}")


def _relative(output: str) -> str:
    """feedparser's resolve_uri() against an empty base: only extra slashes after "scheme://" go."""
    return _urljoin("", output) if ":///" in output else output


def enforce_href(attrs: dict[str, str]) -> None:
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href


def _namespaces(data: bytes) -> tuple[dict[str, str], set[str]]:
    """Unknown namespace URI → the prefix feedparser names its elements with, and the prefixes
    feedparser would rename (a standard namespace's elements written with another prefix)."""
    remapped: set[str] = set()
    bindings: dict[str, set[str]] = {}  # prefix ("" for default) → URIs
    uris: dict[str, set[str]] = {}  # unknown URI → prefixes
    for prefix_b, dq, sq in _XMLNS.findall(data):
        prefix = prefix_b.decode("utf-8")
        uri = (dq or sq).decode("utf-8")
        if "&" in uri or any(c.isspace() for c in uri):
            raise Decline("namespace URI written with references or spaces")
        lower = uri.lower()
        if "backend.userland.com/rss" in lower:
            raise Decline("userland namespace")
        if lower in _VERSION_NS:
            raise Decline("RSS 1.0 / 0.90 namespace")
        bindings.setdefault(prefix, set()).add(uri)
        if lower in _KNOWN_NS:
            if prefix and _KNOWN_NS[lower] != prefix:
                # feedparser's namespacemap renames elements written with this prefix.
                remapped.add(prefix)
        elif uri:
            uris.setdefault(uri, set()).add(prefix)
    for prefix, bound in bindings.items():
        # feedparser keeps the latest binding of a prefix: an unknown namespace's elements
        # would change names midway. The default namespace is never looked up by prefix.
        if prefix and len(bound) > 1 and any(uri.lower() not in _KNOWN_NS for uri in bound):
            raise Decline(f"prefix {prefix} rebound")
    if any(len(prefixes) > 1 for prefixes in uris.values()):
        raise Decline("namespace with two prefixes")
    # An unknown default namespace has no prefix: feedparser names its elements bare.
    return {uri: next(iter(prefixes)) for uri, prefixes in uris.items()}, remapped


Context = dict[str, Any]
Attrs = dict[str, str]
Handler = Callable[[Any, etree._Element, str, Attrs, int, Context], None]


class Walker:
    """One document, walked as feedparser's handlers would see it (the subset mirrored here).

    Each handler stands for feedparser's start handler, the element's content and its end
    handler together; the state kept is the part of feedparser's that those handlers use.
    """

    # feedparser's element name → its handler, and the handler of any other element: the
    # reader that defines them fills these in.
    handlers: ClassVar[dict[str, Handler]]
    other: ClassVar[Handler]

    def __init__(self, data: bytes) -> None:
        self.feed: Context = {}
        self.entries: list[Entry] = []
        self.making_entries = True  # False: the walk only reads the head, and whether the path takes the document
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
        self.tag_prefix, self.remapped = _namespaces(data)

    # ----- document level

    def read(self, growing: Iterable[etree._Element | None]) -> Iterator[Entry]:
        """The document's entries, each once its element has ended; ``head()`` once all are read.

        ``growing`` gives the document's root (None until the parser has reached it) each time
        the parser has read more of the document, and ends once it has read all of it. Each
        element under the feed (an RSS item or channel value, an Atom entry or feed value) is
        walked whole once it is followed by the next, in document order as the walk of a whole
        tree would, then cut from the tree: the tree never holds more than a piece's worth.
        """
        feed: etree._Element | None = None  # the RSS <channel> or the Atom <feed>
        for root in growing:
            if feed is None and root is not None:
                feed = self._open(root)
            if feed is not None:
                yield from self._walk_ended(feed, last=False)
        if feed is None:
            raise Decline("not a feed")  # no root the walk takes, or an RSS root with no channel
        yield from self._walk_ended(feed, last=True)
        if not self.atom and len(feed.getparent()) != 1:
            raise Decline("not one channel")  # beside it: outside feedparser's "in feed" state

    def head(self) -> FeedHead:
        return head_of(self.feed)

    def _open(self, root: etree._Element) -> etree._Element | None:
        """The start of the feed: the element whose children are walked whole, once the parser
        has reached it (an RSS root's channel may come in a later piece)."""
        if not self.item_tag:
            self._open_root(root)
        if self.atom:
            return root
        channel = next(iter(root), None)
        if channel is not None:
            self._open_channel(channel)
        return channel

    def _walk_ended(self, feed: etree._Element, last: bool) -> Iterator[Entry]:
        """Walks the children of ``feed`` that have ended (all of them when ``last``), and cuts them off."""
        depth = 2 if self.atom else 3
        child = next(iter(feed), None)
        while child is not None:
            after = child.getnext()
            if after is None and not last:
                return  # perhaps not ended yet
            self._element(child, depth, self.feed)
            feed.remove(child)
            if self.entries:
                yield from self.entries
                self.entries.clear()
            child = after

    def _open_root(self, root: etree._Element) -> None:
        if root.getparent() is not None:
            raise Decline("root")  # the first element of a name in ROOT_TAGS is not the root
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise Decline("DTD")
        name, attrs, lang = self._start(root, root=True)
        if "base" in attrs:
            self._enter_base(attrs, 1)
        if lang:
            self.feed["language"] = lang.replace("_", "-")
        self.lang = lang or None
        if name == "rss" and root.tag[0] != "{":
            self.item_tag = "item"
        elif name == "feed" and root.tag in _ATOM_ROOTS:
            self.atom = True
            self.item_tag = "entry"
        else:
            raise Decline(f"root {root.tag}")

    def _open_channel(self, el: etree._Element) -> None:
        """The RSS channel's start. Its end needs nothing: nothing the walk reads follows it."""
        name, attrs, lang = self._start(el)
        if name != "channel":
            raise Decline("not one channel")
        if "lastmod" in attrs or "href" in attrs:
            raise Decline("CDF channel")
        if self.baseuri or "base" in attrs:
            self._enter_base(attrs, 2)
        if lang is not None:
            self.lang = lang or None

    def _name(self, tag: Any) -> str:
        if not isinstance(tag, str):
            raise Decline("not an element")  # cannot happen: no comments, PIs or entities
        if tag[0] != "{":
            return tag.lower()
        uri, local = tag[1:].split("}", 1)
        prefix = _KNOWN_NS.get(uri.lower())
        if prefix is None:
            prefix = self.tag_prefix.get(uri)
            if prefix is None:
                raise Decline(f"undeclared namespace {uri}")
        # SAX gives feedparser "prefix:local" lower-cased as a whole ("blogChannel" too); the
        # prefix is then looked up in its namespacemap, keyed by the prefixes as declared.
        prefix = prefix.lower()
        if prefix in self.remapped:
            raise Decline(f"remapped prefix {prefix}")
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
                raise Decline(f"attribute {key}")  # one feedparser would rename
            lower = key.lower()
            if lower in attrs:
                raise Decline(f"attribute {key}")
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
        handler = self.handlers.get(name) or type(self).other
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
            raise Decline(f"xml:lang on {child.tag}")
        no_children(child)
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
                self.entry[KEYMAP.get(element, element)] = output
            # Of the details feedparser keeps beside a value (type, language, base), only the
            # summary's is read (by parse_feedparser.entry_of): the others are not built.
            if detail is not None and element == "summary":
                self.entry["summary_detail"] = {**detail, "value": output}
        else:
            if element == "description":
                element = "subtitle"
            context[KEYMAP.get(element, element)] = output

    def _leaf(self, el: etree._Element, element: str, depth: int, context: Context) -> str:
        value = self._value(element, only_text(el))
        self._store(element, value, depth, context)
        return value

    def _content_params(self, attrs: Attrs, default: str) -> Context:
        """feedparser's push_content() parameters; declines what it would treat as non-text."""
        if not attrs:
            ctype = default
        else:
            if attrs.get("mode") == "base64":
                raise Decline("base64")
            ctype = map_content_type(attrs.get("type", default))
            if ctype not in _TEXT_TYPES:
                raise Decline(f"content type {ctype}")  # xhtml markup, base64 or XML payloads
        lang = self.lang.replace("_", "-") if self.lang else self.lang
        return {"type": ctype, "language": lang, "base": self.baseuri}

    def _pop_content(self, el: etree._Element, element: str, params: Context, depth: int, context: Context) -> str:
        output = self._value(element, only_text(el))
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
