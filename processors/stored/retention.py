"""Retention: drop whole months of raw events (deduplication keys and projections stay),
and the gate that keeps any retention from deleting while a rebuild runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import psycopg
from psycopg import errors, sql
from psycopg.rows import DictRow

from receiver.config import MAINTENANCE_SECONDS
from receiver.db import Database
from receiver.errors import WabahookError
from receiver.queries import query

# Detaching takes raw_events' ACCESS EXCLUSIVE lock, and every intake INSERT queues
# behind a DETACH waiting for it: a wait must stay far below the receiver's 1.5 s.
LOCK_WAIT = "100ms"
# Tries, paused so that the queued INSERTs go through in between: about four seconds
# outlast a short reader (a console search) but not a pg_dump, which is reported.
LOCK_TRIES = 10
LOCK_PAUSE_SECONDS = 0.3


class RetentionError(WabahookError):
    """A partition cannot be dropped yet; the message says why."""


@dataclass(frozen=True, slots=True)
class Month:
    """One monthly partition of raw_events."""

    name: str
    lower_bound: datetime
    upper_bound: datetime
    events: int
    held: int  # a drain or the relay has yet to read them


def expired(db: Database, cutoff: datetime) -> list[Month]:
    """Partitions whose every event was received before `cutoff`."""
    months = []
    with db.connection(timeout=MAINTENANCE_SECONDS) as conn:
        for row in conn.execute(query("raw_event_partitions")).fetchall():
            if row["upper_bound"] > cutoff:
                continue
            events, held = _counts(conn, row["name"], row["lower_bound"], row["upper_bound"], True)
            months.append(Month(row["name"], row["lower_bound"], row["upper_bound"], events, held))
    return months


def _counts(
    conn: psycopg.Connection[DictRow], name: str, lower: datetime, upper: datetime, every: bool
) -> tuple[int, int]:
    """(events, held) of the month named; events 0 unless `every`."""
    counts = conn.execute(
        query("partition_counts").format(partition=sql.Identifier("wabahook", name)),
        {"lower": lower, "upper": upper, "all": every},
    ).fetchone()
    assert counts is not None
    return int(counts["events"]), int(counts["held"])


def check(months: list[Month], force: bool = False) -> None:
    """RetentionError if a month holds events still to be read, unless `force`."""
    waiting = [m.name for m in months if m.held]
    if waiting and not force:
        raise RetentionError(
            f"{', '.join(waiting)} still hold events a drain or the relay has yet to read;"
            " drain them first and let the relay catch up, or use --force"
        )


def drop(
    db: Database,
    months: list[Month],
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Detach and drop the partitions (see `check`), each in its own transaction: those
    dropped before a busy one stay dropped."""
    check(months, force)
    for month in months:
        _drop_partition(db, month, force, sleep)


def _drop_partition(
    db: Database, month: Month, force: bool, sleep: Callable[[float], None]
) -> None:
    """Drop one partition within LOCK_TRIES short lock waits, else a RetentionError."""
    for attempt in range(LOCK_TRIES):
        if attempt:
            sleep(LOCK_PAUSE_SECONDS)
        if _try_drop(db, month, force):
            return
    raise RetentionError(f"partition {month.name} busy ({_holder(db, month.name)})")


def _try_drop(db: Database, month: Month, force: bool) -> bool:
    """Detach and drop in one transaction if its locks come within LOCK_WAIT; else False.
    Detached, its held events are counted again (a replay may have queued one since) and
    it is kept if any, unless `force`: a count of the few rows that can hold one, since
    intake waits on raw_events' lock meanwhile."""
    partition = sql.Identifier("wabahook", month.name)
    with db.connection(timeout=MAINTENANCE_SECONDS) as conn:
        try:
            with conn.transaction():
                pass_gate(conn)
                conn.execute(query("local_lock_timeout"), {"timeout": LOCK_WAIT})
                conn.execute(query("detach_partition").format(partition=partition))
                if not force:
                    _, held = _counts(conn, month.name, month.lower_bound, month.upper_bound, False)
                    check([replace(month, held=held)])
                conn.execute(query("drop_partition").format(partition=partition))
        except errors.LockNotAvailable:
            return False
    return True


def detached_months(db: Database) -> list[str]:
    """Months of raw events no longer attached (by hand): erasure cannot reach them."""
    return [row["name"] for row in db.fetch_all("detached_months")]


def check_gate(db: Database) -> None:
    """RetentionError if a rebuild is under way (before a long run begins)."""
    with db.transaction() as conn:
        pass_gate(conn)


def pass_gate(conn: psycopg.Connection[DictRow]) -> None:
    """Let this transaction delete raw events, else RetentionError: a rebuild runs."""
    row = conn.execute(query("retention_gate")).fetchone()
    if row is None or not row["open"]:
        raise RetentionError("a rebuild is under way: run retention again once it has ended")


def _holder(db: Database, name: str) -> str:
    """Who holds a lock the DETACH of partition `name` needs, for the operator."""
    row = db.fetch_one("partition_lock_holder", {"partition": name})
    if row is None:  # it let go between the last try and this look
        return "its holder has just let go: run again"
    return f"held by pid {row['pid']}"
