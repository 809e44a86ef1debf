"""`wabahook channels`: one per phone number, with credentials and the 360dialog link."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, TextIO

import click

import processors.cli.common as cli
from processors import channels
from processors.channels import meta
from processors.cli.secret_files import key_sealer, read_secret, secret_file_option
from processors.local import demo, discovery
from processors.stored.channel_retention import shown_age


class PhoneNumber(click.ParamType):  # type: ignore[type-arg]
    """A phone number as channels.normalize_phone_number accepts it, separators dropped."""

    name = "phone"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return channels.normalize_phone_number(str(value))
        except channels.ChannelError as exc:
            self.fail(str(exc), param, ctx)


def _receiver_url(ctx: click.Context, param: click.Parameter, given: str | None) -> str:
    """The URL given, else the receiver of the quickstart running here, else the default."""
    if given:
        return given
    found = discovery.running(discovery.var_dir(os.environ))
    return found.receiver_url if found is not None else cli.DEFAULT_PUBLIC_URL


# add and rotate print a curl line; its URL is where the sender reaches this receiver.
public_url_option = click.option(
    "--public-url",
    callback=_receiver_url,
    help="Where 360dialog reaches this receiver (used in the printed curl line; default: "
    f"the receiver of the quickstart running here, else {cli.DEFAULT_PUBLIC_URL}).",
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
@click.option(
    "--auth",
    type=click.Choice(["basic", "meta", meta.PARTNER]),
    default="basic",
    show_default=True,
    help="basic: 360dialog posts with Basic credentials; meta: Meta's Cloud API posts signed"
    " bodies and verifies the URL with a handshake; 360dialog-partner: a 360dialog partner's"
    " own URL, bodies signed with the platform secret (both need WABAHOOK_SECRET_KEY).",
)
@secret_file_option(
    "--secret-file",
    "--app-secret-file",
    help_text="meta: file holding the Meta app's secret; 360dialog-partner: file holding the"
    " partner's platform secret.",
)
@secret_file_option(
    "--verify-token-file",
    help_text="--auth meta: file holding the verify token to use [default: a new random one].",
)
@public_url_option
@cli.json_option
def channels_add(
    name: str,
    phone_number: str | None,
    auth: str,
    secret_file: TextIO | None,
    verify_token_file: TextIO | None,
    public_url: str,
    as_json: bool,
) -> None:
    """Create channel NAME and print its credentials (shown only this once).

    NAME is 1-63 lowercase letters, digits and inner hyphens. A meta channel
    prints its verify token instead: paste the callback URL and the token into
    the Meta app's WhatsApp webhook settings. A 360dialog partner channel has
    no credential to print: set its URL in 360dialog's Partner Hub.

    \b
    Examples:
      wabahook channels add acme-de --phone-number +4915112345678
      wabahook channels add acme-meta --auth meta --secret-file app-secret.txt
      wabahook channels add acme-partner --auth 360dialog-partner --secret-file platform.txt
    """
    cli.check_url(public_url, "--public-url")
    if auth == "basic":
        if secret_file or verify_token_file:
            cli.fail("--secret-file and --verify-token-file are for signed channels (--auth meta"
                     " or 360dialog-partner)")  # fmt: skip
        with cli.database() as db, cli.errors_as_messages():
            issued = channels.add_channel(db, name, phone_number)
        _show_credential(issued, public_url, as_json, "created")
        return
    if auth == meta.PARTNER and verify_token_file:
        cli.fail("--verify-token-file is for --auth meta: 360dialog runs no handshake")
    what = "app secret" if auth == "meta" else "platform secret"
    if secret_file is None:
        cli.fail(f"--auth {auth} needs --secret-file FILE (the {what})")
    secret = read_secret(secret_file, "--secret-file", what)
    if auth == meta.PARTNER:
        sealer = key_sealer()
        with cli.database() as db, cli.errors_as_messages():
            made = meta.add_partner_channel(db, sealer, name, secret, phone_number)
        _show_meta(made, public_url, as_json, "created")
        return
    token = (
        read_secret(verify_token_file, "--verify-token-file", "verify token")
        if verify_token_file
        else None
    )
    sealer = key_sealer()
    with cli.database() as db, cli.errors_as_messages():
        made = meta.add_meta_channel(db, sealer, name, secret, token, phone_number)
    _show_meta(made, public_url, as_json, "created")


@channels_group.command("list")
@cli.json_option
def channels_list(as_json: bool) -> None:
    """List channels with their kind, state, number of valid credentials and retention.

    KIND is basic (360dialog, Basic credentials), meta (Meta's signatures) or
    360dialog-partner (a partner's signatures); a signed channel's CREDS are its
    valid signing secrets. KEEPS is how long its stored bodies are kept (channels
    set NAME --retention), `all` until whole months go.

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
    click.echo(
        f"{'CHANNEL':<24} {'KIND':<17} {'STATE':<9} {'CREDS':>5}  {'KEEPS':<6} {'PHONE':<16}"
        " LAST RECEIVED"
    )
    for row in rows:
        last = (
            row["last_received_at"].isoformat(timespec="seconds")
            if row["last_received_at"]
            else "-"
        )
        seconds = row["retention_seconds"]
        keeps = "all" if seconds is None else shown_age(timedelta(seconds=seconds))
        click.echo(
            f"{row['name']:<24} {row['auth']:<17} {'enabled' if row['enabled'] else 'disabled':<9} "
            f"{row['valid_credentials']:>5}  {keeps:<6} "
            f"{row['phone_number'] or '-':<16} {last}"
        )


@channels_group.command("rotate")
@click.argument("name")
@click.option(
    "--expire-old",
    is_flag=True,
    help="Finish a rotation: end every credential (signed channels: secret) but the newest.",
)
@secret_file_option(
    "--secret-file",
    "--app-secret-file",
    help_text="Signed channels: a new app secret (meta) or platform secret (360dialog-partner),"
    " valid beside the old one until --expire-old.",
)
@click.option(
    "--verify-token",
    "new_verify_token",
    is_flag=True,
    help="Meta channels: replace the verify token with a new one (shown once).",
)
@public_url_option
@cli.json_option
def channels_rotate(
    name: str,
    expire_old: bool,
    secret_file: TextIO | None,
    new_verify_token: bool,
    public_url: str,
    as_json: bool,
) -> None:
    """Rotate the credential of channel NAME in two steps, without downtime.

    First run issues a new credential while the old one stays valid; update
    the webhook headers at 360dialog, then run again with --expire-old. A meta
    channel takes the Meta app's new secret instead (after "Reset" in the app's
    settings), and a new verify token with --verify-token; a 360dialog partner
    channel takes the new platform secret from the Partner Hub.

    \b
    Examples:
      wabahook channels rotate acme-de
      wabahook channels rotate acme-de --expire-old
      wabahook channels rotate acme-meta --secret-file new-secret.txt
    """
    cli.check_url(public_url, "--public-url")
    with cli.database() as db, cli.errors_as_messages():
        kind = meta.channel_kind(db, name)
        if kind == "basic" and (secret_file or new_verify_token):
            cli.fail(f"channel {name!r} uses Basic credentials: rotate it without"
                     " --secret-file and --verify-token")  # fmt: skip
        if kind == meta.PARTNER and new_verify_token:
            cli.fail(f"channel {name!r} is a 360dialog partner channel: it has no verify token")
        if expire_old and (secret_file or new_verify_token):
            cli.fail("--expire-old finishes a rotation: give it alone")
        if kind != "basic" and not (expire_old or secret_file or new_verify_token):
            cli.fail(meta.NOTHING_TO_ROTATE[kind].format(name=name))
        if expire_old:
            ended = (
                channels.expire_old(db, name)
                if kind == "basic"
                else meta.expire_old_secrets(db, name, kind)
            )
            if as_json:
                cli.emit_json({"channel": name, "expired": ended})
            else:
                click.echo(f"{name}: {ended} old credential(s) expired; the newest stays valid")
            return
        if kind != "basic":
            what = meta.SIGNING_SECRET[kind].replace("_", " ")
            secret = read_secret(secret_file, "--secret-file", what) if secret_file else None
            rotated = meta.rotate_signed(db, key_sealer(), name, secret, new_verify_token, kind)
        else:
            issued = channels.rotate(db, name)
    if kind != "basic":
        _show_meta(rotated, public_url, as_json, "rotated")
    else:
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
    click.echo(f"  {issued.curl(public_url, demo.sample_notification())}")


def _show_meta(made: meta.IssuedMetaChannel, public_url: str, as_json: bool, verb: str) -> None:
    if as_json:
        cli.emit_json(made.as_json())
        return
    click.echo(f"{made.auth} channel {made.channel} {verb}.")
    click.echo(f"  webhook path: {made.webhook_path}")
    if made.auth == meta.PARTNER and verb == "created":
        click.echo("In 360dialog's Partner Hub, set the partner webhook URL to:")
        click.echo(f"  {public_url.rstrip('/')}{made.webhook_path}")
    if made.verify_token is None:
        return
    click.echo(f"  verify token: {made.verify_token}   (shown only now)")
    click.echo("In the Meta app's dashboard (WhatsApp > Configuration > Webhook > Edit):")
    click.echo(f"  Callback URL: {public_url.rstrip('/')}{made.webhook_path}")
    click.echo(f"  Verify token: {made.verify_token}")
    click.echo("then subscribe the webhook fields you want (at least: messages).")
