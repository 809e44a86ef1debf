"""Groups API notifications: lifecycle, settings (one failed), participants, suspensions
that arrive out of order."""

from __future__ import annotations

from tests.support.bodies import T0, Case, cloud, meta

GROUP = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
LINK = "https://chat.whatsapp.com/LINK_ID"


def groups(field: str, *items: str) -> bytes:
    """A Cloud change of a Groups API field with these `groups[]` items (JSON text)."""
    return cloud(meta('"groups":[' + ",".join(items) + "]"), field)


def item(kind: str, at: int, rest: str = "") -> str:
    """A `groups[]` item of GROUP (rest: more JSON members)."""
    head = '{"timestamp":"' + str(at) + '","group_id":"' + GROUP + '","type":"' + kind + '"'
    return head + ("," + rest if rest else "") + "}"


CREATED = groups(
    "group_lifecycle_update",
    item(
        "group_create",
        T0 + 500,
        '"request_id":"R1","subject":"Launch team",'
        '"invite_link":"' + LINK + '","join_approval_mode":"auto_approve"',
    ),
)
SETTINGS = groups(
    "group_settings_update",
    item(
        "group_settings_update",
        T0 + 510,
        '"request_id":"R2",'
        '"group_subject":{"text":"Launch crew","update_successful":true},'
        '"group_description":{"text":"never applied","update_successful":false,'
        '"errors":[{"code":131000,"title":"Something went wrong"}]}',
    ),
)
# Sent in this order, arriving in any: the clear (later) must win over the suspend.
SUSPENDED = groups("group_status_update", item("group_suspend", T0 + 520))
CLEARED = groups("group_status_update", item("group_suspend_cleared", T0 + 530))
JOINED = groups(
    "group_participants_update",
    item(
        "group_participants_add",
        T0 + 540,
        '"reason":"invite_link","added_participants":'
        '[{"wa_id":"16505551234","user_id":"US.13491208655302741918"}]',
    ),
)
FAILED_CREATE = groups(
    "group_lifecycle_update",
    '{"timestamp":"' + str(T0 + 550) + '","type":"group_create","subject":"Never made",'
    '"request_id":"R3","group_id":"G-NEVER",'
    '"errors":[{"code":131211,"title":"Group create limit reached"}]}',
)

GROUP_STATE = {
    "group_id": GROUP,
    "subject": "Launch crew",  # the later, successful setting
    "description": None,  # its update failed: nothing changed
    "invite_link": LINK,
    "join_approval_mode": "auto_approve",
    "state": "active",  # suspended at +520, cleared at +530
    "created_at": T0 + 500,
    "suspended_at": None,
    "updated_at": T0 + 540,
}

CASES = [
    Case(
        "group created",
        CREATED,
        views={
            "group_events": [
                {
                    "group_id": GROUP,
                    "field": "group_lifecycle_update",
                    "type": "group_create",
                    "request_id": "R1",
                    "succeeded": True,
                    "event_at": T0 + 500,
                }
            ],
        },
    ),
    Case(
        "group settings: the subject changed, the description failed",
        SETTINGS,
        views={"group_events": [{"type": "group_settings_update", "succeeded": True}]},
    ),
    Case("group suspended", SUSPENDED, views={"group_events": [{"type": "group_suspend"}]}),
    Case(
        "group suspension cleared",
        CLEARED,
        views={"group_events": [{"type": "group_suspend_cleared"}], "groups": [GROUP_STATE]},
    ),
    Case(
        "participant joined by invite link",
        JOINED,
        views={
            "group_events": [
                {"type": "group_participants_add", "reason": "invite_link", "succeeded": True}
            ]
        },
    ),
    Case(
        "group creation failed: an event, and no group",
        FAILED_CREATE,
        views={
            "group_events": [{"group_id": "G-NEVER", "type": "group_create", "succeeded": False}]
        },
    ),
]

GROUP_MESSAGE = "wamid.GROUPMSG1"


def group_status(value: str, at: int, participant: str, pricing: bool = True) -> str:
    """A status of GROUP_MESSAGE about one participant (participant: JSON members)."""
    price = (
        (
            ',"pricing":{"billable":true,"pricing_model":"PMP","type":"regular",'
            '"category":"group_marketing"}'
        )
        if pricing
        else ""
    )
    return (
        '{"id":"' + GROUP_MESSAGE + '","status":"' + value + '","timestamp":"' + str(at) + '",'
        '"recipient_id":"' + GROUP + '","recipient_type":"group",' + participant + price + "}"
    )


PABLO = '"recipient_participant_id":"16505551234"'
PABLO_BOTH = PABLO + ',"recipient_participant_user_id":"US.13491208655302741918"'
ANA = '"recipient_participant_user_id":"BR.1502576394655843"'

CASES += [
    Case(
        "group message sent to a participant's phone number",
        cloud(meta('"statuses":[' + group_status("sent", T0 + 600, PABLO) + "]")),
        statuses={(GROUP_MESSAGE, "sent", T0 + 600): {"recipient_type": "group"}},
        views={
            "status_events": [
                {"message_id": GROUP_MESSAGE, "status": "sent", "participant_id": "16505551234"}
            ]
        },
    ),
    Case(
        "aggregated group statuses: two participants delivered at the same second",
        cloud(
            meta(
                '"contacts":[{"profile":{"name":"Pablo M."},"wa_id":"16505551234",'
                '"user_id":"US.13491208655302741918"},'
                '{"profile":{"name":"Ana R.","username":"anar"},"user_id":"BR.1502576394655843"}],'
                '"statuses":['
                + group_status("delivered", T0 + 610, PABLO_BOTH)
                + ","
                # the second participant's, spelled the other way Meta has used
                + group_status("delivered", T0 + 610, ANA)
                + "]"
            )
        ),
        statuses={(GROUP_MESSAGE, "delivered", T0 + 610): {"recipient_id": GROUP}},
        views={
            "status_events": [
                {
                    "message_id": GROUP_MESSAGE,
                    "status": "delivered",
                    "recipient_type": "group",
                    "participant_id": "16505551234",
                    "participant_user_id": "US.13491208655302741918",
                },
                {
                    "message_id": GROUP_MESSAGE,
                    "status": "delivered",
                    "participant_id": None,
                    "participant_user_id": "BR.1502576394655843",
                    "person_id": "BR.1502576394655843",  # the participant, not the group
                },
            ],
            "group_delivery_status": [
                {
                    "message_id": GROUP_MESSAGE,
                    "group_id": GROUP,
                    "participant_id": "16505551234",
                    "participant_user_id": "US.13491208655302741918",
                    "sent_at": T0 + 600,
                    "delivered_at": T0 + 610,
                },
                {
                    "message_id": GROUP_MESSAGE,
                    "participant_user_id": "BR.1502576394655843",
                    "status": "delivered",
                    "sent_at": None,
                },
            ],
            # charged per participant: Pablo (sent and delivered priced) once, Ana once
            "pricing_daily": [
                {"pricing_category": "group_marketing", "pricing_type": "regular", "messages": 2}
            ],
            "delivery_status": [{"message_id": GROUP_MESSAGE, "recipient_id": GROUP}],
        },
    ),
    Case(
        "group status under the other spelling of the participant's number",
        cloud(
            meta(
                '"statuses":['
                + group_status(
                    "read", T0 + 620, '"participant_recipient_id":"16505551234"', pricing=False
                )
                + "]"
            )
        ),
        statuses={(GROUP_MESSAGE, "read", T0 + 620): {"participant_id": "16505551234"}},
        views={
            "group_delivery_status": [
                {"message_id": GROUP_MESSAGE, "participant_id": "16505551234", "status": "read"}
            ],
            "delivery_status": [{"message_id": GROUP_MESSAGE, "status": "read"}],
        },
    ),
]
