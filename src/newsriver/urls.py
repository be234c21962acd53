"""URL forms: absolute for display, canonical for identity across sources."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

# Miniflux's list, the most complete one in use; matched case-insensitively.
TRACKING_PREFIXES = ("utm_", "mtm_")
TRACKING_NAMES = frozenset(
    name.lower()
    for name in """
    fbclid _openstat fb_action_ids fb_action_types fb_ref fb_source fb_comment_id
    hmb_campaign hmb_medium hmb_source itm_campaign itm_medium itm_source gclid dclid
    gbraid wbraid gclsrc srsltid campaign_id campaign_medium campaign_name campaign_source
    campaign_term campaign_content yclid ysclid twclid msclkid mc_cid mc_eid mc_tc wickedid
    hsa_cam _hsenc __hssc __hstc __hsfp _hsmi hsctatracking rb_clickid oly_anon_id
    oly_enc_id vero_id vero_conv mkt_tok sc_cid _bhlid _branch_match_id _branch_referrer
    __readwiseLocation
    """.split()
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Browsers drop tabs and line breaks inside a URL and percent-encode other blanks.
_LINE_BREAKS = re.compile(r"[\t\n\r]")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def absolute(url: str, base: str) -> str:
    """Resolve ``url`` against ``base``; an unusable URL comes back stripped, unchanged.

    Whitespace and control characters inside are percent-encoded, as a browser would send
    them, so the result is one token every feed format accepts as a URL.
    """
    url = url.strip()
    if not url:
        return ""
    if _UNSAFE.search(url):
        url = _UNSAFE.sub(lambda m: quote(m.group(0)), _LINE_BREAKS.sub("", url))
    try:
        return urljoin(base, url) if base else url
    except ValueError:
        return url


def is_tracking(name: str, value: str, site_hosts: frozenset[str]) -> bool:
    lowered = name.lower()
    if lowered.startswith(TRACKING_PREFIXES) or lowered in TRACKING_NAMES:
        return True
    # ?ref=example.com is a referral marker, ?ref=v2.1 may be content: only drop the former.
    return lowered == "ref" and value.lower() in site_hosts


def canonical(url: str, site_hosts: frozenset[str] = frozenset()) -> str:
    """The form two outlets' links to one article agree on.

    Lower-case scheme and host, no default port, no fragment, tracking parameters
    removed, every other parameter kept in its order.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return url.strip()
    host = (parts.hostname or "").rstrip(".")
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~") or "/"
    return urlunsplit((scheme, host, path, _without_tracking(parts.query, site_hosts), ""))


def _without_tracking(query: str, site_hosts: frozenset[str]) -> str:
    if not query:  # most article URLs have none: no parsing and encoding of nothing
        return ""
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not is_tracking(k, v, site_hosts)]
    return urlencode(kept, quote_via=quote)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def origin_of(url: str) -> str:
    """``scheme://host:port`` (RFC 6454), the port always written; "" for an unusable URL.

    Two services on one machine are two origins: what one asks (Retry-After, a credential)
    never concerns the other.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or scheme not in _DEFAULT_PORTS:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


# RFC 3986's reserved characters, and "%" so an escape already made is kept as it is.
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"


def as_uri(url: str) -> str:
    """An IRI as the URI it stands for (RFC 3987 §3.1): a non-ASCII host in IDNA, other
    non-ASCII characters as UTF-8 percent-escapes. Atom and RSS validators reject a link
    with raw non-ASCII in it, and some readers do not open it."""
    if url.isascii():
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return quote(url, safe=_URI_SAFE)
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.partition(":")  # an IPv6 literal is ASCII: never here
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = quote(host, safe="")
        netloc = quote(userinfo, safe=_URI_SAFE) + at + host + colon + port
    path, query, fragment = (quote(p, safe=_URI_SAFE) for p in (parts.path, parts.query, parts.fragment))
    return urlunsplit((parts.scheme, netloc, path, query, fragment))
