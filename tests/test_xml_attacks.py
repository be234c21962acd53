"""Hostile XML: entity bombs are not expanded, external entities and DTDs are not fetched,
and memory stays bounded. The feeds are crafted here; the only server is on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from newsriver.cli import main
from newsriver.errors import ParseError
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse

from .conftest import ConfigWriter, FixtureServer

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = "TOPSECRET-c0ffee"


def rss(doctype: str, title: str = "t &bomb;") -> str:
    return (
        f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>feed &bomb;</title>'
        f"<link>http://127.0.0.1/</link><description>d</description>"
        f"<item><guid>1</guid><title>{title}</title><description>x &bomb; y</description></item>"
        f"</channel></rss>"
    )


LAUGHS = rss(
    '<!DOCTYPE rss [\n<!ENTITY lol0 "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
    + '<!ENTITY bomb "&lol9;&lol9;">\n]>'
)
# The same on one line: feedparser's own doctype filter reads declarations line by line.
LAUGHS_ONE_LINE = LAUGHS.replace("\n<!ENTITY", "<!ENTITY")
# No nesting, so expat's amplification guard counts it late: 40 kB × 60,000 = 2.4 GB.
QUADRATIC = rss(f'<!DOCTYPE rss [\n<!ENTITY bomb "{"x" * 40_000}">\n]>', title="t" + "&bomb;" * 60_000)


def hostile(base: str) -> dict[str, str]:
    """Documents that would read a local file or fetch from ``base`` if entities were resolved."""
    return {
        "file-entity": rss('<!DOCTYPE rss [\n<!ENTITY bomb SYSTEM "file:///etc/passwd">\n]>'),
        "http-entity": rss(f'<!DOCTYPE rss [\n<!ENTITY bomb SYSTEM "{base}/secret">\n]>'),
        "external-dtd": rss(f'<!DOCTYPE rss SYSTEM "{base}/evil.dtd">'),
        "parameter-entity": rss(f'<!DOCTYPE rss [\n<!ENTITY % remote SYSTEM "{base}/evil.dtd">\n%remote;\n]>'),
        "public-dtd": rss(f'<!DOCTYPE rss PUBLIC "-//Evil//DTD//EN" "{base}/evil.dtd">'),
    }


def everything(body: str) -> str:
    """Every text newsriver keeps from the document."""
    try:
        parsed = parse(body.encode(), "http://127.0.0.1/feed")
    except ParseError as exc:
        return str(exc)
    articles = normalize_feed(parsed, "s", "http://127.0.0.1/feed", NOW)
    return repr(parsed.meta) + "".join(repr(a) for a in articles)


@pytest.mark.parametrize("body", [LAUGHS, LAUGHS_ONE_LINE], ids=["billion-laughs", "billion-laughs-one-line"])
def test_entity_bombs_are_not_expanded(body: str) -> None:
    kept = everything(body)
    assert "lollol" not in kept
    assert len(kept) < 5_000


def test_external_entities_and_dtds_are_never_read(feed_server: FixtureServer) -> None:
    feed_server.add("/secret", SECRET, content_type="text/plain")
    feed_server.add("/evil.dtd", f'<!ENTITY bomb "{SECRET}">', content_type="application/xml-dtd")
    for name, body in hostile(feed_server.base).items():
        kept = everything(body)
        assert SECRET not in kept and "root:" not in kept, name
    assert feed_server.requests == []


def test_no_request_leaves_for_an_entity_during_a_poll(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add("/secret", SECRET, content_type="text/plain")
    feed_server.add("/evil.dtd", f'<!ENTITY bomb "{SECRET}">', content_type="application/xml-dtd")
    documents = {**hostile(feed_server.base), "billion-laughs": LAUGHS}
    sources = [
        {"name": name, "url": feed_server.add(f"/{name}.xml", body, content_type="application/rss+xml")}
        for name, body in documents.items()
    ]
    config = write_config(sources)
    assert main(["--config", str(config), "poll"]) == 0
    capsys.readouterr()
    assert sorted(r.path for r in feed_server.requests) == sorted(f"/{name}.xml" for name in documents)
    published = (config.parent / "out" / "all.json").read_text(encoding="utf-8")
    assert SECRET not in published and "root:" not in published and "lollol" not in published
    assert len(json.loads(published)["items"]) == len(documents)


# Run apart, under a 1.5 GiB address-space limit, so a regression fails with MemoryError here
# instead of taking the test run (or the machine) down.
_MEASURE = """
import resource, sys, tracemalloc
from datetime import UTC, datetime
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
from newsriver.ingest.normalize import normalize_feed
from newsriver.ingest.parse import parse
body = sys.stdin.buffer.read()
tracemalloc.start()
parsed = parse(body, "http://127.0.0.1/feed")
articles = normalize_feed(parsed, "s", "http://127.0.0.1/feed", datetime.now(UTC))
print(tracemalloc.get_traced_memory()[1], sum(len(a.summary) + len(a.title) for a in articles))
"""


@pytest.mark.parametrize("body", [QUADRATIC, LAUGHS], ids=["quadratic-blowup", "billion-laughs"])
def test_memory_stays_bounded(body: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE], input=body.encode(), capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    peak, kept = map(int, done.stdout.split())
    size = len(body)
    assert peak < 32 * size + (16 << 20), f"peak {peak:,} bytes for a {size:,}-byte document"
    assert kept < 4 * size
