"""A claimed batch: its events, and how their items are staged and projected.

Items are COPYed once per batch into temporary staging tables; the projection
queries then write the staged items of some or all of the batch's events into the
projection tables of a schema (the live one, or a rebuild's).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from processors.pipeline.model import ParsedEvent, Projection
from processors.pipeline.projections import REGISTRY
from receiver.queries import query

LIVE_SCHEMA = "wabahook"
# Projection statements sent by the client take the event ids as the parameter `ids`.
CLIENT_IDS = sql.Placeholder("ids")
# ...and the server-side loop of processors.pipeline.isolation passes them as its `$1`.
SERVER_IDS = sql.SQL("$1::bigint[]")
# The staging columns that hold an item's path in its document.
PATH_COLUMNS = ("path", "errors_path")

Connection = psycopg.Connection[DictRow]
BY_NAME = {projection.name: projection for projection in REGISTRY}
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


def ensure_stage_tables(conn: Connection) -> None:
    """Create this connection's temporary staging tables (and loop function) once.

    Outside a transaction they are created for good and remembered; inside one (a
    rebuild's), a rollback would take them away again, so they are only made sure of.
    """
    if conn in _staged:
        return
    conn.execute(query("create_stage_tables"))
    for projection in REGISTRY:
        conn.execute(query(projection.stage_table))
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        _staged.add(conn)


def stage(conn: Connection, events: Sequence[Claimed]) -> None:
    """COPY the parsed items of `events` into the staging tables (documents are staged),
    then read each item's JSON out of its document: what every group's projections and
    the relay's facts of the batch read."""
    staged = staged_rows(events)
    with conn.cursor() as cur:
        for projection in REGISTRY:
            rows = staged.get(projection.name)
            if rows:  # an empty COPY is still a round trip
                with cur.copy(copy_statement(projection)) as copy:
                    for row in rows:
                        copy.write_row(row)
    stage_payloads(conn, events)


def staged_rows(events: Sequence[Claimed]) -> dict[str, list[tuple[Any, ...]]]:
    """The staging rows of `events` by projection name, in one pass over their items."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for e in events:
        if e.parsed is None:
            continue
        for name, listed in e.parsed.items.items():
            if listed:
                row = BY_NAME[name].row
                key, channel = e.raw_event_id, e.channel
                rows.setdefault(name, []).extend((key, channel, *row(item)) for item in listed)
    return rows


# The statements a batch sends are composed once and kept as bytes: psycopg would walk
# a composed statement's parts again at every execute (a few percent of a drain's time).


@functools.cache
def copy_statement(projection: Projection) -> bytes:
    """COPY into the projection's staging table, columns as its module lists them."""
    columns = ("raw_event_id", "channel", *projection.columns)
    return (
        sql.SQL("COPY {} ({}) FROM STDIN")
        .format(
            sql.Identifier(projection.stage_table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
        )
        .as_bytes()
    )


def stage_statement(name: str, projections: Sequence[Projection] = REGISTRY) -> sql.Composed:
    """The named statement run once for each projection's staging table, as one."""
    statements = []
    for projection in projections:
        table = projection.stage_table
        statements.append(
            query(name).format(table=sql.Identifier(table), index=sql.Identifier(f"{table}_event"))
        )
    return sql.SQL("; ").join(statements)


def truncate_stage_tables(conn: Connection) -> None:
    """Empty the staging tables for another batch in the same transaction."""
    ensure_stage_tables(conn)
    conn.execute(all_stage_tables("truncate_stage_tables"))


def all_stage_tables(name: str, projections: Sequence[Projection] = REGISTRY) -> sql.Composed:
    """The named statement over every projection's staging table ({tables})."""
    tables = sql.SQL(", ").join(sql.Identifier(p.stage_table) for p in projections)
    return query(name).format(tables=tables)


def project(
    conn: Connection,
    events: Sequence[Claimed],
    schema: str = LIVE_SCHEMA,
    only: Sequence[Claimed] | None = None,
) -> None:
    """Write the staged items into `schema`'s projections: those of `only`, else all."""
    names = projections_for(events)
    if names:
        ids = None if only is None else [e.raw_event_id for e in only]
        conn.execute(projections_bytes(names, schema), {"ids": ids})


def stage_payloads(conn: Connection, events: Sequence[Claimed]) -> None:
    """Read every staged item of `events` out of its document, each document opened once
    (replacing what an earlier staging read)."""
    present = kinds_in(events)
    staged = tuple(
        projection
        for projection in REGISTRY
        if projection.name in present
        and any(column in projection.columns for column in PATH_COLUMNS)
    )
    conn.execute(query("clear_stage_payload"))
    if staged:
        conn.execute(payloads_statement(staged))


@functools.cache
def payloads_statement(staged: tuple[Projection, ...]) -> bytes:
    """The stage_payloads query over the item paths of the `staged` projections."""
    paths = [
        sql.SQL("SELECT raw_event_id, {} AS path FROM {}").format(
            sql.Identifier(column), sql.Identifier(projection.stage_table)
        )
        for projection in staged
        for column in PATH_COLUMNS
        if column in projection.columns
    ]
    return query("stage_payloads").format(paths=sql.SQL(" UNION ALL ").join(paths)).as_bytes()


def projections_for(events: Sequence[Claimed]) -> tuple[str, ...]:
    """The projection queries that have items to write for `events`."""
    present = kinds_in(events)
    return tuple(
        name for projection in REGISTRY if projection.name in present for name in projection.queries
    )


def kinds_in(events: Sequence[Claimed]) -> set[str]:
    """The names of the projections that have items of `events` (a look at each event once)."""
    return {
        name
        for e in events
        if e.parsed is not None
        for name, listed in e.parsed.items.items()
        if listed
    }


@functools.cache
def projections_statement(
    names: tuple[str, ...], schema: str, server_side: bool = False
) -> sql.Composed:
    """The named projection queries as one statement (one plan, one round trip).

    Each reads only the staging tables, so they are independent: as data-modifying
    WITH clauses they all run to completion, on one snapshot. The event ids to
    project (NULL: every staged item) are the parameter `ids`, or `$1` server-side.
    """
    ids = SERVER_IDS if server_side else CLIENT_IDS
    clauses = [
        sql.SQL("{} AS ({})").format(sql.Identifier(name), projection_query(name, schema, ids))
        for name in names
    ]
    return sql.SQL("WITH {} SELECT 1").format(sql.SQL(", ").join(clauses))


@functools.cache
def projections_bytes(names: tuple[str, ...], schema: str) -> bytes:
    """projections_statement, as the client sends it."""
    return projections_statement(names, schema).as_bytes()


@functools.cache
def clear_statement() -> bytes:
    """Empty every staging table (they are, but for a transaction that stages twice)."""
    return (
        sql.SQL("; ")
        .join([query("clear_batch_stage"), stage_statement("clear_item_stage")])
        .as_bytes()
    )


def projection_query(name: str, schema: str, ids: sql.Composable = CLIENT_IDS) -> sql.Composed:
    """A named projection query writing into the tables of `schema`, for the events `ids`."""
    return query(name).format(projections=sql.Identifier(schema), ids=ids)
