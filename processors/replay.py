"""Replay: put stored events back on the queue; projections converge, never double."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg import sql

from processors.selection import Selection
from receiver.config import MAINTENANCE_SECONDS
from receiver.db import Database


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
    where, params = selection.where()
    statement = (
        sql.SQL("SELECT channel, state, count(*) AS events FROM wabahook.raw_event_log")
        + where
        + sql.SQL(" GROUP BY channel, state ORDER BY channel, state")
    )
    with db.connection() as conn:
        rows = conn.execute(statement, params).fetchall()
    return ReplayPlan({(row["channel"], row["state"]): row["events"] for row in rows})


def replay(db: Database, selection: Selection) -> tuple[str, int]:
    """Queue the selected events again (due now); returns the replay's id and its size."""
    marker = uuid.uuid4().hex
    where, params = selection.where()
    statement = (
        sql.SQL(
            "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel, replay)"
            " SELECT raw_event_id, received_at, channel, %(marker)s FROM wabahook.raw_event_log"
        )
        + where
        + sql.SQL(
            " ON CONFLICT (raw_event_id) DO UPDATE"
            " SET not_before = now(), last_error = NULL, replay = excluded.replay"
        )
    )
    with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
        cursor = conn.execute(statement, {**params, "marker": marker})
        return marker, cursor.rowcount


def remaining(db: Database, marker: str) -> tuple[int, int]:
    """(still queued, failed) events of a replay."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE last_error IS NULL) AS queued,"
            " count(*) FILTER (WHERE last_error IS NOT NULL) AS failed"
            " FROM wabahook.event_queue WHERE replay = %s",
            [marker],
        ).fetchone()
    assert row is not None
    return row["queued"], row["failed"]
