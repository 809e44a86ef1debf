"""The jobs the receiver and the cron name by string exist, and their limits agree."""

from __future__ import annotations

import importlib
import inspect

import pytest

from processors.job_contract import ALLOWED_JOBS, JOB_ARGUMENTS, refused_call
from receiver.nudge import DRAIN_JOB, DRAIN_JOB_TIMEOUT, DRAIN_SLOTS, DRAIN_TIME_BUDGET


def test_every_allowed_job_name_is_a_function_of_the_job_module() -> None:
    assert DRAIN_JOB in ALLOWED_JOBS
    for name in ALLOWED_JOBS:
        module, _, function = name.rpartition(".")
        assert module == "processors.jobs"
        assert callable(getattr(importlib.import_module(module), function)), name


def test_the_arguments_a_worker_takes_are_each_jobs_parameters() -> None:
    """Declared by name, each with a default: a job left without one still runs."""
    for name, declared in JOB_ARGUMENTS.items():
        module, _, function = name.rpartition(".")
        job = getattr(importlib.import_module(module), function)
        parameters = inspect.signature(job).parameters
        assert set(parameters) == set(declared), name
        for parameter in parameters.values():
            assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
            assert parameter.default is not inspect.Parameter.empty, name


@pytest.mark.parametrize("slot", range(DRAIN_SLOTS))
def test_the_drains_wabahook_enqueues_may_run(slot: int) -> None:
    # As RQ writes them (a tuple) and as JSON gives them back (a list).
    assert refused_call(DRAIN_JOB, None, (), {"slot": slot}) is None
    assert refused_call(DRAIN_JOB, None, [], {"slot": slot}) is None


@pytest.mark.parametrize("name", sorted(ALLOWED_JOBS))
def test_each_job_may_run_without_arguments(name: str) -> None:
    assert refused_call(name, None, [], {}) is None


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        pytest.param([], {"slot": 10**30}, id="huge"),
        pytest.param([], {"slot": "0"}, id="text"),
        pytest.param([], {"slot": True}, id="bool"),
        pytest.param([], {"slot": False}, id="false"),
        pytest.param([], {"slot": 0.0}, id="float"),
        pytest.param([], {"slot": None}, id="null"),
        pytest.param([], {"slot": [0]}, id="list"),
        pytest.param([], {"slot": -1}, id="negative"),
        pytest.param([], {"slot": DRAIN_SLOTS}, id="past-the-last"),
        pytest.param([], {"slot": 0, "budget": 1}, id="extra-kwarg"),
        pytest.param([0], {}, id="positional"),
        pytest.param({}, {}, id="args-not-a-list"),
        pytest.param([], [["slot", 0]], id="kwargs-not-a-dict"),
        pytest.param(None, None, id="none"),
    ],
)
def test_a_drain_with_other_arguments_is_refused(args: object, kwargs: object) -> None:
    assert refused_call(DRAIN_JOB, None, args, kwargs) == "arguments"


@pytest.mark.parametrize(
    "name",
    [
        "processors.jobs.sweep",
        "processors.jobs.maintain_partitions",
        "processors.jobs.apply_retention",
    ],
)
def test_jobs_without_parameters_take_no_arguments(name: str) -> None:
    assert refused_call(name, None, [1], {}) == "arguments"
    assert refused_call(name, None, [], {"slot": 0}) == "arguments"


@pytest.mark.parametrize(
    ("name", "instance"),
    [
        pytest.param("os.system", None, id="foreign"),
        pytest.param("processors.jobs.context", None, id="not-a-job"),
        pytest.param(DRAIN_JOB, "processors.jobs", id="with-an-instance"),
        pytest.param([DRAIN_JOB], None, id="name-not-a-text"),
        pytest.param(None, None, id="no-name"),
    ],
)
def test_anything_but_an_allowed_job_is_not_allowed(name: object, instance: object) -> None:
    assert refused_call(name, instance, [], {}) == "not_allowed"


def test_rq_stops_a_drain_only_well_after_its_budget() -> None:
    # The budget ends the drain between batches; the timeout is RQ's last resort.
    assert DRAIN_JOB_TIMEOUT >= 3 * DRAIN_TIME_BUDGET
