"""One exception hierarchy, so callers can catch everything newsriver raises at once."""

from collections.abc import Mapping


class NewsriverError(Exception):
    """Base of every error newsriver raises on purpose."""


class ConfigError(NewsriverError):
    """The configuration is invalid; ``problems`` holds one line per error."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class FetchError(NewsriverError):
    """A source could not be retrieved (network, HTTP status, limits)."""

    def __init__(self, message: str, status: int | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers: Mapping[str, str] = headers or {}


class ParseError(NewsriverError):
    """A retrieved document is not a feed we can read."""


class StoreError(NewsriverError):
    """The database is unusable (wrong schema version, locked by another service)."""
