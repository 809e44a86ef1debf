"""The floor of an out-of-process intake writer: one process commits for every worker.

gunicorn workers (tests/bench/lean_writer_app.py) send each row over a Unix socket and
wait for its id; this process reads whatever rows have arrived from all of them, stores
them with one statement and one commit (the receiver's own `store_events`), and answers
each. Batches form across processes, so sync workers get group commit too. No deadline,
no fallback, no supervision: a measurement of what the design could give, not intake.

Frames: a 4-byte length, then the row's seven fields, each a 4-byte length and bytes
(channel, body, body_sha256, content_type, headers JSON, client address, request id).
Answers: the event id as 8 signed bytes, -1 for "not stored".

Run: python -m tests.bench.writer_floor SOCKET DATABASE_URL (WABAHOOK_BENCH_GATHER_MS: how
long a batch may wait for company; 0, the default: never).
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import sys
import time
from typing import cast

import psycopg

from receiver.group_commit import COLUMNS, MAX_BATCH_ROWS
from receiver.queries import query

LENGTH = struct.Struct("!I")
ANSWER = struct.Struct("!q")
FIELDS = len(COLUMNS)
_TEXT = frozenset({"channel", "content_type", "headers", "client_addr", "request_id"})


def encode(row: tuple[bytes, ...]) -> bytes:
    """One frame of a row's fields, in COLUMNS order."""
    payload = b"".join(LENGTH.pack(len(value)) + value for value in row)
    return LENGTH.pack(len(payload)) + payload


def decode(payload: bytes) -> list[bytes]:
    """The fields of one frame's payload."""
    fields, at = [], 0
    for _ in range(FIELDS):
        (size,) = LENGTH.unpack_from(payload, at)
        fields.append(payload[at + 4 : at + 4 + size])
        at += 4 + size
    return fields


def serve(path: str, url: str, gather_seconds: float = 0.0, gather_rows: int = 16) -> None:
    """Answer rows until killed. With `gather_seconds`, a batch waits up to that long after
    its first row for `gather_rows` rows: fewer, larger commits, for some latency."""
    conn = psycopg.connect(url, autocommit=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    listener.bind(path)
    listener.listen(128)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    buffers: dict[socket.socket, bytearray] = {}
    while True:
        arrived = _read(selector, listener, buffers, None)
        if not arrived:
            continue
        due = time.monotonic() + gather_seconds
        while len(arrived) < gather_rows and (left := due - time.monotonic()) > 0:
            arrived += _read(selector, listener, buffers, left)
        for start in range(0, len(arrived), MAX_BATCH_ROWS):
            _store(conn, arrived[start : start + MAX_BATCH_ROWS])


def _read(
    selector: selectors.BaseSelector,
    listener: socket.socket,
    buffers: dict[socket.socket, bytearray],
    timeout: float | None,
) -> list[tuple[socket.socket, list[bytes]]]:
    """The rows that arrived within `timeout` (None: until something happens)."""
    arrived: list[tuple[socket.socket, list[bytes]]] = []
    for key, _ in selector.select(timeout):
        sock = key.fileobj
        assert isinstance(sock, socket.socket)
        if sock is listener:
            peer, _ = listener.accept()
            peer.setblocking(False)
            selector.register(peer, selectors.EVENT_READ)
            buffers[peer] = bytearray()
            continue
        data = sock.recv(1 << 20)
        if not data:
            selector.unregister(sock)
            sock.close()
            del buffers[sock]
            continue
        buffer = buffers[sock]
        buffer += data
        while len(buffer) >= 4:
            (size,) = LENGTH.unpack_from(buffer)
            if len(buffer) < 4 + size:
                break
            arrived.append((sock, decode(bytes(buffer[4 : 4 + size]))))
            del buffer[: 4 + size]
    return arrived


def _store(
    conn: psycopg.Connection[tuple[object, ...]], batch: list[tuple[socket.socket, list[bytes]]]
) -> None:
    columns = {
        name: [fields[i].decode() or None if name in _TEXT else fields[i] for _, fields in batch]
        for i, name in enumerate(COLUMNS)
    }
    ids = [cast("int | None", row[0]) for row in conn.execute(query("store_events"), columns)]
    for (sock, _), event_id in zip(batch, ids, strict=True):
        sock.sendall(ANSWER.pack(-1 if event_id is None else event_id))


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], float(os.environ.get("WABAHOOK_BENCH_GATHER_MS", "0")) / 1000)
