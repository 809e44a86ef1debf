"""`wabahook retention`: whole months go, projections and dedup keys stay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from processors import channels
from processors.cli import main
from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.conftest import ROOT
from tests.integration.helpers import basic
from tests.integration.processing_helpers import status_body, store, view


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def old_event(url: str, body: bytes, when: datetime) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "WITH stored AS (INSERT INTO wabahook.raw_events"
            " (channel, received_at, body, body_sha256, request_id)"
            " VALUES ('acme', %s, %s, sha256(%s), 'r') RETURNING id, received_at, channel)"
            " INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
            " SELECT id, received_at, channel FROM stored",
            [when, body, body],
        )


def partitions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'wabahook.raw_events'::regclass ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def test_retention_drops_old_months_and_keeps_what_must_outlive_them(
    cli: Callable[..., Result], db: Database, database_url: str
) -> None:
    january = status_body("old1", "sent", 1767225600)
    old_event(database_url, january, datetime(2026, 1, 15, tzinfo=UTC))
    old_event(
        database_url, status_body("old2", "read", 1769904000), datetime(2026, 2, 3, tzinfo=UTC)
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT wabahook.create_raw_event_partition('2026-01-01')"
        ).fetchone() == (True,)
        conn.execute("SELECT wabahook.create_raw_event_partition('2026-02-01')")
    assert {"raw_events_2026_01", "raw_events_2026_02"} <= set(partitions(database_url))

    refused = cli("retention", "--older-than", "150d")
    assert refused.exit_code == 1
    assert "still hold events a drain or the relay has yet to read" in refused.stderr
    drain(db)
    store(db, [status_body("new", "sent", 1790000000)])  # this month: stays
    drain(db)

    plan = json.loads(cli("retention", "--older-than", "150d", "--dry-run", "--json").stdout)
    assert [(m["partition"], m["events"]) for m in plan["months"]] == [
        ("raw_events_2026_01", 1),
        ("raw_events_2026_02", 1),
    ]
    assert "raw_events_2026_01" in partitions(database_url)  # a dry run drops nothing
    result = cli("retention", "--older-than", "150d")
    assert result.exit_code == 0
    assert "dropped raw_events_2026_01: 1 events" in result.stdout
    remaining = partitions(database_url)
    assert "raw_events_2026_01" not in remaining
    assert "raw_events_2026_02" not in remaining
    assert "raw_events_default" in remaining
    assert len(view(database_url, "raw_event_log")) == 1
    # The facts stay, and a late sender retry of the dropped body adds nothing.
    assert {r["message_id"] for r in view(database_url, "delivery_status")} == {
        "old1",
        "old2",
        "new",
    }
    store(db, [january])
    drain(db)
    assert len(view(database_url, "status_events", "message_id = 'old1'")) == 1
    # A rebuild keeps what the dropped months gave (the retry re-derives old1 anyway).
    before = view(database_url, "delivery_status", "true ORDER BY message_id")
    assert cli("rebuild").exit_code == 0
    assert view(database_url, "delivery_status", "true ORDER BY message_id") == before


def test_retention_arguments(cli: Callable[..., Result]) -> None:
    alone = cli("retention")  # no channel has a retention of its own, and no --older-than
    assert alone.exit_code == 0
    assert "no channel has stored bodies past its retention" in alone.stdout
    bad = cli("retention", "--older-than", "soon")
    assert bad.exit_code == 2
    assert "not an age like 90d" in bad.stderr
    assert "no month is entirely older than" in cli("retention", "--older-than", "3650d").stdout


BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def processed_month(url: str, month: str) -> str:
    """A monthly partition holding one event already processed (no queue row); its name."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT wabahook.create_raw_event_partition(%s)", [month])
        conn.execute(
            "INSERT INTO wabahook.raw_events (channel, received_at, body, body_sha256, request_id)"
            " VALUES ('acme', %s::date + interval '3 days', '{}', sha256('{}'), 'r')",
            [month],
        )
    return "raw_events_" + month[:7].replace("-", "_")


def open_reader(url: str, table: str) -> psycopg.Connection[tuple[object, ...]]:
    """A session whose open transaction has read `table`: it holds its locks until it ends."""
    reader = psycopg.connect(url)
    reader.execute(f"SELECT count(*) FROM wabahook.{table}").fetchone()
    return reader


@pytest.mark.slow  # waits out a lock timeout
def test_a_long_reader_makes_retention_give_up_without_holding_up_intake(
    client: FlaskClient, channel: channels.IssuedCredential, app_env: dict[str, str]
) -> None:
    url = app_env["DATABASE_URL"]
    old = processed_month(url, "2025-01-01")
    auth = basic(channel.username, channel.password)
    with open_reader(url, "raw_events") as reader:
        retention = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "retention", "--older-than", "150d"],
            env={**os.environ, **app_env},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        answers = []
        try:
            while retention.poll() is None:
                answer = client.post("/webhooks/acme", data=BODY, headers={"Authorization": auth})
                answers.append(answer.status_code)
                time.sleep(0.02)
            _, stderr = retention.communicate(timeout=60)
        finally:
            retention.kill()
            retention.wait()
        assert len(answers) >= 3  # intake was busy the whole time retention tried
        assert set(answers) == {200}
        assert retention.returncode == 1
        pid = reader.info.backend_pid
        assert stderr.decode().splitlines() == [f"Error: partition {old} busy (held by pid {pid})"]
        assert old in partitions(url)
    rerun = subprocess.run(
        [sys.executable, "-m", "processors.cli", "retention", "--older-than", "150d"],
        env={**os.environ, **app_env},
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert old not in partitions(url)


@pytest.mark.slow  # a busy month of rows
def test_months_dropped_before_a_busy_one_stay_dropped_and_a_rerun_goes_on(
    cli: Callable[..., Result], database_url: str
) -> None:
    january = processed_month(database_url, "2025-01-01")
    february = processed_month(database_url, "2025-02-01")
    with open_reader(database_url, february) as reader:
        busy = cli("retention", "--older-than", "150d")
        assert busy.exit_code == 1
        pid = reader.info.backend_pid
        assert busy.stderr.splitlines() == [f"Error: partition {february} busy (held by pid {pid})"]
        assert january not in partitions(database_url)
        assert february in partitions(database_url)
    rerun = cli("retention", "--older-than", "150d")
    assert rerun.exit_code == 0
    assert f"dropped {february}: 1 events" in rerun.stdout
    assert february not in partitions(database_url)


def test_a_reader_that_finishes_soon_only_delays_retention(
    cli: Callable[..., Result], database_url: str
) -> None:
    old = processed_month(database_url, "2025-01-01")
    reader = open_reader(database_url, "raw_events")
    # It lets go while retention is still trying: the lock is taken then.
    finish = threading.Timer(0.5, reader.close)
    finish.start()
    try:
        result = cli("retention", "--older-than", "150d")
    finally:
        finish.join()
    assert result.exit_code == 0, result.stderr
    assert f"dropped {old}: 1 events" in result.stdout
    assert old not in partitions(database_url)


def test_a_month_with_deliveries_still_to_make_waits_unless_forced(
    cli: Callable[..., Result], database_url: str
) -> None:
    old = processed_month(database_url, "2025-01-01")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wabahook.destinations (name, url, format, max_age)"
            " VALUES ('crm', 'http://127.0.0.1:9/', 'raw', '1000 days')"
        )
        conn.execute(
            "INSERT INTO wabahook.relay_deliveries (destination_id, raw_event_id, channel,"
            " stored_at, age_from) SELECT d.id, e.id, e.channel, e.received_at, now()"
            " FROM wabahook.destinations d, wabahook.raw_events e"
        )
    planned = json.loads(cli("retention", "--older-than", "150d", "--dry-run", "--json").stdout)
    assert [(m["partition"], m["events"], m["held"]) for m in planned["months"]] == [(old, 1, 1)]
    refused = cli("retention", "--older-than", "150d")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: {old} still hold events a drain or the relay has yet to read; drain them"
        " first and let the relay catch up, or use --force\n"
    )
    assert old in partitions(database_url)
    forced = cli("retention", "--older-than", "150d", "--force")
    assert forced.exit_code == 0
    assert f"dropped {old}: 1 events (1 held)" in forced.stdout
    assert old not in partitions(database_url)


def test_a_month_is_held_by_a_destination_behind_it_not_by_deliveries_of_events_gone(
    cli: Callable[..., Result], database_url: str
) -> None:
    old = processed_month(database_url, "2025-01-01")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO wabahook.destinations (name, url, format, max_age, horizon)"
            " VALUES ('crm', 'http://127.0.0.1:9/', 'raw', '1000 days', 0)"  # far behind
        )
        # A delivery revived for an event another retention already deleted: no hold.
        conn.execute(
            "INSERT INTO wabahook.relay_deliveries (destination_id, raw_event_id, channel,"
            " stored_at, age_from) SELECT id, 999999, 'acme', '2025-01-05', now()"
            " FROM wabahook.destinations"
        )
    planned = json.loads(cli("retention", "--older-than", "150d", "--dry-run", "--json").stdout)
    assert [(m["partition"], m["events"], m["held"]) for m in planned["months"]] == [(old, 1, 1)]
    with psycopg.connect(database_url, autocommit=True) as conn:  # the relay caught up
        conn.execute("UPDATE wabahook.destinations SET horizon = 9223372036854775807")
    planned = json.loads(cli("retention", "--older-than", "150d", "--dry-run", "--json").stdout)
    assert [(m["partition"], m["events"], m["held"]) for m in planned["months"]] == [(old, 1, 0)]
    assert cli("retention", "--older-than", "150d").exit_code == 0
    assert old not in partitions(database_url)
