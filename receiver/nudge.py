"""After-commit nudge: tell the workers through Redis that events are waiting."""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from receiver.config import Secret
from receiver.metrics import Metrics

log = logging.getLogger("wabahook.nudge")

# The drain job's contract, here because the receiver names the job rather than
# importing it (it stays small); processors.jobs takes its budget from here. A drain
# starts batches for DRAIN_TIME_BUDGET seconds, then ends; RQ stops it only at
# DRAIN_JOB_TIMEOUT, which leaves room for the batch still running at the budget's end.
DRAIN_JOB = "processors.jobs.drain"
DRAIN_TIME_BUDGET = 30.0
DRAIN_JOB_TIMEOUT = 180
# Concurrent drains: a drain that finds a full batch starts the next slot, so a
# backlog spreads over up to this many workers; each slot is one unique RQ job.
DRAIN_SLOTS = 4
# Jobs travel as JSON: plain values, so a worker reads them without unpickling
# anything (processors.safe_jobs checks them before it logs or runs them).
JOB_SERIALIZER = JSONSerializer
# Most requests stop at this key: at most one enqueue attempt per window. A drain that
# runs out of work stays until the window ends (processors.jobs), so an event whose nudge
# the gate held back is drained all the same.
GATE_MILLISECONDS = 500
# One round trip: take the gate (-1), or learn how long another process holds it (ms).
_TAKE_GATE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return -1 end
return redis.call('PTTL', KEYS[1])
"""
# After a failure, Redis is left alone this long: the sweep finds the events anyway,
# and a hung Redis must not cost every request its timeout.
BACKOFF_SECONDS = 5.0


def gate_key(queue_name: str) -> str:
    """The Redis key of the nudge gate of `queue_name`."""
    return f"wabahook:{queue_name}:nudge"


def drain_job_id(queue_name: str, slot: int = 0) -> str:
    """The unique RQ job id of a drain slot: one queued or running drain per slot."""
    return f"wabahook-{queue_name}-drain-{slot}"


def job_queue(name: str, connection: redis.Redis) -> Queue:
    """The RQ queue `name`, writing its jobs as workers read them (JOB_SERIALIZER)."""
    return Queue(name, connection=connection, serializer=JOB_SERIALIZER)


def enqueue_drain(queue: Queue, slot: int = 0) -> bool:
    """Enqueue the drain of `slot` on `queue` (a `job_queue`) unless one is already there."""
    try:
        queue.enqueue_call(
            DRAIN_JOB,
            kwargs={"slot": slot},
            job_id=drain_job_id(queue.name, slot),
            unique=True,
            result_ttl=0,  # the job id is free again as soon as the drain ends
            ttl=300,  # a drain nobody picked up in 5 min is dropped; the sweep re-enqueues
            # A failed job keeps its id until this expires, and with it the slot: keep it short.
            failure_ttl=60,
            retry=Retry(max=2),  # at once; beyond that the cron sweep re-enqueues
            timeout=DRAIN_JOB_TIMEOUT,
        )
    except DuplicateJobError:
        return False
    return True


class Nudger:
    """Best-effort signal that work is queued; never raises, never blocks for long."""

    def __init__(
        self,
        redis_url: Secret | None,
        queue_name: str,
        timeout: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self.failures = 0
        self._gate_key = gate_key(queue_name)
        self._quiet_until = 0.0
        self._nudged_until = 0.0
        self._lock = threading.Lock()
        self._redis: redis.Redis | None = None
        self._queue: Queue | None = None
        if redis_url is not None:
            self._redis = redis.Redis.from_url(
                redis_url.reveal(),
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=RedisRetry(NoBackoff(), 0),  # one attempt: the timeout is the whole budget
                health_check_interval=0,
            )
            self._queue = job_queue(queue_name, self._redis)
            self._take_gate = self._redis.register_script(_TAKE_GATE)

    def nudge(self) -> None:
        """Enqueue a drain unless one was just requested; count and log any failure."""
        now = time.monotonic()
        if self._redis is None or self._queue is None or now < self._quiet_until:
            return
        # Within a gate's window: the drain it woke stays until the window ends.
        if now < self._nudged_until:
            return
        try:
            left = int(self._take_gate(keys=[self._gate_key], args=[GATE_MILLISECONDS]))
            # This process keeps away no longer than the gate does (someone else's may end soon).
            self._nudged_until = now + (GATE_MILLISECONDS if left < 0 else left) / 1000
            if left >= 0:
                return
            # A drain that is just ending still holds its slot's job id: then another slot's.
            any(enqueue_drain(self._queue, slot) for slot in range(DRAIN_SLOTS))
        # ValueError: a gate script's answer that is no number (a Redis not ours, say).
        except (RedisError, OSError, ValueError) as exc:
            if self._metrics is not None:
                self._metrics.nudge_failures.inc()
            with self._lock:
                self.failures += 1
                self._quiet_until = time.monotonic() + BACKOFF_SECONDS
            log.warning(
                "redis nudge failed; events stay queued in PostgreSQL for the sweep",
                extra={"error": f"{type(exc).__name__}: {exc}", "nudge_failures": self.failures},
            )
