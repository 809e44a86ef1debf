"""Group commit at intake: many request threads, one writer, one commit per batch."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from processors import channels
from processors.local.embedded import free_port
from processors.local.postgres import EmbeddedPostgres
from processors.migrate import migrate
from receiver.config import Secret
from receiver.db import Database, DatabaseError, DatabaseUnavailable
from receiver.group_commit import GroupWriter
from tests.integration.conftest import wait_until
from tests.integration.helpers import basic, count, stored_events
from tests.support.servers import reachable_folder


def row(channel: str, n: int) -> dict[str, object]:
    body = f'{{"n":{n}}}'.encode()
    return {"channel": channel, "body": body, "body_sha256": bytes(32),
            "content_type": "application/json", "headers": {"x-n": str(n)},
            "client_addr": "127.0.0.1", "request_id": f"r{n}"}  # fmt: skip


@pytest.fixture
def writer(database_url: str) -> GroupWriter:
    db = Database(Secret(database_url), application_name="wabahook-test", timeout=5)
    yield GroupWriter(db)  # type: ignore[misc]
    db.close()


def test_rows_gathered_during_a_commit_go_in_one_batch_each_with_its_own_id(
    writer: GroupWriter, channel: channels.IssuedCredential, database_url: str
) -> None:
    batches: list[int] = []
    real_store = writer._store
    first = threading.Event()

    def slow_first(batch):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        if len(batches) == 1:
            first.set()
            time.sleep(0.3)  # the others arrive meanwhile
        return real_store(batch)

    writer._store = slow_first  # type: ignore[method-assign]
    with ThreadPoolExecutor(max_workers=30) as pool:
        futures = [pool.submit(writer.store, row("acme", 0), 10)]
        assert first.wait(5)
        futures += [pool.submit(writer.store, row("acme", n), 10) for n in range(1, 30)]
        ids = [f.result() for f in futures]
    assert batches[0] == 1
    assert sum(batches) == 30
    assert len(batches) < 30  # rows waited for one commit together
    assert len(set(ids)) == 30
    assert None not in ids
    events = {e["id"]: e for e in stored_events(database_url)}
    for n, event_id in enumerate(ids):  # each request got the id of its own row
        assert events[event_id]["request_id"] == f"r{n}"
        assert bytes(events[event_id]["body"]) == f'{{"n":{n}}}'.encode()


def test_a_disabled_channel_in_a_batch_stores_nothing_for_it_alone(
    writer: GroupWriter, database_url: str
) -> None:
    owner = Database(Secret(database_url), application_name="wabahook-test", timeout=5)
    channels.add_channel(owner, "on")
    channels.add_channel(owner, "off")
    channels.set_enabled(owner, "off", False)
    owner.close()
    results = writer._store([_pending(row("on", 1)), _pending(row("off", 2)),
                             _pending(row("on", 3))])  # fmt: skip
    assert results[1] is None
    assert None not in (results[0], results[2])
    assert count(database_url, "raw_events") == 2


def test_a_failed_commit_fails_every_request_of_its_batch(
    writer: GroupWriter, database_url: str, channel: channels.IssuedCredential
) -> None:
    def broken(batch):  # type: ignore[no-untyped-def]
        raise DatabaseUnavailable("connection lost mid-batch")

    writer._store = broken  # type: ignore[method-assign]
    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(writer.store, row("acme", n), 5) for n in range(10)]
        for future in futures:
            with pytest.raises(DatabaseError, match="mid-batch"):
                future.result()
    assert count(database_url, "raw_events") == 0


def test_a_writer_that_cannot_answer_in_time_is_a_503_never_a_hang(
    writer: GroupWriter, channel: channels.IssuedCredential
) -> None:
    def stuck(batch):  # type: ignore[no-untyped-def]
        time.sleep(2)
        return [None] * len(batch)

    writer._store = stuck  # type: ignore[method-assign]
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="not stored within"):
        writer.store(row("acme", 1), timeout=0.3)
    assert time.monotonic() - started < 1.5


def _pending(values: dict[str, object]):  # type: ignore[no-untyped-def]
    from receiver.group_commit import _Pending

    return _Pending(values)


def test_gthread_receivers_store_concurrent_deliveries_exactly_once(
    start_gunicorn: Callable[..., str],
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    database_url: str,
) -> None:
    from tests.integration.test_gunicorn import request

    base = start_gunicorn({**app_env, "WABAHOOK_THREADS": "8"}, workers=2)
    auth = {"Authorization": basic(channel.username, channel.password)}

    def post(n: int) -> tuple[int, bytes]:
        status, _, answer = request(base, "POST", "/webhooks/acme", f'{{"n":{n}}}'.encode(), auth)
        return status, answer

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(post, range(200)))
    assert [status for status, _ in answers] == [200] * 200
    assert count(database_url, "raw_events") == 200
    bodies = sorted(bytes(e["body"]) for e in stored_events(database_url))
    assert bodies == sorted(f'{{"n":{n}}}'.encode() for n in range(200))
    wrong = request(base, "POST", "/webhooks/acme", b"{}", {"Authorization": basic("acme", "x")})
    assert wrong[0] == 401


def _waiting_on_a_lock(conn: psycopg.Connection[tuple[object, ...]]) -> int | None:
    """The pid of the writer's backend while its statement waits for a lock, else None."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE application_name = 'wabahook-test' AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0]) if row else None  # type: ignore[call-overload]


def test_postgresql_killed_mid_batch_fails_every_request_of_the_batch() -> None:
    """SIGKILL of PostgreSQL while a batch of 20 is in its statement: all 20 are errors
    (503 at intake), none is an id, and nothing of the batch is stored."""
    folder = reachable_folder("wabahook-mid-batch-")
    # A fixed port: the URLs stay valid across the restart after the kill.
    server = EmbeddedPostgres(folder / "data", durable=True, port=free_port())
    try:
        server.start()
        url = server.create_database("mid_batch")
        migrate(url)
        owner = Database(Secret(url), application_name="owner", timeout=5)
        channels.add_channel(owner, "acme")
        owner.close()
        db = Database(Secret(url), application_name="wabahook-test", timeout=10)
        writer = GroupWriter(db)
        sizes: list[int] = []
        real_store = writer._store

        def watched(batch):  # type: ignore[no-untyped-def]
            sizes.append(len(batch))  # only looks: the batch goes to PostgreSQL as always
            return real_store(batch)

        writer._store = watched  # type: ignore[method-assign]
        locker = psycopg.connect(url, autocommit=True)
        observer = psycopg.connect(url, autocommit=True)  # outside any transaction: fresh stats
        try:
            locker.execute("BEGIN")
            # Every statement that queues an event now waits: a batch stays in flight.
            locker.execute("LOCK TABLE wabahook.event_queue IN ACCESS EXCLUSIVE MODE")
            with ThreadPoolExecutor(max_workers=21) as pool:
                first = pool.submit(writer.store, row("acme", 0), 15)
                assert wait_until(lambda: _waiting_on_a_lock(observer) is not None)
                batch = [pool.submit(writer.store, row("acme", n), 15) for n in range(1, 21)]
                assert wait_until(lambda: writer._queue.qsize() == 20)  # gathered behind it
                observer.execute("SELECT pg_cancel_backend(%s)", (_waiting_on_a_lock(observer),))
                with pytest.raises(DatabaseError):
                    first.result(timeout=10)
                assert wait_until(
                    lambda: sizes[-1:] == [20] and _waiting_on_a_lock(observer) is not None
                )
                pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
                outcomes: list[object] = []
                for future in batch:
                    try:
                        outcomes.append(future.result(timeout=15))
                    except DatabaseError as exc:
                        outcomes.append(exc)
        finally:
            locker.close()
            observer.close()
            db.close()
        assert sizes == [1, 20]
        assert all(isinstance(outcome, DatabaseError) for outcome in outcomes), outcomes
        assert wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=30)  # reaped
        server.start()  # crash recovery
        assert count(url, "raw_events") == 0
        assert count(url, "event_queue") == 0
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
