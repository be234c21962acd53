# The optional C extension (_fingerprint_c.c): see fingerprint._native_body.
from collections import Counter
from typing import Any

PARAMETERS: dict[str, Any]  # what fingerprint.native_parameters() must equal

def body(
    text: bytes, figures: Counter[str], /
) -> tuple[int, bytes, bytes, bytes | None, list[int] | None, list[bytes] | None]: ...
def word_hash(word: bytes, /) -> int: ...
def remembered() -> int: ...
