"""Drain the PostgreSQL work queue: claim a batch, parse, project, dequeue, commit.

What a drain did is a DrainResult (processors.pipeline.drain_result); what became of
each event is recorded by processors.pipeline.outcomes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psycopg.rows import DictRow

from processors.pipeline.batch import LIVE_SCHEMA, Claimed, Connection, Failure, ensure_stage_tables
from processors.pipeline.deadline import parse_lane
from processors.pipeline.drain_result import DrainResult
from processors.pipeline.isolation import line, project_isolated
from processors.pipeline.outcomes import record_failure, record_results, reject_overrun
from processors.pipeline.parse import Rejected, parse  # looked up here: tests replace it
from processors.pipeline.people import link_people
from receiver.config import BATCH_SECONDS
from receiver.db import Database
from receiver.queries import query

# DrainResult and reject_overrun live in modules of their own; callers (the CLI, many
# tests) import them from here, with the rest of the drain.
__all__ = [
    "BATCH_SIZE",
    "LANES",
    "LIVE_SCHEMA",
    "Connection",
    "DrainResult",
    "classify",
    "drain",
    "drain_batch",
    "process",
    "record_results",
    "reject_overrun",
    "run_lanes",
]

log = logging.getLogger("wabahook.drain")

BATCH_SIZE = 1000
# Parallel transactions per drain: Python parses one batch while PostgreSQL writes another.
LANES = 2


def drain(
    db: Database,
    *,
    batch_size: int = BATCH_SIZE,
    time_budget: float | None = None,
    on_batch: Callable[[DrainResult], None] | None = None,
    lanes: int = LANES,
) -> DrainResult:
    """Process batches until the queue has nothing due (or the time budget is spent).

    With several lanes, batches run in parallel transactions on their own
    connections: one lane parses in Python while another waits for PostgreSQL.
    `on_batch` sees each batch's result, one at a time.
    """
    totals = DrainResult()
    deadline = None if time_budget is None else time.monotonic() + time_budget
    lock = threading.Lock()

    def lane(failed: threading.Event) -> None:
        nonlocal totals
        while not failed.is_set() and (deadline is None or time.monotonic() < deadline):
            result = drain_batch(db, batch_size)
            if result.claimed:
                with lock:
                    totals += result
                    if on_batch is not None:
                        on_batch(result)
            if result.claimed < batch_size:
                return

    run_lanes(lane, lanes, "drain-lane")
    return totals


def run_lanes(lane: Callable[[threading.Event], None], lanes: int, name: str) -> None:
    """Run `lane` on `lanes` threads at once (in this thread when one) and wait for them.

    A lane that raises sets the event every lane is given, so that the others stop after
    their current batch; the first error is raised here, in the caller's thread.
    """
    failed = threading.Event()
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            lane(failed)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
            failed.set()

    if lanes <= 1:
        guarded()
    else:
        threads = [threading.Thread(target=guarded, name=f"{name}-{n}") for n in range(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def drain_batch(db: Database, batch_size: int = BATCH_SIZE) -> DrainResult:
    """Claim, project and dequeue one batch in one transaction; return what it did."""
    started = time.perf_counter()
    with db.connection(timeout=BATCH_SECONDS) as conn:
        ensure_stage_tables(conn)  # committed on its own: a rolled-back batch keeps them
        with conn.transaction():
            conn.execute(query("swap_gate"))
            rows = conn.execute(query("claim_events"), {"limit": batch_size}).fetchall()
            if not rows:
                return DrainResult()
            events = process(conn, rows)
            done = [e for e in events if e.failure is None]
            # Before the facts, which carry person ids. It may wait for another lane's
            # join; a lane only ever waits on a join after its projections, and a joining
            # lane waits on nothing but the rows of lanes that do not join, so no two
            # lanes wait on each other.
            link_people(conn, LIVE_SCHEMA)
            queue_facts(conn, [e.raw_event_id for e in done])
            conn.execute(query("dequeue"), {"ids": [e.raw_event_id for e in done]})
            for event in events:
                if event.failure is not None:
                    record_failure(conn, event, event.failure)
    return DrainResult.of(events, time.perf_counter() - started)


def process(conn: Connection, rows: Sequence[DictRow], schema: str = LIVE_SCHEMA) -> list[Claimed]:
    """Parse, project and record the outcome of `rows` in `schema`: the drain's and rebuild's step.

    Returns the events; those with a `failure` were not projected and have no result.
    """
    rows = redact_redeliveries(conn, rows)
    events = []
    with parse_lane() as parsing:  # the batch deadline watches this lane while it parses
        for row in rows:
            parsing(row["raw_event_id"])
            events.append(classify(row))
    project_isolated(conn, events, schema)
    record_results(conn, [e for e in events if e.failure is None], schema)
    return events


def redact_redeliveries(conn: Connection, rows: Sequence[DictRow]) -> list[dict[str, Any]]:
    """`rows`, a sender's retry of an erased delivery rewritten (stored and here) to what
    the erasure made of those bytes, before anything reads it."""
    stored = [r for r in rows if r["body"] is not None]
    if not stored or not _any_erasure(conn):
        return list(rows)
    rewritten = {
        row["raw_event_id"]: row
        for row in conn.execute(query("redact_redeliveries"), {
            "ids": [r["raw_event_id"] for r in stored],
            "since": min(r["received_at"] for r in stored),
            "until": max(r["received_at"] for r in stored)}).fetchall()
    }  # fmt: skip
    if not rewritten:
        return list(rows)
    return [{**r, **rewritten.get(r["raw_event_id"], {})} for r in rows]


def _any_erasure(conn: Connection) -> bool:
    row = conn.execute(query("any_erasure")).fetchone()
    return row is not None and bool(row["found"])


def queue_facts(conn: Connection, ids: list[int]) -> None:
    """Queue the facts these events were projected into for every `facts` destination, in
    the batch's transaction (the relay sends them). Drains only, not a rebuild. A replay's
    drain queues nothing twice (a fact goes once to a destination, whichever event
    carried it); a destination added since gets the replayed facts."""
    row = conn.execute(query("relay_facts_wanted")).fetchone()
    if row is not None and row["wanted"]:
        if ids:
            conn.execute(query("relay_queue_facts"), {"ids": ids})
        # Even when every event failed: the join may have taken links an earlier batch left.
        conn.execute(query("relay_queue_person_facts"))


def classify(row: Mapping[str, Any]) -> Claimed:
    """A claimed row with its body parsed, or the reason it can never be."""
    event = Claimed(
        raw_event_id=row["raw_event_id"],
        received_at=row["received_at"],
        attempts=row["attempts"],
        channel=row["channel"],
        body=bytes(row["body"]) if row["body"] is not None else None,
    )
    if event.body is None:
        event.rejection = "the raw event is no longer stored"
        return event
    if row.get("carried_rejection"):  # a rebuild's event that overran the batch deadline
        event.rejection = row["carried_rejection"]
        return event
    try:
        event.parsed = parse(event.body, event.received_at)
    except Rejected as exc:
        event.rejection = str(exc)
    except Exception as exc:  # a bug of ours must not halt the queue: this event fails alone
        log.exception("parser raised", extra={"raw_event_id": event.raw_event_id})
        event.failure = Failure("internal error: " + line(exc), transient=False)
    return event
