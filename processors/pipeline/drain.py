"""Drain the PostgreSQL work queue: claim a batch, parse, project, dequeue, commit."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from psycopg.rows import DictRow, dict_row

from processors.pipeline.batch import (
    LIVE_SCHEMA,
    Claimed,
    Connection,
    Failure,
    ensure_stage_tables,
    projection_query,
)
from processors.pipeline.deadline import DEADLINE_REJECTION, parse_lane
from processors.pipeline.isolation import line, project_isolated
from processors.pipeline.parse import Rejected, parse
from processors.pipeline.projections import REGISTRY
from processors.pipeline.values import SummaryNotes
from receiver.config import BATCH_SECONDS, Secret
from receiver.db import Database, connect
from receiver.queries import query

__all__ = [
    "BATCH_SIZE",
    "LIVE_SCHEMA",
    "Connection",
    "DrainResult",
    "classify",
    "drain",
    "drain_batch",
    "process",
    "record_results",
]

log = logging.getLogger("wabahook.drain")

BATCH_SIZE = 1000
# Parallel transactions per drain: Python parses one batch while PostgreSQL writes another.
LANES = 2
MAX_ATTEMPTS = 8
# A failing event waits 10 s, 20 s, 40 s ... (at most an hour) before its next attempt.
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
_NUMBER = re.compile(r"(?<=\s)\d+")  # offsets and sizes, not "UTF-8"


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What one batch did, or (added up with +) several: a value, never changed."""

    batches: int = 0
    claimed: int = 0
    seconds: float = 0.0
    processed: int = 0
    rejected: int = 0
    failed: int = 0
    # Items projected, by projection: {"messages": 3, "statuses": 7, "errors": 0}.
    items: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    notes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    rejections: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, events: Sequence[Claimed], seconds: float) -> DrainResult:
        """The result of a batch whose events were classified and projected."""
        counts: Counter[str] = Counter()
        items: Counter[str] = Counter({projection.name: 0 for projection in REGISTRY})
        rejections: Counter[str] = Counter()
        notes = SummaryNotes()
        for event in events:
            if event.failure is not None:
                counts["failed"] += 1
            elif event.parsed is None:
                counts["rejected"] += 1
                rejections[rejection_kind(event.rejection)] += 1
            else:
                counts["processed"] += 1
                for projection in REGISTRY:
                    items[projection.name] += len(event.parsed.of(projection.name))
                notes.add_all(event.parsed.notes)
        return cls(
            batches=1,
            claimed=len(events),
            seconds=seconds,
            items=MappingProxyType(dict(items)),
            notes=MappingProxyType(dict(notes)),
            rejections=MappingProxyType(dict(rejections)),
            **counts,
        )

    def __add__(self, other: DrainResult) -> DrainResult:
        notes = SummaryNotes()  # still bounded, however many batches are added up
        for part in (self.notes, other.notes):
            notes.add_all(Counter(part))
        return DrainResult(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in fields(self)
                if f.name not in ("items", "notes", "rejections")
            },
            items=_summed(self.items, other.items),
            notes=MappingProxyType(dict(notes)),
            rejections=_summed(self.rejections, other.rejections),
        )

    @classmethod
    def overrun(cls) -> DrainResult:
        """The result of an event rejected for overrunning the batch deadline."""
        kind = rejection_kind(DEADLINE_REJECTION)
        return cls(claimed=1, rejected=1, rejections=MappingProxyType({kind: 1}))

    def to_line(self) -> bytes:
        """This result as one line of JSON, for a supervising parent (see deadline.report)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps(
            {k: dict(v) if isinstance(v, Mapping) else v for k, v in values.items()}
        ).encode()

    @classmethod
    def from_line(cls, line: bytes) -> DrainResult:
        """A result to_line() wrote."""
        values: dict[str, Any] = json.loads(line)
        for name in ("items", "notes", "rejections"):
            values[name] = MappingProxyType(values[name])
        return cls(**values)

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
            **{projection.name: self.items.get(projection.name, 0) for projection in REGISTRY},
            "notes": dict(self.notes),
        }


def _summed(a: Mapping[str, int], b: Mapping[str, int]) -> Mapping[str, int]:
    # Counter's + would drop zeros: {"errors": 0} is kept, so every projection shows.
    return MappingProxyType({key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}})


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
            rows = conn.execute(query("claim_events"), {"limit": batch_size}).fetchall()
            if not rows:
                return DrainResult()
            events = process(conn, rows)
            done = [e for e in events if e.failure is None]
            conn.execute(query("dequeue"), {"ids": [e.raw_event_id for e in done]})
            for event in events:
                if event.failure is not None:
                    _record_failure(conn, event, event.failure)
    return DrainResult.of(events, time.perf_counter() - started)


def process(conn: Connection, rows: Sequence[DictRow], schema: str = LIVE_SCHEMA) -> list[Claimed]:
    """Parse, project and record the outcome of `rows` in `schema`: the drain's and rebuild's step.

    Returns the events; those with a `failure` were not projected and have no result.
    """
    events = []
    with parse_lane() as parsing:  # the batch deadline watches this lane while it parses
        for row in rows:
            parsing(row["raw_event_id"])
            events.append(classify(row))
    project_isolated(conn, events, schema)
    record_results(conn, [e for e in events if e.failure is None], schema)
    return events


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


def rejection_kind(reason: str | None) -> str:
    """The kind of a rejection, for counting and metric labels: a small, fixed set."""
    return _NUMBER.sub("N", (reason or "unknown").split(":")[0])
