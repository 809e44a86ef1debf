"""People: does joining identity links keep a drain's cost per event flat as people grow?

Rounds of events from customers never seen before (a phone number and a user id each),
a tenth of them a number change that joins the customer to an earlier one, and a last
round where every event joins two people that each already have many identifiers.
Each round's events per second is reported next to the number of identifiers stored
before it: flat throughput means the cost of a join does not grow with the people
stored (no drain work is quadratic in the number of links). Run with `make bench`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from processors.migrate import migrate
from processors.pipeline.drain import drain
from receiver.config import Secret
from receiver.db import Database
from tests.bench.drain import machine
from tests.support.servers import create_database, drop_database, postgres_server

T0 = 1750000000


def body(phone: str, user: str, mid: str, at: int, system: str = "") -> bytes:
    kind = (
        '"type":"system","system":{' + system + "}"
        if system
        else '"type":"text","text":{"body":"hi"}'
    )
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
        '"value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1"},'
        '"contacts":[{"profile":{"name":"N"},"wa_id":"' + phone + '","user_id":"' + user + '"}],'
        '"messages":[{"from":"' + phone + '","from_user_id":"' + user + '","id":"' + mid + '",'
        '"timestamp":"' + str(at) + '",' + kind + "}]}}]}]}"
    ).encode()


def newcomers(start: int, count: int) -> Iterator[bytes]:
    """Events of customers start.. start+count; every tenth changes number, joining the
    customer before it (its old number and user id) to a new pair."""
    for n in range(start, start + count):
        phone, user = f"1{n:011d}", f"US.{n:019d}"
        if n % 10 == 9:
            old_phone, old_user = f"1{n - 1:011d}", f"US.{n - 1:019d}"
            change = (
                f'"type":"user_changed_number","wa_id":"{phone}","user_id":"{user}",'
                f'"previous_user_id":"{old_user}"'
            )
            yield body(old_phone, old_user, f"wamid.{n}", T0 + n, change)
        else:
            yield body(phone, user, f"wamid.{n}", T0 + n)


def mergers(start: int, count: int, hub_a: str, hub_b: str) -> Iterator[bytes]:
    """Events that each add a new number to one of two people, who grow with every event."""
    for n in range(start, start + count):
        hub = hub_a if n % 2 else hub_b
        yield body(f"1{n:011d}", hub, f"wamid.{n}", T0 + n)


def load(url: str, bodies: Iterator[bytes]) -> int | None:
    """Store and queue `bodies` (only them: earlier rounds were drained); the identifiers
    stored before they are drained."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY wabahook.raw_events (channel, body, body_sha256, request_id) FROM STDIN"
        ) as copy:
            for raw in bodies:
                copy.write_row(("bench", raw, hashlib.sha256(raw).digest(), "bench"))
        cur.execute(
            "INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)"
            " SELECT id, received_at, channel FROM wabahook.raw_events r"
            " WHERE NOT EXISTS (SELECT FROM wabahook.event_results x WHERE x.raw_event_id = r.id)"
        )
        cur.execute("ANALYZE")
    return stored(url, "SELECT count(*) FROM wabahook.person_identifier")


def stored(url: str, statement: str) -> int | None:
    """What `statement` counts, or None on a schema from before people (measured without)."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('wabahook.person')").fetchone() == (None,):
            return None
        row = conn.execute(statement.encode()).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def timed_drain(db: Database, events: int) -> dict[str, Any]:
    started = time.perf_counter()
    result = drain(db)
    seconds = time.perf_counter() - started
    assert result.processed == events, result.as_dict()
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--round-events", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("bench-people.json"))
    args = parser.parse_args()
    rounds = []
    with postgres_server() as server:
        name = f"wabahook_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        db = Database(Secret(url), application_name="wabahook-bench-people", timeout=600)
        try:
            migrate(url)
            for k in range(args.rounds):
                before = load(url, newcomers(k * args.round_events, args.round_events))
                print(f"round {k + 1}: {args.round_events} newcomers ...", file=sys.stderr)
                rounds.append({"identifiers_before": before, **timed_drain(db, args.round_events)})
            start = args.rounds * args.round_events
            hubs = ("US.9000000000000000001", "US.9000000000000000002")
            before = load(url, mergers(start, args.round_events, *hubs))
            print("a round where every event grows one of two people ...", file=sys.stderr)
            growing = {"identifiers_before": before, **timed_drain(db, args.round_events)}
            largest = stored(url, "SELECT max(size) FROM wabahook.person")
        finally:
            db.close()
            drop_database(server, name)
    first, last = rounds[0]["events_per_second"], rounds[-1]["events_per_second"]
    report = {
        "benchmark": "people",
        "machine": machine(),
        "newcomer_rounds": rounds,
        "last_over_first_round": round(last / first, 2),
        "growing_two_people": {**growing, "largest_person_identifiers": largest},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
