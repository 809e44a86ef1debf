"""Rebuild every projection from the raw events, aside, then swap in one transaction."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from processors.migrate import apply_roles
from processors.pipeline import drain as draining
from processors.pipeline import rebuild_lanes
from processors.pipeline.batch import truncate_stage_tables
from processors.pipeline.people import PEOPLE_TABLES, link_people
from processors.pipeline.projections import projection_tables
from processors.pipeline.rebuild_keep import Forget, keep_dropped
from processors.schema_objects import recreate_views
from receiver.config import MAINTENANCE_SECONDS
from receiver.db import Database, DatabaseError
from receiver.errors import WabahookError
from receiver.queries import query

log = logging.getLogger("wabahook.rebuild")

LIVE = draining.LIVE_SCHEMA
ASIDE = "wabahook_rebuild"
REPLACED = "wabahook_replaced"
# Tries of one window of events before its failures are kept (and counted).
WINDOW_ATTEMPTS = 3
# How long a rebuild may run (its gate's connection is cut then), and waits for the gate:
# retention holds it a batch at a time, another rebuild all along.
HOLD_SECONDS = 7 * 86_400.0
GATE_SECONDS = 30.0
# From this many stored events on, a rebuild projects in a process per core: below,
# starting them (about a second) would cost more than they save.
PROCESS_EVENTS = 50_000
# What a rebuild builds aside and swaps in: every projection's tables, people, the results.
TABLES = (*projection_tables(), *PEOPLE_TABLES, "event_results")


class RebuildError(WabahookError):
    """A rebuild stopped before its swap; the live tables are as they were."""


@dataclass(slots=True)
class RebuildStats:
    """What a rebuild went through: the batches' results added up, and the catch-up."""

    totals: draining.DrainResult = field(default_factory=draining.DrainResult)
    caught_up: int = 0
    kept: int = 0  # rows kept of raw events retention deleted
    # The first event that failed (its id and error): a rebuild with one swaps nothing in.
    first_failure: tuple[int, str] | None = None

    def add(self, other: RebuildStats) -> None:
        """Count `other` in."""
        self.totals += other.totals
        self.first_failure = self.first_failure or other.first_failure

    def check(self) -> None:
        """Raise RebuildError if an event failed: a rebuild never queues one again, so
        swapping its tables in would make that event's facts vanish."""
        if self.first_failure is None:
            return
        event_id, error = self.first_failure
        failed = self.totals.failed
        raise RebuildError(
            f"rebuild stopped, the live tables unchanged: {failed} event"
            f"{'' if failed == 1 else 's'} failed (event {event_id}: {error}); fix the"
            " cause (wabahook failed list) and run it again"
        )


def estimate(db: Database) -> dict[str, int]:
    """How many raw events and bytes a rebuild would read."""
    row = db.fetch_one("rebuild_estimate")
    assert row is not None
    return {"events": int(row["events"]), "bytes": int(row["bytes"])}


def rebuild(
    db: Database,
    *,
    batch_size: int = draining.BATCH_SIZE,
    on_progress: Callable[[RebuildStats], None] | None = None,
    lanes: int = draining.LANES,
    forget: Forget | None = None,
    processes: int | None = None,
) -> RebuildStats:
    """Project every raw event into fresh tables aside, then swap them in atomically.

    Intake and workers keep running: until the swap, analysts read the old tables;
    events that arrive meanwhile are caught up inside the swap transaction. The rows of
    raw events retention deleted are kept, but for those holding a value of `forget`
    (processors.pipeline.rebuild_keep). `processes` > 1 projects in that many child
    processes, a lane each (default: one per core, at most 4, from PROCESS_EVENTS events on).
    """
    stats = RebuildStats()
    # One connection holds the gate all along (retention stops, a second rebuild waits);
    # its session ends with this process at the latest, and the gate opens with it.
    with db.connection(timeout=HOLD_SECONDS, wait=db.timeout) as holder:
        try:
            _close_gate(holder)
            _prepare(db)
            try:
                stats.kept = keep_dropped(holder, TABLES, LIVE, ASIDE, forget or Forget())
                _build_and_swap(db, batch_size, stats, on_progress, lanes, processes)
            except BaseException:
                _drop_aside(db)  # a rebuild that stopped leaves nothing behind
                raise
        finally:
            with contextlib.suppress(psycopg.Error):  # a lost connection has let go of it
                holder.execute(query("rebuild_gate_open"))
    log.info("rebuilt", extra={"events": stats.totals.events, "caught_up": stats.caught_up})
    return stats


def _close_gate(holder: draining.Connection) -> None:
    """Take the gate retention passes (processors.stored.retention), within GATE_SECONDS:
    while this waits, retention stops at its next batch."""
    try:
        with holder.transaction():
            holder.execute(query("local_lock_timeout"), {"timeout": f"{GATE_SECONDS:g}s"})
            # The pool's statement_timeout may be shorter: the lock's wait is the limit.
            holder.execute(query("local_statement_timeout"), {"timeout": f"{GATE_SECONDS + 5:g}s"})
            holder.execute(query("rebuild_gate_close"))
    except psycopg.errors.LockNotAvailable:
        raise RebuildError("another rebuild is under way; run it again once it has ended") from None


def _build_and_swap(
    db: Database,
    batch_size: int,
    stats: RebuildStats,
    on_progress: Callable[[RebuildStats], None] | None,
    lanes: int,
    processes: int | None,
) -> None:
    with db.connection() as conn:
        before_oldest, until = _event_bounds(conn)
    if processes is None:
        processes = rebuild_lanes.cores() if until - before_oldest >= PROCESS_EVENTS else 1
    if processes > 1:

        def counted(totals: draining.DrainResult, first_failure: rebuild_lanes.Failure) -> bool:
            stats.add(RebuildStats(totals=totals, first_failure=first_failure))
            if on_progress is not None:
                on_progress(stats)
            return stats.first_failure is None  # the others stop after their window

        windows = range(before_oldest, until, batch_size)
        try:
            rebuild_lanes.project_in_processes(db, windows, processes, _project_window, counted)
        except rebuild_lanes.LaneError as exc:
            raise RebuildError(f"rebuild stopped, the live tables unchanged: {exc}") from None
    else:
        _project_all(db, before_oldest, until, batch_size, stats, on_progress, lanes)
    stats.check()
    last = until
    with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
        # Drains wait here until the swap commits, then carry on with the new tables.
        conn.execute(
            query("lock_tables").format(
                tables=sql.SQL(", ").join(sql.Identifier(LIVE, table) for table in TABLES)
            )
        )
        # Everything a drain projected committed before the lock, so it is stored at or
        # below this id; newer events are still queued and will be drained after the swap.
        before, until = stats.totals.events, _newest_event(conn)
        while last < until:
            last = _project_range(conn, last, until, batch_size, stats)
            truncate_stage_tables(conn)  # the next batch scans none of this one's rows
        missed = query("rebuild_missed_events").format(
            live=sql.Identifier(LIVE), aside=sql.Identifier(ASIDE)
        )
        _project_rows(conn, conn.execute(missed).fetchall(), stats)
        stats.check()  # raised inside the transaction: nothing is swapped
        stats.caught_up = stats.totals.events - before
        conn.execute(query("create_schema").format(schema=sql.Identifier(REPLACED)))
        for table in TABLES:
            for source, target in ((LIVE, REPLACED), (ASIDE, LIVE)):
                conn.execute(
                    query("move_table").format(
                        table=sql.Identifier(source, table), schema=sql.Identifier(target)
                    )
                )
        recreate_views(conn)  # views follow tables, not names: point them at the new ones
        apply_roles(conn)  # new tables and views start without grants
        conn.execute(query("drop_schema_with_tables").format(schema=sql.Identifier(REPLACED)))
        conn.execute(query("drop_empty_schema").format(schema=sql.Identifier(ASIDE)))


def _drop_aside(db: Database) -> None:
    """Drop what a stopped rebuild built aside (best effort: the next rebuild does it too)."""
    try:
        with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
            conn.execute(query("drop_schema_if_exists").format(schema=sql.Identifier(ASIDE)))
    except DatabaseError as exc:
        log.warning("rebuild: could not drop the tables built aside", extra={"error": str(exc)})


def _prepare(db: Database) -> None:
    with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
        for schema in (ASIDE, REPLACED):
            conn.execute(query("drop_schema_if_exists").format(schema=sql.Identifier(schema)))
        conn.execute(query("create_schema").format(schema=sql.Identifier(ASIDE)))
        for table in TABLES:
            conn.execute(
                query("create_table_like").format(
                    table=sql.Identifier(ASIDE, table), like=sql.Identifier(LIVE, table)
                )
            )


def _project_all(
    db: Database,
    after: int,
    until: int,
    batch_size: int,
    stats: RebuildStats,
    on_progress: Callable[[RebuildStats], None] | None,
    lanes: int,
) -> None:
    """Project the events with after < id <= until, in windows of `batch_size` ids, each
    in its own transaction, on `lanes` connections at once (as a drain does: one lane
    parses in Python while another waits for PostgreSQL). Projections do not depend on
    the order events are projected in, so windows may finish in any order."""
    windows = iter(range(after, until, batch_size))
    lock = threading.Lock()

    def lane(failed: threading.Event) -> None:
        while not failed.is_set():
            with lock:
                start = next(windows, None)
            if start is None:
                return
            done = _project_window(db, start, min(start + batch_size, until), batch_size)
            with lock:
                stats.add(done)
                if on_progress is not None:
                    on_progress(stats)
                stats.check()  # the other lanes stop after their window

    draining.run_lanes(lane, lanes, "rebuild-lane")


class _TryAgain(WabahookError):
    """Rolls a window's transaction back: one of its events failed."""


def _project_window(db: Database, after: int, until: int, batch_size: int) -> RebuildStats:
    """One window in its own transaction. A failed event is never queued again by a
    rebuild, so a window with one is rolled back and projected anew (lanes can meet on
    the same rows: a deadlock or lock timeout is worth another try); failures of the
    last try are counted, and stop the rebuild."""
    for attempt in range(1, WINDOW_ATTEMPTS):
        done = RebuildStats()
        try:
            with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
                _project_range(conn, after, until, batch_size, done)
                if done.totals.failed:
                    raise _TryAgain
        except _TryAgain:
            log.warning("rebuild: window tried again", extra={"after": after, "attempt": attempt})
            continue
        return done
    done = RebuildStats()
    with db.transaction(timeout=MAINTENANCE_SECONDS) as conn:
        _project_range(conn, after, until, batch_size, done)
    return done


def _event_bounds(conn: draining.Connection) -> tuple[int, int]:
    """(the id before the oldest stored event, the newest id): the range to project."""
    row = conn.execute(query("raw_event_bounds")).fetchone()
    assert row is not None
    return int(row["before_oldest"]), int(row["newest"])


def _newest_event(conn: draining.Connection) -> int:
    row = conn.execute(query("newest_raw_event")).fetchone()
    assert row is not None
    return int(row["newest"])


def _project_range(
    conn: draining.Connection, after: int, until: int, limit: int, stats: RebuildStats
) -> int:
    """Project up to `limit` events with after < id <= until; return the last id done."""
    rows = conn.execute(
        query("rebuild_events"), {"after": after, "until": until, "limit": limit}
    ).fetchall()
    if not rows:
        return until
    _project_rows(conn, rows, stats)
    return int(rows[-1]["raw_event_id"])


def _project_rows(conn: draining.Connection, rows: list[DictRow], stats: RebuildStats) -> None:
    """Project raw event `rows` into the aside tables, with the drain's own step."""
    if not rows:
        return
    started = time.perf_counter()
    events = draining.process(conn, rows, ASIDE)
    link_people(conn, ASIDE)
    stats.totals += draining.DrainResult.of(events, time.perf_counter() - started)
    failed = next((e for e in events if e.failure is not None), None)
    if failed is not None and failed.failure is not None and stats.first_failure is None:
        stats.first_failure = (failed.raw_event_id, failed.failure.error)
