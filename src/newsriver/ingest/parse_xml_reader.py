"""The fast XML path's reader: each element's handler, as feedparser's would treat it."""

from __future__ import annotations

import re

# feedparser's date reader: a dozen formats and their quirks, read exactly as feedparser reads
# them. Private, but real work, not a shape to mimic.
from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin
from lxml import etree

from newsriver.ingest.parse_feedparser import entry_of
from newsriver.ingest.parse_xml_people import People
from newsriver.ingest.parse_xml_walk import (
    HTML_TYPES,
    KEYMAP,
    Attrs,
    Context,
    Decline,
    enforce_href,
    map_content_type,
    no_children,
    only_text,
    own_text,
)

_URL_ENTITY = re.compile("&([A-Za-z0-9_]+);")
# Keys parse_feedparser reads: an unknown element stored under one of these would need
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
# Feed keys parse_feedparser.head_of reads as text: with attributes feedparser stores a dict there instead.
_TEXT_KEYS = frozenset({"ttl", "sy_updateperiod", "sy_updatefrequency"})
# Element names of handlers that leave nothing parse_feedparser reads: their content only has to be
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
        "itunes_block",
        "width",
        "height",
    }
)
# What feedparser accepts inside a channel's <image> and <textInput> without ending its "in image" state.
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


class Reader(People):
    """The handlers of every element the fast path mirrors; the rest decline or are stored as unknown."""

    def _other(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        if name == self.item_tag and self.entry is None and depth == (2 if self.atom else 3):
            self._item(el, attrs, depth)
        elif name == "source" and self.entry is not None:
            # RSS 2.0 <source url="…">title</source>: kept under "source", which nothing
            # reads, but it makes a later title of the item count again.
            no_children(el)
            self.title_depth = -1
        elif name in ("image", "textinput") and self.entry is None and not self.atom:
            self._channel_box(el, name, depth)
        elif name == "itunes_owner" and self.entry is None:
            self.in_publisher = True
            self._children(el, depth, context)
            self.in_publisher = False
        elif _has_handler(name):
            raise Decline(name)  # feedparser does something special that is not mirrored here
        else:
            self._unknown(el, name, attrs, depth, context)

    def _item(self, el: etree._Element, attrs: Attrs, depth: int) -> None:
        if "lastmod" in attrs or "href" in attrs:
            raise Decline("CDF item")
        entry: Context = {}
        self.entry = entry
        self.depths = {}
        self.guidislink = False
        self.title_depth = -1
        for child in el:
            self._element(child, depth + 1, entry)
        if self.making_entries:
            self.entries.append(entry_of(entry))
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
                raise Decline(f"{child_name} in {name}")
            if child_name == "title" and only_text(child).strip():
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
        enforce_href(attrs)
        if "href" in attrs:
            attrs["href"] = self._resolve(attrs["href"])
        context.setdefault("links", []).append(attrs)
        if "href" in attrs:
            no_children(el)
            if attrs["rel"] == "alternate" and map_content_type(attrs["type"]) in HTML_TYPES:
                context["link"] = attrs["href"]
            return
        output = self._value("link", only_text(el))
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

    def _enclosure(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        no_children(el)
        enforce_href(attrs)
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
        url = self._value("url", only_text(el))
        if url.strip() and "url" not in thumbnails[-1]:
            thumbnails[-1]["url"] = url

    def _itunes_image(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        no_children(el)
        if attrs.get("href"):
            context["image"] = {"href": attrs["href"]}
        elif attrs.get("url"):
            context["image"] = {"href": attrs["url"]}

    def _itunes_explicit(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        # feedparser's _end_itunes_explicit: "yes" is True, "clean" False, anything else None;
        # the text as written (" yes " is None: feedparser does not strip it).
        value = only_text(el)
        context["itunes_explicit"] = (None, False, True)[(value == "yes" and 2) or value == "clean" or 0]

    def _ignored(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        no_children(el)

    def _unknown(self, el: etree._Element, name: str, attrs: Attrs, depth: int, context: Context) -> None:
        """An element feedparser has no handler for: stored under its name, text or attributes.

        Children are allowed when they are unknown too (YouTube's media:community): each is
        stored the same way, and the text they leave to this element lands under its name,
        which nothing reads.
        """
        key = KEYMAP.get(name, name)
        if key in _RESERVED_KEYS or (attrs and key in _TEXT_KEYS):
            raise Decline(f"unknown element {name}")
        if attrs:
            context[key] = attrs  # and no text: feedparser does not collect any for it
        for child in el:
            child_name, child_attrs, lang = self._start(child)
            if lang is not None or child_name in self.handlers or _has_handler(child_name):
                raise Decline(f"{child_name} in unknown {name}")
            if self.baseuri or "base" in child_attrs:
                self._enter_base(child_attrs, depth + 1)
            self._unknown(child, child_name, child_attrs, depth + 1, context)
            if self.baseuri:
                self._leave_base(depth + 1)
        if not attrs:
            self._store(name, self._value(name, own_text(el)), depth, context)


def _has_handler(name: str) -> bool:
    return hasattr(_FeedParserMixin, "_start_" + name) or hasattr(_FeedParserMixin, "_end_" + name)


def _keep_entity_name(match: re.Match[str]) -> str:
    return "&" + match.group(1)


Reader.other = Reader._other
Reader.handlers = {
    **dict.fromkeys(("title", "dc_title", "media_title"), Reader._title),
    **dict.fromkeys(("subtitle", "tagline", "itunes_subtitle"), Reader._subtitle),
    "link": Reader._link,
    **dict.fromkeys(("id", "guid"), Reader._guid),
    **dict.fromkeys(("description", "dc_description", "media_description"), Reader._description),
    **dict.fromkeys(("summary", "itunes_summary"), Reader._summary),
    **dict.fromkeys(("content", "content_encoded", "fullitem"), Reader._content),
    **dict.fromkeys(_DATE_TAGS, Reader._date),
    **dict.fromkeys(("language", "dc_language"), Reader._language),
    **dict.fromkeys(("author", "managingeditor", "dc_author", "dc_creator", "itunes_author"), Reader._author),
    **dict.fromkeys(("contributor", "dc_contributor"), Reader._contributor),
    **dict.fromkeys(("name", "itunes_name", "email", "itunes_email"), Reader._person_part),
    **dict.fromkeys(("uri", "url", "homepage"), Reader._person_uri),
    **dict.fromkeys(("category", "keywords", "dc_subject", "media_category", "itunes_category"), Reader._category),
    **dict.fromkeys(("media_keywords", "itunes_keywords"), Reader._keywords),
    "enclosure": Reader._enclosure,
    "media_group": Reader._media_group,
    "media_content": Reader._media_content,
    "media_thumbnail": Reader._media_thumbnail,
    **dict.fromkeys(("itunes_image", "itunes_link"), Reader._itunes_image),
    "itunes_explicit": Reader._itunes_explicit,
    **dict.fromkeys(_IGNORED, Reader._ignored),
}
