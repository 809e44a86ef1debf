"""People: identifiers joined across notifications (number and id changes, a stop and a
resume under two identifiers, contacts outside inbound messages, group participants).

Every identifier here is used by no other corpus module, so each person's row is exact.
"""

from __future__ import annotations

from tests.support.bodies import T0, Case, cloud, meta

# Ana changes her number (and with it her user id); Bo changes only his user id; Cy
# stops marketing under his number and resumes under his user id.
ANA_OLD, ANA_NEW = "15550100001", "15550100002"
ANA_U1, ANA_U2 = "US.7100000000000000002", "US.7100000000000000001"
BO_U1, BO_U2 = "US.7200000000000000001", "US.7200000000000000009"
CY_PHONE, CY_U = "15550300003", "US.7300000000000000003"
DEE_PHONE, DEE_U1, DEE_U2 = "15550400004", "US.7400000000000000004", "US.7400000000000000005"
EVE_PHONE, EVE_U = "15550500005", "US.7500000000000000005"
FAY_U = "US.7600000000000000006"
GIL_PHONE, GIL_U = "15550950009", "US.7950000000000000009"


def message(sender: str, mid: str, at: int, system: str = "") -> str:
    """A message object (JSON text) from `sender` (JSON members naming the sender)."""
    kind = (
        '"type":"system","system":{' + system + "}"
        if system
        else '"type":"text","text":{"body":"hi"}'
    )
    return "{" + sender + ',"id":"' + mid + '","timestamp":"' + str(at) + '",' + kind + "}"


def messages(*objects: str, contacts: str = "") -> bytes:
    return cloud(meta(contacts + '"messages":[' + ",".join(objects) + "]"))


def status(mid: str, value: str, at: int, ids: str, rest: str = "", contacts: str = "") -> bytes:
    obj = '{"id":"' + mid + '","status":"' + value + '","timestamp":"' + str(at) + '",' + ids
    return cloud(meta(contacts + '"statuses":[' + obj + rest + "}]"))


def contact(name: str, ids: str) -> str:
    return '"contacts":[{"profile":{"name":"' + name + '"},' + ids + "}],"


ANA_FIRST = messages(
    message('"from":"' + ANA_OLD + '","from_user_id":"' + ANA_U1 + '"', "wamid.ANA1", T0 + 100),
    contacts=contact("Ana", '"wa_id":"' + ANA_OLD + '","user_id":"' + ANA_U1 + '"'),
)
ANA_CHANGED = messages(
    message(
        '"from":"' + ANA_OLD + '"',
        "wamid.ANA2",
        T0 + 200,
        '"body":"User Ana changed from ' + ANA_OLD + " to " + ANA_NEW + '",'
        '"type":"user_changed_number","wa_id":"' + ANA_NEW + '","user_id":"' + ANA_U2 + '",'
        '"previous_user_id":"' + ANA_U1 + '"',
    )
)
BO_CHANGED = messages(
    message(
        '"from_user_id":"' + BO_U1 + '"',
        "wamid.BO1",
        T0 + 300,
        '"body":"User Bo changed from ' + BO_U1 + " to " + BO_U2 + '",'
        '"type":"user_changed_user_id","user_id":"'
        + BO_U2
        + '","previous_user_id":"'
        + BO_U1
        + '"',
    )
)
CY_STOPPED = status(
    "wamid.CY1", "failed", T0 + 400, '"recipient_id":"' + CY_PHONE + '"',
    ',"errors":[{"code":131050,"title":"Unable to deliver the message. This recipient has'
    ' chosen to stop receiving marketing messages on WhatsApp from your business."}]',
)  # fmt: skip
CY_DELIVERED = status(
    "wamid.CY0", "delivered", T0 + 350,
    '"recipient_id":"' + CY_PHONE + '","recipient_user_id":"' + CY_U + '"',
    contacts=contact("Cy", '"wa_id":"' + CY_PHONE + '","user_id":"' + CY_U + '"'),
)  # fmt: skip
CY_RESUMED = cloud(
    meta(
        contact("Cy", '"user_id":"' + CY_U + '"') + '"user_preferences":[{"user_id":"' + CY_U
        + '","detail":"User requested to resume marketing messages",'
        '"category":"marketing_messages","value":"resume","timestamp":' + str(T0 + 500) + "}]"
    ),
    "user_preferences",
)  # fmt: skip
DEE_UPDATED = cloud(
    meta(
        contact("Dee", '"wa_id":"' + DEE_PHONE + '"') + '"user_id_update":[{"wa_id":"'
        + DEE_PHONE + '","detail":"User id for Dee has been updated.",'
        '"user_id":{"previous":"' + DEE_U1 + '","current":"' + DEE_U2 + '"},'
        '"timestamp":"' + str(T0 + 600) + '"}]'
    ),
    "user_id_update",
)  # fmt: skip
EVE_CALLED = cloud(
    meta(
        contact("Eve", '"wa_id":"' + EVE_PHONE + '","user_id":"' + EVE_U + '"')
        + '"calls":[{"id":"wacid.EVE","from":"' + EVE_PHONE + '","to":"15550783881",'
        '"event":"connect","timestamp":"' + str(T0 + 700) + '","direction":"USER_INITIATED"}]'
    ),
    "calls",
)  # fmt: skip
FAY_ERRORS_ONLY = cloud(
    meta(
        contact("Fay", '"user_id":"' + FAY_U + '"')
        + '"errors":[{"code":131000,"title":"Something went wrong"}]'
    )
)

GIL_SAID = messages(
    message('"from":"' + GIL_PHONE + '","from_user_id":"' + GIL_U + '"', "wamid.GIL1", T0 + 800),
    contacts=contact("Gil", '"user_id":"' + GIL_U + '"'),
)

CASES = [
    Case(
        "people: a message from a number with its user id",
        ANA_FIRST,
        messages={"wamid.ANA1": {"wa_id": ANA_OLD, "user_id": ANA_U1}},
        contacts={ANA_OLD: "Ana"},
    ),
    Case(
        "people: user_changed_number joins the old number and id to the new ones",
        ANA_CHANGED,
        messages={"wamid.ANA2": {"type": "system", "wa_id": ANA_OLD}},
        views={
            "people": [
                {
                    "person_id": ANA_U2,  # the smaller user id, whichever came first
                    "wa_ids": [ANA_OLD, ANA_NEW],
                    "user_ids": [ANA_U2, ANA_U1],
                    "current_wa_id": ANA_NEW,
                    "current_user_id": ANA_U2,
                    "profile_name": "Ana",
                    "previous_person_ids": [ANA_U1],
                }
            ],
            "messages_inbound": [{"message_id": "wamid.ANA1", "person_id": ANA_U2}],
            "contacts": [{"wa_id": ANA_OLD, "person_id": ANA_U2}],
        },
    ),
    Case(
        "people: user_changed_user_id without a phone number joins the two ids",
        BO_CHANGED,
        messages={"wamid.BO1": {"type": "system", "wa_id": BO_U1}},
        views={
            "people": [
                {
                    "person_id": BO_U1,
                    "wa_ids": [],
                    "user_ids": [BO_U1, BO_U2],
                    "current_user_id": BO_U2,
                    "previous_person_ids": [],
                }
            ]
        },
    ),
    Case(
        "people: a 131050 stop under the phone number",
        CY_STOPPED,
        statuses={("wamid.CY1", "failed", T0 + 400): {"recipient_id": CY_PHONE}},
        views={"marketing_preferences": [{"wa_id": CY_PHONE, "value": "stop", "person_id": CY_U}]},
    ),
    Case(
        "people: a status's contacts[] item joins the phone number and the user id",
        CY_DELIVERED,
        statuses={("wamid.CY0", "delivered", T0 + 350): {"recipient_user_id": CY_U}},
        views={
            "contacts": [{"wa_id": CY_PHONE, "user_id": CY_U, "profile_name": "Cy"}],
            "delivery_status": [{"message_id": "wamid.CY0", "person_id": CY_U}],
        },
    ),
    Case(
        "people: a later resume under the user id alone is the same person's history",
        CY_RESUMED,
        views={
            "marketing_preferences": [
                {"wa_id": CY_U, "user_id": CY_U, "value": "resume", "person_id": CY_U}
            ],
            "marketing_preferences_by_person": [
                {"person_id": CY_U, "value": "resume", "changed_at": T0 + 500}
            ],
            "contacts": [{"wa_id": CY_U, "user_id": CY_U, "person_id": CY_U}],
            "people": [{"person_id": CY_U, "wa_ids": [CY_PHONE], "user_ids": [CY_U]}],
        },
    ),
    Case(
        "people: a user_id_update item joins the previous id, the current id and the number",
        DEE_UPDATED,
        views={
            "people": [
                {
                    "person_id": DEE_U1,
                    "wa_ids": [DEE_PHONE],
                    "user_ids": [DEE_U1, DEE_U2],
                    "current_user_id": DEE_U2,
                    "profile_name": "Dee",
                }
            ],
            "contacts": [{"wa_id": DEE_PHONE, "profile_name": "Dee", "person_id": DEE_U1}],
        },
    ),
    Case(
        "people: a calls notification's contacts[] item is a contact",
        EVE_CALLED,
        views={
            "contacts": [{"wa_id": EVE_PHONE, "user_id": EVE_U, "profile_name": "Eve"}],
            "calls": [{"call_id": "wacid.EVE", "person_id": EVE_U}],
        },
    ),
    Case(
        "people: an errors-only change's contacts[] item is a contact",
        FAY_ERRORS_ONLY,
        errors=[(131000, "Something went wrong")],
        views={
            "contacts": [{"wa_id": FAY_U, "user_id": FAY_U, "profile_name": "Fay"}],
            "people": [{"person_id": FAY_U, "wa_ids": [], "user_ids": [FAY_U]}],
        },
    ),
    Case(
        "people: a contacts[] item without the number its message gives is keyed by the number",
        GIL_SAID,
        messages={"wamid.GIL1": {"wa_id": GIL_PHONE, "user_id": GIL_U, "contact_name": "Gil"}},
        contacts={GIL_PHONE: "Gil"},
        views={"contacts": [{"wa_id": GIL_PHONE, "user_id": GIL_U, "person_id": GIL_U}]},
    ),
]
