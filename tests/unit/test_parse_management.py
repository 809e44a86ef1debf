"""Reading management notifications: templates, phone numbers, the account; hostile values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.pipeline.model import ParsedEvent
from processors.pipeline.parse import Rejected, parse
from processors.pipeline.projections.accounts import ACCOUNT_FIELDS, AccountEvent
from processors.pipeline.projections.phone_numbers import PhoneNumberEvent
from processors.pipeline.projections.templates import KINDS, TemplateEvent
from processors.pipeline.values import MAX_LABEL_BYTES
from tests.corpora import accounts
from tests.corpora import management as templates
from tests.corpora.management import management
from tests.support.bodies import T0, WABA

CASES = templates.CASES + accounts.CASES

FIELDS = {
    **dict.fromkeys(KINDS, "template_events"),
    "phone_number_quality_update": "phone_number_events",
    "phone_number_name_update": "phone_number_events",
    **dict.fromkeys(ACCOUNT_FIELDS, "account_events"),
    "flows": "flow_events",
}


def read(field: str, value: dict[str, Any] | str, time: int | None = T0) -> ParsedEvent:
    text = value if isinstance(value, str) else json.dumps(value)
    return parse(management(field, text, time))


def one(event: ParsedEvent, name: str) -> Any:
    (item,) = event.of(name)
    return item


def test_every_management_case_yields_one_event_of_its_kind() -> None:
    for case in CASES:
        event = parse(case.body)
        counts = {name: len(event.of(name)) for name in set(FIELDS.values())}
        assert sorted(counts.values()) == [0] * (len(counts) - 1) + [1], case.name
        assert not any(key.startswith("ignored_change") for key in event.notes), case.name


def test_a_template_event_names_its_template_and_origin() -> None:
    event = read(
        "message_template_status_update",
        {"event": "PAUSED", "message_template_id": 77, "message_template_name": "n",
         "message_template_language": "de", "reason": None, "message_template_category": "UTILITY",
         "other_info": {"title": "FIRST_PAUSE"}},
    )  # fmt: skip
    item: TemplateEvent = one(event, "template_events")
    assert (item.template_id, item.template_name, item.language) == ("77", "n", "de")
    assert (item.kind, item.event, item.reason, item.category) == (
        "status",
        "PAUSED",
        None,
        "UTILITY",
    )
    assert (item.origin.waba_id, item.origin.entry_time, item.origin.position) == (WABA, T0, 0)
    assert item.origin.path == "entry,0,changes,0,value"
    assert not event.notes


@pytest.mark.parametrize(
    ("value", "kind", "event", "previous"),
    [
        ({"previous_category": "UTILITY", "new_category": "MARKETING"}, "category", "MARKETING",
         "UTILITY"),
        ({"new_category": "MARKETING"}, "category", "MARKETING", None),
        ({"correct_category": "UTILITY", "new_category": "MARKETING"}, "category_announced",
         "MARKETING", None),
        ({"new_category": "MARKETING", "category_update_timestamp": T0 + 86400},
         "category_announced", "MARKETING", None),
    ],
)  # fmt: skip
def test_a_category_change_is_completed_or_announced(
    value: dict[str, Any], kind: str, event: str, previous: str | None
) -> None:
    item = one(read("template_category_update", {"message_template_id": 1, **value}),
               "template_events")  # fmt: skip
    assert (item.kind, item.event, item.previous) == (kind, event, previous)


def test_quality_and_components_read_their_own_keys() -> None:
    quality = one(
        read("message_template_quality_update",
             {"message_template_id": 1, "previous_quality_score": "GREEN",
              "new_quality_score": "PURPLE"}),
        "template_events",
    )  # fmt: skip
    assert (quality.kind, quality.event, quality.previous) == ("quality", "PURPLE", "GREEN")
    components = one(
        read("message_template_components_update",
             {"message_template_id": 1, "event": "X", "message_template_element": "Hi"}),
        "template_events",
    )  # fmt: skip
    assert (components.kind, components.event) == ("components", None)


def test_phone_number_events_read_event_or_decision() -> None:
    quality: PhoneNumberEvent = one(
        read("phone_number_quality_update",
             {"display_phone_number": "1555", "event": "ONBOARDING", "old_limit": "TIER_50",
              "current_limit": "TIER_250", "max_daily_conversations_per_business": 250}),
        "phone_number_events",
    )  # fmt: skip
    assert (quality.event, quality.old_limit, quality.current_limit) == (
        "ONBOARDING", "TIER_50", "TIER_250")  # fmt: skip
    assert quality.max_daily_conversations == "250"
    name: PhoneNumberEvent = one(
        read("phone_number_name_update",
             {"display_phone_number": "1555", "decision": "DEFERRED", "event": "ignored",
              "requested_verified_name": "Shop", "rejection_reason": None}),
        "phone_number_events",
    )  # fmt: skip
    assert (name.event, name.requested_name, name.rejection_reason) == ("DEFERRED", "Shop", None)


def test_account_events_take_the_event_else_the_alert_type() -> None:
    alert: AccountEvent = one(
        read("account_alerts",
             {"entity_type": "PHONE_NUMBER", "entity_id": "99",
              "alert_info": {"alert_severity": "WARNING", "alert_type": "NEW_KIND",
                             "alert_status": "NONE"}}),
        "account_events",
    )  # fmt: skip
    assert (alert.event, alert.severity, alert.entity_id) == ("NEW_KIND", "WARNING", "99")
    update = one(read("account_update", {"event": "PARTNER_ADDED", "waba_info": {}}),
                 "account_events")  # fmt: skip
    assert (update.event, update.severity) == ("PARTNER_ADDED", None)
    capability = one(read("business_capability_update", {"max_phone_numbers_per_business": 2}),
                     "account_events")  # fmt: skip
    assert capability.event is None


def test_without_entry_time_or_id_an_event_is_still_read() -> None:
    body = (
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"security",'
        b'"value":{"event":"PIN_RESET_REQUEST"}},{"field":"message_template_status_update",'
        b'"value":{"event":"APPROVED","message_template_id":5}}]}]}'
    )
    event = parse(body)
    security, template = one(event, "account_events"), one(event, "template_events")
    assert (security.origin.waba_id, security.origin.entry_time) == (None, None)
    assert (security.origin.position, template.origin.position) == (0, 1)
    assert event.notes["template_without_waba_id"] == 1


HOSTILE: list[tuple[str, dict[str, Any], str, str]] = [
    # field, value, attribute read as None, note
    ("message_template_status_update", {"message_template_id": {"id": 1}, "event": "APPROVED"},
     "template_id", "not_a_string:message_template_id"),
    ("message_template_status_update", {"message_template_id": "9" * (MAX_LABEL_BYTES + 1)},
     "template_id", "too_long:message_template_id"),
    ("message_template_status_update", {"message_template_id": 1, "event": ["APPROVED"]},
     "event", "not_a_string:event"),
    ("message_template_status_update", {"message_template_id": 1, "event": True},
     "event", "not_a_string:event"),
    ("message_template_quality_update", {"message_template_id": 1, "new_quality_score": 1.5},
     "event", "not_a_string:new_quality_score"),
    ("message_template_status_update",
     {"message_template_id": 1, "message_template_name": {"x": 1}},
     "template_name", "not_a_string:message_template_name"),
    ("template_category_update",
     {"message_template_id": 1, "new_category": "A", "category_update_timestamp": 4102444800},
     "category_update_at", "implausible_timestamp:category_update"),
    ("template_category_update",
     {"message_template_id": 1, "new_category": "A", "category_update_timestamp": "soon"},
     "category_update_at", "not_a_time:category_update_timestamp"),
    ("account_alerts", {"entity_id": "1", "alert_info": "CRITICAL"},
     "severity", "not_an_object:alert_info"),
    ("phone_number_quality_update", {"display_phone_number": None, "event": "x" * 600},
     "event", "too_long:event"),
    ("phone_number_name_update", {"decision": "APPROVED", "requested_verified_name": [1]},
     "requested_name", "not_a_string:requested_verified_name"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "attribute", "note"), HOSTILE)
def test_a_hostile_value_is_nulled_with_a_note_and_the_event_kept(
    field: str, value: dict[str, Any], attribute: str, note: str
) -> None:
    event = read(field, value)
    item = one(event, FIELDS[field])
    assert getattr(item, attribute) is None
    assert note in event.notes


def test_a_template_without_an_id_is_an_event_of_no_template() -> None:
    event = read("message_template_status_update", {"event": "APPROVED"})
    assert one(event, "template_events").template_id is None
    assert event.notes["template_without_id"] == 1


def test_a_bad_change_does_not_sink_its_siblings() -> None:
    body = (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","time":' + str(T0) + ','
        '"changes":[{"field":"account_update","value":[]},'
        '{"field":"account_update","value":{"event":{"deep":[1,2]}}},'
        '{"field":"account_update","value":{"event":"ACCOUNT_DELETED"}}]}]}'
    ).encode()  # fmt: skip
    event = parse(body)
    assert [a.event for a in event.of("account_events")] == [None, "ACCOUNT_DELETED"]
    assert [a.origin.position for a in event.of("account_events")] == [0, 1]
    assert event.notes["bad_change"] == 1


def test_an_implausible_entry_time_falls_back_to_the_body_key() -> None:
    event = read("security", {"event": "PIN_CHANGED"}, time=99)
    assert one(event, "account_events").origin.entry_time is None
    assert "implausible_timestamp:entry" in event.notes


def test_a_nul_in_a_management_value_rejects_the_body_as_jsonb_would() -> None:
    with pytest.raises(Rejected):
        read("message_template_status_update", '{"message_template_name":"a\\u0000b"}')


# NUL and lone surrogates reject the whole body (jsonb refuses them): tested elsewhere
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
KEYS = [
    "event", "decision", "message_template_id", "message_template_name",
    "message_template_language", "reason", "message_template_category", "new_quality_score",
    "previous_quality_score", "new_category", "previous_category", "correct_category",
    "category_update_timestamp", "display_phone_number", "old_limit", "current_limit",
    "max_daily_conversations_per_business", "requested_verified_name", "rejection_reason",
    "alert_info", "entity_id", "entity_type", "metadata",
]  # fmt: skip


@given(field=st.sampled_from(sorted(FIELDS)), value=st.dictionaries(st.sampled_from(KEYS), JSON))
def test_any_json_in_any_key_reads_one_event_and_never_raises(
    field: str, value: dict[str, Any]
) -> None:
    event = read(field, value)
    assert len(event.of(FIELDS[field])) == 1
