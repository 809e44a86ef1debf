"""The relay: queue each stored event for its destinations, send it signed, retry, log.

Driven from PostgreSQL alone, so a relay killed at any point loses nothing: a scan
queues the deliveries of every event whose storing transaction has ended and moves the
destination's horizon in the same transaction; a delivery is leased while it is sent
(another relay takes it over once the lease runs out) and its outcome is recorded after.
Several relays share the work through `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from processors.relay import destinations
from processors.relay.attempt import Outcome, Request, outcome_of, request_for
from processors.relay.http import requested_url
from processors.relay.sender import Sender, wait_any
from receiver.db import Database, DatabaseUnavailable
from receiver.queries import query
from receiver.sealing import Sealer

log = logging.getLogger("wabahook.relay")

# A delivery is leased for its attempt's deadline (--timeout, which libcurl holds the
# whole attempt to) and this much more, to record the outcome: a relay killed
# mid-attempt leaves it to another relay that soon after.
LEASE_MARGIN_SECONDS = 10.0
IDLE_SECONDS = 0.05  # between looks for new events when there was nothing to do
# Idle, the relay looks for new events only; for retries coming due and for changed
# destinations (added, paused, rotated), once in this long.
REFRESH_SECONDS = 1.0
PAUSE_SECONDS = 1.0  # after the database failed to answer
SCAN_SECONDS = 0.02  # the least time between two looks for new events
# After this many failures in a row, a destination gets one attempt at a time (a probe).
FAILURES_BEFORE_PROBING = 5
USER_AGENT = "wabahook-relay"


@dataclass(slots=True)
class _Destination:
    """A destination as the relay works with it."""

    id: int
    name: str
    url: str
    max_in_flight: int
    max_age: float
    timeout: float
    ordered: bool
    sender: Sender
    keys: list[bytes]
    failures_in_a_row: int = 0
    settings: tuple[Any, ...] = field(default=())
    # The deliveries in flight, by id: what their answers are recorded against.
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def in_flight(self) -> int:
        return len(self.sent)

    def free(self) -> int:
        """How many more attempts may start now."""
        limit = 1 if self.failures_in_a_row >= FAILURES_BEFORE_PROBING else self.max_in_flight
        return max(0, limit - self.in_flight)


class Relay:
    """One relay process: scans, claims, sends and records until stopped."""

    def __init__(self, db: Database, sealer: Sealer | None) -> None:
        self.db = db
        self.sealer = sealer  # None: no WABAHOOK_SECRET_KEY, so no destination can be signed for
        self._unsealable: set[int] = set()
        self.stopping = threading.Event()
        self._destinations: dict[int, _Destination] = {}
        self._active_list: list[_Destination] = []
        self._refresh_at = 0.0
        self._scan_at = 0.0
        # Ended attempts waiting to be recorded, with the lease each was made under.
        self._done: list[tuple[_Destination, Outcome, Any]] = []
        self.delivered = 0

    def run(self, until_idle: bool = False) -> None:
        """Work until `stop()` (or, with `until_idle`, until nothing is due or in flight)."""
        try:
            while not self.stopping.is_set():
                try:
                    busy = self.step()
                except DatabaseUnavailable as exc:
                    # Outcomes wait in memory and their leases keep others off them; the
                    # relay goes on once PostgreSQL is back. `until_idle` gives up.
                    if until_idle:
                        raise
                    log.warning("relay: database unavailable", extra={"error": str(exc)})
                    self.stopping.wait(PAUSE_SECONDS)
                    continue
                if until_idle and not busy and not self._in_flight():
                    return
                if not busy:  # until an answer comes in, or it is time to look again
                    wait_any((d.sender for d in self._destinations.values()), IDLE_SECONDS)
        finally:
            try:
                self.settle()
            except DatabaseUnavailable:  # their leases run out: another relay sends them again
                log.warning("relay: outcomes of the last attempts not recorded")
            for destination in self._destinations.values():
                destination.sender.close()

    def stop(self) -> None:
        """Finish the attempts in flight, record them, and end `run`."""
        self.stopping.set()

    def settle(self) -> None:
        """Wait for every attempt in flight to end (each within its timeout); record them."""
        senders = [d.sender for d in self._destinations.values()]
        while any(sender.in_flight for sender in senders):
            wait_any(senders, IDLE_SECONDS)
            self._collect()
        self._record()

    def step(self) -> bool:
        """One round: record finished attempts, queue new events, start due deliveries."""
        self._collect()
        recorded = self._record()
        now = time.monotonic()
        queued = 0
        if now >= self._scan_at:  # busy, the loop turns with every attempt that ends
            queued = self.scan()
            self._scan_at = now + SCAN_SECONDS
        refresh = now >= self._refresh_at
        if refresh:
            self._active_list = self._active()
            self._refresh_at = now + REFRESH_SECONDS
        # Claims are looked for when there is something new or something ended; retries
        # due meanwhile wait for the next refresh (at most REFRESH_SECONDS late). Answers
        # that came in during the statements above are taken in first: the claim must
        # know what is still in flight here.
        self._collect()
        started = self._start_due() if queued or recorded or refresh else 0
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
        for destination in self._active_list:
            free = destination.free()
            if free == 0:
                continue
            name = "relay_claim_ordered" if destination.ordered else "relay_claim"
            with self.db.connection() as conn:  # one statement, in autocommit
                claimed = conn.execute(
                    query(name),
                    {
                        "destination": destination.id,
                        "limit": free,
                        "lease": destination.timeout + LEASE_MARGIN_SECONDS,
                        "held": list(destination.sent),
                    },
                ).fetchall()
            for delivery in claimed:
                # A raw delivery whose event retention dropped meanwhile has no body.
                event = delivery if delivery["stored"] else None
                ready = request_for(destination.keys, delivery, event, destination.id)
                destination.sent[delivery["id"]] = delivery
                if isinstance(ready, Request):
                    destination.sender.send(delivery["id"], destination.url, ready.body,
                                            ready.headers)  # fmt: skip
                else:  # nothing to send: its outcome is known now
                    self._done.append((destination, ready, delivery["leased_until"]))
                started += 1
        return started

    def _collect(self) -> None:
        """Take in the answers that have come back."""
        for destination in self._destinations.values():
            if not destination.sender.in_flight:
                continue
            for key, answer in destination.sender.finished():
                delivery = destination.sent.get(key)  # type: ignore[call-overload]
                if delivery is None:  # not ours to record (cannot happen: claims skip held ids)
                    continue
                outcome = outcome_of(delivery, answer, destination.max_age)
                self._done.append((destination, outcome, delivery["leased_until"]))

    def _record(self) -> int:
        done, self._done = self._done, []
        if not done:
            return 0
        outcomes = [outcome for _, outcome, _ in done]
        try:
            with self.db.connection() as conn:  # one statement, in autocommit
                conn.execute(
                    query("relay_record"),
                    {
                        "ids": [o.delivery for o in outcomes],
                        "states": [o.state for o in outcomes],
                        "statuses": [o.status for o in outcomes],
                        "errors": [o.error for o in outcomes],
                        "delays": [o.delay for o in outcomes],
                        "leases": [lease for _, _, lease in done],
                    },
                )
        except DatabaseUnavailable:
            self._done = done + self._done  # kept for the next try, never dropped
            raise
        for destination, outcome, _ in done:
            destination.sent.pop(outcome.delivery, None)
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
            if self.sealer is None:
                self._cannot_sign(row)
                continue
            if kept is None or kept.settings != settings:
                if kept is not None and kept.in_flight:
                    active.append(kept)  # changed: the new settings once its attempts end
                    continue
                kept = self._load(row, settings)
            active.append(kept)
        return active

    def _cannot_sign(self, row: dict[str, Any]) -> None:
        """Say once per destination why its deliveries wait (they are kept, not dropped)."""
        if row["id"] not in self._unsealable:
            self._unsealable.add(row["id"])
            log.error(
                "destination %s waits: its signing secret is sealed with WABAHOOK_SECRET_KEY,"
                " which this relay is not given", row["name"],
            )  # fmt: skip

    def _load(self, row: dict[str, Any], settings: tuple[Any, ...]) -> _Destination:
        old = self._destinations.pop(row["id"], None)
        if old is not None:
            old.sender.close()
        with self.db.connection() as conn:
            assert self.sealer is not None  # checked by the caller
            keys = destinations.signing_keys(conn, self.sealer, row["id"])
        destination = _Destination(
            id=row["id"],
            name=row["name"],
            url=requested_url(row["url"]),
            max_in_flight=row["max_in_flight"],
            max_age=row["max_age"],
            timeout=row["timeout_seconds"],
            ordered=row["ordered"],
            sender=Sender(
                timeout=row["timeout_seconds"],
                max_in_flight=row["max_in_flight"],
                allowed=tuple(row["allow_addresses"]),
                user_agent=USER_AGENT,
            ),
            keys=keys,
            settings=settings,
        )
        self._destinations[row["id"]] = destination
        return destination
