"""The `wabahook` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import click

from processors import channels, dialog360
from processors import retention as retention_module
from processors.drain import BATCH_SIZE
from processors.embedded import EmbeddedError
from processors.migrate import MigrationError
from receiver.config import ConfigError, Settings
from receiver.db import Database, DatabaseError

F = TypeVar("F", bound=Callable[..., Any])


EXPECTED_ERRORS = (
    ConfigError,
    DatabaseError,
    MigrationError,
    channels.ChannelError,
    EmbeddedError,
    dialog360.Dialog360Error,
    retention_module.RetentionError,
)


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"
__all__ = [
    "DEFAULT_PUBLIC_URL",
    "batch_size_option",
    "database",
    "emit_json",
    "errors_as_messages",
    "fail",
    "json_option",
    "main",
    "period_options",
    "progress",
]


def fail(message: str) -> NoReturn:
    """Stop with a one-line error and exit status 1."""
    raise click.ClickException(message)


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """Turn the project's expected errors into one-line CLI errors."""
    try:
        yield
    except EXPECTED_ERRORS as exc:
        fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


@contextmanager
def database() -> Iterator[Database]:
    """The database named by DATABASE_URL, for one command."""
    with errors_as_messages():
        settings = Settings.from_env()
        db = Database(
            settings.database_url, application_name="wabahook-cli", timeout=30, max_size=1
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
    """`--channel` and `--days`: the period and scope of a summary."""

    def decorate(func: F) -> F:
        func = click.option(
            "--days",
            type=click.IntRange(1, 3660),
            default=default_days,
            show_default=True,
            help="How many days back (UTC), today included.",
        )(func)
        return click.option("--channel", help="Only this channel.")(func)

    return decorate


def json_option(func: F) -> F:
    """`--json`: machine-readable output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def emit_json(data: Any) -> None:
    """Print `data` as JSON on one line."""
    click.echo(json.dumps(data, default=_json_default, sort_keys=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
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


# The commands register themselves on `main` when imported.
from processors.cli import (  # noqa: E402
    analytics,
    channels_cmd,
    processing,
    running,
    schema,
    stored,
)

__all__ += ["analytics", "channels_cmd", "processing", "running", "schema", "stored"]
