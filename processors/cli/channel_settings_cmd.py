"""`wabahook channels set`: a channel's own settings."""

from __future__ import annotations

import click

import processors.cli.common as cli
from processors import channels
from processors.cli.channels_cmd import channels_group


@channels_group.command("set")
@click.argument("name")
@click.option(
    "--max-body",
    metavar="SIZE",
    help="The largest body this channel takes: bytes, or a number with KiB, MiB, GiB, kB, MB"
    " or GB; `default` for WABAHOOK_MAX_BODY_BYTES. At most WABAHOOK_MAX_BODY_CEILING_BYTES.",
)
@cli.json_option
def channels_set(name: str, max_body: str | None, as_json: bool) -> None:
    """Change a setting of channel NAME.

    A Coexistence history webhook may hold thousands of messages, past the
    default limit of 1 MiB: a body over a channel's limit is answered 413 and
    retried by the sender for days, then lost. Receivers take a new limit within
    a few seconds; a proxy in front (nginx's client_max_body_size) must allow it.

    \b
    Examples:
      wabahook channels set acme-partner --max-body 16MiB
      wabahook channels set acme-partner --max-body default
    """
    if max_body is None:
        cli.fail("nothing to set: give --max-body SIZE")
    settings = cli.command_settings()
    with cli.errors_as_messages():
        size = None if max_body.strip().lower() == "default" else channels.parse_size(max_body)
    with cli.database() as db, cli.errors_as_messages():
        channels.set_max_body(db, name, size, settings.max_body_ceiling_bytes)
    effective = size or settings.max_body_bytes
    if as_json:
        cli.emit_json({"channel": name, "max_body_bytes": size, "effective_bytes": effective})
        return
    origin = "its own" if size else "the default"
    click.echo(f"{name}: bodies up to {effective:,} bytes ({origin}); receivers take it within"
               " a few seconds")  # fmt: skip
