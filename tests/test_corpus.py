"""Every file of the real-world corpora through parse → normalize → store → publish.

feedparser's own test suite (2,248 feeds), feed-rs's captured feeds and Miniflux's feeds and
wrong-charset cases: no file may raise anything but ParseError, every feed must publish all
three formats, and every published file must be valid (tests/feedcheck.py). Run
``benchmarks/corpus_report.py`` for the counts.
"""

from __future__ import annotations

import json

import pytest

from newsriver.cli import main

from .conftest import ConfigWriter, FixtureServer, skip_module_without_corpus
from .corpus import BASE_URL, FEEDS, chunks, corpus_files, feed_info, run_chunk
from .feedcheck import format_problems

skip_module_without_corpus()

CHUNKS = list(chunks())
# The files that are not feeds, and why: each must be a recorded source error, and nothing
# else may be one.
NOT_FEEDS = {
    # Generic XML documents, in the corpora to show a parser refuses them politely.
    "feed-rs/xml/xml_sample_1.xml": "broken XML|no RSS",
    "feed-rs/xml/xml_sample_2.xml": "no RSS",
    "miniflux/xml/iso88591.xml": "no RSS",
    "miniflux/xml/iso88591_utf8_mismatch.xml": "no RSS",
    # Compressed bodies: a feed only after HTTP Content-Encoding, which fetch undoes.
    "feedparser-tests/compression/deflate-no-headers.z": "broken XML",
    "feedparser-tests/compression/deflate.z": "broken XML",
    "feedparser-tests/compression/gzip-struct-error.gz": "broken XML",
    "feedparser-tests/compression/gzip.gz": "broken XML",
    # Empty documents.
    "feedparser-tests/http/http_status_302-no-location.xml": "broken XML",
    "feedparser-tests/illformed/rss_empty_document.xml": "broken XML",
    # HTML pages (Miniflux's charset-detection cases for web pages).
    "miniflux/encoding/iso-8859-1-meta-after-1024.html": "HTML page",
    "miniflux/encoding/iso-8859-1.html": "HTML page",
    "miniflux/encoding/utf8-meta-after-1024.html": "HTML page",
    "miniflux/encoding/utf8.html": "HTML page",
}


@pytest.mark.parametrize("chunk_id", CHUNKS)
def test_every_file_goes_through_the_pipeline(chunk_id: str) -> None:
    run = run_chunk(chunk_id)
    assert not run.crashes, "\n\n".join(run.crashes)
    assert [f.path for f in run.files] == list(chunks()[chunk_id])
    for file in run.files:
        if file.name in NOT_FEEDS:
            assert file.parse_error.startswith("not a feed: "), file.name
            assert any(reason in file.parse_error for reason in NOT_FEEDS[file.name].split("|")), file.parse_error
        else:
            assert not file.parse_error, f"{file.name}: {file.parse_error}"
            assert [fmt for fmt, _ in file.outputs] == ["atom", "rss", "json"]
            # Nothing lost on the way: every normalized entry is published, once.
            items = json.loads(dict(file.outputs)["json"])["items"]
            assert sorted(i["id"] for i in items) == sorted(f"urn:uuid:{a.id}" for a in file.articles), file.name


@pytest.mark.parametrize("chunk_id", CHUNKS)
def test_every_published_file_is_valid(chunk_id: str) -> None:
    problems = []
    for file in run_chunk(chunk_id).files:
        self_url = feed_info(file.source).url("rss")
        for fmt, data in file.outputs:
            problems += [f"{file.name} → {fmt}: {p}" for p in format_problems(fmt, data, self_url)]
    assert not problems, "\n".join(problems[:50])


def test_the_corpora_are_all_there() -> None:
    files = corpus_files()
    assert len(files) >= 2300
    assert sum(len(paths) for paths in chunks().values()) == len(files)
    assert all(FEEDS / name in files for name in NOT_FEEDS)


def test_documents_that_are_not_feeds_are_recorded_source_errors(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = []
    for number, name in enumerate(sorted(NOT_FEEDS)):
        path = FEEDS / name
        url = feed_server.add(f"/{number}{path.suffix}", path, content_type="application/octet-stream")
        sources.append({"name": f"s{number}", "url": url})
    config = write_config(sources, base_url=BASE_URL)
    assert main(["--config", str(config), "poll"]) == 0
    printed = capsys.readouterr().out
    for number in range(len(NOT_FEEDS)):
        assert f"s{number}: error: not a feed: " in printed, printed
    assert main(["--config", str(config), "status"]) == 0
    status = capsys.readouterr().out
    assert status.count("error") >= len(NOT_FEEDS), status
