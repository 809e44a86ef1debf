"""`wabahook people erase`: one person gone from every body, fact and row; nobody else."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from click.testing import Result

from processors.erasure import erase as erasure
from processors.pipeline.drain import drain
from processors.relay import destinations
from processors.relay.destinations import NewDestination
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.corpora.people import ANA_CHANGED, ANA_FIRST, ANA_NEW, ANA_OLD, ANA_U1, ANA_U2
from tests.integration.processing_helpers import store
from tests.integration.test_meta_channels import database_dump
from tests.integration.test_people_export import OTHER, shared_statuses
from tests.integration.test_relay import KEY, SECRET

ANA = [ANA_OLD, ANA_NEW, ANA_U1, ANA_U2, "wamid.ANA1", "wamid.ANA2", "wamid.EXPA"]
# What analysts count, which an erasure must leave as it was.
TOTALS = (
    "SELECT (SELECT count(*) FROM wabahook.messages_inbound) AS messages,"
    " (SELECT count(*) FROM wabahook.status_events) AS statuses,"
    " (SELECT array_agg(status ORDER BY status) FROM wabahook.delivery_status) AS current,"
    " (SELECT count(*) FROM wabahook.people) AS people,"
    " (SELECT count(*) FROM wabahook.contacts) AS contacts"
)


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("WABAHOOK_SECRET_KEY", key)
    return key


@pytest.fixture
def stored(db: Database) -> list[int]:
    """Ana's messages (a number change among them) and a delivery of two statuses, one to
    her and one to someone else; a facts destination took what they said."""
    destinations.add(db, Sealer(Secret(KEY)), NewDestination(
        "app", "http://127.0.0.1:9/", format="facts"), SECRET)  # fmt: skip
    return store(db, [ANA_FIRST, ANA_CHANGED, shared_statuses()])


def leftovers(database_url: str) -> list[str]:
    """Ana's identifiers and message ids found in a dump of the database (where a body
    shows as hex) or in the stored bodies themselves, in any form the bodies use: as
    written, JSON-escaped, every character escaped."""
    with psycopg.connect(database_url) as conn:
        bodies = b"\n".join(bytes(row[0]) for row in conn.execute(
            "SELECT body FROM wabahook.raw_events"))  # fmt: skip
    dump = database_dump(database_url) + b"\n" + bodies
    forms = {
        value: {value.encode(), json.dumps(value).encode()[1:-1],
                "".join(f"\\u{ord(c):04x}" for c in value).encode()}
        for value in ANA
    }  # fmt: skip
    found = [value for value, spelled in forms.items() if any(f in dump for f in spelled)]
    return found + (["Ana"] if b'"Ana"' in dump else [])


def totals(database_url: str) -> dict[str, Any]:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute(TOTALS).fetchone()
    assert row is not None
    return row


def test_an_erased_person_is_nowhere_and_every_count_stays(
    cli: Callable[..., Result], db: Database, database_url: str, secret_key: str,
    stored: list[int],
) -> None:  # fmt: skip
    drain(db)
    before = totals(database_url)
    assert leftovers(database_url)  # the test can fail: she is there now
    result = cli("people", "erase", "--wa-id", ANA_NEW, "--yes", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["events"] == 3
    assert done["deliveries"] > 0  # the facts the destination had, pending or not
    assert leftovers(database_url) == []
    dump = database_dump(database_url)
    assert OTHER.encode() in dump  # everyone else is untouched
    assert b"wamid.EXPB" in dump
    assert totals(database_url) == before
    with psycopg.connect(database_url) as conn:
        (record,) = conn.execute(
            "SELECT key_kind, completed_at IS NOT NULL, resumable, events FROM wabahook.erasures"
        ).fetchall()
        redacted = conn.execute(
            "SELECT count(*) FROM wabahook.raw_event_log WHERE redacted_at IS NOT NULL"
        ).fetchone()
    assert record == ("wa_id", True, False, 3)
    assert redacted == (3,)
    # Nothing brings her back: a replay of everything, then a rebuild.
    assert cli("replay", "--all").exit_code == 0
    drain(db)
    assert cli("rebuild").exit_code == 0
    assert leftovers(database_url) == []
    assert totals(database_url) == before


def test_a_dry_run_says_what_and_changes_nothing(
    cli: Callable[..., Result], db: Database, database_url: str, stored: list[int]
) -> None:
    drain(db)
    before = database_dump(database_url)
    result = cli("people", "erase", "--user-id", ANA_U1, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    planned = json.loads(result.stdout)
    assert planned["person_id"] == ANA_U2
    assert planned["events"] == stored
    assert planned["rows"]["messages_inbound"] == 2
    assert database_dump(database_url) == before
    text = cli("people", "erase", "--user-id", ANA_U1, "--dry-run").stdout
    assert "nothing was changed (--dry-run)" in text


def test_erasing_asks_first_and_needs_the_key(
    cli: Callable[..., Result], db: Database, stored: list[int],
    monkeypatch: pytest.MonkeyPatch, secret_key: str,
) -> None:  # fmt: skip
    drain(db)
    asked = cli("people", "erase", "--wa-id", ANA_OLD)  # no terminal here
    assert asked.exit_code == 1
    assert asked.stderr == (
        "Error: erasing cannot be undone: give --yes to erase without a question\n"
    )
    assert cli("people", "erase", "--wa-id", "15550000000", "--yes").stderr == (
        "Error: no person is known by that wa id\n"
    )
    assert "give it alone" in cli("people", "erase", "--resume", "1", "--wa-id", ANA_OLD).stderr
    monkeypatch.delenv("WABAHOOK_SECRET_KEY")
    keyless = cli("people", "erase", "--wa-id", ANA_OLD, "--yes")
    assert keyless.exit_code == 1
    assert "WABAHOOK_SECRET_KEY" in keyless.stderr


def test_a_stopped_erasure_is_finished_by_resume(
    cli: Callable[..., Result], db: Database, database_url: str, secret_key: str,
    stored: list[int],
) -> None:  # fmt: skip
    drain(db)
    sealer = Sealer(Secret(secret_key))

    def crash(line: str) -> None:
        if line.startswith("  rewrote"):
            raise KeyboardInterrupt  # after the first batch, as a kill would

    found = erasure.plan(db, "wa_id", ANA_OLD)
    with pytest.raises(KeyboardInterrupt):
        erasure.erase(db, sealer, "wa_id", found, say=crash)
    with psycopg.connect(database_url) as conn:
        (erasure_id, resumable) = conn.execute(
            "SELECT erasure_id, resumable FROM wabahook.erasures"
        ).fetchone()  # type: ignore[misc]
    assert resumable
    assert leftovers(database_url)  # the projections still hold her
    result = cli("people", "erase", "--resume", str(erasure_id), "--json")
    assert result.exit_code == 0, result.output
    assert leftovers(database_url) == []
    again = cli("people", "erase", "--resume", str(erasure_id))
    assert again.stderr == f"Error: no erasure {erasure_id} waits to be finished\n"


def test_an_event_that_arrives_during_the_erasure_is_erased_by_a_second_pass(
    db: Database, database_url: str, secret_key: str, stored: list[int]
) -> None:
    drain(db)
    late = b'{"contacts":[{"wa_id":"' + ANA_NEW.encode() + b'","profile":{"name":"Ana"}}]}'

    def arrive(line: str) -> None:
        if line.startswith("re-deriving") and not arrived:
            arrived.append(store(db, [late])[0])  # stored and drained beside the erasure
            drain(db)

    arrived: list[int] = []
    found = erasure.plan(db, "wa_id", ANA_OLD)
    done = erasure.erase(db, Sealer(Secret(secret_key)), "wa_id", found, say=arrive)
    assert done["passes"] == 2
    assert leftovers(database_url) == []


def test_a_senders_retry_of_an_erased_delivery_is_read_as_erased(
    db: Database, database_url: str, secret_key: str
) -> None:
    """The sender retries for days: the same bytes again, after the erasure, are rewritten
    before they are projected, and a raw destination gets them rewritten too."""
    from tests.integration.test_relay import ok, relay_until_idle
    from tests.integration.test_relay import store as store_one
    from tests.support.fake_http import FakeServer

    ids = store(db, [ANA_FIRST, ANA_CHANGED])
    drain(db)
    found = erasure.plan(db, "wa_id", ANA_OLD)
    erasure.erase(db, Sealer(Secret(secret_key)), "wa_id", found)
    assert leftovers(database_url) == []
    sealer = Sealer(Secret(KEY))
    with FakeServer(ok) as app:
        destinations.add(db, sealer, NewDestination("raw", app.url), SECRET)
        retry = store_one(db, "acme", ANA_FIRST)  # the sender's retry, as it came
        relay_until_idle(db, sealer)  # before any drain: sent as erased
        (sent,) = [request.body for request in app.requests]
    assert ANA_OLD.encode() not in sent
    with psycopg.connect(database_url) as conn:
        (erased,) = conn.execute(
            "SELECT body FROM wabahook.raw_events WHERE id = %s", [ids[0]]
        ).fetchone()  # type: ignore[misc]
    assert sent == bytes(erased)
    drain(db)
    assert leftovers(database_url) == []
    with psycopg.connect(database_url) as conn:
        (redacted,) = conn.execute(
            "SELECT redacted_at IS NOT NULL FROM wabahook.raw_event_log WHERE raw_event_id = %s",
            [retry],
        ).fetchone()  # type: ignore[misc]
    assert redacted


def test_a_body_that_spells_her_in_escapes_is_found_through_her_rows(
    db: Database, database_url: str, secret_key: str
) -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in ANA_OLD)
    body = ('{"contacts":[{"profile":{"name":"Ana"},"wa_id":"' + escaped + '"}],'
            '"messages":[{"from":"' + escaped + '","id":"wamid.ANA1","timestamp":"1750000100",'
            '"type":"text","text":{"body":"escaped secret"}}]}').encode()  # fmt: skip
    store(db, [body])
    drain(db)
    assert leftovers(database_url)
    found = erasure.plan(db, "wa_id", ANA_OLD)
    erasure.erase(db, Sealer(Secret(secret_key)), "wa_id", found)
    assert leftovers(database_url) == []
    assert b"escaped secret" not in database_dump(database_url)


def test_an_event_committed_late_under_a_lower_id_is_found_by_the_next_pass(
    db: Database, database_url: str, secret_key: str, stored: list[int]
) -> None:
    """Ids are given at insert, not at commit: an event of hers still in flight when the
    erasure looked has a lower id than others it saw."""
    drain(db)
    held = psycopg.connect(database_url)  # an intake transaction that has not committed
    held.execute(
        "SELECT wabahook.store_event('acme', %s, sha256(%s), NULL, '{}', NULL, 'late')",
        [ANA_FIRST.replace(b"wamid.ANA1", b"wamid.ANA9")] * 2,
    )
    store(db, [b'{"statuses":[]}'])  # someone else's, committed with a higher id

    def commit_late(line: str) -> None:
        if line.startswith("re-deriving") and not held.closed:
            held.commit()
            held.close()
            drain(db)

    found = erasure.plan(db, "wa_id", ANA_OLD)
    done = erasure.erase(db, Sealer(Secret(secret_key)), "wa_id", found, say=commit_late)
    assert done["passes"] == 2
    assert leftovers(database_url) == []


def test_a_retry_is_read_as_erased_after_a_second_erasure_of_the_same_body(
    db: Database, database_url: str, secret_key: str, stored: list[int]
) -> None:
    from tests.integration.test_relay import store as store_one

    drain(db)
    sealer = Sealer(Secret(secret_key))
    erasure.erase(db, sealer, "wa_id", erasure.plan(db, "wa_id", ANA_NEW))
    erasure.erase(db, sealer, "wa_id", erasure.plan(db, "wa_id", OTHER))
    store_one(db, "acme", shared_statuses())  # the sender retries the first bytes
    drain(db)
    assert leftovers(database_url) == []
    with psycopg.connect(database_url) as conn:
        bodies = b"".join(bytes(r[0]) for r in conn.execute("SELECT body FROM wabahook.raw_events"))
    assert OTHER.encode() not in database_dump(database_url) + bodies


def test_a_retry_drained_before_the_facts_are_rewritten_leaves_one_fact(
    db: Database, database_url: str, secret_key: str, stored: list[int]
) -> None:
    """Its facts come under the rewritten keys the erasure then gives the old ones."""
    from tests.integration.test_relay import store as store_one

    drain(db)

    def retry(line: str) -> None:
        if line.startswith("re-deriving") and not retried:
            retried.append(store_one(db, "acme", ANA_FIRST))
            drain(db)

    retried: list[int] = []
    found = erasure.plan(db, "wa_id", ANA_OLD)
    done = erasure.erase(db, Sealer(Secret(secret_key)), "wa_id", found, say=retry)
    assert done["passes"] == 1
    assert leftovers(database_url) == []
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT fact_key FROM wabahook.relay_deliveries WHERE fact_key LIKE 'message:%'"
        )
        keys = [row[0] for row in found]
    assert len(keys) == len(set(keys)) == 2  # her two messages, once each


def test_a_month_detached_by_hand_is_named_as_out_of_reach(
    cli: Callable[..., Result], db: Database, database_url: str, secret_key: str,
    stored: list[int],
) -> None:  # fmt: skip
    drain(db)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT wabahook.create_raw_event_partition('2025-01-01')")
        conn.execute("ALTER TABLE wabahook.raw_events DETACH PARTITION wabahook.raw_events_2025_01")
    planned = json.loads(cli("people", "erase", "--wa-id", ANA_NEW, "--dry-run", "--json").stdout)
    assert planned["unreached"] == ["wabahook.raw_events_2025_01"]
    result = cli("people", "erase", "--wa-id", ANA_NEW, "--yes")
    assert result.exit_code == 0, result.output
    assert "complete" in result.stdout
    assert result.stderr.endswith(
        "warning: wabahook.raw_events_2025_01 is not reached: detached from raw_events, a"
        " table nothing reads; drop it, or attach it again and erase again\n"
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE wabahook.raw_events_2025_01")
    again = json.loads(cli("people", "erase", "--wa-id", OTHER, "--dry-run", "--json").stdout)
    assert again["unreached"] == []
