"""`wabahook channels`: one per phone number, with credentials and the 360dialog link."""

from __future__ import annotations

from typing import Any, TextIO

import click

import processors.cli.common as cli
from processors import channels
from processors.channels import dialog360


class PhoneNumber(click.ParamType):  # type: ignore[type-arg]
    """A phone number as channels.normalize_phone_number accepts it, separators dropped."""

    name = "phone"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return channels.normalize_phone_number(str(value))
        except channels.ChannelError as exc:
            self.fail(str(exc), param, ctx)


# add and rotate print a curl line; its URL is where the sender reaches this receiver.
public_url_option = click.option(
    "--public-url",
    default=cli.DEFAULT_PUBLIC_URL,
    show_default=True,
    help="Where 360dialog reaches this receiver (used in the printed curl line).",
)


@cli.main.group("channels")
def channels_group() -> None:
    """Manage channels: one per phone number, each with its own URL and credentials."""


@channels_group.command("add")
@click.argument("name")
@click.option(
    "--phone-number",
    type=PhoneNumber(),
    help=f"The channel's phone number, for reference: {channels.PHONE_RULE}.",
)
@public_url_option
@cli.json_option
def channels_add(name: str, phone_number: str | None, public_url: str, as_json: bool) -> None:
    """Create channel NAME and print its credentials (shown only this once).

    NAME is 1-63 lowercase letters, digits and inner hyphens.

    \b
    Example:
      wabahook channels add acme-de --phone-number +4915112345678
    """
    cli.check_url(public_url, "--public-url")
    with cli.database() as db, cli.errors_as_messages():
        issued = channels.add_channel(db, name, phone_number)
    _show_credential(issued, public_url, as_json, "created")


@channels_group.command("list")
@cli.json_option
def channels_list(as_json: bool) -> None:
    """List channels with their state and number of valid credentials.

    \b
    Example:
      wabahook channels list --json
    """
    with cli.database() as db, cli.errors_as_messages():
        rows = channels.list_channels(db)
    if as_json:
        cli.emit_json([dict(row) for row in rows])
        return
    if not rows:
        click.echo("no channels yet: wabahook channels add NAME")
        return
    click.echo(f"{'CHANNEL':<24} {'STATE':<9} {'CREDS':>5}  {'PHONE':<16} LAST RECEIVED")
    for row in rows:
        last = (
            row["last_received_at"].isoformat(timespec="seconds")
            if row["last_received_at"]
            else "-"
        )
        click.echo(
            f"{row['name']:<24} {'enabled' if row['enabled'] else 'disabled':<9} "
            f"{row['valid_credentials']:>5}  {row['phone_number'] or '-':<16} {last}"
        )


@channels_group.command("rotate")
@click.argument("name")
@click.option(
    "--expire-old", is_flag=True, help="Finish a rotation: end every credential but the newest."
)
@public_url_option
@cli.json_option
def channels_rotate(name: str, expire_old: bool, public_url: str, as_json: bool) -> None:
    """Rotate the credential of channel NAME in two steps, without downtime.

    First run issues a new credential while the old one stays valid; update
    the webhook headers at 360dialog, then run again with --expire-old.

    \b
    Example:
      wabahook channels rotate acme-de
      wabahook channels rotate acme-de --expire-old
    """
    cli.check_url(public_url, "--public-url")
    with cli.database() as db, cli.errors_as_messages():
        if expire_old:
            ended = channels.expire_old(db, name)
            if as_json:
                cli.emit_json({"channel": name, "expired": ended})
            else:
                click.echo(f"{name}: {ended} old credential(s) expired; the newest stays valid")
            return
        issued = channels.rotate(db, name)
    _show_credential(issued, public_url, as_json, "rotated")


def _switch_command(command: str, enabled: bool, summary: str, done: str) -> None:
    """Register `channels disable` or `channels enable`: one flag, two commands."""

    @channels_group.command(
        command, help=f"{summary}\n\n\b\nExample:\n  wabahook channels {command} acme-de"
    )
    @click.argument("name")
    def switch(name: str) -> None:
        with cli.database() as db, cli.errors_as_messages():
            channels.set_enabled(db, name, enabled)
        click.echo(f"{name}: {done}")


_switch_command(
    "disable", False, "Refuse every delivery to channel NAME (401) until it is enabled again.",
    "disabled (receivers notice within a few seconds)",
)  # fmt: skip
_switch_command("enable", True, "Accept deliveries to channel NAME again.", "enabled")


@channels_group.command("connect")
@click.argument("name")
@click.option(
    "--public-url",
    required=True,
    help="https:// address where 360dialog reaches this receiver (no port, no _).",
)
@click.option(
    "--api-key-file",
    type=click.File("r"),
    help="File holding the 360dialog API key [default: env D360_API_KEY].",
)
@click.option(
    "--base-url",
    default=dialog360.DEFAULT_BASE_URL,
    show_default=True,
    help="360dialog API base URL (On-Premise numbers: https://waba.360dialog.io); https://"
    " only, http:// is taken for localhost, 127.0.0.1 and ::1 alone.",
)
@click.option(
    "--timeout",
    type=cli.FiniteFloatRange(0.1, 120),
    default=dialog360.TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds to wait for each 360dialog answer.",
)
@cli.json_option
def channels_connect(
    name: str,
    public_url: str,
    api_key_file: TextIO | None,
    base_url: str,
    timeout: float,
    as_json: bool,
) -> None:
    """Register channel NAME's webhook with 360dialog and read its phone number back.

    Issues a new credential, sets it as the webhook's Basic auth header at
    360dialog, verifies the registration, stores the phone number, and only
    then ends the old credentials. The API key is read from D360_API_KEY or
    --api-key-file, never from the command line, and is never stored.

    \b
    Example:
      D360_API_KEY=... wabahook channels connect acme-de --public-url https://hooks.example.com
    """
    cli.check_url(public_url, "--public-url", schemes=("https",))
    cli.check_url(base_url, "--base-url")
    with cli.errors_as_messages():  # before the key is read: it must not go out in clear text
        dialog360.check_base_url(base_url)
    api_key = _api_key(api_key_file)
    with cli.database() as db, cli.errors_as_messages():
        connected = dialog360.connect(
            db, name, public_url=public_url, api_key=api_key, base_url=base_url, timeout=timeout
        )
    if as_json:
        cli.emit_json({"channel": connected.channel, "webhook_url": connected.webhook_url,
                   "phone_number": connected.phone_number})  # fmt: skip
        return
    click.echo(f"{name}: 360dialog now posts to {connected.webhook_url}")
    click.echo(f"{name}: phone number {connected.phone_number or 'not reported'}")


def _api_key(api_key_file: TextIO | None) -> str:
    """The 360dialog API key from --api-key-file or D360_API_KEY, checked but never shown."""
    try:
        if api_key_file:
            api_key = api_key_file.read()
        else:
            key = cli.command_settings().d360_api_key
            api_key = key.reveal() if key else ""
    except UnicodeDecodeError:
        cli.fail("--api-key-file is not a text file")
    api_key = api_key.strip()
    if not api_key:
        cli.fail("no 360dialog API key: set D360_API_KEY or use --api-key-file")
    # It travels in an HTTP header: only visible ASCII survives there.
    if not all("!" <= c <= "~" for c in api_key):
        cli.fail("the 360dialog API key may hold only visible ASCII characters, no spaces")
    return api_key


def _show_credential(
    issued: channels.IssuedCredential, public_url: str, as_json: bool, verb: str
) -> None:
    if as_json:
        cli.emit_json(issued.as_json())
        return
    click.echo(f"channel {issued.channel} {verb}. The password is shown only now:")
    click.echo(f"  user:         {issued.username}")
    click.echo(f"  password:     {issued.password}")
    click.echo(f"  webhook path: {issued.webhook_path}")
    click.echo("Test it:")
    click.echo(f"  {issued.curl(public_url)}")
