"""The batch deadline: an event whose parsing hangs is rejected from outside, the rest go on.

A parse that hangs in C code holds the GIL, so nothing in its own process can stop it.
These tests run wabahook with a nesting check that does hang on a body built for it
(tests/support/hanging_parser.py) and check that the drain's parent kills the stuck
child, rejects that one event and drains everything else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis
from rq import Worker
from rq.registry import StartedJobRegistry

from processors import jobs
from receiver.config import Settings
from receiver.db import Database
from tests.integration.conftest import wait_until
from tests.integration.processing_helpers import status_body, store
from tests.pathological import bodies

pytestmark = pytest.mark.slow  # supervised workers killed at the deadline

ROOT = Path(__file__).resolve().parents[2]
HANG = bodies()["brackets then an unterminated string of escaped quotes"]
PATIENCE = 120  # a hang guard: without the deadline the drain would run for hours


def hanging_wabahook(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WABAHOOK_", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "tests.support.hanging_parser", *args],
        env={**clean, "DATABASE_URL": database_url, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )


def states(database_url: str) -> dict[int, tuple[str, str | None]]:
    with psycopg.connect(database_url) as conn:
        found = conn.execute("SELECT raw_event_id, state, error FROM wabahook.raw_event_log")
        return {int(i): (s, e) for i, s, e in found.fetchall()}


def test_a_hanging_parse_is_rejected_and_its_batch_drains_on(
    db: Database, database_url: str
) -> None:
    before = [status_body(f"wamid.before-{n}", "sent", 1750000000 + n) for n in range(5)]
    after = [status_body(f"wamid.after-{n}", "read", 1750000100 + n) for n in range(5)]
    ids = store(db, [*before, HANG, *after])
    hanging = ids[len(before)]

    drained = hanging_wabahook(
        database_url, "drain", "--until-empty", "--json", WABAHOOK_BATCH_DEADLINE="1"
    )

    assert drained.returncode == 0, drained.stderr
    assert f"event {hanging} rejected: processing deadline exceeded" in drained.stderr
    assert "Traceback" not in drained.stderr
    found = states(database_url)
    assert found[hanging] == ("rejected", "processing deadline exceeded")
    assert {found[i] for i in ids if i != hanging} == {("processed", None)}
    summary = json.loads(drained.stdout)
    assert (summary["processed"], summary["rejected"], summary["failed"]) == (10, 1, 0)
    assert summary["statuses"] == 10
    with psycopg.connect(database_url) as conn:
        (queued,) = conn.execute("SELECT count(*) FROM wabahook.event_queue").fetchone() or (0,)
    assert queued == 0

    # A rebuild has no watcher: it keeps the rejection instead of parsing the body again.
    rebuilt = hanging_wabahook(database_url, "rebuild", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert states(database_url) == found


def test_without_a_hang_the_deadline_changes_nothing(db: Database, database_url: str) -> None:
    ids = store(db, [status_body(f"wamid.calm-{n}", "sent", 1750000000 + n) for n in range(3)])

    drained = hanging_wabahook(database_url, "drain", "--json", WABAHOOK_BATCH_DEADLINE="0.1")

    assert drained.returncode == 0, drained.stderr
    assert drained.stderr == ""
    assert {states(database_url)[i] for i in ids} == {("processed", None)}
    assert json.loads(drained.stdout)["processed"] == 3


def test_a_worker_rejects_a_hanging_parse_and_drains_on(
    db: Database, database_url: str, app_env: dict[str, str], queue_name: str
) -> None:
    before = [status_body(f"wamid.w-before-{n}", "sent", 1750000000 + n) for n in range(5)]
    after = [status_body(f"wamid.w-after-{n}", "read", 1750000100 + n) for n in range(5)]
    ids = store(db, [*before, HANG, *after])
    hanging = ids[len(before)]
    assert jobs.enqueue(Settings.from_env(app_env))

    # A burst worker ends once the queue is empty: after the rejection, its restarted
    # child drains the rest (the parent enqueued a drain for them).
    worked = hanging_wabahook(
        database_url, "worker", "--burst", "--name", f"{queue_name}-hang",
        **{**app_env, "WABAHOOK_BATCH_DEADLINE": "1", "WABAHOOK_LOG_FORMAT": "text"},
    )  # fmt: skip

    assert worked.returncode == 0, worked.stderr
    assert "event exceeded the batch deadline" in worked.stderr
    found = states(database_url)
    assert found[hanging] == ("rejected", "processing deadline exceeded")
    assert {found[i] for i in ids if i != hanging} == {("processed", None)}, worked.stderr
    connection = redis.Redis.from_url(app_env["REDIS_URL"])
    try:  # RQ's record of the killed child was ended; the next child took its name
        worker = Worker.find_by_key(
            Worker.redis_worker_namespace_prefix + f"{queue_name}-hang", connection=connection
        )
        assert worker is None or worker.death_date is not None
        registry = StartedJobRegistry(queue_name, connection=connection)
        assert registry.get_job_ids() == []
    finally:
        connection.close()


def parsing(database_url: str) -> bool:
    """Whether a drain holds a claimed batch open (it parses between its statements)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'wabahook-cli' AND state = 'idle in transaction'"
        ).fetchone()
    return bool(row and row[0])


def test_a_stop_asked_during_a_hang_stops_the_drain(db: Database, database_url: str) -> None:
    """Ctrl-C reaches a child stuck in C code only when it is killed: then the drain ends
    (the event rejected), it does not start again."""
    ids = store(db, [HANG, status_body("wamid.later", "sent", 1750000000)])
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WABAHOOK_", "REDIS_URL"))}
    drain = subprocess.Popen(
        [sys.executable, "-m", "tests.support.hanging_parser", "drain", "--until-empty"],
        env={**clean, "DATABASE_URL": database_url, "WABAHOOK_BATCH_DEADLINE": "3"},
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # The child has claimed its batch and sits in the hanging parse.
        assert wait_until(lambda: parsing(database_url), timeout=60)
        drain.send_signal(signal.SIGINT)
        _, stderr = drain.communicate(timeout=PATIENCE)
    finally:
        if drain.poll() is None:
            drain.kill()
    assert drain.returncode == 128 + signal.SIGINT, stderr
    found = states(database_url)
    assert found[ids[0]] == ("rejected", "processing deadline exceeded")
    assert found[ids[1]] == ("queued", None)  # nothing was started after the stop
