"""pydantic's validation errors said plainly, for ``load`` to put after FILE:LINE: FIELD.

pydantic words its errors for programmers ("Input should be a valid list", "Input should be
a dictionary or an instance of DedupeSettings"); a config's author wrote YAML, so each common
error says what the field takes and what it got, in YAML's terms, and an unknown field name
or option value close to a known one is answered with "did you mean ...?". Pure: pydantic's
error dicts in, (location, message) out.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from newsriver.config.private import Strict
from newsriver.config.schema import SLUG_PATTERN, Config, Inherit

Location = tuple[str | int, ...]

# What a type error says the field takes, by pydantic's error type.
_EXPECTED = {
    "list_type": "a list ([a, b], or one '- item' a line)",
    "dict_type": "a mapping ('key: value' lines, indented under it)",
    "dataclass_type": "a mapping ('field: value' lines, indented under it)",
    "model_type": "a mapping ('field: value' lines, indented under it)",
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "none_required": "nothing",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
}
# Steps pydantic adds to a location for the branches of a union or a validator: not fields.
_BRANCHES = frozenset({"bool", "int", "float", "str", "none", "list", "dict", "function-after", "function-before"})
_CLOSE = 0.75  # difflib's ratio from which a known name is offered for a misspelt one


def plain(errors: Iterable[Mapping[str, Any]]) -> list[tuple[Location, str]]:
    """One (location, message) per field in error, in pydantic's order: the errors of a
    union's branches at one location become one message ("expected true or false, or
    'always'")."""
    by_location: dict[Location, list[Mapping[str, Any]]] = {}
    for error in errors:
        location = tuple(part for part in error["loc"] if not _is_branch(part))
        by_location.setdefault(location, []).append(error)
    return [(location, _message(location, found)) for location, found in by_location.items()]


def _message(location: Location, errors: Sequence[Mapping[str, Any]]) -> str:
    # A branch's own complaint (a bad duration, a bound) says more than the others' "not a …".
    specific = [e for e in errors if e["type"] not in _EXPECTED and e["type"] != "literal_error"]
    if specific:
        return "; ".join(dict.fromkeys(_one(location, e) for e in specific))
    value = errors[0].get("input")
    expected = [_expected(e) for e in errors]
    message = f"expected {', or '.join(dict.fromkeys(expected))}; got {describe(value)}"
    options = [option for e in errors if e["type"] == "literal_error" for option in _options(e)]
    return message + _did_you_mean(value, options)


def _one(location: Location, error: Mapping[str, Any]) -> str:
    kind, value, context = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "missing: it is required"
    if kind == "unexpected_keyword_argument":  # a dataclass's: a key it has no field for
        return _unknown_field(location)
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"{words.format(context[name])}; got {describe(value)}"
    if kind == "string_pattern_mismatch" and context.get("pattern") == SLUG_PATTERN:
        return f"a name is lowercase letters, digits, - and _, starting with a letter or digit; got {describe(value)}"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {context.get('pattern')}; got {describe(value)}"
    return str(error["msg"]).removeprefix("Value error, ")


def _unknown_field(location: Location) -> str:
    """An unknown field's message: where a field of that name belongs (a source's
    ``interval`` written under ``settings``), else a known field it is close to."""
    name = location[-1]
    # Reached for a name that is no field of the model at ``location``: any place that has
    # a field of that name is another.
    if elsewhere := _FIELD_PATHS.get(str(name)):
        return f"unknown field here; {name} is a field of {', '.join(elsewhere)}"
    return "unknown field" + (_did_you_mean(name, known_fields(location[:-1])) or " (check the spelling)")


def _pattern(location: Location) -> str:
    """``sources[3].keep.title`` → ``sources[].keep``: the model a field is in, any entry."""
    return "".join("[]" if isinstance(part, int) else f".{part}" for part in location[:-1]).lstrip(".") or "(top level)"


def _expected(error: Mapping[str, Any]) -> str:
    if error["type"] == "literal_error":
        options = _options(error)
        return options[0] if len(options) == 1 else "one of " + ", ".join(options)
    return _EXPECTED[error["type"]]


def _options(error: Mapping[str, Any]) -> list[str]:
    return re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))


def describe(value: Any) -> str:
    """A YAML value as its author would name it."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _did_you_mean(given: Any, known: Sequence[str]) -> str:
    if not isinstance(given, str):
        return ""
    close = difflib.get_close_matches(given, known, n=1, cutoff=_CLOSE)
    return f"; did you mean '{close[0]}'?" if close else ""


def known_fields(location: Location) -> list[str]:
    """The field names of the config model at ``location`` (a mapping's path); none when
    the path leads to no model."""
    model = _model_at(location)
    return [f.name for f in dataclasses.fields(model)] if model is not None else []


def _model_at(location: Location) -> type | None:
    current: Any = Config
    for part in location:
        current = _container(current)
        if current is None:
            return None
        origin = typing.get_origin(current)
        if isinstance(part, int) and origin is list:
            current = typing.get_args(current)[0]
        elif isinstance(part, str) and origin is dict:
            current = typing.get_args(current)[1]
        elif isinstance(part, str) and isinstance(current, type) and dataclasses.is_dataclass(current):
            hints = _fields(current)
            if part not in hints:
                return None
            current = hints[part]
        else:
            return None
    current = _container(current)
    return current if isinstance(current, type) and dataclasses.is_dataclass(current) else None


def _container(annotation: Any) -> Any:
    """What of ``annotation`` holds fields or items: its model, list or dict, out of
    ``Annotated`` and unions (with None, ``Inherit``, plain values)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _container(arg)
            if found is not None:
                return found
        return None
    if typing.get_origin(annotation) in (list, dict):
        return annotation
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    return None


def _is_branch(part: Any) -> bool:
    """A step of a union's branch or a validator in a location, not a field: pydantic names
    them after a type ("bool", "literal['always']", "function-after[...]", a model's class)."""
    if not isinstance(part, str):
        return False
    return "[" in part or part in _BRANCHES or part in _MODEL_NAMES


def _subclasses(cls: type) -> Iterable[type]:
    subclasses: list[type] = cls.__subclasses__()
    for subclass in subclasses:
        yield subclass
        yield from _subclasses(subclass)


_MODEL_NAMES = frozenset({cls.__name__ for cls in _subclasses(Strict)} | {Inherit.__name__})


def _field_paths() -> dict[str, tuple[str, ...]]:
    """Every field name of the config, and where each model holding it sits (``sources[]``,
    ``settings.dedupe``), every path to each model."""
    found: dict[str, list[str]] = {}
    seen: set[tuple[type, str]] = set()
    queue: list[tuple[Location, Any]] = [((), Config)]
    while queue:
        location, annotation = queue.pop(0)
        holder = _container(annotation)
        while holder is not None and typing.get_origin(holder) in (list, dict):
            location = (*location, 0) if typing.get_origin(holder) is list else (*location, "*")
            holder = _container(typing.get_args(holder)[-1])
        where = _pattern((*location, "")) if location else "the top level"
        if holder is None or (holder, where) in seen:
            continue
        seen.add((holder, where))
        for name, hint in _fields(holder).items():
            found.setdefault(name, []).append(where)
            queue.append(((*location, name), hint))
    return {name: tuple(paths) for name, paths in found.items()}


def _fields(model: type) -> dict[str, Any]:
    """A config model's fields and their resolved annotations (not its class variables, such
    as ``__pydantic_config__``)."""
    hints = typing.get_type_hints(model, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(model)}


_FIELD_PATHS = _field_paths()
