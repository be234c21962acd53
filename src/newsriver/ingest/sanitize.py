"""HTML from strangers made safe to republish, and the plain text behind it."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Literal

import nh3

# Characters XML 1.0 forbids; feedgen raises on them and readers choke on them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|hr|section|article|figure|figcaption|dd|dt)\b)",
    re.IGNORECASE,
)
# Something an HTML tokenizer would start a tag, comment or declaration at.
_TAG_START = re.compile(r"<[A-Za-z!/?]")

# html5ever (under nh3) checks the stack of open elements at every tag, so a fragment nested
# n deep costs O(n²): 40,000 nested <div>s took 4.6 s, a hostile feed's 150,000 minutes. No
# article needs markup nested anywhere near this deep, so tags beyond it are dropped (their
# text stays) before nh3 parses, which keeps sanitizing linear in the input.
MAX_DEPTH = 128
# A tag: "<", "/" if it closes, its name, anything up to the first ">" (a greedy run: the lazy
# one it replaces, which looked for "/>" at every character, took twice as long).
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*>")
# Elements that never hold others, or whose end tag is implied by the next sibling (a run
# of <p> or <li> does not nest), so they do not count towards the depth.
_NOT_NESTING = frozenset(
    "area base br col embed hr img input link meta source track wbr p li dt dd tr td th option".split()
)
# Where a tag that adds a level may start: "<", then a name that is none of those (the
# pattern finds every opening _TAG match that counts, and more: self-closing tags, and
# names with no ">" after them). Only the "<" is matched, a string findall need not build.
# ASCII case folding only, as _TAG's names: Unicode's would read "lin\u212a" (Kelvin sign) as link.
_MAY_OPEN = re.compile(
    rf"<(?=[A-Za-z])(?!(?:{'|'.join(sorted(_NOT_NESTING))})(?![A-Za-z0-9-]))", re.IGNORECASE | re.ASCII
)

# The patterns below run on nh3's output, which is serialized canonically: lower-case names,
# every attribute value in double quotes with '"' and '>' escaped. That is what makes a regular
# expression exact there, where on the raw input it would be a guess.
_IMG = re.compile(r"<img\s[^>]*>")
_PIXEL_SIZE = re.compile(r'\s(width|height)="\s*[01](?:px)?\s*"')
_IMG_SRC = re.compile(r'\ssrc="https?://([^/"]+)')
# An iframe whose src was refused (not a video player) would be an empty box: drop it whole.
_IFRAME_WITHOUT_SRC = re.compile(r'<iframe(?:\s(?!src=)[\w-]+="[^"]*")*>.*?</iframe>', re.DOTALL)

# Hosts that serve only tracking beacons, often without a size that gives them away.
BEACON_HOSTS = frozenset(
    {
        "feeds.feedburner.com",
        "feedproxy.google.com",
        "pixel.wp.com",
        "stats.wordpress.com",
        "pixel.quantserve.com",
        "www.google-analytics.com",
        "da.feedsportal.com",
        "api.flattr.com",
    }
)
VIDEO_HOSTS = (
    "www.youtube.com",
    "www.youtube-nocookie.com",
    "youtube.com",
    "player.vimeo.com",
    "www.dailymotion.com",
    "player.twitch.tv",
    "www.bitchute.com",
    "rumble.com",
)
_VIDEO_SRC = re.compile(r"^https://(?:" + "|".join(re.escape(h) for h in VIDEO_HOSTS) + r")/", re.IGNORECASE)

TAGS = (nh3.ALLOWED_TAGS - {"map", "area"}) | {"iframe", "figure", "figcaption", "picture", "source", "video", "audio"}
# No srcset and no cite: nh3 checks neither against URL_SCHEMES (a srcset can carry data: or
# javascript: URLs) nor makes them absolute, and readers lose nothing without them.
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) - {"cite"} for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "iframe": {"src", "width", "height", "allowfullscreen"},
    "video": {"src", "poster", "controls", "width", "height"},
    "audio": {"src", "controls"},
    "source": {"src", "type"},
    "abbr": {"title"},
    "time": {"datetime"},
}
# Only plain web links survive: no javascript:, data: (not even images: an SVG data: URL can
# carry script, and inlined images are rare in feeds), vbscript: or odd custom schemes.
URL_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style", "noscript", "template", "object", "embed", "applet", "title", "head"}


# ASCII text (most text) is cleaned by bytes.translate, a table lookup a character, where a
# pattern tests its character class at every position: encoding, translating and decoding
# 2 kB costs a quarter of one _XML_ILLEGAL.sub.
_ASCII_ILLEGAL = bytes(c for c in range(128) if _XML_ILLEGAL.match(chr(c)))
_ASCII_BLANKS = bytes(c for c in range(128) if chr(c).isspace())  # what str.split() splits at
_BLANKS_AS_SPACES = bytes.maketrans(_ASCII_BLANKS, b" " * len(_ASCII_BLANKS))


def xml_safe(text: str) -> str:
    if text.isascii():
        return text.encode("ascii").translate(None, _ASCII_ILLEGAL).decode("ascii")
    # Every character the pattern removes is unprintable, and most text is printable throughout.
    return text if text.isprintable() else _XML_ILLEGAL.sub("", text)


def _fold_spaces(text: str) -> str:
    """``" ".join(text.split())``: runs of whitespace as one space, none at either end.

    ASCII text is folded at less than half the cost, without a string per word: every blank
    made a space by one translate, then the text split only where two or more spaces meet.
    """
    if not text.isascii():
        return " ".join(text.split())
    runs = text.encode("ascii").translate(_BLANKS_AS_SPACES).decode("ascii").split("  ")
    return " ".join(filter(None, [run.strip(" ") for run in runs]))


# A numeric character reference to a surrogate, past U+10FFFF, or too long to be a number at
# all: feedparser's loose parser raises on any of them (UnicodeEncodeError, ValueError,
# OverflowError), failing the whole source for one bad character. Only references of four
# hex or five decimal digits or more (leading zeros aside) can be one: the common short ones
# ("&#39;", "&#x2F;") are left to the pattern, which leaves them, not to _checked_ref.
_CHAR_REF = re.compile(rb"&#(?:[xX]0*([0-9A-Fa-f]{4,})|0*([0-9]{5,}));")
_REPLACEMENT_REF = b"&#xFFFD;"


def _checked_ref(ref: re.Match[bytes]) -> bytes:
    digits = ref.group(1) or ref.group(2)
    if len(digits) > 8:  # past U+10FFFF however it is spelt, and no huge int is built
        return _REPLACEMENT_REF
    code = int(digits, 16) if ref.group(1) is not None else int(digits)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return _REPLACEMENT_REF
    return ref.group(0)


def replace_bad_char_refs(document: bytes) -> bytes:
    """The document with references to no Unicode character replaced by U+FFFD's."""
    # "#" is looked for first: a byte is found by memchr, while a search for "&#" stops at
    # every "&" of the escaped markup that fills feeds (a seventh of the cost of parsing a
    # farm document's 50 entries, where none holds a "#").
    if b"#" not in document or b"&#" not in document:
        return document
    return _CHAR_REF.sub(_checked_ref, document)


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if tag == "iframe" and name == "src":
        return value if _VIDEO_SRC.match(value) else None
    return value


def _is_tracker(img: str) -> bool:
    """A 1×1 (or 0×0) image, or any image from a beacon host."""
    if len({m.group(1) for m in _PIXEL_SIZE.finditer(img)}) == 2:
        return True
    host = _IMG_SRC.search(img)
    return host is not None and host.group(1).lower() in BEACON_HOSTS


def _cleaner(url_relative: Literal["pass_through"] | tuple[Literal["rewrite_with_base"], str]) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        url_relative=url_relative,
        set_tag_attribute_values={"iframe": {"sandbox": "allow-scripts allow-same-origin allow-popups"}},
    )


# Building a cleaner costs several times what cleaning a 2 kB article does, so cleaners are
# built once: one that leaves relative URLs alone, and one per base URL (few per feed).
_PASS_THROUGH = _cleaner("pass_through")
# ammonia rewrites only these attributes, and only a value that is not an absolute URL; every
# absolute one it keeps must have one of URL_SCHEMES. So when none of them is left relative,
# the pass-through result is exactly what rewriting against a base would have produced.
_URL_ATTRIBUTES = frozenset({"href", "src", "poster", "action", "data", "formaction", "ping"})
# One of them, after a space (or first), whose value is no absolute URL. The pattern opens
# with '="', a literal it skips to fast; the names are looked behind at each, in C: most
# '="' are rel="noopener noreferrer" (on every link), alt= and title=.
_NAMED_BEHIND = "|".join(f'(?<= {name}=")|(?<=^{name}=")' for name in sorted(_URL_ATTRIBUTES))
_RELATIVE_URL = re.compile(f'="(?:{_NAMED_BEHIND})(?!https?:|mailto:)')
_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=_DROP_WITH_CONTENT, attributes={})


def _has_relative_url(cleaned: str) -> bool:
    """Whether nh3's canonical output (lower-case names, values in double quotes) keeps a relative URL."""
    return _RELATIVE_URL.search(cleaned) is not None


@lru_cache(maxsize=64)
def _with_base(base_url: str) -> nh3.Cleaner:
    return _cleaner(("rewrite_with_base", base_url))


def flatten_deep(fragment: str, max_depth: int = MAX_DEPTH) -> str:
    """The fragment with every tag nested deeper than ``max_depth`` removed, in one linear pass.

    The depth is the count of open elements as the markup spells them (a guess where the HTML
    is malformed, which is fine: nh3 still sanitizes whatever this returns, and only tags,
    never text, are removed).
    """
    # Too few tags that could each open a level, and it cannot be that deep: what most
    # fragments cost is one count, or for a long article one search.
    if fragment.count("<") <= max_depth or len(_MAY_OPEN.findall(fragment)) <= max_depth:
        return fragment
    return _flattened(fragment, max_depth)


def _flattened(fragment: str, max_depth: int) -> str:
    depth = 0
    parts: list[str] = []
    kept = 0
    for tag in _TAG.finditer(fragment):
        closing, name = tag.groups()
        if fragment[tag.end() - 2] == "/" or name.lower() in _NOT_NESTING:  # "<br/>" or <br>
            continue
        if closing:
            drop = depth > max_depth
            depth = max(depth - 1, 0)
        else:
            depth += 1
            drop = depth > max_depth
        if drop:
            parts.append(fragment[kept : tag.start()])
            kept = tag.end()
    if not parts:
        return fragment
    parts.append(fragment[kept:])
    return "".join(parts)


def clean_html(fragment: str, base_url: str = "") -> str:
    """Sanitized HTML with absolute URLs, safe to put in any feed or page."""
    if not fragment:
        return ""
    safe = flatten_deep(xml_safe(fragment))
    cleaned = _PASS_THROUGH.clean(safe)
    if base_url.startswith(("http://", "https://")) and _has_relative_url(cleaned):
        cleaned = _with_base(base_url).clean(safe)
    if "<img" in cleaned:
        cleaned = _IMG.sub(lambda m: "" if _is_tracker(m.group(0)) else m.group(0), cleaned)
    if "<iframe" in cleaned:
        cleaned = _IFRAME_WITHOUT_SRC.sub("", cleaned)
    return cleaned.strip()


def _strip_tags(fragment: str) -> str:
    spaced = _BLOCK_TAG.sub(" <", flatten_deep(fragment))
    return html.unescape(_TEXT_ONLY.clean(spaced))


def to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace folded.

    Markup that was escaped once too often ("&amp;lt;script&amp;gt;") decodes to a tag;
    it is stripped as well, because several RSS readers render titles as HTML.
    """
    if not fragment:
        return ""
    text = _strip_tags(fragment) if "<" in fragment else html.unescape(fragment)
    while _TAG_START.search(text):
        text = _strip_tags(text)
    return xml_safe(_fold_spaces(text))
