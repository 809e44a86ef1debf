"""Marketing preferences, message echoes (Coexistence) and Business Calling bodies."""

from __future__ import annotations

from tests.support.bodies import PN, T0, WABA, Case, cloud, meta

OPT_OUT_TITLE = (
    "Unable to deliver the message. This recipient has chosen to stop receiving marketing"
    " messages on WhatsApp from your business"
)


def preference(wa_id: str, value: str, at: int, detail: str, category: str = "") -> str:
    """A `user_preferences` change value for one user (JSON text)."""
    return meta(
        '"contacts":[{"wa_id":"' + wa_id + '"}],"user_preferences":[{"wa_id":"' + wa_id
        + '","detail":"' + detail + '","category":"' + (category or "marketing_messages")
        + '","value":"' + value + '","timestamp":' + str(at) + "}]"
    )  # fmt: skip


CALL_CONTACT = '"contacts":[{"profile":{"name":"Caller"},"wa_id":"16505550010"}]'
CALL_USER = "wacid.HBgLMTY1MDU1NTAwMTAVAgARGBQz"
CALL_BIZ = "wacid.HBgLMTY1MDU1NTAwMTEVAgARGBQy"
CALL_FAILED = "wacid.HBgLMTY1MDU1NTAwMTIVAgARGBQx"

CASES = [
    Case(
        "cloud user_preferences marketing stop",
        cloud(
            preference(
                "16505550001", "stop", T0 + 100, "User requested to stop marketing messages"
            ),
            "user_preferences",
        ),
        views={
            "marketing_preferences": [
                {
                    "wa_id": "16505550001",
                    "value": "stop",
                    "changed_at": T0 + 100,
                    "source": "user_preferences",
                    "waba_id": WABA,
                    "phone_number_id": PN,
                    "detail": "User requested to stop marketing messages",
                }
            ],
        },
    ),
    Case(
        "cloud user_preferences marketing resume",
        cloud(
            preference(
                "16505550002", "resume", T0 + 200, "User requested to resume marketing messages"
            ),
            "user_preferences",
        ),
        views={
            "marketing_preferences": [
                {
                    "wa_id": "16505550002",
                    "value": "resume",
                    "changed_at": T0 + 200,
                    "source": "user_preferences",
                }
            ],
        },
    ),
    Case(
        "cloud user_preferences of another category stays in the history",
        cloud(
            preference("16505550001", "resume", T0 + 150, "later", category="service_messages"),
            "user_preferences",
        ),
        views={
            "marketing_preference_events": [
                {
                    "wa_id": "16505550001",
                    "category": "service_messages",
                    "value": "resume",
                    "changed_at": T0 + 150,
                }
            ],
            # The marketing stop of 100 s stands: another category does not decide it.
            "marketing_preferences": [{"wa_id": "16505550001", "value": "stop"}],
        },
    ),
    Case(
        "cloud status failed 131050 is a marketing stop",
        cloud(
            meta(
                '"statuses":[{"id":"wamid.OPT1","status":"failed","timestamp":"'
                + str(T0 + 300)
                + '","recipient_id":"16505550003","errors":[{"code":131050,"title":"'
                + OPT_OUT_TITLE
                + '","message":"'
                + OPT_OUT_TITLE
                + '","error_data":{"details":"The user opted out"},'
                '"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}]'
            )
        ),
        statuses={("wamid.OPT1", "failed", T0 + 300): {"recipient_id": "16505550003"}},
        views={
            "marketing_preferences": [
                {
                    "wa_id": "16505550003",
                    "value": "stop",
                    "changed_at": T0 + 300,
                    "source": "error_131050",
                    "detail": OPT_OUT_TITLE,
                    "message_id": "wamid.OPT1",
                    "waba_id": WABA,
                    "phone_number_id": PN,
                }
            ],
        },
    ),
    Case(
        "on-premise status failed 131050 is a marketing stop",
        (
            b'{"statuses":[{"errors":[{"code":131050,"title":"User opted out of marketing"}],'
            b'"id":"gBGGFOPT","message":{"recipient_id":"16505550004"},"status":"failed",'
            b'"timestamp":"1750000500"}]}'
        ),
        statuses={("gBGGFOPT", "failed", T0 + 500): {"recipient_id": "16505550004"}},
        views={
            "marketing_preferences": [
                {
                    "wa_id": "16505550004",
                    "value": "stop",
                    "changed_at": T0 + 500,
                    "source": "error_131050",
                    "detail": "User opted out of marketing",
                    "waba_id": None,
                    "phone_number_id": None,
                }
            ],
        },
    ),
    Case(
        "cloud smb_message_echoes text and image with caption",
        cloud(
            meta(
                '"message_echoes":[{"from":"15550783881","to":"16505550005","id":"wamid.ECHO1",'
                '"timestamp":"' + str(T0 + 600) + '","type":"text","text":{"body":"See you at 5"}},'
                '{"from":"15550783881","to":"16505550005","id":"wamid.ECHO2",'
                '"timestamp":"' + str(T0 + 601) + '","type":"image","image":{"caption":"the menu",'
                '"mime_type":"image/jpeg","sha256":"aGVsbG8=","id":"1003383421387257"}}]'
            ),
            "smb_message_echoes",
        ),
        views={
            "message_echoes": [
                {
                    "message_id": "wamid.ECHO1",
                    "from": "15550783881",
                    "to": "16505550005",
                    "type": "text",
                    "text": "See you at 5",
                    "sent_at": T0 + 600,
                    "waba_id": WABA,
                    "phone_number_id": PN,
                },
                {
                    "message_id": "wamid.ECHO2",
                    "type": "image",
                    "text": "the menu",
                    "sent_at": T0 + 601,
                },
            ],
        },
    ),
    Case(
        "cloud calls connect (user initiated)",
        cloud(
            meta(
                CALL_CONTACT + ',"calls":[{"id":"' + CALL_USER + '","from":"16505550010",'
                '"to":"15550783881","event":"connect","timestamp":"' + str(T0 + 700) + '",'
                '"direction":"USER_INITIATED","session":{"sdp_type":"offer","sdp":"v=0"}}]'
            ),
            "calls",
        ),
        views={
            "call_events": [
                {
                    "call_id": CALL_USER,
                    "event": "connect",
                    "at": T0 + 700,
                    "status": None,
                    "from": "16505550010",
                    "direction": "USER_INITIATED",
                    "waba_id": WABA,
                    "phone_number_id": PN,
                    "errors": None,
                }
            ],
        },
    ),
    Case(
        "cloud calls terminate completed with duration",
        cloud(
            meta(
                CALL_CONTACT + ',"calls":[{"id":"' + CALL_USER + '","from":"16505550010",'
                '"to":"15550783881","event":"terminate","direction":"USER_INITIATED",'
                '"biz_opaque_callback_data":"campaign-7","timestamp":"' + str(T0 + 800) + '",'
                '"status":"COMPLETED","start_time":"'
                + str(T0 + 710)
                + '","end_time":"'
                + str(T0 + 800)
                + '","duration":90}]'
            ),
            "calls",
        ),
        views={
            "calls": [
                {
                    "call_id": CALL_USER,
                    "status": "COMPLETED",
                    "connected_at": T0 + 700,
                    "started_at": T0 + 710,
                    "ended_at": T0 + 800,
                    "duration_seconds": 90,
                    "from": "16505550010",
                    "to": "15550783881",
                    "direction": "USER_INITIATED",
                    "biz_opaque_callback_data": "campaign-7",
                    "phone_number_id": PN,
                    "waba_id": WABA,
                }
            ],
        },
    ),
    Case(
        "cloud calls statuses ringing and accepted (business initiated)",
        cloud(
            meta(
                '"statuses":[{"id":"' + CALL_BIZ + '","timestamp":"' + str(T0 + 900) + '",'
                '"type":"call","status":"RINGING","recipient_id":"16505550011",'
                '"biz_opaque_callback_data":"followup"},{"id":"'
                + CALL_BIZ
                + '","timestamp":"'
                + str(T0 + 905)
                + '","type":"call","status":"ACCEPTED",'
                '"recipient_id":"16505550011","biz_opaque_callback_data":"followup"}]'
            ),
            "calls",
        ),
        views={
            "call_events": [
                {
                    "call_id": CALL_BIZ,
                    "event": "RINGING",
                    "status": "RINGING",
                    "at": T0 + 900,
                    "to": "16505550011",
                },
                {"call_id": CALL_BIZ, "event": "ACCEPTED", "at": T0 + 905},
            ],
            "calls": [
                {
                    "call_id": CALL_BIZ,
                    "status": "ACCEPTED",
                    "to": "16505550011",
                    "biz_opaque_callback_data": "followup",
                    "connected_at": None,
                }
            ],
        },
    ),
    Case(
        "cloud calls terminate failed with value-level errors",
        cloud(
            meta(
                '"calls":[{"id":"' + CALL_FAILED + '","to":"16505550012","from":"15550783881",'
                '"event":"terminate","direction":"BUSINESS_INITIATED","timestamp":"'
                + str(T0 + 1000)
                + '","status":"FAILED"}],"errors":[{"code":138006,'
                '"message":"Lack of call permission","href":"https://developers.facebook.com/",'
                '"error_data":{"details":"No approved call permission from the recipient"}}]'
            ),
            "calls",
        ),
        views={
            "calls": [{"call_id": CALL_FAILED, "status": "FAILED", "duration_seconds": None}],
            "call_events": [
                {
                    "call_id": CALL_FAILED,
                    "event": "terminate",
                    "status": "FAILED",
                    "errors": [
                        {
                            "code": 138006,
                            "message": "Lack of call permission",
                            "href": "https://developers.facebook.com/",
                            "error_data": {
                                "details": "No approved call permission from the recipient"
                            },
                        }
                    ],
                }
            ],
            "call_errors": [
                {
                    "code": 138006,
                    "title": "Lack of call permission",
                    "waba_id": WABA,
                    "phone_number_id": PN,
                }
            ],
        },
    ),
]
