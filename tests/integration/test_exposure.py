"""Reached directly the receiver listens on loopback only; behind a proxy, anywhere.

gunicorn's sync workers are held by half-sent requests (two such connections stall a
two-worker receiver for its 5 s timeout), so the receiver refuses a public bind unless
a buffering proxy is declared in front. Run as the deploy files run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from processors.local.embedded import free_port
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.slow  # gunicorn on the binds it refuses

ROOT = Path(__file__).resolve().parents[2]
WABAHOOK = str(Path(sys.executable).parent / "wabahook")


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WABAHOOK_", "REDIS_URL"))}
    return {**env, "DATABASE_URL": database_url, "WABAHOOK_WORKERS": "1", **extra}


@contextmanager
def running(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=30)


def healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        return int(answer.status)


def test_serve_refuses_a_public_bind_without_a_proxy(database_url: str) -> None:
    port = free_port()
    result = subprocess.run(
        [WABAHOOK, "serve", "--bind", f"0.0.0.0:{port}"],
        env=environment(database_url), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"refusing to listen on 0.0.0.0:{port} without --behind-proxy" in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_with_the_config_file_refuses_it_too(database_url: str) -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
         "receiver:create_app()"],
        env=environment(database_url, WABAHOOK_BIND=f"[::]:{port}"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "without --behind-proxy" in result.stderr


def test_the_shipped_command_serves_on_every_address_behind_a_proxy(database_url: str) -> None:
    # Dockerfile and k8s: WABAHOOK_BIND=0.0.0.0:8080 and `wabahook serve --behind-proxy`.
    port = free_port()
    env = environment(database_url, WABAHOOK_BIND=f"0.0.0.0:{port}")
    with running([WABAHOOK, "serve", "--behind-proxy"], env) as process:
        assert wait_for_port("127.0.0.1", port, timeout=30), process.stderr
        assert healthz(port) == 200


def test_serve_on_loopback_needs_no_flag(database_url: str) -> None:
    port = free_port()
    with running([WABAHOOK, "serve", "--bind", f"127.0.0.1:{port}"], environment(database_url)):
        assert wait_for_port("127.0.0.1", port, timeout=30)
        assert healthz(port) == 200


def test_up_says_why_a_public_host_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [WABAHOOK, "up", "--host", "0.0.0.0", "--var-dir", str(tmp_path / "var")],
        env=environment(""), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0:8080 without --behind-proxy" in result.stderr
    assert not (tmp_path / "var").exists()  # refused before anything was started
