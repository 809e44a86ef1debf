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
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("wabahook.drain")

DEADLINE_REJECTION = "processing deadline exceeded"
POLL_SECONDS = 0.05
_PR_SET_PDEATHSIG = 1


class ParseClock:
    """Which event this process is parsing, and since when, in memory a parent can read.

    One lane parses at a time (the others wait for the lock, unwatched): parsing is
    Python holding the GIL, so lanes gain nothing by parsing at once, and a lane stuck
    in C code would stop another lane's parse too, which would then overrun the deadline
    as well, innocent. So at most one event is ever on the clock, and it is the culprit.
    """

    def __init__(self) -> None:
        # Anonymous and shared: a child forked after this writes where the parent reads.
        self._memory = mmap.mmap(-1, 16)
        view = memoryview(self._memory)
        # Aligned 8-byte words, each written whole: the time before the event, so that a
        # reader never pairs an event with a time older than its own.
        self._event = view[:8].cast("q")
        self._since = view[8:].cast("d")
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lane(self) -> Iterator[Callable[[int], None]]:
        """The clock for one lane's parse: yields `parsing(event_id)`, called before each event."""
        event, since = self._event, self._since

        def parsing(event_id: int) -> None:
            since[0] = time.monotonic()
            event[0] = event_id

        with self._lock:
            try:
                yield parsing
            finally:
                event[0] = 0

    def overrun(self, seconds: float) -> int | None:
        """The event being parsed for longer than `seconds`, if any."""
        event_id = self._event[0]
        since = self._since[0]
        if event_id and time.monotonic() - since > seconds:
            return int(event_id)
        return None

    def clear(self) -> None:
        """Forget the event on the clock (its child is gone)."""
        self._event[0] = 0


def _unwatched(event_id: int) -> None:
    """A lane no one watches (not under supervise())."""


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
    stop = _Stop()
    while True:
        reader, writer = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(reader)
            _clock, _report_fd = clock, writer
            _run_child(child, parent)
        os.close(writer)
        with contextlib.suppress(OSError):  # the child may have done it, or be gone
            os.setpgid(pid, pid)
        with _Lines(reader, on_line or _ignored) as lines, stop.handing_on(pid):
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
        if stop.signum is not None:  # asked to stop while stuck: stop, do not start again
            return 128 + stop.signum


class _Stop:
    """SIGTERM and SIGINT, handed on to the child, and remembered."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @contextlib.contextmanager
    def handing_on(self, pid: int) -> Iterator[None]:
        """While child `pid` runs: each stop signal goes on to it."""

        def hand_on(signum: int, frame: FrameType | None) -> None:
            self.signum = signum
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

        previous = {s: signal.signal(s, hand_on) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _run_child(child: Callable[[], int], parent: int) -> None:
    """The child's life: `child`, then exit with its status, never returning."""
    code = 1
    try:
        # Its own process group, so that a terminal's Ctrl-C reaches it once, through the
        # parent; and it ends with its parent, killed or not.
        os.setpgid(0, 0)
        die_with(parent)
        code = child()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def die_with(parent: int) -> None:
    """Ask Linux to kill this process when `parent` dies (elsewhere: nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent died before prctl took effect. (Not "is the parent 1": in a container
    # without an init, the parent is process 1 itself.)
    if os.getppid() != parent:
        os._exit(1)


def _watch(pid: int, clock: ParseClock, deadline: float, lines: _Lines) -> int | Overrun:
    """Wait for child `pid`: its exit status, or the event it overran on (it is killed)."""
    while True:
        lines.read()
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            lines.read_to_end()
            return _exit_status(status)
        overrun = clock.overrun(deadline)
        if overrun is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return Overrun(overrun)
        time.sleep(POLL_SECONDS)


def _exit_status(status: int) -> int:
    """A child's wait status as a shell gives it: its exit code, or 128 + the signal."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


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
