"""Real RQ workers: concurrent drains, a worker killed mid-batch, Redis losing its data."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from processors import jobs
from processors.local.valkey import EmbeddedValkey
from processors.pipeline.drain import DrainResult, drain
from processors.pipeline.queue_health import queue_health
from receiver.config import Secret, Settings
from receiver.db import Database
from tests.integration.conftest import start_worker, wait_until
from tests.integration.helpers import count
from tests.integration.processing_helpers import store, view
from tests.support.servers import own_valkey, reachable_folder

pytestmark = pytest.mark.slow  # workers, gunicorn and servers of their own

ROOT = Path(__file__).resolve().parents[2]


def workload(events: int, messages: int = 300) -> list[bytes]:
    """Status bodies that revisit the same messages, so concurrent drains contend."""
    names = ("sent", "delivered", "read")
    return [
        (
            '{"statuses":[{"id":"m'
            + str(i % messages)
            + '","status":"'
            + names[i % 3]
            + '","timestamp":"'
            + str(1750000000 + i)
            + '","recipient_id":"49"}]}'
        ).encode()
        for i in range(events)
    ]


def test_two_concurrent_drains_process_every_event_once(db: Database, database_url: str) -> None:
    store(db, workload(3000))
    results: list[DrainResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        own = Database(Secret(database_url), application_name="wabahook-test-drain", timeout=60)
        try:
            results.append(drain(own, batch_size=100))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(r.processed for r in results) == 3000
    assert sum(r.failed for r in results) == 0
    assert all(r.processed > 0 for r in results)  # both took part
    assert count(database_url, "event_results") == 3000
    assert count(database_url, "event_queue") == 0
    assert count(database_url, "status_event") == 3000
    assert count(database_url, "message_delivery") == 300


@pytest.fixture
def worker_env(database_url: str, redis_url: str, queue_name: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WABAHOOK_QUEUE": queue_name,
        "WABAHOOK_LOG_FORMAT": "text",
    }


def test_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    db: Database,
    database_url: str,
    worker_env: dict[str, str],
    processes: list[subprocess.Popen[bytes]],
    pg_server: str,
) -> None:
    dbname = str(conninfo_to_dict(database_url)["dbname"])
    with psycopg.connect(pg_server, autocommit=True) as conn:
        # So that PostgreSQL notices a dead client while its statement still runs.
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET client_connection_check_interval = '100ms'").format(
                sql.Identifier(dbname)
            )
        )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.test_stall() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$;"
            "CREATE TRIGGER test_stall BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " WHEN (NEW.message_id = 'm7') EXECUTE FUNCTION wabahook.test_stall()"
        )
    store(db, workload(1000))
    settings = Settings.from_env(worker_env)
    worker = start_worker(worker_env, processes)
    assert jobs.enqueue(settings)

    def stalled() -> bool:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wabahook-worker'"
                " AND wait_event = 'PgSleep'"
            ).fetchone()
        return row is not None and row[0] > 0

    assert wait_until(stalled, timeout=60)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    def abandoned() -> bool:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wabahook-worker'"
            ).fetchone()
        return row is not None and row[0] == 0

    assert wait_until(abandoned, timeout=30)  # PostgreSQL rolled the batch back
    # The drain's second lane may have claimed and committed a batch without m7 first.
    done = count(database_url, "event_results")
    assert done < 1000
    assert count(database_url, "event_queue") == 1000 - done
    with psycopg.connect(database_url) as conn:
        stalled = conn.execute(
            "SELECT count(*) FROM wabahook.event_results r JOIN wabahook.raw_events e"
            " ON e.id = r.raw_event_id WHERE convert_from(e.body, 'UTF8') LIKE '%\"m7\"%'"
        ).fetchone()
    assert stalled == (0,)  # the batch that stalled on m7 left no result
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER test_stall ON wabahook.status_event")

    # The killed worker's job still holds its drain slot in Redis; the sweep uses another.
    assert wait_until(lambda: jobs.sweep_once(settings).get("drain_enqueued") is True, timeout=30)
    start_worker(worker_env, processes, "--burst").wait(timeout=120)
    assert count(database_url, "event_results") == 1000
    assert count(database_url, "event_queue") == 0
    assert count(database_url, "status_event") == 1000
    attempts = {row["attempts"] for row in view(database_url, "raw_event_log")}
    assert attempts == {1}  # the killed batch left no trace


def test_sweep_recovers_events_whose_nudges_redis_lost(
    db: Database, database_url: str, queue_name: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    with own_valkey() as valkey_url:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": valkey_url,
               "WABAHOOK_QUEUE": queue_name}  # fmt: skip
        settings = Settings.from_env(env)
        store(db, workload(50))
        assert jobs.enqueue(settings)  # the receiver's nudge...
        connection = redis.Redis.from_url(valkey_url)
        connection.flushall()  # ...lost with everything else in this private Valkey
        connection.close()
        assert wait_until(lambda: queue_health(db)["stale"] == 50, timeout=10)
        health = jobs.sweep_once(settings)
        assert health["queued"] == 50
        assert health["drain_enqueued"] is True
        start_worker(env, processes, "--burst").wait(timeout=120)
    assert count(database_url, "event_results") == 50
    assert queue_health(db)["queued"] == 0


def test_a_worker_waits_out_a_redis_that_is_down(
    db: Database, database_url: str, queue_name: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    """Started (or restarted after losing it) while Redis is down: it waits, then drains."""
    folder = reachable_folder("wabahook-test-valkey-")
    valkey = EmbeddedValkey(folder / "valkey")
    try:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": valkey.start(),
               "WABAHOOK_QUEUE": queue_name}  # fmt: skip
        valkey.stop()
        worker = start_worker(env, processes)
        time.sleep(6)  # more than two of its 2 s pauses
        assert worker.poll() is None, "the worker ended while Redis was down"
        valkey.start()
        store(db, workload(20))
        assert jobs.enqueue(Settings.from_env(env))
        assert wait_until(lambda: count(database_url, "event_results") == 20, timeout=60)
        assert worker.poll() is None
    finally:
        valkey.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_end_to_end_gunicorn_to_worker(
    start_gunicorn,
    app_env: dict[str, str],
    worker_env: dict[str, str],
    channel,
    database_url: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    from tests.corpus import CASES
    from tests.integration.helpers import basic
    from tests.integration.test_gunicorn import request

    base = start_gunicorn({**app_env, "WABAHOOK_MAX_BODY_BYTES": "1048576"})
    start_worker(worker_env, processes)
    # No cron, so no sweep: every event reaches a drain through the nudges alone.
    auth = {"Authorization": basic(channel.username, channel.password)}
    for case in CASES:
        assert request(base, "POST", "/webhooks/acme", case.body, auth)[0] == 200
    assert wait_until(lambda: count(database_url, "event_queue") == 0, timeout=30)
    assert count(database_url, "event_results") == len(CASES)
    rejected = view(database_url, "raw_event_log", "state = 'rejected'")
    assert len(rejected) == sum(case.state == "rejected" for case in CASES)
    assert len(view(database_url, "messages_inbound")) == sum(len(c.messages) for c in CASES)


def test_no_event_waits_for_the_sweep_whatever_its_timing(
    start_gunicorn,
    app_env: dict[str, str],
    worker_env: dict[str, str],
    channel,
    database_url: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """Deliveries spaced so that some land while a drain is ending and some inside the
    nudge gate's window after it: without cron's sweep, each is still drained."""
    from tests.integration.helpers import basic
    from tests.integration.test_gunicorn import request

    base = start_gunicorn(app_env)
    start_worker(worker_env, processes)
    auth = {"Authorization": basic(channel.username, channel.password)}
    body = b'{"statuses":[{"id":"wamid.%d","status":"sent","timestamp":"1750000000"}]}'
    sent = 0
    # Each round: one delivery wakes a drain, and a second lands `gap` later, while the
    # nudge gate the first one took is still held (the drain itself may be done by then).
    for gap in (0.0, 0.05, 0.15, 0.3, 0.45):
        time.sleep(0.6)  # the previous round's gate has ended
        for pause in (0.0, gap):
            time.sleep(pause)
            assert request(base, "POST", "/webhooks/acme", body % sent, auth)[0] == 200
            sent += 1
        assert wait_until(lambda: count(database_url, "event_queue") == 0, timeout=15), gap
    assert count(database_url, "event_results") == sent


def test_a_worker_drains_with_the_multiprocess_metrics_folder_the_deploy_files_set(
    db: Database,
    database_url: str,
    redis_url: str,
    queue_name: str,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    from processors.local.embedded import free_port

    # Dockerfile, k8s ConfigMap and systemd env file set it for every process;
    # only the receiver's gunicorn creates the folder.
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "WABAHOOK_QUEUE": queue_name,
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "created-by-gunicorn-only")}  # fmt: skip
    store(db, workload(20))
    assert jobs.enqueue(Settings.from_env(env))
    worker = start_worker(env, processes, "--burst", "--metrics-port", str(free_port()))
    assert worker.wait(timeout=120) == 0
    assert count(database_url, "event_results") == 20
    assert queue_health(db)["queued"] == 0


def test_a_worker_stops_at_once_after_its_pubsub_reply_was_read(
    redis_url: str, queue_name: str
) -> None:
    """The listening thread has read the unsubscribe reply and waits out RQ's 60 s poll."""
    from processors.safe_jobs import GuardedWorker

    worker = GuardedWorker([queue_name], connection=redis.Redis.from_url(redis_url))
    worker.subscribe()
    thread = worker.pubsub_thread
    assert thread is not None
    assert wait_until(lambda: worker.pubsub.subscribed, timeout=5)
    worker.pubsub.unsubscribe()  # the reply reaches the thread, which then waits to resubscribe
    assert wait_until(lambda: not worker.pubsub.subscribed, timeout=5)
    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopping.start()
    stopping.join(timeout=20)  # a hang lasts the 60 s poll; a stop takes at most RQ's 1 s
    assert not stopping.is_alive(), "the worker's stop waited for RQ's pubsub poll"


def test_cron_stops_when_told_to_as_redis_goes_away(
    database_url: str, queue_name: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    """As with `up` killed outright: Valkey and cron are told to stop at once. RQ's
    scheduler then fails to record its end in Redis; that failure must not restart it."""
    folder = reachable_folder("wabahook-test-valkey-")
    valkey = EmbeddedValkey(folder / "valkey")
    try:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": valkey.start(),
               "WABAHOOK_QUEUE": queue_name}  # fmt: skip
        cron = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "cron", "--quiet"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        processes.append(cron)
        connection = redis.Redis.from_url(env["REDIS_URL"])
        assert wait_until(lambda: bool(connection.keys("*cron*")), timeout=30)  # it runs
        connection.close()
        valkey.stop()
        cron.send_signal(signal.SIGTERM)
        _, said = cron.communicate(timeout=15)  # its pipe closed too
        assert cron.returncode == 0
        assert b"Traceback" not in said
    finally:
        valkey.stop()
        shutil.rmtree(folder, ignore_errors=True)
