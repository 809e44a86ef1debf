"""People: identity links joined into persons, the same in any arrival order, merged by
relabelling the smaller side, and found by any identifier they ever had."""

from __future__ import annotations

import logging
from itertools import permutations
from typing import Any

import psycopg
import pytest

from processors.pipeline.drain import drain
from receiver.db import Database
from tests.corpora.people import (
    ANA_CHANGED,
    ANA_FIRST,
    ANA_NEW,
    ANA_OLD,
    ANA_U1,
    ANA_U2,
    CY_DELIVERED,
    CY_RESUMED,
    CY_STOPPED,
    CY_U,
    message,
    messages,
)
from tests.integration.processing_helpers import clear_projections, requeue, store, view
from tests.support.bodies import T0


def people(url: str) -> list[dict[str, Any]]:
    return view(url, "people", "true ORDER BY person_id")


def person_of(url: str, identifier: str) -> str | None:
    rows = view(url, "person_ids", "identifier = %s", [identifier])
    return rows[0]["person_id"] if rows else None


def sender(phone: str | None, user: str | None, mid: str, at: int) -> bytes:
    ids = [f'"from":"{phone}"' if phone else "", f'"from_user_id":"{user}"' if user else ""]
    return messages(message(",".join(i for i in ids if i), mid, at))


def test_a_smaller_id_renames_the_person_and_the_old_id_still_finds_them(
    db: Database, database_url: str
) -> None:
    store(db, [ANA_FIRST])
    drain(db)
    (before,) = people(database_url)
    assert before["person_id"] == ANA_U1
    assert before["previous_person_ids"] == []
    store(db, [ANA_CHANGED])
    drain(db)
    (after,) = people(database_url)
    assert after["person_id"] == ANA_U2  # the smaller user id, as bytes
    assert after["previous_person_ids"] == [ANA_U1]
    assert after["wa_ids"] == [ANA_OLD, ANA_NEW]
    assert after["current_wa_id"] == ANA_NEW
    assert {person_of(database_url, i) for i in (ANA_OLD, ANA_NEW, ANA_U1, ANA_U2)} == {ANA_U2}
    (first,) = view(database_url, "messages_inbound", "message_id = 'wamid.ANA1'")
    assert first["person_id"] == ANA_U2  # rows written before the merge follow it


@pytest.mark.slow  # every order
def test_links_in_any_order_and_any_batching_give_the_same_people(
    db: Database, database_url: str
) -> None:
    # Two people that a third link joins, plus a stop and a resume under two identifiers.
    bodies = [
        sender("15550900001", "US.7900000000000000003", "wamid.P1", T0 + 10),
        sender("15550900002", "US.7900000000000000002", "wamid.P2", T0 + 20),
        sender("15550900001", "US.7900000000000000002", "wamid.P3", T0 + 30),
        CY_STOPPED, CY_DELIVERED, CY_RESUMED,
    ]  # fmt: skip
    ids = store(db, bodies)
    seen = set()
    for order in permutations(ids[:3]):
        clear_projections(database_url)
        requeue(db, [*order, *ids[3:]])
        drain(db, batch_size=1)
        rows = people(database_url)
        seen.add(repr(rows))
        prefs = view(database_url, "marketing_preferences_by_person")
        assert [(p["person_id"], p["value"]) for p in prefs] == [(CY_U, "resume")]
    clear_projections(database_url)
    requeue(db, ids)
    drain(db)  # all in one batch
    seen.add(repr(people(database_url)))
    assert len(seen) == 1
    joined = next(r for r in rows if r["person_id"] == "US.7900000000000000002")
    assert joined["wa_ids"] == ["15550900001", "15550900002"]
    assert joined["user_ids"] == ["US.7900000000000000002", "US.7900000000000000003"]
    assert joined["previous_person_ids"] == ["US.7900000000000000003"]


def test_a_merge_moves_the_smaller_person_only(db: Database, database_url: str) -> None:
    # A person with many numbers (one user id seen with each), then a link that joins a
    # newcomer to them: the newcomer's identifiers move, the large person's stay put.
    big = "US.7800000000000000009"
    store(db, [sender(f"1555081{n:04d}", big, f"wamid.B{n}", T0 + n) for n in range(60)])
    drain(db)
    before = components(database_url)
    store(db, [sender("15550819999", "US.7800000000000000001", "wamid.NEW", T0 + 100)])
    drain(db)
    store(db, [sender("15550810000", "US.7800000000000000001", "wamid.JOIN", T0 + 101)])
    drain(db)
    after = components(database_url)
    assert {k: after[k] for k in before} == before  # none of the 61 identifiers moved
    assert len(set(after.values())) == 1
    (person,) = people(database_url)
    assert person["person_id"] == "US.7800000000000000001"
    assert len(person["wa_ids"]) == 61


def components(url: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT kind, identifier, component FROM wabahook.person_identifier")
        return {(kind, identifier): component for kind, identifier, component in rows}


def test_a_failed_join_holds_nothing_back_and_one_bad_link_waits_alone(
    db: Database, database_url: str, people_joined: list[logging.LogRecord]
) -> None:
    # Joining one person fails inside PostgreSQL, as a bug of ours would.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION wabahook.refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'no person today'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON wabahook.person FOR EACH ROW"
            " WHEN (NEW.person_id = 'US.7700000000000000007') EXECUTE FUNCTION wabahook.refuse()"
        )
    store(db, [
        sender("15550700007", "US.7700000000000000007", "wamid.P7", T0),
        sender("15550700009", "US.7700000000000000009", "wamid.P9", T0),
    ])  # fmt: skip
    result = drain(db)
    assert (result.processed, result.failed) == (2, 0)  # the events themselves are done
    assert {r.getMessage() for r in people_joined} == {"people: links left pending"}
    people_joined.clear()
    assert view(database_url, "messages_inbound", "message_id = 'wamid.P7'")
    # The other link was joined one at a time; the bad one waits alone.
    assert [p["person_id"] for p in people(database_url)] == ["US.7700000000000000009"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT user_id FROM wabahook.identity_pending").fetchall() == [
            ("US.7700000000000000007",)
        ]
        conn.execute("DROP TRIGGER refuse ON wabahook.person")
    store(db, [sender("15550700008", None, "wamid.OTHER", T0)])
    drain(db)
    assert person_of(database_url, "15550700007") == "US.7700000000000000007"
    assert person_of(database_url, "15550700008") == "15550700008"


def test_parallel_lanes_join_overlapping_links_to_the_people_of_one_lane(
    db: Database, database_url: str
) -> None:
    # Many small batches on two lanes, each batch's links touching the last batch's.
    bodies = [
        sender(f"1555060{n:04d}", f"US.76{(n + 1) // 2:019d}", f"wamid.L{n}", T0 + n)
        for n in range(200)
    ]
    ids = store(db, bodies)
    drain(db, batch_size=5, lanes=2)
    parallel = people(database_url)
    clear_projections(database_url)
    requeue(db, ids)
    drain(db, batch_size=1000, lanes=1)
    assert people(database_url) == parallel
    assert len(parallel) == 101  # n and n+1 share a user id for odd n: pairs, and n = 0


def test_the_documented_people_queries_answer_as_the_docs_say(
    db: Database, database_url: str
) -> None:
    from tests.integration.test_readme_sql import run, statement_about

    phone, user = "16505551234", "US.13491208655302741918"
    store(db, [
        sender(phone, user, "wamid.D1", T0),
        sender(None, user, "wamid.D2", T0 + 60),  # the number left out: a username adopter
        sender("15550000001", None, "wamid.D3", T0 + 90),  # someone else
        CY_STOPPED, CY_DELIVERED, CY_RESUMED,
    ])  # fmt: skip
    drain(db)
    sent = run(database_url, statement_about("Everything one person sent you"))
    assert [row["from_user_id"] for row in sent] == [user, user]
    answers = run(database_url, statement_about("May I send them marketing"))
    assert [(a["person_id"], a["value"]) for a in answers] == [(CY_U, "resume")]
    assert run(database_url, statement_about("People who changed phone number")) == []
    store(db, [ANA_FIRST, ANA_CHANGED])
    drain(db)
    changed = run(database_url, statement_about("People who changed phone number"))
    assert [(c["person_id"], c["current_wa_id"]) for c in changed] == [(ANA_U2, ANA_NEW)]


def test_a_phone_number_and_a_user_id_of_one_string_make_one_person_in_any_order(
    db: Database, database_url: str
) -> None:
    # A broken or hostile sender writes a phone number as someone's user id: the two
    # people meet in one, whichever came first, and no two people share a person_id.
    bodies = [sender("15551230001", None, "wamid.T1", T0), sender("19990000000", "15551230001",
                                                                  "wamid.T2", T0 + 1)]  # fmt: skip
    ids = store(db, bodies)
    seen = set()
    for order in (ids, ids[::-1]):
        clear_projections(database_url)
        for raw_event_id in order:
            requeue(db, [raw_event_id])
            drain(db)
        rows = people(database_url)
        seen.add(repr(rows))
    assert len(seen) == 1
    (person,) = rows
    assert (person["person_id"], person["wa_ids"]) == (
        "15551230001",
        ["15551230001", "19990000000"],
    )


def test_identifiers_past_the_links_key_are_dropped_and_the_event_processed(
    db: Database, database_url: str
) -> None:
    long_id = "US." + "7" * 500  # fits a column, not six of them in one key
    system = (
        f'"type":"user_changed_user_id","user_id":"{long_id}1","previous_user_id":"{long_id}2",'
        f'"parent_user_id":"{long_id}3","previous_parent_user_id":"{long_id}4","wa_id":"{long_id}5"'
    )
    body = messages(
        message(f'"from":"{long_id}6","from_user_id":"US.7","from_parent_user_id":"{long_id}7"',
                "wamid.LONG", T0, system),
        contacts='"contacts":[{"profile":{"name":"L","username":"' + "u" * 3000 + '"},'
        '"user_id":"US.7"}],',
    )  # fmt: skip
    (event,) = store(db, [body])
    result = drain(db)
    assert (result.processed, result.failed) == (1, 0)
    assert view(database_url, "messages_inbound", "message_id = 'wamid.LONG'")
    (logged,) = view(database_url, "raw_event_log", "raw_event_id = %s", [event])
    assert {"unfit_identifier:username", "unfit_identifier:user_id"} <= set(logged["notes"])
    assert person_of(database_url, "US.7") == "US.7"
