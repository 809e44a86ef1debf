"""Edits and revokes: a customer changed or deleted a message they sent (message_change)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.projections.messages import (
    CHANGE_TYPES,
    KNOWN_TYPES,
    message_text,
)
from processors.pipeline.reading import Path, Reading, label_of, shown, time_of
from processors.pipeline.values import label


@dataclass(frozen=True, slots=True)
class MessageChange:
    """One edit or revoke notification, about the message `message_id`."""

    change_message_id: str  # the notification's own id
    message_id: str  # the original message's id
    change: str  # "edit" or "revoke"
    changed_at: int | None  # the notification's time, else entry.time (else: received_at)
    wa_id: str | None
    user_id: str | None
    phone_number_id: str | None
    text: str | None  # of the edited message, by the rule of messages_inbound.text
    path: Path


def read_changes(event: Reading, change: Change) -> Iterator[MessageChange]:
    """The edit and revoke messages of a `messages` change."""
    messages = change.value.get("messages")
    if not isinstance(messages, list):
        return  # noted by messages.py, which reads the same list
    for index, message in enumerate(messages):
        kind = message.get("type") if isinstance(message, dict) else None
        if isinstance(kind, str) and kind in CHANGE_TYPES:  # any other type: messages.py
            path = (*change.path, "messages", str(index))
            if (read := read_change(event, message, path, change)) is not None:
                yield read


def read_change(
    event: Reading, message: dict[str, Any], path: Path, change: Change
) -> MessageChange | None:
    """One edit or revoke, or None (noted) when it names no original message.

    messages.py reads every message first and already notes a missing or unusable
    `id` or `type` and unknown fields: they are not noted twice here.
    """
    change_message_id = label(message.get("id")) or None
    if change_message_id is None:
        return None
    kind = str(message["type"])
    detail = message.get(kind)
    original = label_of(event, detail, "original_message_id") or None
    if original is None:
        event.notes.add(f"{kind}_without_original_message_id")
        return None
    phone = label_of(event, message, "from") or None
    user_id = label_of(event, message, "from_user_id") or None
    changed_at = time_of(event, message.get("timestamp"), kind)
    return MessageChange(
        change_message_id=change_message_id,
        message_id=original,
        change=kind,
        changed_at=changed_at if changed_at is not None else change.entry_time,
        wa_id=phone or user_id,  # as messages_inbound.wa_id
        user_id=user_id,
        phone_number_id=change.phone_number_id,
        text=edited_text(event, detail) if kind == "edit" else None,
        path=path,
    )


def edited_text(event: Reading, edit: Any) -> str | None:
    """The text of an edit's new message (`edit.message`: a type and its object)."""
    message = edit.get("message") if isinstance(edit, dict) else None
    if not isinstance(message, dict):
        event.notes.add("edit_without_message")
        return None
    kind = label_of(event, message, "type")
    if kind is None:  # a sender that leaves out the type still names its object
        kind = next((key for key in message if key in KNOWN_TYPES), None)
    elif kind not in KNOWN_TYPES:
        event.notes.add(f"unknown_type:edit.{shown(kind)}")
    return message_text(kind, message)


def _row(c: Any) -> tuple[Any, ...]:
    return (c.change_message_id, c.message_id, c.change, c.changed_at, c.wa_id, c.user_id,
            c.phone_number_id, c.text, comma_path(c.path))  # fmt: skip


PROJECTION = Projection(
    name="message_changes",
    fields=frozenset({"messages"}),
    read=read_changes,
    stage_table="stage_message_change",
    columns=(
        "change_message_id",
        "message_id",
        "change",
        "changed_at",
        "wa_id",
        "user_id",
        "phone_number_id",
        "text",
        "path",
    ),
    row=_row,
    queries=("project_message_changes",),
    tables={"message_change": ("channel", "change_message_id")},
)
