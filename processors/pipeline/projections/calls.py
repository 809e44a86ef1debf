"""Business Calling: every call notification (call_events), and each call derived from them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, indexed, label_of, time_of
from processors.pipeline.values import INT32_MAX, integer, string


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One call notification: a `calls[]` connect/terminate, or a `statuses[]` call status."""

    call_id: str
    event: str  # connect, terminate, or the status of a `statuses[]` item (RINGING...)
    at: int
    status: str | None
    direction: str | None
    caller: str | None  # `from`
    callee: str | None  # `to` (a status's recipient_id)
    started_at: int | None
    ended_at: int | None
    duration: int | None  # seconds
    biz_opaque_callback_data: str | None
    waba_id: str | None
    phone_number_id: str | None
    path: Path
    errors_path: Path | None  # the change's value, when it lists errors of its own


def read_calls(event: Reading, change: Change) -> Iterator[CallEvent]:
    """The call notifications of a `calls` change; one without id, event or time is noted."""
    errors_path = change.path if isinstance(change.value.get("errors"), list) else None
    for key in ("calls", "statuses"):
        for index, item in indexed(event, change.value, key):
            path = (*change.path, key, str(index))
            if (read := read_call(event, item, path, change, errors_path)) is not None:
                yield read


def read_call(
    event: Reading, item: dict[str, Any], path: Path, change: Change, errors_path: Path | None
) -> CallEvent | None:
    """One `calls[]` or `statuses[]` item (by the key of its list, path[-2])."""
    is_status = path[-2] == "statuses"
    call_id = label_of(event, item, "id") or None
    status = label_of(event, item, "status") or None
    kind = status if is_status else label_of(event, item, "event") or None
    at = time_of(event, item.get("timestamp"), "call")
    if call_id is None or kind is None or at is None:
        event.notes.add("call_without_id_event_or_timestamp")
        return None
    return CallEvent(
        call_id=call_id,
        event=kind,
        at=at,
        status=status,
        direction=label_of(event, item, "direction"),
        caller=None if is_status else label_of(event, item, "from"),
        callee=label_of(event, item, "recipient_id" if is_status else "to"),
        started_at=time_of(event, item.get("start_time"), "call_start"),
        ended_at=time_of(event, item.get("end_time"), "call_end"),
        duration=duration_of(event, item.get("duration")),
        biz_opaque_callback_data=string(item.get("biz_opaque_callback_data")),
        waba_id=change.waba_id,
        phone_number_id=change.phone_number_id,
        path=path,
        errors_path=errors_path,
    )


def duration_of(event: Reading, value: Any) -> int | None:
    """A call's duration in whole seconds, fitting `integer`; anything else is noted."""
    if value is None:
        return None
    seconds = integer(value)
    if seconds is None or not 0 <= seconds <= INT32_MAX:
        event.notes.add("implausible_call_duration")
        return None
    return seconds


def _row(c: Any) -> tuple[Any, ...]:
    errors_path = None if c.errors_path is None else comma_path(c.errors_path)
    return (c.call_id, c.event, c.at, c.status, c.direction, c.caller, c.callee, c.started_at,
            c.ended_at, c.duration, c.biz_opaque_callback_data, c.waba_id, c.phone_number_id,
            comma_path(c.path), errors_path)  # fmt: skip


PROJECTION = Projection(
    name="calls",
    fields=frozenset({"calls"}),
    read=read_calls,
    stage_table="stage_call",
    columns=(
        "call_id",
        "event",
        "at",
        "status",
        "direction",
        "caller",
        "callee",
        "started_at",
        "ended_at",
        "duration",
        "biz_opaque_callback_data",
        "waba_id",
        "phone_number_id",
        "path",
        "errors_path",
    ),
    row=_row,
    queries=("project_calls",),
    tables={"call_event": ("channel", "call_id", "event", "at")},
)
