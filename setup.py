"""The optional C part of fingerprinting (everything else is in pyproject.toml).

``newsriver.stories._fingerprint_c`` does what ``stories/fingerprint.py``'s Python path does
for a body's tokens, hashes and shingles, several times faster. It is optional: without a C
compiler (or Python's headers) the build warns and goes on, and fingerprint.py uses its
Python path, which gives the same fingerprints (tests/test_fingerprint_native.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "newsriver.stories._fingerprint_c",
            ["src/newsriver/stories/_fingerprint_c.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
