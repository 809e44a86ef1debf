"""The lean floor of group commit: request threads hand rows to wabahook's GroupWriter.

No authentication, logging, metrics or nudge: how fast intake that commits in groups
can be with gthread workers on this machine and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, request

from receiver.config import Secret
from receiver.db import Database
from receiver.group_commit import GroupWriter


def create_app() -> Flask:
    """Store each body through one GroupWriter per process."""
    app = Flask("lean_group")
    db = Database(Secret(os.environ["DATABASE_URL"]), application_name="bench", timeout=5)
    writer = GroupWriter(db)

    @app.post("/webhooks/<channel>")
    def receive(channel: str) -> Response:
        body = request.get_data()
        row = {"channel": channel, "body": body, "body_sha256": hashlib.sha256(body).digest(),
               "content_type": request.content_type, "headers": {}, "client_addr": None,
               "request_id": "bench"}  # fmt: skip
        event_id = writer.store(row, timeout=5)
        answer = f'{{"event_id":{event_id},"status":"stored"}}\n'
        return Response(answer, mimetype="application/json")

    return app
