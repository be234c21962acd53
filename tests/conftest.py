"""Shared fixtures: a real HTTP server on 127.0.0.1 serving feed files, and config writers."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures"
# The external real-world corpus (../shared/corpus beside a checkout; .ci/run sets the variable).
# It is not part of the repository: tests that read it skip without it, except under CI.
CORPUS = Path(os.environ.get("NEWSRIVER_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
CORPUS_MISSING = f"needs the external corpus, not found at {CORPUS} (set NEWSRIVER_CORPUS)"
HAVE_CORPUS = CORPUS.is_dir()
if not HAVE_CORPUS and os.environ.get("CI"):
    raise RuntimeError(f"CI must run every test: {CORPUS_MISSING}")
needs_corpus = pytest.mark.skipif(not HAVE_CORPUS, reason=CORPUS_MISSING)


def skip_module_without_corpus() -> None:
    """For modules that read the corpus while they are collected."""
    if not HAVE_CORPUS:
        pytest.skip(CORPUS_MISSING, allow_module_level=True)


@dataclass
class Route:
    body: bytes
    content_type: str = "application/xml"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer conditional requests like a well-behaved server
    delay: float = 0.0  # seconds before answering: a slow site, so work is in flight


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes = b""


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 refuses connections when several workers fetch at
    # once on a loaded machine; a real site would not.
    request_queue_size = 128


class FixtureServer:
    """Serves configured routes on 127.0.0.1 and records every request it gets."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(Request(self.path, dict(self.headers)))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                if route.delay:
                    time.sleep(route.delay)
                etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                if route.etag and route.status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                if route.etag:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", formatdate(1740000000, usegmt=True))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(route.body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(Request(self.path, dict(self.headers), self.rfile.read(length)))
                route = server.routes.get(self.path.split("?")[0])
                self.send_response(route.status if route else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str | Path, **kwargs: Any) -> str:
        if isinstance(body, Path):
            body = body.read_bytes()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body, **kwargs)
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def own_cache_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's validated-config cache (config/load.py) in a folder of its own, not the
    user's ~/.cache; the commands a test runs in subprocesses inherit it."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.fixture
def feed_server() -> Iterator[FixtureServer]:
    server = FixtureServer()
    yield server
    server.close()


ConfigWriter = Callable[..., Path]


POSTGRES_ADMIN = os.environ.get("NEWSRIVER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_admin() -> Any:
    """An autocommit connection to the test server's maintenance database, or a skip/fail."""
    import psycopg

    try:
        return psycopg.connect(POSTGRES_ADMIN.replace("+psycopg", ""), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend: every test that stores runs on both."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newsriver.db'}"
        return
    admin = _postgres_admin()
    name = f"newsriver_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def write_config(tmp_path: Path, database_url: str) -> ConfigWriter:
    """Write a newsriver.yaml under tmp_path with a fresh database and an output folder there."""

    def write(sources: list[dict[str, Any]], feeds: list[dict[str, Any]] | None = None, **settings: Any) -> Path:
        document: dict[str, Any] = {
            "settings": {
                "database": database_url,
                "output_dir": str(tmp_path / "out"),
                "base_url": "http://127.0.0.1:8080/",
                **settings,
            },
            "sources": sources,
        }
        if feeds is not None:
            document["feeds"] = feeds
        path = tmp_path / "newsriver.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    return write


def poll_one_source_at_a_time(config_path: Path, order: Iterable[str]) -> None:
    """Poll the config's sources one pass each, in ``order``: arrival-order tests."""
    from newsriver.config import load as config_module
    from newsriver.run.poll import poll_sources
    from newsriver.store.store import Store

    config = config_module.load(config_path)
    store = Store(config.settings.database)
    try:
        store.sources.sync((s.name, s.url) for s in config.sources)
        for name in order:
            poll_sources(config, store, names=[name])
    finally:
        store.close()
