"""Stopping the newsriver processes tests start, so none outlives its test."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from typing import Any


def stop(*processes: subprocess.Popen[Any], timeout: float = 15) -> list[int]:
    """One SIGTERM to each, then wait; kill any that does not stop in time. The exit codes.

    Each process is signalled exactly once, all before any wait, as systemd does: a second
    SIGTERM could land while an exiting interpreter has already restored the default handler,
    and would then kill a process that was shutting down cleanly.
    """
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return codes


def poll_on_a_terminal(config: str) -> bytes:
    """What ``newsriver poll`` writes to a terminal (a pseudo-terminal 100 columns wide)."""
    return on_a_terminal([sys.executable, "-m", "newsriver.cli", "--config", config, "poll"])


def on_a_terminal(command: list[str], stderr: bool = True) -> bytes:
    """What ``command`` writes to a pseudo-terminal 100 columns wide (its standard error too,
    unless ``stderr`` is false); it must exit 0."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command,
        stdout=follower,
        stderr=follower if stderr else subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "100"},
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0
    os.close(leader)
    return output
