"""What `newsriver poll` imports before it knows it needs it: a pass of 304s pays for every import."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ConfigWriter, FixtureServer
from tests.factories import rss

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


def test_the_service_module_leaves_numpy_to_where_documents_are_digested() -> None:
    # A publisher never fingerprints: the service names the fingerprint path only where it polls.
    code = "import json, sys; import newsriver.run.service; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))
    assert "numpy" not in loaded and "newsriver.stories.fingerprint" not in loaded


# What each parse worker runs again when it starts: multiprocessing prepares a worker by
# running its parent's main module, and `newsriver` (or `python -m newsriver.cli`) is this one.
NOT_IN_THE_MAIN_MODULE = ("sqlalchemy", "pydantic", "yaml", "urllib3", "apscheduler", "feedparser", "lxml", "numpy")


def test_the_main_module_alone_imports_no_heavy_dependency() -> None:
    code = "import json, sys; import newsriver.cli; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))
    assert loaded.isdisjoint(NOT_IN_THE_MAIN_MODULE), sorted(loaded & set(NOT_IN_THE_MAIN_MODULE))


def test_a_pass_where_every_feed_answers_304_never_imports_sqlalchemy_pydantic_or_yaml(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    """SQLAlchemy (the schema, its migrations) is a quarter of such a pass's CPU: the store
    reads and writes source rows at the driver (store/sql.py), on both backends. pydantic
    was the next largest part, and most of its memory (docs/performance.md)."""
    for n in range(3):
        item = {"title": f"Story {n}", "path": f"/{n}", "date": "Mon, 02 Mar 2026 10:00:00 GMT", "body": "<p>Text</p>"}
        feed_server.add(f"/f{n}.xml", rss(f"Feed {n}", feed_server.base, [item]))
    config = write_config([{"name": f"f{n}", "url": feed_server.url(f"/f{n}.xml")} for n in range(3)])
    code = (
        "import json, sys; from newsriver.cli import main; main(['--config', sys.argv[1], 'poll']);"
        "print(json.dumps(sorted(sys.modules)))"
    )

    def poll() -> tuple[str, set[str]]:
        done = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, check=True)
        *lines, modules = done.stdout.splitlines()
        return "\n".join(lines), set(json.loads(modules))

    first, loaded = poll()  # creates the database and stores the stories
    assert "3 new" in first
    assert "pydantic" in loaded  # the config validated
    warm, loaded = poll()
    assert warm.count("not modified") == 3, warm
    packages = {m.split(".")[0] for m in loaded}
    assert "sqlalchemy" not in packages
    # Nothing changed, so nothing is rendered: the publisher and its pages are not imported.
    assert "newsriver.publish.publisher" not in loaded
    assert "newsriver.publish.pages" not in loaded
    # The config validated by the first poll is read from load's cache: its models are plain
    # dataclasses, so neither pydantic (nor its core) nor the YAML parser is imported.
    assert not packages & {"pydantic", "pydantic_core", "yaml"}, sorted(
        packages & {"pydantic", "pydantic_core", "yaml"}
    )
    # The 304s are fetch's own HTTP/1.1 (ingest/http1.py): urllib3 decodes bodies only, and
    # plain-http sources need no TLS (psycopg imports ssl for its own connections).
    unneeded = {"urllib3", "http"} | (set() if "psycopg" in packages else {"ssl"})
    assert not packages & unneeded, sorted(packages & unneeded)


def test_the_cyclic_collector_paused_for_start_up_is_on_again_however_the_command_ends(tmp_path: Path) -> None:
    """cli pauses gc while the modules and the config load, and freezes what they made for the
    command's life; main is also called in-process."""
    from newsriver.cli import main

    assert gc.isenabled()
    assert main(["--config", str(tmp_path / "missing.yaml"), "check"]) == 2  # start-up failed
    assert gc.isenabled()
    config = tmp_path / "newsriver.yaml"
    config.write_text("sources: []\n")
    assert main(["--config", str(config), "check"]) == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # nothing the test process made stays out of collections
