"""Real PostgreSQL and Redis for the tests: the machine's (via env) or embedded ones."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from processors.local.postgres import EmbeddedPostgres
from processors.local.valkey import EmbeddedValkey


@contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a PostgreSQL server we may create databases on."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with own_postgres() as url:
        yield url


@contextmanager
def own_postgres() -> Iterator[str]:
    """A private PostgreSQL (for cluster-wide objects such as roles, or to stop it).

    Its superuser logs in with the password in the URL; other roles without one, as
    the tests create them.
    """
    folder = reachable_folder("wabahook-test-pg-")
    server = EmbeddedPostgres(folder / "data", durable=False, trust_other_roles=True)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[str]:
    """A URL of a Redis (or Valkey) server; tests keep to their own key prefixes."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with own_valkey() as url:
        yield url


@contextmanager
def own_valkey() -> Iterator[str]:
    """A private Valkey that a test may stop or kill."""
    folder = reachable_folder("wabahook-test-valkey-")
    server = EmbeddedValkey(folder / "valkey")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def reachable_folder(prefix: str) -> Path:
    """A new temporary folder that the embedded servers' unprivileged user may pass through.

    Run as root, the servers run as that user, and the folder holding their data must let
    it in (mode 0711: pass, not list); nothing above it is changed.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o711)
    return folder


def with_dbname(url: str, dbname: str) -> str:
    """The same server, another database."""
    return make_conninfo(url, dbname=dbname)


def unique_name(prefix: str) -> str:
    """A database or key prefix no other test run uses."""
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


def require_command(command: str, package: str) -> str:
    """Path of `command`, or the test is skipped naming Debian's `package` (which `make
    test` installs when run as root; under CI=true a skip fails the run)."""
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if not found:
        pytest.skip(f"{command} is missing: apt-get install {package} (make test does, as root)")
    return found


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Create database `name` (optionally from `template`); return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            # A copy per test: copying the files is about 5x faster than PostgreSQL 15's
            # default of writing the copy through the WAL (14 only copies files).
            if conn.info.server_version >= 150000:
                statement += sql.SQL(" STRATEGY FILE_COPY")
        conn.execute(statement)
    return with_dbname(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever still uses it."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_port(url: str) -> tuple[str, int]:
    """(host, port) of a PostgreSQL URL."""
    params = conninfo_to_dict(url)
    return str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)


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
