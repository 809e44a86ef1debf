"""Replay: put stored events back on the queue; projections converge, never double."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from processors.stored.selection import Selection
from receiver.config import MAINTENANCE_SECONDS
from receiver.db import Database
from receiver.queries import query


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """How many events of which channel and state a selection holds."""

    counts: dict[tuple[str, str], int]

    @property
    def total(self) -> int:
        """All selected events."""
        return sum(self.counts.values())


def plan(db: Database, selection: Selection) -> ReplayPlan:
    """What `replay` would re-queue (for --dry-run)."""
    rows = db.fetch_all("replay_plan", selection.params())
    return ReplayPlan({(row["channel"], row["state"]): row["events"] for row in rows})


def replay(db: Database, selection: Selection) -> tuple[str, int]:
    """Queue the selected events again (due now); returns the replay's id and its size."""
    marker = uuid.uuid4().hex
    with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
        row = conn.execute(query("replay"), {**selection.params(), "marker": marker}).fetchone()
        return marker, int(row["queued"]) if row else 0


def remaining(db: Database, marker: str) -> tuple[int, int]:
    """(still queued, failed) events of a replay."""
    row = db.fetch_one("replay_remaining", {"marker": marker})
    assert row is not None
    return row["queued"], row["failed"]
