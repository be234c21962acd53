"""HTTP/1.1 on a socket ``fetch`` has connected (to a vetted address): a GET written in one
send, the response's head parsed from the bytes read, its body framed (Content-Length,
chunked, or to the connection's end) for ``fetch`` to decode.

``fetch`` used urllib3's connection and response objects, and through them ``http.client``
and the email package's header parser: a fetch answered 304 on a kept connection took about
123 µs of CPU (one thread, loopback), 35 µs with this module, of which sending the request
and parsing the answer are about 10. Conditional GETs answered 304 are most of what a poll
does: a warm pass is 1,000 of them. Decoding a body (gzip, deflate, br, bounded in size)
stays urllib3's.

The rules are ``http.client``'s where it has them (the status line, at most 100 header
lines, a header line's folding, keep-alive for HTTP/1.0 and 1.1, when a body is read to the
connection's end) and urllib3's where it adds its own (repeated headers joined by ", ", a
Content-Length given twice with different values refused, a chunked body whose connection
ends after the last chunk's line taken as whole). Stricter than both, for a server that may
be hostile: a head ends only at its empty line (cut short by the connection's end or the
deadline, it is an error, not a head with a truncated ETag) and is at most 64 KiB; digits
are ASCII digits; a Transfer-Encoding sent with a Content-Length wins and the connection is
closed after (RFC 9112 §6.1); a request is sent again on a new connection only when a kept
one ended before any byte of its answer came.
"""

from __future__ import annotations

import re
import select
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsriver.ingest.network import IPAddress

MAX_HEAD = 64 * 1024  # a response's status line and headers: nothing legitimate comes near
MAX_HEADERS = 100  # header lines in a head, as http.client allows; trailer lines after a chunked body
_LINE = 64 * 1024  # a chunk-size or trailer line
_READ = 64 * 1024
_HEAD_END = re.compile(rb"\n\r?\n")  # the empty line after the headers
# http.client's checks of what it sends: a name is a token without a colon, and a value
# holds no line break that is not a folding (a line break followed by a blank).
_LEGAL_NAME = re.compile(r"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_VALUE = re.compile(r"\n(?![ \t])|\r(?![ \t\n])").search
_ILLEGAL_TARGET = re.compile("[\x00-\x20\x7f]").search


class HTTPFault(Exception):
    """The server's answer breaks HTTP/1.1: no valid status line, a head too large, a body
    cut short or badly framed."""


class Unanswered(ConnectionResetError):
    """The connection closed before the first byte of an answer: on a kept connection, the
    server closed it as it sat idle (the request is sent again on a new one)."""


def request_head(target: str, host: str, headers: dict[str, str]) -> bytes:
    """A GET request's line and headers, as ``http.client`` would send them (``Host`` first,
    unless ``headers`` has one); ValueError for a target or header that would break the request."""
    if _ILLEGAL_TARGET(target) or not target.isascii():
        raise ValueError(f"can't send a request target with control characters or spaces: {target!r}")
    lines = [f"GET {target} HTTP/1.1"]
    if not any(name.lower() == "host" for name in headers):
        lines.append(f"Host: {host}")
    for name, value in headers.items():
        if not _LEGAL_NAME(name):
            raise ValueError(f"invalid header name {name!r}")
        if _ILLEGAL_VALUE(value):
            raise ValueError(f"invalid header value {value!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def host_header(host: str, port: int, default_port: int) -> str:
    """The Host header's value for ``host`` (an IPv6 address in brackets), as ``http.client`` writes it."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == default_port else f"{shown}:{port}"


class Head:
    """A response's status line and headers (names in lower case)."""

    __slots__ = ("headers", "reason", "status", "version")

    def __init__(self, status: int, reason: str, version: int, headers: dict[str, str]) -> None:
        self.status = status
        self.reason = reason
        self.version = version  # 10 or 11
        self.headers = headers


class Connection:
    """One connection to one origin: its socket, the address it reached, and what was read
    past the response being parsed (a whole exchange leaves nothing: else it is not kept)."""

    def __init__(self, sock: socket.socket, ip: IPAddress) -> None:
        self.sock: socket.socket | None = sock
        self.ip = ip
        self._buffer = b""
        # A byte of the answer to the last request sent was received: sending the request
        # again (on a new connection) is then no longer safe to do unasked.
        self.answered = False

    @property
    def is_connected(self) -> bool:
        """Open, and nothing to read on it: an idle connection the server closed, or sent
        something unasked on, reads as readable (urllib3's test)."""
        if self.sock is None or not self.drained:
            return False
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buffer = b""

    def send(self, request: bytes) -> None:
        assert self.sock is not None
        self.answered = False
        self.sock.sendall(request)

    def head(self) -> Head:
        """The next final response's head (interim 1xx answers but 101 are passed over)."""
        while True:
            head = self._read_head()
            if not 100 <= head.status < 200 or head.status == 101:
                return head

    def body(self, head: Head) -> Body:
        """The body that follows ``head``, framed by its headers, raw (still content-encoded)."""
        headers = head.headers
        coding = headers.get("transfer-encoding", "").lower()
        chunked = coding.rsplit(",", 1)[-1].strip() == "chunked"
        connection = headers.get("connection", "").lower()
        if head.version == 11:
            will_close = "close" in connection
        else:
            will_close = not ("keep-alive" in connection or "keep-alive" in headers)
        length: int | None = None
        if not coding and "content-length" in headers:
            length = _content_length(headers["content-length"])
        elif coding and "content-length" in headers:
            # Transfer-Encoding wins, but a server sending both may be framing for someone
            # else (request smuggling): RFC 9112 §6.1, the connection is not used again.
            will_close = True
        declared = length
        if head.status in (204, 304) or 100 <= head.status < 200:
            length, chunked = 0, False
        if length is None and not chunked:
            will_close = True  # the body ends with the connection
        return Body(self, length, chunked, will_close, declared)

    # --- reading ----------------------------------------------------------------------------

    def _recv(self, most: int = _READ) -> bytes:
        assert self.sock is not None
        # No more than the body still needs: recv(n) allocates n bytes and gives back what
        # it did not fill, and the remnants of 64 KiB reads that a body's last part did not
        # fill, at 16 fetch threads at once, cost about 2 MB of a cold pass's peak (1,000 feeds).
        data = self.sock.recv(min(most, _READ))
        if data:
            self.answered = True
        return data

    def _read_head(self) -> Head:
        buffer = self._buffer
        searched = 0
        while True:
            end = _HEAD_END.search(buffer, searched, MAX_HEAD + 2)
            if end is not None:
                raw, self._buffer = buffer[: end.start()], buffer[end.end() :]
                break
            if len(buffer) > MAX_HEAD:
                raise HTTPFault(f"response head larger than {MAX_HEAD // 1024} KiB")
            searched = max(len(buffer) - 2, 0)
            data = self._recv()
            if not data:
                if not buffer:
                    raise Unanswered("the server closed the connection without answering")
                # http.client would take what came as the whole head; but a head cut short
                # (by the server, or by the deadline shutting the socket) may end inside a
                # header, and a truncated ETag stored would be sent back forever.
                raise HTTPFault("the connection closed inside the response head")
            buffer += data
        return _parse_head(raw.decode("latin-1"))

    def read_some(self, most: int) -> bytes:
        """Up to ``most`` bytes, what was buffered first; b"" once the connection has ended."""
        if self._buffer:
            data, self._buffer = self._buffer[:most], self._buffer[most:]
            return data
        return self._recv(most)

    def read_line(self) -> bytes | None:
        """One line (a chunk size, a trailer), without its line break; None if the connection
        ended before a line began."""
        buffer = self._buffer
        while True:
            end = buffer.find(b"\n")
            if end >= 0:
                self._buffer = buffer[end + 1 :]
                return buffer[:end].rstrip(b"\r")
            if len(buffer) > _LINE:
                raise HTTPFault("chunked body: a line longer than 64 KiB")
            data = self._recv()
            if not data:
                if buffer:
                    raise HTTPFault("the connection closed inside a chunked body")
                return None
            buffer += data

    @property
    def drained(self) -> bool:
        """Nothing was read past the response's end. On TLS, what came after the body in the
        body's last record is decrypted and held inside the SSL object (a read takes no more
        than the body still needs): poll() sees only the socket, so those bytes would be read
        as the next answer's start; such a connection is closed at once, not kept."""
        if self._buffer:
            return False
        pending = getattr(self.sock, "pending", None)
        return not (pending is not None and pending())


class Body:
    """A response's body as a raw file for urllib3's decoding: ``read`` returns b"" only at
    its end, and the body is ``closed`` once read to its end."""

    def __init__(
        self, connection: Connection, length: int | None, chunked: bool, will_close: bool, declared: int | None
    ) -> None:
        self._connection = connection
        self._left = 0 if chunked else length  # of the body, or of the current chunk when chunked
        self._chunked = chunked
        self.will_close = will_close
        self.closed = length == 0 and not chunked  # read to its end
        self.declared = declared  # the Content-Length that frames the body (none after a Transfer-Encoding)

    @property
    def reusable(self) -> bool:
        """Read to its end, and the connection may carry another request."""
        return self.closed and not self.will_close and self._connection.drained

    def isclosed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def read(self, amt: int | None = None) -> bytes:
        most = amt if amt is not None and amt > 0 else _READ
        if self.closed:
            return b""
        if self._chunked:
            return self._read_chunked(most)
        if self._left is None:  # to the connection's end
            data = self._connection.read_some(most)
            if not data:
                self.closed = True
            return data
        data = self._connection.read_some(min(most, self._left))
        if not data:
            raise HTTPFault(f"the connection closed {self._left} bytes before the body's end")
        self._left -= len(data)
        self.closed = self._left == 0
        return data

    def _read_chunked(self, most: int) -> bytes:
        assert self._left is not None
        if self._left == 0:
            line = self._connection.read_line()
            if line is None:
                raise HTTPFault("the connection closed inside a chunked body")
            try:
                self._left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HTTPFault(f"chunked body: invalid chunk size {line[:40]!r}") from None
            if self._left < 0:
                raise HTTPFault(f"chunked body: invalid chunk size {line[:40]!r}")
            if self._left == 0:  # the last chunk: then trailers, up to an empty line
                self._read_trailers()
                self.closed = True
                return b""
        data = self._connection.read_some(min(most, self._left))
        if not data:
            raise HTTPFault("the connection closed inside a chunked body")
        self._left -= len(data)
        if self._left == 0:
            line = self._connection.read_line()
            if line is None:
                raise HTTPFault("the connection closed inside a chunked body")
            if line:
                raise HTTPFault("chunked body: no line break after a chunk")
        return data

    def _read_trailers(self) -> None:
        for _ in range(MAX_HEADERS + 1):
            line = self._connection.read_line()
            if line is None:
                # The connection ended without the empty line after the last chunk: the body
                # is whole (urllib3 took it so), but the connection is not used again.
                self.will_close = True
                return
            if not line:
                return
        raise HTTPFault(f"chunked body: more than {MAX_HEADERS} trailer lines")


def _content_length(value: str) -> int | None:
    """A Content-Length, possibly sent more than once (joined by ", "): urllib3 refuses differing ones."""
    parts = [part.strip() for part in value.split(",")]
    # isascii(): isdigit() is true of "¹" (int() refuses it) and int() takes "٥" (a digit in Arabic).
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None  # http.client: read to the connection's end
    lengths = {int(part) for part in parts}
    if len(lengths) > 1:
        raise HTTPFault(f"conflicting Content-Length headers: {value}")
    length = lengths.pop()
    return length if length >= 0 else None


def _parse_head(text: str) -> Head:
    lines = text.split("\n")
    status_line = lines[0].rstrip("\r")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise HTTPFault(f"bad status line {status_line[:80]!r}")
    version, code = parts[0], parts[1]
    # isascii(): "2²²" passes isdigit() alone, and int() raises on it.
    if len(code) != 3 or not code.isascii() or not code.isdigit() or not 100 <= int(code) <= 999:
        raise HTTPFault(f"bad status line {status_line[:80]!r}")
    if version in ("HTTP/1.0", "HTTP/0.9"):
        number = 10
    elif version.startswith("HTTP/1."):
        number = 11
    else:
        raise HTTPFault(f"unknown protocol {version[:20]!r}")
    if len(lines) > MAX_HEADERS + 1:
        raise HTTPFault(f"more than {MAX_HEADERS} header lines")  # as http.client refuses them
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}  # a header sent more than once: its values, joined at the end
    last = ""
    for line in lines[1:]:
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t"):  # a folded line continues the header before it
            if last in repeated:
                repeated[last][-1] = f"{repeated[last][-1]} {line.strip()}"
            elif last:
                headers[last] = f"{headers[last]} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            continue  # not a header line: passed over
        value = value.strip()
        last = name
        if name in repeated:
            repeated[name].append(value)
        elif name in headers:
            repeated[name] = [headers[name], value]
        else:
            headers[name] = value
    for name, values in repeated.items():
        headers[name] = ", ".join(values)
    return Head(int(code), parts[2].strip() if len(parts) > 2 else "", number, headers)
