"""How commands find a running quickstart: `up` leaves its servers' URLs in var/.

The file is written by `wabahook up` once its servers answer and removed when it
stops. A command run without DATABASE_URL takes the URLs from it, but only from a
file of our own (mode 0600, never a link) whose `up` is still the process it names:
a file left by a killed `up`, or one whose pid now belongs to another process, is
ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from processors.local.local_files import (
    EmbeddedError,
    QuickstartError,
    locked_file,
    read_file,
    write_file,
)
from receiver.config import SECRET_KEY_VARIABLE, ConfigError, secret_value

DISCOVERY_FILE = "quickstart.json"
LOCK_FILE = "up.lock"  # held by the one `up` of a folder for as long as it runs
SECRET_KEY_FILE = "secret-key"  # noqa: S105  (where `up` keeps WABAHOOK_SECRET_KEY)
VAR_DIR_VARIABLE = "WABAHOOK_VAR_DIR"
NOTHING_TO_USE = (
    "DATABASE_URL is not set and no quickstart is running here: set DATABASE_URL "
    "(e.g. postgresql://user@host:5432/wabahook), or start one in this folder with "
    "`make run` (or `wabahook up`)"
)


@dataclass(frozen=True)
class Quickstart:
    """What a running `up` tells commands: where its servers and its receiver are."""

    path: Path
    pid: int
    database_url: str
    redis_url: str
    receiver_url: str
    console_url: str = ""


def var_dir(env: Mapping[str, str]) -> Path:
    """The quickstart's folder: WABAHOOK_VAR_DIR, else var/ in the current folder."""
    return Path(env.get(VAR_DIR_VARIABLE, "").strip() or "var")


def publish(
    folder: Path, *, database_url: str, redis_url: str, receiver_url: str, console_url: str
) -> Path:
    """Say in `folder` that this process runs a quickstart with these URLs (mode 0600)."""
    path = folder / DISCOVERY_FILE
    record = {
        "pid": os.getpid(),
        "started": _start_time(os.getpid()),
        "database_url": database_url,
        "redis_url": redis_url,
        "receiver_url": receiver_url,
        "console_url": console_url,
    }
    write_file(path, json.dumps(record, indent=2) + "\n")
    return path


def claim(folder: Path) -> int:
    """Hold `folder` for this `up` (a lock the kernel drops when we die); the lock's descriptor.

    A second `up` in the same folder is refused before it starts or touches anything.
    """
    fd = locked_file(folder / LOCK_FILE)
    if fd is None:
        raise QuickstartError(_already_running(folder))
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _already_running(folder: Path) -> str:
    found = running(folder)
    if found is not None:
        return (
            f"already running (pid {found.pid}): console {found.console_url}, "
            f"receiver {found.receiver_url}"
        )
    try:
        pid = (read_file(folder / LOCK_FILE) or "").strip() or "?"
    except (OSError, EmbeddedError, UnicodeDecodeError):
        pid = "?"
    return f"already starting in {folder} (pid {pid}): wait for it, or stop it first"


def withdraw(path: Path) -> None:
    """Remove the file `publish` wrote, if it is still this process's."""
    found = running(path.parent)
    if found is not None and found.pid == os.getpid():
        path.unlink(missing_ok=True)


def running(folder: Path) -> Quickstart | None:
    """The quickstart that runs from `folder`, or None (no file, not ours, or gone)."""
    path = folder / DISCOVERY_FILE
    try:
        if path.lstat().st_mode & 0o022:
            return None  # others could have written it: not to be believed
        text = read_file(path)
    except FileNotFoundError:
        return None
    except (OSError, EmbeddedError, UnicodeDecodeError):
        return None  # a link, another user's file, unreadable: not a quickstart of ours
    if text is None:
        return None
    try:
        record = json.loads(text)
        found = Quickstart(
            path=path,
            pid=int(record["pid"]),
            database_url=str(record["database_url"]),
            redis_url=str(record["redis_url"]),
            receiver_url=str(record["receiver_url"]),
            console_url=str(record.get("console_url", "")),
        )
        started = record.get("started")
    except (ValueError, KeyError, TypeError):
        return None
    if found.pid <= 0 or not process_alive(found.pid) or started != _start_time(found.pid):
        return None  # stopped without cleaning up, or its pid is another process's now
    return found


def environment(env: Mapping[str, str], say: Callable[[str], None]) -> Mapping[str, str]:
    """`env`, with a running quickstart's URLs when DATABASE_URL is not set (said once
    through `say`); without either, a ConfigError that names both ways out."""
    if secret_value(env, "DATABASE_URL"):
        return env
    found = running(var_dir(env))
    if found is None:
        raise ConfigError(NOTHING_TO_USE)
    say(f"wabahook: using the quickstart's servers (`wabahook up`, pid {found.pid}; {found.path})")
    added = {"DATABASE_URL": found.database_url}
    if not secret_value(env, "REDIS_URL"):
        added["REDIS_URL"] = found.redis_url
    key_file = found.path.parent / SECRET_KEY_FILE
    if not secret_value(env, SECRET_KEY_VARIABLE) and _ours(key_file):
        added[f"{SECRET_KEY_VARIABLE}_FILE"] = str(key_file)  # its meta channels' key
    return {**env, **added}


def _ours(path: Path) -> bool:
    """A regular file of ours, with one name, that no one else may write."""
    try:
        return read_file(path) is not None and not path.lstat().st_mode & 0o022
    except (OSError, EmbeddedError, UnicodeDecodeError):
        return False


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host: one that exited and waits to be reaped (a
    zombie, which signal 0 still finds) is not running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: signal 0 is all there is to go by
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), None elsewhere:
    with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]
