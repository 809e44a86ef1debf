"""The database layer: one pool per process, deadlines, and driver errors made ours."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from receiver.config import Secret
from receiver.errors import WabahookError
from receiver.queries import query


class DatabaseError(WabahookError):
    """A database operation failed; the message is safe to show to an operator."""


class _Redactor(logging.Filter):
    """Takes connection secrets out of psycopg's and psycopg_pool's log records.

    The pool logs each failed connection attempt with libpq's message, which quotes a
    malformed conninfo string whole, password and all.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def watch(self, url: Secret) -> None:
        """Redact `url`, and the password in it, from now on."""
        self._secrets.add(url.reveal())
        try:
            password = conninfo_to_dict(url.reveal()).get("password")
        except psycopg.Error:
            password = None
        if password:
            self._secrets.add(str(password))

    def scrub(self, text: str) -> str:
        """`text` with every watched secret replaced."""
        # The longest first: a password is part of its URL.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "********")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


# Every name wabahook uses is qualified; nothing is looked up where another login
# could have put a function or an operator of the same name (CVE-2018-1058's pattern).
SEARCH_PATH = "pg_catalog,pg_temp"

# Every session runs under these, whatever the database, the role or the client's
# environment ask for: psycopg parses timestamps in the ISO DateStyle only (and
# intervals in the postgres IntervalStyle only), and times and partition bounds read
# back as text must mean UTC. Set after connecting, since libpq sends PGTZ,
# PGDATESTYLE and PGOPTIONS at startup, where they win over a connection's `options`.
SESSION_SETTINGS: Mapping[str, str] = {
    "DateStyle": "ISO, YMD",
    "TimeZone": "UTC",
    "IntervalStyle": "postgres",
    "search_path": SEARCH_PATH,
}
# One statement, so one round trip per new connection; qualified, as the role's own
# search_path still holds when it runs.
_PIN_SESSION = "SELECT " + ", ".join(
    ["pg_catalog.set_config(%s, %s, false)"] * len(SESSION_SETTINGS)
)

REDACTOR = _Redactor()
for _logger in ("psycopg", "psycopg.pool"):
    logging.getLogger(_logger).addFilter(REDACTOR)


def pin_session(conn: psycopg.Connection[Any]) -> None:
    """Give `conn`'s session SESSION_SETTINGS (the pool's `configure` step)."""
    conn.execute(_PIN_SESSION, [part for setting in SESSION_SETTINGS.items() for part in setting])
    if not conn.autocommit:
        conn.commit()  # a rollback would undo the settings


def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A direct autocommit connection (psycopg.connect's `kwargs`) under SESSION_SETTINGS."""
    conn = psycopg.connect(conninfo, autocommit=True, **kwargs)
    try:
        pin_session(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL did not answer in time or could not be reached."""


class Watchdog:
    """Severs a connection's socket when its holder overruns a deadline.

    psycopg waits on a socket without a client-side limit, so a PostgreSQL that
    accepts bytes but never answers (stopped process, stalled network) would hang
    the caller. Shutting the socket down makes the pending call fail at once.
    """

    POLL_SECONDS = 0.02

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[float, psycopg.Connection[Any]]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0

    @contextmanager
    def guard(self, conn: psycopg.Connection[Any], deadline: float) -> Iterator[None]:
        """Watch `conn` until the block ends; sever it if `deadline` (monotonic) passes."""
        self._ensure_thread()
        token = id(conn)
        with self._lock:
            self._watched[token] = (deadline, conn)
        try:
            yield
        finally:
            with self._lock:
                self._watched.pop(token, None)

    def _ensure_thread(self) -> None:
        # Threads do not survive fork: start one per process, on first use.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.POLL_SECONDS)
            now = time.monotonic()
            with self._lock:
                for token, (deadline, conn) in list(self._watched.items()):
                    if now >= deadline:
                        del self._watched[token]
                        _sever_open(conn)


def _sever_open(conn: psycopg.Connection[Any]) -> None:
    """Sever `conn` if it is still open. Never by a number remembered from before: a
    connection closed meanwhile (its pool closed under it) freed its descriptor, which
    another connection, of another pool or test, may hold now."""
    try:
        fd = None if conn.closed else conn.fileno()
    except psycopg.Error:
        return  # closed since
    if fd is None:
        return
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing left to cut


class Database:
    """A lazily opened connection pool with per-call deadlines and named queries."""

    def __init__(
        self,
        url: Secret,
        *,
        application_name: str,
        timeout: float,
        max_size: int = 4,
    ) -> None:
        self._url = url
        REDACTOR.watch(url)
        self._application_name = application_name
        self.timeout = timeout
        self._max_size = max_size
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._watchdog = Watchdog()

    def __repr__(self) -> str:
        return f"Database(application_name={self._application_name!r})"

    @property
    def url(self) -> Secret:
        """Where it connects (for a process of its own to connect there too)."""
        return self._url

    @property
    def pool(self) -> ConnectionPool[psycopg.Connection[DictRow]]:
        """This process's pool, opened on first use (after any fork)."""
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = self._open_pool()
                    self._pid = os.getpid()
        return self._pool

    def _open_pool(self) -> ConnectionPool[psycopg.Connection[DictRow]]:
        statement_ms = max(100, int(self.timeout * 1000))
        pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            self._url.reveal(),
            min_size=1,
            max_size=self._max_size,
            open=False,
            timeout=self.timeout,
            name=self._application_name,
            connection_class=psycopg.Connection[DictRow],
            configure=pin_session,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "connect_timeout": max(2, int(self.timeout + 0.999)),
                "application_name": self._application_name,
                "options": f"-c statement_timeout={statement_ms} -c lock_timeout={statement_ms}",
            },
        )
        pool.open(wait=False)
        return pool

    @contextmanager
    def connection(
        self, timeout: float | None = None, wait: float | None = None
    ) -> Iterator[psycopg.Connection[DictRow]]:
        """A pooled autocommit connection that must be done within `timeout` seconds (and
        comes within `wait`, by default the same)."""
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        wait = budget if wait is None else wait
        try:
            with self.pool.connection(timeout=wait) as conn, self._watchdog.guard(conn, deadline):
                yield conn
        except PoolTimeout:
            raise DatabaseUnavailable(f"no database connection within {wait:g} s") from None
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(REDACTOR.scrub(first_line(exc))) from None
        except psycopg.Error as exc:
            raise DatabaseError(REDACTOR.scrub(first_line(exc))) from None

    @contextmanager
    def transaction(self, timeout: float | None = None) -> Iterator[psycopg.Connection[DictRow]]:
        """A pooled connection inside one transaction, committed when the block ends."""
        with self.connection(timeout) as conn, conn.transaction():
            yield conn

    def fetch_all(self, name: str, params: Mapping[str, Any] | None = None) -> list[DictRow]:
        """Run the named query in its own transaction and return every row."""
        with self.connection() as conn:
            return conn.execute(query(name), params).fetchall()

    def fetch_one(self, name: str, params: Mapping[str, Any] | None = None) -> DictRow | None:
        """Run the named query in its own transaction and return its first row."""
        with self.connection() as conn:
            return conn.execute(query(name), params).fetchone()

    def close(self) -> None:
        """Close this process's pool, if it was opened here."""
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
