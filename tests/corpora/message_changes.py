"""Edits and revokes of inbound messages, and business-scoped user ids (BSUID, 2026).

Shapes from Meta's webhook reference (messages/edit, messages/revoke) and its
business-scoped user id page (mirror `ArielAmzalak/WBAPI_Doc` doc/business-scoped-user-ids.md).
"""

from __future__ import annotations

from tests.support.bodies import PN, T0, Case, cloud, cloud_message, meta, msg

BUYER = "16315550142"
BUYER_CONTACT = '"contacts":[{"profile":{"name":"Ana"},"wa_id":"' + BUYER + '"}]'
BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"
ONLY_ID = "US.99887766554433221100"


def change(mid: str, kind: str, detail: str, ts: int, sender: str = BUYER) -> bytes:
    """A Cloud body with one edit or revoke message from `sender`."""
    message = (
        '{"from":"' + sender + '","id":"' + mid + '","timestamp":"' + str(ts) + '",'
        '"type":"' + kind + '","' + kind + '":' + detail + "}"
    )
    return cloud(meta(BUYER_CONTACT + ',"messages":[' + message + "]"))


def edit(mid: str, original: str, new_message: str, ts: int) -> bytes:
    """An edit of `original` whose new message is `new_message` (JSON text)."""
    detail = '{"original_message_id":"' + original + '","message":' + new_message + "}"
    return change(mid, "edit", detail, ts)


def revoke(mid: str, original: str, ts: int) -> bytes:
    """A revoke of `original`."""
    return change(mid, "revoke", '{"original_message_id":"' + original + '"}', ts)


def text_from_buyer(mid: str, body: str) -> bytes:
    """A text message from BUYER at T0."""
    return cloud_message(msg(mid, "text", '"text":{"body":"' + body + '"}', sender=BUYER),
                         contacts=BUYER_CONTACT)  # fmt: skip


CASES = [
    # Text, then an edit, then a revoke: the edit's text is kept in its change row, and
    # the revoke blanks the current text.
    Case(
        "cloud text later edited then revoked",
        text_from_buyer("wamid.CHG1", "see you at 5"),
        messages={"wamid.CHG1": {"type": "text", "text": "see you at 5", "wa_id": BUYER}},
        contacts={BUYER: "Ana"},
    ),
    Case(
        "cloud edit of a text message",
        edit(
            "wamid.CHG1E", "wamid.CHG1", '{"type":"text","text":{"body":"see you at 6"}}', T0 + 60
        ),
        views={
            "message_changes": [
                {
                    "message_id": "wamid.CHG1",
                    "change_message_id": "wamid.CHG1E",
                    "change": "edit",
                    "text": "see you at 6",
                    "changed_at": T0 + 60,
                    "wa_id": BUYER,
                }
            ]
        },
    ),
    Case(
        "cloud revoke of an edited text message",
        revoke("wamid.CHG1R", "wamid.CHG1", T0 + 120),
        views={
            "message_changes": [
                {
                    "message_id": "wamid.CHG1",
                    "change_message_id": "wamid.CHG1R",
                    "change": "revoke",
                    "text": None,
                    "changed_at": T0 + 120,
                }
            ],
            "messages_inbound": [
                {
                    "message_id": "wamid.CHG1",
                    "text": "see you at 5",
                    "edited_at": T0 + 60,
                    "revoked_at": T0 + 120,
                    "current_text": None,
                }
            ],
        },
    ),
    # The edit is stored before its original arrives; the original then shows it.
    Case(
        "cloud edit arriving before its original",
        edit(
            "wamid.CHG2E",
            "wamid.CHG2",
            '{"context":{"from":"15550783881","id":"wamid.OUT1"},"type":"text",'
            '"text":{"body":"two large, please"}}',
            T0 + 30,
        ),
        views={"message_changes": [{"message_id": "wamid.CHG2", "text": "two large, please"}]},
    ),
    Case(
        "cloud original of an edit that arrived first",
        text_from_buyer("wamid.CHG2", "two small, please"),
        messages={"wamid.CHG2": {"type": "text", "text": "two small, please"}},
        views={
            "messages_inbound": [
                {
                    "message_id": "wamid.CHG2",
                    "text": "two small, please",
                    "edited_at": T0 + 30,
                    "revoked_at": None,
                    "current_text": "two large, please",
                }
            ]
        },
    ),
    # A media message and its revoke batched in one body.
    Case(
        "cloud revoke of an image",
        cloud(
            meta(
                BUYER_CONTACT
                + ',"messages":['
                + msg(
                    "wamid.CHG3",
                    "image",
                    '"image":{"caption":"wrong photo","mime_type":"image/jpeg",'
                    '"sha256":"aGVsbG8=","id":"1003383421387299"}',
                    sender=BUYER,
                )
                + ',{"from":"'
                + BUYER
                + '","id":"wamid.CHG3R","timestamp":"'
                + str(T0 + 5)
                + '",'
                '"type":"revoke","revoke":{"original_message_id":"wamid.CHG3"}}]'
            )
        ),
        messages={"wamid.CHG3": {"type": "image", "text": "wrong photo"}},
        views={
            "messages_inbound": [
                {
                    "message_id": "wamid.CHG3",
                    "type": "image",
                    "text": "wrong photo",
                    "revoked_at": T0 + 5,
                    "edited_at": None,
                    "current_text": None,
                }
            ],
            "message_changes": [
                {"message_id": "wamid.CHG3", "change": "revoke", "phone_number_id": PN}
            ],
        },
    ),
    # A message that was never changed: current_text is its text.
    Case(
        "cloud message never edited keeps its text as current text",
        text_from_buyer("wamid.CHG4", "just one"),
        messages={"wamid.CHG4": {"text": "just one"}},
        views={
            "messages_inbound": [
                {
                    "message_id": "wamid.CHG4",
                    "current_text": "just one",
                    "edited_at": None,
                    "revoked_at": None,
                }
            ]
        },
    ),
    # A customer with a phone number and a business-scoped user id: both are kept.
    Case(
        "cloud contact with user id, parent user id, username and wa_id",
        cloud_message(
            '{"from":"16315550177","from_user_id":"' + BSUID + '","id":"wamid.BSU1",'
            '"timestamp":"' + str(T0) + '","type":"text","text":{"body":"hello"}}',
            contacts='"contacts":[{"profile":{"name":"Pablo M.","username":"@pablomorales",'
            '"country_code":"US"},"wa_id":"16315550177","user_id":"' + BSUID + '",'
            '"parent_user_id":"' + PARENT + '"}]',
        ),
        messages={
            "wamid.BSU1": {
                "wa_id": "16315550177",
                "user_id": BSUID,
                "parent_user_id": PARENT,
                "username": "@pablomorales",
                "contact_name": "Pablo M.",
            }
        },
        contacts={"16315550177": "Pablo M."},
        views={
            "contacts": [
                {
                    "wa_id": "16315550177",
                    "user_id": BSUID,
                    "parent_user_id": PARENT,
                    "username": "@pablomorales",
                    "profile_name": "Pablo M.",
                    "phone_number_id": PN,
                }
            ]
        },
    ),
    # A username adopter whose number Meta withholds: wa_id "" and from "", the user id
    # stands in for wa_id and the contact's name and username are still found.
    Case(
        "cloud contact known only by user id",
        cloud_message(
            '{"from":"","from_user_id":"' + ONLY_ID + '","id":"wamid.BSU2",'
            '"timestamp":"' + str(T0 + 10) + '","type":"text","text":{"body":"another color?"}}',
            contacts='"contacts":[{"profile":{"name":"Sheena Nelson","username":"@realsheena",'
            '"country_code":"US"},"wa_id":"","user_id":"' + ONLY_ID + '"}]',
        ),
        messages={
            "wamid.BSU2": {
                "wa_id": ONLY_ID,
                "user_id": ONLY_ID,
                "username": "@realsheena",
                "contact_name": "Sheena Nelson",
                "text": "another color?",
            }
        },
        contacts={ONLY_ID: "Sheena Nelson"},
        views={
            "contacts": [
                {
                    "wa_id": ONLY_ID,
                    "user_id": ONLY_ID,
                    "username": "@realsheena",
                    "profile_name": "Sheena Nelson",
                    "first_seen_at": T0 + 10,
                }
            ]
        },
    ),
    Case(
        "cloud revoke without an original message id is dropped",
        change("wamid.CHG5R", "revoke", "{}", T0 + 7),
        notes=frozenset({"revoke_without_original_message_id"}),
    ),
]
