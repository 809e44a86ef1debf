"""One intake writer per receiver host: every worker's rows, committed in groups.

A durable commit costs PostgreSQL a WAL flush, and a worker that waits for one loses its
core and caches; one connection commits a few thousand single rows a second but tens of
thousands in batches. With `WABAHOOK_INTAKE_WRITER=process`, gunicorn's master starts
this process (and starts it again if it dies); sync or gthread workers send each row
over a Unix socket in a folder only this user can enter, and wait. The writer reads
whatever has arrived from all of them, stores it with one statement and one commit
(`store_rows`, the one place intake writes) and answers each row with its own outcome.

What a request learns: its event id; "not stored" (its channel was disabled meanwhile:
401); "failed" (the batch's commit failed: 503). A writer that cannot take a row (none
listening, or a send that failed: less than the whole frame, which is never stored) is
no reason to refuse it: the worker stores that row itself. Once a whole row is sent, any
trouble (the writer died, no answer within the deadline) is a 503, never a second
attempt that could store it twice.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from receiver.db import Database, DatabaseError, DatabaseUnavailable
from receiver.group_commit import COLUMNS, MAX_BATCH_ROWS, store_rows

log = logging.getLogger("wabahook.writer")

SOCKET_VARIABLE = "WABAHOOK_WRITER_SOCKET"  # set by gunicorn's master for its workers
_LENGTH = struct.Struct("!I")
_ANSWER = struct.Struct("!q")
# When the worker gives up on the row: time.monotonic(), which Linux counts host-wide.
_DEADLINE = struct.Struct("!d")
# A row is only stored if its commit can end this long before its worker gives up: a
# commit after the worker has answered 503 would be stored and then sent again.
DEADLINE_MARGIN_SECONDS = 0.05
NOT_STORED = -1
FAILED = -2
# A frame is one row: its body is at most WABAHOOK_MAX_BODY_BYTES. Anything far larger
# is a broken peer, not a delivery.
MAX_FRAME_BYTES = 256 * 1024 * 1024
ACCEPT_PAUSE_SECONDS = 0.2
_TEXT = ("channel", "content_type", "client_addr", "request_id")


def encode(row: Mapping[str, Any], deadline: float) -> bytes:
    """One row as a frame: a length, the row's deadline (time.monotonic()), then each of
    COLUMNS as a length and its bytes (text as UTF-8, headers as JSON; a length of
    2**32-1 is None)."""
    parts = [_DEADLINE.pack(deadline)]
    for name in COLUMNS:
        value = row[name]
        if name == "headers":
            value = json.dumps(value, separators=(",", ":"))
        if value is None:
            parts.append(_LENGTH.pack(0xFFFFFFFF))
            continue
        data = value.encode() if isinstance(value, str) else bytes(value)
        parts.append(_LENGTH.pack(len(data)) + data)
    payload = b"".join(parts)
    return _LENGTH.pack(len(payload)) + payload


def decode(payload: bytes) -> tuple[dict[str, Any], float]:
    """The row of one frame's payload and its deadline (what encode() was given)."""
    row: dict[str, Any] = {}
    (deadline,) = _DEADLINE.unpack_from(payload)
    at = _DEADLINE.size
    for name in COLUMNS:
        (size,) = _LENGTH.unpack_from(payload, at)
        at += 4
        if size == 0xFFFFFFFF:
            row[name] = None
            continue
        data = payload[at : at + size]
        at += size
        if name == "headers":
            row[name] = headers = json.loads(data)
            if not isinstance(headers, dict):
                raise ValueError("headers that are not an object")
        elif name in _TEXT:
            row[name] = data.decode()
        else:
            row[name] = data
    if at != len(payload):
        raise ValueError("a frame longer than its row")
    return row, deadline


_Arrived = tuple[socket.socket, dict[str, Any], float]  # a connection, its row, the deadline


class WriterClient:
    """A worker's side: sends a row to the writer and waits for its outcome."""

    def __init__(self, path: str, db: Database) -> None:
        self._path = path
        self._db = db
        self._local = threading.local()  # one connection per request thread

    def store(self, row: Mapping[str, Any], timeout: float) -> int | None:
        """The new event's id (None: not stored), DatabaseError, or DatabaseUnavailable
        when the writer does not answer within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        frame = encode(row, deadline)
        sock = self._send(frame, timeout)
        if sock is None:  # no writer took the frame: this worker may store the row itself
            return store_rows(self._db, [row])[0]
        try:
            answer = b""
            while len(answer) < _ANSWER.size:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                part = sock.recv(_ANSWER.size - len(answer))
                if not part:
                    raise ConnectionError("the intake writer closed the connection")
                answer += part
        except OSError as exc:  # timeouts included
            self._forget(sock)
            reason = "no answer in time" if isinstance(exc, TimeoutError) else "connection lost"
            raise DatabaseUnavailable(f"intake writer: {reason}") from None
        (outcome,) = _ANSWER.unpack(answer)
        if outcome == FAILED:
            raise DatabaseUnavailable("intake writer: the batch was not stored")
        return None if outcome == NOT_STORED else outcome

    def _send(self, frame: bytes, timeout: float) -> socket.socket | None:
        """The connection that took all of `frame`, or None when no writer could.

        A send that fails took less than the whole frame, which a writer never stores:
        the row is still this worker's. A writer that died (and was replaced) since this
        thread's last row shows as EPIPE on the first send: then once more, on a new
        connection, without a look at the socket before every row.
        """
        for fresh in (False, True):
            sock = self._socket(timeout, fresh)
            if sock is None:
                return None
            try:
                sock.settimeout(timeout)
                sock.sendall(frame, socket.MSG_NOSIGNAL)
            except (BrokenPipeError, ConnectionResetError):
                self._forget(sock)
                continue
            except OSError as exc:  # a writer that takes nothing in time: it is stuck
                self._forget(sock)
                raise DatabaseUnavailable(f"intake writer: {exc.__class__.__name__}") from None
            return sock
        return None

    def _socket(self, timeout: float, fresh: bool) -> socket.socket | None:
        local = self._local
        if not fresh and getattr(local, "pid", None) == os.getpid() and local.sock is not None:
            sock: socket.socket = local.sock
            return sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            return None
        local.sock, local.pid = sock, os.getpid()
        return sock

    def close(self) -> None:
        """Close this thread's connection to the writer, if it has one."""
        sock = getattr(self._local, "sock", None)
        if sock is not None:
            self._forget(sock)

    def _forget(self, sock: socket.socket) -> None:
        # Its stream may hold a late answer to this row: the next row needs a fresh one.
        sock.close()
        self._local.sock = None


class Writer:
    """The writer process: reads rows from every worker, stores them in groups."""

    def __init__(self, path: str, db: Database) -> None:
        self._db = db
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)  # a socket left by a writer that died
        self._listener.bind(path)
        self._listener.listen(256)
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._buffers: dict[socket.socket, bytearray] = {}
        self._listening_again = 0.0  # when a paused listener is watched again (0: it is)

    def serve(self, parent: int, stopping: threading.Event) -> None:
        """Store what arrives until `stopping` is set or `parent` (gunicorn's master) is
        gone; a batch in hand is stored and answered first."""
        while not stopping.is_set() and os.getppid() == parent:
            arrived = self._read(timeout=0.5)
            for start in range(0, len(arrived), MAX_BATCH_ROWS):
                self._store(arrived[start : start + MAX_BATCH_ROWS])

    def _read(self, timeout: float) -> list[_Arrived]:
        """The rows that arrived within `timeout`, from every connection at once."""
        if self._listening_again and time.monotonic() >= self._listening_again:
            self._selector.register(self._listener, selectors.EVENT_READ)
            self._listening_again = 0.0
        elif self._listening_again:
            timeout = min(timeout, self._listening_again - time.monotonic())
        ready: list[socket.socket] = []
        for key, _ in self._selector.select(timeout):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is self._listener:
                # Every connection waiting, each read in this same pass: a worker's first
                # row joins the batch of those that arrived with it.
                ready += self._accept_all()
            else:
                ready.append(sock)
        arrived: list[_Arrived] = []
        for sock in ready:
            arrived += self._receive(sock)
        # Rows of a connection dropped meanwhile have no one to answer: not stored.
        return [found for found in arrived if found[0] in self._buffers]

    def _accept_all(self) -> list[socket.socket]:
        accepted: list[socket.socket] = []
        while True:
            try:
                peer, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return accepted
            except OSError as exc:  # out of file descriptors, a peer gone before accept...
                # Not fatal: the connected workers go on, and the ones waiting to connect
                # are let in once the listener is watched again, a moment later.
                log.error("intake writer: cannot accept connections", extra={"error": str(exc)})
                self._selector.unregister(self._listener)
                self._listening_again = time.monotonic() + ACCEPT_PAUSE_SECONDS
                return accepted
            peer.setblocking(False)
            self._selector.register(peer, selectors.EVENT_READ)
            self._buffers[peer] = bytearray()
            accepted.append(peer)

    def _receive(self, sock: socket.socket) -> list[_Arrived]:
        """The whole frames `sock` has sent so far (none when it has nothing new)."""
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return []
        buffer = self._buffers[sock]
        buffer += data
        rows: list[_Arrived] = []
        try:
            while len(buffer) >= _LENGTH.size:
                (size,) = _LENGTH.unpack_from(buffer)
                if size > MAX_FRAME_BYTES:
                    raise ValueError(f"a frame of {size} bytes")
                if len(buffer) < _LENGTH.size + size:
                    break
                rows.append((sock, *decode(bytes(buffer[4 : 4 + size]))))
                del buffer[: 4 + size]
        except Exception as exc:  # any frame we cannot read: that peer alone is dropped
            log.error("intake writer: a malformed frame; connection dropped",
                      extra={"error": f"{type(exc).__name__}: {exc}"[:200]})  # fmt: skip
            self._drop(sock)
            return []
        return rows

    def _store(self, arrived: list[_Arrived]) -> None:
        now = time.monotonic()
        # A row whose worker gives up before a commit could end is not stored: that
        # worker answers 503 and the sender tries again; storing it too would double it.
        late = [(sock, row, due) for sock, row, due in arrived
                if due - now <= DEADLINE_MARGIN_SECONDS]  # fmt: skip
        batch = [(sock, row, due) for sock, row, due in arrived
                 if due - now > DEADLINE_MARGIN_SECONDS]  # fmt: skip
        self._answer(late, [FAILED] * len(late))
        if not batch:
            return
        # The commit must end before the first of them gives up, or not happen.
        budget = min(due for _, _, due in batch) - now - DEADLINE_MARGIN_SECONDS
        try:
            ids = store_rows(self._db, [row for _, row, _ in batch], timeout=budget)
            outcomes = [NOT_STORED if event_id is None else event_id for event_id in ids]
        except DatabaseError as exc:
            level = logging.WARNING if isinstance(exc, DatabaseUnavailable) else logging.ERROR
            log.log(level, "intake writer: batch not stored",
                    extra={"error": str(exc), "rows": len(batch)})  # fmt: skip
            outcomes = [FAILED] * len(batch)
        except Exception as exc:  # our own bug: still an answer (503) for every row
            log.exception("intake writer: batch not stored",
                          extra={"error": type(exc).__name__, "rows": len(batch)})  # fmt: skip
            outcomes = [FAILED] * len(batch)
        self._answer(batch, outcomes)

    def _answer(self, rows: list[_Arrived], outcomes: list[int]) -> None:
        for (sock, _, _), outcome in zip(rows, outcomes, strict=True):
            try:
                sock.send(_ANSWER.pack(outcome))
            except OSError:  # that worker gave up (deadline) or died: it answered 503
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        if sock in self._buffers:
            self._selector.unregister(sock)
            del self._buffers[sock]
        sock.close()


class Supervisor:
    """In gunicorn's master: keeps one writer process running, and names its socket to
    the workers (through the environment they inherit)."""

    RESTART_SECONDS = 0.5
    # A writer that keeps dying at once is started less and less often (the workers
    # commit their own rows meanwhile), up to this long apart...
    MAX_RESTART_SECONDS = 30.0
    # ...and one that ran this long was healthy: its successor starts quickly again.
    STABLE_SECONDS = 10.0

    def __init__(self, log_error: Any) -> None:
        self._folder = tempfile.mkdtemp(prefix="wabahook-writer-")  # 0700: ours alone
        self.path = str(Path(self._folder) / "writer.sock")
        self._log_error = log_error
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._thread = threading.Thread(target=self._run, name="writer-supervisor", daemon=True)

    def start(self) -> None:
        """Start the writer, wait until it listens, and keep it running."""
        self._process = self._spawn()
        self._wait_listening(self._process)
        self._thread.start()
        os.environ[SOCKET_VARIABLE] = self.path  # for the workers, forked after this

    def stop(self) -> None:
        """Stop the writer (its rows in flight are answered first) and remove its folder."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        # Already gone, maybe (a cleaner of /tmp): nothing to stop gunicorn's exit for.
        shutil.rmtree(self._folder, ignore_errors=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._started = time.monotonic()
        return subprocess.Popen([sys.executable, "-c", ENTRY, self.path])

    def _wait_listening(self, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not os.path.exists(self.path) and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)

    def _run(self) -> None:
        delay = self.RESTART_SECONDS
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            # gunicorn's master reaps every child; wait() then sees it gone either way.
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - self._started >= self.STABLE_SECONDS:
                delay = self.RESTART_SECONDS
            self._log_error("intake writer exited (%s); starting another in %g s", code, delay)
            if self._stopping.wait(delay):
                return
            self._process = self._spawn()
            delay = min(delay * 2, self.MAX_RESTART_SECONDS)


# Not `python -m receiver.writer`: the package imports this module first.
ENTRY = "from receiver.writer import main; main()"


def main() -> None:
    """The writer process (`python -c ENTRY SOCKET`), configured from the environment."""
    from receiver.config import Settings
    from receiver.logs import configure

    settings = Settings.from_env()
    configure(settings.log_format)
    # A connection per request thread of every worker: as many files as the host allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parent = os.getppid()
    # SIGTERM: finish the batch in hand, then go (the loop checks between batches).
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the master, which stops us
    db = Database(settings.database_url, application_name="wabahook-writer",
                  timeout=settings.db_timeout, max_size=1)  # fmt: skip
    try:
        writer = Writer(sys.argv[1], db)
    except OSError as exc:  # its folder gone, say: one line; the master tries again later
        log.error("intake writer cannot listen", extra={"error": f"{sys.argv[1]}: {exc}"})
        raise SystemExit(1) from None
    try:
        writer.serve(parent, stopping)
    finally:
        db.close()
