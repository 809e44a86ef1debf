"""Ads and marketing signals: a Click-to-WhatsApp conversation with its lead and
purchases, and clicks on a marketing message's links (a messages change holding
nothing else)."""

from __future__ import annotations

from tests.support.bodies import PN, T0, Case, cloud, cloud_message, meta, msg

CLICK = "AfcADclid0000000000000000001"
REFERRAL = (
    '"referral":{"source_url":"https://fb.me/ad","source_id":"120200000001","source_type":"ad",'
    '"headline":"Spring sale","body":"20% off","ctwa_clid":"' + CLICK + '"}'
)


def conversion(mid: str, name: str, at: int, data: str = "") -> str:
    return (
        '{"id":"' + mid + '","event_name":"' + name + '","timestamp":' + str(at) + ","
        '"ctwa_clid":"' + CLICK + '"' + (',"custom_data":' + data if data else "") + "}"
    )


def automatic_events(*items: str) -> bytes:
    return cloud(meta('"automatic_events":[' + ",".join(items) + "]"), "automatic_events")


def clicks(*items: str) -> bytes:
    return cloud(meta('"user_actions":[' + ",".join(items) + "]"))


def click(click_id: str | None, at: int, tracking: str = "tok-1") -> str:
    ids = ('"click_id":"' + click_id + '",') if click_id else ""
    return (
        '{"action_type":"marketing_messages_link_click","timestamp":"' + str(at) + '",'
        '"marketing_messages_link_click_data":{"click_component":"cta","product_id":"sku-9",'
        + ids
        + '"tracking_token":"'
        + tracking
        + '"}}'
    )


CASES = [
    Case(
        "ads: a first message from a Click-to-WhatsApp ad",
        cloud_message(
            msg(
                "wamid.AD1",
                "text",
                '"text":{"body":"Is it in stock?"}',
                REFERRAL,
                sender="15550990001",
            ),
            contacts='"contacts":[{"profile":{"name":"Ada"},"wa_id":"15550990001"}]',
        ),
        messages={"wamid.AD1": {"wa_id": "15550990001"}},
        contacts={"15550990001": "Ada"},
    ),
    Case(
        "ads: a lead and two purchases Meta detected in that conversation",
        automatic_events(
            conversion("wamid.AD2", "LeadSubmitted", T0 + 60),
            conversion("wamid.AD3", "Purchase", T0 + 120, '{"currency":"USD","value":25000}'),
            conversion("wamid.AD4", "Purchase", T0 + 180, '{"currency":"USD","value":"10.5"}'),
        ),
        views={
            "ad_conversions": [
                {
                    "message_id": "wamid.AD3",
                    "event_name": "Purchase",
                    "currency": "USD",
                    "event_at": T0 + 120,
                    "phone_number_id": PN,
                },
            ],
            "ad_attribution": [
                {
                    "ctwa_clid": CLICK,
                    "person_id": "15550990001",
                    "first_message_at": T0,
                    "source_id": "120200000001",
                    "headline": "Spring sale",
                    "leads": 1,
                    "lead_at": T0 + 60,
                    "purchases": 2,
                    "currency": "USD",
                },
            ],
        },
    ),
    Case(
        "ads: link clicks, a messages change holding nothing else",
        clicks(click("click-1", T0 + 200), click(None, T0 + 210, "tok-2")),
        views={
            "link_clicks": [
                {
                    "click_id": "click-1",
                    "click_component": "cta",
                    "product_id": "sku-9",
                    "tracking_token": "tok-1",
                    "clicked_at": T0 + 200,
                },
                {"click_id": None, "tracking_token": "tok-2", "clicked_at": T0 + 210},
            ]
        },
    ),
]
