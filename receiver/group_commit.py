"""Group commit at intake: request threads hand their rows to one writer thread per process.

A commit waits for PostgreSQL's WAL flush (about 0.2-0.8 ms here); one connection
commits a few thousand single rows a second, but tens of thousands in batches. The
writer stores whatever has gathered while the previous commit was in flight, in one
statement and one commit, and wakes each request with its own outcome: the event id,
None (the channel was disabled meanwhile: nothing stored), or the error that sank the
batch (every request of a failed commit answers 503). A lone request is stored at once:
a batch never waits for company, it only forms while a commit is under way.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from receiver.db import Database, DatabaseError, DatabaseUnavailable
from receiver.queries import query

# Rows per statement: enough to reach the batch plateau of the commit-rate probe
# (tests/bench/commit_probe.py), small enough to keep one commit short.
MAX_BATCH_ROWS = 100
COLUMNS = ("channel", "body", "body_sha256", "content_type", "headers", "client_addr", "request_id")


@dataclass(slots=True, eq=False)
class _Pending:
    """One request's row, and what became of it."""

    row: Mapping[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    event_id: int | None = None
    error: BaseException | None = None


class GroupWriter:
    """Stores rows for this process's request threads, a batch per commit."""

    def __init__(self, db: Database, max_rows: int = MAX_BATCH_ROWS) -> None:
        self._db = db
        self._max_rows = max_rows
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def store(self, row: Mapping[str, Any], timeout: float) -> int | None:
        """The new event's id once its commit is done (None: not stored), or DatabaseError.

        Gives up after `timeout` seconds with DatabaseUnavailable; the row may still be
        committed later, as a single statement overrunning its deadline may be.
        """
        self._ensure_thread()
        pending = _Pending(row)
        self._queue.put(pending)
        if not pending.done.wait(timeout):
            raise DatabaseUnavailable(f"not stored within {timeout:g} s")
        if pending.error is not None:
            raise pending.error
        return pending.event_id

    def _ensure_thread(self) -> None:
        # Threads do not survive fork: one writer per process, started on first use.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()  # a forked copy's waiters are not ours
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="intake-writer",
                                                daemon=True)  # fmt: skip
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_rows:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        try:
            ids = self._store(batch)
            for pending, event_id in zip(batch, ids, strict=True):
                pending.event_id = event_id
        except DatabaseError as exc:
            for pending in batch:
                pending.error = exc
        except Exception as exc:  # our own bug: still an answer (503) for every waiter
            error = DatabaseError(f"storing a batch failed: {type(exc).__name__}")
            for pending in batch:
                pending.error = error
        finally:
            for pending in batch:
                pending.done.set()

    def _store(self, batch: list[_Pending]) -> list[int | None]:
        return store_rows(self._db, [pending.row for pending in batch])


def store_rows(
    db: Database, rows: list[Mapping[str, Any]], timeout: float | None = None
) -> list[int | None]:
    """Store deliveries in one statement and one commit, done within `timeout` seconds
    (default: the database's); each one's event id (None: not stored, its channel
    disabled or removed), in order. The one place intake writes."""
    values = [{**row, "headers": Jsonb(row["headers"])} for row in rows]
    with db.connection(timeout) as conn:
        if len(values) == 1:  # the common case (and every sync worker's): the plain statement
            found = conn.execute(query("store_event"), values[0]).fetchone()
            return [found["raw_event_id"] if found else None]
        columns = {name: [value[name] for value in values] for name in COLUMNS}
        stored = conn.execute(query("store_events"), columns).fetchall()
    return [row["raw_event_id"] for row in stored]
