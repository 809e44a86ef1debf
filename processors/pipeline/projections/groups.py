"""Groups API notifications: every `groups[]` item (group_events), folded into `groups`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, indexed, label_of, time_of

GROUP_FIELDS = frozenset(
    {
        "group_lifecycle_update",
        "group_participants_update",
        "group_settings_update",
        "group_status_update",
    }
)


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """One `groups[]` item: something done to a group, or tried and failed."""

    field: str  # which of GROUP_FIELDS
    group_id: str | None
    type: str | None  # group_create, group_delete, group_suspend, group_participants_add, ...
    request_id: str | None
    reason: str | None
    initiated_by: str | None
    succeeded: bool  # no `errors` on the item (a setting may still have failed: see groups)
    event_at: int | None  # the item's timestamp (else entry.time)
    waba_id: str | None
    phone_number_id: str | None
    path: Path


def read_group_events(event: Reading, change: Change) -> Iterator[GroupEvent]:
    """The `groups[]` items of a Groups API change."""
    for index, item in indexed(event, change.value, "groups"):
        errors = item.get("errors")
        yield GroupEvent(
            field=change.field,
            group_id=label_of(event, item, "group_id") or None,
            type=label_of(event, item, "type"),
            request_id=label_of(event, item, "request_id"),
            reason=label_of(event, item, "reason"),
            initiated_by=label_of(event, item, "initiated_by"),
            succeeded=not errors,
            event_at=time_of(event, item.get("timestamp"), "group") or change.entry_time,
            waba_id=change.waba_id,
            phone_number_id=change.phone_number_id,
            path=(*change.path, "groups", str(index)),
        )


def _row(g: Any) -> tuple[Any, ...]:
    return (g.field, g.group_id, g.type, g.request_id, g.reason, g.initiated_by, g.succeeded,
            g.event_at, g.waba_id, g.phone_number_id, comma_path(g.path))  # fmt: skip


PROJECTION = Projection(
    name="group_events",
    fields=GROUP_FIELDS,
    read=read_group_events,
    stage_table="stage_group_event",
    columns=(
        "field",
        "group_id",
        "type",
        "request_id",
        "reason",
        "initiated_by",
        "succeeded",
        "event_at",
        "waba_id",
        "phone_number_id",
        "path",
    ),
    row=_row,
    queries=("project_group_events",),
    tables={"group_event": ("channel", "dedup_key")},
)
