"""Every job wabahook enqueues travels as JSON, the only format its workers take.

The receiver's nudge, a drain fanning out or the sweep, and the cron each write
jobs into Redis; these tests read what they wrote as plain JSON, and the cron's
jobs are then run by a real worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from processors import jobs
from receiver.config import Secret, Settings
from receiver.nudge import DRAIN_JOB, Nudger, drain_job_id
from tests.integration.conftest import ROOT, start_worker, wait_until


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def stored_call(connection: redis.Redis, job_id: str) -> Any:
    """A job's data as stored, read as JSON (a pickle fails here)."""
    data = connection.hget(f"rq:job:{job_id}", "data")
    assert isinstance(data, bytes), job_id
    return json.loads(zlib.decompress(data))


def test_the_receivers_nudge_enqueues_a_json_drain(
    connection: redis.Redis, redis_url: str, queue_name: str
) -> None:
    Nudger(Secret(redis_url), queue_name, timeout=5).nudge()
    assert stored_call(connection, drain_job_id(queue_name)) == [DRAIN_JOB, None, [], {"slot": 0}]


def test_a_drain_enqueued_by_a_job_or_command_is_json(
    connection: redis.Redis, database_url: str, redis_url: str, queue_name: str
) -> None:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "WABAHOOK_QUEUE": queue_name}
    assert jobs.enqueue(Settings.from_env(env), slot=2)
    drain = [DRAIN_JOB, None, [], {"slot": 2}]
    assert stored_call(connection, drain_job_id(queue_name, 2)) == drain


def test_the_cron_enqueues_json_jobs_that_a_worker_runs(
    connection: redis.Redis, database_url: str, redis_url: str, queue_name: str, processes
) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "WABAHOOK_QUEUE": queue_name}  # fmt: skip
    cron = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "cron", "--quiet"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    processes.append(cron)
    queue_key = f"rq:queue:{queue_name}"
    # All are due at once: the sweep, the hourly partition upkeep and retention.
    assert wait_until(lambda: connection.llen(queue_key) >= 3, timeout=30)
    cron.terminate()
    assert cron.wait(timeout=30) == 0
    job_ids = [job_id.decode() for job_id in connection.lrange(queue_key, 0, -1)]
    calls = sorted(stored_call(connection, job_id)[0] for job_id in job_ids)
    assert calls == [
        "processors.jobs.apply_retention",
        "processors.jobs.maintain_partitions",
        "processors.jobs.sweep",
    ]
    assert all(stored_call(connection, job_id)[1:] == [None, [], {}] for job_id in job_ids)
    assert start_worker(env, processes, "--burst").wait(timeout=120) == 0
    assert connection.zcard(f"rq:failed:{queue_name}") == 0
    assert sorted(connection.zrange(f"rq:finished:{queue_name}", 0, -1)) == sorted(
        job_id.encode() for job_id in job_ids
    )
