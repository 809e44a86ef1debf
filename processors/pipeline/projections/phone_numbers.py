"""Phone-number notifications: quality and messaging limits, display names, usernames
(phone_number_events)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.pipeline.model import Change, Projection
from processors.pipeline.projections.accounts import ORIGIN_COLUMNS, Origin
from processors.pipeline.reading import Reading, free_text_of, text_of

# The business username webhook, under each name Meta has given it (the plural is the
# current one); the first, December 2025 form has other keys (decision, requested_username).
USERNAME_FIELDS = frozenset(
    {"business_username_updates", "business_username_update", "phone_number_username_update"}
)
PHONE_NUMBER_FIELDS = frozenset(
    {"phone_number_quality_update", "phone_number_name_update", *USERNAME_FIELDS}
)


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
    username: str | None = None  # the business's username (username updates)


def read_phone_number_events(event: Reading, change: Change) -> Iterator[PhoneNumberEvent]:
    """The one phone-number event of a quality or name update."""
    value = change.value
    if change.field in USERNAME_FIELDS:
        yield read_username_event(event, change)
        return
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


def read_username_event(event: Reading, change: Change) -> PhoneNumberEvent:
    """A business username approved, reserved or deleted (`status`), or, in the first
    form of the webhook, a requested username's `decision` (lower-cased)."""
    value = change.value
    decision = text_of(event, value, "decision")
    reasons = value.get("rejection_reasons")
    return PhoneNumberEvent(
        origin=Origin.of(change),
        display_phone_number=text_of(event, value, "display_phone_number"),
        event=text_of(event, value, "status") or (decision.lower() if decision else None),
        old_limit=None,
        current_limit=None,
        max_daily_conversations=None,
        requested_name=None,
        rejection_reason=", ".join(r for r in reasons if isinstance(r, str)) or None
        if isinstance(reasons, list)
        else free_text_of(event, value, "rejection_reason"),
        username=text_of(event, value, "username") or text_of(event, value, "requested_username"),
    )


def _row(p: Any) -> tuple[Any, ...]:
    return (*p.origin.row(), p.display_phone_number, p.event, p.old_limit, p.current_limit,
            p.max_daily_conversations, p.requested_name, p.rejection_reason,
            p.username)  # fmt: skip


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
        "username",
    ),
    row=_row,
    queries=("project_phone_number_events",),
    tables={"phone_number_event": ("channel", "dedup_key")},
)
