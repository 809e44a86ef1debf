"""The jobs the receiver and the cron name by string exist, and their limits agree."""

from __future__ import annotations

import importlib

from processors.safe_jobs import ALLOWED_JOBS
from receiver.nudge import DRAIN_JOB, DRAIN_JOB_TIMEOUT, DRAIN_TIME_BUDGET


def test_every_allowed_job_name_is_a_function_of_the_job_module() -> None:
    assert DRAIN_JOB in ALLOWED_JOBS
    for name in ALLOWED_JOBS:
        module, _, function = name.rpartition(".")
        assert module == "processors.jobs"
        assert callable(getattr(importlib.import_module(module), function)), name


def test_rq_stops_a_drain_only_well_after_its_budget() -> None:
    # The budget ends the drain between batches; the timeout is RQ's last resort.
    assert DRAIN_JOB_TIMEOUT >= 3 * DRAIN_TIME_BUDGET
