"""What `up` keeps in var/: checked before use, never followed through a symbolic link."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from processors.local.discovery import DISCOVERY_FILE, LOCK_FILE, SECRET_KEY_FILE
from processors.local.embedded import free_port
from processors.local.local_files import QuickstartError, read_file, write_file

CREDENTIALS_FILE = "demo-credentials.json"
SEEDED_FILE = "demo-seeded"  # seeded once per quickstart folder
SERVERS_POINTER = "servers"  # as root: the folder the servers' data is in
# What `up` keeps in var/: never a symbolic link, whoever put one there.
KEPT_IN_VAR = (
    "postgres",
    "postgres.password",
    "postgres.port",
    "valkey",
    "valkey.password",
    "valkey.port",
    CREDENTIALS_FILE,
    SECRET_KEY_FILE,
    DISCOVERY_FILE,
    LOCK_FILE,
    SERVERS_POINTER,
    SEEDED_FILE,
)


def prepare(var_dir: Path) -> Path:
    """var/ as an absolute path: created 0700, or refused unless a real folder only we write."""
    folder = var_dir.absolute()
    if not folder.is_symlink() and not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise QuickstartError(f"refusing {folder}: it is a symbolic link; choose another --var-dir")
    if not stat.S_ISDIR(info.st_mode):
        raise QuickstartError(f"{folder} is not a folder: choose another --var-dir")
    if info.st_uid != os.geteuid():
        raise QuickstartError(f"{folder} belongs to another user: use a --var-dir of your own")
    if info.st_mode & 0o022:
        raise QuickstartError(
            f"{folder} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o}): "
            "use a --var-dir only you can write to"
        )
    for name in KEPT_IN_VAR:
        if (folder / name).is_symlink():
            raise QuickstartError(f"refusing {folder / name}: it is a symbolic link")
    return folder


def kept_port(var_dir: Path, name: str) -> int:
    """The port the embedded server `name` was given on its first start (kept in var/)."""
    path = var_dir / f"{name}.port"
    kept = (read_file(path) or "").strip()
    if kept.isdigit() and 1024 <= int(kept) <= 65535:
        return int(kept)
    port = free_port()
    write_file(path, f"{port}\n")
    return port


def refuse_taken(var_dir: Path, name: str, port: int) -> None:
    """Refuse, in one line, a kept port another program took meanwhile."""
    if port_taken("127.0.0.1", port):
        path = var_dir / f"{name}.port"
        raise QuickstartError(
            f"port {port} of the embedded {name} (kept in {path}) is taken by another "
            f"program: stop it, or remove {path} to choose another port"
        )


def port_taken(host: str, port: int) -> bool:
    """Whether a program listens on `host`:`port` (a port that only lingers is free)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the servers bind: a port that only lingers after our own last run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
