"""fetch's HTTP/1.1 (``ingest/http1.py``) against real servers on 127.0.0.1: answers written
byte for byte by a raw socket server (framings, heads and faults that http.server never
sends), and https with a certificate made for the test (TLS verified, connections kept)."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from newsriver.errors import FetchError
from newsriver.ingest import fetch as fetch_module
from newsriver.ingest.fetch import FetchLimits, fetch
from newsriver.ingest.network import Network
from newsriver.models import FetchState

from .etag_server import BODY, server

LIMITS = FetchLimits(connect_timeout=2, read_timeout=2, deadline=5)


@contextmanager
def raw_server(
    answer: Callable[[int], bytes], tls: tuple[Path, Path] | None = None
) -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads each request's head and writes ``answer(n)`` (n: the request's
    number on its connection, from 0) as it is, then closes the connection if the answer
    ends with b"<close>", or resets it if b"<reset>" (left out of what is sent); else it
    waits for the next request, whatever the answer said. Yields its URL and every request's head.

    Given ``tls`` (a certificate for ``localhost`` and its key), it speaks https, at
    https://localhost:PORT (fetch it through ``LOCALHOST``, trusting the certificate)."""
    heads: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)

    def serve(plain: socket.socket) -> None:
        try:
            conn = plain if context is None else context.wrap_socket(plain, server_side=True)
        except OSError:  # a handshake the client gave up on
            plain.close()
            return
        with conn:
            buffer, n = b"", 0
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = conn.recv(65536)
                    except ssl.SSLError:  # the client closed without TLS's close_notify
                        return
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                heads.append(head)
                reply = answer(n)
                n += 1
                closing, resetting = reply.endswith(b"<close>"), reply.endswith(b"<reset>")
                conn.sendall(reply.removesuffix(b"<close>").removesuffix(b"<reset>"))
                if resetting:  # closed with an RST: the client's next read fails
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if closing or resetting:
                    return

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        port = listener.getsockname()[1]
        yield (f"http://127.0.0.1:{port}" if tls is None else f"https://localhost:{port}") + "/feed.xml", heads
    finally:
        listener.close()


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\nTrailer: x\r\n\r\n"


def test_the_request_is_a_conditional_get_with_host_first() -> None:
    with raw_server(lambda _n: b'HTTP/1.1 304 Not Modified\r\nETag: "v2"\r\n\r\n') as (url, heads):
        result = fetch(FetchState(url, etag='"v1"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT"), LIMITS)
    assert (result.status, result.body, result.etag) == (304, None, '"v2"')
    lines = heads[0].decode().split("\r\n")
    port = url.split(":")[2].split("/")[0]
    assert lines[0] == "GET /feed.xml HTTP/1.1"
    assert lines[1] == f"Host: 127.0.0.1:{port}"
    assert 'If-None-Match: "v1"' in lines and "If-Modified-Since: Tue, 01 Dec 2026 10:00:00 GMT" in lines


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(BODY[:10], BODY[10:]),
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(gzip.compress(BODY)[:7], gzip.compress(BODY)[7:]),
        b"HTTP/1.1 200 OK\n\n%s<close>" % BODY,  # bare line feeds, no length: the body ends with the connection
        b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY),
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), len(BODY), BODY),
        # A length int() refuses though isdigit() takes it: no length, the body ends with the connection.
        "HTTP/1.1 200 OK\r\nContent-Length: \u00b9\r\n\r\n".encode("latin-1") + BODY + b"<close>",
        # The last chunk's line, then the connection's end without the empty line: urllib3 took the body.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n<close>" % (len(BODY), BODY),
    ],
    ids=[
        "length",
        "chunked",
        "gzip-chunked",
        "to-close",
        "http-1.0",
        "100-continue",
        "103-early-hints",
        "length-twice",
        "superscript-length",
        "no-final-crlf",
    ],
)
def test_every_framing_of_a_body_reads_the_same_document(answer: bytes) -> None:
    with raw_server(lambda _n: answer) as (url, _heads):
        assert fetch(FetchState(url), LIMITS).body == BODY


def test_a_folded_header_and_a_repeated_one_read_as_urllib3_read_them() -> None:
    answer = (
        b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\nCache-Control: max-age=60,\r\n  public\r\n'
        b"Date: x\r\nDATE: y\r\n\r\n"
    )
    with raw_server(lambda _n: answer) as (url, _heads):
        result = fetch(FetchState(url, etag='"a"'), LIMITS)
    assert result.headers["cache-control"] == "max-age=60, public"
    assert result.headers["date"] == "x, y"


def test_a_header_repeated_and_folded_joins_each_value_once() -> None:
    answer = b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\nAge: 1\r\nage: 2\r\n 3\r\nAGE: 4\r\n\r\n'
    with raw_server(lambda _n: answer) as (url, _heads):
        assert fetch(FetchState(url, etag='"a"'), LIMITS).headers["age"] == "1, 2 3, 4"


def test_a_hundred_header_lines_are_read_and_more_are_refused() -> None:
    """http.client's bound: a head of a megabyte of short lines cost seconds of CPU that the
    deadline could not stop."""
    head = b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n'
    with raw_server(lambda _n: head + b"a: b\r\n" * 99 + b"\r\n") as (url, _heads):
        assert fetch(FetchState(url, etag='"a"'), LIMITS).status == 304
    flood = head + b"a: b\r\n" * 100 + b"\r\n"
    with raw_server(lambda _n: flood) as (url, _heads), pytest.raises(FetchError, match="more than 100 header lines"):
        fetch(FetchState(url, etag='"a"'), LIMITS)


def test_a_head_cut_short_by_the_connection_is_an_error_not_a_truncated_etag() -> None:
    cut = b'HTTP/1.1 304 Not Modified\r\nETag: "abcdef<close>'
    with (
        raw_server(lambda _n: cut) as (url, _heads),
        pytest.raises(FetchError, match="closed inside the response head"),
    ):
        fetch(FetchState(url, etag='"abcdefgh"'), LIMITS)


def test_a_head_cut_short_by_the_deadline_is_the_deadline_error() -> None:
    """The server sends part of a head and holds the connection: the deadline shuts the
    socket, which reads as the connection's end."""
    limits = FetchLimits(connect_timeout=2, read_timeout=30, deadline=0.5)
    held = b'HTTP/1.1 304 Not Modified\r\nETag: "abcdef'
    with raw_server(lambda _n: held) as (url, _heads), pytest.raises(FetchError, match=r"took longer than 0\.5 s"):
        fetch(FetchState(url, etag='"abcdefgh"'), limits)


def test_a_chunked_body_with_a_content_length_is_read_by_its_chunks_then_the_connection_closed() -> None:
    """RFC 9112 §6.1: Transfer-Encoding wins (the length, far past the cap, is not looked at),
    and the connection is not used again (a server sending both may frame for someone else)."""
    first = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 999999999999\r\n\r\n" + chunked(BODY)
    with raw_server(lambda n: first if n == 0 else b"HTTP/1.1 204 No Content\r\n\r\n") as (url, heads):
        port = int(url.split(":")[2].split("/")[0])
        before = _connections_to(port)
        assert fetch(FetchState(url), LIMITS).body == BODY
        assert fetch(FetchState(url), LIMITS).body == BODY  # the first answer on a new connection
    assert len(heads) == 2
    assert _connections_to(port) - before == 2


def test_a_chunked_body_ending_without_its_final_line_break_leaves_the_connection_unused() -> None:
    last = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(BODY).removesuffix(b"Trailer: x\r\n\r\n")
    with raw_server(lambda n: last + b"<close>") as (url, heads):
        port = int(url.split(":")[2].split("/")[0])
        before = _connections_to(port)
        assert fetch(FetchState(url), LIMITS).body == BODY
        assert fetch(FetchState(url), LIMITS).body == BODY
    assert len(heads) == 2
    assert _connections_to(port) - before == 2


def test_a_kept_connection_that_fails_after_part_of_an_answer_is_not_asked_again() -> None:
    """The server saw the request: sending it again unasked is only safe when nothing came back."""
    answers = [b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n', b"HTTP/1.1 304 Not Mod<reset>"]
    with raw_server(lambda n: answers[min(n, 1)]) as (url, heads):
        assert fetch(FetchState(url, etag='"a"'), LIMITS).status == 304
        with pytest.raises(FetchError):
            fetch(FetchState(url, etag='"a"'), LIMITS)
    assert len(heads) == 2


def test_a_kept_connection_closed_before_any_answer_is_asked_again_on_a_new_one() -> None:
    answers = [b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n', b"<reset>"]
    with raw_server(lambda n: answers[min(n, 1)]) as (url, heads):
        assert fetch(FetchState(url, etag='"a"'), LIMITS).status == 304
        assert fetch(FetchState(url, etag='"a"'), LIMITS).status == 304  # a new connection's first answer
    assert len(heads) == 3


@pytest.mark.parametrize(
    ("answers", "connections"),
    [
        ([b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n'], 1),  # kept
        # The server keeps the socket open: closing it is the client's own decision.
        ([b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\nConnection: close\r\n\r\n'], 3),
        ([b'HTTP/1.0 304 Not Modified\r\nETag: "a"\r\n\r\n'], 3),  # 1.0 closes unless it says keep-alive
        ([b'HTTP/1.0 304 Not Modified\r\nETag: "a"\r\nConnection: keep-alive\r\n\r\n'], 1),
        # Something unasked after the answer: the connection is not used again.
        ([b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'], 3),
    ],
    ids=["1.1", "1.1-close", "1.0", "1.0-keep-alive", "extra-bytes"],
)
def test_a_connection_is_kept_only_when_the_answer_allows(answers: list[bytes], connections: int) -> None:
    with raw_server(lambda n: answers[min(n, len(answers) - 1)]) as (url, heads):
        port = int(url.split(":")[2].split("/")[0])
        before = _connections_to(port)
        for _ in range(3):
            assert fetch(FetchState(url, etag='"a"'), LIMITS).status == 304
        assert len(heads) == 3
        assert _connections_to(port) - before == connections


def test_bytes_after_a_tls_body_in_its_last_record_keep_the_connection_from_being_used_again(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TLS variant of "extra-bytes" above. A body's last read asks for no more than the
    body still needs, and TLS decrypts a whole record: bytes the server sent after the body in
    that record stay inside the SSL object, where poll() does not see them. Kept, the
    connection would give them to the next fetch as the start of its answer (a 304 here)."""
    cert, key = certificate
    # Longer than a TLS record (16 KiB of plain text): the body ends in a later record than its head's.
    body = BODY * (40_000 // len(BODY) + 1)
    unasked = b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s%s" % (len(body), body, unasked)
    with _trusting(cert, monkeypatch), raw_server(lambda _n: answer, tls=(cert, key)) as (url, heads):
        port = int(url.split(":")[2].split("/")[0])
        before = _connections_to(port)
        for _ in range(3):
            result = fetch(FetchState(url), LIMITS, LOCALHOST)
            assert (result.status, result.body) == (200, body)
        assert len(heads) == 3
        assert _connections_to(port) - before == 3


_opened: dict[int, int] = {}


def _connections_to(port: int) -> int:
    """How many connections fetch has opened to ``port`` so far (counted by ``_connect``)."""
    return _opened.get(port, 0)


@pytest.fixture(autouse=True)
def _count_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = fetch_module._connect

    def counting(route: Any, host: str, port: int, timeout: float) -> Any:
        _opened[port] = _opened.get(port, 0) + 1
        return connect(route, host, port, timeout)

    monkeypatch.setattr(fetch_module, "_connect", counting)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", "invalid HTTP response: bad status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "invalid HTTP response: bad status line"),
        ("HTTP/1.1 2\u00b2\u00b2 OK\r\n\r\n".encode("latin-1"), "invalid HTTP response: bad status line"),
        (
            b"HTTP/1.1 302 Found\r\nLocation: http://[x/feed\r\nContent-Length: 0\r\n\r\n",
            "redirected to an invalid URL",
        ),
        (b"HTTP/2.0 200 OK\r\n\r\n", "invalid HTTP response: unknown protocol"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nshort<close>", "before the body's end"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde", "conflicting Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n<close>", "invalid chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc<close>", "inside a chunked body"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * (64 * 1024 + 10) + b"\r\n\r\n<close>", "response head larger than 64 KiB"),
        (b"<close>", "the server closed the connection without answering"),
    ],
    ids=[
        "not-http",
        "status",
        "superscript-status",
        "bad-location",
        "version",
        "cut-short",
        "two-lengths",
        "chunk-size",
        "chunk-cut",
        "huge-head",
        "none",
    ],
)
def test_a_broken_answer_is_a_fetch_error_that_says_what_broke(answer: bytes, message: str) -> None:
    with raw_server(lambda _n: answer) as (url, _heads), pytest.raises(FetchError, match=message):
        fetch(FetchState(url), LIMITS)


_LONG = BODY * 2000  # more than one read's worth
_ZIPPED = gzip.compress(_LONG)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s<reset>" % (len(_LONG), _LONG[: len(_LONG) // 2]),
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s<reset>"
        % (len(_ZIPPED), _ZIPPED[: len(_ZIPPED) // 2]),
    ],
    ids=["plain", "gzip"],
)
def test_a_connection_reset_inside_a_body_reads_alike_whether_the_body_is_coded_or_not(answer: bytes) -> None:
    """fetch reads a plain body itself and a coded one through urllib3's decoding: a failure
    says the same either way (the source's error does not change with the server's gzip)."""
    with (
        raw_server(lambda _n: answer) as (url, _heads),
        pytest.raises(FetchError, match=r"^transfer failed: Connection broken: ConnectionResetError\(") as failed,
    ):
        fetch(FetchState(url), LIMITS)
    assert "Connection reset by peer" in str(failed.value)


def test_a_header_that_would_break_the_request_is_refused() -> None:
    answer = b"HTTP/1.1 304 Not Modified\r\n\r\n"
    with raw_server(lambda _n: answer) as (url, heads), pytest.raises(FetchError, match="cannot send the request"):
        fetch(FetchState(url, etag='"a"\r\nX-Injected: 1'), LIMITS)
    assert heads == []


# --- https ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` and its key, made by the openssl command."""
    return _self_signed(tmp_path_factory.mktemp("tls"), "subjectAltName=DNS:localhost")


LOCALHOST = Network(resolve=lambda _host, _port: ["127.0.0.1"])


def test_https_verifies_the_certificate_and_keeps_the_connection(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    with _trusting(cert, monkeypatch), server(tls=(cert, key)) as (url, ports):
        first = fetch(FetchState(url), LIMITS, LOCALHOST)
        again = fetch(FetchState(url, etag=first.etag), LIMITS, LOCALHOST)
    assert (first.body, again.status) == (BODY, 304)
    assert len(set(ports)) == 1


def test_https_to_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with server(tls=(cert, key)) as (url, ports), pytest.raises(FetchError, match="TLS error"):
        fetch(FetchState(url), LIMITS, LOCALHOST)
    assert ports == []


# --- what fetch works out without urllib3 ---------------------------------------------------


def _by_urllib3(url: str) -> tuple[str, str, int, str, str] | str:
    try:
        return fetch_module._parsed(url)
    except FetchError as exc:
        return str(exc)


def test_a_plain_url_splits_as_urllib3_parses_it() -> None:
    """Wherever the fast split takes a URL, urllib3's parse (with fetch's own use of it)
    gives the same scheme, host, port, request target and Host header."""
    rng = random.Random(19)
    pieces = ["a", "Z", "0", "9", "feed", "xml", "x.y", "/p", "a=b", "-", ".", "..", "/", "//", "/./", "/../"]
    pieces += ["?", "??", "#", "%", "%2f", "%41", "@"]
    pieces += [":", ";", "=", "&", "+", "~", "_", "!", "$", "'", "(", ")", "*", ",", " ", "\t", "é", "ü", "[", "]"]
    hosts = ["example.com", "EXAMPLE.com", "a-b.example", "-a.example", "a-.example", "a..b", "127.0.0.1", "10.1.2.3"]
    hosts += ["xn--nxasmq6b.example", "bücher.example", "[::1]", "user@host.example", "h.example.", "h_x.example", ""]
    ports = ["", ":80", ":443", ":8080", ":0", ":080", ":65535", ":65536", ":99999", ":", ":x"]
    urls = [
        f"{scheme}://{host}{port}{rng.choice(['', '/', '/f/'])}{''.join(rng.choices(pieces, k=rng.randrange(6)))}"
        for scheme in ("http", "https", "HTTP", "ftp")
        for host in hosts
        for port in ports
        for _ in range(12)
    ]
    urls += ["http://example.com", "http://example.com?q=1", "https://example.com/feed.xml?a=b&c=d/e?f"]
    fast = 0
    for url in urls:
        fetch_module._target.cache_clear()
        try:
            split: tuple[str, str, int, str, str] | str = fetch_module._target(url)
        except FetchError as exc:
            split = str(exc)
        assert split == _by_urllib3(url), url
        fast += fetch_module._PLAIN_URL.fullmatch(url) is not None
    assert fast > 300  # the fast split was tried on many of them


def test_accept_encoding_is_what_urllib3_would_send() -> None:
    from urllib3.util import make_headers

    assert make_headers(accept_encoding=True)["accept-encoding"] == fetch_module.ACCEPT_ENCODING


# --- https: the checks urllib3 made -----------------------------------------------------------


def _self_signed(folder: Path, *extension: str) -> tuple[Path, Path]:
    """A self-signed certificate with CN=localhost and ``extension`` (an -addext argument, or none)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"]
    command += [arg for ext in extension for arg in ("-addext", ext)]
    subprocess.run([*command, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@contextmanager
def _trusting(cert: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the system's trust store, for this test: the certificate
    fetch_module._tls.cache_clear()
    try:
        yield
    finally:
        fetch_module._tls.cache_clear()


@pytest.mark.parametrize(
    "extension",
    [(), ("subjectAltName=DNS:other.example",)],
    ids=["common-name-only", "another-name"],
)
def test_https_to_a_trusted_certificate_not_naming_the_host_in_its_alt_names_is_refused(
    extension: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """urllib3 never matches the host against the subject's common name (RFC 6125, and what
    browsers do): a certificate naming ``localhost`` only there is refused, trusted or not."""
    cert, key = _self_signed(tmp_path, *extension)
    with (
        _trusting(cert, monkeypatch),
        server(tls=(cert, key)) as (url, ports),
        pytest.raises(FetchError, match="TLS error") as refused,
    ):
        fetch(FetchState(url), LIMITS, LOCALHOST)
    assert ports == []
    cause = refused.value.__cause__
    assert isinstance(cause, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in cause.verify_message  # trusted, but not for this name


@contextmanager
def _one_tls_answer(
    cert: Path, key: Path, answer: Callable[[ssl.SSLSocket], None], tls12: bool = False
) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that takes one connection, reads its request's head and lets
    ``answer`` write to it (then holds it open until the test ends); yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # a session ticket is then sent in the handshake
    context.load_cert_chain(cert, key)
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            while b"\r\n\r\n" not in tls.recv(65536):
                pass
            answer(tls)
            done.wait(5)

    threading.Thread(target=serve, daemon=True).start()
    try:
        with listener:
            yield listener.getsockname()[1]
    finally:
        done.set()


def test_https_takes_no_session_ticket(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """As urllib3 (OP_NO_TICKET): a TLS 1.2 server gives the kept connection's session no ticket."""
    cert, key = certificate

    def not_modified(tls: ssl.SSLSocket) -> None:
        tls.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n')

    with _trusting(cert, monkeypatch), _one_tls_answer(cert, key, not_modified, tls12=True) as port:
        assert fetch(FetchState(f"https://localhost:{port}/feed.xml", etag='"a"'), LIMITS, LOCALHOST).status == 304
        kept = [
            idle.connection.sock
            for idle in fetch_module._KEPT._idle.get(("https", "localhost", port, LOCALHOST), [])
            if isinstance(idle.connection.sock, ssl.SSLSocket)
        ]
    assert len(kept) == 1
    session = kept[0].session
    assert session is not None and not session.has_ticket


def test_a_tls_record_broken_inside_the_body_is_a_fetch_error(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The body's bytes stop decrypting: urllib3 raises its own SSLError from the body's read."""
    cert, key = certificate

    def broken_body(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + BODY)
        # An application-data record of random bytes, written under the TLS layer.
        with socket.socket(fileno=os.dup(tls.fileno())) as raw:
            raw.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32))

    with (
        _trusting(cert, monkeypatch),
        _one_tls_answer(cert, key, broken_body) as port,
        pytest.raises(FetchError, match="transfer failed"),
    ):
        fetch(FetchState(f"https://localhost:{port}/feed.xml"), LIMITS, LOCALHOST)
