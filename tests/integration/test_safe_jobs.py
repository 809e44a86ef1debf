"""A worker runs only wabahook's own jobs: whoever can write to Redis cannot run code.

Each test writes into Redis what an attacker with Redis access could, then runs
`wabahook worker --burst` as deployed, and checks that nothing ran, the worker went
on, and a genuine drain queued behind the bad job still processed its events.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import zlib
from pathlib import Path

import redis
from rq import Queue

from processors import jobs
from receiver.config import Settings
from receiver.db import Database
from tests.integration.conftest import start_worker
from tests.integration.helpers import count
from tests.integration.processing_helpers import status_body, store


class Planted:
    """Unpickling this runs a shell command: the classic pickle payload."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def worker_run(
    env: dict[str, str], db: Database, plant: object, processes: list[subprocess.Popen[bytes]]
) -> None:
    """Store events, plant the bad job first, queue a genuine drain, run a burst worker."""
    store(db, [status_body(f"m{i}", "sent", 1750000000 + i) for i in range(10)])
    assert callable(plant)
    plant()
    assert jobs.enqueue(Settings.from_env(env))
    assert start_worker(env, processes, "--burst").wait(timeout=120) == 0


def environment(database_url: str, redis_url: str, queue_name: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "WABAHOOK_QUEUE": queue_name}  # fmt: skip


def test_a_job_naming_any_other_callable_is_refused_and_never_run(
    db: Database, database_url: str, redis_url: str, queue_name: str, processes, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection)
    env = environment(database_url, redis_url, queue_name)
    worker_run(
        env, db, lambda: queue.enqueue_call("os.system", args=(f"touch {marker}",)), processes
    )
    assert not marker.exists()
    assert queue.failed_job_registry.count == 1  # refused, kept in sight
    assert count(database_url, "event_results") == 10  # the drain behind it ran
    connection.close()


def test_a_pickle_that_would_run_code_is_never_unpickled(
    db: Database, database_url: str, redis_url: str, queue_name: str, processes, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection)

    def plant() -> None:
        job = queue.enqueue_call("processors.jobs.sweep")  # an allowed name...
        payload = pickle.dumps(("processors.jobs.sweep", None, (Planted(marker),), {}))
        connection.hset(job.key, "data", zlib.compress(payload))  # ...with poisoned data

    worker_run(environment(database_url, redis_url, queue_name), db, plant, processes)
    assert not marker.exists()
    assert count(database_url, "event_results") == 10
    connection.close()


def test_a_malformed_job_does_not_stop_the_worker(
    db: Database, database_url: str, redis_url: str, queue_name: str, processes
) -> None:
    connection = redis.Redis.from_url(redis_url)

    def plant() -> None:
        key = f"rq:job:{queue_name}-garbage"
        connection.hset(key, mapping={"data": b"\x00not a job", "created_at": "yesterday"})
        connection.rpush(f"rq:queue:{queue_name}", f"{queue_name}-garbage")

    worker_run(environment(database_url, redis_url, queue_name), db, plant, processes)
    assert count(database_url, "event_results") == 10
    connection.close()
