"""A 360dialog partner's own events (channel_created, channel_ready, account_violation...)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, label_of, text_of, time_of
from processors.pipeline.values import integer

# What 360dialog names the time of an event, in the order they are tried.
TIME_KEYS = ("timestamp", "created_at", "updated_at")
# An ISO 8601 time as text ("2026-03-01T10:00:00Z"): anything far longer is none.
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ][0-9:.]{5,18}(?:Z|[+-]\d\d(?::?\d\d)?)?")


@dataclass(frozen=True, slots=True)
class PartnerEvent:
    """One event a partner's webhook URL received."""

    event_id: str | None  # the body's `id`: the key that makes a repeat one row
    event: str | None  # kept as text, whatever 360dialog adds
    client_id: str | None
    phone_number: str | None
    status: str | None
    event_at: int | None
    path: Path  # of its data (the whole body when it is flat)


def read_partner_events(event: Reading, change: Change) -> Iterator[PartnerEvent]:
    """The one event of a partner delivery, wrapped `{"id", "event", "data"}` or flat."""
    document = change.value
    data = document.get("data")
    wrapped = isinstance(data, dict)
    fields = data if isinstance(data, dict) else document
    yield PartnerEvent(
        event_id=text_of(event, document, "id") or None,
        event=text_of(event, document, "event"),
        client_id=label_of(event, fields, "client_id")
        or label_of(event, fields.get("client"), "id"),
        phone_number=label_of(event, fields, "phone_number"),
        status=label_of(event, fields, "status") or label_of(event, fields, "fb_account_status"),
        event_at=_time(event, fields, document),
        path=(*change.path, "data") if wrapped else change.path,
    )


def _time(event: Reading, *sources: dict[str, Any]) -> int | None:
    """The event's time: unix seconds, or ISO 8601 text; else None (received_at stands)."""
    for source in sources:
        for key in TIME_KEYS:
            value = source.get(key)
            if value is None:
                continue
            if isinstance(value, str) and integer(value) is None:
                return _iso_time(event, value)
            return time_of(event, value, "partner_event")
    return None


def _iso_time(event: Reading, text: str) -> int | None:
    if _ISO_TIME.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return time_of(event, int(moment.timestamp()), "partner_event")
    event.notes.add("not_a_time:partner_event")
    return None


def _row(p: Any) -> tuple[Any, ...]:
    return (p.event_id, p.event, p.client_id, p.phone_number, p.status, p.event_at,
            comma_path(p.path))  # fmt: skip


PROJECTION = Projection(
    name="partner_events",
    fields=frozenset({"partner_event"}),
    read=read_partner_events,
    stage_table="stage_partner_event",
    columns=("event_id", "event", "client_id", "phone_number", "status", "event_at", "path"),
    row=_row,
    queries=("project_partner_events",),
    tables={"partner_event": ("channel", "dedup_key")},
)
