"""Account-level notifications (account_events), and the origin every management event shares.

Management fields (templates, phone numbers, the account) carry no message id: an
event is named by where it came from (`Origin`) and deduplicated in SQL on
(channel, waba_id, field, subject, event, entry.time), or on (channel, body, position
among the body's changes) when the body has no `entry.time` (wabahook.management_key).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from processors.pipeline.model import Change, Projection, comma_path
from processors.pipeline.reading import Reading, object_of, text_of

ACCOUNT_FIELDS = frozenset(
    {
        "account_update", "account_alerts", "business_capability_update", "security",
        "account_review_update", "account_settings_update", "partner_solutions",
        "payment_configuration_update",
    }
)  # fmt: skip
# Staged before each projection's own columns, in this order.
ORIGIN_COLUMNS = ("waba_id", "phone_number_id", "field", "position", "entry_time", "path")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a management event came from: its change, and so its dedup key's parts."""

    waba_id: str | None
    phone_number_id: str | None
    field: str
    position: int
    entry_time: int | None
    path: str  # of the change's value (the event's details), as comma_path

    @classmethod
    def of(cls, change: Change) -> Origin:
        """The origin of the events of `change`."""
        return cls(change.waba_id, change.phone_number_id, change.field, change.position,
                   change.entry_time, comma_path(change.path))  # fmt: skip

    def row(self) -> tuple[Any, ...]:
        """The staged values of ORIGIN_COLUMNS."""
        return (self.waba_id, self.phone_number_id, self.field, self.position,
                self.entry_time, self.path)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """One notification about the business account (its state, alerts, limits, security)."""

    origin: Origin
    event: str | None
    severity: str | None
    entity_type: str | None
    entity_id: str | None  # what an alert is about (the subject of its dedup key)
    alert_status: str | None
    display_phone_number: str | None


def read_account_events(event: Reading, change: Change) -> Iterator[AccountEvent]:
    """The one account event of an account-level change (every value is one event)."""
    value = change.value
    alert = object_of(event, value, "alert_info")
    origin = Origin.of(change)
    # A partner's events come under the partner's id (entry.id): the WABA they are about
    # is waba_info.waba_id.
    if waba_id := text_of(event, object_of(event, value, "waba_info"), "waba_id"):
        origin = replace(origin, waba_id=waba_id)
    yield AccountEvent(
        origin=origin,
        # business_capability_update has no event; alerts name theirs in alert_info, a
        # review its decision.
        event=text_of(event, value, "event")
        or text_of(event, alert, "alert_type")
        or text_of(event, value, "decision"),
        severity=text_of(event, alert, "alert_severity"),
        entity_type=text_of(event, value, "entity_type"),
        entity_id=text_of(event, value, "entity_id"),
        alert_status=text_of(event, alert, "alert_status"),
        # security names the number whose PIN changed: the subject of its dedup key
        display_phone_number=text_of(event, value, "display_phone_number"),
    )


def _row(a: Any) -> tuple[Any, ...]:
    return (*a.origin.row(), a.event, a.severity, a.entity_type, a.entity_id, a.alert_status,
            a.display_phone_number)  # fmt: skip


PROJECTION = Projection(
    name="account_events",
    fields=ACCOUNT_FIELDS,
    read=read_account_events,
    stage_table="stage_account_event",
    columns=(
        *ORIGIN_COLUMNS,
        "event",
        "severity",
        "entity_type",
        "entity_id",
        "alert_status",
        "display_phone_number",
    ),
    row=_row,
    queries=("project_account_events",),
    tables={"account_event": ("channel", "dedup_key")},
)
