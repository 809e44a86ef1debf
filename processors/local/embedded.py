"""What the embedded servers share: their folder's name, a free port, how long to wait.

Both servers (processors.local.postgres, processors.local.valkey) listen on
127.0.0.1 only and ask for a password: a random one, kept beside the server's
folder in `<folder>.password` (mode 0600) and reused on every later start.
Started as root, both run as the unprivileged user of processors.local.local_files,
which must be able to reach their folders: no folder above them is ever opened up.
Their folders are that user's, so what root reads or writes there goes through
processors.local.local_files, which follows no link.
"""

from __future__ import annotations

import socket
from pathlib import Path

READY_SECONDS = 30


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def password_file(data_dir: Path) -> Path:
    """Where the password of the server in `data_dir` is kept."""
    return data_dir.with_name(data_dir.name + ".password")


def absolute(path: Path) -> Path:
    """`path` made absolute with its parent resolved; the last part is never followed."""
    path = path.absolute()
    return path.parent.resolve() / path.name
