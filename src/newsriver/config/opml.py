"""Move subscription lists in and out: OPML → the YAML config (keeping its comments), and back."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from newsriver.config import load as config_module
from newsriver.errors import ConfigError, NewsriverError
from newsriver.publish.files import write_atomic
from newsriver.urls import canonical


@dataclass(frozen=True, slots=True)
class Outline:
    title: str
    url: str
    tags: tuple[str, ...]  # the folders it sat in


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: tuple[str, ...]  # names given to the new sources
    skipped: tuple[str, ...]  # one note per feed left out, saying why


def read_outlines(data: bytes) -> list[Outline]:
    """Every feed in an OPML file, with the folders it is nested in as tags."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise NewsriverError(f"not an OPML file: {exc}") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise NewsriverError("not an OPML file: no <opml><body>")
    return list(_walk(body, ()))


def _walk(parent: ElementTree.Element, folders: tuple[str, ...]) -> Iterator[Outline]:
    for outline in parent.findall("outline"):
        title = outline.get("title") or outline.get("text") or ""
        url = outline.get("xmlUrl") or outline.get("xmlurl") or ""
        if url:
            yield Outline(title=title.strip(), url=url.strip(), tags=folders)
        else:
            yield from _walk(outline, (*folders, _slug(title)) if title else folders)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _unique_name(wanted: str, taken: set[str]) -> str:
    base = wanted or "source"
    if not re.match(r"^[a-z0-9]", base):
        base = "s-" + base
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def import_opml(config_path: Path, data: bytes) -> ImportResult:
    """Append the OPML's feeds to the config file's ``sources``, keeping comments and layout.

    A feed whose canonical URL is already configured (or repeated in the OPML) is skipped
    with a note. The new file is validated before it replaces the old one.
    """
    outlines = read_outlines(data)
    yaml = YAML()  # round-trip mode: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    config_tree = yaml.load(config_path.read_text(encoding="utf-8")) or CommentedMap()
    sources = config_tree.setdefault("sources", CommentedSeq())
    known = {canonical(str(s.get("url", ""))): str(s.get("name")) for s in sources}
    taken = {str(s.get("name")) for s in sources}
    added, skipped = [], []
    for outline in outlines:
        key = canonical(outline.url)
        if not outline.url.lower().startswith(("http://", "https://")):
            skipped.append(f"{outline.url}: not an http(s) URL")
            continue
        if key in known:
            skipped.append(f"{outline.url}: already configured as {known[key]!r}")
            continue
        name = _unique_name(_slug(outline.title) or _slug(key.split("://", 1)[-1]), taken)
        source = CommentedMap(name=name, url=outline.url)
        if outline.title:
            source["title"] = outline.title
        if outline.tags:
            source["tags"] = list(outline.tags)
        sources.append(source)
        known[key] = name
        taken.add(name)
        added.append(name)
    buffer = io.StringIO()
    yaml.dump(config_tree, buffer)
    text = buffer.getvalue()
    try:
        config_module.load_text(text, str(config_path))
    except ConfigError as exc:
        raise ConfigError(["the imported config would be invalid; nothing written", *exc.problems]) from exc
    if added:
        write_atomic(config_path, text.encode("utf-8"))
    return ImportResult(tuple(added), tuple(skipped))
