"""Identity links read from hostile values: what cannot be an identifier is unknown or
noted and dropped, never an error, never part of a person."""

from __future__ import annotations

import json
from typing import Any

from processors.pipeline.parse import parse


def links(value: dict[str, Any], field: str = "messages") -> tuple[list[Any], set[str]]:
    body = {"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": field, "value": value}]}]}  # fmt: skip
    event = parse(json.dumps(body).encode())
    return event.of("identities"), set(event.notes)


def text(sender: dict[str, Any], **system: Any) -> dict[str, Any]:
    message = {"id": "m1", "timestamp": "1750000000", **sender}
    message.update({"type": "system", "system": system} if system else {"type": "text"})
    return {"messages": [message]}


def test_blank_identifiers_are_unknown_and_unfit_ones_are_noted_and_dropped() -> None:
    for blank in ("", "  ", "\t "):
        found, notes = links(text({"from": blank, "from_user_id": "US.1"}))
        assert [(k.wa_id, k.user_id) for k in found] == [(None, "US.1")]
    for unfit in ("\x01", "a\u2028b", "US.\u200b1", "\x1b[2J", "9" * 300):
        found, notes = links(text({"from": unfit, "from_user_id": "US.1"}))
        assert [(k.wa_id, k.user_id) for k in found] == [(None, "US.1")]
        assert "unfit_identifier:from" in notes
    for odd in (1.5, True, {}, [1]):
        found, notes = links(text({"from": odd, "from_user_id": "US.1"}))
        assert [(k.wa_id, k.user_id) for k in found] == [(None, "US.1")]
        assert "not_an_identifier:from" in notes


def test_a_username_too_long_for_the_key_is_dropped_and_the_link_kept() -> None:
    contact = {"profile": {"name": "X", "username": "u" * 3000}, "user_id": "US.2"}
    found, notes = links({"contacts": [contact]})
    assert [(k.user_id, k.username) for k in found] == [("US.2", None)]
    assert "unfit_identifier:username" in notes


def test_a_system_type_that_is_no_string_is_an_ordinary_sender() -> None:
    for kind in (["user_changed_number"], {"a": 1}, 7):
        found, _ = links(text({"from": "1555"}, type=kind, wa_id="1666"))
        assert [(k.wa_id, k.previous_wa_id) for k in found] == [("1555", None)]


def test_user_id_update_takes_objects_and_reads_a_plain_string_as_the_current_id() -> None:
    found, _ = links({"user_id_update": [
        {"wa_id": "1555", "user_id": {"previous": "US.1", "current": "US.2"}},
        {"wa_id": "1666", "user_id": "US.3"},
        {"wa_id": "1777", "user_id": {"previous": {"x": 1}, "current": ["US.4"]}},
    ]}, "user_id_update")  # fmt: skip
    assert [(k.wa_id, k.previous_user_id, k.user_id) for k in found] == [
        ("1555", "US.1", "US.2"), ("1666", None, "US.3"), ("1777", None, None)
    ]  # fmt: skip


def test_a_timestamp_that_is_no_number_is_noted() -> None:
    for odd in ("soon", "", {"t": 1}, 1.5e20):
        body = {"messages": [{"id": "m", "from": "1555", "type": "text", "timestamp": odd}]}
        event = parse(json.dumps(body).encode())
        assert "not_a_time:message" in event.notes
    fine = parse(b'{"messages":[{"id":"m","from":"1555","type":"text","timestamp":"1750000000"}]}')
    assert not any(note.startswith("not_a_time") for note in fine.notes)
