"""Kept connections: fetches to one origin share a connection, and a kept connection never
takes a fetch where its own route may not go (a real HTTP/1.1 server on 127.0.0.1)."""

from __future__ import annotations

import pytest

from newsriver.errors import FetchError
from newsriver.ingest.fetch import fetch
from newsriver.models import FetchState

from .etag_server import BODY, server


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
