"""`wabahook channels set`: a channel's own settings."""

from __future__ import annotations

from datetime import timedelta

import click

import processors.cli.common as cli
from processors import channels
from processors.cli.channels_cmd import channels_group
from processors.stored import channel_retention
from processors.stored.selection import MAX_AGE, parse_age
from receiver.config import shown

KEEP = ("off", "none")  # --retention values that keep the channel's bodies


@channels_group.command("set")
@click.argument("name")
@click.option(
    "--max-body",
    metavar="SIZE",
    help="The largest body this channel takes: bytes, or a number with KiB, MiB, GiB, kB, MB"
    " or GB; `default` for WABAHOOK_MAX_BODY_BYTES. At most WABAHOOK_MAX_BODY_CEILING_BYTES.",
)
@click.option(
    "--retention",
    metavar="AGE",
    help=f"Delete this channel's stored bodies once older than AGE (30d, 12w; at least 1d, at"
    f" most {MAX_AGE}), keeping what was projected from them; `off` keeps them until whole"
    " months go (wabahook retention --older-than).",
)
@cli.json_option
def channels_set(name: str, max_body: str | None, retention: str | None, as_json: bool) -> None:
    """Change a setting of channel NAME.

    \b
    --max-body: a Coexistence history webhook may hold thousands of messages,
    past the default limit of 1 MiB: a body over a channel's limit is answered
    413 and retried by the sender for days, then lost. Receivers take a new
    limit within a few seconds; a proxy in front (nginx's client_max_body_size)
    must allow it.

    \b
    --retention: the cron deletes the channel's stored bodies past it every
    hour (or run wabahook retention). Messages, statuses and every other
    projected row stay, and so do the processing results and deduplication
    keys: a rebuild keeps the rows whose bodies are gone. Bodies a drain or
    the relay has yet to read wait until it has.

    \b
    Examples:
      wabahook channels set acme-partner --max-body 16MiB
      wabahook channels set acme --retention 90d
      wabahook channels set acme --max-body default --retention off
    """
    if max_body is None and retention is None:
        cli.fail("nothing to set: give --max-body SIZE or --retention AGE")
    settings = cli.command_settings()
    with cli.errors_as_messages():
        size = None if max_body is None else _size(max_body)
        age = None if retention is None else _age(retention)
    with cli.database() as db, cli.errors_as_messages():
        if max_body is not None:
            channels.set_max_body(db, name, size, settings.max_body_ceiling_bytes)
        if retention is not None:
            channel_retention.set_retention(db, name, age)
    shown_settings: dict[str, object] = {"channel": name}
    lines = []
    if max_body is not None:
        effective = size or settings.max_body_bytes
        shown_settings |= {"max_body_bytes": size, "effective_bytes": effective}
        origin = "its own" if size else "the default"
        lines.append(f"{name}: bodies up to {effective:,} bytes ({origin}); receivers take it"
                     " within a few seconds")  # fmt: skip
    if retention is not None:
        shown_settings["retention_seconds"] = None if age is None else int(age.total_seconds())
        lines.append(
            f"{name}: stored bodies kept until whole months go (wabahook retention)"
            if age is None
            else f"{name}: stored bodies deleted once older than"
            f" {channel_retention.shown_age(age)}, within the hour (the cron), or now with"
            " wabahook retention"
        )
    if as_json:
        cli.emit_json(shown_settings)
        return
    for line in lines:
        click.echo(line)


def _size(text: str) -> int | None:
    return None if text.strip().lower() == "default" else channels.parse_size(text)


def _age(text: str) -> timedelta | None:
    """The retention `text` names; None for `off`; a ChannelError if it is no age."""
    if text.strip().lower() in KEEP:
        return None
    try:
        age = parse_age(text)
    except ValueError as exc:
        raise channels.ChannelError(f"--retention {shown(text)} is too long: {exc}") from None
    if age is None:
        raise channels.ChannelError(
            f"--retention {shown(text)} is not an age like 90d or 12w (or off)"
        )
    if age < channel_retention.SHORTEST:
        raise channels.ChannelError(
            f"--retention {shown(text)}: at least 1d, the sender retries for days"
        )
    return age
