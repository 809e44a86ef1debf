"""Inbound messages, and the contacts they name (messages_inbound, contacts)."""

from __future__ import annotations

from typing import Any

from processors.projections.base import Projection, comma_path


def _row(m: Any) -> tuple[Any, ...]:
    return (m.message_id, m.wa_id, m.type, m.sent_at, m.phone_number_id, m.text,
            m.context_message_id, m.contact_name, comma_path(m.path))  # fmt: skip


PROJECTION = Projection(
    name="messages",
    stage_table="stage_message",
    items=lambda parsed: parsed.messages,
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
