"""What every `wabahook` command shares: the group, options, errors, output, the database."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click
import psycopg
from psycopg.conninfo import conninfo_to_dict

from processors import channels, utc
from processors.local import discovery
from processors.pipeline.drain import BATCH_SIZE, LANES
from processors.stored.selection import ChannelName, PhoneNumberId
from receiver.config import COMMAND_DB_SECONDS, Secret, Settings
from receiver.db import REDACTOR, Database, connect, first_line
from receiver.errors import WabahookError
from receiver.logs import escape_controls

F = TypeVar("F", bound=Callable[..., Any])


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"
# A command should say within seconds that the database is away, not after the pool's 30 s.
CONNECT_TIMEOUT_SECONDS = 5
# libpq's prefix naming the server it tried: 'connection to server at "h" (ip), port 1 failed: '.
_SERVER = re.compile(
    r'connection to server (?:at "(?P<host>[^"]*)"(?: \([^)]*\))?, port (?P<port>[0-9]+)'
    r'|on socket "(?P<socket>[^"]*)") failed: '
)
# What a table shows for a value that is not there: never "None", never a blank.
MISSING = "\u2013"
__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_PUBLIC_URL",
    "MISSING",
    "FiniteFloatRange",
    "batch_size_option",
    "cell",
    "check_channels",
    "check_database",
    "check_url",
    "command_settings",
    "database",
    "database_params",
    "database_settings",
    "echo_table",
    "emit_json",
    "errors_as_messages",
    "escaped",
    "fail",
    "first_line",
    "json_option",
    "limit_option",
    "main",
    "period_options",
    "progress",
    "redacted",
    "when",
]


def fail(message: str) -> NoReturn:
    """Stop with a one-line error and exit status 1."""
    raise click.ClickException(message)


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """Turn wabahook's own errors into one-line CLI errors."""
    try:
        yield
    except WabahookError as exc:
        fail(first_line(exc))


def escaped(value: object) -> str:
    """Stored or remote text for the terminal: control characters written as escapes.

    A sender's text (an error title, a body) with ESC or CR in it would otherwise
    drive the operator's terminal or overwrite what it shows.
    """
    return escape_controls(str(value))


def when(moment: datetime | None) -> str:
    """A time as every command prints it: 2026-12-07T07:40:12Z (MISSING when there is none)."""
    return MISSING if moment is None else utc.iso(moment)


def cell(value: object) -> str:
    """A value in a table: MISSING when absent, times in UTC, JSON as JSON, text escaped."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, datetime):
        return utc.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):  # an error object, say: as JSON, never a Python repr
        return escaped(json.dumps(value, ensure_ascii=False, default=_json_default))
    return escaped(value)


def echo_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    right: Collection[str] = (),
    indent: str = "",
) -> None:
    """`rows` under `header`, each column as wide as its widest cell (`right`: right-aligned).

    Cells go through cell(); the last column is left unpadded, so that a long error
    or title ends the line rather than pushing spaces after it.
    """
    shown = [list(header), *([cell(value) for value in row] for row in rows)]
    widths = [max(len(line[column]) for line in shown) for column in range(len(header))]
    for line in shown:
        parts = [
            text.rjust(width) if name in right else text.ljust(width)
            for name, text, width in zip(header, line, widths, strict=True)
        ]
        if header[-1] not in right:
            parts[-1] = line[-1]
        click.echo(indent + "  ".join(parts))


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


def check_url(url: str, option: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """`url` if it is an absolute URL of one of `schemes` with a host, else a one-line error."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in schemes and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unclosed [IPv6 or a port out of range
        valid = False
    if not valid or any(c.isspace() or not c.isprintable() for c in url):
        allowed = " or ".join(f"{scheme}://" for scheme in schemes)
        fail(f"{option} must be an {allowed} URL, not {channels.shown(url)}")
    return url


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


@contextmanager
def progress(length: int, label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; call the yielded function with the running total done."""
    with click.progressbar(
        length=length, label=label, file=sys.stderr, hidden=quiet or not length
    ) as bar:
        shown = 0

        def reach(done: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        yield reach


def batch_size_option(func: F) -> F:
    """`--batch-size`: events per transaction."""
    return click.option(
        "--batch-size",
        type=click.IntRange(1, 10_000),
        default=BATCH_SIZE,
        show_default=True,
        help="Events per transaction.",
    )(func)


def period_options(default_days: int) -> Callable[[F], F]:
    """`--channel`, `--phone-number-id` and `--days`: the period and scope of a summary."""

    def decorate(func: F) -> F:
        func = click.option(
            "--days",
            type=click.IntRange(1, 3660),
            default=default_days,
            show_default=True,
            help="How many days back (UTC), today included.",
        )(func)
        func = click.option(
            "--phone-number-id",
            type=PhoneNumberId(),
            help="Only this business number (its metadata.phone_number_id); templates and"
            " account events of the WABAs it was seen under; intake stays per channel.",
        )(func)
        return click.option("--channel", type=ChannelName(), help="Only this channel.")(func)

    return decorate


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that refuses nan and inf too (nan passes every bound of click's)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{channels.shown(value)} is not a finite number", param, ctx)
        return number


def limit_option(default: int, ceiling: int) -> Callable[[F], F]:
    """`--limit`: list at most this many events (1 to `ceiling`)."""
    return click.option(
        "--limit",
        type=click.IntRange(1, ceiling),
        default=default,
        show_default=True,
        help="List at most this many events.",
    )


def json_option(func: F) -> F:
    """`--json`: machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def emit_json(data: Any) -> None:
    """Print `data` as JSON on one line."""
    click.echo(json.dumps(data, default=_json_default, sort_keys=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc.iso(value, fraction=True)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="wabahook")
def main() -> None:
    """wabahook: a webhook receiver and event store for WhatsApp notifications.

    \b
    Configuration comes from the environment: DATABASE_URL, REDIS_URL,
    WABAHOOK_MAX_BODY_BYTES, WABAHOOK_TRUSTED_PROXY_HOPS, WABAHOOK_QUEUE,
    WABAHOOK_LOG_FORMAT. Start here:

    \b
      wabahook up                      # everything on this machine, for a first try
      wabahook migrate                 # create or update the schema
      wabahook channels add acme       # a webhook URL and credentials for one number
    """
