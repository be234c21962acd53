"""The real-world corpora run through newsriver's pipeline: parse → normalize → store → publish.

Files are grouped into chunks (one folder, at most CHUNK files) that share one SQLite file,
so the whole corpus is a few dozen parametrized cases rather than thousands of databases.
A chunk runs once per process (``run_chunk`` is cached) and several test modules read it.
"""

from __future__ import annotations

import re
import tempfile
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from newsriver.errors import ParseError
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
from newsriver.models import Article
from newsriver.publish.formats import RENDERERS
from newsriver.publish.render_common import FeedInfo, SourceInfo
from newsriver.store.store import Store

from .conftest import CORPUS

FEEDS = CORPUS / "feeds"
CHUNK = 150
# The clock normalization runs at: after every dated entry in the corpora (the newest is from
# February 2026), so only deliberately future dates count as "in the future".
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE_URL = "http://127.0.0.1:8080/"
# feedparser's test files carry the HTTP headers they are meant to be served with.
_HEADER = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.MULTILINE)
_DB_DIR = tempfile.TemporaryDirectory(prefix="newsriver-corpus-")


def corpus_files() -> list[Path]:
    """Every feed document of the corpora: everything but licences and expected results."""
    return sorted(
        p
        for p in FEEDS.rglob("*")
        if p.is_file() and not p.name.startswith("LICENSE") and not p.name.endswith(".serde.json")
    )


@cache
def chunks() -> dict[str, tuple[Path, ...]]:
    """Chunk id (folder and part) → its files."""
    by_folder: dict[Path, list[Path]] = {}
    for path in corpus_files():
        by_folder.setdefault(path.parent, []).append(path)
    result = {}
    for folder, paths in by_folder.items():
        name = str(folder.relative_to(FEEDS))
        parts = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
        for number, part in enumerate(parts, 1):
            result[name if len(parts) == 1 else f"{name}#{number}"] = tuple(part)
    return result


def content_type(body: bytes) -> str:
    for name, value in _HEADER.findall(body[:4096]):
        if name.lower() == b"content-type":
            return value.decode("latin-1")
    return ""


def url_of(path: Path) -> str:
    """Where the file is pretended to have been fetched from (nothing is fetched)."""
    return "https://corpus.example/" + str(path.relative_to(FEEDS))


@dataclass(frozen=True)
class FileRun:
    path: Path
    source: str  # the source name it was stored and published under
    articles: tuple[Article, ...] = ()
    parse_error: str = ""  # the ParseError message, when the file is not a feed
    outputs: tuple[tuple[str, bytes], ...] = ()  # (format, published bytes)

    @property
    def name(self) -> str:
        return str(self.path.relative_to(FEEDS))


@dataclass(frozen=True)
class ChunkRun:
    files: tuple[FileRun, ...]
    crashes: tuple[str, ...]  # any exception other than ParseError, with its traceback


def feed_info(source: str) -> FeedInfo:
    return FeedInfo(name=source, title=f"Corpus {source}", description="", base_url=BASE_URL, link=BASE_URL)


@cache
def run_chunk(chunk_id: str) -> ChunkRun:
    """Each file of the chunk as one source: parsed, normalized, stored, published alone."""
    paths = chunks()[chunk_id]
    db_name = re.sub(r"\W+", "_", chunk_id)
    store = Store(f"sqlite:///{_DB_DIR.name}/{db_name}.db")
    names = {path: f"f{i}" for i, path in enumerate(paths)}
    store.sources.sync((names[p], url_of(p)) for p in paths)
    runs, crashes = [], []
    for path in paths:
        try:
            runs.append(_run_file(store, path, names[path]))
        except Exception:
            crashes.append(f"{path.relative_to(FEEDS)}:\n{traceback.format_exc()}")
    store.close()
    return ChunkRun(tuple(runs), tuple(crashes))


def _run_file(store: Store, path: Path, source: str) -> FileRun:
    body = path.read_bytes()
    url = url_of(path)
    try:
        parsed = parse(body, url, content_type(body))
    except ParseError as exc:
        store.sources.update(source, status="error", last_error=str(exc))
        return FileRun(path, source, parse_error=str(exc))
    articles = normalize_feed(parsed, source, url, NOW)
    store.entries.save(source, articles, {"status": "ok", "title": parsed.meta.title, "link": parsed.meta.link})
    row = store.sources.rows()[source]
    sources = {source: SourceInfo(name=source, title=row.title or source, url=row.feed_url, link=row.link)}
    items = store.selection.for_feed([source], 10_000)
    info = feed_info(source)
    outputs = tuple((fmt, render(info, items, sources)) for fmt, render in RENDERERS.items())
    return FileRun(path, source, tuple(articles), outputs=outputs)


def file_run(path: Path) -> FileRun:
    """The run of one corpus file (its whole chunk runs, once)."""
    chunk_id = next(cid for cid, paths in chunks().items() if path in paths)
    return next(run for run in run_chunk(chunk_id).files if run.path == path)
