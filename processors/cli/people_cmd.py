"""`wabahook people show`: one person, by anything they were ever known by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

import processors.cli.common as cli
from processors import person_lookup
from processors.cli.common import when
from processors.stored.selection import Key
from receiver.config import shown


@cli.main.group("people")
def people_group() -> None:
    """Look people up: the phone numbers, user ids and usernames WhatsApp gave them."""


@people_group.command("show")
@click.argument("who", type=Key())
@cli.json_option
def people_show(who: str, as_json: bool) -> None:
    """Show a person: their identifiers over time, channels and what is stored about them.

    WHO is a person id (the current one or one the person had before), a phone
    number, a business-scoped user id or parent user id, or a username (with or
    without "@"). A username can pass from one person to another: each person who
    held it is shown, with when they held it.

    A person is every identifier the notifications named together: a message's
    sender and its contact, a status's recipient, a number or user id change, and
    so on. person_id is the person's smallest user id, else smallest phone number;
    it changes when new notifications join two people or bring a smaller id.

    \b
    Examples:
      wabahook people show 16505551234
      wabahook people show US.13491208655302741918 --json
      wabahook people show @pablomorales
    """
    with cli.database() as db, cli.errors_as_messages():
        named = person_lookup.people_named(db, who)
        people = [
            {**details, "held": found["held"]}
            for found in named
            if (details := person_lookup.person_details(db, found["person_id"])) is not None
        ]
    if not people:
        cli.fail(f"no person known as {shown(who)}")
    if as_json:
        cli.emit_json(people)
        return
    for number, person in enumerate(people):
        if number:
            click.echo()
        _echo_person(person)


def _echo_person(person: Mapping[str, Any]) -> None:
    # A sender's values (names, usernames, ids) are written escaped: they reach a terminal.
    esc = cli.escaped
    click.echo(f"person {esc(person['person_id'])}")
    for held in person["held"]:
        click.echo(
            f"  held {esc(held['username'])} from {when(held['since'])} to {when(held['until'])}"
        )
    counts = person["counts"]
    fields = {
        "previous ids": esc(", ".join(person["previous_person_ids"])) or cli.MISSING,
        "phone number": esc(person["current_wa_id"] or cli.MISSING),
        "user id": esc(person["current_user_id"] or cli.MISSING),
        "parent user id": esc(person["parent_user_id"] or cli.MISSING),
        "username": esc(person["username"] or cli.MISSING),
        "profile name": esc(person["profile_name"] or cli.MISSING),
        "channels": ", ".join(person["channels"] or []) or cli.MISSING,
        "first seen": when(person["first_seen_at"]),
        "last seen": when(person["last_seen_at"]),
        "messages received": counts.get("messages_received", 0),
        "messages sent to them": counts.get("messages_sent", 0),
        "preference changes": counts.get("preference_changes", 0),
    }
    width = max(map(len, fields))
    for name, value in fields.items():
        click.echo(f"  {name:<{width}}  {value}")
    click.echo("  identifiers over time:")
    cli.echo_table(
        ("FIRST SEEN", "LAST SEEN", "CHANNEL", "PHONE", "USER ID", "USERNAME", "BEFORE"),
        (
            [when(link["first_seen_at"]), when(link["last_seen_at"]), link["channel"],
             link["wa_id"] or cli.MISSING, link["user_id"] or cli.MISSING,
             link["username"] or cli.MISSING,
             " ".join(i for i in (link["previous_wa_id"], link["previous_user_id"]) if i)
             or cli.MISSING]
            for link in person["links"]
        ),
    )  # fmt: skip
