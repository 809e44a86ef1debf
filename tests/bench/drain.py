"""Drain throughput: one worker on a mixed corpus, next to one RQ job per event.

Run with `make bench`; writes a JSON report (machine, versions, figures).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
import redis
from rq import Queue, SimpleWorker

from processors.drain import BATCH_SIZE, DrainStats, drain, drain_batch
from processors.migrate import migrate
from receiver.config import Secret
from receiver.db import Database
from tests.corpus import CASES
from tests.support.servers import create_database, drop_database, postgres_server, redis_server

TARGET_EVENTS_PER_SECOND = 25_000
_BASELINE_DB: Database | None = None


def corpus(events: int) -> Iterator[bytes]:
    """`events` bodies cycling through the corpus, ids made unique per event."""
    bodies = [case.body for case in CASES]
    for i in range(events):
        yield bodies[i % len(bodies)].replace(b'"id":"', b'"id":"%d-' % i)


def load(url: str, events: int) -> float:
    """COPY the events into raw_events and the queue; returns seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY wabahook.raw_events (channel, body, body_sha256, request_id) FROM STDIN"
        ) as copy:
            for body in corpus(events):
                copy.write_row(("bench", body, hashlib.sha256(body).digest(), "bench"))
        cur.execute(
            "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
            " SELECT id, received_at, channel FROM wabahook.raw_events"
        )
        cur.execute("ANALYZE")
    return time.perf_counter() - started


def one_event_job() -> int:
    """The naive design: one RQ job per event."""
    assert _BASELINE_DB is not None
    return drain_batch(_BASELINE_DB, DrainStats(), batch_size=1)


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
        "messages": stats.messages,
        "statuses": stats.statuses,
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
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
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
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE wabahook.raw_events, wabahook.event_results")
            load(url, args.baseline_events)
            print(f"baseline: {args.baseline_events} RQ jobs ...", file=sys.stderr)
            baseline = measure_baseline(url, redis_url, args.baseline_events)
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
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
