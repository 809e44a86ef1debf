"""Reading answers off raw sockets, for tests that hand-make HTTP requests."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Receiver:
    """A receiver a test started: its base URL, its log file, a channel's Authorization."""

    url: str
    log: Path
    auth: str

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to open a raw socket to."""
        parts = urlsplit(self.url)
        assert parts.hostname
        assert parts.port
        return parts.hostname, parts.port


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
