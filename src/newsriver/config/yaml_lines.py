"""A config file's YAML: its data, and the line of every key and list item (for errors).

Only a config that is validated is read here: ``load`` imports this module when its cache
(see ``load._Cache``) does not hold the config already."""

from __future__ import annotations

from typing import Any

import yaml

from newsriver.errors import ConfigError

try:  # libyaml's parser, in PyYAML's wheels: ten times faster than the pure-Python one on a
    # config of 1,000 sources, and its nodes carry the same line marks.
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


# Nodes that aliases may add to a config beyond those written: a few per merged default
# (``<<: *defaults``) of thousands of sources. Each alias is one reference to its anchor's
# node, so nine lines of aliases of aliases expand to a billion: walked, they took 27 s and
# 1.15 GB before this bound.
ALIAS_BUDGET = 100_000


class _Loader(_SafeLoader):
    """SafeLoader whose nodes give the line of every key and list item (see ``_Lines``)."""


class _AliasBomb(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _Lines:
    """The line of every key and list item, by path; raises ``_AliasBomb`` (with the line
    where the walk was) once aliases have expanded past ``ALIAS_BUDGET`` nodes."""

    def __init__(self) -> None:
        self.out: dict[tuple[Any, ...], int] = {}
        self._seen: set[int] = set()
        self._repeats = 0

    def walk(self, node: yaml.Node, path: tuple[Any, ...], line: int) -> None:
        if id(node) in self._seen:  # reached again through an alias
            self._repeats += 1
            if self._repeats > ALIAS_BUDGET:
                raise _AliasBomb(line)
        self._seen.add(id(node))
        self.out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                self.walk(value, child, key.start_mark.line + 1)
                self.out[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index), item.start_mark.line + 1 if id(item) not in self._seen else line)


def read(text: str, filename: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The document's data and the line of every path in it; ConfigError for a YAML error."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(exc, filename)]) from exc
    finally:
        loader.dispose()
    walk = _Lines()
    if node is not None:
        try:
            walk.walk(node, (), 1)
        except _AliasBomb as bomb:
            message = f"aliases expand to more than {ALIAS_BUDGET:,} nodes; write the values out"
            raise ConfigError([f"{filename}:{bomb.line}: yaml: {message}"]) from None
    return data, walk.out


def _yaml_problem(exc: yaml.YAMLError, filename: str) -> str:
    """``FILE:LINE: yaml: ...`` at the line where what the parser was reading starts (an
    unterminated quote's opening line, not the end of the file where the problem shows), with
    PyYAML's context and the problem's own place."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context is None or context_mark is None:
        return f"{filename}:{mark.line + 1 if mark is not None else 1}: yaml: {problem}"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return (
        f"{filename}:{context_mark.line + 1}: yaml: {context} from column {context_mark.column + 1}: {problem}{where}"
    )
