"""Inbound messages, and the contacts they name (messages_inbound, contacts)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.projections.base import Change, Projection, comma_path
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
MEDIA_TYPES = frozenset({"image", "audio", "voice", "video", "document", "sticker"})
KNOWN_MESSAGE_KEYS = frozenset(
    {"from", "id", "timestamp", "type", "context", "errors", "identity", "referral",
     "group_id", "from_user_id", "recipient_type"} | KNOWN_TYPES
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a customer sent."""

    message_id: str
    wa_id: str | None
    type: str | None
    sent_at: int | None
    phone_number_id: str | None
    text: str | None
    context_message_id: str | None
    contact_name: str | None
    path: Path


def read_messages(event: Reading, change: Change) -> Iterator[InboundMessage]:
    """The inbound messages of a `messages` change, named after their senders' contacts."""
    names = {
        wa_id: name
        for contact in items(event, change.value, "contacts")
        if (wa_id := label_of(event, contact, "wa_id"))
        and (name := string(dig(contact, "profile", "name"))) is not None
    }
    for index, message in indexed(event, change.value, "messages"):
        path = (*change.path, "messages", str(index))
        if (read := read_message(event, message, path, change.phone_number_id, names)) is not None:
            yield read


def read_message(
    event: Reading,
    message: dict[str, Any],
    path: Path,
    phone_number_id: str | None,
    names: dict[str, str],
) -> InboundMessage | None:
    """One inbound message, or None (noted) without an id."""
    message_id = label_of(event, message, "id") or None
    if message_id is None:
        event.notes.add("message_without_id")
        return None
    kind = label_of(event, message, "type")
    if kind not in KNOWN_TYPES:
        event.notes.add(f"unknown_type:{shown(kind)}")
    for key in [key for key in message if key not in KNOWN_MESSAGE_KEYS]:  # in body order
        event.notes.add(f"unknown_field:message.{shown(key)}")
    wa_id = label_of(event, message, "from") or label_of(event, message, "from_user_id")
    context = message.get("context")
    return InboundMessage(
        message_id=message_id,
        wa_id=wa_id,
        type=kind,
        sent_at=time_of(event, message.get("timestamp"), "message"),
        phone_number_id=phone_number_id,
        text=message_text(kind, message),
        context_message_id=label_of(event, context, "id") if isinstance(context, dict) else None,
        contact_name=names.get(wa_id) if wa_id else None,
        path=path,
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
            m.context_message_id, m.contact_name, comma_path(m.path))  # fmt: skip


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
    ),
    row=_row,
    queries=("project_messages", "project_contacts"),
    tables={"inbound_message": ("channel", "message_id"), "contact": ("channel", "wa_id")},
)
