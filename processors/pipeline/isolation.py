"""Project a batch so that a failing event fails alone and costs little.

Bad data never reaches PostgreSQL (see processors.pipeline.values), so what still fails here
is PostgreSQL refusing a body's JSON, a resource or lock trouble, or a bug of ours.
The batch is first projected as a whole. If that fails, it is split into groups of
about the square root of its size, and every group of a level is tried in its own
savepoint by one server-side loop (one round trip per level); failing groups are
split again until each failure stands alone. Transient trouble (a lock or statement
timeout) fails a group whole instead. Events that failed before are tried apart from
the others, so a retry does not disturb its batch again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import psycopg
from psycopg.types.json import Jsonb

from processors.pipeline.batch import (
    LIVE_SCHEMA,
    Claimed,
    Connection,
    Failure,
    all_stage_tables,
    clear_statement,
    ensure_stage_tables,
    kinds_in,
    project,
    projections_for,
    projections_statement,
    stage,
    stage_statement,
)
from processors.pipeline.projections import REGISTRY
from receiver.db import first_line
from receiver.queries import query

log = logging.getLogger("wabahook.drain")

# Errors a retry may mend (SQLSTATE classes and codes): serialization failures and
# deadlocks, resource shortages, a lock or statement timeout, I/O trouble. Any other
# failure is our own bug (bad data is caught before PostgreSQL): it waits for a fix
# and `wabahook failed retry` / `replay --failed` instead of retrying on its own.
TRANSIENT_CLASSES = ("40", "53", "58")
TRANSIENT_CODES = frozenset({"55P03", "57014"})
MAX_ERROR_CHARS = 500
# What the loop runs for each group: the statement prepare_isolation planned.
ISOLATION_STATEMENT = "\n".join(
    line
    for line in query("isolation_statement").as_string().splitlines()
    if not line.startswith("--")  # a template for format(): nothing else in it
).strip()


def project_isolated(
    conn: Connection, events: Sequence[Claimed], schema: str = LIVE_SCHEMA
) -> None:
    """Project the parsed events of a batch; a failing one gets its `failure` set."""
    ensure_stage_tables(conn)
    conn.execute(clear_statement())
    good = [e for e in events if e.parsed is not None and e.failure is None]
    if not good:
        return
    _load_docs(conn, good)
    good = [e for e in good if e.parsed is not None]
    try:
        with conn.transaction():
            stage(conn, good)
    except psycopg.errors.Error as exc:
        if is_connection_error(exc):
            raise
        # Values COPY refuses (a bug of ours): stage and project event by event.
        log.warning("staging failed, projecting one by one", extra={"error": line(exc)})
        for event in good:
            _project_alone(conn, event, schema)
        return
    # Events that failed before go apart, so that a retry cannot disturb the others.
    for group in ([e for e in good if e.attempts == 0], [e for e in good if e.attempts > 0]):
        if not group:
            continue
        failure = _try(conn, group, schema, only=None if len(group) == len(good) else group)
        if failure is None:
            continue
        if failure.transient:
            # A lock or statement timeout, a deadlock...: the whole group waits for its
            # retry; isolating would only meet the same trouble once per level.
            _fail(group, failure)
        else:
            _isolate(conn, group, schema, failure)


def _load_docs(conn: Connection, events: Sequence[Claimed]) -> None:
    """Stage the documents of `events`; a body jsonb refuses makes its event rejected."""
    times = [e.received_at for e in events]
    params = {"ids": [e.raw_event_id for e in events], "since": min(times), "until": max(times)}
    try:
        with conn.transaction():
            conn.execute(query("load_docs"), params)
    except psycopg.errors.Error as exc:
        if is_connection_error(exc):
            raise
        refused = {
            row["raw_event_id"]: row["error"]
            for row in conn.execute(query("load_docs_checked"), params).fetchall()
        }
        for event in events:
            if event.raw_event_id in refused:
                event.parsed = None
                event.rejection = "PostgreSQL jsonb refuses it: " + clean(
                    refused[event.raw_event_id]
                )


def _try(
    conn: Connection, group: Sequence[Claimed], schema: str, only: Sequence[Claimed] | None
) -> Failure | None:
    """Project the staged items of `only` (None: all) in a savepoint; the failure, if any."""
    return in_savepoint(conn, len(group), lambda: project(conn, group, schema, only))


def _project_alone(conn: Connection, event: Claimed, schema: str) -> None:
    """Stage and project one event in a savepoint (when the batch could not be staged)."""

    def restage_and_project() -> None:
        conn.execute(stage_statement("clear_item_stage"))  # its document stays staged
        stage(conn, [event])
        project(conn, [event], schema)

    event.failure = in_savepoint(conn, 1, restage_and_project)


def in_savepoint(conn: Connection, events: int, work: Callable[[], None]) -> Failure | None:
    """Run `work` in a savepoint; its failure, or None. A lost connection ends the batch."""
    try:
        with conn.transaction():
            work()
    except psycopg.errors.Error as exc:
        if is_connection_error(exc):
            raise
        return Failure(line(exc), transient=is_transient(exc.sqlstate))
    except Exception as exc:  # our own bug: those events fail, their siblings go on
        log.exception("projection raised", extra={"events": events})
        return Failure("internal error: " + line(exc), transient=False)
    return None


def _isolate(conn: Connection, group: Sequence[Claimed], schema: str, failure: Failure) -> None:
    """Find the failing events of `group` (which failed with `failure`), level by level."""
    if len(group) == 1:
        group[0].failure = failure
        return
    # Small groups look their rows up by index (temporary tables have no statistics), in
    # the tables that hold rows: each index is made and dropped again (DDL, ~1 ms each).
    present = kinds_in(group)
    staged = [projection for projection in REGISTRY if projection.name in present]
    conn.execute(stage_statement("index_stage_table", staged))
    conn.execute(all_stage_tables("analyze_stage_tables", staged))
    statement = projections_statement(projections_for(group), schema, server_side=True)
    conn.execute(query("prepare_isolation").format(statement=statement))
    level = _split(group)
    while level:
        failures = _try_level(conn, level)
        level = [
            part
            for position, failed in sorted(failures.items())
            for part in _fail_or_split(level[position], failed)
        ]
    conn.execute(query("deallocate_isolation"))
    conn.execute(stage_statement("unindex_stage_table", staged))


def _try_level(conn: Connection, level: list[Sequence[Claimed]]) -> dict[int, Failure]:
    """Project every group of a level in its own savepoint, server-side; the failed ones."""
    groups = Jsonb([[e.raw_event_id for e in group] for group in level])
    try:
        with conn.transaction():
            rows = conn.execute(
                query("try_groups"), {"statement": ISOLATION_STATEMENT, "groups": groups}
            ).fetchall()
    except psycopg.errors.Error as exc:  # the loop itself failed (a statement timeout, say)
        if is_connection_error(exc):
            raise
        whole = Failure(line(exc), transient=is_transient(exc.sqlstate))
        return dict.fromkeys(range(len(level)), whole)
    return {
        row["position"]: Failure(clean(row["message"]), transient=is_transient(row["sqlstate"]))
        for row in rows
    }


def _fail_or_split(group: Sequence[Claimed], failure: Failure) -> list[Sequence[Claimed]]:
    """A lone event, or a group that met transient trouble, fails; others split again."""
    if len(group) == 1 or failure.transient:
        _fail(group, failure)
        return []
    return _split(group)


def _fail(group: Sequence[Claimed], failure: Failure) -> None:
    for event in group:
        event.failure = failure


def _split(group: Sequence[Claimed]) -> list[Sequence[Claimed]]:
    """About the square root of `group`'s size of groups (at least two)."""
    size = min(len(group) - 1, math.ceil(math.sqrt(len(group))))
    return [group[start : start + size] for start in range(0, len(group), size)]


def is_transient(sqlstate: str | None) -> bool:
    """Whether a retry of the same event may succeed."""
    state = sqlstate or ""
    return state[:2] in TRANSIENT_CLASSES or state in TRANSIENT_CODES


def is_connection_error(exc: psycopg.Error) -> bool:
    """Lost connections and server shutdowns end the batch; anything else is per event."""
    state = exc.sqlstate
    if state is None:  # raised by the client: the connection, or a value it cannot send
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


def line(exc: BaseException) -> str:
    """The first line of an error, fit to store and show."""
    return clean(first_line(exc))


def clean(text: str) -> str:
    """An error line fit to store and show: no NUL (text refuses it), bounded length."""
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
