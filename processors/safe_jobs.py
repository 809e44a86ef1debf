"""What crosses Redis: wabahook's own jobs as JSON, and only those a worker runs.

RQ imports and calls whatever dotted callable a job names, and by default unpickles
its arguments; so anyone who can write to Redis could run code as the worker. Here
jobs are written and read with RQ's JSON serializer (plain values only, nothing to
unpickle), and only the jobs of `processors.jobs` listed below may run; anything
else fails as a refused job, logged and kept in RQ's failed registry, and is never
imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.client import PubSub, PubSubWorkerThread
from rq import Queue, SimpleWorker, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.utils import now

from receiver.nudge import DRAIN_JOB, JOB_SERIALIZER, job_queue

log = logging.getLogger("wabahook.worker")

# The jobs a worker runs: dotted names, as the receiver, the cron and the CLI enqueue them.
ALLOWED_JOBS = frozenset(
    (DRAIN_JOB, *(f"processors.jobs.{name}" for name in ("sweep", "maintain_partitions")))
)


# wabahook enqueues its jobs with at most this many retries (receiver.nudge).
MAX_RETRIES = 2
# redis-py's PubSubWorkerThread.stop() waits for the listening thread's current poll.
PUBSUB_POLL_SECONDS = 1.0


class RefusedJob(Exception):
    """A job that names something other than one of wabahook's own jobs."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def count_refusal(reason: str) -> None:
    """Count a refused job in the worker's metrics (wabahook_refused_jobs_total)."""
    from processors.jobs import worker_metrics  # the worker's one registry

    worker_metrics().refused_jobs.labels(reason=reason).inc()


class AllowListJob(Job):
    """A job that runs only if it names an allowed function, with no instance or callbacks."""

    def restore(self, raw_data: dict[bytes, bytes]) -> None:
        """Read the job hash; one RQ cannot read is skipped like a job that is gone."""
        try:
            super().restore(raw_data)
        except Exception as exc:
            # Raised out of the dequeue, any error would stop the worker (RQ quits on it);
            # a missing job is what RQ's dequeue passes over.
            log.error("skipped an unreadable job", extra={"job_id": shown(self.id)})
            count_refusal("unreadable")
            raise NoSuchJobError(f"unreadable job {shown(self.id)}") from exc
        # RQ posts a finished or failed job to its webhooks, with headers the job names:
        # a request anywhere, with the traceback. wabahook's jobs have none.
        self._refusal = "webhook" if self.webhooks else None
        self.webhooks = []
        # Ours retry at most twice; a planted job must not run again a million times.
        if self.retries_left is not None:
            self.retries_left = min(self.retries_left, MAX_RETRIES)

    _refusal: str | None = None

    @property
    def func(self) -> Callable[..., Any] | None:
        if self._refusal == "webhook":
            raise RefusedJob(f"refused {shown(self.func_name)}: it names webhooks", "webhook")
        # Callbacks first: a job carrying one is refused before it runs, not after.
        for callback in (
            self._success_callback_name,
            self._failure_callback_name,
            self._stopped_callback_name,
        ):
            _no_callback(callback)
        name = self.func_name
        if name not in ALLOWED_JOBS or self.instance is not None:
            raise RefusedJob(
                f"refused to run {shown(name)}: not one of wabahook's jobs", "not_allowed"
            )
        return super().func  # type: ignore[no-any-return]

    @property
    def success_callback(self) -> None:
        _no_callback(self._success_callback_name)
        return None

    @property
    def failure_callback(self) -> None:
        _no_callback(self._failure_callback_name)
        return None

    @property
    def stopped_callback(self) -> None:
        _no_callback(self._stopped_callback_name)
        return None


def _no_callback(name: str | None) -> None:
    # wabahook's jobs have none; a callback name would be code to import.
    if name:
        raise RefusedJob(f"refused the callback {shown(name)}", "callback")


def shown(value: object) -> str:
    """A job's name as logs may show it: escaped, bounded."""
    return ascii(value)[:120]


class GuardedWorker(SimpleWorker):
    """RQ's SimpleWorker taking only wabahook's jobs, and remembering a requested stop."""

    def __init__(self, queues: list[str], **kwargs: Any) -> None:
        super().__init__(
            queues, **{**kwargs, "job_class": AllowListJob, "serializer": JOB_SERIALIZER}
        )
        self.stop_requested = False

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """Count a refused job once, however often RQ looked at its function."""
        if isinstance(exc_info[1], RefusedJob):
            count_refusal(exc_info[1].reason)
            job.retries_left = 0  # refused once is refused for good
        elif isinstance(exc_info[1], DeserializationError):  # not JSON (a pickle), not a call
            count_refusal("unreadable")
        super().handle_exception(job, *exc_info)

    def subscribe(self) -> None:
        """RQ's subscribe, with a listening thread that polls every second, not every minute.

        A stop (RQ's unsubscribe) joins that thread through redis-py's stop(), and so
        waits for the poll under way: with RQ's 60 s, a worker asked to stop could hang
        for a minute.
        """
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        # RQ declares the attribute without a type: mypy takes it for None.
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_failed
        )

    def _pubsub_failed(
        self, exc: BaseException, pubsub: PubSub, thread: PubSubWorkerThread
    ) -> None:
        """Listen on through a lost connection (redis-py resubscribes); end on anything else."""
        if not isinstance(exc, redis.exceptions.ConnectionError):
            raise exc
        self.log.error("Worker %s: pubsub lost Redis (%s), retrying in 2 s", self.name, exc)
        time.sleep(2)

    def request_stop(self, signum: int, frame: Any) -> None:
        """SIGTERM/SIGINT: RQ ends its loop; we must not start another one."""
        self.stop_requested = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


class JsonCronScheduler(CronScheduler):
    """RQ's cron scheduler, enqueuing its jobs as JSON (RQ 2.12's always pickles them)."""

    def enqueue_jobs(self) -> list[CronJob]:
        """Enqueue the jobs that are due, as RQ does, on a JSON queue."""
        enqueued_at = now()
        due = [job for job in self.get_jobs() if job.should_run()]
        for job in due:
            _enqueue_cron_job(job, self.connection)
            job.set_enqueue_time(enqueued_at)
            self.log.info("Enqueued job %s to queue %s", job.func_name, job.queue_name)
        return due


def _enqueue_cron_job(cron_job: CronJob, connection: redis.Redis) -> Job:
    """RQ's CronJob.enqueue, on a queue of JOB_SERIALIZER."""
    assert cron_job.func is not None  # registered with a function, not a name
    queue: Queue = job_queue(cron_job.queue_name, connection)
    with connection.pipeline() as pipeline:
        job = queue.enqueue(
            cron_job.func, *cron_job.args, **cron_job.kwargs, **cron_job.job_options,
            pipeline=pipeline,
        )  # fmt: skip
        assert job.enqueued_at is not None
        history = cron_job.job_history_key
        pipeline.zadd(history, {job.id: job.enqueued_at.timestamp()})
        pipeline.zremrangebyrank(history, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
        pipeline.expire(history, DEFAULT_CRON_JOB_HISTORY_TTL)
        cron_job_registry.add(
            cron_job.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp()
        )
        pipeline.execute()
    return job
