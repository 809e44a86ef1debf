"""Retention per channel: old bodies go, what was projected from them stays, rebuilt too."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import Result
from psycopg.rows import dict_row

from processors import jobs
from processors.pipeline import rebuild as rebuild_module
from processors.pipeline.drain import drain
from processors.stored import channel_retention
from processors.stored import retention as months
from receiver.db import Database
from receiver.queries import query
from tests.corpora.ads import automatic_events, conversion
from tests.corpora.history import MEDIA, THREAD, chunk
from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_NEW, message, messages
from tests.corpus import CASES
from tests.integration.conftest import wait_until
from tests.integration.processing_helpers import snapshot, status_body, store, view
from tests.integration.test_meta_channels import database_dump
from tests.integration.test_people_erase import leftovers
from tests.integration.test_people_export import OTHER, shared_statuses
from tests.support.bodies import T0, cloud, meta

DAY = timedelta(days=1)


def stored_at(url: str, channel: str, body: bytes, age: timedelta, queued: bool = False) -> int:
    """A body of `channel` received `age` ago (processed later by a drain if `queued`)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wabahook.channels (name) VALUES (%s) ON CONFLICT DO NOTHING", [channel]
        )
        row = conn.execute(
            "INSERT INTO wabahook.raw_events (channel, received_at, body, body_sha256,"
            " request_id) VALUES (%s, now() - %s, %s, sha256(%s), 'r') RETURNING id, received_at",
            [channel, age, body, body],
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
            " VALUES (%s, %s, %s)",
            [row[0], row[1], channel],
        )
    return int(row[0])


def advisory_locks(url: str) -> int:
    """Advisory locks held in this test's database."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def raw_ids(url: str) -> set[int]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM wabahook.raw_events")}


def delete_all_before(db: Database, channel: str, cutoff: datetime) -> int:
    """What retention does to `channel` when its cutoff is `cutoff`."""
    return channel_retention.apply(db, channel, cutoff)


def test_a_channels_old_bodies_go_and_the_rest_stays(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    old = stored_at(database_url, "acme", status_body("wamid.OLD", "sent", 1750000000), 40 * DAY)
    held = stored_at(database_url, "acme", status_body("wamid.HELD", "sent", 1750000001), 41 * DAY)
    recent = stored_at(database_url, "acme", status_body("wamid.OLD", "read", 1750000100), 5 * DAY)
    other = stored_at(database_url, "other", status_body("wamid.X", "sent", 1750000002), 400 * DAY)
    drain(db)
    stored_at(database_url, "acme", b"{}", 40 * DAY)  # a body that waits in the queue
    assert "no channel has stored bodies" in cli("retention").stdout

    result = cli("channels", "set", "acme", "--retention", "30d")
    assert result.exit_code == 0, result.output
    assert "deleted once older than 30d" in result.stdout
    listed = {row["name"]: row for row in json.loads(cli("channels", "list", "--json").stdout)}
    assert listed["acme"]["retention_seconds"] == 30 * 86_400
    assert listed["other"]["retention_seconds"] is None
    table = cli("channels", "list").stdout.splitlines()
    assert table[0].split()[4] == "KEEPS"
    assert [line.split()[4] for line in table[1:]] == ["30d", "all"]
    planned = json.loads(cli("retention", "--dry-run", "--json").stdout)
    assert [(c["channel"], c["due"], c["held"]) for c in planned["channels"]] == [("acme", 3, 1)]
    assert len(raw_ids(database_url)) == 5  # a dry run deletes nothing
    before = view(database_url, "delivery_status", "true ORDER BY message_id")

    done = cli("retention", "--quiet")
    assert done.exit_code == 0, done.output
    assert "deleted 2 events of acme" in done.stdout
    left = raw_ids(database_url)
    assert old not in left
    assert held not in left
    assert {recent, other} <= left
    assert len(left) == 3  # the queued one waits
    assert view(database_url, "delivery_status", "true ORDER BY message_id") == before
    assert {row["status"] for row in view(database_url, "delivery_status")} == {"read", "sent"}
    # Once drained, the held body goes at the next run; the other channel keeps its own.
    drain(db)
    assert "deleted 1 events of acme" in cli("retention").stdout
    assert raw_ids(database_url) == {recent, other}

    assert cli("channels", "set", "acme", "--retention", "off").exit_code == 0
    assert channel_retention.status(db) == []


def test_a_rebuild_keeps_the_rows_of_bodies_retention_deleted(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    half = len(CASES) // 2
    store(db, [case.body for case in CASES[:half]])
    drain(db)
    with psycopg.connect(database_url) as conn:
        cutoff = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    later = store(db, [case.body for case in CASES[half:]])
    drain(db)
    before = snapshot(database_url)
    assert cli("channels", "set", "acme", "--retention", "1d").exit_code == 0
    assert delete_all_before(db, "acme", cutoff) == half
    assert raw_ids(database_url) == set(later)
    assert snapshot(database_url) == before  # deleting bodies keeps what they gave

    rebuilt = cli("rebuild", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    result = json.loads(rebuilt.stdout)
    assert result["events"] == len(CASES) - half
    assert result["kept"] > 0
    assert snapshot(database_url) == before
    # A second rebuild starts from the first one's rows: nothing drifts.
    assert cli("rebuild").exit_code == 0
    assert snapshot(database_url) == before


@pytest.fixture
def worker_jobs(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """processors.jobs as a worker runs them, on this test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    jobs.context.cache_clear()
    try:
        yield
    finally:
        jobs.context()[1].close()
        jobs.context.cache_clear()


def test_retention_waits_for_a_rebuild_under_way(
    cli: Callable[..., Result], db: Database, database_url: str, worker_jobs: None
) -> None:
    stored_at(database_url, "acme", status_body("wamid.OLD", "sent", 1750000000), 40 * DAY)
    drain(db)
    assert cli("channels", "set", "acme", "--retention", "30d").exit_code == 0
    with psycopg.connect(database_url, autocommit=True) as rebuilding:
        rebuilding.execute("SELECT pg_advisory_lock(hashtext('wabahook.rebuild'))")  # as one does
        waiting = cli("retention")
        assert waiting.exit_code == 1
        assert waiting.stderr == (
            "Error: a rebuild is under way: run retention again once it has ended\n"
        )
        assert jobs.apply_retention() == {}  # the cron's job tries again the next hour
        assert len(raw_ids(database_url)) == 1
    # The rebuild's session ended (a crash would end it too): the gate opens once its
    # server process has gone.
    assert wait_until(lambda: not advisory_locks(database_url), timeout=30)
    assert jobs.apply_retention() == {"acme": 1}
    assert raw_ids(database_url) == set()


def test_a_delete_under_way_is_seen_by_the_rebuild_that_waits_for_it(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    """A retention batch that began before the rebuild: the rebuild waits for it to commit,
    then keeps what that batch deleted."""
    stored_at(database_url, "acme", status_body("wamid.OLD", "sent", 1750000000), 40 * DAY)
    drain(db)
    before = view(database_url, "delivery_status")
    deleting = psycopg.connect(database_url)
    try:
        assert deleting.execute(query("retention_gate")).fetchone() == (True,)
        deleting.execute("DELETE FROM wabahook.raw_events")
        rebuilt: list[Result] = []
        thread = threading.Thread(target=lambda: rebuilt.append(cli("rebuild")))
        thread.start()
        time.sleep(1)  # the rebuild waits for the gate
        assert thread.is_alive()
        deleting.commit()
        thread.join(timeout=60)
    finally:
        deleting.close()
    assert rebuilt[0].exit_code == 0, rebuilt[0].output
    assert "rows of raw events retention deleted" in rebuilt[0].stdout
    assert view(database_url, "delivery_status") == before


def test_an_event_queued_while_its_batch_is_locked_stays(db: Database, database_url: str) -> None:
    """A replay that queues an event after retention's batch was chosen, before it is
    deleted: the delete looks again, in a statement of its own, and leaves it."""
    event = stored_at(database_url, "acme", status_body("wamid.R", "sent", 1750000000), 40 * DAY)
    drain(db)
    held = query("retention_held")
    params = {"channel": "acme", "cutoff": datetime.now(UTC), "limit": 10}
    with psycopg.connect(database_url, row_factory=dict_row) as deleting:
        locked = deleting.execute(
            query("retention_lock_batch").format(held=held), params
        ).fetchall()
        assert [row["id"] for row in locked] == [event]
        with psycopg.connect(database_url, autocommit=True) as replaying:
            replaying.execute(
                "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
                " SELECT id, received_at, channel FROM wabahook.raw_events"
            )
        gone = deleting.execute(
            query("retention_delete_locked").format(held=held),
            {"ids": [event], "times": [locked[0]["received_at"]]},
        ).rowcount
    assert gone == 0
    assert raw_ids(database_url) == {event}


def test_bodies_still_to_relay_wait(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    """A raw destination whose relay is behind, and a delivery that is retrying: both hold
    their bodies; a destination that would give up on them holds nothing."""
    stored_at(database_url, "acme", status_body("wamid.A", "sent", 1750000000), 40 * DAY)
    retrying = stored_at(database_url, "acme", status_body("wamid.B", "sent", 1750000001), 40 * DAY)
    drain(db)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wabahook.destinations (name, url, format, max_age, horizon)"
            " VALUES ('behind', 'http://127.0.0.1:9/', 'raw', '60 days', 0)"
        )
        conn.execute(
            "INSERT INTO wabahook.relay_deliveries (destination_id, raw_event_id, channel,"
            " stored_at, age_from, state) SELECT id, %s, 'acme', now(), now(), 'retrying'"
            " FROM wabahook.destinations",
            [retrying],
        )
    assert cli("channels", "set", "acme", "--retention", "30d").exit_code == 0
    planned = json.loads(cli("retention", "--dry-run", "--json").stdout)
    assert [(c["due"], c["held"]) for c in planned["channels"]] == [(2, 2)]
    assert "0 events of acme" in cli("retention").stdout
    assert len(raw_ids(database_url)) == 2
    with psycopg.connect(database_url, autocommit=True) as conn:  # it would give them up
        conn.execute("UPDATE wabahook.destinations SET max_age = '7 days'")
    result = json.loads(cli("retention", "--json").stdout)
    assert [(c["deleted"], c["held"]) for c in result["channels"]] == [(1, 1)]
    assert raw_ids(database_url) == {retrying}


def test_an_erasure_leaves_out_the_kept_rows_that_name_the_person(
    cli: Callable[..., Result],
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", "A" * 43 + "=")
    store(db, [ANA_FIRST, ANA_CHANGED, shared_statuses()])
    drain(db)
    assert cli("channels", "set", "acme", "--retention", "1d").exit_code == 0
    assert delete_all_before(db, "acme", datetime.now(UTC) + DAY) == 3
    assert leftovers(database_url)  # her rows outlived the bodies
    result = cli("people", "erase", "--wa-id", ANA_NEW, "--yes")
    assert result.exit_code == 0, result.output
    assert leftovers(database_url) == []
    assert [row["recipient_id"] for row in view(database_url, "status_events")] == [OTHER]


def from_someone(sender: str, message_id: str, at: int, username: str = "") -> bytes:
    profile = '{"name":"X"' + (f',"username":"{username}"' if username else "") + "}"
    contacts = '"contacts":[{"profile":' + profile + ',"wa_id":"' + sender + '"}],'
    return messages(message(f'"from":"{sender}"', message_id, at), contacts=contacts)


def test_an_erasure_keeps_everyone_elses_kept_rows_and_finds_hers_by_message_id(
    cli: Callable[..., Result],
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Her username is a word inside JSON keys ("channel"), one of her old messages is
    named only by a conversion, and bodies of both of them are deleted and kept."""
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", "A" * 43 + "=")
    her, him = "15550177001", "15550177002"
    store(db, [
        from_someone(her, "wamid.HER1", T0 + 100, username="anne"),
        automatic_events(conversion("wamid.HER1", "Purchase", T0 + 150)),
        from_someone(him, "wamid.HIM1", T0 + 120),
    ])  # fmt: skip
    drain(db)
    with psycopg.connect(database_url) as conn:
        cutoff = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    store(
        db, [from_someone(her, "wamid.HER2", T0 + 200), from_someone(him, "wamid.HIM2", T0 + 220)]
    )
    drain(db)
    assert cli("channels", "set", "acme", "--retention", "1d").exit_code == 0
    assert delete_all_before(db, "acme", cutoff) == 3
    assert len(view(database_url, "ad_conversions", "message_id = 'wamid.HER1'")) == 1

    result = cli("people", "erase", "--wa-id", her, "--yes")
    assert result.exit_code == 0, result.output
    dump = database_dump(database_url)
    for gone in (her.encode(), b"wamid.HER1", b"wamid.HER2", b'"anne"'):
        assert gone not in dump, gone
    assert view(database_url, "ad_conversions") == []  # named her only by her message's id
    inbound = {row["message_id"] for row in view(database_url, "messages_inbound")}
    assert {"wamid.HIM1", "wamid.HIM2"} <= inbound  # his kept row too, and his stored one
    assert len(inbound) == 3  # and her stored message, under its pseudonym
    assert cli("rebuild").exit_code == 0  # nothing comes back
    assert her.encode() not in database_dump(database_url)
    assert {"wamid.HIM1", "wamid.HIM2"} <= {
        row["message_id"] for row in view(database_url, "messages_inbound")
    }


def test_a_history_message_keeps_what_its_deleted_placeholder_gave(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    """A history message's row names its best version (the media), not its lowest event:
    the placeholder's contributions (its status, its sender's user id) survive its body."""
    store(db, [chunk(1, 55, THREAD)])
    drain(db)
    with psycopg.connect(database_url) as conn:
        cutoff = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    store(db, [cloud(meta(MEDIA), "history")])
    drain(db)
    before = snapshot(database_url)["history_message"]
    assert cli("channels", "set", "acme", "--retention", "1d").exit_code == 0
    assert delete_all_before(db, "acme", cutoff) == 1
    assert cli("rebuild").exit_code == 0
    assert snapshot(database_url)["history_message"] == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12h", "at least 1d"),
        ("soon", "is not an age like 90d"),
        ("99999999999w", "is too long"),
        ("", "is not an age like 90d"),
    ],
)
def test_a_retention_that_is_no_age_is_refused(
    cli: Callable[..., Result], db: Database, value: str, message: str
) -> None:
    store(db, [])  # makes the channel
    result = cli("channels", "set", "acme", "--retention", value)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_channels_set_needs_a_setting_and_a_channel(cli: Callable[..., Result]) -> None:
    nothing = cli("channels", "set", "acme")
    assert nothing.exit_code == 1
    assert "give --max-body SIZE or --retention AGE" in nothing.stderr
    unknown = cli("channels", "set", "nobody", "--retention", "30d")
    assert unknown.exit_code == 1
    assert "no channel named 'nobody'" in unknown.stderr


def test_a_second_rebuild_waits_for_the_first_then_says_so(
    cli: Callable[..., Result], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild_module, "GATE_SECONDS", 1.0)
    with psycopg.connect(database_url, autocommit=True) as first:
        first.execute("SELECT pg_advisory_lock(hashtext('wabahook.rebuild'))")
        second = cli("rebuild")
    assert second.exit_code == 1
    assert second.stderr == "Error: another rebuild is under way; run it again once it has ended\n"
    assert wait_until(lambda: not advisory_locks(database_url), timeout=30)
    assert cli("rebuild").exit_code == 0
    assert advisory_locks(database_url) == 0  # it let go of its gate


def test_a_month_queued_again_after_it_was_counted_is_kept(db: Database, database_url: str) -> None:
    """A replay between the count and the drop: the month is counted again, detached."""
    stored_at(database_url, "acme", b"{}", 400 * DAY)
    drain(db)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT wabahook.ensure_raw_event_partitions()")
        month = conn.execute(
            "SELECT date_trunc('month', min(received_at) AT TIME ZONE 'UTC')::date"
            " FROM wabahook.raw_events"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT wabahook.create_raw_event_partition(%s)", [month])
    (counted,) = months.expired(db, datetime.now(UTC) - 300 * DAY)
    assert counted.held == 0
    with psycopg.connect(database_url, autocommit=True) as conn:  # a replay, meanwhile
        conn.execute(
            "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
            " SELECT id, received_at, channel FROM wabahook.raw_events"
        )
    with pytest.raises(months.RetentionError, match="still hold events a drain or the relay"):
        months.drop(db, [counted])
    assert len(raw_ids(database_url)) == 1
