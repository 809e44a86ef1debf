"""The work queue as operators see it: what waits, what failed, how old the oldest is."""

from __future__ import annotations

from typing import Any

from receiver.db import Database

# Queued events older than this were not nudged (Redis down, nudge lost): sweep them.
STALE_AFTER_SECONDS = 2.0


def queue_health(db: Database) -> dict[str, Any]:
    """Counts of queued, failed, stale and due events, and the oldest queued age."""
    row = db.fetch_one("queue_health", {"stale_after": STALE_AFTER_SECONDS})
    assert row is not None
    oldest = row["oldest_queued_seconds"]
    return {
        "queued": row["queued"],
        "failed": row["failed"],
        "stale": row["stale"],
        "retries_due": row["retries_due"],
        "oldest_queued_seconds": float(oldest) if oldest is not None else None,
    }
