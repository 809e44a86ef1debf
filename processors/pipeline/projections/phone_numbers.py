"""Phone-number notifications: quality and messaging limits, display names (phone_number_events)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection
from processors.pipeline.projections.accounts import ORIGIN_COLUMNS, Origin
from processors.pipeline.reading import Reading, free_text_of, text_of

PHONE_NUMBER_FIELDS = frozenset({"phone_number_quality_update", "phone_number_name_update"})


@dataclass(frozen=True, slots=True)
class PhoneNumberEvent:
    """One notification about a business phone number."""

    origin: Origin
    display_phone_number: str | None
    event: str | None  # quality: `event`; name updates: `decision`
    old_limit: str | None
    current_limit: str | None
    max_daily_conversations: str | None  # a tier name, or a number sent as one
    requested_name: str | None
    rejection_reason: str | None


def read_phone_number_events(event: Reading, change: Change) -> Iterator[PhoneNumberEvent]:
    """The one phone-number event of a quality or name update."""
    value = change.value
    name_update = change.field == "phone_number_name_update"
    yield PhoneNumberEvent(
        origin=Origin.of(change),
        display_phone_number=text_of(event, value, "display_phone_number"),
        event=text_of(event, value, "decision" if name_update else "event"),
        old_limit=text_of(event, value, "old_limit"),
        current_limit=text_of(event, value, "current_limit"),
        max_daily_conversations=text_of(event, value, "max_daily_conversations_per_business"),
        requested_name=free_text_of(event, value, "requested_verified_name"),
        rejection_reason=free_text_of(event, value, "rejection_reason"),
    )


def _row(p: Any) -> tuple[Any, ...]:
    return (*p.origin.row(), p.display_phone_number, p.event, p.old_limit, p.current_limit,
            p.max_daily_conversations, p.requested_name, p.rejection_reason)  # fmt: skip


PROJECTION = Projection(
    name="phone_number_events",
    fields=PHONE_NUMBER_FIELDS,
    read=read_phone_number_events,
    stage_table="stage_phone_number_event",
    columns=(
        *ORIGIN_COLUMNS,
        "display_phone_number",
        "event",
        "old_limit",
        "current_limit",
        "max_daily_conversations",
        "requested_name",
        "rejection_reason",
    ),
    row=_row,
    queries=("project_phone_number_events",),
    tables={"phone_number_event": ("channel", "dedup_key")},
)
