"""Every connection wabahook opens runs in ISO dates, UTC and its own search path.

Whatever the database, the role or the client's environment ask for: libpq sends
PGTZ, PGDATESTYLE and PGOPTIONS at startup, where they override a connection's own
`options`, and psycopg parses timestamps in the ISO DateStyle only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from click.testing import Result
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row

from receiver import db as db_module
from receiver.db import Database
from tests.integration.processing_helpers import status_body, store

# What the test database and, in it only, the test's role ask every session for.
DATABASE_SETTINGS = {"DateStyle": "SQL, DMY", "TimeZone": "Pacific/Chatham"}
ROLE_SETTINGS = {"IntervalStyle": "iso_8601", "search_path": "public"}
# What a client's environment asks for (libpq reads it at every connect).
CLIENT_ENVIRONMENT = {
    "PGTZ": "America/St_Johns",
    "PGDATESTYLE": "SQL, DMY",
    "PGOPTIONS": "-c IntervalStyle=sql_standard -c search_path=public",
}
SCENARIOS = {
    "database and role": (True, {}),
    "client environment": (True, CLIENT_ENVIRONMENT),  # wins over the database's and role's
    # ISO dates but another zone: nothing fails, the times just come back in +05:30.
    "client time zone": (False, {"PGTZ": "Asia/Kolkata"}),
}
PINNED = {
    "DateStyle": "ISO, YMD",
    "TimeZone": "UTC",
    "IntervalStyle": "postgres",
    "search_path": "pg_catalog,pg_temp",
}

NOW = int(time.time()) // 60 * 60
AN_HOUR_AGO = NOW - 3600
PAUSED = (
    '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398",'
    f'"time":{AN_HOUR_AGO},"changes":[{{"field":"message_template_status_update","value":'
    '{"message_template_id":1001,"message_template_name":"spring_sale",'
    '"message_template_language":"en_US","event":"PAUSED","reason":"NONE"}}]}]}'
).encode()


def _alter(conn: psycopg.Connection[Any], target: sql.Composable, settings: dict[str, str]) -> None:
    """ALTER `target` SET each of `settings` (a default for its new sessions)."""
    for name, value in settings.items():
        conn.execute(
            sql.SQL("ALTER {} SET {} = {}").format(target, sql.Identifier(name), sql.Literal(value))
        )


@pytest.fixture(params=list(SCENARIOS), ids=list(SCENARIOS))
def hostile(
    request: pytest.FixtureRequest,
    pg_server: str,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """This test's database, with settings at its own levels and in the client environment."""
    in_database, environment = SCENARIOS[request.param]
    name = sql.Identifier(str(conninfo_to_dict(database_url)["dbname"]))
    role_in_database = sql.SQL("ROLE CURRENT_USER IN DATABASE {}").format(name)
    if in_database:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            _alter(conn, sql.SQL("DATABASE {}").format(name), DATABASE_SETTINGS)
            _alter(conn, role_in_database, ROLE_SETTINGS)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    yield database_url
    if in_database:
        # Dropping the database removes these as well; reset anyway, so nothing outlives the test.
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER {} RESET ALL").format(role_in_database))


def session_settings(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The settings this test pins, as the session sees them."""
    names = [*PINNED, "statement_timeout", "lock_timeout"]
    cursor = conn.cursor(row_factory=tuple_row)
    row = cursor.execute("SELECT pg_catalog.current_setting(unnest(%s::text[]))", [names])
    return {name: str(value) for name, (value,) in zip(names, row.fetchall(), strict=True)}


def ok(cli: Callable[..., Result], *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def month_start(moment: datetime, months: int = 0) -> datetime:
    """The UTC start of the month `months` after the one holding `moment`."""
    index = moment.year * 12 + moment.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def test_pooled_connections_are_pinned_and_keep_their_deadlines(hostile: str, db: Database) -> None:
    for _ in range(2):  # and a connection handed out again was not reset
        with db.connection() as conn:
            assert session_settings(conn) == {
                **PINNED,
                "statement_timeout": "10s",
                "lock_timeout": "10s",
            }


def test_direct_connections_are_pinned(hostile: str) -> None:
    with db_module.connect(hostile, application_name="wabahook-test") as conn:
        settings = session_settings(conn)
    assert {name: settings[name] for name in PINNED} == PINNED


def test_drain_stats_and_events_list_run_and_show_utc(
    hostile: str, db: Database, cli: Callable[..., Result]
) -> None:
    store(db, [PAUSED, status_body("wamid.A", "sent", AN_HOUR_AGO)])

    assert ok(cli, "drain").startswith("processed 2, rejected 0, failed 0")

    paused_at = datetime.fromtimestamp(AN_HOUR_AGO, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stats = ok(cli, "stats")
    assert f"spring_sale (en_US)  PAUSED  {paused_at}" in stats

    listed = json.loads(ok(cli, "events", "list", "--json"))
    assert [row["state"] for row in listed] == ["processed", "processed"]
    for row in listed:
        received = datetime.fromisoformat(row["received_at"])
        assert received.utcoffset() == timedelta(0), row["received_at"]
        assert abs(received - datetime.now(UTC)) < timedelta(minutes=10)


def test_partition_bounds_come_back_at_utc_month_starts(
    hostile: str, db: Database, cli: Callable[..., Result]
) -> None:
    old = month_start(datetime.now(UTC), -12)
    with db.connection() as conn:
        conn.execute("SELECT wabahook.create_raw_event_partition(%s)", [old.date()])
    assert db.fetch_one("ensure_partitions", {"months_ahead": 3}) is not None

    rows = db.fetch_all("raw_event_partitions")
    assert len(rows) >= 5  # the old month, this one and three ahead
    for row in rows:
        start = datetime.strptime(row["name"], "raw_events_%Y_%m").replace(tzinfo=UTC)
        bounds = (row["lower_bound"].isoformat(), row["upper_bound"].isoformat())
        assert bounds == (start.isoformat(), month_start(start, 1).isoformat()), row["name"]

    plan = json.loads(ok(cli, "retention", "--older-than", "200d", "--dry-run", "--json"))
    assert [(m["partition"], m["from"], m["until"]) for m in plan["months"]] == [
        (
            f"raw_events_{old:%Y_%m}",
            f"{old:%Y-%m-%dT%H:%M:%SZ}",
            f"{month_start(old, 1):%Y-%m-%dT%H:%M:%SZ}",
        )
    ]
