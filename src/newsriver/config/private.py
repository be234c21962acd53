"""The config fields of private sources and of who may see what.

Per source: how to authenticate (``auth``, ``headers``, ``user_agent``, or userinfo in the
URL), whether its URL may be published (``public``) and whether it may reach non-public
addresses when it did not come from the operator's own hand (``allow_private``). In
``settings``: ``clean_links``, ``admin_networks`` and ``trusted_proxies``. Every secret is
registered with ``redact`` as the config is validated, so no log line can show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote, urlsplit

from newsriver import redact
from newsriver.config.fields import After, Before

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name
# Request headers newsriver sets itself: a source overriding them would break the fetch.
RESERVED_HEADERS = frozenset({"host", "accept-encoding", "if-none-match", "if-modified-since", "content-length"})
# Header values that are never secrets and too common to mask in free text.
PLAIN_HEADERS = frozenset({"accept", "accept-language", "user-agent", "referer", "cache-control", "dnt"})


class Strict:
    """The base of every config model, each a ``@dataclass(frozen=True, kw_only=True)``.

    Unknown keys are errors so a typo ("intervall") is caught instead of ignored (a plain
    dict: pydantic's ``ConfigDict`` is one, and importing it would import pydantic). A check
    across fields is a model's ``__post_init__``: pydantic calls it once the fields are
    valid and reports its ValueError at the model's place, as it did a ``model_validator``.
    Config's checks, of entries against each other, are ``Config.conflicts``: each reported at
    its entry's line, not all at the top level's."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}


@dataclass(frozen=True, kw_only=True)
class BasicAuth(Strict):
    username: str
    password: str


@dataclass(frozen=True, kw_only=True)
class SourceAuth(Strict):
    """``auth:`` of a source: ``basic: {username, password}`` or ``bearer: TOKEN``."""

    basic: BasicAuth | None = None
    bearer: str | None = None

    def __post_init__(self) -> None:
        if (self.basic is None) == (self.bearer is None):
            raise ValueError("give exactly one of basic: {username, password} or bearer: TOKEN")


def _valid_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by newsriver itself")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r}: a value may not contain a line break")
    return headers


@dataclass(frozen=True, kw_only=True)
class SourceAccess(Strict):
    """The private-source fields every ``SourceConfig`` has."""

    url: str
    auth: SourceAuth | None = None  # sent only to the source's own origin
    # likewise: an API key header, a cookie
    headers: Annotated[dict[str, str], After(_valid_headers)] = field(default_factory=dict)
    user_agent: str | None = None  # default newsriver's own
    public: bool = True  # false: the URL appears in no published file; items are credited by title
    # May the source reach non-public addresses? Unset (written by hand): yes, the operator
    # chose it; false (what import-opml writes): public addresses only, now and after any DNS
    # change; true: yes. A feed discovered on another origin needs true.
    allow_private: bool | None = None

    def __post_init__(self) -> None:
        redact.register(self.secrets())  # as it is made: validated (load's cache registers them itself)

    def secrets(self) -> list[str]:
        """Every value of this source that must never be shown."""
        found: list[str] = []
        if self.auth is not None:
            found += [self.auth.basic.password] if self.auth.basic else [self.auth.bearer or ""]
        found += [v for k, v in self.headers.items() if k.lower() not in PLAIN_HEADERS]
        if "@" not in self.url and "?" not in self.url:
            return found  # no userinfo, no query: nothing below to find (asked of every source at each start)
        try:
            parts = urlsplit(self.url)
            password = parts.password
        except ValueError:
            return found
        if password:
            found += [password, unquote(password)]
        for name, rest in redact.split_query(parts.query):
            if rest[1:] and redact.is_secret_name(unquote(name)):
                found += [rest[1:], unquote(rest[1:])]
        return found


def _network(value: object) -> object:
    if isinstance(value, str):
        try:
            return ip_network(value.strip(), strict=False)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP network like 10.0.0.0/8 or ::1/128") from exc
    return value


Network = Annotated[IPv4Network | IPv6Network, Before(_network)]


def _loopback() -> list[IPv4Network | IPv6Network]:
    return [ip_network("127.0.0.1/32"), ip_network("::1/128")]


@dataclass(frozen=True, kw_only=True)
class SettingsAccess(Strict):
    """The settings saying what readers and clients of the built-in server get."""

    clean_links: bool = True  # published links without tracking parameters (urls.TRACKING_*)
    # Who may read /metrics and /healthz; everyone else gets 403.
    admin_networks: list[Network] = field(default_factory=_loopback)
    # Reverse proxies whose X-Forwarded-For names the real client; nobody else's is believed.
    trusted_proxies: list[Network] = field(default_factory=list)
