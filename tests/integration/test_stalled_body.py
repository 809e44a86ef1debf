"""A body that stalls or trickles, sent straight to gunicorn: 408 before its worker timeout.

gunicorn aborts a worker silent for its `timeout` (5 s) with a 500: a few stalled
connections would cycle every worker, so the receiver bounds the whole body.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from processors import channels
from tests.integration.helpers import basic, count, stored_events
from tests.support.rawhttp import Receiver

pytestmark = pytest.mark.slow  # gunicorn reading stalled bodies

MIB = 1024 * 1024
GUARD = 30.0  # a hang guard, not a speed target
TRICKLE_PAUSE = 0.5


@pytest.fixture
def receiver(
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    tmp_path: Path,
) -> Receiver:
    """One worker, so the request after a stalled one is answered by the same process."""
    log = tmp_path / "gunicorn.log"
    env = {**app_env, "WABAHOOK_MAX_BODY_BYTES": str(2 * MIB), "WABAHOOK_LOG_FORMAT": "text"}
    url = start_gunicorn(env, workers=1, stderr=log)
    return Receiver(url, log, basic(channel.username, channel.password))


def head(receiver: Receiver, framing: str) -> bytes:
    """A POST's request line and headers, with `framing` (Content-Length or chunked)."""
    return (
        "POST /webhooks/acme HTTP/1.1\r\nHost: wabahook\r\nContent-Type: application/json\r\n"
        f"Authorization: {receiver.auth}\r\n{framing}\r\n\r\n"
    ).encode()


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails once the hang guard passes."""
    answer = b""
    sock.settimeout(GUARD)
    while data := sock.recv(65536):
        answer += data
    return answer


def stall(receiver: Receiver, sent: bytes) -> bytes:
    """Send `sent`, then nothing more with the connection kept open: the answer."""
    with socket.create_connection(receiver.address, timeout=GUARD) as sock:
        sock.sendall(sent)
        return answer_of(sock)


def trickle(receiver: Receiver, sent: bytes, rest: bytes) -> tuple[bytes, int]:
    """Send `sent`, then `rest` a byte at a time with pauses until answered: the answer
    and how many of `rest`'s bytes went out before it."""
    with socket.create_connection(receiver.address, timeout=GUARD) as sock:
        sock.sendall(sent)
        sock.settimeout(TRICKLE_PAUSE)
        for trickled, byte in enumerate(rest):
            try:
                first = sock.recv(65536)
            except TimeoutError:
                sock.sendall(bytes([byte]))
                continue
            return first + answer_of(sock), trickled
        return answer_of(sock), len(rest)


def post(receiver: Receiver, body: bytes, pieces: int = 1) -> bytes:
    """A whole POST, its body sent in `pieces` quick writes; the answer."""
    size = -(-len(body) // pieces)
    with socket.create_connection(receiver.address, timeout=GUARD) as sock:
        sock.sendall(head(receiver, f"Content-Length: {len(body)}\r\nConnection: close"))
        for start in range(0, len(body), size):
            sock.sendall(body[start : start + size])
            time.sleep(0.05)
        return answer_of(sock)


def check_refused_in_time(answer: bytes, receiver: Receiver, database_url: str) -> None:
    """408 with Connection: close, nothing stored, and the worker still the one it was."""
    status_line, _, rest = answer.partition(b"\r\n")
    headers = rest.partition(b"\r\n\r\n")[0].lower()
    assert status_line.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"connection: close" in headers.split(b"\r\n"), headers
    assert count(database_url, "raw_events") == 0
    # The same worker answers the next delivery, on a new connection.
    assert post(receiver, b'{"next":1}').startswith(b"HTTP/1.1 200")
    assert count(database_url, "raw_events") == 1
    log = receiver.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert "WORKER TIMEOUT" not in log
    assert log.count("Booting worker") == 1, log


def test_body_shorter_than_its_content_length_and_kept_open_is_408(
    receiver: Receiver, database_url: str
) -> None:
    sent = head(receiver, "Content-Length: 100") + b'{"entry":[]'
    check_refused_in_time(stall(receiver, sent), receiver, database_url)


def test_chunk_larger_than_what_follows_and_kept_open_is_408(
    receiver: Receiver, database_url: str
) -> None:
    sent = head(receiver, "Transfer-Encoding: chunked") + b"1000\r\n" + b'{"entry":[]'
    check_refused_in_time(stall(receiver, sent), receiver, database_url)


def test_trickled_body_is_408_by_the_deadline_not_after_the_whole_body(
    receiver: Receiver, database_url: str
) -> None:
    rest = b"x" * 100  # 50 s at a byte every 0.5 s, were the sender left to finish
    answer, trickled = trickle(receiver, head(receiver, f"Content-Length: {len(rest)}"), rest)
    # Answered while most of the body was still to come: no per-read timeout would.
    assert trickled < len(rest) // 2, trickled
    check_refused_in_time(answer, receiver, database_url)


def test_large_body_sent_in_quick_pieces_is_stored(receiver: Receiver, database_url: str) -> None:
    body = b'{"blob":"' + b"a" * (MIB - 11) + b'"}'
    assert len(body) == MIB
    answer = post(receiver, body, pieces=4)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    (event,) = stored_events(database_url)
    assert bytes(event["body"]) == body
    assert "Traceback" not in receiver.log.read_text(errors="replace")
