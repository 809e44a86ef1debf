"""From stored deliveries to the public views: the corpus, precedence, failures."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from processors import channels
from processors.pipeline.drain import DrainResult, drain, drain_batch, process
from receiver.db import Database
from receiver.queries import query
from tests.corpus import BASE_CASES, CASES, PN
from tests.integration.processing_helpers import (
    PROJECTIONS,
    requeue,
    snapshot,
    status_body,
    store,
    view,
)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def post_all(
    client: FlaskClient, credential: channels.IssuedCredential, bodies: list[bytes]
) -> None:
    auth = (
        "Basic "
        + base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
    )
    for body in bodies:
        response = client.post("/webhooks/acme", data=body, headers={"Authorization": auth})
        assert response.status_code == 200


@pytest.fixture
def processed_corpus(
    make_app: Callable[[dict[str, str]], Flask],
    app_env: dict[str, str],
    channel: channels.IssuedCredential,
    db: Database,
) -> DrainResult:
    client = make_app({**app_env, "WABAHOOK_MAX_BODY_BYTES": "1048576"}).test_client()
    post_all(client, channel, [case.body for case in CASES])
    return drain(db)


def comparable(row: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """`row`'s values of the keys of `expected`; a time expected as a unix second becomes one."""
    out = {}
    for key in expected:
        value = row[key]
        if isinstance(value, datetime) and isinstance(expected[key], int):
            value = int(value.timestamp())
        out[key] = value
    return out


def test_corpus_through_the_receiver_yields_the_expected_facts(
    processed_corpus: DrainResult, database_url: str
) -> None:
    assert processed_corpus.failed == 0
    messages = {row["message_id"]: row for row in view(database_url, "messages_inbound")}
    statuses = {
        (row["message_id"], row["status"], int(row["status_at"].timestamp())): row
        for row in view(database_url, "status_events")
    }
    errors = view(database_url, "notification_errors")
    log = {row["raw_event_id"]: row for row in view(database_url, "raw_event_log")}
    assert len(log) == len(CASES)
    for raw_event_id, case in enumerate(CASES, start=1):
        entry = log[raw_event_id]
        assert entry["state"] == case.state, case.name
        if case.rejection:
            assert case.rejection in entry["error"]
        for message_id, expected in case.messages.items():
            row = messages[message_id]
            assert row["raw_event_id"] == raw_event_id
            assert comparable(row, expected) == expected, case.name
            assert row["payload"]["id"] == message_id
        for key, expected in case.statuses.items():
            row = statuses[key]
            assert comparable(row, expected) == expected, case.name
            assert row["payload"]["status"] == key[1]
        case_errors = [(e["code"], e["title"]) for e in errors if e["raw_event_id"] == raw_event_id]
        assert case_errors == case.errors, case.name
        assert case.notes <= set(entry["notes"]), case.name
    assert set(messages) == {m for case in CASES for m in case.messages}
    assert set(statuses) == {s for case in CASES for s in case.statuses}


def test_corpus_yields_the_rows_each_case_names_in_any_view(
    processed_corpus: DrainResult, database_url: str
) -> None:
    expected_views = {name for case in CASES for name in case.views}
    rows = {name: view(database_url, name) for name in sorted(expected_views)}
    for case in CASES:
        for name, expected_rows in case.views.items():
            for expected in expected_rows:
                found = [row for row in rows[name] if comparable(row, expected) == expected]
                assert found, f"{case.name}: no row {expected} in {name}"


def test_payloads_come_from_the_stored_bytes(
    processed_corpus: DrainResult, database_url: str
) -> None:
    (row,) = view(database_url, "messages_inbound", "message_id = %s", ["wamid.UNI"])
    assert row["payload"]["text"]["body"].startswith("\U0001f469\u200d\U0001f469")
    (failed,) = view(database_url, "status_events", "message_id = %s", ["wamid.OUT2"])
    assert failed["errors"][0]["error_data"] == {"details": "more than 24 hours"}
    (error,) = view(database_url, "notification_errors", "code = 130429")
    assert error["details"]["error_data"]["details"].startswith("Cloud API message throughput")


EXPECTED_DELIVERY = {
    # message id: (status, recipient, conversation, pricing category, billable, error codes)
    "wamid.OUT1": ("read", "16315551181", "conv-1", "marketing", True, []),
    "wamid.OUT2": ("failed", "16315551182", None, None, None, [131047]),
    "wamid.OUT3": ("played", "16315551183", None, None, None, []),
    "wamid.OUT4": ("delivered", "1", None, None, None, []),
    "wamid.OUT5": ("read", "2", None, None, None, []),
    "wamid.OUT6": ("sent", "3", None, None, None, []),
    "wamid.GRP": ("delivered", "120363000000000000", None, None, None, []),
    "gBGGOUT1": ("delivered", "16315551234", "ebb9-conv", "business_initiated", True, []),
    "ABGGDEL1": ("deleted", "16315551234", None, None, None, []),
    "gBGGNOREC": ("read", "16315557777", None, None, None, []),
    "gBGGF470": ("failed", "16315551234", None, None, None, [470]),
}


def test_delivery_status_of_the_corpus(processed_corpus: DrainResult, database_url: str) -> None:
    rows = {row["message_id"]: row for row in view(database_url, "delivery_status")}
    base = {key[0] for case in BASE_CASES for key in case.statuses}
    # warning-only and unknown-only stay in history
    assert {message_id for message_id in rows if message_id in base} == set(EXPECTED_DELIVERY)
    for message_id, expected in EXPECTED_DELIVERY.items():
        row = rows[message_id]
        actual = (row["status"], row["recipient_id"], row["conversation_id"],
                  row["pricing_category"], row["billable"], row["error_codes"])  # fmt: skip
        assert actual == expected, message_id
    out1 = rows["wamid.OUT1"]
    assert (out1["sent_at"], out1["delivered_at"], out1["read_at"]) == (
        at(1750000100), at(1750000110), at(1750000200))  # fmt: skip
    assert rows["wamid.OUT5"]["delivered_at"] is None  # read without delivered
    assert rows["ABGGDEL1"]["deleted_at"] == at(1750001300)


def test_contacts_take_the_name_and_sightings_from_messages(
    processed_corpus: DrainResult, database_url: str
) -> None:
    contacts = {row["wa_id"]: row for row in view(database_url, "contacts")}
    assert contacts["16315551181"]["profile_name"] == "Kerry Fisher"
    assert contacts["16315551234"]["profile_name"] == "Kerry"
    assert contacts["16315551234"]["first_seen_at"] == at(1750000000)
    assert contacts["16315551234"]["last_seen_at"] == at(1750001700)  # the legacy group message
    # A contact known by its business-scoped user id alone is matched by that id.
    assert contacts["user.ab12"]["profile_name"] == "Bo"
    assert "" not in contacts


PRECEDENCE = [
    ("failed, then a later delivery", [("failed", 100), ("delivered", 200)], "delivered"),
    ("delivered, then a later failure", [("delivered", 100), ("failed", 200)], "failed"),
    ("failure at the same second as read", [("read", 100), ("failed", 100)], "failed"),
    ("read before sent", [("read", 300), ("sent", 100)], "read"),
    ("delivered with no sent", [("delivered", 100)], "delivered"),
    ("deleted with nothing else", [("deleted", 100)], "deleted"),
    ("deleted and sent", [("deleted", 200), ("sent", 100)], "sent"),
    ("warning only", [("warning", 100)], None),
    ("progress never goes back", [("read", 100), ("delivered", 200), ("sent", 300)], "read"),
]


@pytest.mark.parametrize(("name", "events", "expected"), PRECEDENCE, ids=[p[0] for p in PRECEDENCE])
def test_current_status_follows_the_precedence_rules_in_any_order(
    name: str, events: list[tuple[str, int]], expected: str | None, db: Database, database_url: str
) -> None:
    for order, message_id in ((events, "fwd"), (events[::-1], "rev")):
        store(db, [status_body(message_id, status, 1750000000 + ts) for status, ts in order])
        drain(db)
    rows = {row["message_id"]: row["status"] for row in view(database_url, "delivery_status")}
    assert rows.get("fwd") == expected
    assert rows.get("rev") == expected


def test_billing_comes_from_the_earliest_status_that_has_it(
    db: Database, database_url: str
) -> None:
    pricing = '"pricing":{"billable":false,"category":"service","pricing_model":"PMP"}'
    later = '"pricing":{"billable":true,"category":"utility","pricing_model":"PMP"}'
    store(
        db,
        [
            status_body("m", "read", 1750000300, later),
            status_body("m", "sent", 1750000100, pricing),
        ],
    )
    drain(db)
    (row,) = view(database_url, "delivery_status")
    assert (row["pricing_category"], row["billable"]) == ("service", False)


def test_redelivered_bodies_and_replays_add_nothing(db: Database, database_url: str) -> None:
    bodies = list(dict.fromkeys(case.body for case in CASES))  # each once: no retry among them
    first = store(db, bodies)
    drain(db)
    before = snapshot(database_url)
    store(db, bodies)  # the sender retried everything: identical bytes, new raw events
    requeue(db, first)  # and an operator replayed the originals
    drain(db)
    after = snapshot(database_url)
    for table in PROJECTIONS:
        assert after[table] == before[table], table
    retries = view(database_url, "raw_event_log", "duplicate_delivery")
    assert len(retries) == len(bodies)
    assert {row["raw_event_id"] for row in retries} == set(
        range(len(bodies) + 1, 2 * len(bodies) + 1)
    )


def test_a_poison_event_fails_alone_and_recovers_after_the_fix(
    db: Database, database_url: str
) -> None:
    good = [status_body(f"ok-{i}", "sent", 1750000000 + i) for i in range(5)]
    poison = status_body("poison", "sent", 1750000000)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned row %', NEW.message_id; END $$;"
            "CREATE TRIGGER test_poison BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " WHEN (NEW.message_id = 'poison') EXECUTE FUNCTION wabahook.test_poison()"
        )
    ids = store(db, [*good[:2], poison, *good[2:]])
    stats = drain(db)
    assert (stats.processed, stats.failed) == (5, 1)
    (failed,) = view(database_url, "raw_event_log", "state = 'failed'")
    assert failed["raw_event_id"] == ids[2]
    assert "poisoned row poison" in failed["error"]
    assert failed["attempts"] == 1
    assert len(view(database_url, "status_events")) == 5
    # Not due yet: a drain leaves it alone.
    assert drain(db).events == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER test_poison ON wabahook.status_event")
        conn.execute("UPDATE wabahook.event_queue SET not_before = now()")
    assert drain(db).processed == 1
    (entry,) = view(database_url, "raw_event_log", "raw_event_id = %s", [ids[2]])
    assert (entry["state"], entry["attempts"]) == ("processed", 2)
    assert len(view(database_url, "status_events")) == 6


def test_drain_batches_and_reports(db: Database) -> None:
    store(db, [status_body(f"b{i}", "sent", 1750000000) for i in range(25)])
    batch = drain_batch(db, batch_size=10)
    assert (batch.claimed, batch.processed, batch.items["statuses"]) == (10, 10, 10)
    seen = []
    stats = drain(db, batch_size=10, on_batch=seen.append)
    assert sorted(r.claimed for r in seen) == [5, 10]
    assert (stats.batches, stats.processed) == (2, 15)


def test_phone_number_id_is_kept_for_cloud_and_null_for_on_premise(
    processed_corpus: DrainResult, database_url: str
) -> None:
    cloud = view(database_url, "messages_inbound", "message_id = 'wamid.T1'")[0]
    onprem = view(database_url, "messages_inbound", "message_id = 'ABGGV01'")[0]
    assert (cloud["phone_number_id"], onprem["phone_number_id"]) == (PN, None)


def test_isolation_on_a_connection_an_aborted_batch_left_its_statement_on(
    db: Database, database_url: str
) -> None:
    """Isolation plans its statement once per batch as a prepared statement, which lives
    as long as the connection: one that a failed batch left behind is made anew."""
    bodies = [status_body(f"p{i}", "sent", 1750000000 + i) for i in range(40)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned row %', NEW.message_id; END $$;"
            "CREATE TRIGGER test_poison BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " WHEN (NEW.message_id = 'p17') EXECUTE FUNCTION wabahook.test_poison()"
        )
    store(db, bodies)
    with db.connection() as conn:
        conn.execute("PREPARE wabahook_isolate(bigint[]) AS SELECT 1")  # left behind
        with conn.transaction():
            rows = conn.execute(query("claim_events"), {"limit": 100}).fetchall()
            events = process(conn, rows)
    assert [e.raw_event_id for e in events if e.failure is not None] == [18]  # p17's
    assert all("poisoned row p17" in (e.failure.error if e.failure else "") for e in events[17:18])


def test_several_failing_events_fail_alone_are_parked_and_retried_alone(
    db: Database, database_url: str
) -> None:
    bodies = [status_body(f"m{i}", "sent", 1750000000 + i) for i in range(300)]
    poisoned = {"m7", "m150", "m151", "m299"}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'poisoned row %', NEW.message_id; END $$;"
            "CREATE TRIGGER test_poison BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " WHEN (NEW.message_id IN ('m7', 'm150', 'm151', 'm299'))"
            " EXECUTE FUNCTION wabahook.test_poison()"
        )
    store(db, bodies)
    stats = drain(db)
    assert (stats.processed, stats.failed) == (296, 4)
    failed = view(database_url, "raw_event_log", "state = 'failed'")
    assert {row["error"].split()[-1] for row in failed} == poisoned
    assert {row["next_attempt_at"] for row in failed} == {None}  # parked: a bug, not a blip
    assert len(view(database_url, "status_events")) == 296
    # Made due again while still failing, among new events: they fail alone again.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE wabahook.event_queue SET not_before = now()")
    store(db, [status_body(f"n{i}", "sent", 1750000000 + i) for i in range(50)])
    stats = drain(db)
    assert (stats.processed, stats.failed) == (50, 4)
    assert {row["attempts"] for row in view(database_url, "raw_event_log", "state = 'failed'")} == {
        2
    }


def test_a_batch_copy_refuses_is_projected_event_by_event_in_full(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from processors.pipeline import isolation

    real_stage = isolation.stage

    def refusing(conn, events):  # type: ignore[no-untyped-def]
        if len(events) > 1:  # as a value our checks let through would make COPY fail
            raise psycopg.errors.NumericValueOutOfRange("value out of range")
        real_stage(conn, events)

    monkeypatch.setattr(isolation, "stage", refusing)
    bodies = [status_body(f"c{i}", "sent", 1750000000 + i) for i in range(3)]
    store(db, [*bodies, CASES[0].body])
    assert drain(db).processed == 4
    assert len(view(database_url, "status_events")) == 3  # documents stayed staged
    assert len(view(database_url, "delivery_status")) == 3
    assert view(database_url, "messages_inbound")


def test_a_batch_meeting_transient_trouble_waits_for_its_retry_whole(
    db: Database, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.test_locked() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'could not obtain lock' USING ERRCODE = 'lock_not_available';"
            " END $$;"
            "CREATE TRIGGER test_locked BEFORE INSERT ON wabahook.status_event FOR EACH ROW"
            " WHEN (NEW.message_id = 'm3') EXECUTE FUNCTION wabahook.test_locked()"
        )
    store(db, [status_body(f"m{i}", "sent", 1750000000 + i) for i in range(40)])
    stats = drain(db, lanes=1)  # one batch (two lanes may split 40 events between them)
    assert (stats.processed, stats.failed) == (0, 40)  # no descent that meets the lock per level
    failed = view(database_url, "raw_event_log", "state = 'failed'")
    assert {row["attempts"] for row in failed} == {1}
    due = {row["next_attempt_at"] for row in failed}
    assert None not in due  # retried by itself, not parked
    with psycopg.connect(database_url, autocommit=True) as conn:
        later = conn.execute("SELECT min(not_before) > now() FROM wabahook.event_queue").fetchone()
        assert later == (True,)
        conn.execute("DROP TRIGGER test_locked ON wabahook.status_event")
        conn.execute("UPDATE wabahook.event_queue SET not_before = now()")
    assert drain(db).processed == 40  # the retried events, tried together
    assert len(view(database_url, "status_events")) == 40
