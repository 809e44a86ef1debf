"""Edits, revokes and business-scoped user ids as the parser reads them, hostile ones too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from processors.pipeline.parse import parse
from processors.pipeline.projections.message_changes import MessageChange
from processors.pipeline.projections.messages import InboundMessage
from processors.pipeline.values import Notes

T0 = 1750000000


def body(messages: list[Any], contacts: Any = None, entry_time: int | None = None) -> bytes:
    """A Cloud body of one `messages` change (built with json.dumps: values are hostile)."""
    value: dict[str, Any] = {"metadata": {"phone_number_id": "PN"}, "messages": messages}
    if contacts is not None:
        value["contacts"] = contacts
    entry: dict[str, Any] = {"id": "WABA", "changes": [{"field": "messages", "value": value}]}
    if entry_time is not None:
        entry["time"] = entry_time
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def edit(detail: Any, **fields: Any) -> dict[str, Any]:
    return {"from": "49", "id": "wamid.E", "timestamp": str(T0), "type": "edit", "edit": detail,
            **fields}  # fmt: skip


def revoke(detail: Any, **fields: Any) -> dict[str, Any]:
    return {"from": "49", "id": "wamid.R", "timestamp": str(T0), "type": "revoke",
            "revoke": detail, **fields}  # fmt: skip


def read(raw: bytes) -> tuple[list[MessageChange], list[InboundMessage], Notes]:
    event = parse(raw)
    return event.of("message_changes"), event.of("messages"), event.notes


def test_an_edit_is_a_change_of_its_original_with_the_new_text() -> None:
    new = {"context": {"from": "1555", "id": "wamid.OUT"}, "type": "text",
           "text": {"body": "two large"}}  # fmt: skip
    (change,), messages, notes = read(body([edit({"original_message_id": "wamid.O",
                                                  "message": new})]))  # fmt: skip
    assert (change.change_message_id, change.message_id, change.change) == (
        "wamid.E", "wamid.O", "edit")  # fmt: skip
    assert (change.changed_at, change.text, change.wa_id, change.phone_number_id) == (
        T0, "two large", "49", "PN")  # fmt: skip
    assert change.path == ("entry", "0", "changes", "0", "value", "messages", "0")
    assert messages == []  # an edit is not itself an inbound message
    assert not [note for note in notes if note.startswith(("unknown_type", "unknown_field"))]


@pytest.mark.parametrize(
    ("new", "text"),
    [
        ({"type": "image", "image": {"caption": "menu v2", "id": "1"}}, "menu v2"),
        ({"image": {"caption": "no type given"}}, "no type given"),
        ({"type": "text", "text": {"body": ""}}, None),
        ({"type": "text"}, None),
    ],
)
def test_an_edit_takes_the_text_of_messages_inbound(new: dict[str, Any], text: str | None) -> None:
    (change,), _, _ = read(body([edit({"original_message_id": "wamid.O", "message": new})]))
    assert change.text == text


def test_a_revoke_has_no_text_and_sits_beside_its_siblings() -> None:
    text = {"from": "49", "id": "wamid.T", "timestamp": str(T0), "type": "text",
            "text": {"body": "hi"}}  # fmt: skip
    changes, messages, notes = read(body([text, revoke({"original_message_id": "wamid.T"})]))
    assert [(c.change, c.message_id, c.text) for c in changes] == [("revoke", "wamid.T", None)]
    assert [m.message_id for m in messages] == ["wamid.T"]
    assert "unknown_type:revoke" not in notes


def test_a_change_without_its_own_time_takes_the_entry_time() -> None:
    (change,), _, notes = read(
        body([revoke({"original_message_id": "wamid.O"}, timestamp="99999999999")], None, T0 + 5)
    )
    assert change.changed_at == T0 + 5
    assert notes["implausible_timestamp:revoke"] == 1
    (change,), _, _ = read(body([revoke({"original_message_id": "wamid.O"}, timestamp=None)]))
    assert change.changed_at is None  # SQL then takes the time it arrived


HOSTILE_DETAILS = [
    None, "wamid.O", 7, [], {}, {"original_message_id": None},
    {"original_message_id": ""}, {"original_message_id": ["wamid.O"]},
    {"original_message_id": {"id": "wamid.O"}}, {"original_message_id": "x" * 600},
]  # fmt: skip


@pytest.mark.parametrize("detail", HOSTILE_DETAILS, ids=repr)
@pytest.mark.parametrize("maker", [edit, revoke], ids=["edit", "revoke"])
def test_a_change_naming_no_usable_original_is_dropped_with_a_note(maker: Any, detail: Any) -> None:
    sibling = revoke({"original_message_id": "wamid.OK"}, id="wamid.R2")
    changes, messages, notes = read(body([maker(detail), sibling]))
    assert [c.change_message_id for c in changes] == ["wamid.R2"]  # the sibling goes on
    assert messages == []
    kind = maker.__name__
    assert notes[f"{kind}_without_original_message_id"] == 1


@pytest.mark.parametrize(
    "message",
    [
        edit({"original_message_id": "wamid.O"}),  # no new message
        edit({"original_message_id": "wamid.O", "message": "text"}),
        edit({"original_message_id": "wamid.O", "message": {"type": ["text"]}}),
        edit({"original_message_id": "wamid.O", "message": {"type": "poll", "poll": {}}}),
        edit({"original_message_id": "wamid.O", "message": {"type": "text", "text": "flat"}}),
        edit({"original_message_id": "wamid.O", "message": {"type": "text",
                                                            "text": {"body": 12}}}),
    ],
    ids=["no message", "message not an object", "type a list", "unknown type", "flat text",
         "number body"],
)  # fmt: skip
def test_an_edit_with_a_broken_new_message_keeps_the_change_without_text(
    message: dict[str, Any],
) -> None:
    (change,), _, _ = read(body([message]))
    assert change.message_id == "wamid.O"
    assert change.text in (None, "12")  # a number body reads as text, like messages_inbound's


@pytest.mark.parametrize(
    "fields",
    [
        {"id": None}, {"id": "x" * 600}, {"id": {"a": 1}}, {"type": ["edit"]},
        {"type": {"edit": 1}}, {"from": ["49"]}, {"from": "9" * 600},
        {"from_user_id": "u" * 600}, {"timestamp": [1]}, {"timestamp": "-1"},
        {"edit": ""}, {"edit": None},
    ],
    ids=repr,
)  # fmt: skip
def test_hostile_change_messages_never_raise_nor_double_their_notes(fields: dict[str, Any]) -> None:
    message = {**edit({"original_message_id": "wamid.O"}), **fields}
    changes, messages, notes = read(body([message, 5]))
    assert len(changes) + len(messages) <= 1  # an edit, or a message of an unknown type
    assert notes["not_an_object:messages"] == 1  # noted by messages.py only
    assert all(count == 1 for key, count in notes.items() if key != "notes_truncated")


def test_messages_that_are_not_a_list_are_noted_once() -> None:
    _, _, notes = read(body({"type": "edit"}))  # type: ignore[arg-type]
    assert notes["not_a_list:messages"] == 1


def test_the_sender_of_a_message_is_found_by_wa_id_or_by_user_id() -> None:
    contacts = [
        {"profile": {"name": "Pablo", "username": "@pablo"}, "wa_id": "16505551234",
         "user_id": "US.1", "parent_user_id": "US.ENT.1"},
        {"profile": {"name": "Sheena", "username": "@sheena"}, "wa_id": "", "user_id": "US.2"},
    ]  # fmt: skip
    messages = [
        {"from": "16505551234", "id": "m1", "timestamp": str(T0), "type": "text"},
        {"from": "", "from_user_id": "US.2", "id": "m2", "timestamp": str(T0), "type": "text"},
        {"from": "", "id": "m3", "timestamp": str(T0), "type": "text"},  # names no sender
    ]
    _, read_messages, _ = read(body(messages, contacts))
    found = {m.message_id: (m.wa_id, m.user_id, m.parent_user_id, m.username, m.contact_name)
             for m in read_messages}  # fmt: skip
    assert found == {
        "m1": ("16505551234", "US.1", "US.ENT.1", "@pablo", "Pablo"),
        "m2": ("US.2", "US.2", None, "@sheena", "Sheena"),  # the user id stands in for wa_id
        "m3": (None, None, None, None, None),  # two contacts: which one sent it is unknown
    }


def test_a_message_naming_no_sender_is_from_the_only_contact() -> None:
    contacts = [{"profile": {"name": "Sheena"}, "wa_id": "", "user_id": "US.2"}]
    message = {"from": "", "id": "m1", "timestamp": str(T0), "type": "text"}
    _, (found,), _ = read(body([message], contacts))
    assert (found.wa_id, found.user_id, found.contact_name) == ("US.2", "US.2", "Sheena")


@pytest.mark.parametrize(
    "contact",
    [
        {"wa_id": "", "user_id": "u" * 600, "profile": {"name": "A"}},
        {"wa_id": "", "user_id": ["US.2"], "profile": "A"},
        {"wa_id": "", "user_id": "US.2", "parent_user_id": {"x": 1},
         "profile": {"username": ["@a"], "name": 5}},
        {"wa_id": None, "user_id": None, "profile": None},
    ],
    ids=repr,
)  # fmt: skip
def test_hostile_contact_ids_are_dropped_and_the_message_goes_on(contact: dict[str, Any]) -> None:
    message = {"from": "", "from_user_id": "US.2", "id": "m1", "timestamp": str(T0),
               "type": "text", "text": {"body": "hi"}}  # fmt: skip
    _, (found,), notes = read(body([message], [contact]))
    assert (found.message_id, found.wa_id, found.user_id, found.text) == (
        "m1",
        "US.2",
        "US.2",
        "hi",
    )
    assert found.username is None or isinstance(found.username, str)
    assert found.parent_user_id is None
    if contact["user_id"] == "u" * 600:
        assert notes["too_long:user_id"] == 1
