"""Drain the PostgreSQL work queue: claim a batch, parse, project, dequeue, commit."""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from processors.parse import ParsedEvent, Rejected, parse
from receiver.db import Database
from receiver.queries import query

log = logging.getLogger("wabahook.drain")

LIVE_SCHEMA = "wabahook"
BATCH_SIZE = 1000
# Parallel transactions per drain: Python parses one batch while PostgreSQL writes another.
LANES = 2
MAX_ATTEMPTS = 8
# A failing event waits 10 s, 20 s, 40 s ... (at most an hour) before its next attempt.
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600

Connection = psycopg.Connection[DictRow]
_staged: weakref.WeakSet[Connection] = weakref.WeakSet()


@dataclass(slots=True)
class Claimed:
    """One claimed queue row with its stored delivery (None when no longer stored)."""

    raw_event_id: int
    received_at: datetime
    attempts: int
    channel: str | None
    body: bytes | None
    parsed: ParsedEvent | None = None
    rejection: str | None = None


@dataclass(slots=True)
class DrainStats:
    """What a drain did."""

    batches: int = 0
    processed: int = 0
    rejected: int = 0
    failed: int = 0
    messages: int = 0
    statuses: int = 0
    errors: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)  # by reason, first clause
    last_batch_size: int = 0
    last_batch_seconds: float = 0.0

    def add(self, batch: DrainStats) -> None:
        """Fold one batch's figures into these."""
        self.batches += batch.batches
        self.processed += batch.processed
        self.rejected += batch.rejected
        self.failed += batch.failed
        self.messages += batch.messages
        self.statuses += batch.statuses
        self.errors += batch.errors
        self.notes.update(batch.notes)
        self.rejections.update(batch.rejections)
        self.last_batch_size = batch.last_batch_size
        self.last_batch_seconds = batch.last_batch_seconds

    @property
    def events(self) -> int:
        """Events taken off the queue or marked failed."""
        return self.processed + self.rejected + self.failed

    def as_dict(self) -> dict[str, Any]:
        """For logs and `--json`."""
        return {
            "batches": self.batches,
            "processed": self.processed,
            "rejected": self.rejected,
            "failed": self.failed,
            "messages": self.messages,
            "statuses": self.statuses,
            "errors": self.errors,
            "notes": dict(self.notes),
        }


def drain(
    db: Database,
    *,
    batch_size: int = BATCH_SIZE,
    time_budget: float | None = None,
    on_batch: Callable[[DrainStats], None] | None = None,
    stats: DrainStats | None = None,
    lanes: int = LANES,
) -> DrainStats:
    """Process batches until the queue has nothing due (or the time budget is spent).

    With several lanes, batches run in parallel transactions on their own
    connections: one lane parses in Python while another waits for PostgreSQL.
    """
    stats = stats if stats is not None else DrainStats()
    deadline = None if time_budget is None else time.monotonic() + time_budget
    lock = threading.Lock()
    errors: list[BaseException] = []

    def lane() -> None:
        try:
            while not errors and (deadline is None or time.monotonic() < deadline):
                batch = DrainStats()
                claimed = drain_batch(db, batch, batch_size)
                with lock:
                    stats.add(batch)
                    if on_batch is not None and claimed:
                        on_batch(stats)
                if claimed < batch_size:
                    return
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    if lanes <= 1:
        lane()
    else:
        threads = [threading.Thread(target=lane, name=f"drain-lane-{n}") for n in range(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return stats


def drain_batch(db: Database, stats: DrainStats, batch_size: int = BATCH_SIZE) -> int:
    """Claim, project and dequeue one batch in one transaction; return how many were claimed."""
    started = time.perf_counter()
    with db.transaction(timeout=300) as conn:
        rows = conn.execute(query("claim_events"), {"limit": batch_size}).fetchall()
        if not rows:
            return 0
        events = [classify(row) for row in rows]
        failures = project_isolated(conn, events)
        done = [e for e in events if e.raw_event_id not in failures]
        record_results(conn, done)
        conn.execute(query("dequeue"), {"ids": [e.raw_event_id for e in done]})
        for event in events:
            if event.raw_event_id in failures:
                _record_failure(conn, event, failures[event.raw_event_id])
    _count(stats, events, failures)
    stats.last_batch_size = len(rows)
    stats.last_batch_seconds = time.perf_counter() - started
    return len(rows)


def project_isolated(
    conn: Connection, events: Sequence[Claimed], schema: str = LIVE_SCHEMA
) -> dict[int, str]:
    """Project the parsed events; if that fails, one by one. Returns {event id: error}."""
    good = [e for e in events if e.parsed is not None]
    failures: dict[int, str] = {}
    ensure_stage_tables(conn)
    try:
        with conn.transaction():
            project(conn, good, schema)
    except psycopg.errors.Error as exc:
        if _is_connection_error(exc):
            raise
        # Someone in the batch is poison: project one by one so the rest commit.
        log.warning("batch projection failed, isolating events", extra={"error": _line(exc)})
        for event in good:
            try:
                with conn.transaction():
                    project(conn, [event], schema)
            except psycopg.errors.Error as single:
                if _is_connection_error(single):
                    raise
                failures[event.raw_event_id] = _line(single)
    return failures


def classify(row: DictRow) -> Claimed:
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
    try:
        event.parsed = parse(event.body)
    except Rejected as exc:
        event.rejection = str(exc)
    return event


def ensure_stage_tables(conn: Connection) -> None:
    """Create this connection's temporary staging tables once."""
    if conn not in _staged:
        conn.execute(query("create_stage_tables"))
        _staged.add(conn)


def project(conn: Connection, events: Sequence[Claimed], schema: str = LIVE_SCHEMA) -> None:
    """Write the projections of `events` into `schema`: COPY into staging, one INSERT each."""
    conn.execute(query("clear_stage_tables"))
    if not events:
        return
    times = [e.received_at for e in events]
    conn.execute(
        query("load_docs"),
        {"ids": [e.raw_event_id for e in events], "since": min(times), "until": max(times)},
    )
    parsed = [(e, e.parsed) for e in events if e.parsed is not None]
    staged = {
        "COPY stage_message (raw_event_id, channel, message_id, wa_id, type, sent_at,"
        " phone_number_id, text, context_message_id, contact_name, path) FROM STDIN": (
            (e.raw_event_id, e.channel, m.message_id, m.wa_id, m.type, m.sent_at,
             m.phone_number_id, m.text, m.context_message_id, m.contact_name, _path(m.path))
            for e, p in parsed for m in p.messages
        ),
        "COPY stage_status (raw_event_id, channel, message_id, status, status_at,"
        " phone_number_id, recipient_id, conversation_id, conversation_category,"
        " pricing_category, pricing_model, billable, error_codes, path) FROM STDIN": (
            (e.raw_event_id, e.channel, s.message_id, s.status, s.status_at, s.phone_number_id,
             s.recipient_id, s.conversation_id, s.conversation_category, s.pricing_category,
             s.pricing_model, s.billable, _int_array(s.error_codes), _path(s.path))
            for e, p in parsed for s in p.statuses
        ),
        "COPY stage_error (raw_event_id, channel, position, code, title, path) FROM STDIN": (
            (e.raw_event_id, e.channel, err.position, err.code, err.title, _path(err.path))
            for e, p in parsed for err in p.errors
        ),
    }  # fmt: skip
    with conn.cursor() as cur:
        for statement, rows in staged.items():
            with cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
    for name in (
        "project_messages",
        "project_contacts",
        "project_statuses",
        "project_deliveries",
        "project_errors",
    ):
        conn.execute(projection_query(name, schema))


def projection_query(name: str, schema: str) -> sql.Composed:
    """A named projection query writing into the tables of `schema`."""
    return query(name).format(projections=sql.Identifier(schema))


def record_results(conn: Connection, events: Sequence[Claimed], schema: str = LIVE_SCHEMA) -> None:
    """Store each event's outcome (processed or rejected) in `schema`.event_results."""
    if not events:
        return
    with conn.cursor() as cur:
        cur.execute("TRUNCATE stage_result")
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


def _path(path: tuple[str, ...]) -> str:
    # Path steps are our own keys and array indices: never a comma among them.
    return ",".join(path)


def _int_array(values: tuple[int, ...]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _record_failure(conn: Connection, event: Claimed, error: str) -> None:
    delay = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2**event.attempts)
    conn.execute(
        query("record_failure"),
        {"id": event.raw_event_id, "error": error, "delay": delay, "max_attempts": MAX_ATTEMPTS},
    )
    log.warning(
        "event failed",
        extra={"raw_event_id": event.raw_event_id, "attempt": event.attempts + 1, "error": error},
    )


def _count(stats: DrainStats, events: Sequence[Claimed], failures: dict[int, str]) -> None:
    stats.batches += 1
    for event in events:
        if event.raw_event_id in failures:
            stats.failed += 1
        elif event.parsed is None:
            stats.rejected += 1
            stats.rejections[(event.rejection or "unknown").split(":")[0]] += 1
        else:
            stats.processed += 1
            stats.messages += len(event.parsed.messages)
            stats.statuses += len(event.parsed.statuses)
            stats.errors += len(event.parsed.errors)
            stats.notes.update(event.parsed.notes)


def _is_connection_error(exc: psycopg.Error) -> bool:
    """Lost connections and server shutdowns end the batch; anything else is per event."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
