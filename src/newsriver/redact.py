"""Keeping a private source's secrets out of what the operator's tools print.

Two nets, because neither catches everything alone. URLs are shown without their
userinfo and with the values of secret-looking query parameters masked: that covers a
token the server itself put into a redirect. And every secret the config holds (a
password, a bearer token, a header value, a ``?key=`` value) is registered when the
config is loaded, and masked wherever it appears: that covers a secret quoted by an
exception message or a server's error page.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "***"
# Query parameter names that carry credentials: as a whole word of the name (split at
# punctuation and camelCase), or at the end of one ("apikey", "accesstoken").
SECRET_WORDS = frozenset(
    """token key secret auth sig signature password passwd pass pwd session sessionid sid
    credential credentials jwt otp apikey hash hmac ticket nonce private""".split()
)
SECRET_ENDINGS = ("token", "key", "secret", "sig", "signature", "password", "pass", "pwd", "session", "auth")
# Values shorter than this are not masked in free text: masking "en" or "1" everywhere
# would garble every log line and protect nothing a guess would not find.
MIN_SECRET_LENGTH = 4
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
# Each secret as written and as a JSON log line escapes it, longest first: a secret may
# contain a shorter one.
_forms: tuple[str, ...] = ()


def is_secret_name(name: str) -> bool:
    """Whether a query parameter (or header) named ``name`` looks like it carries a credential."""
    words = [w.lower() for w in _WORDS.findall(name)]
    return any(w in SECRET_WORDS or w.endswith(SECRET_ENDINGS) for w in words)


def split_query(query: str) -> list[tuple[str, str]]:
    """``a=1&b`` as raw (name, rest) pairs, rest keeping its ``=``: rejoined, nothing changes."""
    pairs = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        pairs.append((name, eq + value))
    return pairs


def display_url(url: str) -> str:
    """``url`` for the operator's eyes: userinfo and secret-looking parameter values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        query = "&".join(
            name + ("=" + MASK if rest and is_secret_name(unquote_plus(name)) else rest)
            for name, rest in split_query(query)
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def register(values: Iterable[str]) -> None:
    """Remember secrets from the config, to be masked in every text ``text`` cleans."""
    global _secrets, _forms
    new = {v for v in values if len(v) >= MIN_SECRET_LENGTH}
    if new - _secrets:
        with _lock:
            _secrets = _secrets | new
            forms = _secrets | {json.dumps(v)[1:-1] for v in _secrets}
            _forms = tuple(sorted(forms, key=len, reverse=True))


def text(message: str) -> str:
    """``message`` with URLs shown as ``display_url`` shows them and registered secrets masked."""
    if "://" in message:
        message = _URL.sub(lambda m: display_url(m.group(0)), message)
    for form in _forms:
        if form in message:
            message = message.replace(form, MASK)
    return message


class Scrubbing(logging.Formatter):
    """Formats with ``inner``, then cleans the whole line: message, extra fields, traceback."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return text(self.inner.format(record))
