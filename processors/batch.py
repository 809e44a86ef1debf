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

from processors.parse import ParsedEvent
from receiver.queries import query

LIVE_SCHEMA = "wabahook"
# Projection statements sent by the client take the event ids as the parameter `ids`.
CLIENT_IDS = sql.Placeholder("ids")
# ...and the server-side loop of processors.isolation passes them as its `$1`.
SERVER_IDS = sql.SQL("$1::bigint[]")

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


def ensure_stage_tables(conn: Connection) -> None:
    """Create this connection's temporary staging tables (and loop function) once.

    Outside a transaction they are created for good and remembered; inside one (a
    rebuild's), a rollback would take them away again, so they are only made sure of.
    """
    if conn in _staged:
        return
    conn.execute(query("create_stage_tables"))
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
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
    names = projections_for(events)
    if names:
        ids = None if only is None else [e.raw_event_id for e in only]
        conn.execute(projections_statement(names, schema), {"ids": ids})


def projections_for(events: Sequence[Claimed]) -> tuple[str, ...]:
    """The projection queries that have items to write for `events`."""
    has = {
        "messages": any(e.parsed and e.parsed.messages for e in events),
        "statuses": any(e.parsed and e.parsed.statuses for e in events),
        "errors": any(e.parsed and e.parsed.errors for e in events),
    }
    return tuple(name for items, name in PROJECTION_QUERIES if has[items])


PROJECTION_QUERIES = (
    ("messages", "project_messages"),
    ("messages", "project_contacts"),
    ("statuses", "project_statuses"),
    ("statuses", "project_deliveries"),
    ("errors", "project_errors"),
)


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


def projection_query(name: str, schema: str, ids: sql.Composable = CLIENT_IDS) -> sql.Composed:
    """A named projection query writing into the tables of `schema`, for the events `ids`."""
    return query(name).format(projections=sql.Identifier(schema), ids=ids)


def _path(path: tuple[str, ...]) -> str:
    # Path steps are our own keys and array indices: never a comma among them.
    return ",".join(path)


def _int_array(values: tuple[int, ...]) -> str:
    return "{" + ",".join(map(str, values)) + "}"
