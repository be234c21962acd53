"""The configuration's shape: the models of ``newsriver.yaml``, validated strictly.

Frozen dataclasses that pydantic validates (``validated``) from what each field's
``Annotated`` metadata says (``fields``), so that a config read from load's cache imports no
pydantic. Reading the file (YAML with line numbers, ``${ENV}``) is ``load``'s part."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from newsriver import redact
from newsriver.config.fields import After, Before, Checked, Like
from newsriver.config.private import SettingsAccess, SourceAccess, Strict
from newsriver.stories.thresholds import DEFAULT_HEADLINE_THRESHOLD, DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from newsriver.stories.match import NearPolicy
    from newsriver.stories.related import RelatedPolicy
    from newsriver.stories.retention import RetentionLimits

_Model = TypeVar("_Model")

# Cache-Control: max-age of served files, a fraction of the poll cadence (see Config.cache_max_age).
CACHE_FRACTION = 0.2
CACHE_MIN_SECONDS = 60
CACHE_MAX_SECONDS = 3600
_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest duration a setting takes: a poll time or cut-off this far from now is still a
# date (timedelta and datetime overflow a few thousand years out, with a traceback).
LONGEST = timedelta(days=36_500)


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``1h30m``; a bare number is seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration like 90s, 15m, 2h or 7d")
    if isinstance(value, int | float):
        seconds = value
    else:
        text = str(value).strip().lower()
        parts = _DURATION_PART.findall(text)
        if not parts or _DURATION_PART.sub("", text).strip():
            raise ValueError(f"{value!r} is not a duration like 90s, 15m, 2h or 7d")
        seconds = sum(int(n) * _UNITS[unit] for n, unit in parts)
    if seconds != seconds:  # NaN (.nan in YAML)
        raise ValueError("nan is not a duration like 90s, 15m, 2h or 7d")
    # Compared before timedelta() sees it: .inf and 99999999999w overflow it.
    if abs(seconds) > LONGEST.total_seconds():
        raise ValueError(f"{value!r} is longer than {LONGEST.days:,} days")
    return timedelta(seconds=seconds)


_ADAPTERS: dict[type, Any] = {}  # pydantic's TypeAdapter of each model validated


def validated(model: type[_Model], data: Any) -> _Model:
    """``data`` (as parsed from YAML) checked and made into ``model``; raises pydantic's
    ``ValidationError``, every problem with its location."""
    from pydantic import TypeAdapter

    # Kept: building one is most of validating (a service reloads its config, tests load many).
    adapter: TypeAdapter[_Model] | None = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter.validate_python(data)


Duration = Annotated[timedelta, Before(parse_duration)]
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"  # config/messages.py tells this pattern's failures in words
Slug = Annotated[str, Checked(pattern=SLUG_PATTERN)]


def _regex(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


Regex = Annotated[str | None, After(_regex)]


@dataclass(frozen=True, kw_only=True)
class Rule(Strict):
    """Regular expressions over an article's text; the rule matches when any of them does."""

    title: Regex = None
    content: Regex = None  # searched in the plain text of content and summary
    author: Regex = None
    category: Regex = None

    @property
    def has_patterns(self) -> bool:
        return any(p is not None for p in (self.title, self.content, self.author, self.category))


@dataclass(frozen=True, kw_only=True)
class Selection(Rule):
    """Which stories a feed shows: by source, by tag, by the text of the article each shows."""

    tags: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _longer_than_zero(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0 s")
    return value


PositiveDuration = Annotated[timedelta, Before(parse_duration), After(_longer_than_zero)]
Positive = Checked(ge=1)
Share = Annotated[float, Checked(gt=0, le=1)]


class Inherit(enum.Enum):
    """A source's retention field left out: the settings' value is the source's."""

    SETTINGS = "settings"


@dataclass(frozen=True, kw_only=True)
class SourceRetention(Strict):
    """A source's own retention limits: a field left out takes the settings' value, null lifts it.
    (``Like``: no input is ``Inherit``, it is only the default.)"""

    max_age: Annotated[PositiveDuration | Inherit | None, Like(lambda: PositiveDuration | None)] = Inherit.SETTINGS
    # its newest articles kept
    max_items: Annotated[int | Inherit | None, Like(lambda: Annotated[int | None, Positive])] = Inherit.SETTINGS


@dataclass(frozen=True, kw_only=True)
class Retention(Strict):
    """``settings.retention``: how long articles are kept; null lifts a limit."""

    max_age: PositiveDuration | None = timedelta(days=90)
    max_items_per_source: Annotated[int | None, Positive] = 1000


def _http_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
        raise ValueError(f"{redact.display_url(url)!r} is not an http:// or https:// URL")
    return url


@dataclass(frozen=True, kw_only=True)
class SourceConfig(SourceAccess):  # + auth, headers, user_agent, public, allow_private
    # SourceAccess.__post_init__ registers the source's secrets for redaction: a __post_init__
    # added here must call it.
    name: Slug
    url: Annotated[str, After(_http_url)]
    title: str | None = None
    tags: list[str] = field(default_factory=list)
    interval: PositiveDuration | None = None  # default settings.default_interval
    adaptive: bool | None = None  # default settings.adaptive
    priority: int = 0  # of copies of one story, the highest-priority source's is shown
    keep: Rule | None = None  # only articles matching this are stored
    block: Rule | None = None  # articles matching this are never stored
    retention: SourceRetention | None = None  # overrides settings.retention for this source
    # Teasers get their article's full text from its page (see ingest/fulltext.py); "always":
    # every entry is a teaser, whatever its length.
    full_text: bool | Literal["always"] = False
    full_text_selector: str = ""  # CSS selector of the article body, for sites the extractor gets wrong


def limits_for(settings: Retention, source: SourceConfig | None) -> RetentionLimits:
    """A source's limits: its own ``retention`` fields where it sets them (null: none), else
    the settings'. A source no longer configured gets the settings'."""
    own = source.retention if source is not None else None
    max_age = own.max_age if own is not None else Inherit.SETTINGS
    max_items = own.max_items if own is not None else Inherit.SETTINGS
    from newsriver.stories.retention import RetentionLimits  # pruning's: not at start-up

    return RetentionLimits(
        max_age=settings.max_age if max_age is Inherit.SETTINGS else max_age,
        max_items=settings.max_items_per_source if max_items is Inherit.SETTINGS else max_items,
    )


def _known_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone name like UTC or Europe/Paris") from None
    return name


@dataclass(frozen=True, kw_only=True)
class FeedConfig(Strict):
    name: Slug
    title: str = ""
    description: str = ""
    link: str | None = None  # the feed's web page; default the index page at base_url
    title_prefix: Literal["source"] | None = None  # "source": item titles start with "Source: "
    include: Selection | None = None
    exclude: Selection | None = None
    max_age: PositiveDuration | None = None  # leave out items published longer ago than this
    max_items: Annotated[int, Checked(ge=1, le=10_000)] = 100
    max_per_source: Annotated[int | None, Positive] = None  # so one noisy source cannot flood the river
    formats: list[Literal["atom", "rss", "json"]] = field(default_factory=lambda: ["atom", "rss", "json"])
    dedupe: bool = True  # false: every source's copy of a story is an item of its own
    # "story": an item's id is its story's, the same in every feed; "per-feed": the id differs
    # from feed to feed, for readers that key items by id across subscriptions (newsboat).
    ids: Literal["story", "per-feed"] = "story"
    archive: bool = False  # RFC 5005 monthly archive pages <name>/archive/YYYY-MM.atom (see archive.py)
    timezone: Annotated[str, After(_known_timezone)] = "UTC"  # the days NAME.html groups its items by (an IANA name)
    html: Literal["excerpt", "full"] = "excerpt"  # NAME.html shows a plain-text excerpt, or the sanitized content
    # Other outlets' reports of an item's event: listed with it, or one item per event, or not shown.
    related: Literal["list", "fold", "off"] = "list"

    def __post_init__(self) -> None:
        if self.archive and "atom" not in self.formats:
            raise ValueError("archive: true needs atom in formats: archive pages are Atom, linked from NAME.atom")


@dataclass(frozen=True, kw_only=True)
class RelatedSettings(Strict):
    """``settings.dedupe.related``: independent reports of one event, grouped (never merged).

    On by default: a new entry costs about 0.5-0.9 ms of CPU with 10,000 to 1,000,000 stored
    (benchmarks/related_cost.py), and its precision on article pairs, 0.96-1.00 at recall
    0.80-0.88 held out, reaches its target (benchmarks/related_quality.py). A deployment that
    wants the cheapest pass turns it off.
    """

    enabled: bool = True
    threshold: Share = DEFAULT_THRESHOLD  # TF-IDF cosine of headline + lead
    headline_threshold: Share = DEFAULT_HEADLINE_THRESHOLD  # when one has no lead


@dataclass(frozen=True, kw_only=True)
class DedupeSettings(Strict):
    enabled: bool = True  # fold copies of one story from several sources into one item
    threshold: Share = 0.6  # how alike two texts must be; higher merges less
    window: PositiveDuration = timedelta(days=7)  # how far apart two copies' (and related reports') dates may be
    related: RelatedSettings = field(default_factory=RelatedSettings)

    @property
    def near(self) -> NearPolicy | None:
        """What the store needs to find near-duplicates; None when dedupe is off."""
        from newsriver.stories.match import NearPolicy  # the store's saving needs it, a pass of 304s not

        return NearPolicy(self.threshold, self.window) if self.enabled else None

    @property
    def related_policy(self) -> RelatedPolicy | None:
        """What the store needs to group related coverage; None when that is off."""
        from newsriver.stories.related import RelatedPolicy

        r = self.related
        return RelatedPolicy(r.threshold, r.headline_threshold, self.window) if r.enabled else None


@dataclass(frozen=True, kw_only=True)
class FullTextSettings(Strict):
    """``settings.full_text``: how politely pages of ``full_text`` sources are fetched."""

    teaser_chars: Annotated[int, Checked(ge=0)] = 500  # an entry with less text is a teaser
    spacing: Duration = timedelta(seconds=2)  # between two page requests to one site
    pages_per_source: Annotated[int, Positive] = 10  # a pass; the rest wait for the next, oldest first
    max_bytes: Annotated[int, Checked(ge=1024)] = 2 * 1024 * 1024  # a larger page is skipped
    threads: Annotated[int, Checked(ge=1, le=32)] = 2  # page fetches at once, all sites together


def _trailing_slash(url: str) -> str:
    # base_url is a folder: feed URLs are base_url + file name.
    return url if url.endswith("/") else url + "/"


def _host_port(listen: str) -> str:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r} is not HOST:PORT")
    return listen


def _byte_size() -> Any:
    # "100MB", "1.5 GiB" or a number, as pydantic's ByteSize reads them, kept as a plain int
    # (a ByteSize in the cached config would make reading it import pydantic).
    from pydantic import ByteSize

    return Annotated[ByteSize, After(int)]


@dataclass(frozen=True, kw_only=True)
class Settings(SettingsAccess):  # + clean_links, admin_networks, trusted_proxies
    title: str = "newsriver"  # heading of the index page
    front_page_items: Annotated[int, Checked(ge=0, le=100)] = 5  # the newest headlines of each feed on index.html
    public_status: bool = False  # status.html lists every source's health; failing sources are the operator's business
    templates: Path | None = None  # a folder of templates (a theme) overriding the bundled ones by file name
    websub_hubs: list[str] = field(default_factory=list)  # pinged after a feed changes; advertised as rel=hub
    database: str = "sqlite:///var/newsriver.db"
    output_dir: Path = Path("feeds")
    base_url: Annotated[str, After(_trailing_slash)] = "http://127.0.0.1:8080/"
    listen: Annotated[str, After(_host_port)] = "127.0.0.1:8080"
    default_interval: PositiveDuration = timedelta(minutes=30)
    concurrency: Annotated[int, Checked(ge=1, le=256)] = 8
    host_concurrency: Annotated[int, Checked(ge=1, le=64)] = 2  # fetches at once to one host
    adaptive: bool = True  # poll at each source's publishing rate, within min/max_interval
    min_interval: PositiveDuration = timedelta(minutes=5)
    max_interval: PositiveDuration = timedelta(hours=24)  # also the cap of error backoff
    jitter: Annotated[float, Checked(ge=0, le=0.5)] = 0.1  # ±10 % spread of poll times
    connect_timeout: PositiveDuration = timedelta(seconds=10)
    timeout: PositiveDuration = timedelta(seconds=30)  # longest silence while reading a response
    deadline: PositiveDuration = timedelta(seconds=60)  # a whole fetch, redirects included
    # CPU time a document's parse may take (a feed of 5,000 entries takes about 1.5 s);
    # past it the parse is stopped and its source is in error until the document changes.
    parse_timeout: PositiveDuration = timedelta(seconds=10)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    retention: Retention = field(default_factory=Retention)
    full_text: FullTextSettings = field(default_factory=FullTextSettings)
    # Many workers on one database (PostgreSQL): how long a claimed source stays a worker's
    # before others may take it over, and how often the service looks for due work.
    lease: PositiveDuration = timedelta(minutes=2)
    tick: PositiveDuration = timedelta(seconds=5)
    # /healthz reports an error when the database's or the output folder's disk has less free.
    min_free_space: Annotated[int, Like(_byte_size)] = 100 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval is longer than max_interval")

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


def _everything() -> list[FeedConfig]:
    return [FeedConfig(name="all", title="All sources")]


@dataclass(frozen=True, kw_only=True)
class Config(Strict):
    settings: Settings = field(default_factory=Settings)
    # may start empty and be filled by `sources import-opml`
    sources: list[SourceConfig] = field(default_factory=list)
    feeds: list[FeedConfig] = field(default_factory=_everything)

    def conflicts(self) -> list[tuple[tuple[str | int, ...], str]]:
        """What the fields, each valid, say against each other, each at the path of the entry
        that says it: load reports them by line. (Not ``__post_init__``: pydantic would report
        its ValueError at the top level, line 1, all problems in one message.)"""
        found: list[tuple[tuple[str | int, ...], str]] = []
        for kind, names in (("sources", [s.name for s in self.sources]), ("feeds", [f.name for f in self.feeds])):
            seen: set[str] = set()
            for index, name in enumerate(names):
                if name in seen:
                    found.append(((kind, index, "name"), f"{kind[:-1]} name {name!r} is used twice"))
                seen.add(name)
        known_sources = {s.name for s in self.sources}
        known_tags = {t for s in self.sources for t in s.tags}
        for index, feed in enumerate(self.feeds):
            for key, verb, selection in (("include", "includes", feed.include), ("exclude", "excludes", feed.exclude)):
                if selection is None:
                    continue
                place = ("feeds", index, key)
                for at, name in enumerate(selection.sources):
                    if name not in known_sources:
                        found.append(((*place, "sources", at), f"feed {feed.name!r} {verb} unknown source {name!r}"))
                for at, tag in enumerate(selection.tags):
                    if tag not in known_tags:
                        found.append(
                            ((*place, "tags", at), f"feed {feed.name!r} {verb} tag {tag!r} that no source has")
                        )
        return found

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def interval(self, source: SourceConfig) -> timedelta:
        # "is None", not "or": a zero interval is refused by validation, never a default.
        return source.interval if source.interval is not None else self.settings.default_interval

    def cache_max_age(self) -> int:
        """Seconds a reader or a cache may reuse a published file before asking again.

        A fifth of the shortest time between two polls of a source (an adaptive source may
        speed up to ``min_interval``), kept within 1 min … 1 h: caching then delays an update
        by at most a fifth of what polling already may, and a changed feed title or rule
        reaches every reader within the hour however slow the sources.
        """
        settings = self.settings
        shortest = min(
            (
                min(self.interval(s), settings.min_interval)
                if (settings.adaptive if s.adaptive is None else s.adaptive)
                else self.interval(s)
                for s in self.sources
            ),
            default=settings.default_interval,
        )
        return min(max(int(shortest.total_seconds() * CACHE_FRACTION), CACHE_MIN_SECONDS), CACHE_MAX_SECONDS)

    def feed_sources(self, feed: FeedConfig) -> list[str]:
        """The config names of the sources an output feed draws from."""
        chosen = self.sources
        if feed.include is not None and (feed.include.tags or feed.include.sources):
            tags = set(feed.include.tags)
            chosen = [s for s in chosen if s.name in feed.include.sources or tags.intersection(s.tags)]
        if feed.exclude is not None:
            tags = set(feed.exclude.tags)
            chosen = [s for s in chosen if s.name not in feed.exclude.sources and not tags.intersection(s.tags)]
        return [s.name for s in chosen]
