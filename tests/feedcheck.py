"""Independent checks of published feeds: validity per format, and nothing dangerous inside.

Written against the specifications, not against newsriver's code, so a regression in
sanitize or publish shows up here instead of being mirrored. Each function returns a list
of problems (empty when the document is fine) so one assertion can report all of them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import jsonschema
from lxml import etree

from newsriver.ingest.parse import parse

SCHEMAS = Path(__file__).parent / "schemas"
ATOM = "http://www.w3.org/2005/Atom"
NS = {"a": ATOM}

# --- dangerous HTML -----------------------------------------------------------------------

# Elements that run code, load other documents, restyle the page or post data.
DANGEROUS_TAGS = frozenset(
    "script style iframe frame frameset object embed applet param form input button textarea select "
    "option meta link base svg math noscript template xml import bgsound layer ilayer isindex".split()
)
URL_ATTRIBUTES = frozenset(
    "href src poster cite action formaction background lowsrc dynsrc data xlink:href ping longdesc "
    "codebase usemap manifest icon profile".split()
)
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Video players an article may embed; checked here independently of newsriver's own list.
VIDEO_PLAYERS = re.compile(
    r"^https://(www\.youtube\.com|www\.youtube-nocookie\.com|youtube\.com|player\.vimeo\.com"
    r"|www\.dailymotion\.com|player\.twitch\.tv|www\.bitchute\.com|rumble\.com)/"
)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def url_problem(value: str) -> str:
    """Why a URL must not be published, or "" when it is an absolute web or mail link."""
    scheme = urlsplit(_INVISIBLE.sub("", value)).scheme.lower()
    return "" if scheme in SAFE_SCHEMES else f"URL with scheme {scheme or '(none: relative)'!r}: {value[:80]!r}"


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in DANGEROUS_TAGS and not (tag == "iframe" and VIDEO_PLAYERS.match(values.get("src", ""))):
            self.problems.append(f"<{tag}> element")
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            elif name == "style":
                self.problems.append(f"style= on <{tag}>")
            elif name == "srcset":
                self.problems += [p for c in value.split(",") if c.strip() and (p := url_problem(c.split()[0]))]
            elif name in URL_ATTRIBUTES and (problem := url_problem(value)):
                self.problems.append(f"{problem} in <{tag} {name}>")
        if tag == "a" and "href" in values and not {"noopener", "noreferrer"} <= set(values.get("rel", "").split()):
            self.problems.append("<a href> without rel=noopener noreferrer")
        size = {values.get("width", "").strip(), values.get("height", "").strip()}
        if tag == "img" and size <= {"0", "1"}:
            self.problems.append(f"tracking pixel {values.get('src', '')[:60]!r}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comment (conditional comments run code in old browsers)")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"declaration <![{data[:20]}")


def html_dangers(fragment: str) -> list[str]:
    """What in ``fragment``, read as HTML by a browser-like tokenizer, could run or track."""
    if "<" not in fragment:
        return []
    scanner = _Scanner()
    scanner.feed(fragment)
    scanner.close()
    return scanner.problems


def _xml_strings(root: Any) -> Iterator[tuple[str, str]]:
    for element in root.iter():
        where = etree.QName(element).localname if isinstance(element.tag, str) else "?"
        if element.text:
            yield where, element.text
        for name, value in element.attrib.items():
            yield f"{where}@{etree.QName(name).localname}", value


def _json_strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, where)


# Fields that a reader follows or loads: they must be absolute http(s) (or mailto) URLs.
_XML_URL_FIELDS = frozenset(
    {"link@href", "uri", "icon", "logo", "link", "comments", "enclosure@url", "source@url", "thumbnail@url"}
)
_JSON_URL_FIELDS = frozenset(
    {"url", "external_url", "image", "banner_image", "home_page_url", "feed_url", "avatar", "icon", "favicon"}
)


def output_dangers(fmt: str, data: bytes) -> list[str]:
    """Every string of a published feed, read as HTML, and every URL a reader follows.

    Plain-text fields are scanned as HTML too: several RSS readers render titles as HTML.
    """
    if fmt == "json":
        strings = list(_json_strings(json.loads(data)))
        url_fields = _JSON_URL_FIELDS
    else:
        strings = list(_xml_strings(etree.fromstring(data)))
        url_fields = _XML_URL_FIELDS
    problems = []
    for where, value in strings:
        problems += [f"{where}: {p}" for p in html_dangers(value)]
        if where in url_fields and (problem := url_problem(value)):
            problems.append(f"{where}: {problem}")
    return problems


# What a URI may hold (RFC 3986): the W3C validator reports any other character in a link
# as InvalidIRI (Atom) or InvalidFullLink (RSS).
_URI_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")


def link_problems(fmt: str, data: bytes) -> list[str]:
    """Every link a reader follows that is not a URI (raw non-ASCII, a space)."""
    if fmt == "json":
        strings, url_fields = list(_json_strings(json.loads(data))), _JSON_URL_FIELDS | {"feed_url"}
    else:
        strings, url_fields = list(_xml_strings(etree.fromstring(data))), _XML_URL_FIELDS | {"guid", "id"}
    return [
        f"{where}: not a URI: {value!r}"
        for where, value in strings
        if where in url_fields and value.strip() and not _URI_CHARACTERS.match(value.strip())
    ]


# --- Atom: RFC 4287 --------------------------------------------------------------------------


@cache
def _atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMAS / "atom.rng")))


def atom_problems(data: bytes) -> list[str]:
    """RFC 4287: the RELAX NG grammar, its two Schematron rules, and the MUSTs around them."""
    root = etree.fromstring(data)
    schema = _atom_schema()
    problems = [] if schema.validate(root) else [f"RELAX NG: {e.message} (line {e.line})" for e in schema.error_log]
    # Appendix B Schematron: a feed needs an author unless every entry has one (its own or its source's).
    if not root.findall("a:author", NS):
        for entry in root.findall("a:entry", NS):
            if not entry.findall("a:author", NS) and not entry.findall("a:source/a:author", NS):
                problems.append(f"entry {entry.findtext('a:id', '', NS)}: no author, and the feed has none")
    problems += _alternates(root, "feed")
    for entry in root.findall("a:entry", NS):
        entry_id = entry.findtext("a:id", "", NS)
        # Appendix B Schematron: an entry needs an alternate link or content.
        if not entry.xpath("a:link[@rel='alternate' or not(@rel)] or a:content", namespaces=NS):
            problems.append(f"entry {entry_id}: neither an alternate link nor content")
        # §4.1.1.1: content with src (out of line) needs a summary.
        if entry.find("a:content[@src]", NS) is not None and entry.find("a:summary", NS) is None:
            problems.append(f"entry {entry_id}: out-of-line content without a summary")
        problems += _alternates(entry, f"entry {entry_id}")
    ids = Counter(e.findtext("a:id", "", NS) for e in root.findall("a:entry", NS))
    problems += [f"entry id {i} used {n} times" for i, n in ids.items() if n > 1]
    if not root.xpath("a:link[@rel='self']", namespaces=NS):
        problems.append("feed: no rel=self link")
    problems += [
        f"{where}: {p}" for where, href in _xml_strings(root) if where == "link@href" if (p := url_problem(href))
    ]
    return problems


def _alternates(element: Any, where: str) -> list[str]:
    """§4.1.1 / §4.1.2: at most one alternate link per (type, hreflang)."""
    keys = Counter(
        (link.get("type"), link.get("hreflang"))
        for link in element.findall("a:link", NS)
        if link.get("rel", "alternate") == "alternate"
    )
    return [f"{where}: {n} alternate links with type/hreflang {k}" for k, n in keys.items() if n > 1]


# --- RSS 2.0 ----------------------------------------------------------------------------------

_RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT)$"
)
_ONCE_IN_CHANNEL = (
    "title link description language copyright managingEditor webMaster pubDate lastBuildDate "
    "generator docs cloud ttl image rating textInput skipHours skipDays"
).split()
_ONCE_IN_ITEM = "title link description author comments enclosure guid pubDate source".split()


def rfc822_problem(value: str) -> str:
    """RSS 2.0 dates are RFC 822 (with four-digit years, as RFC 1123 and the RSS spec say)."""
    if not _RFC822.match(value):
        return f"not an RFC 822 date: {value!r}"
    when = parsedate_to_datetime(value)
    if when.strftime("%a") != value[:3]:
        return f"wrong weekday in {value!r}"
    return ""


def rss_problems(data: bytes, self_url: str = "") -> list[str]:
    """The RSS 2.0 specification's rules (rssboard.org/rss-specification) and its best practices."""
    root = etree.fromstring(data)
    problems = []
    if root.tag != "rss" or root.get("version") != "2.0":
        problems.append(f"root is <{root.tag} version={root.get('version')!r}>, not <rss version='2.0'>")
    channels = root.findall("channel")
    if len(channels) != 1:
        return [*problems, f"{len(channels)} channels"]
    channel = channels[0]
    for name in ("title", "link", "description"):
        if not (channel.findtext(name) or "").strip():
            problems.append(f"channel: required <{name}> missing or empty")
    problems += [f"channel: <{n}> {c} times" for n in _ONCE_IN_CHANNEL if (c := len(channel.findall(n))) > 1]
    if problem := url_problem(channel.findtext("link") or ""):
        problems.append(f"channel link: {problem}")
    for name in ("pubDate", "lastBuildDate"):
        for element in channel.findall(name):
            if problem := rfc822_problem(element.text or ""):
                problems.append(f"channel {name}: {problem}")
    self_links = [link.get("href") for link in channel.findall(f"{{{ATOM}}}link") if link.get("rel") == "self"]
    if self_url and self_links != [self_url]:
        problems.append(f"channel: atom:link rel=self {self_links}, expected [{self_url!r}]")
    guids: Counter[str] = Counter()
    for item in channel.findall("item"):
        problems += [f"item: {p}" for p in _item_problems(item)]
        guids.update(g.text or "" for g in item.findall("guid"))
    problems += [f"guid {g!r} used {n} times" for g, n in guids.items() if n > 1]
    return problems


def _item_problems(item: Any) -> list[str]:
    problems = [f"<{n}> {c} times" for n in _ONCE_IN_ITEM if (c := len(item.findall(n))) > 1]
    if not (item.findtext("title") or item.findtext("description")):
        problems.append("neither title nor description")
    for name in ("link", "comments"):
        if item.find(name) is not None and (problem := url_problem(item.findtext(name) or "")):
            problems.append(f"{name}: {problem}")
    for guid in item.findall("guid"):
        permalink = guid.get("isPermaLink", "true")
        if permalink not in ("true", "false"):
            problems.append(f"guid isPermaLink={permalink!r}")
        elif permalink == "true" and (problem := url_problem(guid.text or "")):
            problems.append(f"guid is a permalink but {problem}")
    for element in item.findall("pubDate"):
        if problem := rfc822_problem(element.text or ""):
            problems.append(f"pubDate: {problem}")
    for enclosure in item.findall("enclosure"):
        if not (enclosure.get("length") or "").isdigit():
            problems.append(f"enclosure length {enclosure.get('length')!r}")
        if "/" not in (enclosure.get("type") or ""):
            problems.append(f"enclosure type {enclosure.get('type')!r}")
        if problem := url_problem(enclosure.get("url") or ""):
            problems.append(f"enclosure: {problem}")
    for source in item.findall("source"):
        if problem := url_problem(source.get("url") or ""):
            problems.append(f"source url: {problem}")
    for author in item.findall("author"):
        if "@" not in (author.text or ""):
            problems.append(f"author is not an email address: {author.text!r}")
    problems += ["empty category" for c in item.findall("category") if not (c.text or "").strip()]
    return problems


# --- JSON Feed 1.1 -----------------------------------------------------------------------------


@cache
def _json_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def json_problems(data: bytes) -> list[str]:
    document = json.loads(data)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _json_validator().iter_errors(document)]
    ids = Counter(item.get("id") for item in document.get("items", []) if isinstance(item, dict))
    problems += [f"item id {i} used {n} times" for i, n in ids.items() if n > 1]
    for item in document.get("items", []):
        for key in ("date_published", "date_modified"):
            if isinstance(item.get(key), str):
                try:
                    datetime.fromisoformat(item[key])
                except ValueError:
                    problems.append(f"{key} {item[key]!r} is not a real date")
    return problems


# --- every format ----------------------------------------------------------------------------


def reparse_problems(data: bytes) -> list[str]:
    """feedparser, the most lenient widespread reader, must read the feed without complaint."""
    result = feedparser.parse(data)
    problems = [f"feedparser bozo: {result.get('bozo_exception')!r}"] if result.bozo else []
    if not result.get("version"):
        problems.append("feedparser does not recognise the format")
    return problems


def reread_json_problems(data: bytes) -> list[str]:
    """feedparser 6 has no JSON Feed reader, so newsriver's own must take every item back."""
    items = json.loads(data)["items"]
    entries = parse(data, "http://127.0.0.1:8080/", "application/feed+json").entries
    got = [(e.id, e.title) for e in entries]
    expected = [(i["id"], i.get("title", "")) for i in items]
    return [] if got == expected else [f"re-read JSON Feed differs: {got[:3]} … != {expected[:3]} …"]


def format_problems(fmt: str, data: bytes, self_url: str = "") -> list[str]:
    """Everything wrong with one published file, per its format's rules, and re-reading it."""
    if fmt == "json":
        return json_problems(data) + reread_json_problems(data)
    problems = atom_problems(data) if fmt == "atom" else rss_problems(data, self_url)
    return problems + reparse_problems(data)
