"""Figures for `wabahook stats` and `wabahook report`, read from the analytics views."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processors.operations import Operations, plain, read_operations
from processors.pipeline.queue_health import queue_health
from receiver.db import Database


@dataclass(slots=True)
class Summary:
    """The last `days` days (UTC), for one channel or all, one business number or all."""

    days: int
    channel: str | None
    phone_number_id: str | None = None
    funnel: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    intake: list[dict[str, Any]] = field(default_factory=list)
    queue: dict[str, Any] = field(default_factory=dict)
    operations: Operations = field(default_factory=Operations)
    # The relay's health, per destination (all channels: a destination may take several).
    destinations: list[dict[str, Any]] = field(default_factory=list)
    # Username-only recipients, groups created and suspended, group delivery per participant.
    people_groups: dict[str, Any] = field(default_factory=dict)
    # From Click-to-WhatsApp ads, by day: conversations started, leads, purchases.
    ads: list[dict[str, Any]] = field(default_factory=list)
    # Coexistence history syncs with news in the period, per channel and business number.
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, Any]:
        """The funnel and intake summed over the period."""
        sent = sum(row["sent"] for row in self.funnel)
        delivered = sum(row["delivered"] for row in self.funnel)
        read = sum(row["read"] for row in self.funnel)
        return {
            "sent": sent,
            "delivered": delivered,
            "read": read,
            "failed": sum(row["failed"] for row in self.funnel),
            "delivered_rate": round(delivered / sent, 4) if sent else None,
            "read_rate": round(read / delivered, 4) if delivered else None,
            "requests": sum(row["requests"] for row in self.intake),
            "duplicate_deliveries": sum(row["duplicate_deliveries"] for row in self.intake),
            "rejected": sum(row["rejected"] for row in self.intake),
            "failed_events": sum(row["failed"] for row in self.intake),
        }

    def as_json(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "days": self.days,
            "channel": self.channel,
            "phone_number_id": self.phone_number_id,
            "totals": self.totals,
            "funnel": [plain(row) for row in self.funnel],
            "latency": plain(self.latency),
            "failures": [plain(row) for row in self.failures],
            "queue": self.queue,
            "operations": self.operations.as_json(),
            "destinations": [plain(row) for row in self.destinations],
            "people_and_groups": plain(self.people_groups),
            "from_ads": [plain(row) for row in self.ads],
            "history_syncs": [plain(row) for row in self.history],
        }


def summarize(
    db: Database,
    days: int,
    channel: str | None = None,
    top: int = 10,
    phone_number_id: str | None = None,
) -> Summary:
    """Read the period's funnel, latency, top failures and intake health.

    With `phone_number_id`, what notifications tie to a number is that number's only;
    intake stays per channel, since one delivery may carry several numbers.
    """
    params = {"days": days, "channel": channel, "phone_number_id": phone_number_id}
    latency = db.fetch_one("latency_period", params) or {}
    return Summary(
        days=days,
        channel=channel,
        phone_number_id=phone_number_id,
        funnel=[dict(row) for row in db.fetch_all("funnel_period", params)],
        latency=dict(latency),
        failures=[dict(row) for row in db.fetch_all("failures_period", {**params, "limit": top})],
        intake=[dict(row) for row in db.fetch_all("intake_period", params)],
        queue=queue_health(db),
        operations=read_operations(db, days, channel, phone_number_id),
        destinations=[dict(row) for row in db.fetch_all("destinations_health_all")],
        people_groups=dict(db.fetch_one("people_groups_period", params) or {}),
        ads=[dict(row) for row in db.fetch_all("ads_period", params)],
        history=[dict(row) for row in db.fetch_all("history_period", params)],
    )


def latency_samples(
    db: Database, days: int, channel: str | None = None, phone_number_id: str | None = None
) -> list[dict[str, Any]]:
    """Per-message latencies of the period (at most 50,000, newest first)."""
    params = {"days": days, "channel": channel, "phone_number_id": phone_number_id}
    return [dict(row) for row in db.fetch_all("latency_samples", params)]


def knows_phone_number(db: Database, phone_number_id: str, channel: str | None = None) -> bool:
    """Whether a notification (of `channel`, when given) named this business number."""
    row = db.fetch_one(
        "known_phone_number", {"phone_number_id": phone_number_id, "channel": channel}
    )
    return bool(row and row["known"])
