"""`wabahook up` on a machine without PostgreSQL or Redis settings: embedded servers."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from processors.embedded import free_port
from tests.integration.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90


class Running:
    """A `wabahook up` process whose output is read line by line."""

    def __init__(self, var_dir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "processors.cli",
                "up",
                "--port",
                str(port),
                "--var-dir",
                str(var_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_curl_line(self) -> str:
        while True:
            try:
                line = self.lines.get(timeout=STARTUP_SECONDS)
            except queue.Empty:
                raise AssertionError("no curl line:\n" + "".join(self.output)) from None
            if line.startswith("curl "):
                return line.strip()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "var"
    yield folder
    pid_file = folder / "postgres" / "postmaster.pid"
    if pid_file.exists():  # a failed test must not leave a server behind
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)


def run_curl(line: str) -> dict[str, object]:
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def stored_bodies(var_dir: Path) -> list[bytes]:
    port = (var_dir / "postgres" / "postmaster.pid").read_text().splitlines()[3]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/wabahook") as conn:
        rows = conn.execute("SELECT body FROM wabahook.raw_events ORDER BY id").fetchall()
    return [bytes(row[0]) for row in rows]


def processed_texts(var_dir: Path) -> list[str]:
    port = (var_dir / "postgres" / "postmaster.pid").read_text().splitlines()[3]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/wabahook") as conn:
        rows = conn.execute("SELECT text FROM wabahook.messages_inbound").fetchall()
    return [row[0] for row in rows]


def test_up_serves_the_printed_curl_line_and_stops_cleanly_then_restarts(var_dir: Path) -> None:
    port = free_port()
    first = Running(var_dir, port)
    try:
        curl_line = first.wait_for_curl_line()
        assert "\n" not in curl_line
        answer = run_curl(curl_line)
        assert answer["status"] == "stored"
        bodies = stored_bodies(var_dir)
        assert len(bodies) == 1
        # The worker and cron that `up` started process it without further ado.
        assert wait_until(lambda: processed_texts(var_dir) == ["Hello from wabahook"], timeout=30)
        assert json.loads(bodies[0])["object"] == "whatsapp_business_account"
        saved = var_dir / "demo-credentials.json"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert json.loads(saved.read_text())["password"] in curl_line
    finally:
        assert first.stop() == 0, "".join(first.output)
    assert not (var_dir / "postgres" / "postmaster.pid").exists()

    second = Running(var_dir, port)
    try:
        assert second.wait_for_curl_line() == curl_line  # same credential, same line
        assert run_curl(curl_line)["status"] == "stored"
        assert len(stored_bodies(var_dir)) == 2  # the first run's event is still there
    finally:
        assert second.stop() == 0, "".join(second.output)
