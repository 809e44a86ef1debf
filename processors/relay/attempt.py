"""One attempt at one delivery: its signed request, and what its answer makes of it."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.relay.http import Answer, UnsendableHeader, as_received, error_text
from processors.relay.signing import signature

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 3600.0


@dataclass(slots=True)
class Outcome:
    """What became of one attempt."""

    delivery: int
    state: str  # delivered | retrying | dead
    status: int | None = None
    error: str | None = None
    delay: float = 0.0  # until the next attempt (retrying)


def backoff(attempts: int, asked: float | None) -> float:
    """Seconds before the next attempt: what the destination asked (capped), else an
    exponential backoff with full jitter, so retries of many events spread out."""
    if asked is not None:
        return min(MAX_BACKOFF_SECONDS, asked)
    # The exponent is capped: 2.0 ** 10000 is no float.
    ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** min(max(0, attempts - 1), 30))
    spread: float = random.uniform(0, ceiling / 2)  # noqa: S311  (spread, not secrecy)
    return ceiling / 2 + spread


def fact_bytes(fact: dict[str, Any]) -> bytes:
    """A fact as the JSON text sent: UTF-8, compact."""
    return json.dumps(fact, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Request:
    """A delivery ready to go: its body and its header lines."""

    body: bytes
    headers: list[bytes]


def request_for(
    keys: list[bytes],
    delivery: dict[str, Any],
    event: dict[str, Any] | None,
    destination_id: int,
    now: Callable[[], float] = time.time,
) -> Request | Outcome:
    """The signed request of one delivery, or its Outcome when none can be sent."""
    fact = delivery.get("payload")
    if fact is not None:
        body = fact_bytes(fact)
    elif event is not None:
        body = bytes(event["body"])
    else:  # dropped by retention meanwhile
        return Outcome(delivery["id"], "dead", None, "the event is no longer stored")
    message_id = f"wabahook-{destination_id}-{delivery['raw_event_id']}"
    if delivery.get("fact_key"):  # one fact of the event: its own id, the same on retries
        digest = hashlib.sha256(str(delivery["fact_key"]).encode()).hexdigest()[:20]
        message_id += f"-{digest}"
    timestamp = int(now())
    headers = [
        b"webhook-id: " + message_id.encode(),
        b"webhook-timestamp: " + str(timestamp).encode(),
        b"webhook-signature: " + signature(keys, message_id, timestamp, body).encode(),
        b"X-Wabahook-Event-Id: " + str(delivery["raw_event_id"]).encode(),
        b"X-Wabahook-Channel: " + str(delivery["channel"]).encode(),
    ]
    try:
        if fact is not None:
            headers.append(b"Content-Type: application/json")
        elif event is not None and event["content_type"]:
            headers.append(b"Content-Type: " + as_received("Content-Type", event["content_type"]))
    except UnsendableHeader as exc:
        return Outcome(delivery["id"], "dead", None, error_text(str(exc)))
    return Request(body, headers)


def outcome_of(
    delivery: dict[str, Any], answer: Answer, max_age: float, now: Callable[[], float] = time.time
) -> Outcome:
    """What an answer makes of a delivery: delivered, retried later, or dead."""
    if answer.delivered:
        return Outcome(delivery["id"], "delivered", answer.status)
    too_old = now() - delivery["age_from"].timestamp() > max_age
    if not answer.retry or too_old:  # refused (no retry helps), or out of time
        return Outcome(delivery["id"], "dead", answer.status, answer.error)
    return Outcome(
        delivery["id"], "retrying", answer.status, answer.error,
        backoff(int(delivery["attempts"]) + 1, answer.retry_after),
    )  # fmt: skip
