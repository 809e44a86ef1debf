"""The relay against a fast local destination (targets: ≥ 2,000 deliveries/s for one relay
process; stored → acknowledged p50 ≤ 100 ms and p99 ≤ 500 ms at 200 deliveries/s).

Throughput: N events are stored, then one `wabahook relay` process sends them all to a
destination on loopback that answers 204 at once (its own process, keep-alive); timed
from the relay's start to the last acknowledgement. Latency: events are stored at a
steady rate while the relay runs; each delivery's stored → acknowledged time is read
from `destination_deliveries`.

Run with `make bench`; writes a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import multiprocessing
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from processors.migrate import migrate
from processors.relay import destinations
from processors.relay.destinations import NewDestination
from receiver.config import Secret
from receiver.db import Database
from receiver.sealing import Sealer
from tests.bench.drain import machine
from tests.support.servers import create_database, drop_database, postgres_server

ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
ROOT = Path(__file__).resolve().parents[2]


def destination_server(port: multiprocessing.Value) -> None:  # type: ignore[valid-type]
    """A destination that reads each request and answers 204 at once (keep-alive)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port.value = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def store(url: str, count: int, rate: float | None = None) -> None:
    """Store `count` deliveries as the receiver does, at `rate` per second (None: at once)."""
    body = b'{"statuses":[{"id":"wamid.bench","status":"sent","timestamp":"1750000000"}]}'
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.monotonic()
        for n in range(count):
            if rate is not None:
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            conn.execute(
                "SELECT wabahook.store_event('bench', %s, sha256(%s), 'application/json',"
                " '{}', NULL, 'r')",
                [body, body],
            )


def delivered(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM wabahook.relay_deliveries WHERE state = 'delivered'"
        ).fetchone()
    return int(row[0]) if row else 0


def start_relay(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "WABAHOOK_SECRET_KEY": KEY}
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "relay", "--quiet"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def prepare(url: str, port: int, max_in_flight: int) -> None:
    migrate(url)
    db = Database(Secret(url), application_name="bench", timeout=30)
    try:
        with db.connection() as conn:
            conn.execute("INSERT INTO wabahook.channels (name) VALUES ('bench')")
        destinations.add(
            db, Sealer(Secret(KEY)),
            NewDestination("app", f"http://127.0.0.1:{port}/", max_in_flight=max_in_flight),
            None,
        )  # fmt: skip
    finally:
        db.close()


def throughput(server: str, port: int, events: int, max_in_flight: int) -> dict[str, Any]:
    name = f"wabahook_bench_{secrets.token_hex(4)}"
    url = create_database(server, name)
    try:
        prepare(url, port, max_in_flight)
        store(url, events)
        relay = start_relay(url)
        began = time.monotonic()
        try:
            while delivered(url) < events:
                if relay.poll() is not None:
                    raise SystemExit("the relay ended")
                time.sleep(0.05)
            seconds = time.monotonic() - began
        finally:
            relay.terminate()
            relay.wait(timeout=60)
        return {"events": events, "max_in_flight": max_in_flight, "seconds": round(seconds, 2),
                "deliveries_per_second": round(events / seconds)}  # fmt: skip
    finally:
        drop_database(server, name)


def latency(server: str, port: int, rate: float, seconds: float) -> dict[str, Any]:
    name = f"wabahook_bench_{secrets.token_hex(4)}"
    url = create_database(server, name)
    try:
        prepare(url, port, 8)
        relay = start_relay(url)
        try:
            time.sleep(2)  # started
            count = int(rate * seconds)
            store(url, count, rate)
            deadline = time.monotonic() + 60
            while delivered(url) < count and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            relay.terminate()
            relay.wait(timeout=60)
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),"
                " percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms), max(latency_ms)"
                " FROM wabahook.destination_deliveries WHERE state = 'delivered'"
            ).fetchone()
        assert row is not None
        return {"rate_per_second": rate, "events": count, "delivered": row[0],
                "p50_ms": round(float(row[1]), 1), "p99_ms": round(float(row[2]), 1),
                "max_ms": round(float(row[3]), 1)}  # fmt: skip
    finally:
        drop_database(server, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("bench-relay.json"))
    args = parser.parse_args()
    logging.getLogger("wabahook").setLevel(logging.WARNING)
    port = multiprocessing.Value("i", 0)
    app = multiprocessing.Process(target=destination_server, args=(port,), daemon=True)
    app.start()
    while not port.value:
        time.sleep(0.05)
    try:
        with postgres_server() as server:
            print("throughput to a fast local destination ...", file=sys.stderr)
            fast = [throughput(server, port.value, args.events, n) for n in (8, 32)]
            print(f"latency at {args.rate:g}/s ...", file=sys.stderr)
            steady = latency(server, port.value, args.rate, args.seconds)
    finally:
        app.terminate()
    report = {
        "benchmark": "relay",
        "machine": machine(),
        "throughput": fast,
        "latency": steady,
        "targets": {"deliveries_per_second": 2000, "p50_ms": 100, "p99_ms": 500},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
