"""Drain throughput: one worker on a mixed corpus, next to one RQ job per event.

Run with `make bench`; writes a JSON report (machine, versions, figures).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
import redis
from rq import Queue, SimpleWorker

from processors.migrate import migrate
from processors.pipeline.drain import BATCH_SIZE, DrainResult, drain, drain_batch
from processors.pipeline.people import PEOPLE_TABLES
from processors.pipeline.projections import projection_tables
from processors.pipeline.rebuild import rebuild
from receiver.config import Secret
from receiver.db import Database
from tests.corpus import CASES
from tests.support.servers import create_database, drop_database, postgres_server, redis_server

TARGET_EVENTS_PER_SECOND = 25_000
TARGET_REBUILD_SECONDS_PER_MILLION = 60
POISON_BATCH = 1000
POISONED_EVENTS = 5
TARGET_POISON_RATIO = 3.0
PROJECTIONS = ", ".join(f"wabahook.{table}" for table in (*projection_tables(), *PEOPLE_TABLES))
_BASELINE_DB: Database | None = None


# An entry's id (its WABA): `{"id":"…","changes"` or `,"time"` after it.
_ENTRY_ID = re.compile(rb'(\{"id":")\d+-([^"]*"\s*,\s*"(?:changes|time)")')


def corpus(events: int, offset: int = 0) -> Iterator[bytes]:
    """`events` bodies cycling through the corpus, ids (of messages, statuses, calls,
    conversations...) made unique per event; WABA ids are left as they are, as a store
    serves a few business accounts."""
    bodies = [case.body for case in CASES]
    for i in range(events):
        unique = bodies[i % len(bodies)].replace(b'"id":"', b'"id":"%d-' % (offset + i))
        yield _ENTRY_ID.sub(rb"\1\2", unique)


def load(url: str, events: int, offset: int = 0, *, queued: bool = True) -> float:
    """COPY the events into raw_events (and the queue, when `queued`); returns seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY wabahook.raw_events (channel, body, body_sha256, request_id) FROM STDIN"
        ) as copy:
            for body in corpus(events, offset):
                copy.write_row(("bench", body, hashlib.sha256(body).digest(), "bench"))
        if queued:
            cur.execute(
                "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
                " SELECT id, received_at, channel FROM wabahook.raw_events"
                " ON CONFLICT (raw_event_id) DO NOTHING"
            )
        cur.execute("ANALYZE")
    return time.perf_counter() - started


def one_event_job() -> int:
    """The naive design: one RQ job per event."""
    assert _BASELINE_DB is not None
    return drain_batch(_BASELINE_DB, batch_size=1).claimed


def measure_drain(url: str, events: int, batch_size: int) -> dict[str, Any]:
    db = Database(Secret(url), application_name="wabahook-bench", timeout=600)
    try:
        started = time.perf_counter()
        stats = drain(db, batch_size=batch_size)
        seconds = time.perf_counter() - started
    finally:
        db.close()
    assert stats.processed + stats.rejected == events, stats.as_dict()
    return {
        "events": events,
        "batch_size": batch_size,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds),
        "processed": stats.processed,
        "rejected": stats.rejected,
        "failed": stats.failed,
        "messages": stats.items["messages"],
        "statuses": stats.items["statuses"],
    }


def measure_rebuild(url: str, drained: int, events: int, batch_size: int) -> dict[str, Any]:
    """`wabahook rebuild`'s own function over `events` stored events: the drained ones and
    more loaded (unqueued: already processed, as in a store being rebuilt)."""
    if events > drained:
        print(f"loading {events - drained} more events for the rebuild ...", file=sys.stderr)
        load(url, events - drained, offset=drained, queued=False)
    db = Database(Secret(url), application_name="wabahook-bench-rebuild", timeout=600)
    logging.getLogger("wabahook").setLevel(logging.WARNING)
    try:
        print(f"rebuilding {events} events ...", file=sys.stderr)
        started = time.perf_counter()
        stats = rebuild(db, batch_size=batch_size)
        seconds = time.perf_counter() - started
    finally:
        db.close()
    assert stats.totals.events == events, (stats.totals.events, events)
    per_million = seconds / events * 1_000_000
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds),
        "seconds_per_million": round(per_million, 1),
        "target_seconds_per_million": TARGET_REBUILD_SECONDS_PER_MILLION,
        "meets_target": per_million <= TARGET_REBUILD_SECONDS_PER_MILLION,
    }


def measure_baseline(url: str, redis_url: str, events: int) -> dict[str, Any]:
    global _BASELINE_DB
    _BASELINE_DB = Database(Secret(url), application_name="wabahook-bench-rq", timeout=600)
    queue_name = f"wabahook-bench-{secrets.token_hex(4)}"
    connection = redis.Redis.from_url(redis_url)
    try:
        queue = Queue(queue_name, connection=connection)
        with connection.pipeline() as pipe:
            for _ in range(events):
                queue.enqueue_call(f"{__name__}.one_event_job", result_ttl=0, pipeline=pipe)
            pipe.execute()
        started = time.perf_counter()
        worker = SimpleWorker([queue], connection=connection)
        worker.work(burst=True, logging_level="WARNING")
        seconds = time.perf_counter() - started
    finally:
        for key in connection.scan_iter(match=f"*{queue_name}*"):
            connection.delete(key)
        connection.srem("rq:queues", f"rq:queue:{queue_name}")
        connection.close()
        _BASELINE_DB.close()
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds),
    }


def poison_positions() -> list[int]:
    """Positions in a batch whose bodies project items (so a trigger on them fires), spread out."""
    projecting = [
        i
        for i in range(POISON_BATCH)
        if CASES[i % len(CASES)].messages or CASES[i % len(CASES)].statuses
    ]
    step = len(projecting) // POISONED_EVENTS
    return [projecting[step // 2 + k * step] for k in range(POISONED_EVENTS)]


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"TRUNCATE wabahook.raw_events, wabahook.event_queue, wabahook.event_results, {PROJECTIONS} RESTART IDENTITY"
        )


def poison(url: str, ids: list[int]) -> None:
    """Make the projection of these events raise inside PostgreSQL (as a bug of ours would)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION wabahook.bench_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned event %', NEW.raw_event_id; END $$"
        )
        for table in ("inbound_message", "status_event", "notification_error"):
            conn.execute(
                f"CREATE TRIGGER bench_poison BEFORE INSERT ON wabahook.{table} FOR EACH ROW"
                f" WHEN (NEW.raw_event_id = ANY('{{{','.join(map(str, ids))}}}'::bigint[]))"
                " EXECUTE FUNCTION wabahook.bench_poison()"
            )


def cure(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("inbound_message", "status_event", "notification_error"):
            conn.execute(f"DROP TRIGGER IF EXISTS bench_poison ON wabahook.{table}")


def timed_batch(db: Database) -> tuple[float, DrainResult]:
    started = time.perf_counter()
    result = drain_batch(db, batch_size=POISON_BATCH)
    return time.perf_counter() - started, result


def measure_poison(url: str, repeats: int) -> dict[str, Any]:
    """A 1,000-event batch with 5 events whose projection raises, next to a clean one.

    Clean and poisoned runs alternate on the same data so that the machine's noise
    falls on both. The retry is the next batch: the 5 failed events made due again
    (still failing) among 995 new ones.
    """
    db = Database(Secret(url), application_name="wabahook-bench-poison", timeout=600)
    logging.getLogger("wabahook").setLevel(logging.ERROR)  # 5 "event failed" lines a run
    ids = [p + 1 for p in poison_positions()]
    clean: list[float] = []
    poisoned: list[float] = []
    retried: list[float] = []
    try:
        for _ in range(repeats):
            reset(url)
            load(url, POISON_BATCH)
            clean.append(timed_batch(db)[0])
            reset(url)
            load(url, POISON_BATCH)
            poison(url, ids)
            seconds, stats = timed_batch(db)
            assert (stats.failed, stats.processed + stats.rejected) == (
                POISONED_EVENTS,
                POISON_BATCH - POISONED_EVENTS,
            ), stats
            poisoned.append(seconds)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE wabahook.event_queue SET not_before = now()")
            load(url, POISON_BATCH - POISONED_EVENTS, offset=POISON_BATCH)
            seconds, stats = timed_batch(db)
            assert stats.failed == POISONED_EVENTS, stats
            retried.append(seconds)
            cure(url)
    finally:
        cure(url)
        db.close()
    median = statistics.median
    return {
        "batch_events": POISON_BATCH,
        "poisoned_events": POISONED_EVENTS,
        "repeats": repeats,
        "clean_batch_seconds": round(median(clean), 4),
        "poisoned_batch_seconds": round(median(poisoned), 4),
        "retry_batch_seconds": round(median(retried), 4),
        "poisoned_over_clean": round(median(poisoned) / median(clean), 2),
        "retry_over_clean": round(median(retried) / median(clean), 2),
        "target_ratio": TARGET_POISON_RATIO,
        "meets_target": median(poisoned) / median(clean) <= TARGET_POISON_RATIO,
    }


def machine() -> dict[str, Any]:
    memory = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        memory = meminfo.readline().split()[1] + " kB"
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--baseline-events", type=int, default=5_000)
    parser.add_argument(
        "--rebuild-events", type=int, default=1_000_000, help="events rebuilt (0: no rebuild)"
    )
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--poison-repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-report.json"))
    args = parser.parse_args()

    with postgres_server() as server, redis_server() as redis_url:
        name = f"wabahook_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        try:
            migrate(url)
            with psycopg.connect(url) as conn:
                server_version = conn.execute("SHOW server_version").fetchone()
            print(f"loading {args.events} events ...", file=sys.stderr)
            load_seconds = load(url, args.events)
            print("draining with one worker ...", file=sys.stderr)
            result = measure_drain(url, args.events, args.batch_size)
            rebuilt = (
                measure_rebuild(url, args.events, args.rebuild_events, args.batch_size)
                if args.rebuild_events
                else None
            )
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE wabahook.raw_events, wabahook.event_results")
            load(url, args.baseline_events)
            print(f"baseline: {args.baseline_events} RQ jobs ...", file=sys.stderr)
            baseline = measure_baseline(url, redis_url, args.baseline_events)
            print("a batch with poisoned events, next to a clean one ...", file=sys.stderr)
            poisoned = measure_poison(url, args.poison_repeats)
        finally:
            drop_database(server, name)
    report = {
        "benchmark": "drain",
        "machine": machine(),
        "versions": {
            "postgresql": server_version[0] if server_version else None,
            "psycopg": version("psycopg"),
            "rq": version("rq"),
            "redis-py": version("redis"),
        },
        "load_seconds": round(load_seconds, 3),
        "drain_one_worker": result,
        "baseline_one_rq_job_per_event": baseline,
        "speedup_over_baseline": round(
            result["events_per_second"] / baseline["events_per_second"], 1
        ),
        "target_events_per_second": TARGET_EVENTS_PER_SECOND,
        "meets_target": result["events_per_second"] >= TARGET_EVENTS_PER_SECOND,
        "poisoned_batch": poisoned,
        "rebuild": rebuilt,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
