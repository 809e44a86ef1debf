"""The Python that `up`'s processes run, and the environment they get.

Started as root, `up` runs the receiver, worker and cron as an unprivileged user,
who must be able to run this Python with this environment's packages.
"""

from __future__ import annotations

import os
import platform
import pwd
import site
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from processors.local.local_files import QuickstartError, as_user, write_file

OnStop = Callable[[Callable[[], None]], None]  # registers what to undo when `up` stops

CHILD_NAMES = ("PATH", "LANG", "TZ")
CHILD_PREFIXES = ("LC_", "WABAHOOK_", "PROMETHEUS_")
CHILD_NEVER = ("_FILE", "_DB_PASSWORD")
URL_FILES = ("DATABASE_URL_FILE", "REDIS_URL_FILE")


@dataclass(frozen=True)
class Python:
    """How `up`'s processes run Python: the interpreter, more environment, descriptors to keep."""

    executable: str
    env: dict[str, str] = field(default_factory=dict)
    fds: tuple[int, ...] = ()


def python_for(
    user: pwd.struct_passwd, env: Mapping[str, str], var_dir: Path, on_stop: OnStop
) -> Python:
    """A Python that `user` can run with this environment's packages, or a one-line refusal."""
    direct = Python(sys.executable)
    problem = probe(direct, user, env)
    if problem is None:
        return direct
    borrowed = borrowed_python(var_dir, on_stop)
    if borrowed is not None and probe(borrowed, user, env) is None:
        return borrowed
    raise QuickstartError(
        f"the user {user.pw_name}, which runs wabahook's processes when started as root, "
        f"cannot run {sys.executable} ({problem}): install wabahook with a Python "
        "every user can run, or start it as an unprivileged user"
    )


def probe(python: Python, user: pwd.struct_passwd, env: Mapping[str, str]) -> str | None:
    """None when `user` can import wabahook with `python`, else what went wrong."""
    try:
        result = subprocess.run(
            [python.executable, "-c", "import processors.cli, receiver"],
            env={**child_environment(env, user, {}), **python.env},
            pass_fds=python.fds,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **as_user(user),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    lines = result.stderr.strip().splitlines()
    return None if result.returncode == 0 else (lines[-1] if lines else "it failed")


def borrowed_python(var_dir: Path, on_stop: OnStop) -> Python | None:
    """This Python, reached through a descriptor of its folder that `up` opens as root.

    For a Python installed in a folder only root may enter (say, under /root), only
    while `up` runs, through a small environment in var/python whose packages are this
    environment's. What the processes can reach through the descriptor: the Python's
    install folder (sys.base_prefix, every file in it that its modes let others read)
    and, since `..` leads upwards from it, each folder above it up to the first one
    others cannot search (with pyenv under /root: all of ~/.pyenv, not /root).
    """
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if sys.base_exec_prefix != sys.base_prefix or not (base / "bin" / version).is_file():
        return None
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    on_stop(lambda: os.close(fd))
    home = f"/proc/self/fd/{fd}"
    folder = var_dir / "python"
    packages = folder / "lib" / version / "site-packages"
    for part in (folder, folder / "bin", folder / "lib", packages.parent, packages):
        if part.is_symlink():
            raise QuickstartError(f"refusing {part}: it is a symbolic link")
        part.mkdir(mode=0o755, exist_ok=True)
        part.chmod(0o755)
    executable = folder / "bin" / "python3"
    executable.unlink(missing_ok=True)
    executable.symlink_to(f"{home}/bin/{version}")
    write_file(
        folder / "pyvenv.cfg",
        f"home = {home}/bin\ninclude-system-site-packages = false\n"
        f"version = {platform.python_version()}\n",
        mode=0o644,
    )
    reached = [
        home + path[len(str(base)) :] if path.startswith(str(base) + "/") else path
        for path in dict.fromkeys(site.getsitepackages())
    ]
    write_file(
        packages / "wabahook-environment.pth",
        "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in reached) + "\n",
        mode=0o644,
    )
    return Python(str(executable), {"LD_LIBRARY_PATH": f"{home}/lib"}, (fd,))


def child_environment(
    env: Mapping[str, str], user: pwd.struct_passwd | None, urls: Mapping[str, str]
) -> dict[str, str]:
    """The environment of `up`'s processes: `urls` (resolved), never DATABASE_URL_FILE or
    REDIS_URL_FILE. As `user` (started as root): only what they need of `env`, HOME theirs.
    """
    if user is None:
        kept = {name: value for name, value in env.items() if name not in URL_FILES}
    else:
        kept = {
            name: value
            for name, value in env.items()
            if (name in CHILD_NAMES or name.startswith(CHILD_PREFIXES))
            and not name.endswith(CHILD_NEVER)
        }
        kept["HOME"] = user.pw_dir
    return {**kept, **urls}
