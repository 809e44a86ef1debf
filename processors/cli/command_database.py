"""A command's settings and database: read once, reached fast, its failures told without secrets."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import click
import psycopg
from psycopg.conninfo import conninfo_to_dict

from processors.cli.output import errors_as_messages, fail
from processors.local import discovery
from processors.pipeline.drain import LANES
from receiver.config import COMMAND_DB_SECONDS, Secret, Settings
from receiver.db import REDACTOR, Database, connect, first_line

# A command should say within seconds that the database is away, not after the pool's 30 s.
CONNECT_TIMEOUT_SECONDS = 5
# libpq's prefix naming the server it tried: 'connection to server at "h" (ip), port 1 failed: '.
_SERVER = re.compile(
    r'connection to server (?:at "(?P<host>[^"]*)"(?: \([^)]*\))?, port (?P<port>[0-9]+)'
    r'|on socket "(?P<socket>[^"]*)") failed: '
)


class CommandState:
    """What one command reads once: its settings, built on first use (never for --help)."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.database_checked = False


def _state() -> CommandState:
    return click.get_current_context().ensure_object(CommandState)


def command_settings() -> Settings:
    """This command's settings, read from the environment once (else a one-line error)."""
    state = _state()
    if state.settings is None:
        with errors_as_messages():
            # Without DATABASE_URL, the servers of a quickstart running in this folder.
            env = discovery.environment(os.environ, say=lambda line: click.echo(line, err=True))
            state.settings = Settings.from_env(env)
    return state.settings


def database_settings() -> Settings:
    """This command's settings, once its database answered a first connection."""
    settings = command_settings()
    state = _state()
    if not state.database_checked:
        check_database(settings.database_url)
        state.database_checked = True
    return settings


def check_database(url: Secret) -> None:
    """Connect once, within CONNECT_TIMEOUT_SECONDS, so that a command fails fast and says why."""
    params = database_params(url)
    try:
        connect(
            url.reveal(), connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="wabahook-cli"
        ).close()
    except psycopg.Error as exc:
        fail(redacted(f"cannot reach the database: {connect_failure(exc, params)}", url))


def database_params(url: Secret) -> dict[str, str]:
    """DATABASE_URL's parts; a malformed one is reported without echoing it (it has secrets)."""
    try:
        return {key: str(value) for key, value in conninfo_to_dict(url.reveal()).items()}
    except psycopg.Error:
        fail(
            "DATABASE_URL is malformed: use postgresql://USER:PASSWORD@HOST:PORT/DBNAME"
            " (percent-encode special characters) or key=value pairs"
        )


def connect_failure(exc: psycopg.Error, params: dict[str, str]) -> str:
    """libpq's reason for a failed connection, on one line, followed by the server tried."""
    text = first_line(exc).removeprefix("connection failed: ").removeprefix("connection is bad: ")
    server = _SERVER.match(text)
    if server:
        text = text[server.end() :]
        where = server["socket"] or f"{server['host']}:{server['port']}"
    else:
        where = f"{params.get('host') or 'local socket'}:{params.get('port') or 5432}"
    text = text.removeprefix("FATAL:").strip()
    if text == "connection timeout expired":
        text = f"no answer within {CONNECT_TIMEOUT_SECONDS} s"
    if text[1:2].islower():  # "Connection refused", but not "SSL ..."
        text = text[0].lower() + text[1:]
    return f"{text} ({where})"


def redacted(message: str, url: Secret) -> str:
    """`message` without the URL's password (or the URL itself), whatever libpq quoted."""
    REDACTOR.watch(url)  # the database layer's rule, for its log records too
    return REDACTOR.scrub(message)


@contextmanager
def database(settings: Settings | None = None) -> Iterator[Database]:
    """The database for one command (`settings` default: those of database_settings)."""
    settings = settings or database_settings()
    with errors_as_messages():
        db = Database(
            settings.database_url,
            application_name="wabahook-cli",
            timeout=COMMAND_DB_SECONDS,
            # drain and rebuild run their lanes at once, a connection each (plus one).
            max_size=LANES + 1,
        )
        try:
            yield db
        finally:
            db.close()


def check_channels(db: Database, names: Iterable[str]) -> None:
    """Stop with a one-line error for a channel name the caller can know nothing of.

    A login that may read the channels table asks it, so a channel that has stored
    nothing yet is known too; an analyst's login may not. Either asks the public views
    next (a stored delivery, a status, a message), which is all an analyst could ever
    see of a channel, and which still name one whose row is gone.
    """
    missing = list(dict.fromkeys(names))
    if not missing:
        return
    readable = db.fetch_one("cli_channels_table_readable")
    if readable and readable["readable"]:
        missing = _unknown(db, "cli_known_channels", missing)
    if missing:
        missing = _unknown(db, "cli_seen_channels", missing)
    if missing:
        fail(f"no channel named {missing[0]!r}")


def _unknown(db: Database, lookup: str, names: list[str]) -> list[str]:
    """Those of `names` the named query `lookup` does not find."""
    known = {row["name"] for row in db.fetch_all(lookup, {"names": names})}
    return [name for name in names if name not in known]
