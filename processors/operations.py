"""What `stats` and `report` show an operator: templates, numbers, accounts, opt-outs, pricing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from processors import utc
from receiver.db import Database

# Rows per list: enough to act on, few enough to read in a terminal.
LIST_LIMIT = 20


@dataclass(slots=True)
class Operations:
    """The operations sections of a summary: each a list of rows from the public views."""

    templates: list[dict[str, Any]] = field(default_factory=list)  # needing attention, now
    numbers: list[dict[str, Any]] = field(default_factory=list)  # quality and limit changes
    accounts: list[dict[str, Any]] = field(default_factory=list)  # alerts and restrictions
    opt_outs: dict[str, int] = field(default_factory=dict)  # stopped, stopped_by_error, resumed
    pricing: list[dict[str, Any]] = field(default_factory=list)  # by day, category and type
    failure_classes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pricing_totals(self) -> list[dict[str, Any]]:
        """Messages of the period by pricing category and type, most first."""
        totals: dict[tuple[str | None, str | None], int] = {}
        for row in self.pricing:
            key = (row["pricing_category"], row["pricing_type"])
            totals[key] = totals.get(key, 0) + row["messages"]
        return [
            {"pricing_category": category, "pricing_type": kind, "messages": messages}
            for (category, kind), messages in sorted(
                totals.items(), key=lambda item: (-item[1], str(item[0]))
            )
        ]

    def as_json(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "templates_needing_attention": [plain(row) for row in self.templates],
            "phone_number_events": [plain(row) for row in self.numbers],
            "account_events": [plain(row) for row in self.accounts],
            "opt_outs": dict(self.opt_outs),
            "pricing": [plain(row) for row in self.pricing],
            "failure_classes": [plain(row) for row in self.failure_classes],
        }


def read_operations(
    db: Database, days: int, channel: str | None = None, phone_number_id: str | None = None
) -> Operations:
    """Read the operations sections of the last `days` days (UTC), one channel or all.

    With `phone_number_id`: that number's, and the WABA-level facts of its WABAs.
    """
    params = {
        "days": days,
        "channel": channel,
        "phone_number_id": phone_number_id,
        "limit": LIST_LIMIT,
    }
    opt_outs = db.fetch_one("opt_outs_period", params) or {}
    return Operations(
        templates=[dict(row) for row in db.fetch_all("templates_needing_attention", params)],
        numbers=[dict(row) for row in db.fetch_all("phone_number_events_period", params)],
        accounts=[dict(row) for row in db.fetch_all("account_events_period", params)],
        opt_outs={key: int(value or 0) for key, value in opt_outs.items()},
        pricing=[dict(row) for row in db.fetch_all("pricing_period", params)],
        failure_classes=[dict(row) for row in db.fetch_all("failure_classes_period", params)],
    )


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON takes it: dates and times in ISO 8601 (times in UTC, Z), decimals as floats."""
    out = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = utc.iso(value, fraction=True)
        elif isinstance(value, date):
            value = value.isoformat()
        elif value is not None and not isinstance(value, (int, float, str, bool, dict, list)):
            value = float(value)  # Decimal
        out[key] = value
    return out
