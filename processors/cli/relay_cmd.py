"""`wabahook relay` and `wabahook destinations test`: sending to your own applications."""

from __future__ import annotations

import json
import signal
import time
from contextlib import closing
from types import FrameType

import click

import processors.cli.common as cli
from processors.cli.destinations_cmd import destinations_group
from processors.cli.secret_files import key_sealer
from processors.relay import destinations
from processors.relay.engine import USER_AGENT, Relay
from processors.relay.http import requested_url
from processors.relay.sender import Sender, post_once
from processors.relay.signing import signature
from receiver.config import COMMAND_DB_SECONDS
from receiver.db import Database
from receiver.sealing import Sealer


@destinations_group.command("test")
@click.argument("name")
def test_destination(name: str) -> None:
    """POST one signed test message to NAME now and show its answer.

    \b
    Example:
      wabahook destinations test crm
    """
    sealer = key_sealer()
    with cli.database() as db, cli.errors_as_messages():
        row = destinations.named(db, name)
        with db.connection() as conn:
            keys = destinations.signing_keys(conn, sealer, row["id"])
    body = json.dumps({"type": "wabahook.test", "destination": name}).encode()
    message_id, timestamp = f"wabahook-test-{time.time_ns()}", int(time.time())
    headers = [f"webhook-id: {message_id}", f"webhook-timestamp: {timestamp}",
               f"webhook-signature: {signature(keys, message_id, timestamp, body)}",
               "Content-Type: application/json"]  # fmt: skip
    sender = Sender(timeout=row["timeout_seconds"], max_in_flight=1,
                    allowed=tuple(row["allow_addresses"]), user_agent=USER_AGENT)  # fmt: skip
    try:
        answer = post_once(
            sender, requested_url(row["url"]), body, [line.encode() for line in headers]
        )
    finally:
        sender.close()
    if answer.status is None:
        cli.fail(f"{row['url']}: {answer.error}")
    if not answer.delivered:
        cli.fail(f"{row['url']} answered {(answer.error or '').removeprefix('HTTP ')}")
    click.echo(f"{row['url']} answered {answer.status}: the destination takes signed posts.")


@cli.main.command("relay")
@click.option("--until-idle", is_flag=True, help="Stop once nothing is due (for scripts).")
@click.option("--quiet", is_flag=True, help="No start-up line.")
def relay_command(until_idle: bool, quiet: bool) -> None:
    """Send stored events to every destination: signed, retried, logged (long-running).

    Run as many as you like: they share the work through PostgreSQL. Ctrl-C (or
    SIGTERM) finishes the attempts in flight, records them and stops.

    \b
    Example:
      wabahook relay
    """
    # Without a key the relay runs, and each destination's deliveries wait with an error
    # logged: a deployment without destinations needs no key.
    settings = cli.database_settings()
    sealer = Sealer.of(settings.secret_key)
    # Its own name in pg_stat_activity; every query runs on the main thread: two connections.
    db = Database(settings.database_url, application_name="wabahook-relay",
                  timeout=COMMAND_DB_SECONDS, max_size=2)  # fmt: skip
    with closing(db), cli.errors_as_messages():
        relay = Relay(db, sealer)

        def stop(signum: int, frame: FrameType | None) -> None:
            relay.stop()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if not quiet:
                click.echo("relay: sending stored events to every destination (Ctrl-C stops)")
            relay.run(until_idle=until_idle)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
