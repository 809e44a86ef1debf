"""`wabahook channels connect`: register a channel's webhook with its provider."""

from __future__ import annotations

from typing import TextIO

import click

import processors.cli.common as cli
from processors import channels
from processors.channels import dialog360, graph, meta
from processors.cli.channels_cmd import channels_group
from processors.cli.secret_files import key_sealer, secret_file_option, secret_text
from receiver.config import shown


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
@secret_file_option(
    "--api-key-file", help_text="360dialog: the API key's file [default: env D360_API_KEY]"
)
@click.option(
    "--base-url",
    default=dialog360.DEFAULT_BASE_URL,
    show_default=True,
    help="360dialog API base URL (On-Premise numbers: https://waba.360dialog.io); https://"
    " only, http:// is taken for localhost, 127.0.0.1 and ::1 alone.",
)
@click.option("--waba-id", help="meta: the WhatsApp Business Account to subscribe.")
@secret_file_option(
    "--access-token-file",
    help_text="meta: a Graph API access token's file [default: env META_ACCESS_TOKEN]",
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
    if _channel_kind(name) == "meta":
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
            raise graph.GraphError(f"--waba-id must be the WABA's numeric id, not {shown(waba_id)}")
        graph.check_graph_url(graph_url, graph_version)
    _channel_kind(name)
    token = secret_text(access_token_file, "META_ACCESS_TOKEN", "--access-token-file",
                         "Meta access token", cli.command_settings().meta_access_token)  # fmt: skip
    sealer = key_sealer()
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
    return secret_text(api_key_file, "D360_API_KEY", "--api-key-file", "360dialog API key",
                        cli.command_settings().d360_api_key)  # fmt: skip


def _channel_kind(name: str) -> str:
    """The channel's kind; a one-line error for a partner channel, which no API connects."""
    with cli.database() as db, cli.errors_as_messages():
        kind = meta.channel_kind(db, name)
    if kind == meta.PARTNER:
        # 360dialog's API sets a number's URL; a partner's own URL is set in the Partner Hub.
        cli.fail(channels.KIND_IS[kind].format(name=name))
    return kind
