"""The analytics views against hand-computed figures; stats and report on real data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import Result
from psycopg.rows import dict_row

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.processing_helpers import status_body, store
from tests.support.browser import render
from tests.support.docs import sql_statements

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
D1 = TODAY - timedelta(days=2)
D2 = TODAY - timedelta(days=1)


def ts(day: datetime, clock: str) -> int:
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return int((day + timedelta(hours=hours, minutes=minutes, seconds=seconds)).timestamp())


def errors(*pairs: tuple[int, str]) -> str:
    return (
        '"errors":['
        + ",".join(f'{{"code":{code},"title":"{title}"}}' for code, title in pairs)
        + "]"
    )


def billing(conversation: str, category: str, billable: str) -> str:
    return (
        f'"conversation":{{"id":"{conversation}","origin":{{"type":"{category}"}}}},'
        f'"pricing":{{"billable":{billable},"category":"{category}","pricing_model":"PMP"}}'
    )


MARKETING = billing("c1", "marketing", "true")
UTILITY = billing("c2", "utility", "false")
BODIES = [
    status_body("m1", "sent", ts(D1, "10:00:00"), MARKETING),
    status_body("m1", "delivered", ts(D1, "10:00:05")),
    status_body("m1", "read", ts(D1, "10:01:05")),
    status_body("m2", "sent", ts(D1, "11:00:00"), UTILITY),
    status_body("m2", "delivered", ts(D1, "11:00:15")),
    status_body("m3", "read", ts(D1, "12:00:30")),
    status_body("m3", "sent", ts(D1, "12:00:00")),
    status_body("m4", "sent", ts(D1, "13:00:00")),
    status_body("m4", "failed", ts(D1, "13:00:02"), errors((131047, "Re-engagement message"))),
    status_body("m5", "failed", ts(D1, "14:00:00"),
                errors((131026, "Message undeliverable"), (131000, "Something went wrong"))),
    status_body("m6", "sent", ts(D2, "23:30:00")),
    status_body("m7", "deleted", ts(D2, "08:00:00")),
]  # fmt: skip


@pytest.fixture
def analytics_db(db: Database, database_url: str) -> str:
    store(db, BODIES)
    store(db, BODIES[:1])  # a sender retry
    store(db, [b"not json"])
    drain(db)
    return database_url


def rows(url: str, statement: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(statement).fetchall()  # type: ignore[arg-type]


def test_delivery_funnel_daily(analytics_db: str) -> None:
    funnel = rows(analytics_db, "SELECT * FROM wabahook.delivery_funnel_daily ORDER BY day")
    assert [(r["day"], r["sent"], r["delivered"], r["read"], r["failed"]) for r in funnel] == [
        (D1.date(), 5, 3, 2, 2),  # read without delivered counts as delivered (m3)
        (D2.date(), 1, 0, 0, 0),  # m7's deleted-only row is an inbound message: not counted
    ]
    assert float(funnel[0]["delivered_rate"]) == 0.6
    assert float(funnel[0]["read_rate"]) == pytest.approx(0.6667)
    assert float(funnel[1]["delivered_rate"]) == 0.0
    assert funnel[1]["read_rate"] is None  # nothing delivered: no division by zero


def test_days_in_another_time_zone(analytics_db: str) -> None:
    berlin = rows(
        analytics_db,
        "SELECT day, sent FROM wabahook.delivery_funnel_daily_in('Europe/Berlin') ORDER BY day",
    )
    assert [(r["day"], r["sent"]) for r in berlin] == [(D1.date(), 5), (TODAY.date(), 1)]


def test_delivery_latency_daily(analytics_db: str) -> None:
    (latency,) = rows(analytics_db, "SELECT * FROM wabahook.delivery_latency_daily")
    assert latency["day"] == D1.date()
    assert latency["messages"] == 2  # m1 and m2 have both sent and delivered
    assert latency["p50_sent_to_delivered_seconds"] == pytest.approx(10.0)
    assert latency["p90_sent_to_delivered_seconds"] == pytest.approx(14.0)
    assert latency["p50_delivered_to_read_seconds"] == pytest.approx(60.0)
    assert latency["p90_delivered_to_read_seconds"] == pytest.approx(60.0)


def test_failures_daily(analytics_db: str) -> None:
    failures = rows(analytics_db, "SELECT * FROM wabahook.failures_daily ORDER BY error_code")
    assert [(r["day"], r["error_code"], r["error_title"], r["messages"]) for r in failures] == [
        (D1.date(), 131000, "Something went wrong", 1),
        (D1.date(), 131026, "Message undeliverable", 1),
        (D1.date(), 131047, "Re-engagement message", 1),
    ]


def test_conversations_daily(analytics_db: str) -> None:
    conversations = rows(
        analytics_db, "SELECT * FROM wabahook.conversations_daily ORDER BY category"
    )
    assert [
        (r["day"], r["category"], r["conversations"], r["billable"]) for r in conversations
    ] == [
        (D1.date(), "marketing", 1, 1),
        (D1.date(), "utility", 1, 0),
    ]


def test_intake_hourly(analytics_db: str) -> None:
    intake = rows(analytics_db, "SELECT * FROM wabahook.intake_hourly")
    assert sum(r["requests"] for r in intake) == len(BODIES) + 2
    assert sum(r["duplicate_deliveries"] for r in intake) == 1
    assert sum(r["rejected"] for r in intake) == 1
    assert sum(r["queued"] + r["failed"] for r in intake) == 0


def test_every_analytics_view_says_what_a_row_is(analytics_db: str) -> None:
    comments = rows(
        analytics_db,
        "SELECT c.relname, obj_description(c.oid) AS comment FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'wabahook' AND c.relkind = 'v'",
    )
    assert len(comments) >= 11
    assert all(r["comment"] for r in comments), [r["relname"] for r in comments if not r["comment"]]


def test_the_documented_queries_run(analytics_db: str) -> None:
    queries = sql_statements()
    assert len(queries) >= 7
    with psycopg.connect(analytics_db) as conn:
        for statement in queries:
            conn.execute(statement.encode()).fetchall()


def test_stats_on_an_empty_database(cli: Callable[..., Result]) -> None:
    result = cli("stats")
    assert result.exit_code == 0
    assert "no failures" in result.stdout
    totals = json.loads(cli("stats", "--json").stdout)["totals"]
    assert (totals["sent"], totals["delivered_rate"], totals["requests"]) == (0, None, 0)


def test_stats_figures(cli: Callable[..., Result], analytics_db: str) -> None:
    data = json.loads(cli("stats", "--json", "--days", "5").stdout)
    assert {k: data["totals"][k] for k in ("sent", "delivered", "read", "failed")} == {
        "sent": 6, "delivered": 3, "read": 2, "failed": 2}  # fmt: skip
    assert data["totals"]["duplicate_deliveries"] == 1
    assert [f["error_code"] for f in data["failures"]] == [131000, 131026, 131047]
    assert data["latency"]["p90_sent_to_delivered_seconds"] == pytest.approx(14.0)
    text = cli("stats", "--days", "5").stdout
    assert re.search(rf"{D1.date().isoformat()}\s+5\s+3\s+2\s+2\s+60\.0%\s+66\.7%", text)
    assert "131047  Re-engagement message" in text
    assert cli("stats", "--channel", "acme", "--json").exit_code == 0
    unknown = cli("stats", "--channel", "nobody", "--json")
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: no channel named 'nobody'\n")


@pytest.mark.parametrize("populated", [False, True], ids=["empty", "with data"])
@pytest.mark.slow  # Chromium
def test_report_opens_offline_and_draws_its_charts(
    populated: bool,
    cli: Callable[..., Result],
    db: Database,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if populated:
        request.getfixturevalue("analytics_db")
    out = tmp_path / "report.html"
    result = cli("report", "--out", str(out), "--days", "5")
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<script src=" not in page
    assert "cdn" not in page.lower().split("<body>")[1]
    dom, log = render(out)
    assert dom.count('class="plotly-graph-div') == 6
    assert dom.count("main-svg") >= 12  # every chart drew its SVG layers
    assert "Uncaught" not in log
    assert "Daily funnel" in dom
    if populated:
        assert "131047 Re-engagement message" in dom  # a failure bar's label
        assert ">6<" in dom  # the 'sent' card


def test_the_corpus_gives_the_hand_computed_figures(db: Database, database_url: str) -> None:
    from tests.corpus import BASE_CASES

    store(db, [case.body for case in BASE_CASES])
    drain(db)
    day = date(2025, 6, 15)  # every status of the corpus is from that afternoon (UTC)
    (funnel,) = rows(database_url, "SELECT * FROM wabahook.delivery_funnel_daily")
    # Outbound: OUT1-OUT6, GRP, gBGGOUT1, gBGGNOREC, gBGGF470 (pending-only, warning-only
    # and the customer's deleted message are not outbound messages with a status).
    figures = [funnel[k] for k in ("day", "sent", "delivered", "read", "failed")]
    assert figures == [day, 10, 7, 4, 2]
    assert float(funnel["delivered_rate"]) == 0.7
    assert float(funnel["read_rate"]) == pytest.approx(4 / 7, abs=1e-4)
    (latency,) = rows(database_url, "SELECT * FROM wabahook.delivery_latency_daily")
    assert latency["messages"] == 3  # OUT1 (10 s), OUT4 (1 s), gBGGOUT1 (10 s)
    assert latency["p50_sent_to_delivered_seconds"] == pytest.approx(10.0)
    assert latency["p50_delivered_to_read_seconds"] == pytest.approx(90.0)  # OUT1 only
    failures = rows(
        database_url, "SELECT error_code, messages FROM wabahook.failures_daily ORDER BY 1"
    )
    assert [(r["error_code"], r["messages"]) for r in failures] == [(470, 1), (131047, 1)]
    conversations = rows(
        database_url,
        "SELECT category, conversations, billable FROM wabahook.conversations_daily ORDER BY 1",
    )
    assert [(r["category"], r["conversations"], r["billable"]) for r in conversations] == [
        ("business_initiated", 1, 1),
        ("marketing", 1, 1),
    ]
    intake = rows(
        database_url,
        "SELECT sum(requests) AS requests, sum(rejected) AS rejected FROM wabahook.intake_hourly",
    )
    assert (intake[0]["requests"], intake[0]["rejected"]) == (len(BASE_CASES), 8)
