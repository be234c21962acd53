"""A broken document the parser recovered from: what was read is kept, and the source warns.

Pure parts here (the reading of feedparser's complaint, the source's state after a fetch);
tests/test_end_to_end.py polls a truncated feed over HTTP into both databases."""

from __future__ import annotations

import random
import xml.sax
from datetime import UTC, datetime, timedelta

import pytest

from newsriver.ingest.parse import parse
from newsriver.ingest.parse_feedparser import broken
from newsriver.ingest.schedule import Policy, Response
from newsriver.run.outcome import Fetched, Retrieved, settle

from .conftest import FIXTURES

WHOLE = (FIXTURES / "wire.rss").read_bytes()
CUT = WHOLE[: WHOLE.index(b"<title>Central bank")]  # mid-document, inside the third item
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_truncated_feed_keeps_the_entries_before_the_cut_and_says_it_ends_early() -> None:
    assert parse(WHOLE, "https://wire.example/feed").meta.broken == ""
    parsed = parse(CUT, "https://wire.example/feed")
    # The third item, which the cut went through, is left out: feedparser gives it empty.
    assert [e.title for e in parsed.entries] == [
        "Mexico hands 29 cartel figures to the United States",
        "Port strike enters third week",
    ]
    # Cut right after an item's end, every item read is whole.
    after = WHOLE[: WHOLE.index(b"<item>", WHOLE.index(b"Port strike"))]
    assert len(parse(after, "https://wire.example/feed").entries) == 2
    # Cut inside an item's text: that item is left out.
    inside = WHOLE[: WHOLE.index(b"extended their strike")]
    assert [e.title for e in parse(inside, "https://wire.example/feed").entries] == [
        "Mexico hands 29 cartel figures to the United States"
    ]
    assert parsed.meta.broken.startswith("the document ends early, without its </rss> (cut off?)")


def sax(message: str) -> xml.sax.SAXParseException:
    return xml.sax.SAXParseException(message, None, locator=_At(12))


class _At:
    def __init__(self, line: int) -> None:
        self.line = line

    def getLineNumber(self) -> int:  # the SAX locator interface, which sax() gives the exception
        return self.line

    def getColumnNumber(self) -> int:
        return 0

    def getSystemId(self) -> None:
        return None

    def getPublicId(self) -> None:
        return None


ENTITY = WHOLE.replace(b"Stories from the wire", b"Stories&nbsp;from the wire")


@pytest.mark.parametrize(
    ("body", "reason", "expected"),
    [
        (WHOLE, None, ""),  # whole, not bozo
        (WHOLE, ValueError("document declared as us-ascii, but parsed as utf-8"), ""),  # not an XML fault
        (ENTITY, sax("undefined entity"), ""),  # &nbsp; undeclared: read right by the lenient parser
        (b"\n" + WHOLE, sax("XML or text declaration not at start of entity"), ""),  # WordPress's blank line
        (ENTITY[: len(CUT)], sax("undefined entity"), "the document ends early"),  # an entity hides the cut
        (CUT, sax("unclosed token"), "the document ends early"),
        (WHOLE + b"<p>junk</p>", sax("junk after document element"), "broken XML (junk after document element"),
        (WHOLE.replace(b"</title>", b"</titel>", 1), sax("mismatched tag"), "broken XML (mismatched tag, line 12)"),
        (WHOLE.replace(b"<rss ", b"<rdf:RDF ").replace(b"</rss>", b"</rdf:RDF>"), sax("unbound prefix"), "broken"),
    ],
    ids=["whole", "encoding", "entity", "blank line first", "entity and cut", "cut", "junk after", "mismatched", "rdf"],
)
def test_which_faults_are_a_warning(body: bytes, reason: object, expected: str) -> None:
    problem = broken(body, reason)
    assert problem.startswith(expected) if expected else problem == ""


def fetched(got: Retrieved, errors: int = 0, warning: str = "") -> Fetched:
    return Fetched(
        "wire", errors, got, Policy(timedelta(minutes=30)), NOW, random.Random(1).random(), 0.1, None, {}, warning
    )


def test_a_broken_document_makes_the_source_warn_and_an_unchanged_one_keeps_the_warning() -> None:
    problem = "the document ends early, without its </rss> (cut off?): only the entries before the cut were read"
    settled = settle(fetched(Retrieved("ok", Response("ok", 200), warning=problem)))
    assert (settled.values["status"], settled.values["last_error"], settled.values["errors"]) == ("warning", problem, 0)
    assert settled.values["last_success"] == NOW  # a usable feed, not an error
    assert "; warning: the document ends early" in settled.outcome.line()

    # 304: the same document, still broken.
    unchanged = settle(fetched(Retrieved("not modified", Response("not_modified", 304)), warning=problem))
    assert (unchanged.values["status"], unchanged.values["last_error"]) == ("warning", problem)
    assert "warning" not in unchanged.outcome.line()  # said once a document, not at every poll

    # A whole document clears it; so does a 304 after failures (the warning was not kept through them).
    whole = settle(fetched(Retrieved("ok", Response("ok", 200)), warning=problem))
    assert (whole.values["status"], whole.values["last_error"]) == ("ok", "")
    after_errors = settle(fetched(Retrieved("not modified", Response("not_modified", 304)), errors=2))
    assert (after_errors.values["status"], after_errors.values["last_error"]) == ("not_modified", "")
