"""Status notifications, and each message's delivery merged from them."""

from __future__ import annotations

from typing import Any

from processors.projections.base import Projection, comma_path


def _row(s: Any) -> tuple[Any, ...]:
    return (s.message_id, s.status, s.status_at, s.phone_number_id, s.recipient_id,
            s.conversation_id, s.conversation_category, s.pricing_category, s.pricing_model,
            s.billable, _int_array(s.error_codes), comma_path(s.path))  # fmt: skip


def _int_array(values: tuple[int, ...]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


PROJECTION = Projection(
    name="statuses",
    stage_table="stage_status",
    items=lambda parsed: parsed.statuses,
    columns=(
        "message_id",
        "status",
        "status_at",
        "phone_number_id",
        "recipient_id",
        "conversation_id",
        "conversation_category",
        "pricing_category",
        "pricing_model",
        "billable",
        "error_codes",
        "path",
    ),
    row=_row,
    queries=("project_statuses", "project_deliveries"),
    tables={
        "status_event": ("channel", "message_id", "status", "status_at"),
        "message_delivery": ("channel", "message_id"),
    },
)
