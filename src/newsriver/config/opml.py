"""Move subscription lists in and out: OPML → the YAML config (keeping its comments), and back."""

from __future__ import annotations

import io
import ipaddress
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from newsriver import redact
from newsriver.config import load as config_module
from newsriver.config.schema import SourceConfig
from newsriver.errors import ConfigError, FetchError, NewsriverError
from newsriver.files import write_atomic
from newsriver.ingest.network import Network, kind
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
            yield Outline(title=title.strip(), url=_web_url(url.strip()), tags=folders)
        else:
            yield from _walk(outline, (*folders, _slug(title)) if title else folders)


def _web_url(url: str) -> str:
    """``feed://host/path`` (the old feed: scheme of browsers and readers) is the http URL
    ``http://host/path``; ``feed:https://host/path`` wraps the URL it means."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme.lower() != "feed":
        return url
    if rest.lower().startswith(("http://", "https://")):
        return rest
    return "http:" + rest if rest.startswith("//") else url


def export_opml(title: str, sources: Sequence[SourceConfig]) -> bytes:
    """The sources as OPML, each inside the folders its tags name (in order, one inside the
    next): what ``import_opml`` makes tags of, so an import → export round trip keeps a
    reader's folder structure."""
    body = ElementTree.Element("body")
    folders: dict[tuple[str, ...], ElementTree.Element] = {(): body}
    for source in sources:
        path: tuple[str, ...] = ()
        for tag in source.tags:
            parent, path = folders[path], (*path, tag)
            if path not in folders:
                folders[path] = ElementTree.SubElement(parent, "outline", text=tag, title=tag)
        name = source.title or source.name
        ElementTree.SubElement(folders[path], "outline", type="rss", text=name, title=name, xmlUrl=source.url)
    root = ElementTree.Element("opml", version="2.0")
    ElementTree.SubElement(ElementTree.SubElement(root, "head"), "title").text = title
    root.append(body)
    ElementTree.indent(root)
    data: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


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


def _non_public(url: str, network: Network) -> str:
    """Why ``url`` points at a non-public address, or "" (a name that does not resolve now is
    let through: ``allow_private: false`` still holds its fetches to public addresses)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return "not a valid URL"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return "" if network.is_public(literal) else f"{host} is a non-public address ({kind(literal)})"
    try:
        found = [ipaddress.ip_address(a) for a in network.resolve(host, port)]
    except FetchError:
        return ""
    for ip in found:
        if not network.is_public(ip):
            return f"{host} resolves to {ip}, a non-public address ({kind(ip)})"
    return ""


def import_opml(
    config_path: Path, data: bytes, allow_private: bool = False, network: Network | None = None
) -> ImportResult:
    """Append the OPML's feeds to the config file's ``sources``, keeping comments and layout.

    A feed whose canonical URL is already configured (or repeated in the OPML) is skipped
    with a note. The new file is validated before it replaces the old one.

    A list from elsewhere is not trusted like the operator's own config: a feed on a
    non-public address (cloud metadata, loopback, the intranet) is refused unless
    ``allow_private``, and every feed added gets ``allow_private`` written on it, false
    unless allowed, so later fetches stay on public addresses whatever its name resolves to.
    """
    network = network or Network()
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
        where = "" if allow_private else _non_public(outline.url, network)
        if where:
            skipped.append(
                f"{redact.display_url(outline.url)}: refused: {where}; import with --allow-private to add it"
            )
            continue
        name = _unique_name(_slug(outline.title) or _slug(key.split("://", 1)[-1]), taken)
        source = CommentedMap(name=name, url=outline.url)
        if outline.title:
            source["title"] = outline.title
        if outline.tags:
            source["tags"] = list(outline.tags)
        source["allow_private"] = allow_private
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
