"""Coexistence history (field history): the sync's chunks and every message of its threads.

A number onboarded with the WhatsApp Business app shares up to 180 days of past chats,
in phases (0: day 0-1, 1: day 1-90, 2: day 90-180) of chunks that may arrive out of
order or twice, each with the sync's progress (0-100). A media message arrives first
as a `media_placeholder` in its thread; its media follows in a later history webhook
(`messages[]` from the customer, `message_echoes[]` from the business).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.projections.messages import message_text
from processors.pipeline.reading import (
    Path,
    Reading,
    code_of,
    dig,
    indexed,
    label_of,
    object_of,
    time_of,
)
from processors.pipeline.values import integer

PLACEHOLDER = "media_placeholder"
HISTORY_STATUSES = frozenset({"delivered", "error", "pending", "played", "read", "sent"})


@dataclass(frozen=True, slots=True)
class HistoryChunk:
    """One `history[]` item: a chunk of a phase, with the sync's progress, or its refusal."""

    waba_id: str | None
    phone_number_id: str | None
    phase: int | None
    chunk_order: int | None
    progress: int | None  # 0-100; 100: the sync is complete
    error_code: int | None  # 2593109: the business declined to share its history
    position: int


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """One past message of a thread, or the media that follows a placeholder."""

    message_id: str
    wa_id: str | None  # the customer's number
    user_id: str | None  # the customer's business-scoped user id
    direction: str  # inbound (from the customer) or outbound (from the business)
    type: str | None
    text: str | None
    sent_at: int | None  # the device's time
    status: str | None  # history_context.status, lower-cased
    phone_number_id: str | None
    path: Path


def read_chunks(event: Reading, change: Change) -> Iterator[HistoryChunk]:
    """The chunks of a history change (a media follow-up has none)."""
    for index, item in indexed(event, change.value, "history"):
        metadata = object_of(event, item, "metadata")
        errors = item.get("errors")
        first_error = errors[0] if isinstance(errors, list) and errors else None
        progress = _small(event, metadata.get("progress"), "progress")
        if progress is not None and progress > 100:
            event.notes.add("implausible_progress")
            progress = None
        yield HistoryChunk(
            waba_id=change.waba_id or None,
            phone_number_id=change.phone_number_id or None,  # "" is no number: one chunk key
            phase=_small(event, metadata.get("phase"), "phase"),
            chunk_order=_small(event, metadata.get("chunk_order"), "chunk_order"),
            progress=progress,
            error_code=code_of(event, dig(first_error, "code")),
            position=index,
        )


def read_messages(event: Reading, change: Change) -> Iterator[HistoryMessage]:
    """Every message of every thread, then the media follow-ups of the change."""
    value, path = change.value, change.path
    business = label_of(event, value.get("metadata"), "display_phone_number")
    for h, item in indexed(event, value, "history"):
        for t, thread in indexed(event, item, "threads"):
            context = object_of(event, thread, "context")
            wa_id = label_of(event, context, "wa_id") or label_of(event, thread, "id") or None
            user_id = label_of(event, context, "user_id") or None
            for m, message in indexed(event, thread, "messages"):
                outbound = (
                    "to" in message
                    or "to_user_id" in message
                    or (business is not None and message.get("from") == business != wa_id)
                )
                at = (*path, "history", str(h), "threads", str(t), "messages", str(m))
                read = _message(event, message, at, change, wa_id, user_id, outbound)
                if read is not None:
                    yield read
    for key, outbound in (("messages", False), ("message_echoes", True)):
        for m, message in indexed(event, value, key):
            side = ("to", "to_user_id") if outbound else ("from", "from_user_id")
            wa_id, user_id = (label_of(event, message, k) or None for k in side)
            read = _message(event, message, (*path, key, str(m)), change, wa_id, user_id, outbound)
            if read is not None:
                yield read


def _message(
    event: Reading,
    message: dict[str, Any],
    path: Path,
    change: Change,
    wa_id: str | None,
    user_id: str | None,
    outbound: bool,
) -> HistoryMessage | None:
    message_id = label_of(event, message, "id") or None
    if message_id is None:
        event.notes.add("history_message_without_id")
        return None
    kind = label_of(event, message, "type")
    status = dig(message, "history_context", "status")
    if status is not None and not isinstance(status, str):
        event.notes.add("not_a_string:history_context.status")
    status = status.lower() if isinstance(status, str) else None
    if status is not None and status not in HISTORY_STATUSES:
        event.notes.add("unknown_history_status")  # kept: Meta's enums grow
    return HistoryMessage(
        message_id=message_id,
        wa_id=wa_id,
        user_id=user_id,
        direction="outbound" if outbound else "inbound",
        type=kind,
        text=message_text(kind, message),
        sent_at=time_of(event, message.get("timestamp"), "history_message"),
        status=status if status is None or len(status) <= 64 else None,
        phone_number_id=change.phone_number_id,
        path=path,
    )


def _small(event: Reading, value: Any, key: str) -> int | None:
    """A phase or chunk number (sent as a number or a string); another value is noted."""
    number = integer(value)
    if number is None or not 0 <= number < 2**31:
        if value is not None:
            event.notes.add(f"not_a_number:{key}")
        return None
    return number


def _chunk_row(c: Any) -> tuple[Any, ...]:
    return (c.waba_id, c.phone_number_id, c.phase, c.chunk_order, c.progress, c.error_code,
            c.position)  # fmt: skip


def _message_row(m: Any) -> tuple[Any, ...]:
    return (m.message_id, m.wa_id, m.user_id, m.direction, m.type, m.text, m.sent_at, m.status,
            m.type == PLACEHOLDER, m.phone_number_id, comma_path(m.path))  # fmt: skip


CHUNKS = Projection(
    name="history_chunks",
    fields=frozenset({"history"}),
    read=read_chunks,
    stage_table="stage_history_chunk",
    columns=(
        "waba_id",
        "phone_number_id",
        "phase",
        "chunk_order",
        "progress",
        "error_code",
        "position",
    ),
    row=_chunk_row,
    queries=("project_history_chunks",),
    tables={"history_chunk": ("channel", "chunk_key")},
)

MESSAGES = Projection(
    name="history_messages",
    fields=frozenset({"history"}),
    read=read_messages,
    stage_table="stage_history_message",
    columns=(
        "message_id",
        "wa_id",
        "user_id",
        "direction",
        "type",
        "text",
        "sent_at",
        "status",
        "placeholder",
        "phone_number_id",
        "path",
    ),
    row=_message_row,
    queries=("project_history_messages",),
    tables={"history_message": ("channel", "message_id")},
)
