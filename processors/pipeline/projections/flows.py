"""WhatsApp Flows notifications (field flows): flow_events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection
from processors.pipeline.projections.accounts import ORIGIN_COLUMNS, Origin
from processors.pipeline.reading import Reading, free_text_of, text_of


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """One notification about a Flow: its status changed, or an endpoint's health."""

    origin: Origin
    flow_id: str | None
    flow_name: str | None
    event: str | None  # FLOW_STATUS_CHANGE, ENDPOINT_ERROR_RATE, ... (kept as text)
    old_status: str | None
    new_status: str | None


def read_flow_events(event: Reading, change: Change) -> Iterator[FlowEvent]:
    """The one flow event of a `flows` change (the value, kept whole as details)."""
    value = change.value
    yield FlowEvent(
        origin=Origin.of(change),
        flow_id=text_of(event, value, "flow_id"),
        flow_name=free_text_of(event, value, "flow_name"),
        event=text_of(event, value, "event"),
        old_status=text_of(event, value, "old_status"),
        new_status=text_of(event, value, "new_status"),
    )


def _row(f: Any) -> tuple[Any, ...]:
    return (*f.origin.row(), f.flow_id, f.flow_name, f.event, f.old_status, f.new_status)


PROJECTION = Projection(
    name="flow_events",
    fields=frozenset({"flows"}),
    read=read_flow_events,
    stage_table="stage_flow_event",
    columns=(*ORIGIN_COLUMNS, "flow_id", "flow_name", "event", "old_status", "new_status"),
    row=_row,
    queries=("project_flow_events",),
    tables={"flow_event": ("channel", "dedup_key")},
)
