"""Per-message pricing, error classes and pricing_daily against hand-computed figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from processors.migrate import migrate
from processors.pipeline.drain import drain
from receiver.db import Database
from tests.integration.processing_helpers import clear_projections, requeue, status_body, store
from tests.support.bodies import cloud
from tests.support.servers import own_postgres

ROOT = Path(__file__).resolve().parents[2]
D1 = datetime(2025, 7, 10, tzinfo=UTC)  # a Thursday of per-message pricing
D2 = D1 + timedelta(days=1)


def ts(day: datetime, clock: str) -> int:
    hours, minutes = (int(part) for part in clock.split(":"))
    return int((day + timedelta(hours=hours, minutes=minutes)).timestamp())


def pmp(category: str, kind: str) -> str:
    return (
        '"pricing":{"billable":true,"pricing_model":"PMP",'
        f'"category":"{category}","type":"{kind}"}}'
    )


def errors(*pairs: tuple[int, str]) -> str:
    return '"errors":[' + ",".join(f'{{"code":{c},"title":"{t}"}}' for c, t in pairs) + "]"


def rows(url: str, statement: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(statement.encode()).fetchall()


BODIES = [
    status_body("a1", "sent", ts(D1, "10:00"), pmp("marketing", "regular")),
    status_body("a1", "delivered", ts(D1, "10:01")),
    status_body("a1", "read", ts(D1, "10:05")),
    status_body("a2", "sent", ts(D1, "11:00"), pmp("marketing", "regular")),
    status_body("a3", "sent", ts(D1, "12:00"), pmp("utility", "free_customer_service")),
    status_body("a4", "delivered", ts(D1, "23:30"), pmp("service", "free_customer_service")),
    # Priced on its read (Meta skipped delivered), counted on the day of its first status.
    status_body("a5", "sent", ts(D1, "23:59")),
    status_body("a5", "read", ts(D2, "01:00"), pmp("marketing_lite", "regular")),
    status_body("a6", "sent", ts(D1, "12:30"),
                '"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}'),
    status_body("a7", "sent", ts(D1, "12:40"), '"pricing":{"category":"utility","type":"regular"}'),
    status_body("f1", "failed", ts(D1, "13:00"), errors((131049, "Ecosystem engagement"))),
    status_body("f2", "failed", ts(D1, "14:00"),
                errors((131050, "Marketing stopped"), (131000, "Something went wrong"))),
    status_body("f3", "failed", ts(D1, "15:00"), errors((132015, "Template is Paused"))),
    status_body("f4", "failed", ts(D1, "16:00"), errors((999, "Unlisted"))),
    status_body("f5", "failed", ts(D1, "17:00")),
    status_body("f6", "failed", ts(D1, "22:30"), errors((131047, "Re-engagement message"))),
]  # fmt: skip


@pytest.fixture
def figures_db(db: Database, database_url: str) -> str:
    store(db, BODIES)
    store(db, BODIES[:1])  # a sender retry of a1's sent: still one message
    drain(db)
    return database_url


def test_pricing_daily_counts_each_pmp_message_once_by_its_first_day(figures_db: str) -> None:
    found = rows(figures_db, "SELECT * FROM wabahook.pricing_daily ORDER BY 3, 4")
    assert [(r["day"], r["channel"], r["pricing_category"], r["pricing_type"], r["messages"])
            for r in found] == [
        (D1.date(), "acme", "marketing", "regular", 2),  # a1 (sent twice), a2
        (D1.date(), "acme", "marketing_lite", "regular", 1),  # a5, priced on D2's read
        (D1.date(), "acme", "service", "free_customer_service", 1),  # a4
        (D1.date(), "acme", "utility", "free_customer_service", 1),  # a3; CBP a6, unpriced a7 not
    ]  # fmt: skip


def test_pricing_daily_in_another_time_zone(figures_db: str) -> None:
    berlin = rows(
        figures_db,
        "SELECT day, pricing_category, messages FROM wabahook.pricing_daily_in('Europe/Berlin')"
        " ORDER BY 1, 2",
    )
    assert [(r["day"], r["pricing_category"], r["messages"]) for r in berlin] == [
        (D1.date(), "marketing", 2),
        (D1.date(), "utility", 1),
        (D2.date(), "marketing_lite", 1),  # 23:59 UTC is 01:59 in Berlin (CEST)
        (D2.date(), "service", 1),
    ]


def test_failures_daily_names_each_codes_class(figures_db: str) -> None:
    found = rows(
        figures_db, "SELECT * FROM wabahook.failures_daily ORDER BY error_code NULLS FIRST"
    )
    assert [(r["day"], r["error_code"], r["error_class"], r["messages"]) for r in found] == [
        (D1.date(), None, "other", 1),  # f5: a failure without errors
        (D1.date(), 999, "other", 1),  # not in error_codes
        (D1.date(), 131000, "service", 1),
        (D1.date(), 131047, "window_closed", 1),
        (D1.date(), 131049, "frequency_cap", 1),
        (D1.date(), 131050, "opt_out", 1),
        (D1.date(), 132015, "template", 1),
    ]
    berlin = rows(
        figures_db,
        "SELECT day, error_class FROM wabahook.failures_daily_in('Europe/Berlin')"
        " WHERE error_code = 131047",
    )
    assert berlin == [{"day": D2.date(), "error_class": "window_closed"}]


def test_error_codes_reference(database_url: str) -> None:
    codes = {r["code"]: r for r in rows(database_url, "SELECT * FROM wabahook.error_codes")}
    templates = [c for c in codes if 132000 <= c <= 132069]
    assert len(templates) == 70
    assert {codes[c]["class"] for c in templates} == {"template"}
    assert codes[132015]["title"] == "Template is Paused"
    assert len([c for c in codes if 200 <= c <= 299]) == 100  # Meta's "200-299 API Permission"
    expected = {
        131050: ("opt_out", False), 131049: ("frequency_cap", True),
        131047: ("window_closed", False), 470: ("window_closed", False),
        131026: ("undeliverable", False), 131048: ("spam_rate_limit", True),
        131042: ("payment", False), 130429: ("rate_limit", True), 131056: ("rate_limit", True),
        80007: ("rate_limit", True), 130472: ("experiment", False),
        131051: ("media", False), 131052: ("media", False), 131053: ("media", False),
        131000: ("service", True),
    }  # fmt: skip
    assert {c: (codes[c]["class"], codes[c]["retryable"]) for c in expected} == expected
    assert all(r["title"].strip() and len(r["advice"]) > 10 for r in codes.values())


def test_error_codes_of_2025_and_2026_have_classes(database_url: str) -> None:
    codes = {r["code"]: r for r in rows(database_url, "SELECT * FROM wabahook.error_codes")}
    expected = {
        131062: "bsuid_unsupported", 131063: "template", 134101: "marketing_messages",
        131207: "group", 131215: "group", 147005: "username", 138006: "calling", 138023: "calling",
        2593109: "history_declined", 1752041: "marketing_messages",
    }  # fmt: skip
    assert {c: codes[c]["class"] for c in expected} == expected
    groups = [c for c in codes if 131201 <= c <= 131215]
    assert len(groups) == 12  # 131203, 131205 and 131206 are not documented
    assert [c for c in range(138000, 138024) if c in codes] == [
        138000, 138001, 138002, 138003, 138004, 138005, 138006, 138007, 138009, 138012,
        138013, 138014, 138015, 138017, 138018, 138019, 138020, 138021, 138022, 138023,
    ]  # fmt: skip
    assert "Calling:" in codes[131009]["advice"]
    assert "Calling:" in codes[131030]["advice"]
    assert 134103 not in codes  # named nowhere: no row is made up
    assert codes[131208]["retryable"]
    assert not codes[131207]["retryable"]


def cloud_status(phone_number_id: str, mid: str, value: str, at: int, rest: str = "") -> bytes:
    """A Cloud status notification of one phone number id."""
    member = f'"id":"{mid}","status":"{value}","timestamp":"{at}","recipient_id":"49"'
    return cloud(
        '{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550000000",'
        f'"phone_number_id":"{phone_number_id}"}},"statuses":[{{{member}'
        + ("," + rest if rest else "")
        + "}]}"
    )


T = ts(D1, "09:00")
# Stored in this order, so raw event ids rise down the list. Each fact of the message has
# a different earliest carrier; two bodies tie on time and differ in what they carry.
HISTORY = [
    cloud_status("pn-2", "m", "delivered", T + 200,
                 '"biz_opaque_callback_data":"late",' + pmp("marketing", "regular")),
    cloud_status("pn-1", "m", "sent", T + 100,
                 '"biz_opaque_callback_data":"early",'
                 '"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}'),
    cloud_status("pn-3", "m", "read", T + 300),
    # The same second as the sent above, a later raw event: it loses each tie on time,
    # and gives the type no earlier status carries.
    cloud_status("pn-9", "m", "sent", T + 100,
                 '"biz_opaque_callback_data":"tie",'
                 '"pricing":{"pricing_model":"PMP","type":"free_entry_point"}'),
    cloud_status("pn-4", "m", "read", T + 300),  # ties with pn-3's read: the lower event wins
    cloud_status("pn-0", "m", "failed", T + 50, errors((131026, "Message undeliverable"))),
]  # fmt: skip
ORDERS = [
    [0, 1, 2, 3, 4, 5],
    [5, 4, 3, 2, 1, 0],
    [3, 1, 5, 0, 4, 2],
    [2, 4, 0, 5, 3, 1],
    [1, 3, 0, 2, 5, 4],
]


@pytest.mark.slow  # every order of the carriers
def test_delivery_facts_come_from_the_earliest_carrier_in_any_order(
    db: Database, database_url: str
) -> None:
    ids = store(db, HISTORY)
    expected = {
        "status": "read",
        "pricing_model": "CBP",  # the sent at T+100 of the lower raw event
        "pricing_type": "free_entry_point",  # the only type at T+100
        "pricing_category": "utility",
        "biz_opaque_callback_data": "early",
        "phone_number_id": "pn-3",  # the latest notification: T+300, the lower raw event
        "error_codes": [131026],
    }
    for order in ORDERS:
        clear_projections(database_url)
        for index in order:  # one event per drain: exactly this order
            requeue(db, [ids[index]])
            drain(db)
        (row,) = rows(database_url, "SELECT * FROM wabahook.delivery_status")
        assert {k: row[k] for k in expected} == expected, order
    clear_projections(database_url)
    requeue(db, ids)  # all in one batch
    drain(db)
    (row,) = rows(database_url, "SELECT * FROM wabahook.delivery_status")
    assert {k: row[k] for k in expected} == expected
    sent = rows(
        database_url,
        "SELECT pricing_type, biz_opaque_callback_data FROM wabahook.status_events"
        " WHERE status = 'sent'",
    )
    assert sent == [{"pricing_type": None, "biz_opaque_callback_data": "early"}]  # lowest event


def test_the_migration_fills_the_new_columns_of_a_rebuilt_table(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Upgrading a database whose message_delivery a rebuild replaced with a plain copy."""
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted((ROOT / "sql" / "migrations").glob("*.sql")):
        if int(path.name[:4]) < 15:
            (before / path.name).write_bytes(path.read_bytes())
    migrate(empty_database_url, before, tmp_path / "no-views")
    payload = (
        '{"id":"old","status":"sent","timestamp":"1752130000","biz_opaque_callback_data":"c7",'
        '"pricing":{"pricing_model":"PMP","category":"utility","type":"regular"}}'
    )
    with psycopg.connect(empty_database_url) as conn:
        # What `rebuild` does: a copy made with LIKE takes the place of the typed table.
        conn.execute(
            "CREATE TABLE wabahook.md (LIKE wabahook.message_delivery INCLUDING ALL);"
            "DROP TABLE wabahook.message_delivery;"
            "ALTER TABLE wabahook.md RENAME TO message_delivery"
        )
        conn.execute(
            "INSERT INTO wabahook.status_event (channel, message_id, status, status_at,"
            " phone_number_id, pricing_model, pricing_category, payload, raw_event_id, received_at)"
            " VALUES ('acme', 'old', 'sent', to_timestamp(1752130000), 'pn', 'PMP', 'utility',"
            " %s::jsonb, 7, now())",
            [payload],
        )
        conn.execute(
            "INSERT INTO wabahook.message_delivery (channel, message_id, sent_at, progress_rank,"
            " progress_at, first_status_at) VALUES ('acme', 'old', to_timestamp(1752130000), 1,"
            " to_timestamp(1752130000), to_timestamp(1752130000))"
        )
    migrate(empty_database_url)
    (event,) = rows(empty_database_url, "SELECT * FROM wabahook.status_events")
    assert (event["pricing_type"], event["biz_opaque_callback_data"]) == ("regular", "c7")
    (row,) = rows(empty_database_url, "SELECT * FROM wabahook.delivery_status")
    assert (row["pricing_model"], row["pricing_type"], row["biz_opaque_callback_data"]) == (
        "PMP",
        "regular",
        "c7",
    )
    assert row["phone_number_id"] == "pn"
    # The plain table still merges as the type: a later status of the message projects.
    with psycopg.connect(empty_database_url) as conn:
        (merged,) = conn.execute(
            "SELECT (wabahook.merge_delivery(ROW(d.*)::wabahook.delivery_facts,"
            " ROW(d.*)::wabahook.delivery_facts)).pricing_type FROM wabahook.message_delivery d"
        ).fetchone() or (None,)
    assert merged == "regular"


@pytest.fixture(scope="module")
def roles_server() -> Iterator[str]:
    with own_postgres() as server:
        url = make_conninfo(server, dbname="postgres")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE wabahook")
        yield make_conninfo(server, dbname="wabahook")


def test_the_analyst_reads_failure_classes_pricing_and_error_codes(roles_server: str) -> None:
    migrate(roles_server, roles=True)
    with psycopg.connect(roles_server, autocommit=True) as conn:
        conn.execute("CREATE USER bi LOGIN IN ROLE wabahook_analyst")
    analyst = make_conninfo(roles_server, user="bi")
    # failures_daily looks classes up with the owner's rights: readable from the first migrate.
    assert rows(analyst, "SELECT * FROM wabahook.failures_daily") == []
    migrate(roles_server)  # any later migrate (or rebuild) grants the views this file adds
    assert rows(analyst, "SELECT count(*) AS n FROM wabahook.pricing_daily") == [{"n": 0}]
    (opt_out,) = rows(analyst, "SELECT class FROM wabahook.error_codes WHERE code = 131050")
    assert opt_out == {"class": "opt_out"}
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        rows(analyst, "DELETE FROM wabahook.error_codes")


def test_rows_of_pricing_views_have_the_contract_columns(figures_db: str) -> None:
    (delivery,) = rows(figures_db, "SELECT * FROM wabahook.delivery_status WHERE message_id = 'a5'")
    assert {"pricing_model", "pricing_type", "biz_opaque_callback_data", "phone_number_id"} <= set(
        delivery
    )
    assert (delivery["pricing_model"], delivery["pricing_type"], delivery["first_status_at"]) == (
        "PMP",
        "regular",
        datetime.fromtimestamp(ts(D1, "23:59"), UTC),
    )
