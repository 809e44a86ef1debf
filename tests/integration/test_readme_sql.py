"""The SQL examples of the README and the docs give the numbers `wabahook stats` gives,
on data where a naive query would not: messages that failed without ever being sent,
and older ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from click.testing import Result
from psycopg.rows import dict_row

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.processing_helpers import status_body, store
from tests.support.docs import sql_statements

FAILED = '"errors":[{"code":131047,"title":"Re-engagement message"}]'
UNDELIVERABLE = '"errors":[{"code":131026,"title":"Message undeliverable"}]'
# Sessions in other time zones: a query that means the UTC day must not depend on them.
TIME_ZONES = ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago")


def statement_about(words: str) -> str:
    """The statement whose leading comment holds `words` (the first, where pages repeat it)."""
    found, *_ = [s for s in sql_statements() if words.lower() in s.split("\n")[0].lower()]
    return found


@pytest.fixture
def demo_db(db: Database, database_url: str) -> str:
    """Today (UTC): two messages delivered, one failed after sent, three failed unsent;
    two days ago: one sent and one failed, which `stats --days 1` leaves out."""
    now = datetime.now(UTC)
    today = max(now.replace(hour=0, minute=0, second=0, microsecond=0), now - timedelta(hours=1))
    at, before = int(today.timestamp()), int((today - timedelta(days=2)).timestamp())
    store(db, [
        status_body("m1", "sent", at), status_body("m1", "delivered", at + 1),
        status_body("m1", "read", at + 2),
        status_body("m2", "sent", at), status_body("m2", "delivered", at + 3),
        status_body("m3", "sent", at), status_body("m3", "failed", at + 1, FAILED),
        status_body("f1", "failed", at + 1, FAILED),
        status_body("f2", "failed", at + 2, UNDELIVERABLE),
        status_body("f3", "failed", at + 3, UNDELIVERABLE),
        status_body("old1", "sent", before),
        status_body("old2", "failed", before, FAILED),
    ])  # fmt: skip
    drain(db)
    return database_url


def run(url: str, statement: str, time_zone: str = "UTC") -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.execute("SELECT set_config('TimeZone', %s, false)", [time_zone])
        return conn.execute(statement.encode()).fetchall()


def test_the_readme_has_the_examples_this_file_checks() -> None:
    assert len(sql_statements()) >= 7
    assert statement_about("Failures by error code")


@pytest.mark.parametrize("time_zone", TIME_ZONES)
def test_what_happened_today_counts_as_stats_does(
    demo_db: str, cli: Callable[..., Result], time_zone: str
) -> None:
    """The README's first example: today's messages by current status."""
    first = sql_statements()[0]
    by_status = {row["status"]: row["count"] for row in run(demo_db, first, time_zone)}
    totals = json.loads(cli("stats", "--days", "1", "--json").stdout)["totals"]
    assert (totals["sent"], totals["failed"]) == (6, 4)  # the data is what it should be
    assert sum(by_status.values()) == totals["sent"], (by_status, first)
    assert by_status.get("failed", 0) == totals["failed"], (by_status, first)
    assert by_status == {"read": 1, "delivered": 1, "failed": 4}


def test_failures_by_error_code_this_week_are_those_of_stats(
    demo_db: str, cli: Callable[..., Result]
) -> None:
    rows = run(demo_db, statement_about("Failures by error code"))
    failures = json.loads(cli("stats", "--days", "7", "--json").stdout)["failures"]
    assert sorted((r["error_code"], r["error_title"], r["messages"]) for r in rows) == sorted(
        (f["error_code"], f["error_title"], f["messages"]) for f in failures
    )
    assert sum(f["messages"] for f in failures) == 5  # m3, f1, f2, f3 and old2


def test_messages_to_customers_without_a_phone_number_are_found_by_their_user_id(
    db: Database, database_url: str
) -> None:
    from tests.corpora.identities import BSUID, PHONE, status

    store(db, [
        status("wamid.U1", "delivered", 1750000000, f'"recipient_user_id":"{BSUID}"'),
        status("wamid.P1", "delivered", 1750000000,
               f'"recipient_id":"{PHONE}","recipient_user_id":"{BSUID}"'),
        status("wamid.E1", "sent", 1750000000, '"recipient_id":""'),  # no one named at all
    ])  # fmt: skip
    drain(db)
    found = run(database_url, statement_about("without a phone number"))
    assert [(row["message_id"], row["recipient_user_id"]) for row in found] == [("wamid.U1", BSUID)]
