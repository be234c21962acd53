"""Which corpus documents make their source warn, and whether each really lost entries.

Run from the repository root: ``.venv/bin/python benchmarks/broken_warnings.py``
(``PYTHONPATH=OTHER/src`` to run another checkout's parser over the same files).

Every ``.xml`` file under the corpus's ``feeds/`` (``NEWSRIVER_CORPUS``, else ``../shared/corpus``)
is parsed as a poll would; a document is counted when feedparser had to recover from it
(bozo with an XML error), and as flagged when the parse gives the feed a warning. For each
flagged one it prints the warning, the entries read and the entry start tags in the bytes,
so each can be checked by eye: a warning is right only when entries were lost.
"""

from __future__ import annotations

import re
import sys
import xml.sax
from collections import Counter

import feedparser
from bench import corpus_path

from newsriver.errors import ParseError
from newsriver.ingest.parse import parse

STARTS = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")


def main() -> int:
    root = corpus_path("feeds")
    files = sorted(p for p in root.rglob("*.xml"))
    recovered = flagged = unparsable = 0
    kinds: Counter[str] = Counter()
    for path in files:
        body = path.read_bytes()
        try:
            parsed = parse(body, "https://example.com/feed")
        except ParseError:
            unparsable += 1
            continue
        meta = parsed.meta
        warning = getattr(meta, "warning", None) or getattr(meta, "broken", "")
        reason = feedparser.parse(body).get("bozo_exception")
        if isinstance(reason, xml.sax.SAXParseException):
            recovered += 1
            kinds[reason.getMessage()] += 1
        if warning:
            flagged += 1
            starts = len(STARTS.findall(body))
            print(f"FLAGGED {path.relative_to(root)}: read {len(parsed.entries)}, start tags {starts}: {warning}")
    print(f"files {len(files)}, not a feed {unparsable}, recovered from an XML error {recovered}, flagged {flagged}")
    for kind, n in kinds.most_common():
        print(f"  {n:5}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
