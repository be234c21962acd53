"""Private sources end to end: credentials reach their own origin only, secrets reach no output.

Real servers on 127.0.0.1 demand the credentials and record every request they receive;
newsriver runs as the operator runs it (the CLI, the service as a subprocess).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import create_engine, select

from newsriver.cli import main
from newsriver.store.schema import rendered_table

from .conftest import FIXTURES, ConfigWriter
from .test_service import Running, entry_count, free_port, wait_for

WIRE = (FIXTURES / "wire.rss").read_bytes()
PASSWORD = "Pl4nted-Passw0rd"
TOKEN = "Pl4nted-Bearer-T0ken"
HEADER_KEY = "Pl4nted-Header-K3y"
QUERY_KEY = "Pl4nted-Query-K3y"
REDIRECT_TOKEN = "Pl4nted-Redirect-T0ken"  # put in a URL by a server: in no config, registered nowhere
MOVED_TOKEN = "Pl4nted-Moved-T0ken"  # likewise, in a 301's Location: the source's new URL
SECRETS = (PASSWORD, TOKEN, HEADER_KEY, QUERY_KEY, REDIRECT_TOKEN, MOVED_TOKEN)


@dataclass
class Answer:
    status: int = 200
    body: bytes = WIRE
    headers: dict[str, str] = field(default_factory=dict)
    needs: dict[str, str] = field(default_factory=dict)  # request headers without which: 401
    query: str = ""  # the query string without which: 401


class RecordingServer:
    """Answers GETs by path, demanding what each route needs; records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        self.received: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.received.append((self.path, headers))
                path, _, query = self.path.partition("?")
                answer = server.routes.get(path)
                if answer is None:
                    self.send_error(404)
                    return
                granted = all(headers.get(k.lower()) == v for k, v in answer.needs.items())
                if not granted or (answer.query and query != answer.query):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="feeds"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(answer.status)
                for name, value in {"Content-Length": str(len(answer.body)), **answer.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.httpd.server_address[1]}{path}"

    def got(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.received if p.partition("?")[0] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[RecordingServer, RecordingServer]]:
    """Two origins on one host: the source's own and another service's."""
    own, other = RecordingServer(), RecordingServer()
    yield own, other
    own.close()
    other.close()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def poll_status(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert main(["--config", str(config), "poll"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "status", "--json"]) == 0
    return {row["source"]: row for row in json.loads(capsys.readouterr().out)}


def test_basic_auth_from_the_url_and_from_auth(
    servers: tuple[RecordingServer, RecordingServer], write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    own, _ = servers
    own.routes["/in-url.rss"] = Answer(needs={"Authorization": basic("reader", PASSWORD)})
    own.routes["/in-auth.rss"] = Answer(needs={"Authorization": basic("reader", PASSWORD)})
    config = write_config(
        [
            {"name": "in-url", "url": own.url("/in-url.rss", f"reader:{PASSWORD}@")},
            {
                "name": "in-auth",
                "url": own.url("/in-auth.rss"),
                "auth": {"basic": {"username": "reader", "password": PASSWORD}},
            },
        ]
    )
    rows = poll_status(config, capsys)
    assert rows["in-url"]["status"] == "ok" and rows["in-url"]["entries"] == 3
    assert rows["in-auth"]["status"] == "ok" and rows["in-auth"]["entries"] == 3
    assert rows["in-url"]["url"] == own.url("/in-url.rss", "***@")  # status shows no password


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bearer_token_and_header_from_the_environment(
    servers: tuple[RecordingServer, RecordingServer],
    write_config: ConfigWriter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own, _ = servers
    own.routes["/api.json"] = Answer(
        needs={"Authorization": f"Bearer {TOKEN}", "X-Feed-Key": HEADER_KEY, "User-Agent": "PrivateReader/2.0"}
    )
    own.routes["/no-token.json"] = Answer(needs={"Authorization": f"Bearer {TOKEN}"})
    monkeypatch.setenv("NR_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("NR_TEST_KEY", HEADER_KEY)
    config = write_config(
        [
            {
                "name": "api",
                "url": own.url("/api.json"),
                "auth": {"bearer": "${NR_TEST_TOKEN}"},
                "headers": {"X-Feed-Key": "${NR_TEST_KEY}"},
                "user_agent": "PrivateReader/2.0",
            },
            {"name": "no-token", "url": own.url("/no-token.json")},
        ]
    )
    assert TOKEN not in config.read_text()  # the secrets stay in the environment
    rows = poll_status(config, capsys)
    assert rows["api"]["status"] == "ok" and rows["api"]["entries"] == 3
    assert rows["no-token"]["status"] == "error" and "401" in rows["no-token"]["last_error"]
    # Another source on the same origin is not sent this one's credentials.
    assert "authorization" not in own.got("/no-token.json")[0]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_to_another_origin_gets_no_credential(
    servers: tuple[RecordingServer, RecordingServer],
    write_config: ConfigWriter,
    capsys: pytest.CaptureFixture[str],
    status: int,
) -> None:
    own, other = servers
    other.routes["/feed.rss"] = Answer()
    own.routes["/feed.rss"] = Answer(
        status=status,
        headers={"Location": other.url("/feed.rss")},
        needs={"Authorization": f"Bearer {TOKEN}", "X-Feed-Key": HEADER_KEY},
    )
    config = write_config(
        [
            {
                "name": "moved",
                "url": own.url("/feed.rss"),
                "auth": {"bearer": TOKEN},
                "headers": {"X-Feed-Key": HEADER_KEY},
                "user_agent": "PrivateReader/2.0",
            }
        ]
    )
    rows = poll_status(config, capsys)
    assert rows["moved"]["entries"] == 3  # the other origin's feed, fetched without credentials
    (sent,) = own.got("/feed.rss")
    assert sent["authorization"] == f"Bearer {TOKEN}" and sent["x-feed-key"] == HEADER_KEY
    (received,) = other.got("/feed.rss")
    assert "authorization" not in received and "x-feed-key" not in received
    assert received["user-agent"].startswith("newsriver/")
    for value in received.values():
        assert not any(secret in value for secret in SECRETS)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_redirect_within_the_origin_keeps_the_credential(
    servers: tuple[RecordingServer, RecordingServer], write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    own, _ = servers
    own.routes["/old.rss"] = Answer(status=302, headers={"Location": "/new.rss"}, needs={"X-Feed-Key": HEADER_KEY})
    own.routes["/new.rss"] = Answer(needs={"X-Feed-Key": HEADER_KEY})
    config = write_config([{"name": "s", "url": own.url("/old.rss"), "headers": {"X-Feed-Key": HEADER_KEY}}])
    assert poll_status(config, capsys)["s"]["entries"] == 3


def page_linking(feed_url: str) -> bytes:
    return f'<html><head><link rel="alternate" type="application/rss+xml" href="{feed_url}"></head></html>'.encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_feed_discovered_on_another_origin_gets_no_credential_and_must_be_allowed(
    servers: tuple[RecordingServer, RecordingServer], write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    own, other = servers
    other.routes["/feed.rss"] = Answer()
    own.routes["/"] = Answer(
        body=page_linking(other.url("/feed.rss")),
        headers={"Content-Type": "text/html"},
        needs={"X-Feed-Key": HEADER_KEY},
    )
    source = {"name": "site", "url": own.url("/"), "headers": {"X-Feed-Key": HEADER_KEY}}
    # The page is the operator's choice; a loopback feed on another origin it links to is not.
    refused = poll_status(write_config([source]), capsys)["site"]
    assert refused["status"] == "error" and "127.0.0.1, a loopback address" in refused["last_error"]
    assert other.got("/feed.rss") == []

    rows = poll_status(write_config([{**source, "allow_private": True}]), capsys)
    assert rows["site"]["entries"] == 3
    (received,) = other.got("/feed.rss")
    assert "x-feed-key" not in received


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_imported_source_stays_on_public_addresses(
    servers: tuple[RecordingServer, RecordingServer], write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    own, _ = servers
    own.routes["/feed.rss"] = Answer()
    # What import-opml writes on a source whose name resolved publicly then, and privately now.
    config = write_config([{"name": "imported", "url": own.url("/feed.rss"), "allow_private": False}])
    row = poll_status(config, capsys)["imported"]
    assert row["status"] == "error" and "loopback" in row["last_error"]
    assert own.got("/feed.rss") == []


def every_file(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path), path.read_bytes()


def assert_no_secret(where: str, data: bytes | str) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for secret in SECRETS:
        assert secret not in text, f"{secret} found in {where}"


def raw_get(port: int, path: str, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """GET over a socket bound to ``source``: any 127.x address is this machine's loopback."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_planted_secrets_appear_in_no_output(
    servers: tuple[RecordingServer, RecordingServer],
    write_config: ConfigWriter,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    own, other = servers
    own.routes["/basic.rss"] = Answer(needs={"Authorization": basic("reader", PASSWORD)})
    own.routes["/bearer.rss"] = Answer(
        body=(FIXTURES / "daily.atom").read_bytes(),
        needs={"Authorization": f"Bearer {TOKEN}", "X-Feed-Key": HEADER_KEY},
    )
    own.routes["/keyed.rss"] = Answer(query=f"key={QUERY_KEY}&lang=en")
    # A failing one: its error, with the URL in it, goes to the log, status and the database.
    own.routes["/failing.rss"] = Answer(status=302, headers={"Location": f"gopher://x/?token={REDIRECT_TOKEN}"})
    own.routes["/old.rss"] = Answer(status=301, headers={"Location": f"/new.rss?session={MOVED_TOKEN}"})
    own.routes["/new.rss"] = Answer(query=f"session={MOVED_TOKEN}")
    other.routes["/hidden.rss"] = Answer(needs={"Authorization": basic("reader", PASSWORD)})
    port = free_port()
    config = write_config(
        [
            {"name": "basic", "url": own.url("/basic.rss", f"reader:{PASSWORD}@")},
            {
                "name": "bearer",
                "url": own.url("/bearer.rss"),
                "auth": {"bearer": TOKEN},
                "headers": {"X-Feed-Key": HEADER_KEY},
            },
            {"name": "keyed", "url": own.url(f"/keyed.rss?key={QUERY_KEY}&lang=en")},
            {"name": "failing", "url": own.url(f"/failing.rss?token={TOKEN}")},
            {"name": "moved", "url": own.url("/old.rss")},
            {
                "name": "hidden",
                "title": "Members only",
                "url": other.url("/hidden.rss"),
                "auth": {"basic": {"username": "reader", "password": PASSWORD}},
                "public": False,
            },
        ],
        listen=f"127.0.0.1:{port}",
        base_url=f"http://127.0.0.1:{port}/",
    )
    service = Running(config, "--log-level", "debug")
    try:
        wait_for(f"http://127.0.0.1:{port}/all.atom", entry_count(port, 4))  # wire's 3 and daily's 2, one shared
        service.wait_log("failing: error")
        metrics = wait_for(f"http://127.0.0.1:{port}/metrics", lambda r: "newsriver_sources_in_error" in r.text)
        health = wait_for(f"http://127.0.0.1:{port}/healthz", lambda r: r.status_code == 200)
    finally:
        assert service.stop() == 0
    assert main(["--config", str(config), "status", "--json"]) == 0
    status = capsys.readouterr().out
    assert main(["--config", str(config), "status"]) == 0
    table = capsys.readouterr().out

    rows = {row["source"]: row for row in json.loads(status)}
    assert {name: rows[name]["status"] for name in rows} == {
        "basic": "ok",
        "bearer": "ok",
        "keyed": "ok",
        "failing": "error",
        "moved": "moved",
        "hidden": "ok",
    }
    for where, data in [
        *every_file(tmp_path / "out"),
        ("the log at debug level", service.text()),
        ("status --json", status),
        ("status", table),
        ("/metrics", metrics.text),
        ("/healthz", health.text),
    ]:
        assert_no_secret(where, data)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rendered = conn.execute(select(rendered_table.c.name, rendered_table.c.body)).all()
    finally:
        engine.dispose()
    assert {name for name, _ in rendered} >= {"all.atom", "index.html", "sources.opml"}
    for name, body in rendered:
        assert_no_secret(f"the database's rendered {name}", body)

    out = tmp_path / "out"
    for name in ("all.atom", "all.rss", "all.json", "index.html"):
        text = (out / name).read_text()
        assert "utm_" not in text, name
        assert name == "index.html" or "cartel-extradition?id=5" in text, name  # the link is there, cleaned
        assert "hidden.rss" not in text and f":{other.httpd.server_address[1]}" not in text, name
    assert "Members only" in (out / "all.atom").read_text()  # its items credited by title
    assert "keyed.rss?lang=en" in (out / "sources.opml").read_text()  # public URL, key removed
    for opml in ("sources.opml", "all.opml"):
        assert "Members only" not in (out / opml).read_text()
    for parsed in (feedparser.parse(out / "all.atom"), feedparser.parse(out / "all.rss")):
        assert not parsed.bozo
    # The operator's own copy keeps every source as configured.
    assert main(["--config", str(config), "sources", "export-opml", "-o", str(tmp_path / "mine.opml")]) == 0
    mine = (tmp_path / "mine.opml").read_text()
    assert PASSWORD in mine and QUERY_KEY in mine and "hidden.rss" in mine


def test_operational_endpoints_answer_admin_networks_only(tmp_path: Path) -> None:
    import ipaddress

    from newsriver.publish.access import AdminAccess
    from newsriver.publish.serve import FeedServer, close_server, make_server

    (tmp_path / "all.atom").write_bytes(b"<feed/>")
    app = FeedServer(
        tmp_path,
        health=lambda: {"status": "ok"},
        metrics=lambda: ("text/plain", b"newsriver_up 1\n"),
        admin=AdminAccess((ipaddress.ip_network("127.0.0.1/32"),)),
    )
    server = make_server(app, "127.0.0.1", 0)
    port = server.effective_port
    threading.Thread(target=server.run, daemon=True).start()
    try:
        assert raw_get(port, "/metrics") == (200, b"newsriver_up 1\n")
        assert raw_get(port, "/healthz")[0] == 200
        assert raw_get(port, "/metrics", source="127.0.0.2")[0] == 403
        assert raw_get(port, "/healthz", source="127.0.0.2")[0] == 403
        assert raw_get(port, "/all.atom", source="127.0.0.2") == (200, b"<feed/>")  # readers are welcome
    finally:
        close_server(server)
