"""Kept connections: fetches to one origin share a connection, and a kept connection never
takes a fetch where its own route may not go (a real HTTP/1.1 server on 127.0.0.1)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from newsriver.errors import FetchError
from newsriver.ingest.fetch import fetch
from newsriver.models import FetchState

BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@contextmanager
def server(close_after_each: bool) -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server answering 200 (ETag "v1") or 304; yields its URL and the client port
    of every request. ``close_after_each``: it closes each connection after one answer, without
    saying so (as a server whose idle timeout passed does)."""
    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            ports.append(self.client_address[1])
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.end_headers()
            else:
                self.send_response(200)
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)
            self.close_connection = close_after_each

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/feed.xml", ports
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_fetches_to_one_origin_share_a_connection() -> None:
    with server(close_after_each=False) as (url, ports):
        first = fetch(FetchState(url))
        assert first.body == BODY
        again = [fetch(FetchState(url, etag=first.etag)) for _ in range(3)]
    assert [r.status for r in again] == [304, 304, 304]
    assert len(ports) == 4 and len(set(ports)) == 1


def test_a_connection_the_server_closed_is_not_used_again() -> None:
    with server(close_after_each=True) as (url, ports):
        results = [fetch(FetchState(url)) for _ in range(3)]
    assert [r.body for r in results] == [BODY] * 3
    assert len(set(ports)) == 3


def test_a_kept_connection_to_a_private_address_never_serves_a_fetch_that_must_stay_public() -> None:
    with server(close_after_each=False) as (url, ports):
        fetch(FetchState(url))  # configured by the administrator: 127.0.0.1 is allowed
        with pytest.raises(FetchError, match="refused"):
            fetch(FetchState(url, public=True))  # reached from a public address: it may not
    assert len(ports) == 1
