"""What became of claimed events, recorded: each one's result, a failure's retry, an overrun."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from psycopg.rows import dict_row

from processors.pipeline.batch import (
    LIVE_SCHEMA,
    Claimed,
    Connection,
    Failure,
    ensure_stage_tables,
    projection_query,
)
from processors.pipeline.deadline import DEADLINE_REJECTION
from receiver.config import Secret
from receiver.db import connect
from receiver.queries import query

# The drain's logger: a failed event is logged as part of the drain that met it.
log = logging.getLogger("wabahook.drain")

MAX_ATTEMPTS = 8
# A failing event waits 10 s, 20 s, 40 s ... (at most an hour) before its next attempt.
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600


def record_results(conn: Connection, events: Sequence[Claimed], schema: str = LIVE_SCHEMA) -> None:
    """Store each event's outcome (processed or rejected) in `schema`.event_results."""
    if not events:
        return
    with conn.cursor() as cur:
        cur.execute("DELETE FROM stage_result")  # not TRUNCATE: see clear_stage_payload
        with cur.copy(
            "COPY stage_result (raw_event_id, channel, received_at, state, error, format,"
            " attempts, notes) FROM STDIN"
        ) as copy:
            for e in events:
                copy.write_row(
                    (
                        e.raw_event_id,
                        e.channel or "",
                        e.received_at,
                        "processed" if e.parsed is not None else "rejected",
                        e.rejection,
                        e.parsed.format if e.parsed is not None else None,
                        e.attempts + 1,
                        json.dumps(dict(e.parsed.notes) if e.parsed else {}),
                    )
                )
        cur.execute(projection_query("record_results", schema))


def record_failure(conn: Connection, event: Claimed, failure: Failure) -> None:
    """Keep `event` queued with its error: retried after a wait that doubles each attempt,
    or held for `wabahook failed retry` when permanent or out of attempts."""
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** min(event.attempts, 20))
    conn.execute(
        query("record_failure"),
        {
            "id": event.raw_event_id,
            "error": failure.error,
            "delay": delay,
            "max_attempts": MAX_ATTEMPTS,
            "permanent": not failure.transient,
        },
    )
    log.warning(
        "event failed",
        extra={
            "raw_event_id": event.raw_event_id,
            "attempt": event.attempts + 1,
            "error": failure.error,
            "retry": failure.transient,
        },
    )


# The supervising parent's statements may wait this long for the killed child's
# transactions to be rolled back.
OVERRUN_DB_SECONDS = 30


def reject_overrun(database_url: Secret, event_id: int) -> bool:
    """Record queued event `event_id` rejected for overrunning the batch deadline.

    For the parent of a killed drain (processors.pipeline.deadline), which has no pool:
    one connection, waiting for the lock until PostgreSQL has rolled the child's batch
    back. False when the event is no longer queued.
    """
    seconds = f"{OVERRUN_DB_SECONDS}s"
    options = f"-c lock_timeout={seconds} -c statement_timeout={seconds}"
    with connect(database_url.reveal(), row_factory=dict_row, options=options) as conn:
        ensure_stage_tables(conn)
        with conn.transaction():
            row = conn.execute(query("claim_event"), {"id": event_id}).fetchone()
            if row is None:
                return False
            event = Claimed(
                raw_event_id=row["raw_event_id"],
                received_at=row["received_at"],
                attempts=row["attempts"],
                channel=row["channel"],
                body=None,
                rejection=DEADLINE_REJECTION,
            )
            record_results(conn, [event])
            conn.execute(query("dequeue"), {"ids": [event_id]})
    return True
