"""Retention per channel: a channel's stored bodies past its retention are deleted."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from processors.channels import ChannelError, validate_name
from processors.stored.retention import pass_gate
from receiver.config import MAINTENANCE_SECONDS
from receiver.db import Database
from receiver.queries import query

# Events deleted per transaction: each batch holds its rows' locks only briefly, and
# intake (new rows, other partitions' pages) never waits for it.
BATCH = 5_000
# Shorter ones would delete events the sender may still retry and a drain has yet to read.
SHORTEST = timedelta(days=1)
# How far ahead "soon" looks (the console's "next to go").
WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ChannelRetention:
    """One channel's retention and what it drops now and next."""

    channel: str
    retention: timedelta | None  # None: kept until whole months go
    cutoff: datetime | None
    due: int  # received before the cutoff
    held: int  # of those, still queued or to be relayed: they wait
    soon: int  # pass the cutoff within WINDOW
    next_at: datetime | None  # when the next one does (None: none within WINDOW)
    oldest_at: datetime | None  # its oldest stored event (None: it has none)


def set_retention(db: Database, name: str, retention: timedelta | None) -> None:
    """Set channel `name`'s retention (None: kept until whole months go)."""
    validate_name(name)
    if retention is not None and retention < SHORTEST:
        raise ChannelError("a retention is at least 1d: the sender retries for days")
    if db.fetch_one("set_retention", {"name": name, "retention": retention}) is None:
        raise ChannelError(f"no channel named {name!r}")


def status(db: Database, channel: str | None = None, every: bool = False) -> list[ChannelRetention]:
    """Every channel with a retention (`every`: every channel; or `channel` alone): what
    is due and what is next."""
    params = {"window": WINDOW, "channel": channel, "every": every}
    rows = db.fetch_all("channel_retention", params)
    return [ChannelRetention(**row) for row in rows]


def apply(
    db: Database,
    due: ChannelRetention,
    *,
    deadline: float | None = None,
    on_batch: Callable[[int], None] = lambda deleted: None,
) -> int:
    """Delete `due`'s events received before its cutoff, a batch per transaction, until
    none is left (those held wait for the next run) or `deadline` (time.monotonic())
    passes; returns how many went. The cutoff stays the one `due` was read with."""
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
            pass_gate(conn)
            rows = conn.execute(
                query("retention_delete_batch"),
                {"channel": due.channel, "cutoff": due.cutoff, "limit": BATCH},
            ).fetchall()
        deleted += len(rows)
        on_batch(len(rows))
        if len(rows) < BATCH:
            break
    return deleted


def apply_all(db: Database, *, deadline: float | None = None) -> dict[str, int]:
    """Apply every channel's retention (see `apply`); events deleted per channel."""
    return {due.channel: apply(db, due, deadline=deadline) for due in status(db) if due.due}


def describe(age: timedelta) -> str:
    """90 days, 36 hours: a retention as it was most likely written."""
    if age % timedelta(days=1):
        return f"{age.total_seconds() / 3600:g} hours"
    return f"{age.days} day{'' if age.days == 1 else 's'}"
