"""Stopping the newsriver processes tests start, so none outlives its test."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def stop(process: subprocess.Popen[Any], timeout: float = 15) -> int:
    """SIGTERM, wait; kill if it does not stop in time. The exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
