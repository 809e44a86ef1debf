"""Replay and rebuild: recover after a fix, rebuild without downtime, never double."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import CliRunner, Result

from processors.cli import main
from processors.pipeline import rebuild as rebuild_module
from processors.pipeline.drain import drain
from processors.pipeline.parse import Rejected
from processors.pipeline.parse import parse as real_parse
from receiver.config import Secret
from receiver.db import Database
from tests.corpus import CASES
from tests.integration.processing_helpers import (
    clear_projections,
    requeue,
    snapshot,
    status_body,
    store,
    view,
)


@pytest.fixture
def cli(
    database_url: str, redis_url: str, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("WABAHOOK_QUEUE", queue_name)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_replay_after_a_parser_fix_turns_rejected_events_into_projections(
    cli: Callable[..., Result], db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy(body: bytes, received_at):  # type: ignore[no-untyped-def]
        if b"wamid.T1" in body:
            raise Rejected("unknown shape (a parser bug)")
        return real_parse(body, received_at)

    monkeypatch.setattr("processors.pipeline.drain.parse", buggy)
    store(db, [case.body for case in CASES[:3]])
    drain(db)
    assert [
        r["raw_event_id"] for r in view(database_url, "raw_event_log", "state = 'rejected'")
    ] == [1]
    assert view(database_url, "messages_inbound", "message_id = 'wamid.T1'") == []

    monkeypatch.setattr("processors.pipeline.drain.parse", real_parse)  # the fix is deployed
    dry = json.loads(cli("replay", "--state", "rejected", "--dry-run", "--json").stdout)
    assert dry == {
        "events": 1,
        "by_channel_and_state": [{"channel": "acme", "state": "rejected", "events": 1}],
    }
    result = cli("replay", "--state", "rejected", "--wait")
    assert result.exit_code == 0, result.output
    assert "1 event(s) queued again" in result.stdout
    assert "done: 1 processed, 0 failed" in result.stdout
    assert view(database_url, "raw_event_log", "state = 'rejected'") == []
    assert len(view(database_url, "messages_inbound", "message_id = 'wamid.T1'")) == 1


def test_replay_failed_events_after_the_cause_is_fixed(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned'; END $$;"
            "CREATE TRIGGER test_poison BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " WHEN (NEW.message_id = 'p') EXECUTE FUNCTION wabahook.test_poison()"
        )
    store(db, [status_body("p", "sent", 1750000000), status_body("ok", "sent", 1750000000)])
    assert drain(db).failed == 1
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER test_poison ON wabahook.status_event")
    result = json.loads(cli("replay", "--failed", "--wait", "--json").stdout)
    assert (result["queued"], result["waiting"], result["failed"]) == (1, 0, 0)
    assert {r["message_id"] for r in view(database_url, "status_events")} == {"p", "ok"}


def insert_at(database_url: str, body: bytes, when: datetime, channel: str = "acme") -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wabahook.raw_events (channel, received_at, body, body_sha256, request_id)"
            " VALUES (%s, %s, %s, sha256(%s), 't')",
            [channel, when, body, body],
        )


def test_replay_selects_a_time_window_channel_and_ids(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    for hour in range(6):
        insert_at(
            database_url,
            status_body(f"w{hour}", "sent", 1750000000 + hour),
            day + timedelta(hours=hour),
        )
    insert_at(
        database_url,
        status_body("other", "sent", 1750000000),
        day + timedelta(hours=2),
        channel="beta",
    )
    window = ["--since", "2026-11-02T01:00:00", "--until", "2026-11-02T04:00"]
    dry = json.loads(cli("replay", *window, "--dry-run", "--json").stdout)
    assert dry["events"] == 4
    dry = json.loads(cli("replay", *window, "--channel", "acme", "--dry-run", "--json").stdout)
    assert dry["events"] == 3
    queued = json.loads(cli("replay", *window, "--channel", "acme", "--json").stdout)
    assert queued["queued"] == 3
    drain(db)
    assert sorted(r["message_id"] for r in view(database_url, "status_events")) == [
        "w1",
        "w2",
        "w3",
    ]
    assert json.loads(cli("replay", "--ids", "1,5-6", "--json").stdout)["queued"] == 3
    drain(db)
    assert len(view(database_url, "status_events")) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "neither an ISO 8601 time nor an age"),
        (["--ids", "5-x"], "not an id or a range"),
        (["--since", "1h", "--until", "2h"], "--since must be before --until"),
        (["--state", "lost"], "'lost' is not one of"),
        ([], "say which events: --channel, --since, --until, --ids, --state (or --failed),"),
        (["--all", "--channel", "acme"], "--all selects every stored event"),
    ],
)
def test_replay_refuses_bad_filters(
    cli: Callable[..., Result], args: list[str], message: str
) -> None:
    result = cli("replay", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_every_stored_event_is_replayed_only_when_asked_outright(
    cli: Callable[..., Result], db: Database
) -> None:
    store(db, [case.body for case in CASES[:3]])
    refused = cli("replay", "--dry-run")
    assert refused.exit_code == 2
    assert "or --all for every stored event" in refused.stderr
    assert json.loads(cli("replay", "--all", "--dry-run", "--json").stdout)["events"] == 3
    forward = cli("forward", "--to", "http://127.0.0.1:9/")
    assert forward.exit_code == 2
    assert "or --all for every stored event" in forward.stderr


def test_replaying_everything_changes_nothing(db: Database, database_url: str) -> None:
    ids = store(db, [case.body for case in CASES])
    drain(db)
    before = snapshot(database_url)
    requeue(db, ids)
    requeue(db, ids)
    drain(db, batch_size=7)
    assert snapshot(database_url) == before


@pytest.mark.parametrize("processes", ["1", "2"])  # 2: lanes in processes of their own
def test_rebuild_yields_identical_tables(
    cli: Callable[..., Result], db: Database, database_url: str, processes: str
) -> None:
    store(db, [case.body for case in CASES])
    drain(db)
    before = snapshot(database_url)
    dry = json.loads(cli("rebuild", "--dry-run", "--json").stdout)
    assert dry["events"] == len(CASES)
    result = json.loads(
        cli("rebuild", "--json", "--batch-size", "10", "--processes", processes).stdout
    )
    assert result["events"] == len(CASES)
    assert result["rejected"] == sum(case.state == "rejected" for case in CASES)
    assert snapshot(database_url) == before
    with psycopg.connect(database_url) as conn:  # the views read the new tables
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wabahook%' ORDER BY 1"
        ).fetchall()
    assert schemas == [("wabahook",)]
    assert len(view(database_url, "messages_inbound")) == len(before["inbound_message"])


def fail_in_rebuild(monkeypatch: pytest.MonkeyPatch, database_url: str, plpgsql: str) -> None:
    """Run `plpgsql` before each row of wamid.T1 the next rebuild projects aside."""
    prepare = rebuild_module._prepare

    def prepare_with_a_fault(db: Database) -> None:
        prepare(db)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("CREATE SEQUENCE public.wabahook_test_tries")
            conn.execute(
                "CREATE FUNCTION public.wabahook_test_fault() RETURNS trigger LANGUAGE plpgsql"
                f" AS $$ BEGIN {plpgsql} END $$"
            )
            conn.execute(
                "CREATE TRIGGER fault BEFORE INSERT ON wabahook_rebuild.inbound_message"
                " FOR EACH ROW WHEN (NEW.message_id = 'wamid.T1')"
                " EXECUTE FUNCTION public.wabahook_test_fault()"
            )

    monkeypatch.setattr(rebuild_module, "_prepare", prepare_with_a_fault)


def test_a_rebuild_window_whose_event_fails_once_is_projected_again(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lanes can meet on the same rows (a deadlock, a lock timeout): a rebuild never
    queues a failed event again, so its window is rolled back and tried anew."""
    store(db, [case.body for case in CASES])
    drain(db)
    before = snapshot(database_url)
    # A sequence is not rolled back: the first projection of wamid.T1 fails, only.
    fail_in_rebuild(
        monkeypatch, database_url,
        "IF nextval('public.wabahook_test_tries') = 1 THEN"
        " RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END IF; RETURN NEW;",
    )  # fmt: skip
    stats = rebuild_module.rebuild(db, batch_size=4)
    assert stats.totals.failed == 0
    assert snapshot(database_url) == before  # wamid.T1 included


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_rebuild_with_an_event_that_keeps_failing_swaps_nothing_in(
    cli: Callable[..., Result],
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    processes: str,
) -> None:
    """A failed event is never queued again by a rebuild: swapping its window in would
    make its facts vanish. The rebuild stops instead, and the live tables stay."""
    store(db, [case.body for case in CASES])
    drain(db)
    before = snapshot(database_url)
    fail_in_rebuild(monkeypatch, database_url, "RAISE EXCEPTION 'always refused';")
    result = cli("rebuild", "--batch-size", "4", "--processes", processes)
    assert result.exit_code == 1
    assert "rebuild stopped, the live tables unchanged: 1 event failed" in result.output
    assert "always refused" in result.output
    assert snapshot(database_url) == before  # wamid.T1 included
    with psycopg.connect(database_url) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wabahook%' ORDER BY 1"
        ).fetchall()
    assert schemas == [("wabahook",)]  # nothing left aside


def test_an_event_committed_after_its_window_was_read_is_rebuilt_too(
    db: Database, database_url: str
) -> None:
    """Ids are given at insert, not at commit: an event below the rebuild's newest id
    can commit after its window was read, and a drain can project it into the old
    tables before the swap. The new tables must have it as well."""
    store(db, [case.body for case in CASES])
    drain(db)
    late = psycopg.connect(database_url)  # its event stays uncommitted for now
    try:
        body = status_body("wamid.LATE", "delivered", 1750000000)
        (late_id,) = late.execute(
            "SELECT wabahook.store_event('acme', %s, sha256(%s), NULL, '{}', NULL, 'late')",
            [body, body],
        ).fetchone()  # type: ignore[misc]
        (newer,) = store(db, [status_body("wamid.NEWER", "sent", 1750000001)])
        assert late_id < newer  # so the rebuild's bound covers the late event's id
        drain(db)
        committed: list[int] = []

        def commit_and_drain(stats: rebuild_module.RebuildStats) -> None:
            if not committed:  # after the only window, read before the commit
                late.commit()
                committed.append(drain(db).processed)  # into the old tables

        stats = rebuild_module.rebuild(db, batch_size=1000, on_progress=commit_and_drain, lanes=1)
    finally:
        late.close()
    assert committed == [1]
    assert stats.caught_up == 1
    rebuilt = snapshot(database_url)
    assert late_id in {row[0] for row in rebuilt["event_results"]}
    assert any("wamid.LATE" in str(row) for row in rebuilt["status_event"])
    clear_projections(database_url)  # the same events projected from scratch
    with psycopg.connect(database_url) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM wabahook.raw_events").fetchall()]
    requeue(db, ids)
    drain(db)
    assert snapshot(database_url) == rebuilt


@pytest.mark.slow  # intake and workers in threads through a rebuild
def test_rebuild_while_intake_and_workers_run_loses_and_doubles_nothing(
    db: Database, database_url: str
) -> None:
    store(db, [case.body for case in CASES])
    drain(db)
    counts_before = len(view(database_url, "messages_inbound"))
    seen_during: list[int] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def intake_and_worker() -> None:
        own = Database(Secret(database_url), application_name="wabahook-test-intake", timeout=60)
        try:
            i = 0
            while not stop.is_set() or i < 200:
                store(own, [status_body(f"live{i}", "sent", 1750000000 + i)])
                i += 1
                if i % 10 == 0:
                    drain(own)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    def watch(stats: rebuild_module.RebuildStats) -> None:
        seen_during.append(len(view(database_url, "messages_inbound")))

    thread = threading.Thread(target=intake_and_worker)
    thread.start()
    try:
        stats = rebuild_module.rebuild(db, batch_size=8, on_progress=watch)
    finally:
        stop.set()
        thread.join(timeout=120)
    assert errors == []
    assert seen_during  # analysts were reading while it ran...
    assert min(seen_during) >= counts_before  # ...and never saw empty or partial tables
    drain(db)
    after = snapshot(database_url)
    live = {row[1] for row in after["status_event"] if str(row[1]).startswith("live")}
    assert len(live) >= 200
    assert stats.totals.events >= len(CASES)
    # The same events projected from scratch give the very same tables.
    clear_projections(database_url)
    with psycopg.connect(database_url) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM wabahook.raw_events").fetchall()]
    requeue(db, ids)
    drain(db)
    assert snapshot(database_url) == after


def test_the_swap_waits_for_a_drain_under_way_and_drains_wait_for_the_swap(
    db: Database, database_url: str
) -> None:
    # A drain holds the swap gate from its first statement to its commit; the swap takes
    # the gate before any table, so the two never wait on each other's table locks
    # (a drain that writes tables in another order than the swap locks them).
    from receiver.queries import query

    store(db, [case.body for case in CASES[:20]])
    drain(db)
    before = snapshot(database_url)
    with psycopg.connect(database_url) as drain_under_way:
        drain_under_way.execute(query("swap_gate"))
        done = threading.Event()
        rebuilding = threading.Thread(
            target=lambda: (rebuild_module.rebuild(db, lanes=1), done.set()), daemon=True
        )
        rebuilding.start()
        assert not done.wait(3)  # the swap waits for the drain
    rebuilding.join(60)  # the drain committed: the swap goes on
    assert done.is_set()
    assert snapshot(database_url) == before
