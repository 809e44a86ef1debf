"""`wabahook channels`: one per phone number, with credentials and the 360dialog link."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import click

import processors.cli.common as cli
from processors import channels
from processors.channels import dialog360, graph, meta
from processors.local import demo, discovery
from receiver.config import KEY_RECIPE, MAX_SECRET_FILE_BYTES, Secret
from receiver.sealing import Sealer


class PhoneNumber(click.ParamType):  # type: ignore[type-arg]
    """A phone number as channels.normalize_phone_number accepts it, separators dropped."""

    name = "phone"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return channels.normalize_phone_number(str(value))
        except channels.ChannelError as exc:
            self.fail(str(exc), param, ctx)


F = TypeVar("F", bound=Callable[..., Any])


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


def secret_file_option(name: str, help_text: str) -> Callable[[F], F]:
    """An option naming a file a secret is read from: never the secret on the command line."""
    return click.option(
        name, type=click.File("r", encoding="utf-8"), help=f"{help_text} (- reads stdin)"
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
    type=click.Choice(["basic", "meta"]),
    default="basic",
    show_default=True,
    help="basic: 360dialog posts with Basic credentials; meta: Meta's Cloud API posts signed"
    " bodies and verifies the URL with a handshake (needs WABAHOOK_SECRET_KEY).",
)
@secret_file_option("--app-secret-file", "--auth meta: file holding the Meta app's secret.")
@secret_file_option(
    "--verify-token-file",
    "--auth meta: file holding the verify token to use [default: a new random one].",
)
@public_url_option
@cli.json_option
def channels_add(
    name: str,
    phone_number: str | None,
    auth: str,
    app_secret_file: TextIO | None,
    verify_token_file: TextIO | None,
    public_url: str,
    as_json: bool,
) -> None:
    """Create channel NAME and print its credentials (shown only this once).

    NAME is 1-63 lowercase letters, digits and inner hyphens. A meta channel
    prints its verify token instead: paste the callback URL and the token into
    the Meta app's WhatsApp webhook settings.

    \b
    Examples:
      wabahook channels add acme-de --phone-number +4915112345678
      wabahook channels add acme-meta --auth meta --app-secret-file app-secret.txt
    """
    cli.check_url(public_url, "--public-url")
    if auth == "basic":
        if app_secret_file or verify_token_file:
            cli.fail("--app-secret-file and --verify-token-file are for --auth meta")
        with cli.database() as db, cli.errors_as_messages():
            issued = channels.add_channel(db, name, phone_number)
        _show_credential(issued, public_url, as_json, "created")
        return
    if app_secret_file is None:
        cli.fail("--auth meta needs --app-secret-file FILE (the Meta app's secret)")
    app_secret = _read_secret(app_secret_file, "--app-secret-file", "app secret")
    token = (
        _read_secret(verify_token_file, "--verify-token-file", "verify token")
        if verify_token_file
        else None
    )
    sealer = _sealer()
    with cli.database() as db, cli.errors_as_messages():
        made = meta.add_meta_channel(db, sealer, name, app_secret, token, phone_number)
    _show_meta(made, public_url, as_json, "created")


@channels_group.command("list")
@cli.json_option
def channels_list(as_json: bool) -> None:
    """List channels with their kind, state and number of valid credentials.

    KIND is basic (360dialog, Basic credentials) or meta (Meta's signatures); a
    meta channel's CREDS are its valid app secrets.

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
        f"{'CHANNEL':<24} {'KIND':<6} {'STATE':<9} {'CREDS':>5}  {'PHONE':<16} LAST RECEIVED"
    )
    for row in rows:
        last = (
            row["last_received_at"].isoformat(timespec="seconds")
            if row["last_received_at"]
            else "-"
        )
        click.echo(
            f"{row['name']:<24} {row['auth']:<6} {'enabled' if row['enabled'] else 'disabled':<9} "
            f"{row['valid_credentials']:>5}  {row['phone_number'] or '-':<16} {last}"
        )


@channels_group.command("rotate")
@click.argument("name")
@click.option(
    "--expire-old",
    is_flag=True,
    help="Finish a rotation: end every credential (meta: app secret) but the newest.",
)
@secret_file_option(
    "--app-secret-file",
    "Meta channels: a new app secret, valid beside the old one until --expire-old.",
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
    app_secret_file: TextIO | None,
    new_verify_token: bool,
    public_url: str,
    as_json: bool,
) -> None:
    """Rotate the credential of channel NAME in two steps, without downtime.

    First run issues a new credential while the old one stays valid; update
    the webhook headers at 360dialog, then run again with --expire-old. A meta
    channel takes the Meta app's new secret instead (after "Reset" in the app's
    settings), and a new verify token with --verify-token.

    \b
    Examples:
      wabahook channels rotate acme-de
      wabahook channels rotate acme-de --expire-old
      wabahook channels rotate acme-meta --app-secret-file new-secret.txt
    """
    cli.check_url(public_url, "--public-url")
    with cli.database() as db, cli.errors_as_messages():
        kind = meta.channel_kind(db, name)
        if kind == "basic" and (app_secret_file or new_verify_token):
            cli.fail(f"channel {name!r} uses Basic credentials: rotate it without"
                     " --app-secret-file and --verify-token")  # fmt: skip
        if expire_old and (app_secret_file or new_verify_token):
            cli.fail("--expire-old finishes a rotation: give it alone")
        if kind == "meta" and not (expire_old or app_secret_file or new_verify_token):
            cli.fail(meta.NOTHING_TO_ROTATE.format(name=name))
        if expire_old:
            expire = meta.expire_old_secrets if kind == "meta" else channels.expire_old
            ended = expire(db, name)
            if as_json:
                cli.emit_json({"channel": name, "expired": ended})
            else:
                click.echo(f"{name}: {ended} old credential(s) expired; the newest stays valid")
            return
        if kind == "meta":
            secret = (
                _read_secret(app_secret_file, "--app-secret-file", "app secret")
                if app_secret_file
                else None
            )
            rotated = meta.rotate_meta(db, _sealer(), name, secret, new_verify_token)
        else:
            issued = channels.rotate(db, name)
    if kind == "meta":
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


@channels_group.command("connect")
@click.argument("name")
@click.option(
    "--provider",
    type=click.Choice(["360dialog", "meta"]),
    default="360dialog",
    show_default=True,
    help="Who posts to this channel: 360dialog (Basic credentials) or Meta (a meta channel).",
)
@click.option(
    "--public-url",
    required=True,
    help="https:// address where the sender reaches this receiver (360dialog: no port, no _).",
)
@secret_file_option("--api-key-file", "360dialog: the API key's file [default: env D360_API_KEY]")
@click.option(
    "--base-url",
    default=dialog360.DEFAULT_BASE_URL,
    show_default=True,
    help="360dialog API base URL (On-Premise numbers: https://waba.360dialog.io); https://"
    " only, http:// is taken for localhost, 127.0.0.1 and ::1 alone.",
)
@click.option("--waba-id", help="meta: the WhatsApp Business Account to subscribe.")
@secret_file_option(
    "--access-token-file", "meta: a Graph API access token's file [default: env META_ACCESS_TOKEN]"
)
@click.option(
    "--graph-url",
    default=graph.DEFAULT_GRAPH_URL,
    show_default=True,
    help="meta: Graph API base URL; https:// only (http:// for loopback alone).",
)
@click.option(
    "--graph-version", default=graph.DEFAULT_GRAPH_VERSION, show_default=True,
    help="meta: Graph API version.",
)  # fmt: skip
@click.option(
    "--timeout",
    type=cli.FiniteFloatRange(0.1, 120),
    default=dialog360.TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds to wait for each answer of the provider's API.",
)
@cli.json_option
def channels_connect(
    name: str,
    provider: str,
    public_url: str,
    api_key_file: TextIO | None,
    base_url: str,
    waba_id: str | None,
    access_token_file: TextIO | None,
    graph_url: str,
    graph_version: str,
    timeout: float,
    as_json: bool,
) -> None:
    """Register channel NAME's webhook with its provider and verify the registration.

    360dialog: issues a new credential, sets it as the webhook's Basic auth header
    at 360dialog, verifies the registration, stores the phone number, and only
    then ends the old credentials. The API key is read from D360_API_KEY or
    --api-key-file, never from the command line, and is never stored.

    Meta (a meta channel): subscribes the app to the WABA with this channel's
    URL and verify token as the callback override (Meta runs the handshake
    against the receiver first), then reads the subscription back. The access
    token is read from META_ACCESS_TOKEN or --access-token-file, never stored.

    \b
    Examples:
      D360_API_KEY=... wabahook channels connect acme-de --public-url https://hooks.example.com
      META_ACCESS_TOKEN=... wabahook channels connect acme-meta --provider meta \\
          --waba-id 102290129340398 --public-url https://hooks.example.com
    """
    if provider == "meta":
        _connect_meta(name, public_url, waba_id, access_token_file, graph_url, graph_version,
                      timeout, as_json)  # fmt: skip
        return
    cli.check_url(public_url, "--public-url", schemes=("https",))
    cli.check_url(base_url, "--base-url")
    with cli.errors_as_messages():  # before the key is read: it must not go out in clear text
        dialog360.check_base_url(base_url)
    api_key = _api_key(api_key_file)
    with cli.database() as db, cli.errors_as_messages():
        if meta.channel_kind(db, name) == "meta":
            cli.fail(f"channel {name!r} is a meta channel: connect it with --provider meta")
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


def _connect_meta(
    name: str,
    public_url: str,
    waba_id: str | None,
    access_token_file: TextIO | None,
    graph_url: str,
    graph_version: str,
    timeout: float,
    as_json: bool,
) -> None:
    """`connect --provider meta`: every check before the token is read and sent."""
    if not waba_id:
        cli.fail("--provider meta needs --waba-id ID (the WhatsApp Business Account)")
    cli.check_url(public_url, "--public-url", schemes=("https",))
    cli.check_url(graph_url, "--graph-url")
    with cli.errors_as_messages():
        graph.callback_url(public_url, channels.validate_name(name))
        if not graph.WABA_ID.fullmatch(waba_id):
            raise graph.GraphError(
                f"--waba-id must be the WABA's numeric id, not {channels.shown(waba_id)}"
            )
        graph.check_graph_url(graph_url, graph_version)
    token = _secret_text(access_token_file, "META_ACCESS_TOKEN", "--access-token-file",
                         "Meta access token", cli.command_settings().meta_access_token)  # fmt: skip
    sealer = _sealer()
    with cli.database() as db, cli.errors_as_messages():
        done = graph.connect(db, sealer, name, waba_id=waba_id, public_url=public_url,
                             access_token=token, graph_url=graph_url, version=graph_version,
                             timeout=timeout)  # fmt: skip
    if as_json:
        cli.emit_json({"channel": done.channel, "waba_id": done.waba_id,
                       "callback_url": done.callback_url, "app": done.app})  # fmt: skip
        return
    app = f" (app {cli.escaped(done.app)})" if done.app else ""
    click.echo(f"{name}: Meta now posts WABA {done.waba_id}'s notifications to"
               f" {done.callback_url}{app}")  # fmt: skip


def _api_key(api_key_file: TextIO | None) -> str:
    """The 360dialog API key from --api-key-file or D360_API_KEY, checked but never shown."""
    return _secret_text(api_key_file, "D360_API_KEY", "--api-key-file", "360dialog API key",
                        cli.command_settings().d360_api_key)  # fmt: skip


def _secret_text(
    source: TextIO | None, variable: str, option: str, what: str, from_env: Secret | None
) -> str:
    """A provider's credential from a file option or the environment, checked, never shown."""
    text = _file_text(source, option) if source else (from_env.reveal() if from_env else "")
    text = text.strip()
    if not text:
        cli.fail(f"no {what}: set {variable} or use {option}")
    # It travels in an HTTP header: only visible ASCII survives there.
    if not all("!" <= c <= "~" for c in text):
        cli.fail(f"the {what} may hold only visible ASCII characters, no spaces")
    return text


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


def _read_secret(source: TextIO, option: str, what: str) -> str:
    """A meta channel's secret from a file given on the command line (never the secret)."""
    text = _file_text(source, option)
    with cli.errors_as_messages():
        return meta.check_secret_text(text, what)


def _file_text(source: TextIO, option: str) -> str:
    """The text of a secret's file, bounded: a wrong path (a device, a log) is not read whole."""
    try:
        text = source.read(MAX_SECRET_FILE_BYTES + 1)
    except UnicodeDecodeError:
        cli.fail(f"{option} is not a text file")
    if len(text) > MAX_SECRET_FILE_BYTES:
        cli.fail(f"{option} is larger than 64 KiB; is it the right file?")
    return text


def _sealer() -> Sealer:
    """The sealer of WABAHOOK_SECRET_KEY, or a one-line error saying how to make one."""
    sealer = Sealer.of(cli.command_settings().secret_key)
    if sealer is None:
        cli.fail(f"meta channels need WABAHOOK_SECRET_KEY (or _FILE); make one with: {KEY_RECIPE}")
    return sealer


def _show_meta(made: meta.IssuedMetaChannel, public_url: str, as_json: bool, verb: str) -> None:
    if as_json:
        cli.emit_json(made.as_json())
        return
    click.echo(f"meta channel {made.channel} {verb}.")
    click.echo(f"  webhook path: {made.webhook_path}")
    if made.verify_token is None:
        return
    click.echo(f"  verify token: {made.verify_token}   (shown only now)")
    click.echo("In the Meta app's dashboard (WhatsApp > Configuration > Webhook > Edit):")
    click.echo(f"  Callback URL: {public_url.rstrip('/')}{made.webhook_path}")
    click.echo(f"  Verify token: {made.verify_token}")
    click.echo("then subscribe the webhook fields you want (at least: messages).")
