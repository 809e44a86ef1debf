"""Rebuild lanes in processes of their own: every way one stops is told, and stops the others.

(A rebuild in processes gives the tables one in threads gives: test_replay_rebuild.)
"""

from __future__ import annotations

import os
import re
import time
from typing import NoReturn

import pytest

from processors.pipeline import rebuild_lanes
from processors.pipeline.drain import DrainResult
from processors.pipeline.rebuild import RebuildStats
from receiver.db import Database


# Run in the lanes' processes, which import them by name.
def lane_that_dies(db: Database, after: int, until: int, batch_size: int) -> NoReturn:
    os._exit(3)  # as if killed: no report, no error


def lane_that_raises(db: Database, after: int, until: int, batch_size: int) -> NoReturn:
    raise ValueError(f"no window from {after}")


def first_lane_dies(db: Database, after: int, until: int, batch_size: int) -> RebuildStats:
    if after == 0:
        os._exit(9)
    time.sleep(0.05)
    return RebuildStats()


def test_a_lane_that_dies_stops_the_others_at_once(db: Database) -> None:
    windows: list[DrainResult] = []

    def on_window(totals: DrainResult, first_failure: rebuild_lanes.Failure) -> bool:
        windows.append(totals)
        return True

    with pytest.raises(rebuild_lanes.LaneError, match="ended without a word"):
        rebuild_lanes.project_in_processes(db, range(0, 2000, 10), 2, first_lane_dies, on_window)
    assert len(windows) < 100  # of 200: the other lane did not go on to the end


@pytest.mark.parametrize(
    ("project_window", "told"),
    [
        (lane_that_dies, "a rebuild lane ended without a word (was it killed?)"),
        (lane_that_raises, "ValueError: no window from "),
    ],
)
def test_a_lane_that_stops_stops_the_rebuild_with_its_reason(
    db: Database, project_window: rebuild_lanes.ProjectWindow, told: str
) -> None:
    reports: list[DrainResult] = []

    def on_window(totals: DrainResult, first_failure: rebuild_lanes.Failure) -> bool:
        reports.append(totals)
        return True

    with pytest.raises(rebuild_lanes.LaneError, match=re.escape(told)):
        rebuild_lanes.project_in_processes(db, range(0, 100, 10), 2, project_window, on_window)
    assert reports == []
