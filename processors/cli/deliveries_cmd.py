"""`wabahook deliveries`: what the relay sent where, and sending again what failed."""

from __future__ import annotations

from datetime import datetime

import click

import processors.cli.common as cli
from processors.stored.selection import IdList, Moment
from receiver.config import shown

STATES = ("pending", "retrying", "delivered", "dead")


@cli.main.group("deliveries")
def deliveries_group() -> None:
    """Each event's deliveries to each destination: state, attempts, last answer."""


@deliveries_group.command("list")
@click.option("--destination", help="Only this destination's deliveries.")
@click.option("--state", type=click.Choice(STATES), help="Only deliveries in this state.")
@click.option("--since", type=Moment(), help="Only events stored since (2h, 3d, or a time).")
@cli.limit_option(50, 10_000)
@cli.json_option
def list_deliveries(
    destination: str | None, state: str | None, since: datetime | None, limit: int, as_json: bool
) -> None:
    """The newest deliveries first.

    \b
    Example:
      wabahook deliveries list --state dead --since 1d
    """
    params = {"destination": destination, "state": state, "since": since, "limit": limit}
    with cli.database() as db, cli.errors_as_messages():
        rows = [dict(row) for row in db.fetch_all("deliveries_list", params)]
    if as_json:
        cli.emit_json(rows)
        return
    if not rows:
        click.echo("No deliveries match.")
        return
    cli.echo_table(
        ("EVENT", "DESTINATION", "STATE", "TRIES", "LAST", "STORED", "LATENCY MS", "ERROR"),
        [
            (
                r["raw_event_id"],
                r["destination"],
                r["state"],
                r["attempts"],
                r["last_status"],
                cli.when(r["stored_at"]),
                r["latency_ms"],
                r["last_error"],
            )
            for r in rows
        ],
        right=("EVENT", "TRIES", "LATENCY MS"),
    )


@deliveries_group.command("retry")
@click.argument("ids", nargs=-1, type=IdList())
@click.option("--dead", is_flag=True, help="Every dead delivery (of --destination).")
@click.option("--destination", help="Only this destination's deliveries.")
def retry_deliveries(ids: tuple[list[int], ...], dead: bool, destination: str | None) -> None:
    """Send these events' dead or waiting deliveries again now (ids are event ids).

    A dead delivery gets --max-age again, counted from now.

    \b
    Example:
      wabahook deliveries retry --dead --destination crm
      wabahook deliveries retry 1041 1042
    """
    wanted = [i for group in ids for i in group]
    if bool(wanted) == dead:
        raise click.UsageError("give event ids or --dead (not both)")
    params = {"destination": destination, "dead": dead, "ids": wanted}
    with cli.database() as db, cli.errors_as_messages():
        if (
            destination is not None
            and db.fetch_one("destination_id", {"name": destination}) is None
        ):
            cli.fail(f"no destination named {shown(destination)}")
        row = db.fetch_one("deliveries_retry", params)
    revived = row["revived"] if row else 0
    click.echo(f"{revived} deliveries due again now; `wabahook relay` sends them.")
