"""Forward: re-deliver stored bodies, byte for byte, to another HTTP endpoint."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from processors.relay.http import UnsendableHeader, as_received, ascii_url, error_text
from processors.relay.sender import Sender, post_once
from processors.stored.selection import Selection
from receiver.db import Database
from receiver.queries import query

PAGE = 200
MAX_BACKOFF_SECONDS = 30.0
USER_AGENT = "wabahook-forward"


@dataclass(frozen=True, slots=True)
class ForwardResult:
    """What became of one event."""

    raw_event_id: int
    outcome: str  # delivered | failed
    status: int | None
    attempts: int
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return asdict(self)


class Pacer:
    """At most `rate` requests per second (None: no limit)."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._sleep = sleep

    def wait(self) -> None:
        """Block until the next request may go."""
        now = time.monotonic()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """`url` without its user:password part, and that part (percent-decoded) for Basic auth.

    What remains is what is stored, printed and requested: credentials in a URL
    would otherwise land in forward_deliveries and in every line of output.
    Plain string work rather than urlsplit, so that it never raises on a broken URL.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url, None
    # The authority ends where urlsplit ends it: at the first /, ? or #.
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return url, None
    stripped = f"{scheme}://{host}{rest[end:]}"
    if not userinfo:
        return stripped, None
    user, _, password = userinfo.partition(":")
    return stripped, (unquote(user), unquote(password))


def pending_count(db: Database, selection: Selection, destination: str, again: bool) -> int:
    """How many selected events a forward would send."""
    destination, _ = split_credentials(destination)
    row = db.fetch_one(
        "forward_pending_count",
        {**selection.params(), "destination": destination, "again": again},
    )
    assert row is not None  # count(*) always answers
    return int(row["events"])


def forward(
    db: Database,
    selection: Selection,
    destination: str,
    *,
    headers: Mapping[str, str] | None = None,
    rate: float | None = None,
    again: bool = False,
    max_attempts: int = 5,
    timeout: float = 10.0,
    on_result: Callable[[ForwardResult], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ForwardResult]:
    """Send each selected event's exact bytes to `destination`, resumably.

    Acknowledged (2xx) events are recorded per destination and skipped by later
    runs unless `again`. Timeouts, connection errors, 408/425/429 and 5xx are
    retried with exponential backoff (honouring Retry-After) up to `max_attempts`.
    A user:password in `destination` is sent as Basic auth; the destination is
    recorded without it.
    """
    destination, auth = split_credentials(destination)
    target = ascii_url(destination)  # what is requested; the ledger keeps it as given
    pacer = Pacer(rate, sleep)
    results: list[ForwardResult] = []
    # The CLI lets only printable ASCII through; the rest goes out as bytes, like stored ones.
    extra = [f"{name}: {value}".encode("ascii") for name, value in (headers or {}).items()]
    if auth is not None:
        extra.append(b"Authorization: Basic " + base64.b64encode(":".join(auth).encode()))
    # Anywhere the operator names: a one-off command, not a standing destination.
    sender = Sender(timeout=timeout, max_in_flight=1, allowed=("0.0.0.0/0", "::/0"),
                    user_agent=USER_AGENT)  # fmt: skip
    try:
        for event in _events(db, selection, destination, again):
            result = _deliver(sender, pacer, target, event, extra, max_attempts, sleep)
            _record(db, destination, result)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        sender.close()
    return results


def _events(
    db: Database, selection: Selection, destination: str, again: bool
) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        with db.connection() as conn:
            rows = conn.execute(
                query("forward_page"),
                {
                    **selection.params(),
                    "destination": destination,
                    "again": again,
                    "after": after,
                    "page": PAGE,
                },
            ).fetchall()
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1]["raw_event_id"]


def _deliver(
    sender: Sender,
    pacer: Pacer,
    destination: str,
    event: dict[str, Any],
    extra: list[bytes],
    max_attempts: int,
    sleep: Callable[[float], None],
) -> ForwardResult:
    try:
        headers = _request_headers(event, extra)
    except UnsendableHeader as exc:  # failed without a try: the run goes on to the next event
        return ForwardResult(event["raw_event_id"], "failed", None, 0, error_text(str(exc)))
    answer = None
    for attempt in range(1, max_attempts + 1):
        pacer.wait()
        answer = post_once(sender, destination, bytes(event["body"]), headers)
        if answer.delivered:
            return ForwardResult(event["raw_event_id"], "delivered", answer.status, attempt, None)
        if not answer.retry:
            break  # the destination refuses this event: retrying will not help
        if attempt < max_attempts:
            backoff = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** (attempt - 1))
            asked = answer.retry_after
            sleep(min(MAX_BACKOFF_SECONDS, asked) if asked is not None else backoff)
    assert answer is not None  # max_attempts >= 1
    return ForwardResult(event["raw_event_id"], "failed", answer.status, attempt, answer.error)


def _request_headers(event: dict[str, Any], extra: list[bytes]) -> list[bytes]:
    """The header lines of `event`'s request, as bytes: sent as they are."""
    headers = [b"X-Wabahook-Event-Id: " + str(event["raw_event_id"]).encode(), *extra]
    if event["content_type"]:
        headers.append(b"Content-Type: " + as_received("Content-Type", event["content_type"]))
    return headers


def _record(db: Database, destination: str, result: ForwardResult) -> None:
    with db.connection() as conn:
        conn.execute(
            query("record_forward"),
            {
                "destination": destination,
                "id": result.raw_event_id,
                "status": result.status,
                "attempts": result.attempts,
                "error": result.error,
                "delivered": result.outcome == "delivered",
            },
        )
