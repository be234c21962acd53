"""The config fields of private sources and of who may see what.

Per source: how to authenticate (``auth``, ``headers``, ``user_agent``, or userinfo in the
URL), whether its URL may be published (``public``) and whether it may reach non-public
addresses when it did not come from the operator's own hand (``allow_private``). In
``settings``: ``clean_links``, ``admin_networks`` and ``trusted_proxies``. Every secret is
registered with ``redact`` as the config is validated, so no log line can show it.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from newsriver import redact

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name
# Request headers newsriver sets itself: a source overriding them would break the fetch.
RESERVED_HEADERS = frozenset({"host", "accept-encoding", "if-none-match", "if-modified-since", "content-length"})
# Header values that are never secrets and too common to mask in free text.
PLAIN_HEADERS = frozenset({"accept", "accept-language", "user-agent", "referer", "cache-control", "dnt"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # see schema._Strict


class BasicAuth(_Strict):
    username: str
    password: str


class SourceAuth(_Strict):
    """``auth:`` of a source: ``basic: {username, password}`` or ``bearer: TOKEN``."""

    basic: BasicAuth | None = None
    bearer: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SourceAuth:
        if (self.basic is None) == (self.bearer is None):
            raise ValueError("give exactly one of basic: {username, password} or bearer: TOKEN")
        return self


class SourceAccess(_Strict):
    """The private-source fields every ``SourceConfig`` has."""

    url: str
    auth: SourceAuth | None = None  # sent only to the source's own origin
    headers: dict[str, str] = {}  # likewise: an API key header, a cookie
    user_agent: str | None = None  # default newsriver's own
    public: bool = True  # false: the URL appears in no published file; items are credited by title
    # May the source reach non-public addresses? Unset (written by hand): yes, the operator
    # chose it; false (what import-opml writes): public addresses only, now and after any DNS
    # change; true: yes. A feed discovered on another origin needs true.
    allow_private: bool | None = None

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by newsriver itself")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r}: a value may not contain a line break")
        return headers

    @model_validator(mode="after")
    def _register_secrets(self) -> SourceAccess:
        redact.register(self.secrets())
        return self

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


Network = Annotated[IPv4Network | IPv6Network, BeforeValidator(_network)]


class SettingsAccess(_Strict):
    """The settings saying what readers and clients of the built-in server get."""

    clean_links: bool = True  # published links without tracking parameters (urls.TRACKING_*)
    # Who may read /metrics and /healthz; everyone else gets 403.
    admin_networks: list[Network] = Field(default_factory=lambda: [ip_network("127.0.0.1/32"), ip_network("::1/128")])
    # Reverse proxies whose X-Forwarded-For names the real client; nobody else's is believed.
    trusted_proxies: list[Network] = []
