"""Commands for events whose processing failed: failed list, show, retry."""

from __future__ import annotations

import click

import processors.cli.common as cli
from processors import jobs
from processors.stored.selection import MAX_ID, ChannelName
from receiver.queries import query

# --limit's ceiling: the list is read into memory at once.
MAX_LIST = 100_000


@cli.main.group("failed")
def failed_group() -> None:
    """Inspect and retry events whose processing failed."""


@failed_group.command("list")
@click.option("--channel", type=ChannelName(), help="Only this channel.")
@cli.limit_option(100, MAX_LIST)
@cli.json_option
def failed_list(channel: str | None, limit: int, as_json: bool) -> None:
    """List failed events with their error and attempts.

    \b
    Example:
      wabahook failed list --json
      wabahook failed list --channel acme
    """
    with cli.database() as db, cli.errors_as_messages():
        cli.check_channels(db, [channel] if channel else [])
        rows = db.fetch_all("failed_events", {"limit": limit, "channel": channel})
    if as_json:
        cli.emit_json([dict(row) for row in rows])
        return
    if not rows:
        click.echo("no failed events")
        return
    cli.echo_table(
        ("ID", "CHANNEL", "RECEIVED", "ATTEMPTS", "NEXT ATTEMPT", "ERROR"),
        ([row["raw_event_id"], row["channel"], row["received_at"], row["attempts"],
          row["not_before"], row["last_error"]] for row in rows),
        right=("ID", "ATTEMPTS"),
    )  # fmt: skip


@failed_group.command("show")
@click.argument("event_id", type=click.IntRange(1, MAX_ID))
@cli.json_option
def failed_show(event_id: int, as_json: bool) -> None:
    """Show one failed event: error, attempts, next attempt and its stored body.

    \b
    Example:
      wabahook failed show 1234
    """
    with cli.database() as db, cli.errors_as_messages():
        row = db.fetch_one("failed_event", {"id": event_id})
    if row is None:
        cli.fail(f"no failed event {event_id}")
    body = bytes(row.pop("body") or b"")
    if as_json:
        cli.emit_json({**dict(row), "body": body.decode("utf-8", "replace")})
        return
    for key in ("raw_event_id", "channel", "received_at", "attempts", "last_error", "not_before"):
        click.echo(f"{key:>13}: {cli.cell(row[key])}")
    click.echo(f"{'body':>13}: {cli.escaped(body[:2000].decode('utf-8', 'replace'))}")


@failed_group.command("retry")
@click.argument("event_ids", nargs=-1, type=click.IntRange(1, MAX_ID))
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed event.")
def failed_retry(event_ids: tuple[int, ...], retry_all: bool) -> None:
    """Make failed events due now and nudge a drain.

    \b
    Example:
      wabahook failed retry 1234 1235
      wabahook failed retry --all
    """
    if not event_ids and not retry_all:
        cli.fail("name event ids or use --all")
    settings = cli.database_settings()
    with cli.database(settings) as db, cli.errors_as_messages():
        with db.transaction() as conn:
            rows = conn.execute(
                query("retry_failed"), {"all": retry_all, "ids": list(event_ids)}
            ).fetchall()
            if missing := sorted(set(event_ids) - {row["raw_event_id"] for row in rows}):
                # Raised inside the transaction: none of them is made due.
                cli.fail(
                    f"not failed: event{'s' if len(missing) > 1 else ''}"
                    f" {', '.join(map(str, missing[:20]))}{' …' if len(missing) > 20 else ''}"
                    " (wabahook failed list shows those that are)"
                )
        nudged = settings.redis_url is not None and rows and jobs.enqueue(settings)
    click.echo(f"{len(rows)} event(s) due for a retry" + (", drain enqueued" if nudged else ""))
