"""HTML from strangers made safe to republish, and the plain text behind it."""

from __future__ import annotations

import html
import re
from typing import Literal

import nh3

# Characters XML 1.0 forbids; feedgen raises on them and readers choke on them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SPACE = re.compile(r"\s+")
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|hr|section|article|figure|figcaption|dd|dt)\b)",
    re.IGNORECASE,
)
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ONE_PX = re.compile(r"""\b(width|height)\s*=\s*["']?\s*[01](?:px)?\s*["'\s/>]""", re.IGNORECASE)

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
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height", "srcset"},
    "iframe": {"src", "width", "height", "allowfullscreen"},
    "video": {"src", "poster", "controls", "width", "height"},
    "audio": {"src", "controls"},
    "source": {"src", "type", "srcset"},
    "abbr": {"title"},
    "time": {"datetime"},
}
# Only plain web links survive: no javascript:, data:, vbscript: or odd custom schemes.
URL_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style", "noscript", "template", "object", "embed", "applet", "title", "head"}


def xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if tag == "iframe" and name == "src":
        return value if _VIDEO_SRC.match(value) else None
    return value


def _drop_tracking_pixels(fragment: str) -> str:
    def keep(match: re.Match[str]) -> str:
        sizes = {m.group(1).lower() for m in _ONE_PX.finditer(match.group(0))}
        return "" if sizes == {"width", "height"} else match.group(0)

    return _IMG_TAG.sub(keep, fragment)


def clean_html(fragment: str, base_url: str = "") -> str:
    """Sanitized HTML with absolute URLs, safe to put in any feed or page."""
    if not fragment:
        return ""
    fragment = xml_safe(fragment)
    if "<img" in fragment or "<IMG" in fragment:
        fragment = _drop_tracking_pixels(fragment)
    relative: tuple[Literal["rewrite_with_base"], str] | Literal["pass_through"] = (
        ("rewrite_with_base", base_url) if base_url.startswith(("http://", "https://")) else "pass_through"
    )
    cleaned = nh3.clean(
        fragment,
        tags=TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        url_relative=relative,
        set_tag_attribute_values={"iframe": {"sandbox": "allow-scripts allow-same-origin allow-popups"}},
    )
    return cleaned.strip()


def to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: entities decoded, whitespace folded."""
    if not fragment:
        return ""
    if "<" in fragment:
        spaced = _BLOCK_TAG.sub(" <", fragment)
        fragment = nh3.clean(spaced, tags=set(), clean_content_tags=_DROP_WITH_CONTENT, attributes={})
    return xml_safe(_SPACE.sub(" ", html.unescape(fragment)).strip())
