"""Commands that use stored events again: replay and forward."""

from __future__ import annotations

import itertools
import re
import sys
import time
from datetime import datetime
from typing import TextIO

import click

import processors.cli.common as cli
from processors import jobs
from processors.cli.supervision import supervised
from processors.pipeline import drain as drain_module
from processors.relay import destinations
from processors.relay.http import ascii_url
from processors.stored import forward as forward_module
from processors.stored import replay as replay_module
from processors.stored.selection import ALL_OPTION, build_selection, chosen, selection_options
from receiver.config import Settings, shown

# RFC 9110: a field name is a token; a value holds no control characters but tab.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


@cli.main.command("replay")
@selection_options
@click.option("--failed", is_flag=True, help="Shortcut for --state failed.")
@ALL_OPTION
@click.option(
    "--dry-run", is_flag=True, help="Only say how many events of which channel and state."
)
@click.option("--wait", is_flag=True, help="Drain them here, with a progress bar, until done.")
@click.option(
    "--to-destination",
    metavar="NAME",
    help="Send them to this raw destination (through `wabahook relay`) instead of processing"
    " them again.",
)
@cli.json_option
def replay_command(
    channels: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[int, ...] | None,
    states: tuple[str, ...],
    failed: bool,
    all_events: bool,
    dry_run: bool,
    wait: bool,
    to_destination: str | None,
    as_json: bool,
) -> None:
    """Queue stored events again, e.g. after a parser fix or an outage.

    Projections converge to the same state however often an event is replayed:
    facts are deduplicated by their logical keys. Events that were rejected or
    failed become projections once the code handles them.

    \b
    Examples:
      wabahook replay --state rejected --state failed --dry-run
      wabahook replay --channel acme --since 2026-11-01 --until 2026-11-02 --wait
      wabahook replay --ids 1200-1300
      wabahook replay --all --dry-run
      wabahook replay --channel acme --since 2d --to-destination crm
    """
    selection = chosen(
        build_selection(channels, since, until, ids, states + (("failed",) if failed else ())),
        all_events,
    )
    settings = cli.database_settings()
    with cli.database(settings) as db, cli.errors_as_messages():
        cli.check_channels(db, selection.channels)
        if dry_run:
            planned = replay_module.plan(db, selection)
            if as_json:
                groups = [
                    {"channel": channel, "state": state, "events": events}
                    for (channel, state), events in planned.counts.items()
                ]
                cli.emit_json({"events": planned.total, "by_channel_and_state": groups})
                return
            if planned.counts:
                cli.echo_table(
                    ("CHANNEL", "STATE", "EVENTS"),
                    ([channel, state, n] for (channel, state), n in planned.counts.items()),
                    right=("EVENTS",),
                )
            click.echo(f"{planned.total} event(s) would be replayed")
            return
        if to_destination is not None:
            sent = destinations.queue_stored(db, to_destination, selection)
            if as_json:
                cli.emit_json({"destination": to_destination, "queued": sent})
            else:
                click.echo(
                    f"{sent} event(s) queued for {to_destination}; `wabahook relay` sends them"
                )
            return
        marker, queued = replay_module.replay(db, selection)
        if queued and settings.redis_url is not None and not wait:
            jobs.enqueue(settings)
    if wait and queued:
        _wait_for_replay(settings, marker, queued, quiet=as_json)
    with cli.database(settings) as db, cli.errors_as_messages():
        left, failures = replay_module.remaining(db, marker)
    if as_json:
        cli.emit_json({"replay": marker, "queued": queued, "waiting": left, "failed": failures})
        return
    click.echo(f"{queued} event(s) queued again (replay {marker})")
    if wait:
        click.echo(f"done: {queued - left - failures} processed, {failures} failed")


def _wait_for_replay(settings: Settings, marker: str, queued: int, quiet: bool) -> None:
    """Drain here (workers may help) until the replay's events are out, under the batch
    deadline like every drain: in a child process that this one watches."""

    def drain_until_out() -> None:
        with (
            cli.database(settings) as db,
            cli.errors_as_messages(),
            cli.progress(queued, "replaying", quiet=quiet) as reach,
        ):
            while True:
                left, failures = replay_module.remaining(db, marker)
                reach(queued - left - failures)
                if left == 0:
                    return
                if not drain_module.drain_batch(db).claimed:
                    time.sleep(0.2)  # another worker holds them

    code = supervised(settings, drain_until_out)
    if code:
        sys.exit(code)


@cli.main.command("forward")
@click.option(
    "--to",
    "destination",
    required=True,
    help="The http(s) URL to post each body to. A user:password@ in it is sent as Basic"
    " auth, and is never stored or printed.",
)
@selection_options
@ALL_OPTION
@click.option(
    "--header",
    "header_lines",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="An extra request header (repeatable).",
)
@click.option(
    "--header-file",
    type=click.File("r"),
    help="Extra headers, one 'Name: value' per line (keeps secrets off the command line;"
    " an error names the line, never shows it).",
)
@click.option(
    "--rate",
    type=cli.FiniteFloatRange(0.01, 10_000),
    default=10.0,
    show_default=True,
    help="Requests per second at most.",
)
@click.option("--again", is_flag=True, help="Send events this destination already acknowledged.")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=5, show_default=True)
@click.option(
    "--timeout",
    type=cli.FiniteFloatRange(0.1, 300),
    default=10.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@cli.json_option
def forward_command(
    destination: str,
    channels: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[int, ...] | None,
    states: tuple[str, ...],
    all_events: bool,
    header_lines: tuple[str, ...],
    header_file: TextIO | None,
    rate: float,
    again: bool,
    max_attempts: int,
    timeout: float,
    as_json: bool,
) -> None:
    """Re-deliver stored bodies, byte for byte, to another endpoint.

    Each event is posted with its exact stored bytes and original Content-Type
    (plus X-Wabahook-Event-Id). Timeouts, connection errors, 429 and 5xx are
    retried with backoff. What the destination acknowledged is remembered: a
    second run continues where the first stopped.

    Credentials: put an 'Authorization: ...' line in --header-file, or
    user:password@ in the --to URL (sent as Basic auth). Either way they are
    not stored: results are kept, and shown, under the URL without them.

    \b
    Example:
      wabahook forward --to https://staging.example.com/hook --channel acme \\
        --since 2026-11-23 --until 2026-11-24 --header-file auth-headers.txt --rate 20
    """
    # Checked and shown without its user:password: an error must not print them.
    shown_destination, credentials = forward_module.split_credentials(destination)
    cli.check_url(shown_destination, "--to")
    try:
        ascii_url(shown_destination)
    except ValueError as exc:
        cli.fail(f"--to {shown(shown_destination)} cannot be requested: {exc}")
    headers = _headers(header_lines, header_file)
    if credentials and any(name.lower() == "authorization" for name in headers):
        cli.fail("--to holds user:password and an Authorization header is given too: use one")
    selection = chosen(build_selection(channels, since, until, ids, states), all_events)
    with cli.database() as db, cli.errors_as_messages():
        cli.check_channels(db, selection.channels)
        total = forward_module.pending_count(db, selection, destination, again)
        with cli.progress(total, "forwarding", quiet=as_json) as reach:
            sent = itertools.count(1)
            results = forward_module.forward(
                db, selection, destination, headers=headers, rate=rate, again=again,
                max_attempts=max_attempts, timeout=timeout, on_result=lambda _: reach(next(sent)),
            )  # fmt: skip
    delivered = sum(r.outcome == "delivered" for r in results)
    failed = [r for r in results if r.outcome == "failed"]
    if as_json:
        cli.emit_json(
            {
                "destination": shown_destination,
                "delivered": delivered,
                "failed": len(failed),
                "results": [r.as_dict() for r in results],
            }
        )
    else:
        if failed:
            cli.echo_table(
                ("ID", "ATTEMPTS", "FAILED WITH"),
                ([r.raw_event_id, r.attempts, r.error] for r in failed),
                right=("ID", "ATTEMPTS"),
            )
        click.echo(f"{delivered} delivered, {len(failed)} failed, to {shown_destination}")
    if failed:
        sys.exit(1)


def _headers(header_lines: tuple[str, ...], header_file: TextIO | None) -> dict[str, str]:
    """The extra request headers of --header and --header-file, each checked.

    A bad line of the file is named by its number, never shown: it may be a token
    or a password. A bad --header is shown: it is on the command line already.
    """
    try:
        # split("\n"), not splitlines(): line numbers as an editor counts them.
        file_lines = header_file.read().split("\n") if header_file else []
    except UnicodeDecodeError:
        cli.fail("--header-file is not a UTF-8 text file")
    places = [
        *((None, line) for line in header_lines),
        *((f"line {n} of --header-file", line) for n, line in enumerate(file_lines, 1)),
    ]
    headers = {}
    for place, line in places:
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or not key:
            cli.fail(
                f"a header must look like 'Name: value' ({place})"
                if place
                else f"a header must look like 'Name: value', not {shown(line.strip())}"
            )
        # Checked here, once, rather than failing every event at the HTTP client.
        if not HEADER_NAME.fullmatch(key):
            cli.fail(
                f"a header name holds only letters, digits and - ({place})"
                if place
                else f"{shown(key)} is not a header name: use letters, digits and - (no spaces)"
            )
        if not HEADER_VALUE.fullmatch(value):
            cli.fail(
                f"a header value may hold only printable ASCII ({place})"
                if place
                else f"the value of header {key} may hold only printable ASCII"
            )
        headers[key] = value
    return headers
