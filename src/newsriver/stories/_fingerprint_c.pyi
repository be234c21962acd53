# The optional C extension (_fingerprint_c.c): see fingerprint._native_body. fingerprint.py
# assigns the module to a fingerprint._Native, so mypy checks this stub against that Protocol.
from collections import Counter
from typing import Any

PARAMETERS: dict[str, Any]  # what fingerprint.native_parameters() must equal
SOURCE_SHA: str  # the sha256 of the _fingerprint_c.c it was built from (setup.py), "" if unknown

def body(
    text: bytes, figures: Counter[str], /
) -> tuple[int, bytes, bytes, bytes | None, list[int] | None, list[bytes] | None]: ...
def word_hash(word: bytes, /) -> int: ...
def remembered() -> int: ...
