"""Retention per channel: old bodies go, what was projected from them stays, rebuilt too."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import Result

from processors.pipeline.drain import drain
from processors.stored import channel_retention
from receiver.db import Database
from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_NEW
from tests.corpus import CASES
from tests.integration.processing_helpers import snapshot, status_body, store, view
from tests.integration.test_people_erase import leftovers
from tests.integration.test_people_export import OTHER, shared_statuses

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


def raw_ids(url: str) -> set[int]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM wabahook.raw_events")}


def delete_all_before(db: Database, channel: str, cutoff: datetime) -> int:
    """What retention does to `channel` when its cutoff is `cutoff`."""
    (due,) = channel_retention.status(db, channel)
    return channel_retention.apply(db, replace(due, cutoff=cutoff))


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
    assert "deleted once older than 30 days" in result.stdout
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


def test_retention_waits_for_a_rebuild_under_way(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    stored_at(database_url, "acme", status_body("wamid.OLD", "sent", 1750000000), 40 * DAY)
    drain(db)
    assert cli("channels", "set", "acme", "--retention", "30d").exit_code == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA wabahook_rebuild")  # what a rebuild makes first
    waiting = cli("retention")
    assert waiting.exit_code == 1
    assert "a rebuild is under way" in waiting.stderr
    assert len(raw_ids(database_url)) == 1
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA wabahook_rebuild")
    assert cli("retention").exit_code == 0
    assert raw_ids(database_url) == set()


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
