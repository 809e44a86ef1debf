"""Retention: drop whole months of raw events; deduplication keys and projections stay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from receiver.config import MAINTENANCE_SECONDS
from receiver.db import Database
from receiver.queries import query


class RetentionError(Exception):
    """A partition cannot be dropped yet; the message says why."""


@dataclass(frozen=True, slots=True)
class Month:
    """One monthly partition of raw_events."""

    name: str
    lower_bound: datetime
    upper_bound: datetime
    events: int
    queued: int


def expired(db: Database, cutoff: datetime) -> list[Month]:
    """Partitions whose every event was received before `cutoff`."""
    months = []
    with db.connection(timeout=MAINTENANCE_SECONDS) as conn:
        for row in conn.execute(query("raw_event_partitions")).fetchall():
            if row["upper_bound"] > cutoff:
                continue
            counts = conn.execute(
                query("partition_counts").format(partition=sql.Identifier("wabahook", row["name"])),
                {"lower": row["lower_bound"], "upper": row["upper_bound"]},
            ).fetchone()
            assert counts is not None
            months.append(
                Month(
                    row["name"],
                    row["lower_bound"],
                    row["upper_bound"],
                    counts["events"],
                    counts["queued"],
                )
            )
    return months


def drop(db: Database, months: list[Month], force: bool = False) -> None:
    """Detach and drop the partitions; refuse ones with queued events unless `force`."""
    waiting = [m.name for m in months if m.queued]
    if waiting and not force:
        raise RetentionError(
            f"{', '.join(waiting)} still hold queued events; drain them first, or use --force"
        )
    for month in months:
        with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
            partition = sql.Identifier("wabahook", month.name)
            conn.execute(query("detach_partition").format(partition=partition))
            conn.execute(query("drop_partition").format(partition=partition))
