"""People as WhatsApp names them since 2026: business-scoped user ids (BSUIDs), their
parents, and statuses to customers whose phone number is left out."""

from __future__ import annotations

from tests.support.bodies import T0, Case, cloud, meta

BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"
PHONE = "16505551234"
PABLO = (
    '"contacts":[{"profile":{"name":"Pablo M.","username":"pablomorales"},'
    '"user_id":"' + BSUID + '","parent_user_id":"' + PARENT + '"}],'
)


def status(mid: str, value: str, ts: int, ids: str, contacts: str = "") -> bytes:
    """A Cloud change of one status object (`ids`: its recipient members, JSON text)."""
    obj = '{"id":"' + mid + '","status":"' + value + '","timestamp":"' + str(ts) + '",' + ids + "}"
    return cloud(meta(contacts + '"statuses":[' + obj + "]"))


BOTH = '"recipient_user_id":"' + BSUID + '",'


CASES = [
    Case(
        "status to a username-only customer: no phone number, a BSUID and its parent",
        status(
            "wamid.BSUID1",
            "delivered",
            T0 + 30,
            BOTH + '"recipient_parent_user_id":"' + PARENT + '"',
            PABLO,
        ),
        statuses={
            ("wamid.BSUID1", "delivered", T0 + 30): {
                "recipient_id": None,
                "recipient_user_id": BSUID,
                "recipient_parent_user_id": PARENT,
            }
        },
        views={
            "delivery_status": [
                {
                    "message_id": "wamid.BSUID1",
                    "status": "delivered",
                    "recipient_id": None,
                    "recipient_user_id": BSUID,
                    "recipient_parent_user_id": PARENT,
                }
            ]
        },
    ),
    Case(
        "status with a phone number and a BSUID, the parent under its February name",
        status(
            "wamid.BSUID2",
            "sent",
            T0 + 31,
            '"recipient_id":"'
            + PHONE
            + '",'
            + BOTH
            + '"parent_recipient_user_id":"'
            + PARENT
            + '"',
        ),
        statuses={
            ("wamid.BSUID2", "sent", T0 + 31): {
                "recipient_id": PHONE,
                "recipient_user_id": BSUID,
                "recipient_parent_user_id": PARENT,
            }
        },
    ),
    Case(
        "status with the parent under its first name, and an empty phone number",
        status(
            "wamid.BSUID3",
            "read",
            T0 + 32,
            '"recipient_id":"",' + BOTH + '"parent_user_id":"' + PARENT + '"',
        ),
        statuses={
            ("wamid.BSUID3", "read", T0 + 32): {
                "recipient_id": None,  # "" is no phone number
                "recipient_user_id": BSUID,
                "recipient_parent_user_id": PARENT,
            }
        },
    ),
    Case(
        "failed status sent to a phone number: no BSUID, no contacts",
        status(
            "wamid.BSUID4",
            "failed",
            T0 + 33,
            '"recipient_id":"' + PHONE + '","errors":[{"code":131049,"title":"Gone"}]',
        ),
        statuses={
            ("wamid.BSUID4", "failed", T0 + 33): {
                "recipient_id": PHONE,
                "recipient_user_id": None,
                "recipient_parent_user_id": None,
            }
        },
    ),
]
