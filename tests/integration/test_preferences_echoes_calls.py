"""Marketing preferences and calls: the current-state rules under every arrival order; rebuild."""

from __future__ import annotations

from datetime import datetime
from itertools import permutations
from typing import Any

import psycopg
import pytest

from processors.pipeline.drain import drain
from processors.pipeline.rebuild import rebuild
from receiver.db import Database
from tests.corpora.preferences_echoes_calls import CASES, OPT_OUT_TITLE
from tests.integration.processing_helpers import clear_projections, requeue, store, view

T0 = 1750000000  # times below are seconds after this moment
NEW_TABLES = ("marketing_preference_event", "message_echo", "call_event", "call_error")


def change(field: str, members: str) -> bytes:
    """A Cloud body of one change of `field`, its value with metadata and `members`."""
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"7","changes":[{"field":"'
        + field + '","value":{"messaging_product":"whatsapp","metadata":'
        '{"display_phone_number":"1555","phone_number_id":"8"},' + members + "}}]}]}"
    ).encode()  # fmt: skip


def preference(wa_id: str, value: str, after: int, detail: str = "d") -> bytes:
    return change(
        "user_preferences",
        '"user_preferences":[{"wa_id":"' + wa_id + '","detail":"' + detail + '",'
        '"category":"marketing_messages","value":"' + value + '","timestamp":'
        + str(T0 + after) + "}]",
    )  # fmt: skip


def opt_out(wa_id: str, after: int, message_id: str = "wamid.X") -> bytes:
    """A failed status with error 131050 (after another error, as Meta may list them)."""
    return change(
        "messages",
        '"statuses":[{"id":"' + message_id + '","status":"failed","timestamp":"'
        + str(T0 + after) + '","recipient_id":"' + wa_id + '","errors":[{"code":131049,'
        '"title":"cap"},{"code":131050,"title":"' + OPT_OUT_TITLE + '"}]}]',
    )  # fmt: skip


def project_in_order(db: Database, url: str, ids: list[int]) -> None:
    """Project the stored events `ids` one at a time in this order, from empty tables."""
    clear_projections(url)
    for raw_event_id in ids:
        requeue(db, [raw_event_id])
        drain(db)


def every_order(db: Database, url: str, bodies: list[bytes], read: Any) -> set[Any]:
    """What `read(url)` gives after projecting `bodies` in each of their orders."""
    ids = store(db, bodies)
    drain(db)
    seen = set()
    for order in permutations(ids):
        project_in_order(db, url, list(order))
        seen.add(read(url))
    return seen


def current(url: str) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        (r["wa_id"], r["value"], int(r["changed_at"].timestamp()) - T0, r["source"], r["detail"])
        for r in view(url, "marketing_preferences", "true ORDER BY wa_id")
    )


@pytest.mark.slow  # every order of each case
@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        pytest.param(
            [preference("1", "stop", 100), preference("1", "resume", 200, "back")],
            (("1", "resume", 200, "user_preferences", "back"),),
            id="the latest by time wins",
        ),
        pytest.param(
            [preference("1", "resume", 300), preference("1", "stop", 100),
             preference("1", "stop", 200)],
            (("1", "resume", 300, "user_preferences", "d"),),
            id="a resume after two stops",
        ),
        pytest.param(
            [preference("1", "resume", 100, "r"), preference("1", "stop", 100, "s")],
            (("1", "stop", 100, "user_preferences", "s"),),
            id="at the same second stop wins",
        ),
        pytest.param(
            [opt_out("2", 300), preference("2", "resume", 400)],
            (("2", "resume", 400, "user_preferences", "d"),),
            id="a 131050 stop then a later resume",
        ),
        pytest.param(
            [opt_out("2", 300), preference("2", "resume", 250), opt_out("2", 300, "wamid.Y")],
            (("2", "stop", 300, "error_131050", OPT_OUT_TITLE),),
            id="a 131050 stop after a resume, its detail the error title",
        ),
        pytest.param(
            [opt_out("3", 500), preference("3", "stop", 500, "user"),
             preference("3", "resume", 500)],
            (("3", "stop", 500, "user_preferences", "user"),),
            id="the user's own stop is kept over a 131050 of the same second",
        ),
    ],
)  # fmt: skip
def test_marketing_preferences_follow_the_rules_in_every_order(
    bodies: list[bytes], expected: tuple[Any, ...], db: Database, database_url: str
) -> None:
    assert every_order(db, database_url, bodies, current) == {expected}


def test_the_history_keeps_every_change_once(db: Database, database_url: str) -> None:
    bodies = [preference("1", "stop", 100), preference("1", "resume", 200), opt_out("1", 100)]
    store(db, bodies + bodies)  # every body delivered twice
    drain(db)
    rows = view(database_url, "marketing_preference_events", "true ORDER BY changed_at, value")
    assert [(r["value"], int(r["changed_at"].timestamp()) - T0, r["source"]) for r in rows] == [
        ("stop", 100, "user_preferences"), ("resume", 200, "user_preferences")
    ]  # fmt: skip
    assert {(r["waba_id"], r["phone_number_id"]) for r in rows} == {("7", "8")}


def call(event: str, after: int, extra: str = "") -> bytes:
    return change(
        "calls",
        '"calls":[{"id":"wacid.C","from":"49","to":"1555","event":"' + event + '",'
        '"timestamp":"' + str(T0 + after) + '","direction":"USER_INITIATED"' + extra + "}]",
    )  # fmt: skip


def call_status(status: str, after: int) -> bytes:
    return change(
        "calls",
        '"statuses":[{"id":"wacid.C","type":"call","status":"' + status + '","timestamp":"'
        + str(T0 + after) + '","recipient_id":"49","biz_opaque_callback_data":"' + status + '"}]',
    )  # fmt: skip


def ended(status: str, after: int) -> bytes:
    started = T0 + after - 60
    return call(
        "terminate",
        after,
        ',"status":"' + status + '","start_time":"' + str(started) + '","end_time":"'
        + str(T0 + after) + '","duration":60',
    )  # fmt: skip


def the_call(url: str) -> tuple[Any, ...]:
    (row,) = view(url, "calls")

    def second(at: datetime | None) -> int | None:
        return None if at is None else int(at.timestamp()) - T0

    return (row["status"], second(row["connected_at"]), second(row["started_at"]),
            second(row["ended_at"]), row["duration_seconds"],
            row["biz_opaque_callback_data"])  # fmt: skip


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        pytest.param(
            [call_status("RINGING", 10), call_status("ACCEPTED", 20), call("connect", 30),
             ended("COMPLETED", 90)],
            ("COMPLETED", 30, 30, 90, 60, "RINGING"),
            id="a terminate wins over connect and ringing",
        ),
        pytest.param(
            [ended("FAILED", 50), call_status("RINGING", 70), call("connect", 80)],
            ("FAILED", 80, -10, 50, 60, "RINGING"),
            id="even over later ones",
        ),
        pytest.param(
            [call_status("RINGING", 10), call("connect", 20), call_status("ACCEPTED", 15)],
            ("ACCEPTED", 20, None, None, None, "RINGING"),
            id="otherwise the latest status by time",
        ),
        pytest.param(
            [call_status("ACCEPTED", 10), call_status("RINGING", 5)],
            ("ACCEPTED", None, None, None, None, "RINGING"),
            id="a ringing that arrives late",
        ),
        pytest.param(
            [call("connect", 20), call("connect", 20)],
            ("connect", 20, None, None, None, None),
            id="a connected call without a status",
        ),
        pytest.param(
            [call_status("ACCEPTED", 10), call_status("RINGING", 10), call("connect", 10)],
            ("ACCEPTED", 10, None, None, None, "ACCEPTED"),
            id="at the same second an answer over connect over ringing",
        ),
        pytest.param(
            [ended("COMPLETED", 100), ended("FAILED", 120)],
            ("FAILED", None, 60, 120, 60, None),
            id="the latest of two terminates",
        ),
    ],
)  # fmt: skip
@pytest.mark.slow  # every arrival order
def test_a_calls_status_follows_the_rules_in_every_order(
    bodies: list[bytes], expected: tuple[Any, ...], db: Database, database_url: str
) -> None:
    assert every_order(db, database_url, bodies, the_call) == {expected}


def test_call_events_keep_every_notification_and_the_errors_of_their_change(
    db: Database, database_url: str
) -> None:
    failing = change(
        "calls",
        '"calls":[{"id":"wacid.C","event":"terminate","timestamp":"' + str(T0) + '",'
        '"status":"FAILED","errors":[{"code":1,"message":"own"}]}],'
        '"errors":[{"code":138006,"message":"shared"}]',
    )
    store(db, [failing, failing, call("connect", -5)])
    drain(db)
    rows = view(database_url, "call_events", "true ORDER BY at")
    assert [(r["event"], r["status"], r["errors"]) for r in rows] == [
        ("connect", None, None),
        ("terminate", "FAILED", [{"code": 1, "message": "own"},
                                 {"code": 138006, "message": "shared"}]),
    ]  # fmt: skip
    errors = view(database_url, "call_errors")
    assert [(e["code"], e["title"], e["waba_id"], e["phone_number_id"]) for e in errors] == [
        (138006, "shared", "7", "8")
    ]


def snapshot_views(url: str) -> dict[str, list[Any]]:
    names = ("marketing_preferences", "marketing_preference_events", "message_echoes",
             "call_events", "calls", "call_errors")  # fmt: skip
    return {name: sorted((sorted(row.items()) for row in view(url, name)), key=repr)
            for name in names}  # fmt: skip


def test_rebuild_fills_the_new_tables_from_stored_events(db: Database, database_url: str) -> None:
    store(db, [case.body for case in CASES])
    drain(db)
    before = snapshot_views(database_url)
    assert all(before.values()), {k: len(v) for k, v in before.items()}
    with psycopg.connect(database_url) as conn:  # as after an upgrade: events never reached them
        conn.execute("TRUNCATE " + ", ".join(f"wabahook.{t}" for t in NEW_TABLES))
    assert not any(snapshot_views(database_url).values())
    rebuild(db)
    assert snapshot_views(database_url) == before
