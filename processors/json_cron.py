"""RQ's cron scheduler, enqueuing wabahook's periodic jobs as JSON like every other job."""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job
from rq.utils import now

from receiver.nudge import job_queue


class JsonCronScheduler(CronScheduler):
    """RQ's cron scheduler, enqueuing its jobs as JSON (RQ 2.12's always pickles them)."""

    stop_requested = False

    def _request_stop(self, signum: int, frame: Any) -> None:
        # Remembered: RQ's scheduler tells Redis of its end after a stop, and with Redis
        # gone (stopped with `up`) that raises an error that must not restart it.
        self.stop_requested = True
        super()._request_stop(signum, frame)  # type: ignore[no-untyped-call]

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
