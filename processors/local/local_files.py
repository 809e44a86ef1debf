"""Files and folders of the quickstart's servers, handled so nobody can steer root.

Started as root, the servers and processes run as the unprivileged SERVER_USER, and
their folders are that user's: whatever it leaves there (a symbolic link, a hard link
to someone else's file, a FIFO) must never turn root's reads, writes or ownership
changes towards another file. Every file here is opened without following a final
symbolic link, checked through its descriptor (a regular file, one link, the
expected owner) and changed through that descriptor only.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import fcntl
import os
import pwd
import secrets
import signal
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from receiver.config import ConfigError, check_secret_key
from receiver.errors import WabahookError

# PostgreSQL refuses to run as root; as root, the embedded servers (and `wabahook up`'s
# processes) run as this unprivileged user.
SERVER_USER = "wabahook-pg"
_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_FOLDER_REMEDY = "keep the data in a folder it can reach (e.g. --var-dir /srv/wabahook)"
_PROGRAM_REMEDY = "install wabahook where it can"


_PR_SET_PDEATHSIG = 1


def end_with_parent() -> None:
    """Run in a child before exec: be sent SIGTERM when the process that started it dies,
    however it dies (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class QuickstartError(WabahookError, RuntimeError):
    """Something the quickstart needs did not start."""


class EmbeddedError(WabahookError, RuntimeError):
    """An embedded server could not be started."""


def service_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run servers and processes as when we are root; else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    subprocess.run([*command, SERVER_USER], check=True, capture_output=True)
    return pwd.getpwnam(SERVER_USER)


class RunAs(TypedDict, total=False):
    """Keyword arguments of subprocess.Popen and run that start a process as another user."""

    user: int
    group: int
    extra_groups: list[int]


def as_user(user: pwd.struct_passwd | None) -> RunAs:
    """subprocess arguments that start a process as `user` and no other group (None: as us)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def check_reachable(user: pwd.struct_passwd | None, path: Path, remedy: str) -> None:
    """Refuse, in one line, a folder or program that `user` cannot reach."""
    if user is None:
        return
    reached = subprocess.run(
        ["test", "-x", str(path)], cwd="/", capture_output=True, check=False, **as_user(user)
    )
    if reached.returncode != 0:
        raise EmbeddedError(
            f"the user {user.pw_name}, which runs wabahook's servers and processes when "
            f"started as root, cannot reach {path}: {remedy}"
        )


def check_server_reachable(user: pwd.struct_passwd | None, data_dir: Path, program: Path) -> None:
    """Refuse, in one line, a server whose data folder or program `user` cannot reach."""
    check_reachable(user, data_dir.parent, _FOLDER_REMEDY)
    check_reachable(user, program, _PROGRAM_REMEDY)


def private_folder(path: Path, owner: pwd.struct_passwd | None, *, adopt: bool = False) -> None:
    """Create `path` with mode 0700 (or check it is a real folder) and hand it to `owner`.

    With `adopt`, the regular files and folders directly inside that are ours (what a
    server started as root by an older version left there) are handed over too; any
    other entry (a symbolic link, a file with more than one name, someone else's) is
    left alone.
    """
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    fd = _open_folder(path, owner)
    try:
        os.fchmod(fd, 0o700)
        if owner is None:
            return
        if os.fstat(fd).st_uid != owner.pw_uid:
            os.fchown(fd, owner.pw_uid, owner.pw_gid)
        if adopt:
            for name in os.listdir(fd):
                _adopt(fd, name, owner)
    finally:
        os.close(fd)


def _open_folder(path: Path, owner: pwd.struct_passwd | None) -> int:
    """The folder `path`, opened; refused unless a real folder of ours or of `owner`."""
    try:
        before = path.lstat()
        if stat.S_ISLNK(before.st_mode):
            raise EmbeddedError(f"refusing {path}: it is a symbolic link")
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _OPEN)
    except OSError as exc:
        raise EmbeddedError(_refusal(path, exc)) from None
    info = os.fstat(fd)
    owners = (os.geteuid(), *(() if owner is None else (owner.pw_uid,)))
    if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino) or info.st_uid not in owners:
        os.close(fd)
        raise EmbeddedError(f"refusing {path}: not a folder of ours")
    return fd


def _adoptable(info: os.stat_result) -> bool:
    """Ours, and a folder or a regular file with no other name."""
    if info.st_uid != os.geteuid():
        return False
    return stat.S_ISDIR(info.st_mode) or (stat.S_ISREG(info.st_mode) and info.st_nlink == 1)


def _adopt(folder: int, name: str, owner: pwd.struct_passwd) -> None:
    """Hand `name` in the open `folder` to `owner` if adoptable, through its own descriptor."""
    try:
        before = os.stat(name, dir_fd=folder, follow_symlinks=False)
        if not _adoptable(before):
            return
        fd = os.open(name, os.O_RDONLY | _OPEN, dir_fd=folder)
    except OSError:
        return  # gone, or changed into something we do not open: left alone
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) == (before.st_dev, before.st_ino) and _adoptable(info):
            os.fchown(fd, owner.pw_uid, owner.pw_gid)
    finally:
        os.close(fd)


def _open_file(path: Path, flags: int, owner: pwd.struct_passwd | None, mode: int = 0o600) -> int:
    """`path` opened without following a link, refused unless a regular file of `owner`.

    `owner` None means us. With O_CREAT, a missing file is created (by us) and handed
    to `owner`; a file found there is never created over.
    """
    uid = os.geteuid() if owner is None else owner.pw_uid
    try:
        try:
            fd = os.open(path, (flags & ~os.O_CREAT) | _OPEN)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            fd = os.open(path, flags | os.O_EXCL | _OPEN, mode)
            if owner is not None:
                os.fchown(fd, owner.pw_uid, owner.pw_gid)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and not flags & os.O_CREAT:
            raise  # missing: the reader's to say
        raise EmbeddedError(_refusal(path, exc)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != uid or info.st_nlink != 1:
        os.close(fd)
        whose = "ours" if owner is None else owner.pw_name + "'s"
        raise EmbeddedError(f"refusing {path}: not a regular file of {whose} with one name")
    return fd


def write_file(
    path: Path,
    text: str,
    *,
    mode: int = 0o600,
    owner: pwd.struct_passwd | None = None,
    append: bool = False,
) -> None:
    """Write (or append to) the file `path` of `owner` (None: ours), mode 0600 unless told.

    A symbolic link, a hard link or another user's file there is refused.
    """
    fd = _open_file(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0), owner, mode)
    try:
        os.fchmod(fd, mode)
        if not append:
            os.ftruncate(fd, 0)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def read_file(
    path: Path, *, owner: pwd.struct_passwd | None = None, last_bytes: int | None = None
) -> str | None:
    """The text of the file `path` of `owner` (None when missing); refuses a link.

    Our own files (`owner` None) are kept 0600. `last_bytes` reads only the end.
    """
    try:
        fd = _open_file(path, os.O_RDONLY, owner)
    except FileNotFoundError:
        return None
    try:
        info = os.fstat(fd)
        if owner is None and info.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        if last_bytes is not None:
            os.lseek(fd, max(0, info.st_size - last_bytes), os.SEEK_SET)
        with os.fdopen(os.dup(fd), "rb") as file:
            # Another user's file (a server's log) may hold anything; ours must be text.
            return file.read().decode(errors="strict" if owner is None else "replace")
    finally:
        os.close(fd)


def locked_file(path: Path) -> int | None:
    """Our file `path` (made if missing), opened and locked for as long as this process
    lives; None when another process holds the lock. The kernel drops it when we die."""
    fd = _open_file(path, os.O_RDWR | os.O_CREAT, None)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def kept_secret(path: Path, make: Callable[[], str] | None = None) -> tuple[str, bool]:
    """The secret kept in `path`, or a new one (`make`, else a random password) written
    there; (secret, is_new)."""
    kept = (read_file(path) or "").strip()
    if kept:
        return kept, False
    secret = make() if make is not None else secrets.token_urlsafe(32)
    write_file(path, secret + "\n")
    return secret, True


def kept_secret_key(path: Path) -> str:
    """The WABAHOOK_SECRET_KEY kept in `path`, or a new one written there."""
    key, _ = kept_secret(path, lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    try:
        return check_secret_key(key)
    except ConfigError:
        raise QuickstartError(
            f"{path} holds no secret key: move it away to make a new one"
        ) from None


def _refusal(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"refusing {path}: it is a symbolic link"
    return f"cannot use {path}: {exc.strerror}"


def terminate(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop `process`: SIGTERM, and SIGKILL if it is still there after `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
