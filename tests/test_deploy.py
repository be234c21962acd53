"""The systemd unit an operator installs: hardened, restarting, reloadable, and valid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "newsriver.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_unit_is_hardened_and_restarts() -> None:
    d = directives()
    assert d["Restart"] == ["on-failure"]
    assert d["User"] == ["newsriver"]
    assert d["NoNewPrivileges"] == ["yes"]
    assert d["ProtectSystem"] == ["strict"]
    writable = d["ReadWritePaths"][0].split()
    assert "/var/lib/newsriver" in writable and "/var/www/newsriver" in writable
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert d["ExecStart"][0].endswith("newsriver run")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # verify insists the ExecStart binary exists; point it at one that does.
    unit = tmp_path / "newsriver.service"
    unit.write_text(UNIT.read_text().replace("/opt/newsriver/.venv/bin/newsriver", shutil.which("true") or "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "newsriver.service" not in result.stderr, result.stderr
