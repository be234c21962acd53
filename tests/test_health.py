"""/healthz tells the truth: a full disk, a read-only output folder, a database file deleted
or replaced under the running service. Each is an error said once, never a traceback per tick.

The small disk and the read-only folder are real: a tmpfs or a read-only bind mount in the
service's own mount namespace (``unshare --mount``), gone with the process. The test reaches
into that namespace through ``/proc/<pid>/root``.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
import requests

from newsriver.config.schema import Config, validated
from newsriver.run.health import Health
from newsriver.store.store import Store

from .conftest import FIXTURES, ConfigWriter, FixtureServer
from .processes import stop
from .test_service import Running, entry_count, free_port, wait_for

TICK = 0.3  # seconds: several ticks pass in each wait below


def _own_mounts_work() -> bool:
    probe = "mount -t tmpfs -o size=1m tmpfs /mnt && umount /mnt"
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", probe]).returncode == 0
    except FileNotFoundError:
        return False


needs_own_mounts = pytest.mark.skipif(not _own_mounts_work(), reason="needs `unshare --mount` and mount rights")


class InOwnMounts:
    """``newsriver run`` in its own mount namespace, after ``setup`` (shell) mounted what it needs."""

    def __init__(self, config: Path, setup: str) -> None:
        self.log = config.parent / "run.log"
        command = [sys.executable, "-m", "newsriver.cli", "--config", str(config), "run"]
        script = f'{setup} && exec "$@"'
        with self.log.open("wb") as err:
            self.process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def inside(self, path: Path) -> Path:
        """``path`` as the service sees it (``sh`` and ``unshare`` exec, so the pid is the service's)."""
        return Path(f"/proc/{self.process.pid}/root{path}")

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        return stop(self.process)[0]


def fill(path: Path) -> None:
    """Write ``path`` until its disk is full."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(descriptor)


def healthz(port: int) -> str:
    return f"http://127.0.0.1:{port}/healthz"


def failures(log: str) -> list[str]:
    return re.findall(r"ERROR .*(?:storing|publishing) failed: .*", log)


@needs_own_mounts
def test_a_full_disk_is_said_once_and_the_service_recovers_when_space_returns(
    feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path, database_url: str
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    # The database shares the small disk on SQLite; PostgreSQL keeps its own.
    database = f"sqlite:///{disk / 'db.sqlite'}" if database_url.startswith("sqlite") else database_url
    wire = {"name": "wire", "url": feed_server.add("/wire.rss", FIXTURES / "wire.rss")}
    port = free_port()
    settings = {"listen": f"127.0.0.1:{port}", "base_url": f"http://127.0.0.1:{port}/", "tick": TICK}
    config = write_config([wire], database=database, output_dir=str(disk / "out"), min_free_space="1MiB", **settings)
    service = InOwnMounts(config, f"mount -t tmpfs -o size=8m tmpfs {disk}")
    try:
        healthy = wait_for(healthz(port), lambda r: r.status_code == 200 and r.json()["last_publish"]).json()
        assert healthy["status"] == "ok" and healthy["problems"] == []
        assert 1024 * 1024 < healthy["free_bytes"]["output"] <= 8 * 1024 * 1024
        assert healthy["last_store"] is not None and healthy["failing_sources"] == 0

        filler = service.inside(disk / "filler")
        fill(filler)
        sick = wait_for(healthz(port), lambda r: r.status_code == 503).json()
        assert sick["status"] == "error"
        assert f"output folder {disk / 'out'}: 0 bytes free, below min_free_space 1048576" in sick["problems"]

        # A source added now must be stored (SQLite) or published (PostgreSQL) into the full
        # disk, and fails tick after tick: said once, without a traceback.
        daily = {"name": "daily", "url": feed_server.add("/daily.atom", FIXTURES / "daily.atom")}
        write_config([wire, daily], database=database, output_dir=str(disk / "out"), min_free_space="1MiB", **settings)
        wait_for(healthz(port), lambda r: any(" failed: " in p for p in r.json()["problems"]))
        time.sleep(10 * TICK)
        assert len(failures(service.text())) == 1, service.text()
        assert "Traceback" not in service.text()

        filler.unlink()
        # Space is back: the added source is stored and published, and health is ok again.
        wait_for(f"http://127.0.0.1:{port}/all.atom", entry_count(port, 4))
        recovered = wait_for(healthz(port), lambda r: r.status_code == 200).json()
        assert recovered["problems"] == []
        assert " works again" in service.text()
    finally:
        assert service.stop() == 0


@needs_own_mounts
def test_a_read_only_output_folder_is_an_error(
    feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path, database_url: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    port = free_port()
    config = write_config(
        [{"name": "wire", "url": feed_server.add("/wire.rss", FIXTURES / "wire.rss")}],
        listen=f"127.0.0.1:{port}",
        tick=TICK,
    )
    service = InOwnMounts(config, f"mount --bind {out} {out} && mount -o remount,bind,ro {out}")
    try:
        sick = wait_for(healthz(port), lambda r: r.status_code == 503 and len(r.json()["problems"]) == 2).json()
        assert f"output folder {out} is not writable: Read-only file system" in sick["problems"]
        assert f"publishing failed: Read-only file system: {out}" in sick["problems"]
        assert sick["last_store"] and sick["last_publish"] is None  # the source is stored, never published
        time.sleep(10 * TICK)
        assert len(failures(service.text())) == 1, service.text()
        assert "Traceback" not in service.text()
    finally:
        assert service.stop() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("change", ["deleted", "replaced by another file"])
def test_a_database_file_deleted_or_replaced_stops_storing_and_says_so(
    feed_server: FixtureServer, write_config: ConfigWriter, tmp_path: Path, change: str
) -> None:
    wire = {"name": "wire", "url": feed_server.add("/wire.rss", FIXTURES / "wire.rss")}
    port = free_port()
    settings = {"listen": f"127.0.0.1:{port}", "base_url": f"http://127.0.0.1:{port}/", "tick": TICK}
    config = write_config([wire], **settings)
    service = Running(config)
    try:
        wait_for(f"http://127.0.0.1:{port}/all.atom", entry_count(port, 3))
        wait_for(healthz(port), lambda r: r.status_code == 200)
        database = tmp_path / "newsriver.db"
        if change == "deleted":
            database.unlink()
        else:  # a backup restored under the running service, say
            shutil.copy(database, tmp_path / "restored.db")
            os.replace(tmp_path / "restored.db", database)
        said = f"database file {database} was {change} under the running service"
        sick = wait_for(healthz(port), lambda r: r.status_code == 503).json()
        assert [p for p in sick["problems"] if p.startswith(said)] == sick["problems"][:1]

        # Storing has stopped: a source added now is not even fetched, and the feeds stay.
        daily = {"name": "daily", "url": feed_server.add("/daily.atom", FIXTURES / "daily.atom")}
        write_config([wire, daily], **settings)
        time.sleep(10 * TICK)
        assert feed_server.hits("/daily.atom") == []
        assert len(feedparser.parse(requests.get(f"http://127.0.0.1:{port}/all.atom", timeout=5).content).entries) == 3
        errors = [line for line in service.text().splitlines() if " ERROR " in line]
        assert len(errors) == 1 and said in errors[0], service.text()
        assert "Traceback" not in service.text()
        assert requests.get(healthz(port), timeout=5).status_code == 503
    finally:
        assert service.stop() == 0


def test_sources_overdue_with_nothing_stored_since_are_an_error(database_url: str, tmp_path: Path) -> None:
    settings = {"database": database_url, "output_dir": str(tmp_path), "tick": "5s", "deadline": "60s"}
    config = validated(Config, {"settings": settings, "sources": [{"name": "a", "url": "http://a.example/"}]})
    store = Store(database_url)
    try:
        store.sources.sync([("a", "http://a.example/")])
        now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        health = Health(store, now - timedelta(hours=1))
        last = now - timedelta(minutes=40)
        store.sources.update_many([("a", {"last_fetch": last, "next_poll": now - timedelta(minutes=10)})])
        report = health.report(config, now, None)
        assert report["problems"] == ["nothing stored for 2400 s while 1 source is overdue"]
        assert report["last_store_age"] == 2400 and report["oldest_overdue_age"] == 600
        # Overdue by less than the grace (a tick and a fetch's deadline): not yet an error.
        store.sources.update_many([("a", {"next_poll": now - timedelta(seconds=60)})])
        assert health.report(config, now, None)["problems"] == []
        # Stored recently: a backlog being worked through is no error either.
        store.sources.update_many([("a", {"last_fetch": now, "next_poll": now - timedelta(minutes=10)})])
        assert health.report(config, now, None)["status"] == "ok"
        # A service that just started gets the grace from its start.
        store.sources.update_many([("a", {"last_fetch": last})])
        assert Health(store, now - timedelta(seconds=10)).report(config, now, None)["status"] == "ok"
    finally:
        store.close()


def test_a_source_whose_document_lost_entries_is_counted_as_a_warning_not_a_failure(
    feed_server: FixtureServer, write_config: ConfigWriter
) -> None:
    whole = (FIXTURES / "wire.rss").read_bytes()
    cut = {"name": "cut", "url": feed_server.add("/cut.rss", whole[: whole.index(b"<title>Central bank")])}
    wire = {"name": "wire", "url": feed_server.add("/wire.rss", whole)}
    failing = {"name": "failing", "url": feed_server.add("/failing.rss", b"", status=500)}
    port = free_port()
    config = write_config(
        [cut, wire, failing], listen=f"127.0.0.1:{port}", base_url=f"http://127.0.0.1:{port}/", tick=TICK
    )
    service = Running(config)
    try:
        # The gauges are set at each publish; the first may come before every source is stored.
        gauges = ("newsriver_sources_in_error 1.0", "newsriver_sources_warning 1.0")
        wait_for(f"http://127.0.0.1:{port}/metrics", lambda r: all(g in r.text for g in gauges))
        health = wait_for(healthz(port), lambda r: r.json()["failing_sources"] == 1).json()
    finally:
        assert service.stop() == 0
    assert (health["status"], health["warning_sources"], health["failing_sources"]) == ("ok", 1, 1)
