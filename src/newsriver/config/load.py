"""Read ``newsriver.yaml`` into a ``schema.Config``: ``${ENV}`` substitution, and every
error named by its file, line and field."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from newsriver.config.schema import Config
from newsriver.errors import ConfigError

DEFAULT_PATH = "config/newsriver.yaml"
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

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


def _expand_env(value: Any, path: tuple[Any, ...], missing: list[tuple[Any, ...]]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            missing.append((*path, f"${{{name}}}"))
            return ""

        return _ENV_VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, (*path, k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*path, i), missing) for i, v in enumerate(value)]
    return value


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line_of(path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    # A missing field has no line of its own; point at the nearest enclosing one.
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def resolve_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("NEWSRIVER_CONFIG") or DEFAULT_PATH)


def load(path: Path) -> Config:
    """Read, expand and validate a config file, or raise ConfigError with every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    return anchored(load_text(text, str(path)), path.absolute().parent)


_RELATIVE_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(?![/:]|$)")


def anchored(config: Config, folder: Path) -> Config:
    """Relative paths (the output folder, an SQLite file) resolved against the config file's
    folder: run from anywhere else, a command would otherwise find, or create, another,
    empty database and output folder."""
    settings = config.settings
    database = _RELATIVE_SQLITE.sub(lambda m: m.group(1) + str(folder) + "/", settings.database)
    output_dir = folder / settings.output_dir  # an absolute output_dir stays as it is
    update = {"database": database, "output_dir": output_dir}
    return config.model_copy(update={"settings": settings.model_copy(update=update)})


def load_text(text: str, filename: str = "<config>") -> Config:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{filename}:{line}: yaml: {problem}"]) from exc
    finally:
        loader.dispose()
    walk = _Lines()
    if node is not None:
        try:
            walk.walk(node, (), 1)
        except _AliasBomb as bomb:
            message = f"aliases expand to more than {ALIAS_BUDGET:,} nodes; write the values out"
            raise ConfigError([f"{filename}:{bomb.line}: yaml: {message}"]) from None
    lines = walk.out
    if not isinstance(data, dict):
        raise ConfigError([f"{filename}:1: (top level): expected a mapping of settings, sources, feeds"])
    missing: list[tuple[Any, ...]] = []
    data = _expand_env(data, (), missing)
    problems = [
        f"{filename}:{_line_of(p[:-1], lines)}: {_dotted(p[:-1])}: environment variable {p[-1]} is not set"
        for p in missing
    ]
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if not _is_pydantic_tag(part))
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field (check the spelling)"
            problems.append(f"{filename}:{_line_of(loc, lines)}: {_dotted(loc)}: {message}")
    if problems:
        raise ConfigError(problems)
    return config


def _is_pydantic_tag(part: Any) -> bool:
    # Annotated/union validators add steps like "function-before[...]" to error locations.
    return isinstance(part, str) and ("[" in part or part in {"function-after", "function-before"})
