"""Helpers to store and process events in integration tests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from processors.pipeline.people import PEOPLE_TABLES
from processors.pipeline.projections import REGISTRY
from receiver.db import Database
from receiver.queries import query

# Every projection table, with the key its rows are compared in.
PROJECTIONS = {table: key for p in REGISTRY for table, key in p.tables.items()}


def status_body(message_id: str, status: str, ts: int, extra: str = "") -> bytes:
    """An On-Premise status notification (extra: more JSON members)."""
    members = f'"id":"{message_id}","status":"{status}","timestamp":"{ts}","recipient_id":"49"'
    return ('{"statuses":[{' + members + ("," + extra if extra else "") + "}]}").encode()


def store(db: Database, bodies: Iterable[bytes], channel: str = "acme") -> list[int]:
    """Store bodies through wabahook.store_event(), as the receiver does; return their ids.

    The channel is created (enabled) if it does not exist: store_event() stores for
    known, enabled channels only.
    """
    bodies = list(bodies)
    ids = []
    # A round trip a body: a large store on a loaded machine outlasts the pool's deadline.
    with db.connection(timeout=db.timeout + 0.05 * len(bodies)) as conn:
        conn.execute(
            "INSERT INTO wabahook.channels (name) VALUES (%s) ON CONFLICT DO NOTHING", [channel]
        )
        for body in bodies:
            row = conn.execute(
                query("store_event"),
                {"channel": channel, "body": body, "body_sha256": hashlib.sha256(body).digest(),
                 "content_type": None, "headers": Jsonb({}), "client_addr": None,
                 "request_id": "test"},
            ).fetchone()  # fmt: skip
            assert row is not None
            assert row["raw_event_id"] is not None, f"channel {channel} is disabled"
            ids.append(row["raw_event_id"])
    return ids


def requeue(db: Database, ids: Iterable[int]) -> None:
    """Put already stored events back on the queue (a replay)."""
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
            " SELECT id, received_at, channel FROM wabahook.raw_events WHERE id = ANY(%s)"
            " ON CONFLICT (raw_event_id) DO NOTHING",
            [list(ids)],
        )


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table's rows, sorted, for comparisons; people through their views
    (their tables number persons in the order links arrived)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url) as conn:
        for table, key in PROJECTIONS.items():
            rows = conn.execute(
                sql.SQL("SELECT * FROM wabahook.{} ORDER BY {}").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, key))
                )
            ).fetchall()
            tables[table] = rows
        tables["event_results"] = conn.execute(
            "SELECT raw_event_id, state, error, format, notes FROM wabahook.event_results"
            " ORDER BY raw_event_id"
        ).fetchall()
        tables["people"] = conn.execute(
            "SELECT * FROM wabahook.people ORDER BY person_id"
        ).fetchall()
        tables["person_ids"] = conn.execute(
            "SELECT * FROM wabahook.person_ids ORDER BY kind, identifier"
        ).fetchall()
    return tables


def clear_projections(url: str) -> None:
    """Empty every projection, people and result table (the raw events stay)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(
                    sql.Identifier("wabahook", t)
                    for t in [*PROJECTIONS, *PEOPLE_TABLES, "event_results"]
                )
            )
        )


def view(
    url: str, name: str, where: str = "true", params: Iterable[Any] = ()
) -> list[dict[str, Any]]:
    """Rows of a public view."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            sql.SQL("SELECT * FROM wabahook.{} WHERE ").format(sql.Identifier(name))
            + sql.SQL(where),  # type: ignore[arg-type]
            list(params),
        ).fetchall()
