"""The parser against the corpus: every type, status and edge case of both formats."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.pipeline.parse import Rejected, parse
from processors.pipeline.projections.messages import InboundMessage
from processors.pipeline.projections.statuses import StatusUpdate
from tests.corpus import CASES, REJECTED_CASES, Case

PROCESSED = [case for case in CASES if case.state == "processed"]


def test_the_corpus_covers_at_least_forty_bodies_of_both_formats() -> None:
    assert len(CASES) >= 40
    assert sum(case.name.startswith("cloud") for case in CASES) >= 20
    assert sum(case.name.startswith("on-premise") for case in CASES) >= 15


def resolve(body: bytes, path: tuple[str, ...]) -> Any:
    node: Any = json.loads(body)
    for step in path:
        node = node[int(step)] if isinstance(node, list) else node[step]
    return node


@pytest.mark.parametrize("case", PROCESSED, ids=lambda c: c.name)
def test_messages_statuses_and_errors_match_the_expected_facts(case: Case) -> None:
    event = parse(case.body)
    messages = {m.message_id: m for m in event.of("messages")}
    assert set(messages) == set(case.messages)
    for message_id, expected in case.messages.items():
        actual = asdict(messages[message_id])
        assert {k: actual[k] for k in expected} == expected
    statuses = {(s.message_id, s.status, s.status_at): s for s in event.of("statuses")}
    assert set(statuses) == set(case.statuses)
    for key, expected in case.statuses.items():
        actual = asdict(statuses[key])
        actual["error_codes"] = list(actual["error_codes"])
        assert {k: actual[k] for k in expected} == expected
    assert [(e.code, e.title) for e in event.of("errors")] == case.errors
    assert case.notes <= set(event.notes)
    for wa_id, name in case.contacts.items():
        assert {m.contact_name for m in event.of("messages") if m.wa_id == wa_id} == {name}


@pytest.mark.parametrize("case", PROCESSED, ids=lambda c: c.name)
def test_every_item_path_points_at_that_item_in_the_body(case: Case) -> None:
    event = parse(case.body)
    items: list[InboundMessage | StatusUpdate] = [*event.of("messages"), *event.of("statuses")]
    for item in items:
        assert str(resolve(case.body, item.path)["id"]) == item.message_id
    for error in event.of("errors"):
        assert resolve(case.body, error.path)["code"] == error.code


@pytest.mark.parametrize("case", REJECTED_CASES, ids=lambda c: c.name)
def test_unusable_bodies_are_rejected_with_a_reason(case: Case) -> None:
    assert case.rejection is not None
    with pytest.raises(Rejected) as caught:
        parse(case.body)
    assert case.rejection in str(caught.value)


def test_format_is_detected() -> None:
    assert parse(b'{"statuses":[]}').format == "onprem"
    assert parse(b'{"object":"whatsapp_business_account","entry":[]}').format == "cloud"


def test_bad_items_never_sink_their_siblings() -> None:
    event = parse(
        b'{"messages":[7,{"id":"ok","from":"1","timestamp":"x","type":"text","text":{"body":"b"}}],'
        b'"statuses":[{"id":"s","status":"read"},{"id":"s","status":"read","timestamp":"1750000000"}],'
        b'"contacts":"not a list"}'
    )
    assert [m.message_id for m in event.of("messages")] == ["ok"]
    assert event.of("messages")[0].sent_at is None  # a malformed timestamp is NULL, not a crash
    assert [(s.message_id, s.status_at) for s in event.of("statuses")] == [("s", 1750000000)]
    assert event.notes["not_an_object:messages"] == 1
    assert event.notes["status_without_id_status_or_timestamp"] == 1
    assert event.notes["not_a_list:contacts"] == 1


def test_ids_too_long_to_index_are_skipped() -> None:
    body = ('{"messages":[{"id":"' + "x" * 600 + '","type":"text"}]}').encode()
    event = parse(body)
    assert event.of("messages") == []
    assert event.notes["message_without_id"] == 1


def test_numbers_where_strings_are_expected_are_accepted() -> None:
    event = parse(
        b'{"statuses":[{"id":123,"status":"sent","timestamp":1750000000,"recipient_id":5}]}'
    )
    (status,) = event.of("statuses")
    assert (status.message_id, status.status_at, status.recipient_id) == ("123", 1750000000, "5")


@given(st.binary(max_size=300))
def test_any_bytes_are_either_parsed_or_rejected(body: bytes) -> None:
    try:
        event = parse(body)
    except Rejected as exc:
        reason = str(exc)
        assert reason
    else:
        assert event.format in ("cloud", "onprem")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["messages", "statuses", "contacts", "errors"]), json_values, min_size=1
    )
)
def test_arbitrary_shapes_under_known_keys_never_crash(document: dict[str, Any]) -> None:
    try:
        event = parse(json.dumps(document).encode())
    except Rejected:
        return
    assert event.format == "onprem"


@pytest.mark.parametrize("body", [b"\xef\xbb\xbf\xef\xbb\xbf{}", b"\xef\xbb\xbf\xef\xbb\xbf[1]"])
def test_a_second_byte_order_mark_is_refused_with_the_reason_json_gives(body: bytes) -> None:
    """One mark is skipped, as PostgreSQL skips it; a second is not JSON."""
    with pytest.raises(Rejected) as caught:
        parse(body)
    with pytest.raises(json.JSONDecodeError) as plain:
        json.loads(body[3:].decode())
    assert str(caught.value) == f"invalid JSON: {plain.value.msg}"
