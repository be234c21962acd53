"""What pydantic checks of a config field, said in ``Annotated`` metadata without importing pydantic.

The config's models are plain frozen dataclasses, which everything that reads the config
uses; pydantic validates them (``load``) through these markers. A run that reads its config
from load's cache never imports pydantic (most of a pass of 304s' start-up CPU and memory,
tests/test_startup.py). Each marker is the pydantic counterpart named in its docstring,
built by pydantic's ``__get_pydantic_core_schema__`` hook when a validator is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema


class Before:
    """pydantic's ``BeforeValidator``: ``function`` turns the input into what the type takes."""

    # Plain classes, not dataclasses: making a dataclass costs start-up time in every command,
    # and nothing compares or prints a marker.
    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.function, handler(source))


class After:
    """pydantic's ``AfterValidator``: ``function`` checks (or adjusts) the validated value."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.function, handler(source))


class Checked:
    """pydantic's ``Field`` constraints: ``Checked(ge=1)``, ``Checked(pattern=...)``."""

    def __init__(self, **constraints: Any) -> None:
        self.constraints = constraints

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic import Field

        return handler(Annotated[source, Field(**self.constraints)])


class Like:
    """Validated as the type ``of()`` returns instead of the annotated one: one of pydantic's
    own types (imported only then), or the annotation without a value no input may give."""

    def __init__(self, of: Callable[[], Any]) -> None:
        self.of = of

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler.generate_schema(self.of())
