"""The naive design the intake benchmark compares against: what a hand-rolled handler does.

A connection pool, the headers turned into jsonb, the body stored, and one RQ job per
request: the design wabahook's receiver must beat by a margin to be worth its care.
"""

from __future__ import annotations

import os

import redis
from flask import Flask, jsonify, request
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from rq import Queue

NAIVE_TABLE = """
CREATE TABLE IF NOT EXISTS public.naive_events (
    id bigserial PRIMARY KEY, channel text NOT NULL, body bytea NOT NULL,
    headers jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())
"""


def process_naive_event(event_id: int) -> None:
    """The job each request enqueues (the benchmark runs no worker: it is never executed)."""


def create_app() -> Flask:
    """Store each body with its headers and enqueue one job for it."""
    app = Flask("naive")
    pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=1, max_size=4, open=False)
    queue = Queue(os.environ["WABAHOOK_QUEUE"] + "-naive",
                  connection=redis.Redis.from_url(os.environ["REDIS_URL"]))  # fmt: skip
    state = {"pid": None}

    @app.post("/webhooks/<channel>")
    def receive(channel: str):  # type: ignore[no-untyped-def]
        if state["pid"] != os.getpid():  # opened after the fork, once per process
            pool.open()
            state["pid"] = os.getpid()
        with pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO public.naive_events (channel, body, headers) VALUES (%s, %s, %s)"
                " RETURNING id",
                (channel, request.get_data(), Jsonb(dict(request.headers))),
            ).fetchone()
        queue.enqueue(process_naive_event, row[0] if row else 0)
        return jsonify(status="stored", event_id=row[0] if row else None)

    return app
