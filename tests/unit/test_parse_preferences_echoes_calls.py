"""Readers of marketing preferences, message echoes and calls, against real and hostile values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from processors.pipeline import parse as parsing
from processors.pipeline.model import Projection
from processors.pipeline.parse import parse
from processors.pipeline.projections import readers_of
from processors.pipeline.projections.calls import CallEvent
from processors.pipeline.projections.echoes import MessageEcho
from processors.pipeline.projections.preferences import PreferenceChange
from tests.corpora.preferences_echoes_calls import CASES, OPT_OUT_TITLE
from tests.support.bodies import Case

T = 1750000000
RECEIVED = datetime(2025, 6, 16, tzinfo=UTC)
FAR = 4102444800  # 2100: past any event's window
LONG = "x" * 600  # past the 512 bytes a label may have


def cloud(field: str, members: str) -> bytes:
    """A Cloud body with one change of `field` whose value has metadata and `members`."""
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"77","time":' + str(T)
        + ',"changes":[{"field":"' + field + '","value":{"messaging_product":"whatsapp",'
        '"metadata":{"display_phone_number":"1555","phone_number_id":"88"},' + members + "}}]}]}"
    ).encode()  # fmt: skip


def preferences(*items: str) -> list[PreferenceChange]:
    body = cloud("user_preferences", '"user_preferences":[' + ",".join(items) + "]")
    return parse(body, RECEIVED).of("preferences")


def pref(wa_id: object = '"49"', value: object = '"stop"', ts: object = T, extra: str = "") -> str:
    return (
        '{"wa_id":' + str(wa_id) + ',"value":' + str(value) + ',"timestamp":' + str(ts)
        + ',"category":"marketing_messages"' + extra + "}"
    )  # fmt: skip


def test_a_user_preference_is_read_with_its_change() -> None:
    (read,) = preferences(pref(extra=',"detail":"User requested to stop marketing messages"'))
    assert (read.wa_id, read.category, read.value, read.changed_at, read.source) == (
        "49", "marketing_messages", "stop", T, "user_preferences"
    )  # fmt: skip
    assert (read.detail, read.waba_id, read.phone_number_id) == (
        "User requested to stop marketing messages", "77", "88"
    )  # fmt: skip
    assert read.path == ("entry", "0", "changes", "0", "value", "user_preferences", "0")


@pytest.mark.parametrize(
    ("item", "note"),
    [
        (pref(wa_id="null"), "preference_without_wa_id_value_or_timestamp"),
        (pref(wa_id='""'), "preference_without_wa_id_value_or_timestamp"),
        (pref(wa_id='"' + LONG + '"'), "too_long:wa_id"),
        (pref(value="[1]"), "preference_without_wa_id_value_or_timestamp"),
        (pref(value='"' + LONG + '"'), "too_long:value"),
        (pref(ts='"soon"'), "preference_without_wa_id_value_or_timestamp"),
        (pref(ts=99999999999999), "implausible_timestamp:preference"),
        (pref(ts="1" + "0" * 400), "preference_without_wa_id_value_or_timestamp"),
        ('"just text"', "not_an_object:user_preferences"),
    ],
)
def test_a_hostile_preference_is_dropped_with_a_note_and_its_sibling_kept(
    item: str, note: str
) -> None:
    event = parse(
        cloud("user_preferences", '"user_preferences":[' + item + "," + pref('"50"') + "]"),
        RECEIVED,
    )
    assert [p.wa_id for p in event.of("preferences")] == ["50"]
    assert note in event.notes


def test_unknown_values_and_categories_are_kept_as_text() -> None:
    event = parse(
        cloud("user_preferences",
              '"user_preferences":[{"wa_id":"49","value":"pause","timestamp":' + str(T)
              + ',"category":"service_messages"},{"wa_id":"49","value":"stop","timestamp":'
              + str(T) + "}]"),
        RECEIVED,
    )  # fmt: skip
    assert [(p.category, p.value) for p in event.of("preferences")] == [
        ("service_messages", "pause"), ("", "stop")
    ]  # fmt: skip
    assert "preference_without_category" in event.notes


def test_a_user_preferences_list_that_is_not_a_list_is_noted() -> None:
    event = parse(cloud("user_preferences", '"user_preferences":{"wa_id":"49"}'), RECEIVED)
    assert event.of("preferences") == []
    assert "not_a_list:user_preferences" in event.notes


def failed(code: object, recipient: str = '"recipient_id":"49"', state: str = "failed") -> str:
    return (
        '{"id":"wamid.F","status":"' + state + '","timestamp":"' + str(T) + '",' + recipient
        + ',"errors":[{"code":1},{"code":' + str(code) + ',"title":"' + OPT_OUT_TITLE + '"}]}'
    )  # fmt: skip


def opt_outs(*items: str) -> tuple[list[PreferenceChange], dict[str, int]]:
    event = parse(cloud("messages", '"statuses":[' + ",".join(items) + "]"), RECEIVED)
    return event.of("preferences"), dict(event.notes)


def test_a_failed_status_with_131050_is_a_marketing_stop_at_its_time() -> None:
    (read,), _ = opt_outs(failed(131050))
    assert (read.wa_id, read.category, read.value, read.changed_at) == (
        "49", "marketing_messages", "stop", T
    )  # fmt: skip
    assert (read.source, read.detail, read.message_id) == ("error_131050", OPT_OUT_TITLE, "wamid.F")
    (on_premise,) = parse(
        ('{"statuses":[' + failed('"131050"', '"message":{"recipient_id":"48"}') + "]}").encode(),
        RECEIVED,
    ).of("preferences")
    assert (on_premise.wa_id, on_premise.waba_id, on_premise.phone_number_id) == ("48", None, None)


@pytest.mark.parametrize(
    "item",
    [
        failed(131049),  # the frequency cap is not an opt-out
        failed(131050, state="sent"),
        failed(131050, state="FAILED"),
        failed(131050, recipient='"recipient_id":null'),
        failed(131050, recipient='"recipient_id":"' + LONG + '"'),
        failed("1" + "0" * 30),
        '{"id":"wamid.F","status":"failed","timestamp":"' + str(T) + '","errors":"131050"}',
        '{"id":"wamid.F","status":"failed","timestamp":"later","recipient_id":"49",'
        '"errors":[{"code":131050}]}',
    ],
)
def test_other_statuses_are_no_opt_out(item: str) -> None:
    assert opt_outs(item)[0] == []


@pytest.mark.parametrize(
    "item",
    [
        failed(131050, recipient='"recipient_id":"' + LONG + '"'),
        failed(131050, recipient='"recipient_id":"49","surprise":1'),
        failed(10**12),
        '{"id":"wamid.F","status":"failed","timestamp":"' + str(FAR) + '","recipient_id":"49",'
        '"errors":[{"code":131050}]}',
        "7",
    ],
)
def test_reading_opt_outs_adds_no_note_to_those_of_the_statuses(
    item: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, notes = opt_outs(item)
    assert notes  # each of these is noted once, by the statuses projection

    def others(field: str) -> tuple[Projection, ...]:
        return tuple(p for p in readers_of(field) if p.name != "preferences")

    monkeypatch.setattr(parsing, "readers_of", others)  # the parser's own name for it
    assert opt_outs(item) == ([], notes)


def echoes(*items: str) -> tuple[list[MessageEcho], dict[str, int]]:
    body = cloud("smb_message_echoes", '"message_echoes":[' + ",".join(items) + "]")
    event = parse(body, RECEIVED)
    return event.of("echoes"), dict(event.notes)


def echo(mid: str = '"wamid.E"', kind: str = "text", body: str = '"text":{"body":"hi"}') -> str:
    return (
        '{"from":"1555","to":"49","id":' + mid + ',"timestamp":"' + str(T) + '","type":"'
        + kind + '",' + body + "}"
    )  # fmt: skip


def test_an_echo_reads_like_an_inbound_message_the_other_way() -> None:
    (text, image), _ = echoes(
        echo(), echo('"wamid.I"', "image", '"image":{"caption":"menu","id":"1"}')
    )
    assert (text.message_id, text.sender, text.recipient, text.type, text.sent_at, text.text) == (
        "wamid.E", "1555", "49", "text", T, "hi"
    )  # fmt: skip
    assert (text.waba_id, text.phone_number_id) == ("77", "88")
    assert (image.type, image.text) == ("image", "menu")


@pytest.mark.parametrize(
    ("item", "kept", "note"),
    [
        (echo(mid="null"), [], "echo_without_id"),
        (echo(mid='"' + LONG + '"'), [], "too_long:id"),
        (echo(body='"text":"not an object"'), ["wamid.E"], None),
        (echo(kind=LONG), ["wamid.E"], "too_long:type"),
        ('{"id":"wamid.E","timestamp":1e400}', ["wamid.E"], None),
        ('{"id":"wamid.E","timestamp":"99999999999"}', ["wamid.E"], "implausible_timestamp:echo"),
        ("[]", [], "not_an_object:message_echoes"),
    ],
)
def test_a_hostile_echo_is_dropped_or_nulled_with_a_note(
    item: str, kept: list[str], note: str | None
) -> None:
    reads, notes = echoes(item, echo('"wamid.OK"'))
    assert [e.message_id for e in reads] == [*kept, "wamid.OK"]
    if note is not None:
        assert note in notes


def calls(members: str) -> tuple[list[CallEvent], dict[str, int], int]:
    event = parse(cloud("calls", members), RECEIVED)
    return event.of("calls"), dict(event.notes), len(event.of("call_errors"))


def call(extra: str = "", cid: str = '"wacid.1"', event: str = '"terminate"') -> str:
    return (
        '{"id":' + cid + ',"from":"49","to":"1555","event":' + event + ',"timestamp":"'
        + str(T) + '","direction":"USER_INITIATED"' + extra + "}"
    )  # fmt: skip


def test_a_terminate_and_a_call_status_are_read() -> None:
    terminate = call(
        ',"status":"COMPLETED","start_time":"' + str(T - 90) + '","end_time":"' + str(T)
        + '","duration":90,"biz_opaque_callback_data":"c-7"'
    )  # fmt: skip
    ringing = (
        '{"id":"wacid.2","timestamp":"' + str(T) + '","type":"call","status":"RINGING",'
        '"recipient_id":"48"}'
    )
    (end, ring), notes, errors = calls(
        '"calls":[' + terminate + '],"statuses":[' + ringing + '],"errors":[{"code":1}]'
    )
    assert (end.call_id, end.event, end.status, end.caller, end.callee, end.direction) == (
        "wacid.1", "terminate", "COMPLETED", "49", "1555", "USER_INITIATED"
    )  # fmt: skip
    assert (end.started_at, end.ended_at, end.duration, end.biz_opaque_callback_data) == (
        T - 90, T, 90, "c-7"
    )  # fmt: skip
    assert (ring.call_id, ring.event, ring.status, ring.caller, ring.callee) == (
        "wacid.2", "RINGING", "RINGING", None, "48"
    )  # fmt: skip
    assert end.errors_path == ring.errors_path == ("entry", "0", "changes", "0", "value")
    assert (end.waba_id, end.phone_number_id, errors, notes) == ("77", "88", 1, {})


@pytest.mark.parametrize(
    ("item", "nulled", "note"),
    [
        (call(cid="null"), None, "call_without_id_event_or_timestamp"),
        (call(event='""'), None, "call_without_id_event_or_timestamp"),
        (call(event='"' + LONG + '"'), None, "too_long:event"),
        (call(',"duration":-5'), "duration", "implausible_call_duration"),
        (call(',"duration":"' + "9" * 30 + '"'), "duration", "implausible_call_duration"),
        (call(',"duration":4294967296'), "duration", "implausible_call_duration"),
        (call(',"duration":{"s":1}'), "duration", "implausible_call_duration"),
        (call(',"start_time":"1671644824000"'), "started_at", "implausible_timestamp:call_start"),
        (call(',"status":["COMPLETED"]'), "status", None),
        (call(',"biz_opaque_callback_data":{"a":1}'), "biz_opaque_callback_data", None),
        ('"x"', None, "not_an_object:calls"),
    ],
)
def test_a_hostile_call_is_dropped_or_nulled_with_a_note(
    item: str, nulled: str | None, note: str | None
) -> None:
    reads, notes, _ = calls('"calls":[' + item + "," + call(cid='"wacid.OK"') + "]")
    assert [c.call_id for c in reads] == (["wacid.1"] if nulled else []) + ["wacid.OK"]
    if nulled is not None:
        assert getattr(reads[0], nulled) is None
    if note is not None:
        assert note in notes


def test_value_level_errors_are_read_even_without_calls() -> None:
    reads, notes, errors = calls('"errors":[{"code":138006,"message":"no permission"},"x"]')
    assert (reads, errors) == ([], 1)
    assert "not_an_object:errors" in notes
    (error,) = parse(cloud("calls", '"errors":[{"code":"138006","title":"t"}]'), RECEIVED).of(
        "call_errors"
    )
    assert (error.code, error.title, error.event_at, error.waba_id) == (138006, "t", T, "77")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_item_path_points_at_its_item(case: Case) -> None:
    event = parse(case.body)
    document = json.loads(case.body)
    for name in ("preferences", "echoes", "calls", "call_errors"):
        for item in event.of(name):
            node = document
            for step in item.path:
                node = node[int(step)] if isinstance(node, list) else node[step]
            assert isinstance(node, dict)
            if name == "echoes":
                assert node["id"] == item.message_id
            elif name == "calls":
                assert node["id"] == item.call_id
