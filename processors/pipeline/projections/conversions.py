"""Click-to-WhatsApp ad conversions Meta detected (field automatic_events): ad_conversions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Path, Reading, indexed, label_of, object_of, time_of

# A purchase value as numeric(20, 4) takes it (rounded half up to 4 places, as
# PostgreSQL rounds): larger, or not a number, is noted and dropped.
MAX_VALUE = Decimal("1e16")
PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Conversion:
    """One `automatic_events[]` item: a lead or purchase detected in an ad's conversation."""

    message_id: str  # the message it was detected in
    event_name: str  # LeadSubmitted, Purchase, or whatever Meta names next (kept as text)
    ctwa_clid: str | None  # the ad click, as in the first message's referral
    value: Decimal | None  # custom_data.value (a purchase's)
    currency: str | None
    event_at: int
    waba_id: str | None
    phone_number_id: str | None
    path: Path


def read_conversions(event: Reading, change: Change) -> Iterator[Conversion]:
    """Each item; one without id, event name or time is dropped (noted)."""
    for index, item in indexed(event, change.value, "automatic_events"):
        message_id = label_of(event, item, "id") or None
        event_name = label_of(event, item, "event_name") or None
        event_at = time_of(event, item.get("timestamp"), "automatic_event")
        if message_id is None or event_name is None or event_at is None:
            event.notes.add("automatic_event_without_id_name_or_timestamp")
            continue
        data = object_of(event, item, "custom_data")
        yield Conversion(
            message_id=message_id,
            event_name=event_name,
            ctwa_clid=label_of(event, item, "ctwa_clid") or None,
            value=amount_of(event, data.get("value")),
            currency=label_of(event, data, "currency") or None,
            event_at=event_at,
            waba_id=change.waba_id,
            phone_number_id=change.phone_number_id,
            path=(*change.path, "automatic_events", str(index)),
        )


def amount_of(event: Reading, value: Any) -> Decimal | None:
    """A purchase value: a JSON number or numeric string that fits numeric(20, 4), rounded
    to its 4 places; anything else is noted and dropped. No arithmetic runs on a value
    before its size is known: an exponent of a million digits is refused, not computed."""
    if value is None or isinstance(value, bool):
        return None
    amount: Decimal | None = None
    try:
        if isinstance(value, int | float | str):
            amount = Decimal(str(value))
        if amount is not None and amount.is_finite() and amount.adjusted() < 16:
            amount = amount.quantize(PLACES, rounding=ROUND_HALF_UP)
        else:
            amount = None
    except ArithmeticError:  # InvalidOperation, Overflow...: not a value we can keep
        amount = None
    if amount is None or abs(amount) >= MAX_VALUE:
        event.notes.add("unreadable:custom_data.value")
        return None
    return amount


def _row(c: Any) -> tuple[Any, ...]:
    return (c.message_id, c.event_name, c.ctwa_clid, c.value, c.currency, c.event_at, c.waba_id,
            c.phone_number_id, comma_path(c.path))  # fmt: skip


PROJECTION = Projection(
    name="conversions",
    fields=frozenset({"automatic_events"}),
    read=read_conversions,
    stage_table="stage_ad_conversion",
    columns=(
        "message_id",
        "event_name",
        "ctwa_clid",
        "value",
        "currency",
        "event_at",
        "waba_id",
        "phone_number_id",
        "path",
    ),
    row=_row,
    queries=("project_ad_conversions",),
    tables={"ad_conversion": ("channel", "message_id", "event_name", "event_at")},
)
