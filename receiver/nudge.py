"""After-commit nudge: tell the workers through Redis that events are waiting."""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rq import Queue
from rq.exceptions import DuplicateJobError

from receiver.config import Secret

log = logging.getLogger("wabahook.nudge")

# The processors' drain job, named rather than imported: the receiver stays small.
DRAIN_JOB = "processors.jobs.drain"
# Most requests stop at this key: at most one enqueue attempt per window per process.
GATE_MILLISECONDS = 500
# After a failure, Redis is left alone this long: the sweep finds the events anyway,
# and a hung Redis must not cost every request its timeout.
BACKOFF_SECONDS = 5.0


class Nudger:
    """Best-effort signal that work is queued; never raises, never blocks for long."""

    def __init__(self, redis_url: Secret | None, queue_name: str, timeout: float) -> None:
        self.queue_name = queue_name
        self.failures = 0
        self.sent = 0
        self._gate_key = f"wabahook:{queue_name}:nudge"
        self._job_id = f"wabahook-{queue_name}-drain"
        self._quiet_until = 0.0
        self._lock = threading.Lock()
        self._redis: redis.Redis | None = None
        self._queue: Queue | None = None
        if redis_url is not None:
            self._redis = redis.Redis.from_url(
                redis_url.reveal(),
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),  # one attempt: the timeout is the whole budget
                health_check_interval=0,
            )
            self._queue = Queue(queue_name, connection=self._redis)

    @property
    def enabled(self) -> bool:
        """False when no REDIS_URL is configured (the sweep alone then finds work)."""
        return self._redis is not None

    def nudge(self) -> None:
        """Enqueue a drain unless one was just requested; count and log any failure."""
        if self._redis is None or self._queue is None or time.monotonic() < self._quiet_until:
            return
        try:
            if not self._redis.set(self._gate_key, b"1", nx=True, px=GATE_MILLISECONDS):
                return
            self._queue.enqueue_call(
                DRAIN_JOB,
                job_id=self._job_id,
                unique=True,
                result_ttl=0,
                ttl=300,
                failure_ttl=3600,
            )
            self.sent += 1
        except DuplicateJobError:
            pass  # a drain is already waiting or running
        except (RedisError, OSError) as exc:
            with self._lock:
                self.failures += 1
                self._quiet_until = time.monotonic() + BACKOFF_SECONDS
            log.warning(
                "redis nudge failed; events stay queued in PostgreSQL for the sweep",
                extra={"error": f"{type(exc).__name__}: {exc}", "nudge_failures": self.failures},
            )
