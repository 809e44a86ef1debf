"""Where `up` started as root keeps what its unprivileged server user must reach.

PostgreSQL refuses to run as root, so as root the embedded servers run as
SERVER_USER. A clone often sits where only root may enter (/root/wabahook), so
nothing of theirs stays under the clone: their data lives under
STATE_ROOT/<checkout-id>/, and their programs, when the user cannot run them
where pip put them, are copied once to STATE_ROOT/programs/. Every folder made
here is root's and writable by root alone; only the data folders inside are the
server user's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pwd
import re
import shutil
import stat
import tempfile
from pathlib import Path

from processors.local.local_files import EmbeddedError, check_reachable

STATE_ROOT = Path("/var/lib/wabahook")
PROGRAMS = "programs"


def shared_folder(path: Path) -> Path:
    """`path` as a folder of root's that others may enter and only root may write."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o755, parents=True)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise EmbeddedError(f"refusing {path}: not a folder (a symbolic link?)")
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise EmbeddedError(f"refusing {path}: it must be root's and writable by root alone")
    if stat.S_IMODE(info.st_mode) & 0o011 != 0o011:
        path.chmod(stat.S_IMODE(info.st_mode) | 0o011)  # others pass through, nothing more
    return path


def checkout_home(var_dir: Path, root: Path = STATE_ROOT) -> Path:
    """The servers' folder of the quickstart kept in `var_dir`: one per var/, named after it."""
    folder = var_dir.absolute()
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.parent.name).strip(".-") or "wabahook"
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return shared_folder(root / f"{label[:40]}-{digest}")


@functools.cache
def runnable(
    base: Path,
    parts: tuple[str, ...],
    program: str,
    user: pwd.struct_passwd | None,
    root: Path = STATE_ROOT,
) -> Path:
    """`base` when `user` can run `base/program`, else root's copy of the folders `parts` of
    `base` (kept at the same places relative to each other: programs find their libraries
    by relative paths) in a folder `user` can reach.

    The copy is made once per content (named by a digest of its files), first in a
    staging folder, then renamed into place, so a half-made copy is never run. The answer
    is remembered for the process: a server's start and stop each ask, and the digest
    reads every file of the programs.
    """
    if user is None or _reaches(user, base / program):
        return base
    programs = shared_folder(root / PROGRAMS)
    copy = programs / f"{Path(parts[0]).parts[0]}-{_fingerprint(base, parts)}"
    if not copy.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".copying-", dir=programs))
        try:
            made = staging / "copy"
            for part in (part for part in parts if (base / part).is_dir()):
                shutil.copytree(base / part, made / part, symlinks=True)
            for path in [made, *made.rglob("*")]:
                if not path.is_symlink():
                    path.chmod(_shared_mode(stat.S_IMODE(path.stat().st_mode)))
            with contextlib.suppress(OSError):  # another `up` was first: its copy is as good
                made.rename(copy)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    shared_folder(copy)
    check_reachable(user, copy / program, "install wabahook where it can")
    return copy


def _shared_mode(mode: int) -> int:
    """Readable by all (runnable by all what its owner may run), writable by root alone."""
    shared = mode & 0o755 | 0o444
    return shared | 0o111 if mode & 0o100 else shared


def _reaches(user: pwd.struct_passwd, program: Path) -> bool:
    try:
        check_reachable(user, program, "")
    except EmbeddedError:
        return False
    return True


def _fingerprint(base: Path, parts: tuple[str, ...]) -> str:
    """A digest of the names and contents of the files in `parts`: one copy per content,
    however many clones or reinstalls hold the same programs."""
    digest = hashlib.sha256()
    for part in (part for part in parts if (base / part).is_dir()):
        for path in sorted((base / part).rglob("*")):
            digest.update(f"{path.relative_to(base)}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                with path.open("rb") as file:
                    digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()[:16]
