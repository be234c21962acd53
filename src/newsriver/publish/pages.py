"""The files for people and for reader discovery: ``index.html`` and OPML lists.

Both are rendered from data only (no clock), so they keep their bytes until something a
subscriber would notice changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from xml.sax.saxutils import quoteattr

from newsriver.publish.render_common import FeedInfo, SourceInfo

FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
FORMAT_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}


@dataclass(frozen=True, slots=True)
class SourceHealth:
    source: SourceInfo
    status: str  # as stored: ok, not_modified, error, …


@dataclass(frozen=True, slots=True)
class FeedSummary:
    info: FeedInfo
    formats: tuple[str, ...]
    item_count: int
    updated: datetime | None
    sources: tuple[SourceHealth, ...]
    archive_url: str = ""  # of the newest archive page, when the feed keeps archives


def render_index(title: str, feeds: Sequence[FeedSummary]) -> bytes:
    alternates = "\n".join(
        f'  <link rel="alternate" type="{FORMAT_TYPES[fmt]}"'
        f" title={quoteattr(f'{f.info.title} ({FORMAT_LABELS[fmt]})')} href={quoteattr(f.info.url(fmt))}>"
        for f in feeds
        for fmt in f.formats
    )
    sections = "\n".join(_feed_section(f) for f in feeds)
    page = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
{alternates}
  <style>
    body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; color: #222; }}
    section {{ border-top: 1px solid #ddd; padding: .5rem 0 1rem; }}
    h2 {{ margin-bottom: .2rem; }} .meta {{ color: #666; font-size: .9rem; }}
    .subscribe a {{ display: inline-block; margin: .2rem .4rem .2rem 0; padding: .2rem .6rem;
      border: 1px solid #888; border-radius: .3rem; text-decoration: none; }}
    .error {{ color: #a00; }} ul {{ padding-left: 1.2rem; }}
  </style>
</head>
<body>
<h1>{escape(title)}</h1>
<p>Paste this page's address into your feed reader, or pick a feed and a format below.</p>
{sections}
</body>
</html>
"""
    return page.encode("utf-8")


def _feed_section(summary: FeedSummary) -> str:
    info = summary.info
    updated = summary.updated.strftime("%Y-%m-%d %H:%M UTC") if summary.updated else "never"
    links = " ".join(
        f"<a href={quoteattr(info.url(fmt))} type={quoteattr(FORMAT_TYPES[fmt])}>{FORMAT_LABELS[fmt]}</a>"
        for fmt in summary.formats
    )
    sources = "\n".join(
        f"    <li>{_source_link(h.source)} — "
        + (
            '<span class="error">failing</span>'
            if h.status == "error"
            # "not modified" is as healthy as "ok"; showing it would rewrite the page on every poll.
            else escape("ok" if h.status == "not_modified" else h.status)
        )
        + "</li>"
        for h in summary.sources
    )
    description = f"<p>{escape(info.description)}</p>" if info.description else ""
    # Each archive page links to the one before it, so the newest opens the whole history.
    url = summary.archive_url
    archive = f" ·\n    <a href={quoteattr(url)}>older items (archive)</a>" if url else ""
    return f"""<section id={quoteattr(info.name)}>
  <h2>{escape(info.title)}</h2>
  {description}
  <p class="meta">{summary.item_count} items · last update {updated} ·
    <a href={quoteattr(info.url("opml"))}>sources as OPML</a>{archive}</p>
  <p class="subscribe">{links}</p>
  <ul>
{sources}
  </ul>
</section>"""


def _source_link(source: SourceInfo) -> str:
    return f"<a href={quoteattr(source.link or source.url)}>{escape(source.title)}</a>"


def render_opml(title: str, sources: Sequence[SourceInfo]) -> bytes:
    outlines = "\n".join(
        f'    <outline type="rss" text={quoteattr(s.title)} title={quoteattr(s.title)} xmlUrl={quoteattr(s.url)}'
        + (f" htmlUrl={quoteattr(s.link)}" if s.link else "")
        + "/>"
        for s in sources
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head>
    <title>{escape(title)}</title>
  </head>
  <body>
{outlines}
  </body>
</opml>
""".encode()
