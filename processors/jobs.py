"""RQ jobs: small importable functions with plain arguments, safe to run twice."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from prometheus_client import CollectorRegistry

from processors.metrics import OperationsCollector, QueueCollector, RelayCollector, WorkerMetrics
from processors.migrate import PARTITION_MONTHS_AHEAD
from processors.pipeline import drain as draining
from processors.pipeline.queue_health import queue_health
from processors.stored import channel_retention
from processors.stored.retention import RetentionError
from receiver.config import COMMAND_DB_SECONDS, WORKER_DB_SECONDS, Settings
from receiver.db import Database, DatabaseError
from receiver.nudge import DRAIN_SLOTS, DRAIN_TIME_BUDGET, enqueue_drain, gate_key, job_queue
from receiver.queries import query

log = logging.getLogger("wabahook.jobs")

SWEEP_SECONDS = 5
# While a nudge gate is held, an idle drain claims this often: the most an event whose
# nudge the gate held back waits.
LINGER_POLL_SECONDS = 0.05
LINGER_DB_SECONDS = 2.0
# A scrape's wait for its connection and its statements: Prometheus gives up after 10 s.
SCRAPE_DB_SECONDS = 5.0


@functools.cache
def context() -> tuple[Settings, Database]:
    """This process's settings and database pool (opened lazily, after any fork)."""
    settings = Settings.from_env()
    db = Database(
        settings.database_url, application_name="wabahook-worker", timeout=WORKER_DB_SECONDS
    )
    return settings, db


@functools.cache
def worker_metrics() -> WorkerMetrics:
    """This process's drain metrics (served by `wabahook worker --metrics-port`)."""
    return WorkerMetrics()


@functools.cache
def scraped_registry() -> CollectorRegistry:
    """What `wabahook worker --metrics-port` serves: the drain metrics and the gauges read
    from PostgreSQL at scrape time, through a pool of one connection of their own (frequent
    or slow scrapes must never take the drain's connections)."""
    settings, _ = context()
    db = Database(
        settings.database_url,
        application_name="wabahook-metrics",
        timeout=SCRAPE_DB_SECONDS,
        max_size=1,
    )
    registry = worker_metrics().registry
    registry.register(QueueCollector(db))
    registry.register(OperationsCollector(db))
    registry.register(RelayCollector(db))
    return registry


def redis_connection(settings: Settings) -> redis.Redis:
    """A Redis client for enqueuing from jobs and commands."""
    if settings.redis_url is None:
        raise RuntimeError("REDIS_URL is not set")
    return redis.Redis.from_url(settings.redis_url.reveal())


def enqueue(settings: Settings, slot: int = 0) -> bool:
    """Enqueue the drain of `slot` on the configured queue (False: already there)."""
    return enqueue_drain(job_queue(settings.queue, redis_connection(settings)), slot)


def drain(slot: int = 0) -> dict[str, Any]:
    """Drain queued events for up to DRAIN_TIME_BUDGET seconds."""
    settings, db = context()
    fanned_out = False
    metrics = worker_metrics()
    stats = draining.DrainResult()  # kept here too: a drain cut short still reports its work

    def after_batch(result: draining.DrainResult) -> None:
        nonlocal stats, fanned_out
        stats += result
        metrics.observe(result)
        # A full batch means a backlog: let one more worker help.
        if result.claimed < draining.BATCH_SIZE:
            return
        if not fanned_out and slot + 1 < DRAIN_SLOTS and settings.redis_url is not None:
            fanned_out = True
            try:
                enqueue(settings, slot + 1)
            except redis.exceptions.RedisError as exc:
                # Best effort, like every nudge: this drain goes on, the sweep fans out later.
                log.warning("could not enqueue another drain", extra={"error": str(exc)})

    ends = time.monotonic() + DRAIN_TIME_BUDGET
    try:
        draining.drain(db, time_budget=DRAIN_TIME_BUDGET, on_batch=after_batch)
        _linger(settings, db, ends, after_batch)
    except DatabaseError as exc:
        # PostgreSQL is away: end normally so this slot's job id is free again at once;
        # the events stay queued and the sweep enqueues the next drain.
        log.warning("drain stopped: database unavailable", extra={"slot": slot, "error": str(exc)})
        return {"slot": slot, "error": str(exc), **stats.as_dict()}
    result = {"slot": slot, **stats.as_dict()}
    if stats.events:
        log.info("drained", extra=result)
    return result


def _linger(settings: Settings, db: Database, ends: float, on_batch: Callable[[Any], None]) -> None:
    """Stay while a nudge gate is held, draining what comes: the receiver sends no nudge
    within a gate's window, counting on the drain that window's first nudge woke."""
    if settings.redis_url is None:
        return
    key = gate_key(settings.queue)
    while True:
        try:
            left = int(gate_client(settings).pttl(key))  # -2: no gate (-1: none can be)
        except (redis.exceptions.RedisError, ValueError):  # ValueError: no number back
            return  # the sweep finds what comes now
        # After reading the gate: an event held back by it was stored before this look.
        # A short look first: a drain's own wait for a connection is long, and here
        # PostgreSQL may be going away (stopped with `up`): the worker must not wait on it.
        with db.connection(timeout=LINGER_DB_SECONDS) as conn:
            due = conn.execute(query("events_due")).fetchone()
        if due is not None and due["due"]:
            draining.drain(db, time_budget=max(0.0, ends - time.monotonic()), on_batch=on_batch)
        if left <= 0 or time.monotonic() >= ends:
            return
        time.sleep(min(left / 1000, LINGER_POLL_SECONDS))


@functools.cache
def gate_client(settings: Settings) -> redis.Redis:
    """This process's Redis client for reading the nudge gate (short timeouts)."""
    assert settings.redis_url is not None
    return redis.Redis.from_url(
        settings.redis_url.reveal(), socket_timeout=1.0, socket_connect_timeout=1.0
    )


def sweep() -> dict[str, Any]:
    """Enqueue a drain when events wait without one (lost nudges, retries due)."""
    return sweep_once(*context())


def sweep_once(settings: Settings, db: Database | None = None) -> dict[str, Any]:
    """One sweep with the given settings (the CLI's `wabahook sweep` and the cron job)."""
    if db is None:
        db = Database(
            settings.database_url, application_name="wabahook-sweep", timeout=COMMAND_DB_SECONDS
        )
        try:
            return sweep_once(settings, db)
        finally:
            db.close()
    health = queue_health(db)
    if (health["stale"] or health["retries_due"]) and settings.redis_url is not None:
        # The first free slot: a slot held by a killed worker's job must not block recovery.
        health["drain_enqueued"] = any(enqueue(settings, slot) for slot in range(DRAIN_SLOTS))
    if health["oldest_queued_seconds"] is not None:
        log.info("queue health", extra=health)
    return health


def maintain_partitions() -> int:
    """Create the coming months' raw-event partitions; returns how many were made."""
    _, db = context()
    row = db.fetch_one("ensure_partitions", {"months_ahead": PARTITION_MONTHS_AHEAD})
    return int(row["created"]) if row else 0


# A retention run deletes for up to this long; what is left waits for the next hour.
RETENTION_SECONDS = 120


def apply_retention() -> dict[str, int]:
    """Delete the stored bodies past each channel's retention; events deleted per channel."""
    _, db = context()
    try:
        deleted = channel_retention.apply_all(db, deadline=time.monotonic() + RETENTION_SECONDS)
    except RetentionError as exc:  # a rebuild under way: the next hour's run does it
        log.warning("retention waits", extra={"error": str(exc)})
        return {}
    if deleted:
        log.info("retention", extra={"deleted": deleted})
    return deleted
