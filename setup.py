"""The optional C part of fingerprinting (everything else is in pyproject.toml).

``newsriver.stories._fingerprint_c`` does what ``stories/fingerprint.py``'s Python path does
for a body's tokens, hashes and shingles, several times faster. It is optional: without a C
compiler (or Python's headers) the build warns and goes on, and fingerprint.py uses its
Python path, which gives the same fingerprints (tests/test_fingerprint_native.py).

The build carries the sha256 of the C source it was made from (SOURCE_SHA): fingerprint.py
does not use a build whose source differs from the ``_fingerprint_c.c`` beside it, as an
in-place build left over from before an edit would (``pip install -e .`` rebuilds it).
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "src/newsriver/stories/_fingerprint_c.c"
SOURCE_PATH = Path(__file__).resolve().parent / SOURCE

# Without the source (a trimmed copy of the tree) there is nothing to build: the install goes
# on with the Python path, as it does without a compiler.
extensions = (
    [
        Extension(
            "newsriver.stories._fingerprint_c",
            [SOURCE],
            define_macros=[("SOURCE_SHA", f'"{hashlib.sha256(SOURCE_PATH.read_bytes()).hexdigest()}"')],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
    if SOURCE_PATH.is_file()
    else []
)

setup(ext_modules=extensions)
