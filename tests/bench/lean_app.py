"""The lean floor of the intake benchmark: wabahook's own store_event and nothing else.

One connection per process, no authentication, no logging, no metrics, no nudge: how
fast a durable one-commit-per-request intake can be on this machine and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os

import psycopg
from flask import Flask, jsonify, request
from psycopg.types.json import Jsonb

STORE = "SELECT wabahook.store_event(%s, %s, %s, %s, %s, NULL, 'bench') AS raw_event_id"


def create_app() -> Flask:
    """Store each body with store_event on this process's one connection."""
    app = Flask("lean")
    state: dict[str, psycopg.Connection[tuple[object, ...]] | int | None] = {"pid": None}

    @app.post("/webhooks/<channel>")
    def receive(channel: str):  # type: ignore[no-untyped-def]
        if state["pid"] != os.getpid():  # connected after the fork, once per process
            state["conn"] = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
            state["pid"] = os.getpid()
        body = request.get_data()
        conn = state["conn"]
        assert isinstance(conn, psycopg.Connection)
        row = conn.execute(STORE, (channel, body, hashlib.sha256(body).digest(),
                                   request.content_type, Jsonb({}))).fetchone()  # fmt: skip
        return jsonify(status="stored", event_id=row[0] if row else None)

    return app
