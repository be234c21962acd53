"""Read ``newsriver.yaml`` into a ``schema.Config``: ``${ENV}`` substitution, and every
error named by its file, line and field."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import os
import pickle
import re
import sys
import threading
from pathlib import Path
from typing import Any

from newsriver import __version__, redact
from newsriver.config.private import Strict
from newsriver.config.schema import Config, Inherit, validated
from newsriver.errors import ConfigError

DEFAULT_PATH = "config/newsriver.yaml"
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(value: Any, path: tuple[Any, ...], missing: list[tuple[Any, ...]], named: list[str]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            named.append(name)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            missing.append((*path, f"${{{name}}}"))
            return unset_placeholder(name)

        return _ENV_VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, (*path, k), missing, named) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*path, i), missing, named) for i, v in enumerate(value)]
    return value


# The variables a placeholder was handed out for in this process: until there is one, checking
# a config for placeholders costs nothing (a pass of the service checks at every poll).
_placeholders_made: set[str] = set()


def unset_variables(config: Config) -> list[str]:
    """The variables whose ``unset_placeholder`` a source of ``config`` holds, sorted: such a
    config must never fetch."""
    if not _placeholders_made:
        return []
    sources = repr(config.sources)
    return sorted(name for name in _placeholders_made if unset_placeholder(name) in sources)


def holds_a_placeholder(config: Config) -> bool:
    """Whether any source of ``config`` holds an ``unset_placeholder``: such a config must never fetch."""
    return bool(unset_variables(config))


_UNSET_MARK = "newsriver-unset-variable-"


def unset_placeholder(name: str) -> str:
    """What an unset ``${NAME}`` reads as in a config loaded for a command that never fetches
    (``load(..., unset=...)``): registered with ``redact``, so it prints masked like the
    secret it stands for. Only such commands get a config holding it."""
    # Ended by "-x": no variable name holds a "-", so ${FOO}'s is no part of ${FOO_BAR}'s, and
    # a host name's label may hold it (it may not end with "-").
    return f"{_UNSET_MARK}{name}-x"


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


def not_found(explicit: str | None, from_environment: str | None, cwd: Path, command: str = "COMMAND") -> str:
    """What to say when the config file is missing: where newsriver looked, and why there
    (``--config``, ``$NEWSRIVER_CONFIG`` or the default, relative to the current folder),
    and how to point it at one. A newcomer starting it from another folder than the
    project's gets this, not a bare "No such file or directory"."""
    point = f"name the file with --config PATH (before the command: newsriver --config PATH {command})"
    if explicit:
        return f"{explicit}: no such config file (named by --config; looked for {cwd / explicit})"
    if from_environment:
        return (
            f"{from_environment}: no such config file (named by $NEWSRIVER_CONFIG; looked for "
            f"{cwd / from_environment}): set NEWSRIVER_CONFIG to an existing file, or {point}"
        )
    return (
        f"no config file: looked for {DEFAULT_PATH} in the current folder ({cwd / DEFAULT_PATH}), "
        f"as neither --config nor $NEWSRIVER_CONFIG names one. Run newsriver from the folder that "
        f"holds {DEFAULT_PATH}, or {point}, or set NEWSRIVER_CONFIG=PATH"
    )


def load(path: Path, unset: list[str] | None = None) -> Config:
    """Read, expand and validate a config file, or raise ConfigError with every problem.

    Given ``unset``, an environment variable that is not set is no problem: it is appended to
    ``unset`` (as ``FILE:LINE: field: ...``) and reads as ``unset_placeholder``. For commands
    that never fetch (status, dupes, check), run from an operator's shell that lacks the
    service's secrets. A config with ``${VAR}`` is never cached, so neither is a placeholder.

    A config validated before, with the same bytes, is read from the cache (see ``_Cache``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    cache = _Cache.of(path, text)
    config = cache.read() if cache is not None else None
    if config is None:
        config, named = _validated(text, str(path), unset)
        # The text's "${" is not the only way to name a variable: YAML's escapes ("\x24{VAR}")
        # spell it too, and only the parsed values show it.
        if cache is not None and not named:
            cache.write(config)
    return anchored(config, path.absolute().parent)


# The files whose code decides what a config validates to, newsriver's (relative to its
# package), PyYAML's and pydantic's version: their bytes are part of the cache's key, so an
# edited validator, default or parser (a checkout, an editable install, an upgrade) is never
# answered from a cache written before it. Read, not imported: a hit needs no YAML parser, and
# no pydantic.
_SCHEMA_FILES = (
    "config/schema.py",
    "config/fields.py",
    "config/private.py",
    "config/load.py",
    "config/yaml_lines.py",
    "stories/thresholds.py",
)


def _code_files() -> list[Path]:
    package = Path(__file__).resolve().parents[1]
    found = [package / name for name in _SCHEMA_FILES]
    for name, file in (("yaml", "__init__.py"), ("pydantic", "version.py")):
        spec = importlib.util.find_spec(name)  # of a top-level package: imports nothing
        if spec is None or spec.origin is None:
            raise OSError(f"{name} not found")
        found.append(Path(spec.origin).with_name(file))
    return found


class _Cache:
    """The validated config of one config file, kept between runs of newsriver.

    Validating is about a tenth of the CPU of a pass where every feed answers 304 (pydantic
    builds a validator for every model, then checks every source), and its result depends only
    on what the key holds: the config's text; the code of this version that validates it
    (newsriver's version and the bytes of the schema modules, PyYAML's code; pydantic's
    and Python's versions); nothing else, since a config naming an environment variable is
    never cached (below). A hit is unpickled, never parsed nor validated: it imports no
    pydantic (the models are plain dataclasses, see schema). What validation does beyond checking,
    registering the sources' secrets with ``redact``, is done again on a hit.

    The file is in the user's cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``), made
    readable by its owner only, as the config that holds the same values should be. A config
    with ``${VAR}`` (in its text, or spelt by YAML's escapes) is not cached: its values may be
    secrets given in the environment to keep them out of files. Any failure to read or write
    the cache falls back to validating.
    """

    def __init__(self, file: Path, key: bytes) -> None:
        self.file = file
        self.key = key

    @classmethod
    def of(cls, path: Path, text: str) -> _Cache | None:
        if "${" in text:
            return None
        # A relative $XDG_CACHE_HOME is ignored, as the XDG spec says: it would put the file
        # (and the secrets it holds) wherever the command was started, an output folder too.
        configured = Path(os.environ.get("XDG_CACHE_HOME", ""))
        try:
            folder = (configured if configured.is_absolute() else Path.home() / ".cache") / "newsriver"
        except (RuntimeError, KeyError):  # no home folder to be found
            return None
        digest = hashlib.sha256(f"{__version__}\n{sys.version}\n".encode())
        try:
            for file in _code_files():
                digest.update(file.read_bytes())
        except OSError:
            return None
        digest.update(text.encode("utf-8", "surrogatepass"))
        where = hashlib.sha256(str(path.absolute()).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return cls(folder / f"config-{where}.pickle", digest.digest())

    def read(self) -> Config | None:
        try:
            data = self.file.read_bytes()
        except OSError:
            return None
        if data[: len(self.key)] != self.key:
            return None
        try:
            config = _Unpickler(io.BytesIO(data[len(self.key) :])).load()
        except Exception:  # a damaged or foreign file: validate instead
            return None
        if not isinstance(config, Config):
            return None
        for source in config.sources:
            redact.register(source.secrets())
        return config

    def write(self, config: Config) -> None:
        temporary = self.file.with_name(f"{self.file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(self.key + pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(temporary, self.file)
        except OSError:
            # No cache: the next run validates again. A half-written copy holds the secrets too.
            temporary.unlink(missing_ok=True)
            return
        # One file per config path ever loaded (test runs, trials in temporary folders) would
        # pile up forever: the folder is trimmed when a file is added, the only time it grows.
        try:
            found = [(f, f.stat().st_mtime) for f in self.file.parent.glob("config-*.pickle")]
        except OSError:
            return
        for file in evicted(found, CACHE_KEPT):
            file.unlink(missing_ok=True)


# Configs kept in the cache: a host runs a handful of configs; the others are trials long done.
CACHE_KEPT = 16


def evicted(files: list[tuple[Path, float]], keep: int) -> list[Path]:
    """The cached files (with their modification times) to remove: all but the ``keep`` newest."""
    return [file for file, _ in sorted(files, key=lambda found: found[1], reverse=True)[keep:]]


# What a cached config may be made of: the config's models (and schema.Inherit) and the
# types of their fields. A file that names anything else is refused, not run (unpickling may
# call what it names).
_CACHED_TYPES = {
    ("datetime", "timedelta"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("ipaddress", "IPv4Network"),
    ("ipaddress", "IPv6Network"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in ("newsriver.config.schema", "newsriver.config.private"):
            found = getattr(sys.modules[module], name, None)
            if isinstance(found, type) and (issubclass(found, Strict) or found is Inherit):
                return found
        elif (module, name) in _CACHED_TYPES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a config")


_RELATIVE_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(?![/:]|$)")


def anchored(config: Config, folder: Path) -> Config:
    """Relative paths (the output folder, an SQLite file) resolved against the config file's
    folder: run from anywhere else, a command would otherwise find, or create, another,
    empty database and output folder."""
    settings = config.settings
    # Resolved ("cfg/../out" made "out"): these paths are printed, and an operator compares them
    # with the ones they know.
    database = settings.database
    relative = _RELATIVE_SQLITE.match(database)
    if relative:
        file, _, query = database[relative.end() :].partition("?")
        database = relative.group(1) + str((folder / file).resolve()) + (f"?{query}" if query else "")
    output_dir = (folder / settings.output_dir).resolve()  # an absolute output_dir stays where it is
    return dataclasses.replace(config, settings=dataclasses.replace(settings, database=database, output_dir=output_dir))


def load_text(text: str, filename: str = "<config>") -> Config:
    return _validated(text, filename)[0]


def _not_set(path: tuple[Any, ...]) -> str:
    """The problem of a value naming an unset variable (its path ends with ``${NAME}``)."""
    return f"environment variable {path[-1]} is not set"


def _validated(text: str, filename: str, unset: list[str] | None = None) -> tuple[Config, list[str]]:
    """The config, and the environment variables its values named; unset ones are problems
    unless ``unset`` is given (see ``load``)."""
    # Imported here: a config read from the cache (see ``load``) is never parsed nor validated.
    from pydantic import ValidationError

    from newsriver.config.yaml_lines import read

    data, lines = read(text, filename)
    if not isinstance(data, dict):
        raise ConfigError([f"{filename}:1: (top level): expected a mapping of settings, sources, feeds"])
    missing: list[tuple[Any, ...]] = []
    named: list[str] = []
    data = _expand_env(data, (), missing, named)

    def said(path: tuple[Any, ...], message: str) -> str:
        return f"{filename}:{_line_of(path, lines)}: {_dotted(path)}: {message}"

    if unset is not None:
        # A source's secrets only: they go to its feed's server, which these commands never
        # reach. A setting's (the database URL's password, the admin's) would be sent or
        # trusted by the very command that was spared it.
        spared = [p for p in missing if p[:1] == ("sources",)]
        missing = [p for p in missing if p not in spared]
        names = [p[-1][2:-1] for p in spared]  # "${NAME}" as the path ends with it
        _placeholders_made.update(names)
        redact.register(unset_placeholder(name) for name in names)
        unset.extend(said(p[:-1], _not_set(p)) for p in spared)
    # (path, message): reported in the file's line order, not pydantic's order of fields.
    found = [(p[:-1], _not_set(p)) for p in missing]
    try:
        config = validated(Config, data)
    except ValidationError as exc:
        from newsriver.config.messages import plain

        found.extend(plain(exc.errors()))
    else:
        found.extend(config.conflicts())
    if found:
        found.sort(key=lambda problem: _line_of(problem[0], lines))  # stable: one line's keep their order
        raise ConfigError([said(path, message) for path, message in found])
    return config, named
