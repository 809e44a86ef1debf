"""A rebuild's windows projected by processes of their own, one core each.

Threads share one interpreter lock: two thread lanes overlap Python with PostgreSQL,
but never Python with Python, and parsing is most of a rebuild's Python. A process per
lane does: a large rebuild is 1.4 times as fast on two cores (docs/design/performance.md).
The parent holds the rebuild's gate and swaps; its children only project windows into
the tables aside, each window in its own transaction, and report what each did.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

from processors.pipeline.deadline import die_with
from processors.pipeline.drain_result import DrainResult
from receiver.config import Secret
from receiver.db import Database, first_line
from receiver.errors import WabahookError

# What a window did (processors.pipeline.rebuild.RebuildStats' parts), and its report
# as children send it: the DrainResult's line.
Failure = tuple[int, str] | None
OnWindow = Callable[[DrainResult, Failure], bool]
ProjectWindow = Callable[[Database, int, int, int], Any]  # -> RebuildStats
# How long the parent waits for a report before it looks whether its children still run.
POLL_SECONDS = 1.0
# Once stopped, a child ends its window; past this it is terminated.
STOP_SECONDS = 30.0
# At most this many by default: each holds a connection, and a host's cores may be many
# more than this process may use.
MAX_PROCESSES = 4


class LaneError(WabahookError):
    """A rebuild lane in a process of its own stopped on an error."""


def project_in_processes(
    db: Database,
    starts: range,
    processes: int,
    project_window: ProjectWindow,
    on_window: OnWindow,
) -> None:
    """Project the windows beginning at `starts` (its step their size, its stop the end) on
    `processes` child processes.

    `on_window` sees what each window did, in this process, and returns whether to go on;
    when it does not, or a child fails, the children stop after their window and the
    first error is raised here.
    """
    context = multiprocessing.get_context("spawn")  # nothing of this process's state
    # The next window to take: a shared counter, where a queue of them would hold this
    # process at its exit while nobody reads what is left.
    next_start = context.Value("q", starts.start)
    reports: Queue[tuple[str, Any]] = context.Queue()
    stop = context.Event()
    args = (db.url.reveal(), db.timeout, starts, project_window, next_start, reports, stop)
    children = [
        context.Process(target=_lane, args=args, name=f"rebuild-lane-{n}", daemon=True)
        for n in range(processes)
    ]
    error: str | None = None
    try:
        _start(children)
        for kind, payload in _reports(children, reports):
            if kind == "died":
                error = error or "a rebuild lane ended without a word (was it killed?)"
                break  # the others are stopped below
            if kind == "error":
                error = error or payload
                stop.set()
            elif not on_window(DrainResult.from_line(payload[0]), payload[1]):
                stop.set()
    finally:
        stop.set()
        for child in children:
            if child.pid is None:
                continue  # never started
            child.join(STOP_SECONDS)
            if child.is_alive():  # stuck, maybe on a lock a dead lane held
                child.terminate()  # its transaction is rolled back as its connection goes
                child.join()
    if error is not None:
        raise LaneError(error)


def cores() -> int:
    """The processes a rebuild starts by default: the cores this process may run on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return min(usable, MAX_PROCESSES)


def _start(children: list[SpawnProcess]) -> None:
    """Start the children with Ctrl-C ignored, as they keep it (it is the parent's)."""
    if threading.current_thread() is not threading.main_thread():
        for child in children:  # only the main thread may change a signal's handling
            child.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for child in children:
            child.start()
    finally:
        signal.signal(signal.SIGINT, previous)


def _reports(children: list[SpawnProcess], reports: Queue[tuple[str, Any]]) -> Iterator[Any]:
    """What the children report, until every one has ended and all it sent is read; a
    child that ended on a signal or an exit status of its own is ("died", None)."""
    while True:
        try:
            report = reports.get(timeout=POLL_SECONDS)
        except queue.Empty:
            report = None
        codes = [child.exitcode for child in children]
        if any(code not in (None, 0) for code in codes):
            yield "died", None
            return
        if report is not None:
            yield report
        elif None not in codes:
            break
    # A child sends before it ends: whatever it sent is in the pipe by now.
    while True:
        try:
            yield reports.get(timeout=0.1)
        except queue.Empty:
            return


def _lane(
    url: str,
    timeout: float,
    starts: range,
    project_window: ProjectWindow,
    next_start: Synchronized[int],
    reports: Queue[tuple[str, Any]],
    stop: Event,
) -> None:
    """A child: project windows until none is left, or the parent says stop or is gone."""
    parent = os.getppid()
    die_with(parent)  # killed, the parent leaves no lane behind
    db = Database(Secret(url), application_name="wabahook-rebuild", timeout=timeout)
    try:
        while not stop.is_set() and os.getppid() == parent:
            with next_start.get_lock():
                start = next_start.value
                next_start.value += starts.step
            if start >= starts.stop:
                break
            done = project_window(db, start, min(start + starts.step, starts.stop), starts.step)
            reports.put(("window", (done.totals.to_line(), done.first_failure)))
    except Exception as exc:  # told to the parent, which raises it
        reports.put(("error", f"{type(exc).__name__}: {first_line(exc)}"))
    finally:
        db.close()
