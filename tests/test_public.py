"""What the public and the operator see of URLs, and where a source's credentials may go."""

from __future__ import annotations

import ipaddress

import pytest

from newsriver import redact
from newsriver.config.load import load_text
from newsriver.ingest.credentials import for_source, may_receive
from newsriver.publish.access import AdminAccess
from newsriver.publish.public import clean_link, public_url
from newsriver.urls import origin_of


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://user:pass@feeds.example/feed", "https://feeds.example/feed"),
        ("https://feeds.example/feed?token=abc123&page=2", "https://feeds.example/feed?page=2"),
        ("https://www.patreon.com/rss/x?auth=Zz9&show=1", "https://www.patreon.com/rss/x?show=1"),
        ("https://github.com/o/r/commits.atom?token=GHTOK", "https://github.com/o/r/commits.atom"),
        ("https://x.example/f?api_key=1&apiKey=2&access_token=3&X-Amz-Signature=4&sig=5", "https://x.example/f"),
        ("https://x.example/f?sessionid=1&password=2&secret=3&key=4", "https://x.example/f"),
        ("https://x.example/f?author=jo&keywords=a+b&tag=x", "https://x.example/f?author=jo&keywords=a+b&tag=x"),
        ("https://x.example:8443/f#top", "https://x.example:8443/f#top"),
    ],
)
def test_public_url_drops_userinfo_and_secret_parameters(url: str, public: str) -> None:
    assert public_url(url) == public


def test_display_url_masks_for_the_operator() -> None:
    assert redact.display_url("https://u:p@x.example/f?token=abc&page=2") == "https://***@x.example/f?token=***&page=2"


@pytest.mark.parametrize(
    ("link", "clean"),
    [
        ("https://n.example/a?id=5&utm_source=rss&utm_medium=feed", "https://n.example/a?id=5"),
        ("https://n.example/a?fbclid=1&mc_cid=2&mc_eid=3#part", "https://n.example/a#part"),
        ("https://n.example/a?ref=n.example&x=1", "https://n.example/a?x=1"),
        ("https://n.example/a?ref=v2.1", "https://n.example/a?ref=v2.1"),
        ("https://N.example/A%20b?q=%C3%A9", "https://N.example/A%20b?q=%C3%A9"),  # untouched otherwise
        ("https://n.example/a", "https://n.example/a"),
    ],
)
def test_clean_link_removes_only_tracking(link: str, clean: str) -> None:
    assert clean_link(link) == clean


def test_registered_secrets_are_masked_in_any_text() -> None:
    load_text(
        """
sources:
  - name: paid
    url: https://reader:Pa55-word@paid.example/feed?key=K3y-Value-1
    auth: {bearer: BEARER-xyz-123}
    headers: {X-Api-Key: HEADER-abc-999, Accept-Language: en}
"""
    )
    said = redact.text('got "Pa55-word", K3y-Value-1, BEARER-xyz-123 and HEADER-abc-999 in en')
    assert said == 'got "***", ***, *** and *** in en'


def test_credentials_go_to_the_source_origin_only() -> None:
    config = load_text(
        """
sources:
  - name: a
    url: http://me:secret@feeds.example/feed
    headers: {X-Token: t0k3n}
    user_agent: Private/1.0
"""
    )
    request = for_source(config.sources[0])
    assert request is not None
    base = {"User-Agent": "newsriver", "Accept": "*/*"}
    sent = request.apply(base, "http://feeds.example/other")
    assert sent == {
        "Accept": "*/*",
        "X-Token": "t0k3n",
        "Authorization": "Basic bWU6c2VjcmV0",
        "User-Agent": "Private/1.0",
    }
    assert request.apply(base, "https://feeds.example/feed")["Authorization"]  # the upgrade to TLS
    for elsewhere in (
        "http://feeds.example:8080/feed",  # another port: another service
        "http://cdn.example/feed",
        "https://feeds.example:8443/feed",
        "http://feeds.example.evil.example/feed",
    ):
        assert request.apply(base, elsewhere) == base


def test_no_downgrade_from_https() -> None:
    assert not may_receive("https://feeds.example:443", "http://feeds.example/feed")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8900/a.xml", "http://127.0.0.1:8900"),
        ("HTTP://Example.COM/a", "http://example.com:80"),
        ("https://example.com:443/", "https://example.com:443"),
        ("https://u:p@[::1]:8443/x", "https://[::1]:8443"),
        ("ftp://example.com/", ""),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def environ(peer: str, forwarded: str | None = None) -> dict[str, str]:
    env = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        env["HTTP_X_FORWARDED_FOR"] = forwarded
    return env


def test_admin_access_believes_forwarded_for_only_from_trusted_proxies() -> None:
    access = AdminAccess(
        (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.1.0.0/16")),
        (ipaddress.ip_network("10.9.0.1/32"),),
    )
    assert access.allows(environ("127.0.0.1"))
    assert access.allows(environ("::ffff:127.0.0.1"))
    assert not access.allows(environ("127.0.0.2"))
    assert not access.allows(environ("203.0.113.5", "127.0.0.1"))  # anyone can write the header
    assert not access.allows(environ("10.9.0.1"))  # the proxy itself is not an admin
    assert access.allows(environ("10.9.0.1", "10.1.2.3"))
    assert not access.allows(environ("10.9.0.1", "203.0.113.5"))
    # The client forged a first hop; the proxy appended the address it really came from.
    assert not access.allows(environ("10.9.0.1", "10.1.2.3, 203.0.113.5"))
    assert not access.allows(environ("10.9.0.1", "not-an-address"))
    assert not access.allows({})


def test_json_log_lines_are_scrubbed_too() -> None:
    import logging

    from newsriver.run.logs import JsonFormatter

    redact.register(['quo"te-S3cret'])
    formatter = redact.Scrubbing(JsonFormatter())
    record = logging.LogRecord("t", logging.DEBUG, "", 0, "fetching %s", ("https://u:pw@h.example/?sig=abc",), None)
    record.error = 'server said quo"te-S3cret'
    line = formatter.format(record)
    assert "quo" not in line and "pw@" not in line and "abc" not in line
    assert '"error": "server said ***"' in line and "https://***@h.example/?sig=***" in line
