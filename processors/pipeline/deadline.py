"""The batch deadline: an event whose parsing overruns it is rejected, from outside.

Parsing is linear in the size of a body, but a step that hangs anyway, stuck in C code
such as a regular expression or a decoder, holds the GIL: no other thread of its
process, no signal handler and no RQ job timeout runs until it returns. So a worker
and `wabahook drain` run their drains in a child process, watched by a parent that
does nothing else. While a lane parses a batch, it writes to memory the two share
which event it is on and since when. Once one event has taken longer than the
deadline, the parent kills the child: PostgreSQL rolls its open batches back, so
their other events are due again at once. The parent has that event recorded
`rejected` ("processing deadline exceeded") and starts the child again.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import mmap
import os
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("wabahook.drain")

DEADLINE_REJECTION = "processing deadline exceeded"
# Lanes that can be watched at once in one child; a lane beyond them runs unwatched.
LANES = 32
POLL_SECONDS = 0.05
_SLOT = struct.Struct("=qd")  # the event being parsed (0: none) and since when (monotonic)
_PR_SET_PDEATHSIG = 1


class ParseClock:
    """Which event each lane is parsing, and since when, in memory a parent can read."""

    def __init__(self) -> None:
        # Anonymous and shared: a child forked after this writes where the parent reads.
        self._memory = mmap.mmap(-1, _SLOT.size * LANES)
        self._free = list(range(LANES))
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lane(self) -> Iterator[Callable[[int], None]]:
        """A lane's slot while it parses; yields `parsing(event_id)`, called before each event."""
        with self._lock:
            slot = self._free.pop() if self._free else None
        if slot is None:
            yield _unwatched
            return
        offset = slot * _SLOT.size
        memory = self._memory

        def parsing(event_id: int) -> None:
            _SLOT.pack_into(memory, offset, event_id, time.monotonic())

        try:
            yield parsing
        finally:
            _SLOT.pack_into(memory, offset, 0, 0.0)
            with self._lock:
                self._free.append(slot)

    def overrun(self, seconds: float) -> int | None:
        """An event some lane has been parsing for longer than `seconds`, if any."""
        now = time.monotonic()
        for slot in range(LANES):
            event_id, since = _SLOT.unpack_from(self._memory, slot * _SLOT.size)
            if event_id and now - since > seconds:
                return int(event_id)
        return None

    def clear(self) -> None:
        """Forget every lane (their child is gone)."""
        self._memory[:] = bytes(len(self._memory))
        self._free = list(range(LANES))


def _unwatched(event_id: int) -> None:
    """A lane with no slot left: nobody watches it."""


# The clock of this process's lanes: set in a child that runs under supervise().
_clock: ParseClock | None = None


@contextlib.contextmanager
def parse_lane() -> Iterator[Callable[[int], None]]:
    """`parsing(event_id)` for a lane of this process: watched when it runs under supervise()."""
    if _clock is None:
        yield _unwatched
        return
    with _clock.lane() as parsing:
        yield parsing


@dataclass(frozen=True, slots=True)
class Overrun:
    """An event that overran the deadline; its child was killed."""

    event_id: int


def supervise(
    child: Callable[[], int],
    *,
    deadline: float,
    on_overrun: Callable[[int], None],
    on_line: Callable[[bytes], None] | None = None,
) -> int:
    """Run `child` in a child process under the batch deadline; return its exit status.

    Call it before this process opens threads, pools or sockets: the child is forked
    from it, maybe more than once. SIGTERM and SIGINT are handed on to the child. When
    an event overruns `deadline` seconds of parsing, the child is killed, `on_overrun`
    is given the event's id (to reject it: processors.pipeline.drain.reject_overrun),
    and `child` starts again. Each line the child gives `report()` reaches `on_line`.
    """
    global _clock, _report_fd
    clock = ParseClock()
    while True:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(reader)
            _clock, _report_fd = clock, writer
            _run_child(child)
        os.close(writer)
        with _Lines(reader, on_line or _ignored) as lines:
            outcome = _watch(pid, clock, deadline, lines)
        if not isinstance(outcome, Overrun):
            return outcome
        clock.clear()
        log.error(
            "event exceeded the batch deadline: rejected, drain restarted",
            extra={"raw_event_id": outcome.event_id, "deadline_seconds": deadline},
        )
        try:
            on_overrun(outcome.event_id)
        except Exception as exc:  # PostgreSQL away: the next child meets the event again
            log.error(
                "could not reject the event that exceeded the batch deadline",
                extra={"raw_event_id": outcome.event_id, "error": str(exc)},
            )


def _run_child(child: Callable[[], int]) -> None:
    """The child's life: `child`, then exit with its status, never returning."""
    code = 1
    try:
        # Its own process group, so that a terminal's Ctrl-C reaches it once, through the
        # parent; and it ends with its parent, killed or not.
        os.setpgid(0, 0)
        _die_with_parent()
        code = child()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (elsewhere: nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _watch(pid: int, clock: ParseClock, deadline: float, lines: _Lines) -> int | Overrun:
    """Wait for child `pid`: its exit status, or the event it overran on (it is killed)."""

    def hand_on(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {s: signal.signal(s, hand_on) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            lines.read()
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                lines.read_to_end()
                return os.waitstatus_to_exitcode(status) % 256
            overrun = clock.overrun(deadline)
            if overrun is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Overrun(overrun)
            time.sleep(POLL_SECONDS)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# The child's end of its pipe to the parent (None: not a supervised child).
_report_fd: int | None = None


def report(line: bytes) -> None:
    """Hand one line (no newline in it) to the supervising parent; nothing when unsupervised."""
    if _report_fd is None:
        return
    data = line + b"\n"
    while data:
        data = data[os.write(_report_fd, data) :]


def _ignored(line: bytes) -> None:
    """No one reads the child's lines."""


class _Lines:
    """The parent's end of the pipe: whole lines, handed on as they come."""

    def __init__(self, fd: int, on_line: Callable[[bytes], None]) -> None:
        self._fd = fd
        self._on_line = on_line
        self._pending = b""
        os.set_blocking(fd, False)

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)

    def read(self) -> bool:
        """Hand on the lines that have arrived; False once the child's end is closed."""
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            *whole, self._pending = (self._pending + chunk).split(b"\n")
            for line in whole:
                self._on_line(line)

    def read_to_end(self) -> None:
        """Every line the exited child wrote (a process it left holding the pipe: 1 s at most)."""
        until = time.monotonic() + 1.0
        while self.read() and time.monotonic() < until:
            time.sleep(0.01)
