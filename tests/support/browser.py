"""Headless Chromium for tests that must see what a person's browser shows."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import require_command

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
]  # fmt: skip


def chromium() -> str:
    """Path of Debian's Chromium, installed when missing."""
    return require_command("chromium", "chromium")


def render(page: Path, wait_ms: int = 5000) -> tuple[str, str]:
    """(DOM after scripts ran, browser log) of a local file, with the network off."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={wait_ms}",
             "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr
