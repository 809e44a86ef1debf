"""Bodies built to be slow, and the batch deadline, measured on the drain.

1. For each body of tests/pathological.py: the drain of a batch holding it among
   ordinary events, next to the same batch holding a clean body of the same size
   (tests.pathological.clean); alternated, medians compared (target: at most 3x).
2. The clean drain rate with the batch deadline (the drain in a supervised child, its
   lanes writing which event they parse) and without it (drain() in this process),
   alternated on the same events.

Run with `make bench`; writes a JSON report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import secrets
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg

from processors.migrate import migrate
from processors.pipeline.deadline import supervise
from processors.pipeline.drain import DrainResult, drain, drain_batch
from receiver.config import Secret
from receiver.db import Database
from tests.bench.drain import PROJECTIONS, corpus, machine
from tests.pathological import MIB, bodies, clean
from tests.support.servers import create_database, drop_database, postgres_server

BATCH = 100  # the body at the size limit and 99 ordinary events
TARGET_RATIO = 3.0


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE wabahook.raw_events, wabahook.event_queue, wabahook.event_results,"
            f" {PROJECTIONS} RESTART IDENTITY"
        )


def load(url: str, events: Iterable[bytes]) -> None:
    """Store and queue `events` as intake does, in one COPY."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY wabahook.raw_events (channel, body, body_sha256, request_id) FROM STDIN"
        ) as copy:
            for body in events:
                copy.write_row(("bench", body, hashlib.sha256(body).digest(), "bench"))
        cur.execute(
            "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
            " SELECT id, received_at, channel FROM wabahook.raw_events"
            " ON CONFLICT (raw_event_id) DO NOTHING"
        )
        cur.execute("ANALYZE")


def timed_batch(url: str, body: bytes) -> float:
    """Seconds to drain one batch holding `body` in the middle of ordinary events."""
    reset(url)
    ordinary = list(corpus(BATCH - 1))
    load(url, [*ordinary[: BATCH // 2], body, *ordinary[BATCH // 2 :]])
    db = Database(Secret(url), application_name="wabahook-bench-hostile", timeout=600)
    try:
        started = time.perf_counter()
        result = drain_batch(db, batch_size=BATCH)
        seconds = time.perf_counter() - started
    finally:
        db.close()
    assert (result.claimed, result.failed) == (BATCH, 0), result.as_dict()
    return seconds


def measure_bodies(url: str, repeats: int, size: int = MIB) -> dict[str, Any]:
    """Each body built to be slow next to a clean one of the same size, alternated."""
    yardstick = clean(size)
    cases = bodies(size)
    clean_runs: list[float] = []
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, body in cases.items():
            print(f"  {name} ...", file=sys.stderr)
            clean_runs.append(timed_batch(url, yardstick))
            runs[name].append(timed_batch(url, body))
    base = statistics.median(clean_runs)
    figures = {
        name: {
            "bytes": len(cases[name]),
            "batch_seconds": round(statistics.median(seconds), 4),
            "over_clean": round(statistics.median(seconds) / base, 2),
        }
        for name, seconds in runs.items()
    }
    worst = max(figures.values(), key=lambda f: f["over_clean"])["over_clean"]
    return {
        "batch_events": BATCH,
        "body_limit_bytes": size,
        "repeats": repeats,
        "clean_body_bytes": len(yardstick),
        "clean_batch_seconds": round(base, 4),
        "bodies": figures,
        "worst_over_clean": worst,
        "target_ratio": TARGET_RATIO,
        "meets_target": worst <= TARGET_RATIO,
    }


def drain_unwatched(url: str) -> DrainResult:
    db = Database(Secret(url), application_name="wabahook-bench-drain", timeout=600, max_size=3)
    try:
        return drain(db)
    finally:
        db.close()


def drain_watched(url: str) -> DrainResult:
    """The same drain in a child under the batch deadline, as `wabahook drain` runs it."""
    totals = DrainResult()

    def take(line: bytes) -> None:
        nonlocal totals
        totals += DrainResult.from_line(line)

    def child() -> int:
        from processors.pipeline.deadline import report

        db = Database(Secret(url), application_name="wabahook-bench-drain", timeout=600, max_size=3)
        try:
            drain(db, on_batch=lambda result: report(result.to_line()))
        finally:
            db.close()
        return 0

    def overran(event_id: int) -> None:
        raise AssertionError(f"a clean event {event_id} overran the batch deadline")

    assert supervise(child, deadline=10.0, on_overrun=overran, on_line=take) == 0
    return totals


def measure_deadline(url: str, events: int, repeats: int) -> dict[str, Any]:
    """Clean drain rates with and without the batch deadline, alternated on the same events."""
    rates: dict[str, list[float]] = {"without_deadline": [], "with_deadline": []}
    for _ in range(repeats):
        for name, run in (("without_deadline", drain_unwatched), ("with_deadline", drain_watched)):
            reset(url)
            load(url, corpus(events))
            started = time.perf_counter()
            result = run(url)
            seconds = time.perf_counter() - started
            assert result.processed + result.rejected == events, result.as_dict()
            rates[name].append(events / seconds)
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "events": events,
        "repeats": repeats,
        **{f"{name}_events_per_second": round(value) for name, value in median.items()},
        "with_over_without": round(median["with_deadline"] / median["without_deadline"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000, help="events of each clean drain")
    parser.add_argument("--out", type=Path, default=Path("bench-deadline.json"))
    parser.add_argument(
        "--large-mib", type=int, default=16,
        help="also at a channel's raised body limit of this many MiB (once each; 0: not)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.getLogger("wabahook").setLevel(logging.WARNING)
    with postgres_server() as server:
        name = f"wabahook_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        try:
            migrate(url)
            print(
                "batches holding a body built to be slow, next to clean ones ...", file=sys.stderr
            )
            hostile = measure_bodies(url, args.repeats)
            large = None
            if args.large_mib:
                print(f"... and at {args.large_mib} MiB ...", file=sys.stderr)
                large = measure_bodies(url, 1, args.large_mib * MIB)
            print("clean drains with and without the batch deadline ...", file=sys.stderr)
            deadline = measure_deadline(url, args.events, args.repeats)
        finally:
            drop_database(server, name)
    report = {
        "benchmark": "hostile bodies and the batch deadline",
        "machine": machine(),
        "bodies_built_to_be_slow": hostile,
        "bodies_built_to_be_slow_at_a_raised_limit": large,
        "batch_deadline": deadline,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
