"""Commands find a running quickstart through var/quickstart.json, and only a live one of ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from processors.local import discovery
from receiver.config import ConfigError

URLS = {
    "database_url": "postgresql://postgres:pw@127.0.0.1:5999/wabahook",
    "redis_url": "redis://:pw@127.0.0.1:6999/0",
    "receiver_url": "http://127.0.0.1:8080",
    "console_url": "http://127.0.0.1:8090/",
}


def found_env(env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    said: list[str] = []
    return dict(discovery.environment(env, said.append)), said


def test_a_running_quickstart_gives_its_urls_and_says_so_once(tmp_path: Path) -> None:
    path = discovery.publish(tmp_path, **URLS)
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # its URLs hold passwords
    env, said = found_env({"WABAHOOK_VAR_DIR": str(tmp_path)})
    assert env["DATABASE_URL"] == URLS["database_url"]
    assert env["REDIS_URL"] == URLS["redis_url"]
    assert len(said) == 1
    assert f"pid {os.getpid()}" in said[0]
    assert "pw" not in said[0]  # the line names the file, never the URLs


def test_given_urls_win_over_the_quickstart(tmp_path: Path) -> None:
    discovery.publish(tmp_path, **URLS)
    given = {"WABAHOOK_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgresql://elsewhere/db"}
    env, said = found_env(given)
    assert env == given
    assert said == []
    # Only REDIS_URL given: the database is the quickstart's, Redis stays the given one.
    env, _ = found_env({"WABAHOOK_VAR_DIR": str(tmp_path), "REDIS_URL": "redis://mine:6379/0"})
    assert env["DATABASE_URL"] == URLS["database_url"]
    assert env["REDIS_URL"] == "redis://mine:6379/0"


def test_the_quickstarts_secret_key_file_comes_along(tmp_path: Path) -> None:
    discovery.publish(tmp_path, **URLS)
    (tmp_path / "secret-key").write_text("k")
    env, _ = found_env({"WABAHOOK_VAR_DIR": str(tmp_path)})
    assert env["WABAHOOK_SECRET_KEY_FILE"] == str(tmp_path / "secret-key")


def test_without_url_or_quickstart_the_error_names_both_ways_out(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"set DATABASE_URL .* `make run`"):
        found_env({"WABAHOOK_VAR_DIR": str(tmp_path)})


def test_a_file_left_by_a_process_that_is_gone_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    record = {"pid": int(gone.stdout), "started": None, **URLS}
    (tmp_path / "quickstart.json").write_text(json.dumps(record))
    (tmp_path / "quickstart.json").chmod(0o600)
    assert discovery.running(tmp_path) is None
    with pytest.raises(ConfigError):
        found_env({"WABAHOOK_VAR_DIR": str(tmp_path)})


def test_a_live_pid_that_started_later_is_another_process(tmp_path: Path) -> None:
    path = discovery.publish(tmp_path, **URLS)
    record = json.loads(path.read_text())
    record["started"] = "1"  # this pid's process did not start at tick 1: pid reused
    path.write_text(json.dumps(record))
    assert discovery.running(tmp_path) is None


@pytest.mark.parametrize("case", ["group-writable", "symlink", "garbage", "not-an-object"])
def test_a_file_that_cannot_be_trusted_or_read_is_ignored(tmp_path: Path, case: str) -> None:
    path = discovery.publish(tmp_path, **URLS)
    if case == "group-writable":
        path.chmod(0o620)
    elif case == "symlink":
        real = tmp_path / "real.json"
        path.rename(real)
        path.symlink_to(real)
    elif case == "garbage":
        path.write_bytes(b"\xff\xfe not json")
    else:
        path.write_text("[1, 2]")
    assert discovery.running(tmp_path) is None


def test_withdraw_removes_only_its_own_file(tmp_path: Path) -> None:
    path = discovery.publish(tmp_path, **URLS)
    record = json.loads(path.read_text())
    record["pid"] = 1  # another live process's file now
    record["started"] = None if record["started"] is None else "0"
    path.write_text(json.dumps(record))
    discovery.withdraw(path)
    assert path.exists()
    path = discovery.publish(tmp_path, **URLS)
    discovery.withdraw(path)
    assert not path.exists()


def test_a_process_that_exited_and_awaits_its_reaping_is_not_alive() -> None:
    """A server killed outright lingers as a zombie until its parent reaps it: a restart
    must not take it for the running server."""
    import time

    process_alive = discovery.process_alive
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert process_alive(child.pid)
        child.kill()
        for _ in range(100):  # until the kernel has made it a zombie (not reaped: no wait)
            if not process_alive(child.pid):
                break
            time.sleep(0.02)
        assert not process_alive(child.pid)
        assert child.poll() is not None  # and it was a zombie till now: reaped here
    finally:
        child.kill()
        child.wait()
