"""Coexistence history (chunks out of order, a placeholder then its media, a refusal),
the Business app's address book, and a 360dialog partner's wrapped and flat events."""

from __future__ import annotations

from tests.support.bodies import PN, T0, Case, cloud, meta

BUSINESS = "15550783881"  # the display number meta() gives
CUSTOMER = "16505559876"
CUSTOMER_USER = "US.70000000000000000001"
PLACEHOLDER_ID = "wamid.HIST3"
OTHER_PN = "106540352249999"


def chunk(order: int, progress: int, threads: str, phase: int = 0) -> bytes:
    """A history webhook of one chunk of `phase`."""
    return cloud(
        meta('"history":[{"metadata":{"phase":' + str(phase) + ',"chunk_order":' + str(order)
             + ',"progress":' + str(progress) + '},"threads":[' + threads + "]}]"),
        "history",
    )  # fmt: skip


THREAD = (
    '{"id":"' + CUSTOMER + '","context":{"wa_id":"' + CUSTOMER + '","user_id":"'
    + CUSTOMER_USER + '"},"messages":['
    '{"from":"' + BUSINESS + '","to":"' + CUSTOMER + '","id":"wamid.HIST1","timestamp":"'
    + str(T0 - 86400) + '","type":"text","text":{"body":"Here is the info you asked for"},'
    '"history_context":{"status":"READ"}},'
    '{"from":"' + BUSINESS + '","id":"wamid.HIST2","timestamp":"' + str(T0 - 86300) + '",'
    '"type":"text","text":{"body":"No to: from the business number"},'
    '"history_context":{"status":"DELIVERED"}},'
    '{"from":"' + CUSTOMER + '","from_user_id":"' + CUSTOMER_USER + '","id":"' + PLACEHOLDER_ID
    + '","timestamp":"' + str(T0 - 86200) + '","type":"media_placeholder",'
    '"history_context":{"status":"READ"}}]}'
)  # fmt: skip
# The second chunk, a thread whose id Meta left out (2026): its context names the customer.
LATER_THREAD = (
    '{"context":{"user_id":"US.99000000000000000001"},"messages":[{"from_user_id":'
    '"US.99000000000000000001","id":"wamid.HIST4","timestamp":"' + str(T0 - 3600) + '",'
    '"type":"text","text":{"body":"Still open?"},"history_context":{"status":"SENT"}}]}'
)  # fmt: skip
MEDIA = (
    '"messages":[{"from":"' + CUSTOMER + '","id":"' + PLACEHOLDER_ID + '","timestamp":"'
    + str(T0 - 86200) + '","type":"image","image":{"caption":"Black Prince echeveria",'
    '"mime_type":"image/jpeg","sha256":"3f9d94d399fa61c191bc1d4ca71375a035cd9b9f5b1128e1f096'
    '3a415c16b0cc","id":"24230790383178626"}}]'
)  # fmt: skip
DECLINED = (
    '{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550780000",'
    '"phone_number_id":"' + OTHER_PN + '"},"history":[{"errors":[{"code":2593109,"title":'
    '"History sync is turned off by the business from the WhatsApp Business App",'
    '"error_data":{"details":"History sharing is turned off by the business"}}]}]}'
)
# 360dialog's partner URL: Meta's value as `data`, the WABA id beside it, numbers as text.
WRAPPED_HISTORY = (
    b'{"id":"evt-hist-1","event":"history","data":{"id":"102290129340398",'
    b'"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550781111",'
    b'"phone_number_id":"106540352241111"},"history":[{"metadata":{"phase":"1",'
    b'"chunk_order":1,"progress":"20"},"threads":[{"id":"4915100000777","messages":['
    b'{"from":"4915100000777","id":"wamid.HISTW1","timestamp":"1749000000","type":"text",'
    b'"text":{"body":"Hallo"},"history_context":{"status":"READ"}}]}]}]}}'
)
APP_STATE = (
    '"state_sync":[{"type":"contact","contact":{"full_name":"Pablo Morales","first_name":'
    '"Pablo","phone_number":"16505550101","user_id":"US.16505550101000000001"},"action":"add",'
    '"metadata":{"timestamp":"' + str(T0) + '"}},{"type":"contact","contact":{'
    '"phone_number":"16505550102"},"action":"remove","metadata":{"timestamp":"' + str(T0) + '"}}]'
)  # fmt: skip
WRAPPED_APP_STATE = (
    b'{"id":"evt-sync-1","event":"smb_app_state_sync","data":{"id":"102290129340398",'
    b'"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550781111",'
    b'"phone_number_id":"106540352241111"},"state_sync":[{"type":"contact","contact":{'
    b'"full_name":"Lena Vogel","phone_number":"4915100000888"},"action":"add",'
    b'"metadata":{"timestamp":"1749000100"}}]}}'
)
PARTNER_EVENT = (
    b'{"id":"evt-0001","event":"channel_ready","data":{"client_id":"cl-1","phone_number":'
    b'"+4915100000001","status":"ready","created_at":"2025-06-15T15:06:40Z"}}'
)
FLAT_PARTNER_EVENT = (
    b'{"event":"account_violation","phone_number":"+4915100000002",'
    b'"violation_type":"SCAM","timestamp":1750000300}'
)

CASES = [
    Case(
        "history: the second chunk of phase 0 first, complete",
        chunk(2, 100, LATER_THREAD),
        views={
            "history_messages": [
                {
                    "message_id": "wamid.HIST4",
                    "direction": "inbound",
                    "status": "sent",
                    "person_id": "US.99000000000000000001",
                }
            ]
        },
    ),
    Case(
        "history: the first chunk of phase 0, a placeholder among its messages",
        chunk(1, 55, THREAD),
        views={
            "history_messages": [
                {
                    "message_id": "wamid.HIST1",
                    "direction": "outbound",
                    "status": "read",
                    "text": "Here is the info you asked for",
                    "person_id": CUSTOMER_USER,
                    "sent_at": T0 - 86400,
                },
                {"message_id": "wamid.HIST2", "direction": "outbound", "status": "delivered"},
            ],
            "history_syncs": [
                {
                    "phone_number_id": PN,
                    "phase": 0,
                    "chunks": 2,
                    "progress": 100,
                    "completed": True,
                    "error_code": None,
                },
            ],
            "people": [{"person_id": CUSTOMER_USER, "wa_ids": [CUSTOMER]}],
        },
    ),
    Case(
        "history: the media of the placeholder follows",
        cloud(meta(MEDIA), "history"),
        views={
            "history_messages": [
                {
                    "message_id": PLACEHOLDER_ID,
                    "type": "image",
                    "media_pending": False,
                    "text": "Black Prince echeveria",
                    "status": "read",
                    "sent_at": T0 - 86200,
                    "person_id": CUSTOMER_USER,
                },
            ],
        },
    ),
    Case(
        "history: the business declined to share it",
        cloud(DECLINED, "history"),
        views={
            "history_syncs": [
                {
                    "phone_number_id": OTHER_PN,
                    "phase": None,
                    "chunks": 0,
                    "error_code": 2593109,
                    "completed": False,
                }
            ]
        },
    ),
    Case(
        "history: 360dialog's wrapped chunk, its numbers as text",
        WRAPPED_HISTORY,
        views={
            "history_syncs": [
                {
                    "phone_number_id": "106540352241111",
                    "phase": 1,
                    "chunks": 1,
                    "progress": 20,
                    "waba_id": "102290129340398",
                }
            ],
            "history_messages": [
                {
                    "message_id": "wamid.HISTW1",
                    "direction": "inbound",
                    "person_id": "4915100000777",
                    "media_pending": False,
                }
            ],
        },
    ),
    Case(
        "app state sync: the Business app's contacts, added and removed",
        cloud(meta(APP_STATE), "smb_app_state_sync"),
        views={
            "contacts": [
                {"wa_id": "16505550101", "profile_name": "Pablo Morales"},
                {"wa_id": "16505550102"},
            ],
            "people": [{"person_id": "US.16505550101000000001", "wa_ids": ["16505550101"]}],
        },
    ),
    Case(
        "app state sync: 360dialog's wrapped contacts",
        WRAPPED_APP_STATE,
        views={"contacts": [{"wa_id": "4915100000888", "profile_name": "Lena Vogel"}]},
    ),
    Case(
        "partner event: wrapped, with an ISO time",
        PARTNER_EVENT,
        views={
            "partner_events": [
                {
                    "event_id": "evt-0001",
                    "event": "channel_ready",
                    "client_id": "cl-1",
                    "phone_number": "+4915100000001",
                    "status": "ready",
                    "event_at": 1750000000,
                }
            ]
        },
    ),
    Case(
        "partner event: flat, kept whole",
        FLAT_PARTNER_EVENT,
        views={
            "partner_events": [
                {
                    "event_id": None,
                    "event": "account_violation",
                    "phone_number": "+4915100000002",
                    "event_at": T0 + 300,
                }
            ]
        },
    ),
]
