"""Business numbers a channel delivers: each phone number id, its WABA and display number."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from processors.pipeline.model import Change, Projection
from processors.pipeline.reading import Reading, label_of
from processors.pipeline.values import integer

# The change fields whose value names the business number in `metadata`.
FIELDS_WITH_METADATA = frozenset({"messages", "user_preferences", "smb_message_echoes", "calls"})
# The lists of those values whose items carry a `timestamp`: when the number was in use.
TIMED_LISTS = ("messages", "statuses", "user_preferences", "message_echoes", "calls")


@dataclass(frozen=True, slots=True)
class NumberSighting:
    """One change that named a business number (phone number id) under a WABA."""

    phone_number_id: str
    waba_id: str  # "" when the entry had no id
    display_phone_number: str | None
    first_at: int | None  # the earliest and latest time its items carry (else entry.time)
    last_at: int | None


def read_numbers(event: Reading, change: Change) -> Iterator[NumberSighting]:
    """The business number a change's `metadata` names, if any (On-Premise bodies name none)."""
    if change.phone_number_id is None:
        return
    # Times the sender wrote, never when we received it: a re-delivery changes nothing.
    # Read quietly: what is wrong with these lists is noted by the projections that own them.
    times = [
        at
        for key in TIMED_LISTS
        if isinstance(listed := change.value.get(key), list)
        for item in listed
        if isinstance(item, dict)
        and (at := integer(item.get("timestamp"))) is not None
        and at in event.window
    ] or ([change.entry_time] if change.entry_time is not None else [])
    yield NumberSighting(
        phone_number_id=change.phone_number_id,
        waba_id=change.waba_id or "",
        display_phone_number=label_of(event, change.value.get("metadata"), "display_phone_number"),
        first_at=min(times, default=None),
        last_at=max(times, default=None),
    )


def _row(n: NumberSighting) -> tuple[str, str, str | None, int | None, int | None]:
    return (n.phone_number_id, n.waba_id, n.display_phone_number, n.first_at, n.last_at)


PROJECTION = Projection(
    name="numbers",
    fields=FIELDS_WITH_METADATA,
    read=read_numbers,
    stage_table="stage_number",
    columns=("phone_number_id", "waba_id", "display_phone_number", "first_at", "last_at"),
    row=_row,
    queries=("project_numbers",),
    tables={"phone_number": ("channel", "phone_number_id", "waba_id")},
)
