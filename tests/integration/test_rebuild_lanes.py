"""A rebuild projecting in processes of its own: the same tables, and every failure told."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import NoReturn

import psycopg
import pytest
from click.testing import CliRunner, Result

from processors.cli import main
from processors.pipeline import rebuild_lanes
from processors.pipeline.drain import DrainResult, drain
from processors.pipeline.rebuild import RebuildStats
from receiver.db import Database
from tests.corpus import CASES
from tests.integration.processing_helpers import snapshot, store
from tests.integration.test_replay_rebuild import fail_in_rebuild


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def schemas(database_url: str) -> list[tuple[str]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wabahook%' ORDER BY 1"
        ).fetchall()


def test_a_rebuild_in_processes_yields_identical_tables(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    store(db, [case.body for case in CASES])
    drain(db)
    before = snapshot(database_url)
    result = json.loads(cli("rebuild", "--json", "--batch-size", "10", "--processes", "2").stdout)
    assert result["events"] == len(CASES)
    assert result["rejected"] == sum(case.state == "rejected" for case in CASES)
    assert snapshot(database_url) == before
    assert schemas(database_url) == [("wabahook",)]


def test_an_event_that_keeps_failing_in_a_lane_swaps_nothing_in(
    cli: Callable[..., Result], db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(db, [case.body for case in CASES])
    drain(db)
    before = snapshot(database_url)
    fail_in_rebuild(monkeypatch, database_url, "RAISE EXCEPTION 'always refused';")
    result = cli("rebuild", "--batch-size", "4", "--processes", "2")
    assert result.exit_code == 1
    assert "rebuild stopped, the live tables unchanged: 1 event failed" in result.output
    assert "always refused" in result.output
    assert snapshot(database_url) == before
    assert schemas(database_url) == [("wabahook",)]


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
