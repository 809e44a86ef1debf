"""What crosses Redis: wabahook's own jobs as JSON, checked before a worker logs or runs them.

RQ imports and calls whatever dotted callable a job names, with the arguments its
data holds; so anyone who can write to Redis could run code as the worker, or
hand a job arguments whose log line or work has no bound. Here jobs are written
and read with RQ's JSON serializer (plain values only, nothing to unpickle), a
job hash with an oversized field is skipped unread, and a job runs only if it
names one of `processors.jobs`' jobs with the arguments processors.job_contract
declares; anything else fails as a refused job, counted, logged in a few bounded lines and
kept in RQ's failed registry, and is never imported.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.client import PubSub, PubSubWorkerThread
from rq import SimpleWorker
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job

from processors.job_contract import (
    MAX_NAME_CHARS,
    MAX_RETRIES,
    MAX_SHOWN_CHARS,
    REFUSAL_REASONS,
    RefusedJob,
    bounded,
    oversized,
    refused_call,
    shown,
)
from processors.json_cron import JsonCronScheduler
from receiver.nudge import JOB_SERIALIZER

# JsonCronScheduler lives in processors.json_cron; the CLI imports it from here, with the worker.
__all__ = ["AllowListJob", "GuardedWorker", "JsonCronScheduler", "forget_dead_namesake"]

log = logging.getLogger("wabahook.worker")
# redis-py's PubSubWorkerThread.stop() waits for the listening thread's current poll.
PUBSUB_POLL_SECONDS = 1.0


def count_refusal(reason: str) -> None:
    """Count a refused job in the worker's metrics (wabahook_refused_jobs_total)."""
    from processors.jobs import worker_metrics  # the worker's one registry

    worker_metrics().refused_jobs.labels(reason=reason).inc()


def _skipped(job_id: str, why: str) -> NoSuchJobError:
    """Log and count a job hash passed over unread; RQ's dequeue skips a job that is gone."""
    log.error("skipped an unreadable job", extra={"job_id": shown(job_id), "error": why})
    count_refusal("unreadable")
    return NoSuchJobError(f"unreadable job {shown(job_id)}")


class AllowListJob(Job):
    """A job that runs only if it names an allowed function and its arguments, nothing else."""

    _refusal: str | None = None  # why it must not run, from the hash read (restore)
    _name: str | None = None  # the function its data names, if that is a text

    @classmethod
    def fetch(cls, id: str, connection: redis.Redis | None = None, serializer: Any = None) -> Job:
        """RQ's fetch; an id too long to log, or one RQ's Job refuses, is skipped."""
        if len(id) > MAX_NAME_CHARS:
            raise _skipped(id, f"an id of {len(id)} characters")
        try:
            return super().fetch(id, connection=connection, serializer=serializer)
        except ValueError as exc:
            # Raised out of the dequeue, it would end the worker's loop, and the
            # intermediate queue's cleanup would meet it again.
            raise _skipped(id, "an id RQ refuses") from exc

    def restore(self, raw_data: dict[bytes, bytes]) -> None:
        """Read the job hash and judge the job; one RQ cannot read is skipped like a job gone."""
        big = sorted(field for field, value in raw_data.items() if oversized(field, value))
        if big:
            names = ", ".join(field.decode("ascii", "replace") for field in big)
            raise _skipped(self.id, f"oversized: {shown(names)}")
        # RQ posts a finished or failed job to its webhooks, with headers the job names:
        # a request anywhere, with the traceback. wabahook's jobs have none; RQ would
        # log the whole of a malformed one.
        webhooks = bool(raw_data.get(b"webhooks"))
        try:
            super().restore({k: v for k, v in raw_data.items() if k != b"webhooks"})
        except Exception as exc:
            # Raised out of the dequeue, any error would stop the worker (RQ quits on it).
            raise _skipped(self.id, type(exc).__name__) from exc
        self.description = bounded(self.description, MAX_SHOWN_CHARS)
        self.origin = bounded(self.origin, MAX_NAME_CHARS) or ""
        # Ours retry at most twice; a planted job must not run again a million times.
        if self.retries_left is not None:
            self.retries_left = min(self.retries_left, MAX_RETRIES)
        self._refusal = self._call_refusal()
        if webhooks:
            self._refusal = "webhook"

    def _call_refusal(self) -> str | None:
        """Why the call this job's data holds is refused, or None."""
        try:
            call = (self.func_name, self.instance, self.args, self.kwargs)
        except DeserializationError:  # not JSON (a pickle), too deep, not a call
            return "unreadable"
        self._name = call[0] if isinstance(call[0], str) else None
        return refused_call(*call)

    def _refused(self) -> RefusedJob:
        """This job's refusal, in a message that shows nothing planted unbounded."""
        reason = self._refusal or "not_allowed"
        what = shown(self._name) if self._name is not None else "a job"
        return RefusedJob(f"refused to run {what}: {REFUSAL_REASONS[reason]}", reason)

    @property
    def func(self) -> Callable[..., Any] | None:
        if self._refusal == "webhook":
            raise self._refused()
        # Callbacks first: a job carrying one is refused before it runs, not after.
        for callback in (
            self._success_callback_name,
            self._failure_callback_name,
            self._stopped_callback_name,
        ):
            _no_callback(callback)
        if self._refusal is not None:
            raise self._refused()
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


def _refusal_in(exc: BaseException | None) -> RefusedJob | None:
    """The refusal a job's failure is, if it is one."""
    if isinstance(exc, DeserializationError):  # RQ read the data before its function
        return RefusedJob(f"refused to run a job: {REFUSAL_REASONS['unreadable']}", "unreadable")
    return exc if isinstance(exc, RefusedJob) else None


def _no_callback(name: str | None) -> None:
    # wabahook's jobs have none; a callback name would be code to import.
    if name:
        raise RefusedJob(f"refused the callback {shown(name)}", "callback")


class GuardedWorker(SimpleWorker):
    """RQ's SimpleWorker taking only wabahook's jobs, and remembering a requested stop."""

    def __init__(self, queues: list[str], **kwargs: Any) -> None:
        super().__init__(
            queues, **{**kwargs, "job_class": AllowListJob, "serializer": JOB_SERIALIZER}
        )
        self.stop_requested = False

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """Count and log a refused job once, however often RQ looked at its function."""
        refusal = _refusal_in(exc_info[1])
        if refusal is None:
            super().handle_exception(job, *exc_info)
            return
        count_refusal(refusal.reason)
        job.retries_left = 0  # refused once is refused for good
        # Not RQ's report: it logs the job's name as stored, with the arguments.
        log.error(
            "refused a job",
            extra={"job_id": shown(job.id), "reason": refusal.reason, "error": str(refusal)},
        )

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


def forget_dead_namesake(
    connection: redis.Redis, name: str, *, alive: Callable[[int], bool]
) -> None:
    """End RQ's record of a worker named `name` on this host whose process is not `alive`,
    and delete the job it was running (freeing a drain's slot). A namesake elsewhere, or
    alive, is left alone: RQ then refuses the name, as it should."""
    dead = SimpleWorker.find_by_key(
        SimpleWorker.redis_worker_namespace_prefix + name,
        connection=connection,
        serializer=JOB_SERIALIZER,
    )
    if dead is None or dead.death_date is not None or dead.hostname != socket.gethostname():
        return  # none, its end already recorded (its job id may be a new job's now), or elsewhere
    if dead.pid is not None and alive(dead.pid):
        return
    job_id = dead.get_current_job_id()
    dead.register_death()  # type: ignore[no-untyped-call]
    if job_id:
        with contextlib.suppress(NoSuchJobError):
            AllowListJob.fetch(job_id, connection=connection, serializer=JOB_SERIALIZER).delete()
