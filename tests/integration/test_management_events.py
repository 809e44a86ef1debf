"""Management events in the database: a template's current state, dedup, rebuild."""

from __future__ import annotations

import json
import random
from typing import Any

import psycopg
import pytest

from processors.pipeline.drain import drain
from processors.pipeline.rebuild import rebuild
from receiver.db import Database
from tests.corpora import accounts
from tests.corpora import management as templates
from tests.corpora.management import management
from tests.integration.processing_helpers import store, view
from tests.support.bodies import T0, WABA

CASES = templates.CASES + accounts.CASES

MANAGEMENT_TABLES = ("template_event", "phone_number_event", "account_event")


def template(field: str, at: int, **value: Any) -> bytes:
    """A notification about template 42 at T0 + `at` (value members as keywords)."""
    return management(field, json.dumps({"message_template_id": 42, **value}), T0 + at)


def status(at: int, event: str, **more: Any) -> bytes:
    return template("message_template_status_update", at, event=event, **more)


NAMED = {"message_template_name": "order_confirmation", "message_template_language": "en_US"}
# A history of template 42. Two statuses share a time (20): the later raw event wins.
HISTORY = {
    "old name": status(1, "PENDING", message_template_name="order_confirm",
                       message_template_language="en"),
    "approved": status(10, "APPROVED", reason="NONE", message_template_category="UTILITY", **NAMED),
    "yellow": template("message_template_quality_update", 15, previous_quality_score="GREEN",
                       new_quality_score="YELLOW", **NAMED),
    "stale red": template("message_template_quality_update", 5, previous_quality_score="YELLOW",
                          new_quality_score="RED", **NAMED),
    "paused": status(20, "PAUSED", reason=None, other_info={"title": "FIRST_PAUSE"}, **NAMED),
    "reinstated": status(20, "REINSTATED", reason="NONE", **NAMED),
    "recategorised": template("template_category_update", 30, previous_category="UTILITY",
                              new_category="MARKETING", **NAMED),
    "announced": template("template_category_update", 40, correct_category="UTILITY",
                          new_category="MARKETING", category_update_timestamp=T0 + 86440, **NAMED),
    "stale status category": status(12, "APPROVED", message_template_category="AUTHENTICATION",
                                    **NAMED),
    "components": template("message_template_components_update", 50,
                           message_template_element="Your order {{1}}", **NAMED),
}  # fmt: skip


def state(url: str, channel: str) -> dict[str, Any]:
    (row,) = view(url, "templates", "channel = %s AND template_id = '42'", [channel])
    return row


def expected_state(order: list[str]) -> dict[str, Any]:
    """What the rules say for HISTORY stored in `order`."""
    tie = max(("paused", "reinstated"), key=order.index)  # stored later: the higher raw id
    return {
        "waba_id": WABA, "template_name": "order_confirmation", "language": "en_US",
        "status": tie.upper(), "status_reason": None if tie == "paused" else "NONE",
        "status_at": T0 + 20, "quality": "YELLOW", "quality_at": T0 + 15,
        "category": "MARKETING", "category_at": T0 + 30,
    }  # fmt: skip


def comparable(row: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {
        key: int(row[key].timestamp()) if key.endswith("_at") and row[key] else row[key]
        for key in expected
    }


ORDERS = [list(HISTORY), list(reversed(HISTORY))] + [
    random.Random(seed).sample(list(HISTORY), len(HISTORY)) for seed in range(4)
]


@pytest.mark.slow  # every order of the notifications
@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_a_templates_state_is_the_latest_of_each_attribute_in_any_order(
    db: Database, database_url: str, batch_size: int
) -> None:
    for n, order in enumerate(ORDERS):
        channel = f"order{n}"
        store(db, [HISTORY[name] for name in order], channel=channel)
        drain(db, batch_size=batch_size)
        expected = expected_state(order)
        assert comparable(state(database_url, channel), expected) == expected, order
    # the tie went both ways among these orders, so the rule, not an accident, decided it
    assert {state(database_url, f"order{n}")["status"] for n in range(len(ORDERS))} == {
        "PAUSED",
        "REINSTATED",
    }


def test_the_announced_category_and_older_facts_do_not_change_a_template(
    db: Database, database_url: str
) -> None:
    store(db, [HISTORY["recategorised"], HISTORY["stale status category"]])
    drain(db)
    assert state(database_url, "acme")["category"] == "MARKETING"
    store(db, [HISTORY["announced"]])
    drain(db)
    row = state(database_url, "acme")
    assert (row["category"], int(row["category_at"].timestamp())) == ("MARKETING", T0 + 30)
    (announced,) = view(database_url, "template_events", "kind = 'category_announced'")
    assert announced["correct_category"] == "UTILITY"
    assert announced["event_at"].timestamp() == T0 + 40


def test_a_status_updates_category_is_a_category_when_it_is_the_latest(
    db: Database, database_url: str
) -> None:
    store(db, [HISTORY["approved"], status(60, "APPROVED", message_template_category="UTILITY")])
    drain(db)
    row = state(database_url, "acme")
    assert (row["category"], int(row["category_at"].timestamp())) == ("UTILITY", T0 + 60)


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM wabahook.{table}".encode()).fetchone()
    assert row is not None
    return int(row[0])


def test_re_deliveries_add_no_rows_whatever_their_bytes(db: Database, database_url: str) -> None:
    approved = HISTORY["approved"]
    spaced = approved.replace(b'"event": "APPROVED"', b'"event":  "APPROVED"')
    assert spaced != approved  # other bytes, the same notification (same entry.time)
    without_time = management("security", '{"event":"PIN_CHANGED"}', None)
    ids = store(db, [approved, approved, spaced, without_time, without_time])
    drain(db)
    assert count(database_url, "template_event") == 1
    assert count(database_url, "account_event") == 1
    (row,) = view(database_url, "template_events")
    assert row["raw_event_id"] == ids[0]  # the lowest raw event keeps the row
    # Without entry.time, another body is another notification: position keys it.
    store(db, [management("security", '{"event":"PIN_CHANGED", "requester":"1"}', None)])
    drain(db)
    assert count(database_url, "account_event") == 2


def test_without_entry_time_each_change_of_a_body_is_its_own_event(
    db: Database, database_url: str
) -> None:
    change = '{"field":"account_update","value":{"event":"ACCOUNT_OFFBOARDED"}}'
    body = (
        '{"object":"whatsapp_business_account","entry":[{"id":"' + WABA + '","changes":['
        + change + "," + change + "]}]}"
    ).encode()  # fmt: skip
    (raw_event_id,) = store(db, [body])
    drain(db)
    rows = view(database_url, "account_events")
    assert len(rows) == 2
    with psycopg.connect(database_url) as conn:
        received = conn.execute(
            "SELECT received_at FROM wabahook.raw_events WHERE id = %s", [raw_event_id]
        ).fetchone()
    assert received is not None
    assert {row["event_at"] for row in rows} == {received[0]}  # no entry.time: received_at


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM wabahook.{table} ORDER BY 1, 2, 3".encode())
            .fetchall()
            for table in MANAGEMENT_TABLES
        }  # fmt: skip


def test_rebuild_fills_the_management_tables_as_the_drain_did(
    db: Database, database_url: str
) -> None:
    store(db, [case.body for case in CASES] + list(HISTORY.values()))
    drain(db)
    before = snapshot(database_url)
    assert all(before.values())
    rebuild(db)
    assert snapshot(database_url) == before
