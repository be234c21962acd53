"""What `newsriver poll` imports before it knows it needs it: a pass of 304s pays for every import."""

from __future__ import annotations

import json
import subprocess
import sys

# Rendering (and the pages' Jinja2), parsing, OPML editing, WebSub, the progress bar, the service and the server,
# and numpy under near-duplicate fingerprints: each is imported by the command or the step
# that uses it.
NOT_AT_START = (
    "feedgen",
    "lxml",
    "feedparser",
    "nh3",
    "ruamel",
    "requests",
    "rich",
    "waitress",
    "apscheduler",
    "numpy",
    "jinja2",
)


def test_the_poll_command_starts_without_rendering_parsing_or_serving_modules() -> None:
    code = (
        "import json, sys; import newsriver.cli, newsriver.run.poll, newsriver.publish.publisher; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))
    assert loaded.isdisjoint(NOT_AT_START), sorted(loaded & set(NOT_AT_START))


# What each parse worker runs again when it starts: multiprocessing prepares a worker by
# running its parent's main module, and `newsriver` (or `python -m newsriver.cli`) is this one.
NOT_IN_THE_MAIN_MODULE = ("sqlalchemy", "pydantic", "yaml", "urllib3", "apscheduler", "feedparser", "lxml", "numpy")


def test_the_main_module_alone_imports_no_heavy_dependency() -> None:
    code = "import json, sys; import newsriver.cli; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))
    assert loaded.isdisjoint(NOT_IN_THE_MAIN_MODULE), sorted(loaded & set(NOT_IN_THE_MAIN_MODULE))
