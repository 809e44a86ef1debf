"""`wabahook destinations`: your own applications, to which the relay hands every event."""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

import click

import processors.cli.common as cli
from processors.cli.secret_files import file_text, key_sealer
from processors.relay import destinations
from processors.relay.destinations import NewDestination
from processors.relay.signing import SecretFormatError, secret_key
from processors.stored.selection import ChannelName, Duration, Selection


@cli.main.group("destinations")
def destinations_group() -> None:
    """Your own applications: every event is POSTed to each, signed, until it says 2xx.

    \b
    Example:
      wabahook destinations add crm --url http://10.0.0.5:8000/whatsapp
      wabahook relay
    """


def _secret_from(source: TextIO | None) -> str | None:
    if source is None:
        return None
    text = file_text(source, "--secret-file").strip()
    try:
        secret_key(text)
    except SecretFormatError as exc:
        cli.fail(str(exc))
    return text


@destinations_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="Where to POST (http:// or https://).")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=ChannelName(),
    help="Only this channel's events (repeatable; default: every channel).",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["raw", "facts"]),
    default="raw",
    show_default=True,
    help="raw: the exact stored bytes and Content-Type, as the sender sent them.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    help=f"A type of fact to send (--format facts; repeatable; default: all): "
    f"{', '.join(destinations.FACT_TYPES)}.",
)
@click.option(
    "--secret-file",
    type=click.File("r", encoding="utf-8"),
    help="A whsec_… signing secret (- reads stdin); default: a new one, shown once.",
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Deliveries to it at once, per relay process.",
)
@click.option(
    "--max-age",
    type=Duration(),
    default="3d",
    show_default=True,
    help="Retry for this long after the event was stored, then give up (dead).",
)
@click.option(
    "--timeout",
    type=cli.FiniteFloatRange(0.5, 120),
    default=10.0,
    show_default=True,
    help="Seconds one attempt may take in all: connecting, sending and the whole answer.",
)
@click.option(
    "--ordered",
    is_flag=True,
    help="One channel's events one at a time, in the order they were stored.",
)
@click.option(
    "--allow-address",
    "allow",
    multiple=True,
    help="Let it connect to this link-local address or network (CIDR).",
)
@click.option("--from-start", is_flag=True, help="Also send every event stored before now.")
@cli.json_option
def add_destination(
    name: str, url: str, channels: tuple[str, ...], format_: str, kinds: tuple[str, ...],
    secret_file: TextIO | None, max_in_flight: int, max_age: timedelta, timeout: float,
    ordered: bool, allow: tuple[str, ...], from_start: bool, as_json: bool,
) -> None:  # fmt: skip
    """Add destination NAME: events stored from now on are sent to it by `wabahook relay`.

    \b
    Example:
      wabahook destinations add crm --url https://crm.example.com/hooks/whatsapp
    """
    wanted = NewDestination(
        name=name, url=url, format=format_, channels=channels, kinds=kinds,
        max_in_flight=max_in_flight, max_age_seconds=max_age.total_seconds(),
        timeout_seconds=timeout, ordered=ordered, allow_addresses=allow,
    )  # fmt: skip
    given = _secret_from(secret_file)
    sealer = key_sealer()
    with cli.database() as db, cli.errors_as_messages():
        secret = destinations.add(db, sealer, wanted, given)
        queued = destinations.queue_stored(db, name, Selection()) if from_start else 0
    if as_json:
        shown_secret = None if given else secret
        cli.emit_json({"name": name, "url": url, "secret": shown_secret, "queued": queued})
        return
    click.echo(f"Destination {name} added: {url}")
    if not given:
        click.echo(f"Signing secret (shown only now): {secret}")
    if from_start:
        click.echo(f"{queued} stored events queued for it.")
    click.echo("Deliveries run in `wabahook relay`; `wabahook destinations test NAME` tries one.")


@destinations_group.command("list")
@cli.json_option
def list_destinations(as_json: bool) -> None:
    """Destinations, their state and deliveries.

    \b
    Example:
      wabahook destinations list --json
    """
    with cli.database() as db, cli.errors_as_messages():
        rows = destinations.listed(db)
    if as_json:
        cli.emit_json([{k: v for k, v in row.items() if k != "id"} for row in rows])
        return
    if not rows:
        click.echo("No destinations yet: wabahook destinations add NAME --url URL")
        return
    cli.echo_table(
        ("NAME", "URL", "FORMAT", "STATE", "PENDING", "DELIVERED", "DEAD"),
        [
            (
                r["name"],
                r["url"],
                r["format"],
                "paused" if r["paused"] else "active",
                r["pending"],
                r["delivered"],
                r["dead"],
            )
            for r in rows
        ],
        right=("PENDING", "DELIVERED", "DEAD"),
    )


@destinations_group.command("show")
@click.argument("name")
@cli.json_option
def show_destination(name: str, as_json: bool) -> None:
    """One destination's settings and deliveries.

    \b
    Example:
      wabahook destinations show crm
    """
    with cli.database() as db, cli.errors_as_messages():
        row = {k: v for k, v in destinations.named(db, name).items() if k != "id"}
    if as_json:
        cli.emit_json(row)
        return
    for key, value in row.items():
        click.echo(f"{key}: {cli.cell(value)}")


def _set_paused(name: str, paused: bool) -> None:
    with cli.database() as db, cli.errors_as_messages():
        destinations.set_paused(db, name, paused)
    click.echo(f"Destination {name} {'paused: events wait for it' if paused else 'resumed'}.")


@destinations_group.command("pause")
@click.argument("name")
def pause_destination(name: str) -> None:
    """Stop sending to NAME; its events still queue up for it.

    \b
    Example:
      wabahook destinations pause crm
    """
    _set_paused(name, True)


@destinations_group.command("resume")
@click.argument("name")
def resume_destination(name: str) -> None:
    """Send to NAME again, starting with what queued up.

    \b
    Example:
      wabahook destinations resume crm
    """
    _set_paused(name, False)


@destinations_group.command("rotate-secret")
@click.argument("name")
@click.option(
    "--secret-file",
    type=click.File("r", encoding="utf-8"),
    help="The new whsec_… secret (- reads stdin); default: a new one, shown once.",
)
@click.option("--expire-old", is_flag=True, help="Sign with the newest secret only, from now.")
def rotate_destination_secret(name: str, secret_file: TextIO | None, expire_old: bool) -> None:
    """Add a new signing secret: both sign until --expire-old.

    \b
    Example:
      wabahook destinations rotate-secret crm        # then update the application
      wabahook destinations rotate-secret crm --expire-old
    """
    with cli.database() as db, cli.errors_as_messages():
        if expire_old:
            destinations.expire_old(db, name)
            click.echo(f"Destination {name}: only its newest secret signs now.")
            return
        given = _secret_from(secret_file)
        secret = destinations.rotate_secret(db, key_sealer(), name, given)
    if not given:
        click.echo(f"New signing secret (shown only now): {secret}")
    click.echo("Both secrets sign each delivery until: "
               f"wabahook destinations rotate-secret {name} --expire-old")  # fmt: skip


@destinations_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_destination(name: str, yes: bool) -> None:
    """Remove NAME and its delivery log (nothing pending is sent).

    \b
    Example:
      wabahook destinations remove crm --yes
    """
    if not yes:
        click.confirm(f"Remove destination {name} and its delivery log?", abort=True)
    with cli.database() as db, cli.errors_as_messages():
        destinations.remove(db, name)
    click.echo(f"Destination {name} removed.")
