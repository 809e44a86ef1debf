"""Retention per channel: a channel's stored bodies past its retention are deleted."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import sql

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
    held: int  # of those, still to be read by a drain or the relay: they wait
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
    """What each channel's retention deletes now and next (`every`: channels without one too)."""
    params = {"window": WINDOW, "channel": channel, "every": every}
    with db.connection() as conn:
        rows = conn.execute(_held("channel_retention"), params).fetchall()
    return [ChannelRetention(**row) for row in rows]


def due(db: Database) -> list[tuple[str, datetime, int]]:
    """Each channel with a retention: its name, its cutoff, and how many events precede it."""
    with db.connection() as conn:
        channels = conn.execute(query("retention_channels")).fetchall()
        return [
            (row["channel"], row["cutoff"], conn.execute(
                query("retention_due_count"), row).fetchone()["events"])  # type: ignore[index]
            for row in channels
        ]  # fmt: skip


def apply(
    db: Database,
    channel: str,
    cutoff: datetime,
    *,
    deadline: float | None = None,
    on_batch: Callable[[int], None] = lambda deleted: None,
) -> int:
    """Delete `channel`'s events received before `cutoff`, but those held, a batch per
    transaction, until `deadline` (time.monotonic()) at the latest; how many went."""
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
            pass_gate(conn)
            locked = conn.execute(
                _held("retention_lock_batch"),
                {"channel": channel, "cutoff": cutoff, "limit": BATCH},
            ).fetchall()
            # Looked at again, in a statement of its own: what was queued meanwhile stays.
            gone = conn.execute(_held("retention_delete_locked"), {
                "ids": [row["id"] for row in locked],
                "times": [row["received_at"] for row in locked]}).rowcount  # fmt: skip
        deleted += gone
        on_batch(len(locked))
        if len(locked) < BATCH:
            break
    return deleted


def apply_all(db: Database, *, deadline: float | None = None) -> dict[str, int]:
    """Apply every channel's retention (see `apply`); events deleted per channel."""
    channels = db.fetch_all("retention_channels")
    return {row["channel"]: apply(db, row["channel"], row["cutoff"], deadline=deadline)
            for row in channels}  # fmt: skip


def shown_age(age: timedelta) -> str:
    """A retention as written: 90d, 36h, 90m (the largest unit that divides it)."""
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _held(name: str) -> sql.Composed:
    """The named query with the events held back (retention_held) composed in."""
    return query(name).format(held=query("retention_held"))
