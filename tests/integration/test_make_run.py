"""`git clone … && cd … && make run` on a fresh clone, as a newcomer runs it.

Three machines people start from: root with the clone in a folder only root may
enter (/root/wabahook on a cloud VM), root with the clone at the top of the tree
(/app in a container), and an ordinary user. Each clone installs from the
wheelhouse `make test` built (no network per clone), runs `make run` on embedded
servers, answers the printed curl line, shows today's demo figures, refuses a
second `make run` in the same folder without harming the first, and stops
everything on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from processors.local.embedded import free_port
from processors.local.local_files import as_user
from tests.integration.test_quickstart import descendants, run_curl, stop_leftovers

pytestmark = pytest.mark.slow  # fresh clones set up and `make run`

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"
START_SECONDS = 300  # a hang guard: a venv installed from wheels, then `up`
NOBODY = "nobody"


class MakeRun:
    """`make run` in a clone, in a session of its own (as in a terminal), output collected."""

    def __init__(self, clone: Path, user: pwd.struct_passwd | None, home: Path) -> None:
        self.output: list[str] = []
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin" if user else os.environ["PATH"],
            "HOME": str(home),
            "LANG": "C.UTF-8",
            # Offline: every package from the wheelhouse, nothing cached between clones.
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(home / "wheelhouse" if user else WHEELHOUSE),
            "PIP_NO_CACHE_DIR": "1",
            "UP_ARGS": f"--port {free_port()} --console-port 0",
        }
        self.process = subprocess.Popen(
            ["make", "run"],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            **as_user(user),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def said(self) -> str:
        return "".join(line for line in self.output if not line.startswith("WARNING: Location"))

    def wait_for(self, prefix: str, seconds: float = START_SECONDS) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in list(self.output):
                if line.startswith(prefix):
                    return line.strip()
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line starting {prefix!r}:\n{self.said()}")

    def interrupt(self) -> None:
        """Ctrl-C in its terminal: SIGINT to the foreground process group."""
        if self.process.poll() is not None:
            self.close()
            raise AssertionError(f"make run ended ({self.process.returncode}):\n{self.said()}")
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=60)  # a hang guard
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError("make run did not stop:\n" + self.said()) from None
        self.close()

    def close(self) -> None:
        """Once it ended: the rest of its output read, its pipe closed."""
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


def fresh_clone(parent: Path, name: str = "wabahook") -> Path:
    """A clone of this repository with the working tree's tracked files: no venv, no var/."""
    clone = parent / name
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
                   check=True, capture_output=True)  # fmt: skip
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                             capture_output=True).stdout.decode().split("\0")  # fmt: skip
    for name_ in filter(None, tracked):
        source = ROOT / name_
        if source.is_file() and not source.is_symlink():
            (clone / name_).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name_)
    return clone


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    assert any(WHEELHOUSE.glob("wabahook-*.whl")), (
        f"{WHEELHOUSE} holds no wheels: run the tests with `make test`, which builds it"
    )
    return WHEELHOUSE


@pytest.fixture
def top_level_folder() -> Iterator[Path]:
    """A root-owned 0755 folder at the top of the tree, as /app is in a container."""
    folder = Path(tempfile.mkdtemp(prefix="wabahook-app-", dir="/"))
    folder.chmod(0o755)
    yield folder
    cleanup(folder)


@pytest.fixture
def private_folder() -> Iterator[Path]:
    """A folder only root may enter, as /root is."""
    folder = Path(tempfile.mkdtemp(prefix="wabahook-root-"))
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    yield folder
    cleanup(folder)


@pytest.fixture
def users_folder() -> Iterator[Path]:
    """An ordinary user's home: theirs, in a folder they may enter."""
    parent = Path(tempfile.mkdtemp(prefix="wabahook-user-"))
    parent.chmod(0o755)
    home = parent / "home"
    home.mkdir()
    yield home
    cleanup(parent)


def cleanup(folder: Path) -> None:
    """Stop whatever a failed test left running, remove its servers' data and the folder."""
    subprocess.run(["pkill", "-f", str(folder)], check=False)
    homes = [Path(pointer.read_text().strip()) for pointer in folder.rglob("var/servers")]
    stop_leftovers([folder, *homes])
    for home in homes:
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)


def as_a_newcomer(clone: Path, user: pwd.struct_passwd | None, home: Path) -> None:
    """What the README's two commands promise, checked as its reader would."""
    first = MakeRun(clone, user, home)
    try:
        curl_line = first.wait_for("curl ")
        console = first.wait_for("console: ").removeprefix("console: ")
        assert run_curl(curl_line)["status"] == "stored"
        # Today's demo, one message read and one failed, once the worker has processed it
        # (it runs apart from intake; a loaded machine takes a moment to start it).
        demo = (2, 1, 1, 1)
        deadline = time.monotonic() + 30
        while True:
            stats = wabahook(clone, user, "stats", "--json")
            totals = json.loads(stats)["totals"]
            seen = (totals["sent"], totals["delivered"], totals["read"], totals["failed"])
            if seen == demo or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert seen == demo, stats
        with urllib.request.urlopen(console, timeout=10) as page:  # noqa: S310  (loopback)
            overview = page.read().decode()
        cards = dict(re.findall(r'id="card-(\w+)"[^>]*><b>(\d+)</b>', overview))
        assert (cards["sent"], cards["read"], cards["failed"]) == ("2", "1", "1"), overview
        assert "<td>undeliverable</td><td>1</td>" in overview

        second = MakeRun(clone, user, home)
        second.process.wait(timeout=START_SECONDS)
        second.close()
        refused = second.said()
        assert second.process.returncode != 0, refused
        assert "already running (pid " in refused, refused
        assert "Starting" not in refused, refused
        assert run_curl(curl_line)["status"] == "stored"  # the first one still takes webhooks
    finally:
        first.interrupt()
    after = first.said().split("Stopping ...", 1)
    assert len(after) == 2, first.said()
    for noise in ("Traceback", "Error", "SIGKILL", "did not stop"):
        assert noise not in after[1], after[1]
    assert not descendants(first.process.pid)
    assert not (clone / "var" / "quickstart.json").exists()


def wabahook(clone: Path, user: pwd.struct_passwd | None, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(clone), "LANG": "C.UTF-8"}
    done = subprocess.run([str(clone / ".venv/bin/wabahook"), *args], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=60, check=False,
                          **as_user(user))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(done.stdout)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="starting as root needs root")


@needs_root
def test_make_run_as_root_in_a_folder_only_root_may_enter(
    wheelhouse: Path, private_folder: Path
) -> None:
    clone = fresh_clone(private_folder)
    as_a_newcomer(clone, None, private_folder)


@needs_root
def test_make_run_as_root_at_the_top_of_the_tree(wheelhouse: Path, top_level_folder: Path) -> None:
    clone = fresh_clone(top_level_folder, "app")
    as_a_newcomer(clone, None, top_level_folder)


def test_make_run_as_an_ordinary_user(wheelhouse: Path, users_folder: Path) -> None:
    user = pwd.getpwnam(NOBODY) if os.geteuid() == 0 else None
    clone = fresh_clone(users_folder)
    if user is not None:  # run by root here: the clone and the wheels become the user's
        shutil.copytree(wheelhouse, users_folder / "wheelhouse")
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(users_folder)],
                       check=True)  # fmt: skip
    as_a_newcomer(clone, user, users_folder)
    assert not (clone / "var" / "servers").exists()
    assert (clone / "var" / "postgres" / "PG_VERSION").exists()  # a user's data stays in var/
