"""Reading answers off raw sockets, for tests that hand-make HTTP requests."""

from __future__ import annotations

import socket


def read_answer(sock: socket.socket, enough: bytes | None = None) -> bytes:
    """What the server sends until it closes or resets (or until `enough` has arrived)."""
    answer = b""
    while enough is None or enough not in answer:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        answer += data
    return answer
