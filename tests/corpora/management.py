"""Management notifications about templates (numbers and the account: accounts.py).

Template 1689556908129832 goes through a history spread over several cases (approved,
quality dropped, recategorised, paused, a recategorisation announced, components
edited), whose end state the `templates` row names.
"""

from __future__ import annotations

from tests.support.bodies import T0, WABA, Case


def management(field: str, value: str, time: int | None = T0) -> bytes:
    """A Cloud body with one management change, as Meta sends it (entry.time unless None)."""
    entry_time = "" if time is None else f'"time":{time},'
    return (
        '{"entry":[{"id":"' + WABA + '",' + entry_time + '"changes":[{"value":' + value
        + ',"field":"' + field + '"}]}],"object":"whatsapp_business_account"}'
    ).encode()  # fmt: skip


TEMPLATE = "1689556908129832"
NAMED = (
    '"message_template_id":1689556908129832,"message_template_name":"order_confirmation",'
    '"message_template_language":"en_US"'
)
APPROVED = management(
    "message_template_status_update",
    '{"event":"APPROVED",' + NAMED + ',"reason":"NONE","message_template_category":"UTILITY"}',
    T0 + 10,
)

TEMPLATE_CASES = [
    Case(
        "template approved",
        APPROVED,
        views={
            "template_events": [
                {
                    "waba_id": WABA,
                    "template_id": TEMPLATE,
                    "template_name": "order_confirmation",
                    "language": "en_US",
                    "kind": "status",
                    "event": "APPROVED",
                    "reason": "NONE",
                    "category": "UTILITY",
                    "previous": None,
                    "event_at": T0 + 10,
                    "field": "message_template_status_update",
                    "phone_number_id": None,
                }
            ]
        },
    ),
    Case(
        "template approved, delivered again",
        APPROVED,
        views={"template_events": [{"template_id": TEMPLATE, "event": "APPROVED"}]},
    ),
    Case(
        "template quality green to yellow",
        management(
            "message_template_quality_update",
            '{"previous_quality_score":"GREEN","new_quality_score":"YELLOW",' + NAMED + "}",
            T0 + 15,
        ),
        views={
            "template_events": [
                {
                    "template_id": TEMPLATE,
                    "kind": "quality",
                    "event": "YELLOW",
                    "previous": "GREEN",
                    "event_at": T0 + 15,
                }
            ]
        },
    ),
    Case(
        "template paused with other_info",
        management(
            "message_template_status_update",
            '{"event":"PAUSED",' + NAMED + ',"reason":null,'
            '"other_info":{"title":"FIRST_PAUSE","description":"Your WhatsApp message template'
            ' has been paused for 3 hours until Jun 15, 2025 at 5:00 PM UTC."}}',
            T0 + 20,
        ),
        views={
            "template_events": [
                {
                    "template_id": TEMPLATE,
                    "kind": "status",
                    "event": "PAUSED",
                    "reason": None,
                    "event_at": T0 + 20,
                }
            ]
        },
    ),
    Case(
        "template category changed",
        management(
            "template_category_update",
            "{" + NAMED + ',"previous_category":"UTILITY","new_category":"MARKETING"}',
            T0 + 30,
        ),
        views={
            "template_events": [
                {
                    "template_id": TEMPLATE,
                    "kind": "category",
                    "event": "MARKETING",
                    "previous": "UTILITY",
                    "event_at": T0 + 30,
                }
            ]
        },
    ),
    Case(
        "template recategorisation announced",
        management(
            "template_category_update",
            "{" + NAMED + ',"correct_category":"UTILITY","new_category":"MARKETING",'
            f'"category_update_timestamp":{T0 + 40 + 86400}}}',
            T0 + 40,
        ),
        views={
            "template_events": [
                {
                    "template_id": TEMPLATE,
                    "kind": "category_announced",
                    "event": "MARKETING",
                    "correct_category": "UTILITY",
                    "category_update_at": T0 + 40 + 86400,
                    "previous": None,
                    "event_at": T0 + 40,
                }
            ],
            # the announced category is not applied; the latest status is the pause
            "templates": [
                {
                    "channel": "acme",
                    "waba_id": WABA,
                    "template_id": TEMPLATE,
                    "template_name": "order_confirmation",
                    "language": "en_US",
                    "status": "PAUSED",
                    "status_reason": None,
                    "status_at": T0 + 20,
                    "quality": "YELLOW",
                    "quality_at": T0 + 15,
                    "category": "MARKETING",
                    "category_at": T0 + 30,
                    # announced after the last change: still to come
                    "pending_category": "UTILITY",
                    "pending_category_at": T0 + 40 + 86400,
                }
            ],
        },
    ),
    Case(
        "an announced recategorisation that applied (the completed update clears it)",
        management(
            "template_category_update",
            '{"message_template_id":1689556908129899,"message_template_name":"welcome",'
            '"message_template_language":"en","correct_category":"MARKETING",'
            f'"new_category":"UTILITY","category_update_timestamp":{T0 + 90}}}',
            T0 + 70,
        ),
    ),
    Case(
        "the completed recategorisation",
        management(
            "template_category_update",
            '{"message_template_id":1689556908129899,"message_template_name":"welcome",'
            '"message_template_language":"en","previous_category":"UTILITY",'
            '"new_category":"MARKETING"}',
            T0 + 90,
        ),
        views={
            "templates": [
                {
                    "template_id": "1689556908129899",
                    "category": "MARKETING",
                    "pending_category": None,
                    "pending_category_at": None,
                }
            ]
        },
    ),
    Case(
        "content of another category detected in a template (kind category_detection)",
        management(
            "template_correct_category_detection",
            '{"message_template_id":1689556908129898,"message_template_name":"promo",'
            '"message_template_language":"en","category":"UTILITY",'
            '"correct_category":"MARKETING"}',
            T0 + 95,
        ),
        views={
            "template_events": [
                {
                    "template_id": "1689556908129898",
                    "kind": "category_detection",
                    "event": "UTILITY",
                    "correct_category": "MARKETING",
                }
            ]
        },
    ),
    Case(
        "template components edited",
        management(
            "message_template_components_update",
            "{" + NAMED + ',"message_template_element":"Your order {{1}} is confirmed.",'
            '"message_template_title":"Order","message_template_footer":"Thanks",'
            '"message_template_buttons":[{"message_template_button_type":"URL",'
            '"message_template_button_text":"Track","message_template_button_url":'
            '"https://example.com/t/{{1}}"}]}',
            T0 + 50,
        ),
        views={
            "template_events": [
                {"template_id": TEMPLATE, "kind": "components", "event": None, "event_at": T0 + 50}
            ]
        },
    ),
    Case(
        "template rejected with a reason",
        management(
            "message_template_status_update",
            '{"event":"REJECTED","message_template_id":1689556908129835,'
            '"message_template_name":"abandoned_cart","message_template_language":"en",'
            '"reason":"INVALID_FORMAT","message_template_category":"MARKETING",'
            '"rejection_info":{"reason":"Variable parameters are next to each other.",'
            '"recommendation":"Add text between the parameters."}}',
            T0 + 60,
        ),
        views={
            "template_events": [
                {
                    "template_id": "1689556908129835",
                    "kind": "status",
                    "event": "REJECTED",
                    "reason": "INVALID_FORMAT",
                    "category": "MARKETING",
                    "event_at": T0 + 60,
                }
            ],
            "templates": [
                {
                    "template_id": "1689556908129835",
                    "status": "REJECTED",
                    "status_reason": "INVALID_FORMAT",
                    "category": "MARKETING",
                    "category_at": T0 + 60,
                    "quality": None,
                }
            ],
        },
    ),
    Case(
        "template disabled with disable_info",
        management(
            "message_template_status_update",
            '{"event":"DISABLED","message_template_id":1689556908129836,'
            '"message_template_name":"spring_sale","message_template_language":"de",'
            '"reason":"NONE","message_template_category":"MARKETING",'
            '"disable_info":{"disable_date":"1751234563"}}',
            T0 + 70,
        ),
        views={
            "template_events": [
                {
                    "template_id": "1689556908129836",
                    "event": "DISABLED",
                    "language": "de",
                    "details": {
                        "event": "DISABLED",
                        "message_template_id": 1689556908129836,
                        "message_template_name": "spring_sale",
                        "message_template_language": "de",
                        "reason": "NONE",
                        "message_template_category": "MARKETING",
                        "disable_info": {"disable_date": "1751234563"},
                    },
                }
            ]
        },
    ),
]

CASES: list[Case] = TEMPLATE_CASES
