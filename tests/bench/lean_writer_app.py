"""The lean floor of an out-of-process writer: each request's row goes to
tests/bench/writer_floor.py over a Unix socket (one per request thread) and the app
answers with the id it gets back. No authentication, logging, metrics or nudge."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

from flask import Flask, Response, request

from tests.bench.writer_floor import ANSWER, encode


def create_app() -> Flask:
    """Send each body to the writer at $WABAHOOK_BENCH_WRITER and wait for its id."""
    app = Flask("lean_writer")
    local = threading.local()

    def writer() -> socket.socket:
        if getattr(local, "pid", None) != os.getpid():  # connected after the fork
            local.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            local.sock.connect(os.environ["WABAHOOK_BENCH_WRITER"])
            local.pid = os.getpid()
        sock: socket.socket = local.sock
        return sock

    @app.post("/webhooks/<channel>")
    def receive(channel: str) -> Response:
        body = request.get_data()
        sock = writer()
        sock.sendall(encode((channel.encode(), body, hashlib.sha256(body).digest(),
                             (request.content_type or "").encode(), b"{}", b"", b"bench")))  # fmt: skip
        answer = b""
        while len(answer) < ANSWER.size:
            part = sock.recv(ANSWER.size - len(answer))
            if not part:
                raise ConnectionError("the writer went away")
            answer += part
        (event_id,) = ANSWER.unpack(answer)
        return Response(
            f'{{"event_id":{event_id},"status":"stored"}}\n', mimetype="application/json"
        )

    return app
