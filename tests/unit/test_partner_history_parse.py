"""A 360dialog partner's bodies and Coexistence history: hostile values noted, never raised."""

from __future__ import annotations

from processors.pipeline.parse import parse


def test_a_flat_partner_event_is_no_on_premise_body_whatever_it_holds() -> None:
    event = parse(b'{"event":"account_update","errors":[{"code":1}],"contacts":[]}')
    assert event.format == "partner"
    assert [e.event for e in event.of("partner_events")] == ["account_update"]


def test_a_wrapped_history_without_an_object_is_kept_as_a_partner_event() -> None:
    event = parse(b'{"id":"e","event":"history","data":"oops"}')
    assert [e.event for e in event.of("partner_events")] == ["history"]
    assert "not_an_object:data" in event.notes


def test_hostile_history_values_are_noted() -> None:
    body = (
        b'{"id":{"a":1},"event":"history","data":{"id":["w"],"metadata":{"phone_number_id":'
        b'{"x":1}},"history":[{"metadata":{"phase":0,"chunk_order":1,"progress":"abc"},'
        b'"threads":[{"id":"491","messages":[{"id":"m1","history_context":{"status":5}}]}]},'
        b'{"metadata":{"phase":0,"chunk_order":2,"progress":101}}]}}'
    )
    event = parse(body)
    (first, second) = event.of("history_chunks")
    assert (first.progress, second.progress, first.phone_number_id, first.waba_id) == (
        None, None, None, None)  # fmt: skip
    assert {"not_a_number:progress", "implausible_progress", "not_a_string:id",
            "not_a_string:phone_number_id", "not_a_string:history_context.status"} <= set(
        event.notes)  # fmt: skip
    (message,) = event.of("history_messages")
    assert (message.message_id, message.status) == ("m1", None)


def test_an_empty_phone_number_id_is_none_so_a_chunk_has_one_key() -> None:
    body = (
        b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":'
        b'"history","value":{"metadata":{"phone_number_id":""},"history":[{"metadata":'
        b'{"phase":0,"chunk_order":1,"progress":10}}]}}]}]}'
    )
    (chunk,) = parse(body).of("history_chunks")
    assert chunk.phone_number_id is None


def test_a_partner_event_id_that_is_no_string_is_noted() -> None:
    event = parse(b'{"id":true,"event":"channel_ready","data":{"status":"ready"}}')
    (read,) = event.of("partner_events")
    assert (read.event_id, read.status) == (None, "ready")
    assert "not_a_string:id" in event.notes
