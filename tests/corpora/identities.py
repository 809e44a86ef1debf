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

GROUP = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"

CASES += [
    Case(
        "message from a username adopter: BSUID and parent on the message, no phone number",
        cloud(
            meta(
                '"contacts":[{"profile":{"name":"Sheena Nelson","username":"realsheenanelson"},'
                '"user_id":"' + BSUID + '"}],'
                '"messages":[{"from_user_id":"'
                + BSUID
                + '","from_parent_user_id":"'
                + PARENT
                + '",'
                '"id":"wamid.UN1","timestamp":"' + str(T0 + 40) + '","type":"text",'
                '"text":{"body":"Does it come in another color?"}}]'
            )
        ),
        messages={
            "wamid.UN1": {
                "wa_id": BSUID,  # no phone number: the user id names the customer
                "user_id": BSUID,
                "parent_user_id": PARENT,  # from the message: its contacts[] entry has none
                "username": "realsheenanelson",
                "group_id": None,
            }
        },
    ),
    Case(
        "message a participant sent in a group",
        cloud(
            meta(
                '"contacts":[{"profile":{"name":"Tiago Mingo"},"wa_id":"' + PHONE + '",'
                '"user_id":"' + BSUID + '"}],'
                '"messages":[{"from":"' + PHONE + '","from_user_id":"' + BSUID + '",'
                '"group_id":"' + GROUP + '","id":"wamid.GRP1","timestamp":"' + str(T0 + 41) + '",'
                '"type":"text","text":{"body":"What does everyone think about this?"}}]'
            )
        ),
        messages={
            "wamid.GRP1": {"wa_id": PHONE, "user_id": BSUID, "group_id": GROUP},
        },
        views={
            "messages_inbound": [
                {"message_id": "wamid.GRP1", "from_user_id": BSUID, "group_id": GROUP}
            ]
        },
    ),
]
