"""OPML in and out of a config that has comments worth keeping."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsriver.cli import main
from newsriver.config import load as config

CONFIG = """\
# Our newsroom's feeds. Edit with care.
settings:
  database: sqlite:///var/test.db   # the default, spelled out

sources:
  # Wire services first
  - name: one
    url: https://one.example.com/feed.xml
    tags: [politics]   # keep this tag
"""

OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>Subscriptions</title></head><body>
  <outline text="World News">
    <outline type="rss" text="BBC World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml" htmlUrl="https://bbc.co.uk"/>
    <outline type="rss" text="One again" xmlUrl="HTTPS://ONE.example.com/feed.xml?utm_source=opml#x"/>
  </outline>
  <outline type="rss" title="Ars Technica" text="ars" xmlUrl="https://feeds.arstechnica.com/arstechnica/index"/>
  <outline type="rss" text="Ars Technica" xmlUrl="https://feeds.arstechnica.com/arstechnica/index"/>
  <outline type="rss" text="Gopher" xmlUrl="gopher://old.example/feed"/>
</body></opml>
"""


def test_import_keeps_comments_and_skips_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text(CONFIG)
    (tmp_path / "subs.opml").write_bytes(OPML)
    assert main(["--config", str(path), "sources", "import-opml", str(tmp_path / "subs.opml")]) == 0
    printed = capsys.readouterr().out
    assert "skipped HTTPS://ONE.example.com/feed.xml?utm_source=opml#x: already configured as 'one'" in printed
    assert "skipped https://feeds.arstechnica.com/arstechnica/index: already configured as 'ars-technica'" in printed
    assert "skipped gopher://old.example/feed: not an http(s) URL" in printed
    assert "added 2 sources: bbc-world, ars-technica" in printed

    text = path.read_text()
    assert text.startswith(CONFIG)  # every comment and line of the original survives untouched
    loaded = config.load(path)
    assert [(s.name, s.title, s.tags) for s in loaded.sources] == [
        ("one", None, ["politics"]),
        ("bbc-world", "BBC World", ["world-news"]),
        ("ars-technica", "Ars Technica", []),
    ]


def test_export_then_import_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(CONFIG)
    (tmp_path / "subs.opml").write_bytes(OPML)
    main(["--config", str(source), "sources", "import-opml", str(tmp_path / "subs.opml")])
    assert main(["--config", str(source), "sources", "export-opml", "-o", str(tmp_path / "out.opml")]) == 0

    empty = tmp_path / "empty.yaml"
    empty.write_text("sources: []\n")
    assert main(["--config", str(empty), "sources", "import-opml", str(tmp_path / "out.opml")]) == 0
    assert [s.url for s in config.load(empty).sources] == [s.url for s in config.load(source).sources]
    capsys.readouterr()


def test_a_broken_opml_file_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text(CONFIG)
    (tmp_path / "bad.opml").write_bytes(b"<opml><body><outline")
    assert main(["--config", str(path), "sources", "import-opml", str(tmp_path / "bad.opml")]) == 1
    assert "not an OPML file" in capsys.readouterr().err
    assert path.read_text() == CONFIG


THIRD_PARTY = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>A list from the internet</title></head><body>
  <outline type="rss" text="Metadata" xmlUrl="http://169.254.169.254/latest/meta-data/iam/security-credentials/"/>
  <outline type="rss" text="Loopback" xmlUrl="http://127.0.0.1:2375/containers/json"/>
  <outline type="rss" text="Mapped" xmlUrl="http://[::ffff:10.0.0.1]/feed"/>
  <outline type="rss" text="Dummy" xmlUrl="http://192.0.0.8/feed"/>
  <outline type="rss" text="Local name" xmlUrl="http://localhost:8080/admin"/>
  <outline type="rss" text="Public" xmlUrl="https://93.184.215.14/feed.xml"/>
</body></opml>
"""


def test_import_refuses_non_public_addresses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text(CONFIG)
    (tmp_path / "list.opml").write_bytes(THIRD_PARTY)
    assert main(["--config", str(path), "sources", "import-opml", str(tmp_path / "list.opml")]) == 0
    printed = capsys.readouterr().out
    for refusal in (
        "169.254.169.254 is a non-public address (link-local)",
        "127.0.0.1 is a non-public address (loopback)",
        "::ffff:10.0.0.1 is a non-public address (IPv4-mapped)",
        "192.0.0.8 is a non-public address (IPv4 dummy address)",
        "localhost resolves to",
    ):
        assert refusal in printed
    assert printed.count("; import with --allow-private to add it") == 5
    assert "added 1 source: public" in printed
    (imported,) = [s for s in config.load(path).sources if s.name == "public"]
    assert imported.allow_private is False  # its fetches stay on public addresses for good
    assert main(["--config", str(path), "check"]) == 0


def test_import_with_allow_private_adds_them_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text(CONFIG)
    (tmp_path / "list.opml").write_bytes(THIRD_PARTY)
    args = ["--config", str(path), "sources", "import-opml", "--allow-private", str(tmp_path / "list.opml")]
    assert main(args) == 0
    assert "added 6 sources" in capsys.readouterr().out
    added = [s for s in config.load(path).sources if s.name != "one"]
    assert len(added) == 6 and all(s.allow_private is True for s in added)
    assert "allow_private: true" in path.read_text()  # visible in the file, for the operator to review


def test_import_accepts_feed_scheme_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "newsriver.yaml"
    path.write_text("sources: []\n")
    (tmp_path / "subs.opml").write_bytes(
        b"""<opml version="2.0"><body>
  <outline type="rss" text="Old" xmlUrl="feed://old.example.com/rss.xml"/>
  <outline type="rss" text="Wrapped" xmlUrl="feed:https://wrapped.example.com/atom.xml"/>
</body></opml>"""
    )
    assert main(["--config", str(path), "sources", "import-opml", str(tmp_path / "subs.opml")]) == 0
    assert "added 2 sources" in capsys.readouterr().out
    assert [s.url for s in config.load(path).sources] == [
        "http://old.example.com/rss.xml",
        "https://wrapped.example.com/atom.xml",
    ]


def test_export_writes_tags_back_as_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reader = b"""<opml version="2.0"><body>
  <outline text="news">
    <outline text="world"><outline type="rss" text="A" xmlUrl="https://a.example.com/feed"/></outline>
    <outline type="rss" text="B" xmlUrl="https://b.example.com/feed"/>
  </outline>
  <outline text="tech"><outline type="rss" text="C" xmlUrl="https://c.example.com/feed"/></outline>
  <outline type="rss" text="D" xmlUrl="https://d.example.com/feed"/>
</body></opml>"""
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    for path in (first, second):
        path.write_text("sources: []\n")
    (tmp_path / "reader.opml").write_bytes(reader)
    main(["--config", str(first), "sources", "import-opml", str(tmp_path / "reader.opml")])
    assert main(["--config", str(first), "sources", "export-opml", "-o", str(tmp_path / "out.opml")]) == 0
    main(["--config", str(second), "sources", "import-opml", str(tmp_path / "out.opml")])
    capsys.readouterr()
    tags = {s.url: s.tags for s in config.load(second).sources}
    assert tags == {
        "https://a.example.com/feed": ["news", "world"],
        "https://b.example.com/feed": ["news"],
        "https://c.example.com/feed": ["tech"],
        "https://d.example.com/feed": [],
    }
