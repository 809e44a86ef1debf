"""Commands that shape the database: migrate, rebuild, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from psycopg.conninfo import make_conninfo

import processors.cli.common as cli
from processors.migrate import (
    MigrationError,
    migrate,
    present_projection_tables,
    unfilled_projection_tables,
)
from processors.pipeline import rebuild as rebuild_module
from processors.stored import retention as retention_module
from processors.stored.selection import MAX_AGE, Duration


@cli.main.command("migrate")
@click.option(
    "--roles", is_flag=True, help="Also create the roles of sql/roles.sql (needs CREATEROLE)."
)
@cli.json_option
def migrate_command(roles: bool, as_json: bool) -> None:
    """Create or update the database schema (safe to run at every release).

    Applies the pending files of sql/migrations in order, each in its own
    transaction, under an advisory lock; re-creates the functions and views
    (sql/functions, sql/views); prepares the raw-event partitions of the
    coming months.

    With WABAHOOK_RECEIVER_DB_PASSWORD, WABAHOOK_PROCESSOR_DB_PASSWORD or
    WABAHOOK_ANALYST_DB_PASSWORD set, it also creates the roles and makes
    each a login with that password (applied again on every run, so a
    changed password takes effect at the next release).

    \b
    Example:
      DATABASE_URL=postgresql://wabahook@db/wabahook wabahook migrate --roles
    """
    settings = cli.command_settings()
    url = settings.database_url
    # libpq waits minutes for a host that drops packets; a migration should not.
    conninfo = make_conninfo(url.reveal(), connect_timeout=cli.CONNECT_TIMEOUT_SECONDS)
    try:
        before = present_projection_tables(conninfo)
        applied = migrate(
            conninfo,
            on_apply=None if as_json else lambda m: click.echo(f"applied {m.path.name}"),
            roles=roles,
            logins=settings.role_passwords,
        )
        unfilled = unfilled_projection_tables(conninfo, before)
    except MigrationError as exc:
        cli.fail(cli.redacted(cli.first_line(exc), url))
    if as_json:
        cli.emit_json({"applied": [m.path.name for m in applied], "needs_rebuild": unfilled})
        return
    if not applied:
        click.echo("the database is up to date")
    if unfilled:
        click.echo(
            f"new tables {', '.join(unfilled)} are empty, but events were processed before they"
            " existed: run `wabahook rebuild` to fill them from the stored events"
        )


@cli.main.command("rebuild")
@click.option("--dry-run", is_flag=True, help="Only estimate the work.")
@cli.batch_size_option
@cli.json_option
def rebuild_command(dry_run: bool, batch_size: int, as_json: bool) -> None:
    """Rebuild every projection from the stored raw events, without downtime.

    The new tables are built aside while intake and workers keep running and
    analysts keep reading the old ones; events that arrive meanwhile are caught
    up, then the new tables replace the old in one transaction.

    \b
    Example:
      wabahook rebuild --dry-run
      wabahook rebuild
    """
    with cli.database() as db, cli.errors_as_messages():
        work = rebuild_module.estimate(db)
        if dry_run:
            if as_json:
                cli.emit_json(work)
            else:
                click.echo(
                    f"{work['events']} raw events ({work['bytes'] / 1_048_576:.1f} MiB) would be"
                    " projected again"
                )
            return
        with cli.progress(work["events"], "rebuilding", quiet=as_json) as reach:
            try:
                stats = rebuild_module.rebuild(
                    db, batch_size=batch_size, on_progress=lambda s: reach(s.totals.events)
                )
            except rebuild_module.RebuildError as exc:
                cli.fail(str(exc))
    totals = stats.totals
    result = {"events": totals.events, "processed": totals.processed, "rejected": totals.rejected,
              "failed": totals.failed, "caught_up": stats.caught_up}  # fmt: skip
    if as_json:
        cli.emit_json(result)
        return
    click.echo(
        f"rebuilt from {totals.events} events: {totals.processed} processed, {totals.rejected}"
        f" rejected, {totals.failed} failed ({stats.caught_up} arrived during the rebuild)"
    )


@cli.main.command("retention")
@click.option(
    "--older-than",
    "age",
    type=Duration(),
    required=True,
    help=f"Drop months whose every event is older than this age (90d, 12w; at most {MAX_AGE}).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be dropped.")
@click.option("--force", is_flag=True, help="Drop months that still hold queued events too.")
@cli.json_option
def retention_command(age: timedelta, dry_run: bool, force: bool, as_json: bool) -> None:
    """Drop whole months of stored raw events (monthly partitions).

    Projections, deduplication keys and processing results are kept, so a
    sender retry of an old notification still adds nothing. Months that hold
    queued events are refused unless --force.

    \b
    Example:
      wabahook retention --older-than 90d --dry-run
    """
    cutoff = datetime.now(UTC) - age
    with cli.database() as db, cli.errors_as_messages():
        months = retention_module.expired(db, cutoff)
        if not dry_run:
            retention_module.drop(db, months, force=force)
    if as_json:
        cli.emit_json({"dropped": not dry_run, "months": [
            {"partition": m.name, "from": m.lower_bound, "until": m.upper_bound,
             "events": m.events, "queued": m.queued} for m in months
        ]})  # fmt: skip
        return
    verb = "would drop" if dry_run else "dropped"
    for month in months:
        click.echo(f"{verb} {month.name}: {month.events} events ({month.queued} queued)")
    if not months:
        click.echo(f"no month is entirely older than {cli.when(cutoff)}")
