"""`wabahook retention`: each channel's own retention, and whole months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click

import processors.cli.common as cli
from processors.stored import channel_retention
from processors.stored import retention as months_module
from processors.stored.selection import MAX_AGE, Duration
from receiver.db import Database


@cli.main.command("retention")
@click.option(
    "--older-than",
    "age",
    type=Duration(),
    help=f"Also drop the months whose every event is older than this age (90d, 12w; at most"
    f" {MAX_AGE}), of every channel.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted or dropped.")
@click.option(
    "--force",
    is_flag=True,
    help="Drop months that still hold events a drain or the relay has yet to read too.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@cli.json_option
def retention_command(
    age: timedelta | None, dry_run: bool, force: bool, quiet: bool, as_json: bool
) -> None:
    """Delete stored raw events that retention says are past.

    First, each channel's own retention (channels set NAME --retention 90d):
    its bodies older than that are deleted, in batches, while intake and
    workers run; those a drain or the relay has yet to read wait for the next
    run. The cron does this every hour; this command does it now.

    With --older-than, whole months of stored events (monthly partitions) go
    too, whatever their channel; months that hold events a drain or the relay
    has yet to read are refused unless --force.

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
        months = [] if cutoff is None else months_module.expired(db, cutoff)
        if dry_run:
            channels = [Outcome(d.channel, d.cutoff, d.due, d.held, 0)
                        for d in channel_retention.status(db) if d.due and d.cutoff]  # fmt: skip
        else:
            months_module.check(months, force)  # before anything is deleted
            channels = _delete(db, quiet or as_json)
            months_module.drop(db, months, force=force)
    if as_json:
        cli.emit_json(_as_json(dry_run, channels, months))
        return
    for done in channels:
        click.echo(
            f"{'would delete' if dry_run else 'deleted'}"
            f" {done.due - done.held if dry_run else done.deleted} events of {done.channel}"
            f" received before {cli.when(done.cutoff)}"
            + (f" ({done.held} held until a drain or the relay has read them)" if done.held else "")
        )
    verb = "would drop" if dry_run else "dropped"
    for month in months:
        click.echo(f"{verb} {month.name}: {month.events} events ({month.held} held)")
    if cutoff is not None and not months:
        click.echo(f"no month is entirely older than {cli.when(cutoff)}")
    if cutoff is None and not channels:
        click.echo("no channel has stored bodies past its retention")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One channel's retention run: its cutoff, events before it, held, deleted."""

    channel: str
    cutoff: datetime
    due: int
    held: int
    deleted: int


def _delete(db: Database, quiet: bool) -> list[Outcome]:
    """Apply each channel's retention, with a progress bar over every event due."""
    due = [(channel, cutoff, events) for channel, cutoff, events in channel_retention.due(db)
           if events]  # fmt: skip
    total = sum(events for _, _, events in due)
    if total:
        months_module.check_gate(db)  # one line, before the progress bar
    outcomes = []
    with cli.progress(total, "deleting expired bodies", quiet) as reach:
        done = 0

        def count(batch: int) -> None:
            nonlocal done
            done += batch
            reach(done)

        for channel, cutoff, events in due:
            deleted = channel_retention.apply(db, channel, cutoff, on_batch=count)
            outcomes.append(Outcome(channel, cutoff, events, events - deleted, deleted))
    return outcomes


def _as_json(
    dry_run: bool, channels: list[Outcome], months: list[months_module.Month]
) -> dict[str, Any]:
    return {
        "dropped": not dry_run,
        "channels": [
            {"channel": o.channel, "cutoff": o.cutoff, "due": o.due, "held": o.held,
             "deleted": o.deleted} for o in channels
        ],
        "months": [
            {"partition": m.name, "from": m.lower_bound, "until": m.upper_bound,
             "events": m.events, "held": m.held} for m in months
        ],
    }  # fmt: skip
