"""`wabahook events list|show`: look stored deliveries (raw events) up."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import click

import processors.cli.common as cli
from processors import lookup, person_lookup, utc
from processors.cli.common import when
from processors.stored.selection import (
    MAX_ID,
    Key,
    SearchText,
    build_selection,
    selection_options,
)
from receiver.config import shown

# --limit's ceiling: each listed event's projected rows are counted.
MAX_LIST = 10_000
# Cut of an error in a one-line summary (`events show` prints it whole).
SUMMARY_ERROR = 80


@cli.main.group("events")
def events_group() -> None:
    """Look stored deliveries (raw events) up: list them, show one."""


@events_group.command("list")
@selection_options
@click.option("--message-id", type=Key(), help="Only events that carried this message id.")
@click.option("--wa-id", type=Key(), help="Only events about this customer (wa_id or user id).")
@click.option(
    "--person",
    type=Key(),
    help="Only events about this person: a person id, phone number, user id or username.",
)
@click.option("--text", type=SearchText(), help="Only bodies holding this text (case matters).")
@cli.limit_option(50, MAX_LIST)
@cli.json_option
def events_list(
    channels: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[int, ...] | None,
    states: tuple[str, ...],
    message_id: str | None,
    wa_id: str | None,
    person: str | None,
    text: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored deliveries, newest first, with what each held.

    One line per event: id, channel, time received (UTC), state, size, whether it is
    a sender retry (the same bytes as an earlier delivery on its channel) and what
    it projected ("2 statuses, 1 message"). A retry projects nothing new of its own.

    --message-id and --wa-id match the projected facts (messages, statuses, edits,
    echoes, preferences) and the sender's retries of their bytes; events not
    projected (queued, failed, rejected) match when their body names the id.
    --person takes anything a person was known by (wabahook people show): it is
    --wa-id for every phone number and user id the person ever had (their messages,
    statuses of what was sent to them, edits, preferences). A username names
    everyone who held it; each is listed first, with when.
    --text matches the stored bytes, as UTF-8 or JSON-escaped (\\u00e9, \\/): a
    search of every body in the window, so narrow it with --channel and --since.

    \b
    Examples:
      wabahook events list --channel acme --since 2h
      wabahook events list --message-id wamid.HBgLMTY1MDM4Nzk0MzkVAgA --json
      wabahook events list --state failed --state rejected --limit 20
      wabahook events list --wa-id 16315551181 --text "order 1234"
      wabahook events list --person US.13491208655302741918
    """
    selection = build_selection(channels, since, until, ids, states)
    search = lookup.EventSearch(message_id=message_id, wa_id=wa_id, text=text, limit=limit)
    with cli.database() as db, cli.errors_as_messages():
        cli.check_channels(db, selection.channels)
        if person is not None:
            named = person_lookup.people_named(db, person)
            if not named:
                cli.fail(f"no person known as {shown(person)}")
            if not as_json:
                _echo_people_named(named)
            only = person_lookup.person_events(db, selection, [p["person_id"] for p in named])
            search = replace(search, only=frozenset(only))
        rows = lookup.list_events(db, selection, search)
    fields = ("id", "channel", "received_at", "state", "bytes", "held", "summary", "error",
              "attempts", "duplicate_delivery")  # fmt: skip
    if as_json:
        cli.emit_json([{key: row[key] for key in fields} for row in rows])
        return
    if not rows:
        click.echo("no stored events match")
        return
    cli.echo_table(
        ("ID", "CHANNEL", "RECEIVED", "STATE", "BYTES", "RETRY", "WHAT IT HELD"),
        ([row["id"], row["channel"], row["received_at"], row["state"], f"{row['bytes']:,}",
          row["duplicate_delivery"], lookup.summary({**row, "error": _cut(row["error"])})]
         for row in rows),
        right=("ID", "BYTES"),
    )  # fmt: skip


def _echo_people_named(named: list[dict[str, Any]]) -> None:
    for found in named:
        held = ", ".join(
            f"{cli.escaped(h['username'])} {when(h['since'])} to {when(h['until'])}"
            for h in found["held"]
        )
        click.echo(
            f"person {cli.escaped(found['person_id'])}" + (f" (held {held})" if held else "")
        )


def _cut(text: str | None, limit: int = SUMMARY_ERROR) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 3] + "..."


@events_group.command("show")
@click.argument("event_id", type=click.IntRange(1, MAX_ID))
@click.option("--raw", is_flag=True, help="Write the exact stored bytes of the body, nothing else.")
@cli.json_option
def events_show(event_id: int, raw: bool, as_json: bool) -> None:
    """Show one stored delivery: how it arrived, its body, its state and what it projected.

    The body is re-indented when it is JSON, and shown up to 256 KiB of text; anything
    a sender wrote is shown with control characters escaped. The exact bytes: --raw,
    or --json (text when valid UTF-8 and base64 otherwise, see body_encoding).

    \b
    Example:
      wabahook events show 1234
      wabahook events show 1234 --raw > body.json
      wabahook events show 1234 --json | jq -r .body
    """
    if raw and as_json:
        raise click.UsageError("--raw and --json cannot be combined")
    with cli.database() as db, cli.errors_as_messages():
        event = lookup.show_event(db, event_id)
    if event is None:
        cli.fail(f"no stored event {event_id}")
    event["projected"] = {
        view: [_times_in_utc(row) for row in rows] for view, rows in event["projected"].items()
    }
    if raw:
        if sys.stdout.isatty():  # a sender's bytes, unescaped, would drive the terminal
            cli.fail("--raw writes the exact bytes: send them to a file (> body.json) or a pipe")
        sys.stdout.buffer.write(lookup.stored_bytes(event))
        return
    if as_json:
        cli.emit_json(event)
        return
    _echo_event(event)


def _times_in_utc(row: Mapping[str, Any]) -> dict[str, Any]:
    """A projected row with its times (`..._at`) written as every command writes them.

    PostgreSQL's JSON writes a timestamptz as 2026-12-07T07:40:12+00:00.
    """
    return {key: _utc_text(value) if key.endswith("_at") else value for key, value in row.items()}


def _utc_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return utc.iso(datetime.fromisoformat(value), fraction=True)
    except ValueError:  # not a time after all: kept as it is
        return value


def _echo_event(event: Mapping[str, Any]) -> None:
    """The text of `events show`."""
    click.echo(f"event {event['id']}")
    state = event["state"]
    if event["format"]:
        state += f" ({event['format']} format)"
    fields = {
        "channel": event["channel"],
        "received at": when(event["received_at"]),
        "client address": event["client_addr"] or cli.MISSING,
        "request id": event["request_id"],
        "content type": event["content_type"] or cli.MISSING,
        "sender retry": _retry(event),
        "state": state,
        "attempts": event["attempts"],
        "error": event["error"],
        "next attempt": event["next_attempt_at"] and when(event["next_attempt_at"]),
        "processed at": event["processed_at"] and when(event["processed_at"]),
        "notes": ", ".join(f"{k} {v}" for k, v in (event["notes"] or {}).items()) or None,
    }
    same = event["same_bytes"]
    if same["deliveries"]:
        more = same["deliveries"] - len(same["ids"])
        fields["same bytes"] = (
            f"{same['deliveries']} other deliveries (sender retries): "
            + ", ".join(map(str, same["ids"]))
            + (f" and {more} more" if more > 0 else "")
        )
    for name, value in fields.items():
        if value is not None:
            click.echo(f"{name:>15}: {cli.escaped(value)}")
    for name, value in (event["headers"] or {}).items():
        click.echo(f"{'header':>15}: {cli.escaped(name)}: {cli.escaped(value)}")
    shown = lookup.shown_body(lookup.stored_bytes(event))
    click.echo(f"body ({event['bytes']:,} bytes, {shown.kind}, sha256 {event['body_sha256']}):")
    if shown.kind == "JSON":
        # JSON escapes control characters in strings, not C1 ones or U+2028: each line is.
        click.echo("\n".join(cli.escaped(line) for line in shown.text.split("\n")))
    else:  # line breaks too are the sender's: escaped, so no line can pass for ours
        click.echo(cli.escaped(shown.text))
    if shown.cut:
        click.echo(
            f"... (the first {lookup.SHOWN_CHARS // 1024} KiB shown; the exact bytes:"
            f" wabahook events show {event['id']} --raw)"
        )
    _echo_projected(event["projected"])


def _retry(event: Mapping[str, Any]) -> str:
    """Whether the event repeats earlier bytes of its channel, and the first that carried them."""
    if not event["duplicate_delivery"]:
        return "no"
    earlier = [other for other in event["same_bytes"]["ids"] if other < event["id"]]
    return f"yes (same bytes as event {earlier[0]})" if earlier else "yes"


def _echo_projected(projected: Mapping[str, list[dict[str, Any]]]) -> None:
    """Each projected row on one line, without the JSON the body above shows already."""
    if not projected:
        click.echo("projected: nothing")
        return
    click.echo("projected:")
    for view, rows in projected.items():
        click.echo(f"  {view} ({len(rows)}):")
        for row in rows[: lookup.SHOWN_ROWS]:
            values = (
                f"{key}={_value(value)}"
                for key, value in row.items()
                if value is not None and key not in ("payload", "details", "raw_event_id")
            )
            click.echo(f"    {cli.escaped(' '.join(values))}")
        if len(rows) > lookup.SHOWN_ROWS:
            click.echo(f"    ... and {len(rows) - lookup.SHOWN_ROWS} more (--json lists them all)")


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
