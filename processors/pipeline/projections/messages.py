"""Inbound messages (messages_inbound); their senders' contacts are identity links."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import (
    Path,
    Reading,
    dig,
    indexed,
    items,
    label_of,
    nonempty,
    shown,
    time_of,
)
from processors.pipeline.values import string

KNOWN_TYPES = frozenset(
    {
        "text", "image", "audio", "voice", "video", "document", "sticker", "location",
        "contacts", "button", "interactive", "reaction", "order", "system", "referral",
        "unknown", "unsupported", "ephemeral",
    }
)  # fmt: skip
# Messages that change an earlier message: projected by message_changes.py, not here.
CHANGE_TYPES = frozenset({"edit", "revoke"})
MEDIA_TYPES = frozenset({"image", "audio", "voice", "video", "document", "sticker"})
KNOWN_MESSAGE_KEYS = frozenset(
    {"from", "id", "timestamp", "type", "context", "errors", "identity", "referral",
     "group_id", "from_user_id", "from_parent_user_id", "recipient_type"}
    | KNOWN_TYPES | CHANGE_TYPES
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Sender:
    """What a `contacts[]` entry says about the customer who sent a message."""

    wa_id: str | None  # the phone number; None when Meta sent "" (a username adopter)
    user_id: str | None  # business-scoped user id (BSUID), 2026
    parent_user_id: str | None
    username: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a customer sent."""

    message_id: str
    wa_id: str | None  # the phone number, else (Meta sent "") the business-scoped user id
    type: str | None
    sent_at: int | None
    phone_number_id: str | None
    text: str | None
    context_message_id: str | None
    contact_name: str | None
    path: Path
    user_id: str | None
    parent_user_id: str | None
    username: str | None
    group_id: str | None = None  # a message a customer sent in a group (Groups API)


class Senders:
    """The contacts of one change, found by phone number or by business-scoped user id."""

    def __init__(self, event: Reading, value: dict[str, Any]) -> None:
        self.listed = [read_sender(event, contact) for contact in items(event, value, "contacts")]
        self.by_wa_id = {s.wa_id: s for s in self.listed if s.wa_id}
        self.by_user_id = {s.user_id: s for s in self.listed if s.user_id}

    def of(self, wa_id: str | None, user_id: str | None) -> Sender | None:
        """The contact of a message from `wa_id` / `user_id`, if the change lists it."""
        if wa_id and wa_id in self.by_wa_id:
            return self.by_wa_id[wa_id]
        if user_id and user_id in self.by_user_id:
            return self.by_user_id[user_id]
        if not wa_id and not user_id and len(self.listed) == 1:
            return self.listed[0]  # a message naming no sender: the only contact sent it
        return None


def read_sender(event: Reading, contact: dict[str, Any]) -> Sender:
    """One `contacts[]` entry; ids too long for a key are noted and dropped."""
    return Sender(
        wa_id=label_of(event, contact, "wa_id") or None,
        user_id=label_of(event, contact, "user_id") or None,
        parent_user_id=label_of(event, contact, "parent_user_id") or None,
        username=nonempty(dig(contact, "profile", "username")),
        name=string(dig(contact, "profile", "name")),
    )


def read_messages(event: Reading, change: Change) -> Iterator[InboundMessage]:
    """The inbound messages of a `messages` change, named after their senders' contacts."""
    senders = Senders(event, change.value)
    for index, message in indexed(event, change.value, "messages"):
        path = (*change.path, "messages", str(index))
        if (
            read := read_message(event, message, path, change.phone_number_id, senders)
        ) is not None:
            yield read


def read_message(
    event: Reading,
    message: dict[str, Any],
    path: Path,
    phone_number_id: str | None,
    senders: Senders,
) -> InboundMessage | None:
    """One inbound message, or None (noted) without an id; None for an edit or a revoke."""
    message_id = label_of(event, message, "id") or None
    if message_id is None:
        event.notes.add("message_without_id")
        return None
    kind = label_of(event, message, "type")
    for key in [key for key in message if key not in KNOWN_MESSAGE_KEYS]:  # in body order
        event.notes.add(f"unknown_field:message.{shown(key)}")
    if kind in CHANGE_TYPES:
        return None  # it changes an earlier message: message_changes.py reads it
    if kind not in KNOWN_TYPES:
        event.notes.add(f"unknown_type:{shown(kind)}")
    phone = label_of(event, message, "from") or None
    user_id = label_of(event, message, "from_user_id") or None
    sender = senders.of(phone, user_id)
    if sender is not None:
        phone, user_id = phone or sender.wa_id, user_id or sender.user_id
    context = message.get("context")
    return InboundMessage(
        message_id=message_id,
        # A username adopter's phone number may be withheld (""): the user id stands in,
        # so that wa_id still names one customer (the API takes either as a recipient).
        wa_id=phone or user_id,
        type=kind,
        sent_at=time_of(event, message.get("timestamp"), "message"),
        phone_number_id=phone_number_id,
        text=message_text(kind, message),
        context_message_id=label_of(event, context, "id") if isinstance(context, dict) else None,
        contact_name=sender.name if sender is not None else None,
        path=path,
        user_id=user_id,
        parent_user_id=(sender.parent_user_id if sender is not None else None)
        or label_of(event, message, "from_parent_user_id")
        or None,
        username=sender.username if sender is not None else None,
        group_id=label_of(event, message, "group_id") or None,
    )


def message_text(kind: str | None, message: dict[str, Any]) -> str | None:
    """Text body, media caption, button text, interactive reply title or reaction emoji."""
    if kind == "text":
        return nonempty(dig(message, "text", "body"))
    if kind in MEDIA_TYPES:
        return nonempty(dig(message, kind, "caption"))
    if kind == "button":
        return nonempty(dig(message, "button", "text"))
    if kind == "interactive":
        interactive = message.get("interactive")
        if isinstance(interactive, dict):
            for reply in ("button_reply", "list_reply"):
                if isinstance(interactive.get(reply), dict):
                    return nonempty(interactive[reply].get("title"))
            if isinstance(interactive.get("nfm_reply"), dict):
                return nonempty(interactive["nfm_reply"].get("body"))
        return None
    if kind == "reaction":
        return nonempty(dig(message, "reaction", "emoji"))  # "" or absent: reaction removed
    return None


def _row(m: Any) -> tuple[Any, ...]:
    return (m.message_id, m.wa_id, m.type, m.sent_at, m.phone_number_id, m.text,
            m.context_message_id, m.contact_name, comma_path(m.path), m.user_id,
            m.parent_user_id, m.username, m.group_id)  # fmt: skip


PROJECTION = Projection(
    name="messages",
    fields=frozenset({"messages"}),
    read=read_messages,
    stage_table="stage_message",
    columns=(
        "message_id",
        "wa_id",
        "type",
        "sent_at",
        "phone_number_id",
        "text",
        "context_message_id",
        "contact_name",
        "path",
        "user_id",
        "parent_user_id",
        "username",
        "group_id",
    ),
    row=_row,
    queries=("project_messages",),
    tables={"inbound_message": ("channel", "message_id")},
)
