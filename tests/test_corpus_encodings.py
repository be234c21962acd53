"""Text decodes right whatever the feed declares: Miniflux's real feeds and wrong-charset cases,
and the HTTP charset, XML declaration and BOM served from a real HTTP server."""

from __future__ import annotations

import json

import pytest

from newsriver.cli import main

from .conftest import ConfigWriter, FixtureServer, skip_module_without_corpus
from .corpus import FEEDS, file_run

skip_module_without_corpus()

# (file, feed title, some entry titles), each with text a wrong decoding would garble.
KNOWN_TEXT = [
    # Declared "invalid", ISO-8859-1 or UTF-8, always UTF-8 bytes: Korean and an é.
    ("miniflux/encoding/invalid-prolog.xml", "테스트 피드", ["Café"]),
    ("miniflux/encoding/utf8-incorrect-prolog.xml", "테스트 피드", ["Café"]),
    ("miniflux/encoding/utf8.xml", "테스트 피드", ["Café"]),
    ("miniflux/encoding/iso-8859-1.xml", "Café", []),
    # Declared windows-1252 for the UTF-8 bytes of "€", and the real windows-1252 byte 0x80.
    ("miniflux/encoding/windows-1252-incorrect-prolog.xml", "Euro €", []),
    ("miniflux/encoding/windows-1252.xml", "Euro €", []),
    ("miniflux/encoding/koi8r.xml", "Пример RSS ленты", ["Первая новость", "Вторая новость"]),
    ("miniflux/xml/koi8r.xml", "Пример RSS ленты", ["Первая новость", "Вторая новость"]),
    ("miniflux/parser/encoding_WINDOWS-1251.xml", "iBash.Org.Ru", ["Цитата #17703", "Цитата #17705"]),
    (
        "miniflux/parser/encoding_ISO-8859-1.xml",
        "Golem.de",
        ["Machine Learning: Von KI erstelltes Porträt für 432.500 US.Dollar versteigert"],
    ),
    # No declaration at all, ISO-8859-1 bytes.
    ("miniflux/parser/no_encoding_ISO-8859-1.xml", None, ["La criminalité liée surtout à... l'ennui ?"]),
    ("miniflux/parser/rdf_UTF8.xml", "heise online News", ["Mega-Deal: IBM übernimmt Red Hat"]),
    (
        "miniflux/parser/urdu_UTF8.xml",
        "BBC News اردو - پاکستان کے لیے امریکی امداد کی بہار و خزاں",
        ["امریکہ کے ساتھ خفیہ معلومات کا تبادلہ اور فوجی تعاون معطل کر دیا: وزیر دفاع"],
    ),
]


@pytest.mark.parametrize(("name", "feed_title", "titles"), KNOWN_TEXT, ids=[k[0] for k in KNOWN_TEXT])
def test_known_text_decodes(name: str, feed_title: str | None, titles: list[str]) -> None:
    run = file_run(FEEDS / name)
    assert not run.parse_error
    published = json.loads(dict(run.outputs)["json"])
    if feed_title is not None:
        assert published["items"] == [] or published["items"][0]["_source"]["title"] == feed_title
        atom = dict(run.outputs)["atom"].decode("utf-8")
        assert feed_title in atom or not run.articles
    got = {a.title for a in run.articles}
    assert set(titles) <= got
    assert all("\ufffd" not in a.title and "Ã" not in a.title for a in run.articles)
    assert set(titles) <= {item["title"] for item in published["items"]}


def _rss(title: str) -> str:
    return (
        f'<rss version="2.0"><channel><title>{title}</title><link>http://127.0.0.1/</link>'
        f"<description>d</description><item><guid>1</guid><title>{title}</title></item></channel></rss>"
    )


def test_http_charset_declaration_and_bom_are_honoured(
    feed_server: FixtureServer, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Новости: Grüße, café"
    served = {
        # Only HTTP names the charset.
        "http-charset": (_rss("Новости: Привет, мир").encode("koi8-r"), "application/rss+xml; charset=koi8-r"),
        # Only the XML declaration does.
        "declaration": (
            b'<?xml version="1.0" encoding="windows-1251"?>' + _rss("Новости: Привет").encode("windows-1251"),
            "application/rss+xml",
        ),
        # A BOM, and nothing else.
        "utf-16-bom": (_rss(text).encode("utf-16"), "application/rss+xml"),
        # HTTP says windows-1252 (a stale server default) for UTF-8 bytes.
        "wrong-http-charset": (_rss(text + " €").encode("utf-8"), "application/rss+xml; charset=windows-1252"),
    }
    expected = {
        "http-charset": "Новости: Привет, мир",
        "declaration": "Новости: Привет",
        "utf-16-bom": text,
        "wrong-http-charset": text + " €",
    }
    sources = [
        {"name": name, "url": feed_server.add(f"/{name}.xml", body, content_type=content_type)}
        for name, (body, content_type) in served.items()
    ]
    config = write_config(sources)
    assert main(["--config", str(config), "poll"]) == 0
    capsys.readouterr()
    items = json.loads((config.parent / "out" / "all.json").read_text(encoding="utf-8"))["items"]
    assert {i["_source"]["name"]: i["title"] for i in items} == expected
