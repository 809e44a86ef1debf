"""What every `wabahook` command shares: the group, options, errors, output, the database."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

# Output and errors live in processors.cli.output, settings and the database in
# processors.cli.command_database: re-exported here, so that a command module reaches
# all it shares as `cli.<name>`.
from processors.cli.command_database import (
    CONNECT_TIMEOUT_SECONDS,
    check_channels,
    check_database,
    command_settings,
    connect_failure,
    database,
    database_params,
    database_settings,
    redacted,
)
from processors.cli.output import (
    MISSING,
    cell,
    echo_table,
    emit_json,
    errors_as_messages,
    escaped,
    fail,
    progress,
    when,
)
from processors.pipeline.drain import BATCH_SIZE
from processors.stored.selection import ChannelName, PhoneNumberId
from receiver.config import shown
from receiver.db import first_line

F = TypeVar("F", bound=Callable[..., Any])


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"
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
    "connect_failure",
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


def check_url(url: str, option: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """`url` if it is an absolute URL of one of `schemes` with a host, else a one-line error."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in schemes and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unclosed [IPv6 or a port out of range
        valid = False
    if not valid or any(c.isspace() or not c.isprintable() for c in url):
        allowed = " or ".join(f"{scheme}://" for scheme in schemes)
        fail(f"{option} must be an {allowed} URL, not {shown(url)}")
    return url


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
            self.fail(f"{shown(value)} is not a finite number", param, ctx)
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
