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
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Callback, Queue, Retry
from rq.serializers import JSONSerializer
from rq.webhook import Webhook

from processors import jobs
from receiver.config import Settings
from receiver.db import Database
from receiver.nudge import DRAIN_JOB
from tests.integration.conftest import start_worker
from tests.integration.helpers import count
from tests.integration.processing_helpers import status_body, store
from tests.support.fake_http import FakeServer


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


@pytest.fixture
def queue(redis_url: str, queue_name: str) -> Iterator[Queue]:
    """This test's RQ queue, as someone with access to Redis would write to it."""
    connection = redis.Redis.from_url(redis_url)
    yield Queue(queue_name, connection=connection, serializer=JSONSerializer)
    connection.close()


def test_a_job_naming_any_other_callable_is_refused_and_never_run(
    db: Database, database_url: str, redis_url: str, queue: Queue, processes, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    env = environment(database_url, redis_url, queue.name)
    worker_run(
        env, db, lambda: queue.enqueue_call("os.system", args=(f"touch {marker}",)), processes
    )
    assert not marker.exists()
    assert queue.failed_job_registry.count == 1  # refused, kept in sight
    assert count(database_url, "event_results") == 10  # the drain behind it ran


def test_a_pickled_job_is_refused_and_never_unpickled(
    db: Database, database_url: str, redis_url: str, queue: Queue, processes, tmp_path: Path
) -> None:
    """A pickle that would run code, and a drain as an old wabahook pickled it."""
    marker = tmp_path / "ran"

    def plant() -> None:
        job = queue.enqueue_call("processors.jobs.sweep")  # an allowed name...
        payload = pickle.dumps(("processors.jobs.sweep", None, (Planted(marker),), {}))
        queue.connection.hset(job.key, "data", zlib.compress(payload))  # ...poisoned data
        old = pickle.dumps((DRAIN_JOB, None, (), {"slot": 1}), protocol=pickle.HIGHEST_PROTOCOL)
        queue.enqueue_call(DRAIN_JOB, kwargs={"slot": 1}, job_id=f"{queue.name}-old")
        queue.connection.hset(f"rq:job:{queue.name}-old", "data", zlib.compress(old))

    worker_run(environment(database_url, redis_url, queue.name), db, plant, processes)
    assert not marker.exists()
    assert queue.failed_job_registry.count == 2  # refused, kept in sight
    assert count(database_url, "event_results") == 10


def test_a_malformed_job_does_not_stop_the_worker(
    db: Database, database_url: str, redis_url: str, queue: Queue, processes
) -> None:
    def plant() -> None:
        key = f"rq:job:{queue.name}-garbage"
        queue.connection.hset(key, mapping={"data": b"\x00not a job", "created_at": "yesterday"})
        queue.connection.rpush(queue.key, f"{queue.name}-garbage")

    worker_run(environment(database_url, redis_url, queue.name), db, plant, processes)
    assert count(database_url, "event_results") == 10


def test_refused_jobs_are_counted_by_reason(queue: Queue, tmp_path: Path) -> None:
    """wabahook_refused_jobs_total{reason}: what an operator alerts on."""
    from processors.safe_jobs import GuardedWorker

    registry = jobs.worker_metrics().registry

    def refused(reason: str) -> float:
        value = registry.get_sample_value("wabahook_refused_jobs_total", {"reason": reason})
        return value or 0.0

    reasons = ("not_allowed", "callback", "unreadable", "webhook")
    before = {reason: refused(reason) for reason in reasons}
    marker = tmp_path / "ran"
    queue.enqueue_call("os.system", args=(f"touch {marker}",), retry=Retry(max=1000))
    hook = FakeServer(lambda request: (200, {}, b""))  # where a planted webhook would post
    hooks = [Webhook(hook.url, status, headers={"X": "y"}) for status in ("finished", "failed")]
    queue.enqueue_call("processors.jobs.sweep", webhooks=hooks)
    queue.enqueue_call("processors.jobs.sweep", on_success=Callback(f"{__name__}.Planted"))
    for garbage in ({"data": b"\x00not a job"}, {"data": b"", "created_at": "yesterday"}):
        job_id = f"{queue.name}-garbage-{len(garbage)}"
        queue.connection.hset(f"rq:job:{job_id}", mapping=garbage)  # type: ignore[arg-type]
        queue.connection.rpush(queue.key, job_id)
    worker = GuardedWorker([queue.name], connection=queue.connection)
    with hook:
        assert worker.work(burst=True)
    assert not marker.exists()
    assert hook.requests == []  # no webhook was sent
    gained = {reason: refused(reason) - count for reason, count in before.items()}
    # Each refused once: the retries the planted job asked for are not granted.
    assert gained == {"not_allowed": 1, "callback": 1, "unreadable": 2, "webhook": 1}
