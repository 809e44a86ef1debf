"""`wabahook retention`: each channel's own retention, and whole months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

import processors.cli.common as cli
from processors.stored import channel_retention
from processors.stored import retention as months_module
from processors.stored.selection import MAX_AGE, Duration


@cli.main.command("retention")
@click.option(
    "--older-than",
    "age",
    type=Duration(),
    help=f"Also drop the months whose every event is older than this age (90d, 12w; at most"
    f" {MAX_AGE}), of every channel.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted or dropped.")
@click.option("--force", is_flag=True, help="Drop months that still hold queued events too.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@cli.json_option
def retention_command(
    age: timedelta | None, dry_run: bool, force: bool, quiet: bool, as_json: bool
) -> None:
    """Delete stored raw events that retention says are past.

    First, each channel's own retention (channels set NAME --retention 90d):
    its bodies older than that are deleted, in batches, while intake and
    workers run; those still queued or still to be relayed wait for the next
    run. The cron does this every hour; this command does it now.

    With --older-than, whole months of stored events (monthly partitions) go
    too, whatever their channel; months that hold queued events are refused
    unless --force.

    Either way, projections, processing results and deduplication keys are
    kept (a sender's retry of an old notification still adds nothing), and a
    rebuild keeps the rows whose raw events are gone.

    \b
    Examples:
      wabahook retention --dry-run
      wabahook retention --older-than 400d
    """
    cutoff = None if age is None else datetime.now(UTC) - age
    with cli.database() as db, cli.errors_as_messages():
        channels = [due for due in channel_retention.status(db) if due.due]
        deleted = {}
        if not dry_run and channels:
            total = sum(due.due - due.held for due in channels)
            with cli.progress(total, "deleting expired bodies", quiet or as_json) as reach:
                done = 0

                def count(batch: int) -> None:
                    nonlocal done
                    done += batch
                    reach(min(done, total))

                for due in channels:
                    deleted[due.channel] = channel_retention.apply(db, due, on_batch=count)
        months = [] if cutoff is None else months_module.expired(db, cutoff)
        if not dry_run:
            months_module.drop(db, months, force=force)
    if as_json:
        cli.emit_json(_as_json(dry_run, channels, deleted, months))
        return
    for due in channels:
        if dry_run:
            click.echo(f"would delete {due.due - due.held} events of {due.channel} received"
                       f" before {cli.when(due.cutoff)} ({due.held} held: queued or to be"
                       " relayed)")  # fmt: skip
        else:
            click.echo(f"deleted {deleted[due.channel]} events of {due.channel} received before"
                       f" {cli.when(due.cutoff)}")  # fmt: skip
    verb = "would drop" if dry_run else "dropped"
    for month in months:
        click.echo(f"{verb} {month.name}: {month.events} events ({month.queued} queued)")
    if cutoff is not None and not months:
        click.echo(f"no month is entirely older than {cli.when(cutoff)}")
    if cutoff is None and not channels:
        click.echo("no channel has stored bodies past its retention")


def _as_json(
    dry_run: bool,
    channels: list[channel_retention.ChannelRetention],
    deleted: dict[str, int],
    months: list[months_module.Month],
) -> dict[str, Any]:
    return {
        "dropped": not dry_run,
        "channels": [
            {"channel": due.channel, "retention_seconds": _seconds(due.retention),
             "cutoff": due.cutoff, "due": due.due, "held": due.held,
             "deleted": deleted.get(due.channel, 0)}
            for due in channels
        ],
        "months": [
            {"partition": m.name, "from": m.lower_bound, "until": m.upper_bound,
             "events": m.events, "queued": m.queued} for m in months
        ],
    }  # fmt: skip


def _seconds(age: timedelta | None) -> int | None:
    return None if age is None else int(age.total_seconds())
