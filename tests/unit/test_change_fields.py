"""Every change field WhatsApp sends is read by a projection; others are counted."""

from __future__ import annotations

import pytest

from processors.pipeline.parse import PARTNER_EVENT, parse
from processors.pipeline.projections import read_fields

# The fields of the Cloud API a projection reads.
PROJECTED = (
    "messages", "message_template_status_update", "message_template_quality_update",
    "template_category_update", "message_template_components_update",
    "phone_number_quality_update", "phone_number_name_update", "account_update",
    "account_alerts", "business_capability_update", "security", "user_preferences",
    "smb_message_echoes", "calls", "business_username_updates", "business_username_update",
    "phone_number_username_update", "group_lifecycle_update", "group_participants_update",
    "group_settings_update", "group_status_update", "user_id_update", "automatic_events",
    "account_review_update", "account_settings_update", "partner_solutions",
    "payment_configuration_update", "template_correct_category_detection", "flows",
    "history", "smb_app_state_sync",
)  # fmt: skip


def body(field: str) -> bytes:
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","time":1750000000,'
        '"changes":[{"value":{},"field":"' + field + '"}]}]}'
    ).encode()


def test_the_projected_fields_are_the_fields_projections_read() -> None:
    # The partner events of a 360dialog partner's URL come under a field of their own.
    assert read_fields() == frozenset(PROJECTED) | {PARTNER_EVENT}


@pytest.mark.parametrize("field", PROJECTED)
def test_a_projected_field_is_not_noted_as_ignored(field: str) -> None:
    notes = parse(body(field)).notes
    assert not [key for key in notes if key.startswith("ignored_change")]


def test_a_field_nobody_knows_is_counted_as_ignored() -> None:
    assert parse(body("brand_new_field")).notes == {"ignored_change:brand_new_field": 1}
