"""The built-in server: content types, validators and 304s, and nothing outside the folder."""

from __future__ import annotations

import gzip
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from newsriver.publish.serve import FeedServer, accepts_gzip, close_server, make_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "out"
    root.mkdir()
    (root / "all.atom").write_bytes(b"<feed/>")
    (root / "all.rss").write_bytes(b"<rss/>")
    (root / "all.json").write_bytes(b"{}")
    (root / "index.html").write_bytes(b"<html></html>")
    (root / "sub").mkdir()
    (tmp_path / "secret.txt").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.txt", root / "link.atom")
    server = make_server(FeedServer(root, health=lambda: {"failing_sources": 2}), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", root
    close_server(server)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("all.atom", "application/atom+xml; charset=utf-8"),
        ("all.rss", "application/rss+xml; charset=utf-8"),
        ("all.json", "application/feed+json; charset=utf-8"),
        ("", "text/html; charset=utf-8"),
    ],
)
def test_content_types(served: tuple[str, Path], name: str, content_type: str) -> None:
    base, _ = served
    response = requests.get(f"{base}/{name}", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type


def test_etag_and_last_modified_answer_304(served: tuple[str, Path]) -> None:
    base, root = served
    first = requests.get(f"{base}/all.atom", timeout=5)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = requests.get(f"{base}/all.atom", headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and again.content == b""
    since = requests.get(f"{base}/all.atom", headers={"If-Modified-Since": modified}, timeout=5)
    assert since.status_code == 304
    # A new version of the file gets a new validator and a full answer.
    (root / "all.atom").write_bytes(b"<feed><entry/></feed>")
    changed = requests.get(f"{base}/all.atom", headers={"If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200 and changed.content == b"<feed><entry/></feed>"
    assert changed.headers["ETag"] != etag


def test_head_has_headers_and_no_body(served: tuple[str, Path]) -> None:
    base, _ = served
    response = requests.head(f"{base}/all.rss", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "6"
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%252e%252e/secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/link.atom",
        "/sub",
        "/sub/",
        "/nothing.atom",
    ],
)
def test_nothing_outside_the_folder_and_no_listings(served: tuple[str, Path], path: str) -> None:
    base, _ = served
    response = requests.get(base + path, timeout=5)
    assert response.status_code == 404
    assert b"secret" not in response.content


def test_healthz_reports_json(served: tuple[str, Path]) -> None:
    base, _ = served
    response = requests.get(f"{base}/healthz", timeout=5)
    assert response.json() == {"failing_sources": 2}


def test_healthz_answers_503_with_the_reasons_when_not_ok(tmp_path: Path) -> None:
    report = {"status": "error", "problems": ["storing failed: database or disk is full"]}
    server = make_server(FeedServer(tmp_path, health=lambda: report), "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        response = requests.get(f"http://127.0.0.1:{server.effective_port}/healthz", timeout=5)
    finally:
        close_server(server)
    assert response.status_code == 503
    assert response.json() == report
    assert response.headers["Cache-Control"] == "no-store"


def test_only_get_and_head(served: tuple[str, Path]) -> None:
    base, _ = served
    assert requests.post(f"{base}/all.atom", timeout=5).status_code == 405


def test_gzip_when_accepted_with_its_own_validator(served: tuple[str, Path]) -> None:
    base, root = served
    body = b"<feed>" + b"<entry>same story</entry>" * 200 + b"</feed>"
    (root / "big.atom").write_bytes(body)
    plain = requests.get(f"{base}/big.atom", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert "Content-Encoding" not in plain.headers and plain.content == body
    packed = requests.get(f"{base}/big.atom", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=5)
    raw = packed.raw.read(decode_content=False)
    assert packed.headers["Content-Encoding"] == "gzip"
    # Accept: browsers get .atom as XML (issue 16); the navigation headers: as the XSL view.
    assert packed.headers["Vary"] == "Accept-Encoding, Accept, Sec-Fetch-Dest, Upgrade-Insecure-Requests"
    assert len(raw) < len(body) // 5 and gzip.decompress(raw) == body
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = requests.get(
        f"{base}/big.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}, timeout=5
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip", True),
        ("br, gzip", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*;q=0.1, gzip;q=0", False),
        ("br;q=1, *;q=0", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_parsed_not_searched(header: str, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


def test_gzip_refused_with_q_zero_gets_the_identity(served: tuple[str, Path]) -> None:
    base, root = served
    (root / "big.atom").write_bytes(b"<feed>" + b"<entry/>" * 500 + b"</feed>")
    answer = requests.get(f"{base}/big.atom", headers={"Accept-Encoding": "gzip;q=0, identity"}, timeout=5)
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers


def test_half_open_connections_do_not_lock_readers_out(served: tuple[str, Path]) -> None:
    # A slowloris from one machine: many connections that each sent part of a request and
    # wait. waitress' default limit of 100 connections left a reader no way in.
    base, _ = served
    port = int(base.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(500):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /all.atom HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
            held.append(sock)
        answer = requests.get(f"{base}/all.atom", timeout=10)
        assert answer.status_code == 200 and answer.content == b"<feed/>"
    finally:
        for sock in held:
            sock.close()
