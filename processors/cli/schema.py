"""Commands that shape the database: migrate, rebuild."""

from __future__ import annotations

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
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    help="Processes projecting at once [default: one per core, at most 4, from"
    f" {rebuild_module.PROCESS_EVENTS:,} stored events on, else 1].",
)
@cli.json_option
def rebuild_command(dry_run: bool, batch_size: int, processes: int | None, as_json: bool) -> None:
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
                    db,
                    batch_size=batch_size,
                    on_progress=lambda s: reach(s.totals.events),
                    processes=processes,
                )
            except rebuild_module.RebuildError as exc:
                cli.fail(str(exc))
    totals = stats.totals
    result = {"events": totals.events, "processed": totals.processed, "rejected": totals.rejected,
              "failed": totals.failed, "caught_up": stats.caught_up,
              "kept": stats.kept}  # fmt: skip
    if as_json:
        cli.emit_json(result)
        return
    click.echo(
        f"rebuilt from {totals.events} events: {totals.processed} processed, {totals.rejected}"
        f" rejected, {totals.failed} failed ({stats.caught_up} arrived during the rebuild)"
    )
    if stats.kept:
        click.echo(f"kept {stats.kept} rows of raw events retention deleted")
