"""The batch deadline's watcher: a child stuck in C code is killed, told, and started again."""

from __future__ import annotations

import re
from pathlib import Path

from processors.pipeline.deadline import parse_lane, report, supervise

# A pattern that restarts at every escaped quote of an unterminated string: minutes of C
# code holding the GIL on this subject, which no thread or signal handler interrupts.
QUADRATIC = re.compile(rb'"(?:[^"\\]|\\.)*"')
SUBJECT = b'"' + b'\\"' * 200_000


def stuck_once(marker: Path, event_id: int) -> int:
    """A child that reports a line, then hangs parsing `event_id` until `marker` exists."""
    report(b"started")
    with parse_lane() as parsing:
        parsing(event_id)
        if not marker.exists():
            QUADRATIC.search(SUBJECT)
    report(b"done")
    return 0


def test_a_child_stuck_in_c_code_is_killed_and_started_again(tmp_path: Path) -> None:
    marker = tmp_path / "rejected"
    overruns: list[int] = []
    lines: list[bytes] = []

    def overran(event_id: int) -> None:
        overruns.append(event_id)
        marker.touch()  # what rejecting the event does: the next child does not meet it

    code = supervise(
        lambda: stuck_once(marker, 7), deadline=0.3, on_overrun=overran, on_line=lines.append
    )

    assert code == 0
    assert overruns == [7]
    assert lines == [b"started", b"started", b"done"]


def test_a_rejection_that_fails_is_met_again_by_the_next_child(tmp_path: Path) -> None:
    marker = tmp_path / "rejected"
    overruns: list[int] = []

    def overran(event_id: int) -> None:
        overruns.append(event_id)
        if len(overruns) == 1:
            raise RuntimeError("PostgreSQL is away")
        marker.touch()

    assert supervise(lambda: stuck_once(marker, 9), deadline=0.3, on_overrun=overran) == 0
    assert overruns == [9, 9]


def test_a_child_that_never_parses_is_never_killed() -> None:
    def overran(event_id: int) -> None:
        raise AssertionError(event_id)

    def calm() -> int:
        with parse_lane() as parsing:
            parsing(1)
        QUADRATIC.search(b'"' + b'\\"' * 3000)  # slow, but not while parsing an event
        return 3

    assert supervise(calm, deadline=0.01, on_overrun=overran) == 3
