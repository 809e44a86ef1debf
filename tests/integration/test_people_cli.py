"""`wabahook people show` and `events list --person`: a person found by any identifier
they ever had, and by a username, which can pass from one person to another."""

from __future__ import annotations

import json
from collections.abc import Callable

from click.testing import Result

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.people import (
    ANA_CHANGED,
    ANA_FIRST,
    ANA_NEW,
    ANA_OLD,
    ANA_U1,
    ANA_U2,
    CY_DELIVERED,
    CY_PHONE,
    CY_RESUMED,
    CY_STOPPED,
    CY_U,
    messages,
)
from tests.integration.processing_helpers import store
from tests.support.bodies import T0

CLI = Callable[..., Result]


def said_by(user: str, name: str, username: str, mid: str, at: int) -> bytes:
    """A message from a username adopter (no phone number) and its contacts[] item."""
    return messages(
        '{"from_user_id":"' + user + '","id":"' + mid + '","timestamp":"' + str(at) + '",'
        '"type":"text","text":{"body":"hi"}}',
        contacts='"contacts":[{"profile":{"name":"' + name + '","username":"' + username + '"},'
        '"user_id":"' + user + '"}],',
    )


def test_people_show_finds_a_person_by_each_identifier_they_ever_had(
    cli: CLI, db: Database
) -> None:
    store(db, [ANA_FIRST, ANA_CHANGED])
    drain(db)
    for who in (ANA_OLD, ANA_NEW, ANA_U1, ANA_U2):
        result = cli("people", "show", who, "--json")
        assert result.exit_code == 0, result.output
        (person,) = json.loads(result.stdout)
        assert person["person_id"] == ANA_U2
        assert person["previous_person_ids"] == [ANA_U1]
        assert person["counts"]["messages_received"] == 2
    text = cli("people", "show", ANA_U1).stdout
    assert text.startswith(f"person {ANA_U2}\n")
    assert f"phone number           {ANA_NEW}" in text
    assert "identifiers over time:" in text
    assert ANA_OLD in text.split("identifiers over time:")[1]  # the number before the change


def test_a_username_names_everyone_who_held_it_with_when(cli: CLI, db: Database) -> None:
    store(db, [
        said_by("US.7910000000000000001", "Gil", "luckyshrub", "wamid.G1", T0 + 10),
        said_by("US.7920000000000000002", "Hal", "luckyshrub", "wamid.H1", T0 + 900),
    ])  # fmt: skip
    drain(db)
    result = cli("people", "show", "@luckyshrub", "--json")
    assert result.exit_code == 0, result.output
    people = json.loads(result.stdout)
    assert [p["person_id"] for p in people] == ["US.7910000000000000001", "US.7920000000000000002"]
    assert [p["held"][0]["since"] for p in people] == [
        "2025-06-15T15:06:50Z", "2025-06-15T15:21:40Z"
    ]  # fmt: skip
    listed = cli("events", "list", "--person", "luckyshrub").stdout
    assert "person US.7910000000000000001 (held luckyshrub" in listed
    assert len([line for line in listed.splitlines() if "1 message" in line]) == 2


def test_events_list_by_person_covers_every_identifier_and_refuses_a_stranger(
    cli: CLI, db: Database
) -> None:
    stopped, delivered, resumed = store(db, [CY_STOPPED, CY_DELIVERED, CY_RESUMED])
    store(db, [ANA_FIRST])
    drain(db)
    result = cli("events", "list", "--person", CY_PHONE, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(e["id"] for e in json.loads(result.stdout)) == [stopped, delivered, resumed]
    by_id = json.loads(cli("events", "list", "--person", CY_U, "--json").stdout)
    assert sorted(e["id"] for e in by_id) == [stopped, delivered, resumed]
    stranger = cli("events", "list", "--person", "15559999999")
    assert stranger.exit_code == 1
    assert stranger.stderr.strip() == "Error: no person known as '15559999999'"
    assert cli("people", "show", "nobody").exit_code == 1
