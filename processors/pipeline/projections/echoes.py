"""Message echoes (Coexistence): messages the business sent from the WhatsApp Business app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.projections.messages import message_text
from processors.pipeline.reading import Path, Reading, indexed, label_of, time_of


@dataclass(frozen=True, slots=True)
class MessageEcho:
    """One message the business sent from the Business app, echoed to the API."""

    message_id: str
    sender: str | None  # `from`: the business number
    recipient: str | None  # `to`: the customer (else their business-scoped user id)
    type: str | None
    sent_at: int | None
    text: str | None
    waba_id: str | None
    phone_number_id: str | None
    path: Path


def read_echoes(event: Reading, change: Change) -> Iterator[MessageEcho]:
    """The `message_echoes[]` of a `smb_message_echoes` change; one without an id is noted."""
    for index, echo in indexed(event, change.value, "message_echoes"):
        if read := read_echo(event, echo, (*change.path, "message_echoes", str(index)), change):
            yield read


def read_echo(
    event: Reading, echo: dict[str, Any], path: Path, change: Change
) -> MessageEcho | None:
    """One echo, or None (noted) without an id."""
    message_id = label_of(event, echo, "id") or None
    if message_id is None:
        event.notes.add("echo_without_id")
        return None
    kind = label_of(event, echo, "type")
    return MessageEcho(
        message_id=message_id,
        sender=label_of(event, echo, "from"),
        recipient=label_of(event, echo, "to") or label_of(event, echo, "to_user_id"),
        type=kind,
        sent_at=time_of(event, echo.get("timestamp"), "echo"),
        text=message_text(kind, echo),
        waba_id=change.waba_id,
        phone_number_id=change.phone_number_id,
        path=path,
    )


def _row(e: Any) -> tuple[Any, ...]:
    return (e.message_id, e.sender, e.recipient, e.type, e.sent_at, e.text, e.waba_id,
            e.phone_number_id, comma_path(e.path))  # fmt: skip


PROJECTION = Projection(
    name="echoes",
    fields=frozenset({"smb_message_echoes"}),
    read=read_echoes,
    stage_table="stage_echo",
    columns=(
        "message_id",
        "sender",
        "recipient",
        "type",
        "sent_at",
        "text",
        "waba_id",
        "phone_number_id",
        "path",
    ),
    row=_row,
    queries=("project_echoes",),
    tables={"message_echo": ("channel", "message_id")},
)
