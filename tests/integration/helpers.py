"""Small helpers for integration tests."""

from __future__ import annotations

import base64
from typing import Any

import psycopg
from psycopg.rows import dict_row


def basic(username: str | bytes, password: str | bytes) -> str:
    """An `Authorization: Basic ...` header value."""
    raw = (
        (username.encode() if isinstance(username, str) else username)
        + b":"
        + (password.encode() if isinstance(password, str) else password)
    )
    return "Basic " + base64.b64encode(raw).decode()


def stored_events(url: str) -> list[dict[str, Any]]:
    """Every raw event with its queue row, oldest first."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT r.*, q.raw_event_id AS queued_id FROM wabahook.raw_events r"
            " LEFT JOIN wabahook.event_queue q ON q.raw_event_id = r.id ORDER BY r.id"
        ).fetchall()


def count(url: str, table: str) -> int:
    """Rows in wabahook.<table>."""
    from psycopg import sql

    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM wabahook.{}").format(sql.Identifier(table))
        ).fetchone()
    assert row is not None
    return int(row[0])
