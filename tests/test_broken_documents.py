"""A broken document the parser recovered from: what was read is kept, and the source warns.

Pure parts here (the reading of feedparser's complaint, the source's state after a fetch);
tests/test_end_to_end.py polls a truncated feed over HTTP into both databases."""

from __future__ import annotations

import random
import xml.sax
from datetime import UTC, datetime, timedelta

import pytest

from newsriver.ingest.parse import parse
from newsriver.ingest.parse_feedparser import warning_of
from newsriver.ingest.schedule import Policy, Response
from newsriver.run.outcome import Fetched, Retrieved, settle
from newsriver.run.reset import reset_sources
from newsriver.store.store import Store

from .conftest import CORPUS, CORPUS_MISSING, FIXTURES, HAVE_CORPUS

WHOLE = (FIXTURES / "wire.rss").read_bytes()
CUT = WHOLE[: WHOLE.index(b"<title>Central bank")]  # mid-document, inside the third item
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_truncated_feed_keeps_the_entries_before_the_cut_and_says_it_ends_early() -> None:
    assert parse(WHOLE, "https://wire.example/feed").meta.warning == ""
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
    assert parsed.meta.warning.startswith("the document ends early, without its </rss> (cut off?)")


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


COMMENTED = b"<!-- made by <feedgen> -->\n" + WHOLE[WHOLE.index(b"<rss") :]


@pytest.mark.parametrize(
    ("body", "reason", "read", "expected"),
    [
        (WHOLE, None, 3, ""),  # whole, not bozo
        (WHOLE, ValueError("document declared as us-ascii, but parsed as utf-8"), 3, ""),  # not an XML fault
        (ENTITY, sax("undefined entity"), 3, ""),  # &nbsp; undeclared: read right by the lenient parser
        (b"\n" + WHOLE, sax("XML or text declaration not at start of entity"), 3, ""),  # WordPress's blank line
        (ENTITY[: len(CUT)], sax("undefined entity"), 2, "the document ends early"),  # an entity hides the cut
        (CUT, sax("unclosed token"), 2, "the document ends early"),
        (WHOLE.rstrip()[:-1], sax("unclosed token"), 3, ""),  # cut in </rss>, after its name: nothing lost
        # Faults that lose nothing: every entry was read.
        (WHOLE + b"<p>junk</p>", sax("junk after document element"), 3, ""),
        (WHOLE.replace(b"</title>", b"</titel>", 1), sax("mismatched tag"), 3, ""),
        (WHOLE.replace(b"<rss ", b"<rdf:RDF ").replace(b"</rss>", b"</rdf:RDF>"), sax("unbound prefix"), 3, ""),
        # Fewer entries read than start tags: the fault swallowed one.
        (WHOLE.replace(b"</title>", b"</titel>", 1), sax("mismatched tag"), 2, "1 of 3 entries unreadable"),
        # A tag in a leading comment is not the root: this document has its </rss>.
        (COMMENTED.replace(b"&amp;", b"&"), sax("not well-formed (invalid token)"), 3, ""),
        (COMMENTED[: len(CUT)], sax("unclosed token"), 2, "the document ends early, without its </rss>"),
    ],
    ids=[
        "whole",
        "encoding",
        "entity",
        "blank line first",
        "entity and cut",
        "cut",
        "cut before the last >",
        "junk after",
        "mismatched",
        "rdf",
        "entry lost",
        "commented root",
        "commented root and cut",
    ],
)
def test_which_faults_are_a_warning(body: bytes, reason: object, read: int, expected: str) -> None:
    problem = warning_of(body, reason, read)
    assert problem.startswith(expected) if expected else problem == ""


HARMLESS = [
    WHOLE.replace(b"Stories from the wire", b"Stories & more from the wire"),  # a bare &
    WHOLE.replace(b"Stories from the wire", b"Stories\x0bfrom the wire"),  # a raw control character
    WHOLE.replace(b"<description>", b"<description><p>Read <b>this</b><br></p>", 1),  # unescaped HTML
    WHOLE + b"\n<!-- served by cache --><p>junk</p>",  # junk after </rss>
]


@pytest.mark.parametrize("body", HARMLESS, ids=["bare amp", "control character", "html", "junk after"])
def test_a_fault_that_loses_no_entry_is_no_warning(body: bytes) -> None:
    parsed = parse(body, "https://wire.example/feed")
    assert len(parsed.entries) == 3
    assert parsed.meta.warning == ""


@pytest.mark.skipif(not HAVE_CORPUS, reason=CORPUS_MISSING)
def test_a_double_hyphen_in_a_leading_comment_is_no_warning() -> None:
    path = CORPUS / "feeds/feedparser-tests/wellformed/atom10/entry_title_type_empty-no-crash.xml"
    parsed = parse(path.read_bytes(), "https://example.com/feed")
    assert [e.title for e in parsed.entries] == ["evil"]
    assert parsed.meta.warning == ""


def fetched(got: Retrieved, errors: int = 0, warning: str = "") -> Fetched:
    return Fetched(
        "wire", errors, got, Policy(timedelta(minutes=30)), NOW, random.Random(1).random(), 0.1, None, {}, warning
    )


def test_a_broken_document_makes_the_source_warn_and_an_unchanged_one_keeps_the_warning() -> None:
    problem = "the document ends early, without its </rss> (cut off?): only the entries before the cut were read"
    settled = settle(fetched(Retrieved("ok", Response("ok", 200), warning=problem)))
    assert (settled.values["status"], settled.values["warning"], settled.values["errors"]) == ("warning", problem, 0)
    assert settled.values["last_error"] == ""  # not an error: the document was stored
    assert settled.values["last_success"] == NOW  # a usable feed, not an error
    assert "; warning: the document ends early" in settled.outcome.line()

    # 304: the same document, still broken.
    unchanged = settle(fetched(Retrieved("not modified", Response("not_modified", 304)), warning=problem))
    assert (unchanged.values["status"], unchanged.values["warning"]) == ("warning", problem)
    assert "warning" not in unchanged.outcome.line()  # said once a document, not at every poll

    # A whole document clears it.
    whole = settle(fetched(Retrieved("ok", Response("ok", 200)), warning=problem))
    assert (whole.values["status"], whole.values["last_error"], whole.values["warning"]) == ("ok", "", "")


def test_a_warning_outlasts_failed_fetches_while_the_same_document_is_served() -> None:
    problem = "the document ends early, without its </rss> (cut off?): only the entries before the cut were read"
    # A failed fetch shows the error, and leaves the document's warning where it is.
    failed = settle(fetched(Retrieved("error", Response("error", 500), error="HTTP 500"), warning=problem))
    assert (failed.values["status"], failed.values["last_error"]) == ("error", "HTTP 500")
    assert "warning" not in failed.values
    # The server is back and says the document has not changed: it is still the broken one.
    back = settle(fetched(Retrieved("not modified", Response("not_modified", 304)), errors=2, warning=problem))
    assert (back.values["status"], back.values["last_error"], back.values["warning"]) == ("warning", "", problem)


def test_a_reset_leaves_the_warning_and_its_reason_together(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.sources.sync([("cut", "https://a.example/cut"), ("failing", "https://a.example/failing")])
        warning = "the document ends early, without its </rss> (cut off?)"
        store.sources.update_many(
            [
                ("cut", {"status": "warning", "warning": warning}),
                ("failing", {"status": "error", "last_error": "HTTP 500", "errors": 3, "warning": warning}),
            ]
        )
        reset_sources(store, ["cut", "failing"])
        rows = store.sources.rows()
        # The document has not changed: still the broken one, and why stays beside the state.
        assert (rows["cut"].state, rows["cut"].warning, rows["cut"].last_error) == ("warning", warning, "")
        assert (rows["failing"].state, rows["failing"].last_error, rows["failing"].errors) == ("new", "", 0)
        assert rows["failing"].warning == warning  # shown again once a fetch brings that document back
    finally:
        store.close()
