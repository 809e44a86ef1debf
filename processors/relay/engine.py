"""The relay: queue each stored event for its destinations, send it signed, retry, log.

Driven from PostgreSQL alone, so a relay killed at any point loses nothing: a scan
queues the deliveries of every event whose storing transaction has ended and moves the
destination's horizon in the same transaction; a delivery is leased while it is sent
(another relay takes it over once the lease runs out) and its outcome is recorded after.
Several relays share the work through `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from processors.relay import destinations
from processors.relay.http import (
    RETRY_STATUSES,
    UnsendableHeader,
    as_received,
    destination_client,
    error_text,
    first_bytes,
    retry_after,
)
from processors.relay.signing import signature
from receiver.db import Database
from receiver.queries import query
from receiver.sealing import Sealer

log = logging.getLogger("wabahook.relay")

LEASE_SECONDS = 60.0  # longer than an attempt's timeout: a lease outlives its attempt
IDLE_SECONDS = 0.05  # between looks for new events when there was nothing to do
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 3600.0
# After this many failures in a row, a destination gets one attempt at a time (a probe).
FAILURES_BEFORE_PROBING = 5
USER_AGENT = "wabahook-relay"


@dataclass(slots=True)
class Outcome:
    """What became of one attempt."""

    delivery: int
    state: str  # delivered | retrying | dead
    status: int | None = None
    error: str | None = None
    delay: float = 0.0  # until the next attempt (retrying)


@dataclass(slots=True)
class _Destination:
    """A destination as the relay works with it."""

    id: int
    name: str
    url: str
    max_in_flight: int
    max_age: float
    ordered: bool
    client: httpx.Client
    keys: list[bytes]
    in_flight: int = 0
    failures_in_a_row: int = 0
    settings: tuple[Any, ...] = field(default=())

    def free(self) -> int:
        """How many more attempts may start now."""
        limit = 1 if self.failures_in_a_row >= FAILURES_BEFORE_PROBING else self.max_in_flight
        return max(0, limit - self.in_flight)


def backoff(attempts: int, asked: float | None) -> float:
    """Seconds before the next attempt: what the destination asked (capped), else an
    exponential backoff with full jitter, so retries of many events spread out."""
    if asked is not None:
        return min(MAX_BACKOFF_SECONDS, asked)
    # The exponent is capped: 2.0 ** 10000 is no float.
    ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** min(max(0, attempts - 1), 30))
    spread: float = random.uniform(0, ceiling / 2)  # noqa: S311  (spread, not secrecy)
    return ceiling / 2 + spread


def attempt(
    client: httpx.Client,
    url: str,
    keys: list[bytes],
    delivery: dict[str, Any],
    event: dict[str, Any] | None,
    destination_id: int,
    max_age: float,
    now: Callable[[], float] = time.time,
) -> Outcome:
    """Send one delivery once and say what became of it."""
    tries = int(delivery["attempts"]) + 1
    too_old = now() - delivery["stored_at"].timestamp() > max_age
    if event is None:  # dropped by retention meanwhile
        return Outcome(delivery["id"], "dead", None, "the event is no longer stored")
    body = bytes(event["body"])
    message_id = f"wabahook-{destination_id}-{delivery['raw_event_id']}"
    timestamp = int(now())
    headers = {
        b"webhook-id": message_id.encode(),
        b"webhook-timestamp": str(timestamp).encode(),
        b"webhook-signature": signature(keys, message_id, timestamp, body).encode(),
        b"X-Wabahook-Event-Id": str(delivery["raw_event_id"]).encode(),
        b"X-Wabahook-Channel": str(delivery["channel"]).encode(),
    }
    try:
        if event["content_type"]:
            headers[b"Content-Type"] = as_received("Content-Type", event["content_type"])
    except UnsendableHeader as exc:
        return Outcome(delivery["id"], "dead", None, error_text(str(exc)))
    asked: float | None = None
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            answer = first_bytes(response)
    except httpx.HTTPError as exc:
        status, error = None, error_text(f"{type(exc).__name__}: {exc}")
    else:
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(delivery["id"], "delivered", status)
        error = error_text(f"HTTP {status}: {answer.decode('utf-8', 'replace')}")
        if status not in RETRY_STATUSES:
            return Outcome(delivery["id"], "dead", status, error)  # refused: no retry helps
        asked = retry_after(response)
    if too_old:
        return Outcome(delivery["id"], "dead", status, error)
    return Outcome(delivery["id"], "retrying", status, error, backoff(tries, asked))


class Relay:
    """One relay process: scans, claims, sends and records until stopped."""

    def __init__(self, db: Database, sealer: Sealer, threads: int = 32) -> None:
        self.db = db
        self.sealer = sealer
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="relay")
        self._destinations: dict[int, _Destination] = {}
        self._done: list[tuple[_Destination, Outcome]] = []
        self._lock = threading.Lock()
        self.delivered = 0

    def run(self, until_idle: bool = False) -> None:
        """Work until `stop()` (or, with `until_idle`, until nothing is due or in flight)."""
        try:
            while not self.stopping.is_set():
                busy = self.step()
                if until_idle and not busy and not self._in_flight():
                    return
                if not busy:
                    self.stopping.wait(IDLE_SECONDS)
        finally:
            self._pool.shutdown(wait=True)
            self._record()
            for destination in self._destinations.values():
                destination.client.close()

    def stop(self) -> None:
        """Finish the attempts in flight, record them, and end `run`."""
        self.stopping.set()

    def step(self) -> bool:
        """One round: record finished attempts, queue new events, start due deliveries."""
        recorded = self._record()
        queued = self.scan()
        started = self._start_due()
        return bool(recorded or queued or started)

    def scan(self) -> int:
        """Queue the deliveries of events whose storing transactions have ended."""
        queued = 0
        with self.db.transaction() as conn:
            row = conn.execute(query("relay_horizon")).fetchone()
            horizon = int(row["horizon"]) if row else 0
            behind = conn.execute(query("relay_destinations_behind"), {"horizon": horizon})
            for destination in behind.fetchall():
                done = conn.execute(
                    query("relay_queue_events"),
                    {
                        "destination": destination["id"],
                        "after": destination["horizon"],
                        "until": horizon,
                        "channels": destination["channels"],
                    },
                )
                queued += max(0, done.rowcount)
                conn.execute(
                    query("relay_move_horizon"),
                    {"destination": destination["id"], "horizon": horizon},
                )
        return queued

    def _start_due(self) -> int:
        started = 0
        for destination in self._active():
            free = destination.free()
            if free == 0:
                continue
            name = "relay_claim_ordered" if destination.ordered else "relay_claim"
            with self.db.transaction() as conn:
                claimed = conn.execute(
                    query(name),
                    {"destination": destination.id, "limit": free, "lease": LEASE_SECONDS},
                ).fetchall()
                if not claimed:
                    continue
                ids = [row["raw_event_id"] for row in claimed]
                events = {
                    row["id"]: row
                    for row in conn.execute(query("relay_bodies"), {"ids": ids}).fetchall()
                }
            for delivery in claimed:
                destination.in_flight += 1
                future = self._pool.submit(
                    attempt,
                    destination.client,
                    destination.url,
                    destination.keys,
                    delivery,
                    events.get(delivery["raw_event_id"]),
                    destination.id,
                    destination.max_age,
                )
                future.add_done_callback(self._finished(destination))
                started += 1
        return started

    def _finished(self, destination: _Destination) -> Callable[[Future[Outcome]], None]:
        def done(future: Future[Outcome]) -> None:
            with self._lock:
                self._done.append((destination, future.result()))

        return done

    def _record(self) -> int:
        with self._lock:
            done, self._done = self._done, []
        if not done:
            return 0
        with self.db.transaction() as conn:
            for _, outcome in done:
                conn.execute(
                    query("relay_record"),
                    {
                        "id": outcome.delivery,
                        "state": outcome.state,
                        "status": outcome.status,
                        "error": outcome.error,
                        "delay": outcome.delay,
                    },
                )
        for destination, outcome in done:
            destination.in_flight -= 1
            if outcome.state == "delivered":
                destination.failures_in_a_row = 0
                self.delivered += 1
            else:
                destination.failures_in_a_row += 1
                log.warning(
                    "delivery failed",
                    extra={"destination": destination.name, "state": outcome.state,
                           "status": outcome.status, "error": outcome.error},
                )  # fmt: skip
        return len(done)

    def _in_flight(self) -> int:
        return sum(d.in_flight for d in self._destinations.values())

    def _active(self) -> list[_Destination]:
        """The destinations to send to now, with clients kept across rounds."""
        rows = self.db.fetch_all("relay_destinations_active")
        active = []
        for row in rows:
            settings = (row["url"], row["max_in_flight"], row["timeout_seconds"],
                        tuple(row["allow_addresses"]), row["max_age"], row["ordered"],
                        tuple(row["secret_ids"]))  # fmt: skip
            kept = self._destinations.get(row["id"])
            if kept is None or kept.settings != settings:
                if kept is not None and kept.in_flight:
                    active.append(kept)  # changed: the new settings once its attempts end
                    continue
                kept = self._load(row, settings)
            active.append(kept)
        return active

    def _load(self, row: dict[str, Any], settings: tuple[Any, ...]) -> _Destination:
        old = self._destinations.pop(row["id"], None)
        if old is not None:
            old.client.close()
        with self.db.connection() as conn:
            keys = destinations.signing_keys(conn, self.sealer, row["id"])
        destination = _Destination(
            id=row["id"],
            name=row["name"],
            url=row["url"],
            max_in_flight=row["max_in_flight"],
            max_age=row["max_age"],
            ordered=row["ordered"],
            client=destination_client(
                row["timeout_seconds"],
                row["max_in_flight"],
                tuple(row["allow_addresses"]),
                USER_AGENT,
            ),
            keys=keys,
            settings=settings,
        )
        self._destinations[row["id"]] = destination
        return destination
