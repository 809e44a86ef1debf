"""Drain the PostgreSQL work queue: claim a batch, parse, project, dequeue, commit."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
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
from processors.values import SummaryNotes
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
# Errors a retry may mend (SQLSTATE classes and codes): serialization failures and
# deadlocks, resource shortages, a lock or statement timeout, I/O trouble. Any other
# failure is our own bug (bad data is caught before PostgreSQL): it waits for a fix
# and `wabahook failed retry` / `replay --failed` instead of retrying on its own.
TRANSIENT_CLASSES = ("40", "53", "58")
TRANSIENT_CODES = frozenset({"55P03", "57014"})
MAX_ERROR_CHARS = 500
_NUMBER = re.compile(r"(?<=\s)\d+")  # offsets and sizes, not "UTF-8"

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
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an event could not be projected this time, and whether a retry may help."""

    error: str
    transient: bool


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
    notes: SummaryNotes = field(default_factory=SummaryNotes)
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
        self.notes.add_all(batch.notes)
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
        project_isolated(conn, events)
        done = [e for e in events if e.failure is None]
        record_results(conn, done)
        conn.execute(query("dequeue"), {"ids": [e.raw_event_id for e in done]})
        for event in events:
            if event.failure is not None:
                _record_failure(conn, event, event.failure)
    _count(stats, events)
    stats.last_batch_size = len(rows)
    stats.last_batch_seconds = time.perf_counter() - started
    return len(rows)


def project_isolated(
    conn: Connection, events: Sequence[Claimed], schema: str = LIVE_SCHEMA
) -> None:
    """Project the parsed events so that a failing one fails alone (setting its `failure`).

    Bodies jsonb refuses become rejected. Items are staged once; events that failed
    before are then projected one by one, the others together, and a group whose
    projection fails is split into about its square root of smaller groups,
    recursively, so that a few failures cost a few cheap extra statements rather
    than one transaction per event.
    """
    ensure_stage_tables(conn)
    conn.execute(query("clear_stage_tables"))
    good = [e for e in events if e.parsed is not None and e.failure is None]
    if not good:
        return
    _load_docs(conn, good)
    good = [e for e in good if e.parsed is not None]
    try:
        with conn.transaction():
            stage(conn, good)
    except psycopg.errors.Error as exc:
        if _is_connection_error(exc):
            raise
        # Values COPY refuses (a bug of ours): stage each group with its projection.
        log.warning("staging failed, staging group by group", extra={"error": _line(exc)})
        staged_all = False
    else:
        staged_all = True
    suspects = [e for e in good if e.attempts > 0]
    first = [e for e in good if e.attempts == 0]
    for group in [first, *([e] for e in suspects)]:
        if group:
            _project_group(conn, group, schema, staged_all, whole=len(group) == len(good))
    if any(e.failure is not None for e in good):
        conn.execute(query("unindex_stage_tables"))


def _load_docs(conn: Connection, events: Sequence[Claimed]) -> None:
    """Stage the documents of `events`; a body jsonb refuses makes its event rejected."""
    times = [e.received_at for e in events]
    params = {"ids": [e.raw_event_id for e in events], "since": min(times), "until": max(times)}
    try:
        with conn.transaction():
            conn.execute(query("load_docs"), params)
    except psycopg.errors.Error as exc:
        if _is_connection_error(exc):
            raise
        refused = {
            row["raw_event_id"]: row["error"]
            for row in conn.execute(query("load_docs_checked"), params).fetchall()
        }
        for event in events:
            if event.raw_event_id in refused:
                event.parsed = None
                event.rejection = "PostgreSQL jsonb refuses it: " + _clean(
                    refused[event.raw_event_id]
                )


def _project_group(
    conn: Connection,
    group: Sequence[Claimed],
    schema: str,
    staged_all: bool,
    whole: bool = False,
) -> None:
    """Project `group` in a savepoint; on failure split it until each failure is alone."""
    try:
        if staged_all:
            # Savepoint, projections and release in one round trip.
            with conn.pipeline(), conn.transaction():
                project(conn, group, schema, only=None if whole else group)
        else:
            with conn.transaction():
                conn.execute(query("clear_stage_tables"))
                stage(conn, group)
                with conn.pipeline():
                    project(conn, group, schema)
        return
    except psycopg.errors.Error as exc:
        if _is_connection_error(exc):
            raise
        error = Failure(_line(exc), transient=_is_transient(exc))
    except Exception as exc:  # our own bug: that event fails, its siblings go on
        log.exception("projection raised", extra={"events": len(group)})
        error = Failure("internal error: " + _line(exc), transient=False)
    if len(group) == 1:
        group[0].failure = error
        return
    if whole and staged_all:
        conn.execute(query("index_stage_tables"))
    size = min(len(group) - 1, math.ceil(math.sqrt(len(group))))
    for start in range(0, len(group), size):
        _project_group(conn, group[start : start + size], schema, staged_all)


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
        event.parsed = parse(event.body, event.received_at)
    except Rejected as exc:
        event.rejection = str(exc)
    except Exception as exc:  # a bug of ours must not halt the queue: this event fails alone
        log.exception("parser raised", extra={"raw_event_id": event.raw_event_id})
        event.failure = Failure("internal error: " + _line(exc), transient=False)
    return event


def ensure_stage_tables(conn: Connection) -> None:
    """Create this connection's temporary staging tables once."""
    if conn not in _staged:
        conn.execute(query("create_stage_tables"))
        _staged.add(conn)


def stage(conn: Connection, events: Sequence[Claimed]) -> None:
    """COPY the parsed items of `events` into the staging tables (documents are staged)."""
    parsed = [(e, e.parsed) for e in events if e.parsed is not None]
    staged: dict[str, list[tuple[Any, ...]]] = {
        "COPY stage_message (raw_event_id, channel, message_id, wa_id, type, sent_at,"
        " phone_number_id, text, context_message_id, contact_name, path) FROM STDIN": [
            (e.raw_event_id, e.channel, m.message_id, m.wa_id, m.type, m.sent_at,
             m.phone_number_id, m.text, m.context_message_id, m.contact_name, _path(m.path))
            for e, p in parsed for m in p.messages
        ],
        "COPY stage_status (raw_event_id, channel, message_id, status, status_at,"
        " phone_number_id, recipient_id, conversation_id, conversation_category,"
        " pricing_category, pricing_model, billable, error_codes, path) FROM STDIN": [
            (e.raw_event_id, e.channel, s.message_id, s.status, s.status_at, s.phone_number_id,
             s.recipient_id, s.conversation_id, s.conversation_category, s.pricing_category,
             s.pricing_model, s.billable, _int_array(s.error_codes), _path(s.path))
            for e, p in parsed for s in p.statuses
        ],
        "COPY stage_error (raw_event_id, channel, position, code, title, path) FROM STDIN": [
            (e.raw_event_id, e.channel, err.position, err.code, err.title, _path(err.path))
            for e, p in parsed for err in p.errors
        ],
    }  # fmt: skip
    with conn.cursor() as cur:
        for statement, rows in staged.items():
            if rows:  # an empty COPY is still a round trip
                with cur.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)


def project(
    conn: Connection,
    events: Sequence[Claimed],
    schema: str = LIVE_SCHEMA,
    only: Sequence[Claimed] | None = None,
) -> None:
    """Write the staged items into `schema`'s projections: those of `only`, else all."""
    has = {
        "messages": any(e.parsed and e.parsed.messages for e in events),
        "statuses": any(e.parsed and e.parsed.statuses for e in events),
        "errors": any(e.parsed and e.parsed.errors for e in events),
    }
    names = tuple(name for items, name in PROJECTION_QUERIES if has[items])
    if names:
        ids = None if only is None else [e.raw_event_id for e in only]
        conn.execute(projections_statement(names, schema), {"ids": ids})


PROJECTION_QUERIES = (
    ("messages", "project_messages"),
    ("messages", "project_contacts"),
    ("statuses", "project_statuses"),
    ("statuses", "project_deliveries"),
    ("errors", "project_errors"),
)


@functools.cache
def projections_statement(names: tuple[str, ...], schema: str) -> sql.Composed:
    """The named projection queries as one statement (one plan, one round trip).

    Each reads only the staging tables, so they are independent: as data-modifying
    WITH clauses they all run to completion, on one snapshot.
    """
    clauses = [
        sql.SQL("{} AS ({})").format(sql.Identifier(name), projection_query(name, schema))
        for name in names
    ]
    return sql.SQL("WITH {} SELECT 1").format(sql.SQL(", ").join(clauses))


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


def _record_failure(conn: Connection, event: Claimed, failure: Failure) -> None:
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


def _count(stats: DrainStats, events: Sequence[Claimed]) -> None:
    stats.batches += 1
    for event in events:
        if event.failure is not None:
            stats.failed += 1
        elif event.parsed is None:
            stats.rejected += 1
            stats.rejections[rejection_kind(event.rejection)] += 1
        else:
            stats.processed += 1
            stats.messages += len(event.parsed.messages)
            stats.statuses += len(event.parsed.statuses)
            stats.errors += len(event.parsed.errors)
            stats.notes.add_all(event.parsed.notes)


def _is_connection_error(exc: psycopg.Error) -> bool:
    """Lost connections and server shutdowns end the batch; anything else is per event."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def rejection_kind(reason: str | None) -> str:
    """The kind of a rejection, for counting and metric labels: a small, fixed set."""
    return _NUMBER.sub("N", (reason or "unknown").split(":")[0])


def _is_transient(exc: psycopg.Error) -> bool:
    """Whether a retry of the same event may succeed."""
    state = exc.sqlstate or ""
    return state[:2] in TRANSIENT_CLASSES or state in TRANSIENT_CODES


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return _clean(text.splitlines()[0] if text else type(exc).__name__)


def _clean(text: str) -> str:
    """An error line fit to store and show: no NUL (text refuses it), bounded length."""
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
