"""`wabahook messages show`: the timeline of one message, on each channel that knows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

import processors.cli.common as cli
from processors import lookup
from processors.cli.common import when
from processors.stored.selection import ChannelName, Key
from receiver.config import shown


@cli.main.group("messages")
def messages_group() -> None:
    """Look a message up across all its notifications."""


@messages_group.command("show")
@click.argument("message_id", type=Key())
@click.option("--channel", type=ChannelName(), help="Only this channel.")
@cli.json_option
def messages_show(message_id: str, channel: str | None, as_json: bool) -> None:
    """Show the timeline of one message: its statuses or the message itself, and its edits.

    An outbound message (one the business sent) shows every status with its time,
    errors (code, title, class), pricing and conversation, the raw event that
    carried it, and its current status with the rule that decided it: progress only
    moves forward (sent < delivered < read < played); failed wins when it is not
    older than the latest progress status; deleted when nothing else; warning and
    unknown statuses stay in history. An inbound message shows who sent what and
    when, its edits and revokes. A message id known on several channels is shown
    for each of them (--channel picks one).

    \b
    Example:
      wabahook messages show wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA
      wabahook messages show gBEGkYiEB1VXAglK1ZEqA1YKPrU --channel acme --json
    """
    with cli.database() as db, cli.errors_as_messages():
        cli.check_channels(db, [channel] if channel else [])
        timelines = lookup.message_timelines(db, message_id, channel)
    if not timelines:
        where = f" on channel {channel}" if channel else ""
        cli.fail(f"no message {shown(message_id)}{where}")
    if as_json:
        cli.emit_json({"message_id": message_id, "channels": timelines})
        return
    for number, timeline in enumerate(timelines):
        if number:
            click.echo()
        _echo_timeline(timeline)


def _echo_timeline(timeline: Mapping[str, Any]) -> None:
    """The text of `messages show` for one channel."""
    click.echo(f"message {cli.escaped(timeline['message_id'])} on channel {timeline['channel']}")
    inbound = timeline["inbound"]
    if inbound is not None:
        name = inbound["profile_name"] or inbound["contact_name"]
        sender = inbound["wa_id"] + (f" ({name})" if name else "")
        click.echo(
            f"  inbound {cli.escaped(inbound['type'])} from {cli.escaped(sender)}"
            f", sent {when(inbound['sent_at'])}, event {inbound['raw_event_id']}"
        )
        if inbound["text"] is not None:
            click.echo(f"    text: {cli.escaped(inbound['text'])}")
    for change in timeline["changes"]:
        text = f": {change['text']}" if change["text"] is not None else ""
        click.echo(
            f"  {change['change']} at {when(change['changed_at'])}{cli.escaped(text)}"
            f" (event {change['raw_event_id']})"
        )
    if inbound is not None and timeline["changes"]:
        current = inbound["current_text"]
        click.echo(
            f"    current text: {cli.escaped(current) if current is not None else '(revoked)'}"
        )
    echo = timeline["echo"]
    if echo is not None:
        click.echo(
            f"  sent from the Business app to {cli.escaped(echo['to'])} at {when(echo['sent_at'])}"
            f", {cli.escaped(echo['type'])}, event {echo['raw_event_id']}"
        )
    if timeline["outbound"] is not None:
        _echo_statuses(timeline["outbound"])


def _echo_statuses(outbound: Mapping[str, Any]) -> None:
    """Each status on a line, its errors below it, then the current status and why."""
    for status in outbound["statuses"]:
        extras = []
        pricing = "/".join(
            str(status[k])
            for k in ("pricing_category", "pricing_model", "pricing_type")
            if status[k]
        )
        if pricing:
            extras.append(f"pricing {pricing}")
        if status["conversation_id"]:
            category = status["conversation_category"]
            extras.append(
                f"conversation {status['conversation_id']}" + (f" ({category})" if category else "")
            )
        extras.append(f"event {status['raw_event_id']}")
        click.echo(
            f"  {when(status['status_at'])}  {cli.escaped(status['status']):<10} "
            f"{cli.escaped(', '.join(extras))}"
        )
        for error in status["errors"]:
            details = f": {error['details']}" if error["details"] else ""
            click.echo(
                "      error "
                + cli.escaped(f"{error['code']} {error['title'] or ''} [{error['class']}]{details}")
            )
    current = outbound["current"]
    status = current["status"] if current else "none"
    click.echo(f"  current status: {status}")
    click.echo(f"    why: {cli.escaped(outbound['reason'])}")
