"""Commands for the queue from a shell: drain it here, sweep it (worker and cron: workers.py)."""

from __future__ import annotations

import sys

import click

import processors.cli.common as cli
from processors import jobs
from processors.cli.supervision import supervised
from processors.pipeline import drain as drain_module
from processors.pipeline.deadline import report
from processors.pipeline.projections import REGISTRY
from processors.pipeline.queue_health import queue_health
from receiver.config import Settings


@cli.main.command("drain")
@click.option(
    "--until-empty", is_flag=True, help="Keep going until no event is due (default: one batch)."
)
@cli.batch_size_option
@cli.json_option
def drain_command(until_empty: bool, batch_size: int, as_json: bool) -> None:
    """Process queued events now, in this process (no Redis needed).

    An event whose parsing takes longer than WABAHOOK_BATCH_DEADLINE seconds (default
    10) is rejected ("processing deadline exceeded") and the drain goes on.

    \b
    Example:
      wabahook drain --until-empty
    """
    settings = cli.database_settings()
    stats = drain_module.DrainResult()

    def take(line: bytes) -> None:
        nonlocal stats
        stats += drain_module.DrainResult.from_line(line)

    def rejected(event_id: int) -> None:
        nonlocal stats
        stats += drain_module.DrainResult.overrun()

    code = supervised(
        settings,
        lambda: _drain_here(settings, until_empty, batch_size, quiet=as_json),
        on_rejected=rejected,
        on_line=take,
    )
    if code:
        sys.exit(code)
    if as_json:
        cli.emit_json(stats.as_dict())
        return
    items = ", ".join(f"{stats.items.get(p.name, 0)} {p.name}" for p in REGISTRY)
    click.echo(
        f"processed {stats.processed}, rejected {stats.rejected}, failed {stats.failed} ({items})"
    )


def _drain_here(settings: Settings, until_empty: bool, batch_size: int, quiet: bool) -> None:
    """`wabahook drain` in its supervised child: each batch's result goes to the parent."""
    with cli.database(settings) as db, cli.errors_as_messages():
        if not until_empty:
            report(drain_module.drain_batch(db, batch_size).to_line())
            return
        due = queue_health(db)["queued"]
        with cli.progress(due, "draining", quiet=quiet) as reach:
            seen = 0

            def advance(result: drain_module.DrainResult) -> None:
                nonlocal seen
                seen += result.events
                reach(seen)
                report(result.to_line())

            drain_module.drain(db, batch_size=batch_size, on_batch=advance)


@cli.main.command("sweep")
@cli.json_option
def sweep_command(as_json: bool) -> None:
    """Report the queue's health and enqueue a drain if events wait without one.

    \b
    Example:
      wabahook sweep --json
    """
    settings = cli.database_settings()
    with cli.errors_as_messages():
        health = jobs.sweep_once(settings)
    if as_json:
        cli.emit_json(health)
        return
    oldest = health["oldest_queued_seconds"]
    waiting = f" (oldest {oldest:.1f} s)" if oldest is not None else ""
    click.echo(
        f"queued {health['queued'] - health['failed']}{waiting}, "
        f"failed {health['failed']} ({health['retries_due']} due for a retry)"
    )
    if "drain_enqueued" in health:
        click.echo("drain enqueued" if health["drain_enqueued"] else "a drain is already waiting")
