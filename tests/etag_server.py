"""A real HTTP/1.1 server on 127.0.0.1 that answers a feed with an ETag, or 304 to a request
that sends it back: for the tests of kept connections, over plain HTTP and TLS."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@contextmanager
def server(close_after_each: bool = False, tls: tuple[Path, Path] | None = None) -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server answering 200 (ETag "v1") or 304; yields its URL and the client port
    of every request. ``close_after_each``: it closes each connection after one answer, without
    saying so (as a server whose idle timeout passed does). ``tls``: a certificate and its key,
    served for ``localhost``."""
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
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        origin = f"https://localhost:{httpd.server_address[1]}"
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"{origin}/feed.xml", ports
    finally:
        httpd.shutdown()
        httpd.server_close()
