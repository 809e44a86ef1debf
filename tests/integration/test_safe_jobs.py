"""A worker runs only wabahook's own jobs: whoever can write to Redis cannot run code.

Each test writes into Redis what an attacker with Redis access could, then runs
`wabahook worker --burst` as deployed, and checks that nothing ran, the worker went
on, what it logged stayed small, and a genuine drain queued behind the bad job
still processed its events.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
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
from receiver.nudge import DRAIN_JOB, DRAIN_SLOTS
from tests.integration.conftest import ROOT, start_worker
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


def logged_worker_run(env: dict[str, str], processes: list[subprocess.Popen[bytes]],
                      log: Path) -> int:  # fmt: skip
    """`wabahook worker --burst` as deployed (not quiet), all its output in `log`."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "worker", "--burst"],
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        return process.wait(timeout=120)


def plant(queue: Queue, job_id: str, data: bytes, **fields: str | bytes) -> None:
    """A drain job as wabahook enqueues it, then its data and `fields` overwritten."""
    queue.enqueue_call(DRAIN_JOB, kwargs={"slot": 0}, job_id=job_id)
    queue.connection.hset(f"rq:job:{job_id}", mapping={"data": zlib.compress(data), **fields})


def drain_data(slot: bytes) -> bytes:
    """A drain call's JSON data with `slot` as its (JSON) argument."""
    return b'["processors.jobs.drain", null, [], {"slot": ' + slot + b"}]"


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

    reasons = ("not_allowed", "callback", "unreadable", "webhook", "arguments")
    before = {reason: refused(reason) for reason in reasons}
    marker = tmp_path / "ran"
    queue.enqueue_call("os.system", args=(f"touch {marker}",), retry=Retry(max=1000))
    hook = FakeServer(lambda request: (200, {}, b""))  # where a planted webhook would post
    hooks = [Webhook(hook.url, status, headers={"X": "y"}) for status in ("finished", "failed")]
    queue.enqueue_call("processors.jobs.sweep", webhooks=hooks)
    queue.enqueue_call("processors.jobs.sweep", on_success=Callback(f"{__name__}.Planted"))
    # Had it run, sweep(1) would fail before any work: this test runs no database.
    queue.enqueue_call("processors.jobs.sweep", args=(1,))
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
    assert gained == {"not_allowed": 1, "callback": 1, "unreadable": 2, "webhook": 1,
                      "arguments": 1}  # fmt: skip


def test_a_drain_with_a_huge_or_deep_argument_or_description_is_refused_in_a_few_lines(
    db: Database, database_url: str, redis_url: str, queue: Queue, processes, tmp_path: Path
) -> None:
    """Deep nesting, sheer size and a forged log line: the whole log stays small."""
    deep = b"[" * 100_000 + b"]" * 100_000
    # Under the limit of a field a worker reads at all: read, and logged bounded.
    forged = ("\n12:00:00 forged line" * 1_000)[:15_000]
    planted = {
        "deep": (drain_data(deep), "\n".join(["x" * 1000] * 1000)),  # and a 1 MB description
        "wide": (drain_data(b"[" + b"0," * 500_000 + b"0]"), "a drain"),
        "nested": (drain_data(b"[" * 300 + b"0" + b"]" * 300), forged),
        "unclosed": (drain_data(b"[" * 500), "a drain"),
        "too-deep": (b"[" * 1000, "a drain"),
    }

    def plant_all() -> None:
        for name, (data, description) in planted.items():
            plant(queue, f"{queue.name}-{name}", data, description=description)
        # Ids RQ logs as they are: one too long to show, one RQ's Job refuses.
        for job_id in (f"{queue.name}-{'i' * 100_000}", f"{queue.name} forged line"):
            queue.connection.hset(f"rq:job:{job_id}", mapping={"data": drain_data(b"0")})
            queue.connection.rpush(queue.key, job_id)

    env = environment(database_url, redis_url, queue.name)
    store(db, [status_body(f"m{i}", "sent", 1750000000 + i) for i in range(10)])
    plant_all()
    assert jobs.enqueue(Settings.from_env(env))  # the genuine drain, behind them
    log = tmp_path / "worker.log"
    assert logged_worker_run(env, processes, log) == 0
    assert count(database_url, "event_results") == 10  # the worker went on
    output = log.read_bytes()
    assert len(output) < 10_000, output[:2000]
    assert b"\n12:00:00 forged line" not in output
    assert b"\\n12:00:00 forged line" in output  # the description, shown escaped
    # Read and refused, kept in sight; the oversized ones were skipped unread.
    assert sorted(queue.failed_job_registry.get_job_ids()) == sorted(
        f"{queue.name}-{name}" for name in ("nested", "unclosed", "too-deep")
    )


BAD_ARGUMENTS = [
    pytest.param(DRAIN_JOB, (), {"slot": 10**30}, id="huge-slot"),
    pytest.param(DRAIN_JOB, (), {"slot": "0"}, id="text-slot"),
    pytest.param(DRAIN_JOB, (), {"slot": True}, id="bool-slot"),
    pytest.param(DRAIN_JOB, (), {"slot": 0.0}, id="float-slot"),
    pytest.param(DRAIN_JOB, (), {"slot": -1}, id="negative-slot"),
    pytest.param(DRAIN_JOB, (), {"slot": DRAIN_SLOTS}, id="slot-past-the-last"),
    pytest.param(DRAIN_JOB, (), {"slot": None}, id="null-slot"),
    pytest.param(DRAIN_JOB, (), {"slot": 0, "budget": 1}, id="extra-kwarg"),
    pytest.param(DRAIN_JOB, (0,), {}, id="positional"),
    pytest.param("processors.jobs.sweep", (1,), {}, id="sweep-positional"),
    pytest.param("processors.jobs.maintain_partitions", (), {"months": 99}, id="maintain-kwarg"),
]


def test_a_job_with_arguments_it_does_not_take_is_refused_and_never_run(
    db: Database, database_url: str, redis_url: str, queue: Queue, processes
) -> None:
    store(db, [status_body(f"m{i}", "sent", 1750000000 + i) for i in range(10)])
    for case in BAD_ARGUMENTS:
        name, args, kwargs = case.values
        queue.enqueue_call(name, args=args, kwargs=kwargs, job_id=f"{queue.name}-{case.id}")
    env = environment(database_url, redis_url, queue.name)
    assert start_worker(env, processes, "--burst").wait(timeout=120) == 0
    assert count(database_url, "event_results") == 0  # no drain ran
    failed = queue.failed_job_registry.get_job_ids()
    assert sorted(failed) == sorted(f"{queue.name}-{case.id}" for case in BAD_ARGUMENTS)
    for job_id in failed:
        job = queue.fetch_job(job_id)
        result = job.latest_result() if job else None
        assert result is not None, job_id
        assert "not the arguments it takes" in (result.exc_string or ""), job_id
