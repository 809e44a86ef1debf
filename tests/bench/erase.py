"""Erasing one person: how long `people erase` takes in a store of a million events.

A store of --events customer events (each from a customer of their own; a tenth of them
a number change that joins two), drained, then one customer erased: the plan (looking
through every stored body for their identifiers) and the erasure (rewriting their
bodies, then re-deriving every projection by a rebuild) timed apart. Run with
`make bench` (bench-erase.json).
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import time
from pathlib import Path

from processors.erasure import erase as erasure
from processors.migrate import migrate
from processors.pipeline.drain import drain
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.bench.drain import machine
from tests.bench.people import load, newcomers
from tests.support.servers import create_database, drop_database, postgres_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench-erase.json"))
    args = parser.parse_args()
    sealer = Sealer(Secret(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()))
    with postgres_server() as server:
        name = f"wabahook_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        db = Database(Secret(url), application_name="wabahook-bench-erase", timeout=3600)
        try:
            migrate(url)
            print(f"storing and draining {args.events} events ...", file=sys.stderr)
            load(url, newcomers(0, args.events))
            started = time.perf_counter()
            drain(db)
            drained = time.perf_counter() - started
            someone = args.events // 2  # a customer of their own, in the middle of the store
            print("planning the erasure of one customer ...", file=sys.stderr)
            started = time.perf_counter()
            found = erasure.plan(db, "wa_id", f"1{someone:011d}")
            planned = time.perf_counter() - started
            print("erasing them (a rebuild among it) ...", file=sys.stderr)
            started = time.perf_counter()
            done = erasure.erase(db, sealer, "wa_id", found)
            erased = time.perf_counter() - started
        finally:
            db.close()
            drop_database(server, name)
    report = {
        "benchmark": "erasing one person",
        "machine": machine(),
        "events_stored": args.events,
        "drain_seconds": round(drained, 1),
        "events_of_the_person": len(found.events),
        "plan_seconds": round(planned, 2),
        "erase_seconds": round(erased, 1),
        "erasure": {key: value for key, value in done.items() if key != "erasure_id"},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
