"""Edits and revokes in any arrival order; contacts known by a business-scoped user id."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from processors.pipeline.drain import drain
from processors.pipeline.rebuild import rebuild
from receiver.db import Database
from tests.corpora.message_changes import BUYER_CONTACT, edit, revoke
from tests.integration.processing_helpers import store, view
from tests.support.bodies import T0, cloud, cloud_message, meta, msg

EDIT1, EDIT2, REVOKE = T0 + 60, T0 + 120, T0 + 180
EVENTS = ("original", "edit1", "edit2", "revoke")


def at(unix: int | None) -> datetime | None:
    return None if unix is None else datetime.fromtimestamp(unix, UTC)


def bodies(n: int) -> dict[str, bytes]:
    """The original, two edits and a revoke of message wamid.P{n}."""
    original = f"wamid.P{n}"
    return {
        "original": cloud_message(msg(original, "text", '"text":{"body":"v0"}', sender="49"),
                                  contacts=BUYER_CONTACT),
        "edit1": edit(f"{original}.E1", original, '{"type":"text","text":{"body":"v1"}}', EDIT1),
        # The second edit is later in time whatever the arrival order.
        "edit2": edit(f"{original}.E2", original,
                      '{"type":"image","image":{"caption":"v2","id":"5"}}', EDIT2),
        "revoke": revoke(f"{original}.R", original, REVOKE),
    }  # fmt: skip


def expected(arrived: set[str]) -> dict[str, Any] | None:
    """What messages_inbound shows once `arrived` are in, written out case by case."""
    if "original" not in arrived:
        return None  # changes wait in message_changes for their original
    edited_at = EDIT2 if "edit2" in arrived else EDIT1 if "edit1" in arrived else None
    if "revoke" in arrived:
        current = None
    elif "edit2" in arrived:
        current = "v2"
    elif "edit1" in arrived:
        current = "v1"
    else:
        current = "v0"
    return {"text": "v0", "current_text": current, "edited_at": at(edited_at),
            "revoked_at": at(REVOKE if "revoke" in arrived else None)}  # fmt: skip


def shown(database_url: str, message_id: str) -> dict[str, Any] | None:
    rows = view(database_url, "messages_inbound", "message_id = %s", [message_id])
    if not rows:
        return None
    (row,) = rows
    return {key: row[key] for key in ("text", "current_text", "edited_at", "revoked_at")}


@pytest.mark.slow  # every arrival order
def test_current_text_edited_and_revoked_at_in_every_arrival_order(
    db: Database, database_url: str
) -> None:
    orders = list(itertools.permutations(EVENTS))
    assert len(orders) == 24
    for n, order in enumerate(orders):
        events = bodies(n)
        arrived: set[str] = set()
        for name in order:
            store(db, [events[name]])
            drain(db)
            arrived.add(name)
            assert shown(database_url, f"wamid.P{n}") == expected(arrived), (order, name)
        changes = view(database_url, "message_changes", "message_id = %s", [f"wamid.P{n}"])
        assert sorted((c["change"], c["text"]) for c in changes) == [
            ("edit", "v1"), ("edit", "v2"), ("revoke", None)]  # fmt: skip


def test_a_redelivered_edit_adds_nothing_and_the_later_edit_wins_a_tie(
    db: Database, database_url: str
) -> None:
    events = bodies(99)
    tied = edit("wamid.P99.E3", "wamid.P99", '{"type":"text","text":{"body":"v3"}}', EDIT1)
    store(db, [events["original"], events["edit1"], events["edit1"], tied, events["edit1"]])
    drain(db)
    assert len(view(database_url, "message_changes", "message_id = 'wamid.P99'")) == 2
    # Both edits have the same time: the one from the later raw event is current.
    assert shown(database_url, "wamid.P99") == {
        "text": "v0", "current_text": "v3", "edited_at": at(EDIT1), "revoked_at": None}  # fmt: skip


def only_user_id(mid: str, name: str, ts: int) -> bytes:
    """A message from a username adopter whose phone number Meta withholds."""
    return cloud(
        meta(
            '"contacts":[{"profile":{"name":"' + name + '","username":"@sheena"},'
            '"wa_id":"","user_id":"US.42"}],'
            '"messages":[{"from":"","from_user_id":"US.42","id":"' + mid + '",'
            '"timestamp":"' + str(ts) + '","type":"text","text":{"body":"hi"}}]'
        )
    )


def test_a_contact_known_only_by_user_id_is_one_contact(db: Database, database_url: str) -> None:
    store(
        db, [only_user_id("wamid.U2", "Sheena N.", T0 + 50), only_user_id("wamid.U1", "Sheena", T0)]
    )
    drain(db)
    (contact,) = view(database_url, "contacts", "user_id = 'US.42'")
    assert contact["wa_id"] == "US.42"
    assert (contact["first_seen_at"], contact["last_seen_at"]) == (at(T0), at(T0 + 50))
    assert (contact["profile_name"], contact["username"]) == ("Sheena N.", "@sheena")
    messages = view(database_url, "messages_inbound", "user_id = 'US.42'")
    assert sorted((m["message_id"], m["wa_id"]) for m in messages) == [
        ("wamid.U1", "US.42"), ("wamid.U2", "US.42")]  # fmt: skip


def test_a_contact_keeps_the_ids_of_its_latest_message_in_any_order(
    db: Database, database_url: str
) -> None:
    def sighting(mid: str, ts: int, user_id: str, pn: str) -> bytes:
        return (
            cloud_message(
                '{"from":"4917","from_user_id":"' + user_id + '","id":"' + mid + '",'
                '"timestamp":"' + str(ts) + '","type":"text","text":{"body":"x"}}',
                contacts='"contacts":[{"profile":{"name":"K"},"wa_id":"4917","user_id":"'
                + user_id + '"}]',
            )
            .replace(b'"phone_number_id":"106540352242922"', f'"phone_number_id":"{pn}"'.encode())
        )  # fmt: skip

    newer, older = (
        sighting("wamid.K2", T0 + 9, "US.NEW", "PN2"),
        sighting("wamid.K1", T0, "US.OLD", "PN1"),
    )
    for channel, order in (("acme", [newer, older]), ("beta", [older, newer])):
        store(db, order, channel)
        drain(db)
        (contact,) = view(database_url, "contacts", "channel = %s", [channel])
        assert (contact["wa_id"], contact["user_id"], contact["phone_number_id"]) == (
            "4917", "US.NEW", "PN2"), channel  # fmt: skip


def test_rebuild_fills_message_changes(db: Database, database_url: str) -> None:
    events = bodies(7)
    store(db, [events["edit1"], events["original"], events["revoke"]])
    drain(db)
    before = view(database_url, "message_changes")
    assert len(before) == 2
    with psycopg.connect(database_url) as conn:  # as if the table came after the events
        conn.execute("TRUNCATE wabahook.message_change")
    assert shown(database_url, "wamid.P7") == {
        "text": "v0", "current_text": "v0", "edited_at": None, "revoked_at": None}  # fmt: skip
    rebuild(db)
    assert sorted(map(repr, view(database_url, "message_changes"))) == sorted(map(repr, before))
    assert shown(database_url, "wamid.P7") == {
        "text": "v0",
        "current_text": None,
        "edited_at": at(EDIT1),
        "revoked_at": at(REVOKE),
    }
