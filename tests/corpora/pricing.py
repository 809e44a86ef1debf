"""Per-message pricing on statuses, the sender's callback tag, and classified failures.

Every status here is from the afternoon (UTC) of T0's day, like the rest of the corpus,
on message ids of its own, so each case's delivery is made of its own statuses.
"""

from __future__ import annotations

from datetime import date

from tests.support.bodies import PN, T0, Case, cloud, meta

DAY = date(2025, 6, 15)  # T0's UTC day


def statuses(*objects: str) -> bytes:
    """A Cloud `messages` change of status objects (JSON text)."""
    return cloud(meta('"statuses":[' + ",".join(objects) + "]"))


def status(mid: str, value: str, ts: int, rest: str = "") -> str:
    """A Cloud status object to 16315551181 (rest: more JSON members)."""
    return (
        '{"id":"' + mid + '","status":"' + value + '","timestamp":"' + str(ts) + '",'
        '"recipient_id":"16315551181"' + ("," + rest if rest else "") + "}"
    )


def pmp(category: str, kind: str, billable: str = "true") -> str:
    """A per-message `pricing` object as Meta sends it since July 2025."""
    return (
        '"pricing":{"billable":'
        + billable
        + ',"pricing_model":"PMP","category":"'
        + category
        + '","type":"'
        + kind
        + '"}'
    )


def delivery(mid: str, **columns: object) -> dict[str, object]:
    """A delivery_status row of the case's message."""
    return {"message_id": mid, "phone_number_id": PN, **columns}


def priced(category: str, kind: str | None) -> dict[str, object]:
    """A pricing_daily row of T0's day (other corpora may add messages to it: no count here)."""
    return {"day": DAY, "pricing_category": category, "pricing_type": kind}


S = T0 + 3000  # after every other status of the corpus

CASES = [
    Case(
        "cloud PMP status sent, regular marketing, with the sender's callback tag",
        statuses(
            status(
                "wamid.PMP1",
                "sent",
                S,
                '"biz_opaque_callback_data":"campaign=summer-25;v=2",'
                + pmp("marketing", "regular"),
            )
        ),
        statuses={
            ("wamid.PMP1", "sent", S): {
                "pricing_model": "PMP",
                "pricing_type": "regular",
                "pricing_category": "marketing",
                "billable": True,
                "conversation_id": None,
                "biz_opaque_callback_data": "campaign=summer-25;v=2",
            }
        },
        views={
            "status_events": [
                {
                    "message_id": "wamid.PMP1",
                    "pricing_type": "regular",
                    "biz_opaque_callback_data": "campaign=summer-25;v=2",
                }
            ],
            "pricing_daily": [priced("marketing", "regular")],
        },
    ),
    Case(
        "cloud PMP status delivered without pricing keeps the sent status's price",
        statuses(
            status(
                "wamid.PMP1",
                "delivered",
                S + 5,
                '"biz_opaque_callback_data":"campaign=summer-25;v=2"',
            )
        ),
        statuses={("wamid.PMP1", "delivered", S + 5): {"pricing_type": None}},
        views={
            "delivery_status": [
                delivery(
                    "wamid.PMP1",
                    status="delivered",
                    pricing_model="PMP",
                    pricing_type="regular",
                    pricing_category="marketing",
                    biz_opaque_callback_data="campaign=summer-25;v=2",
                )
            ]
        },
    ),
    Case(
        "cloud PMP status sent, a free customer service reply",
        statuses(
            status("wamid.PMP2", "sent", S + 10, pmp("service", "free_customer_service", "false"))
        ),
        statuses={
            ("wamid.PMP2", "sent", S + 10): {
                "pricing_type": "free_customer_service",
                "pricing_category": "service",
                "billable": False,
            }
        },
        views={
            "delivery_status": [
                delivery("wamid.PMP2", pricing_model="PMP", pricing_type="free_customer_service")
            ],
            "pricing_daily": [priced("service", "free_customer_service")],
        },
    ),
    Case(
        "cloud PMP status delivered in a free entry point window, with its conversation",
        statuses(
            status(
                "wamid.PMP3",
                "delivered",
                S + 20,
                '"conversation":{"id":"0f2b6c2e7a1c4f5e9d3b8a6c5e4d3c2b","origin":'
                '{"type":"referral_conversion"}},'
                + pmp("referral_conversion", "free_entry_point", "false"),
            )
        ),
        statuses={
            ("wamid.PMP3", "delivered", S + 20): {
                "pricing_type": "free_entry_point",
                "conversation_id": "0f2b6c2e7a1c4f5e9d3b8a6c5e4d3c2b",
                "conversation_category": "referral_conversion",
            }
        },
        views={
            "delivery_status": [
                delivery(
                    "wamid.PMP3",
                    status="delivered",
                    pricing_type="free_entry_point",
                    conversation_id="0f2b6c2e7a1c4f5e9d3b8a6c5e4d3c2b",
                )
            ],
            "pricing_daily": [priced("referral_conversion", "free_entry_point")],
        },
    ),
    Case(
        "cloud PMP status read with the price (Meta skipped delivered), marketing lite",
        statuses(status("wamid.PMP4", "read", S + 30, pmp("marketing_lite", "regular"))),
        statuses={
            ("wamid.PMP4", "read", S + 30): {
                "pricing_category": "marketing_lite",
                "pricing_type": "regular",
            }
        },
        views={
            "delivery_status": [delivery("wamid.PMP4", status="read", pricing_type="regular")],
            "pricing_daily": [priced("marketing_lite", "regular")],
        },
    ),
    Case(
        "cloud PMP status sent, authentication to an international number",
        statuses(
            status(
                "wamid.PMP5",
                "sent",
                S + 40,
                '"conversation":{"id":"a3c1e5f7b9d2468ace13579bdf02468a","expiration_timestamp":'
                f'"{S + 86400}","origin":{{"type":"authentication_international"}}}},'
                + pmp("authentication_international", "regular"),
            )
        ),
        statuses={
            ("wamid.PMP5", "sent", S + 40): {
                "conversation_category": "authentication_international",
                "pricing_category": "authentication_international",
                "pricing_type": "regular",
            }
        },
        views={"pricing_daily": [priced("authentication_international", "regular")]},
    ),
    Case(
        "cloud PMP status with a pricing type Meta has not announced yet is kept as text",
        statuses(status("wamid.PMP6", "sent", S + 50, pmp("utility", "free_utility_window"))),
        statuses={("wamid.PMP6", "sent", S + 50): {"pricing_type": "free_utility_window"}},
        views={"pricing_daily": [priced("utility", "free_utility_window")]},
    ),
    Case(
        "cloud pre-PMP status with conversation and billable (CBP) is not per-message priced",
        statuses(
            status(
                "wamid.CBP1",
                "sent",
                S + 60,
                '"conversation":{"id":"7270432eae37498234f4444b35ffc5","expiration_timestamp":'
                f'"{S + 86400}","origin":{{"type":"utility"}}}},'
                '"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}',
            )
        ),
        statuses={
            ("wamid.CBP1", "sent", S + 60): {
                "pricing_model": "CBP",
                "pricing_type": None,
                "billable": True,
                "conversation_id": "7270432eae37498234f4444b35ffc5",
            }
        },
        views={
            "delivery_status": [
                delivery(
                    "wamid.CBP1",
                    pricing_model="CBP",
                    pricing_type=None,
                    billable=True,
                    pricing_category="utility",
                )
            ]
        },
    ),
]
