"""What fits the projection columns: every typed value is checked here before PostgreSQL.

A value that does not fit its column never reaches PostgreSQL: it is dropped (or its
item is) and counted in the event's notes. The rules depend only on the stored body
and its `received_at`, so a replay or a rebuild decides exactly as the first drain did.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from receiver.logs import escape_controls

# Identifiers and enum-like labels (ids, statuses, types, categories) are at most this
# many UTF-8 bytes: they sit in primary keys, whose index rows PostgreSQL caps at about
# 2,700 bytes, and no real value comes anywhere near it. Free text (bodies, captions,
# titles, names) is unbounded up to the body limit.
MAX_LABEL_BYTES = 512
# Error codes go into `integer` columns.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Unix times are plausible from WhatsApp's founding year until a day after the
# notification arrived (clock skew); anything else is not a real time of this event.
EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
# Integers of more digits than this are never a code, a time or an id we read.
MAX_INT_DIGITS = 20
# An event counts at most this many distinct notes, each key at most this long.
MAX_NOTE_KEYS = 32
MAX_NOTE_KEY_CHARS = 80
NOTES_TRUNCATED = "notes_truncated"

_DIGITS = re.compile(r"^\s*-?\d{1,15}\s*$")


@dataclass(frozen=True, slots=True)
class HugeNumber:
    """A JSON integer too long to be a code, a time or an id; its digits are not kept."""

    length: int


def json_int(digits: str) -> int | HugeNumber:
    """`parse_int` for json.loads: Python refuses int() of over 4,300 digits."""
    return int(digits) if len(digits) <= MAX_INT_DIGITS else HugeNumber(len(digits))


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The plausible unix times for one event: EARLIEST .. received_at + FUTURE_SLACK."""

    earliest: int
    latest: int

    @classmethod
    def for_event(cls, received_at: datetime) -> TimeWindow:
        """The window of an event received at `received_at`."""
        return cls(int(EARLIEST.timestamp()), int((received_at + FUTURE_SLACK).timestamp()))

    def __contains__(self, unix_time: object) -> bool:
        return isinstance(unix_time, int) and self.earliest <= unix_time <= self.latest


def string(value: Any) -> str | None:
    """A JSON string (or integer, as some senders send ids) as text; anything else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def label(value: Any) -> str | None:
    """`string`, when it fits an indexed column (MAX_LABEL_BYTES); else None."""
    text = string(value)
    if text is None or len(text) * 4 <= MAX_LABEL_BYTES:
        return text  # fast path: even all four-byte characters would fit
    return text if len(text.encode("utf-8", "surrogatepass")) <= MAX_LABEL_BYTES else None


def integer(value: Any) -> int | None:
    """Codes and unix times arrive as strings or numbers; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10**15 else None
    if isinstance(value, float) and value.is_integer():
        return integer(int(value))
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return None


def int32(value: Any) -> int | None:
    """`integer`, when it fits PostgreSQL's `integer`; else None."""
    number = integer(value)
    return number if number is not None and INT32_MIN <= number <= INT32_MAX else None


def printable(text: str, limit: int = 40) -> str:
    """A sender's text made safe for a note key: control characters escaped, length capped."""
    text = escape_controls(text)  # the rule the text logs follow
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Notes(Counter[str]):
    """Counted notes with a bounded number of keys (`limit`) of bounded length."""

    limit = MAX_NOTE_KEYS

    def add(self, key: str, count: int = 1) -> None:
        """Count `key` (or count the note as truncated when the cap is reached)."""
        key = key[:MAX_NOTE_KEY_CHARS]
        if key in self or len(self) < self.limit - 1:
            self[key] += count
        else:
            self[NOTES_TRUNCATED] += count

    def add_all(self, other: Counter[str]) -> None:
        """Count every note of `other`."""
        for key, count in other.items():
            self.add(key, count)


class SummaryNotes(Notes):
    """Notes summed over many events (a drain's report): a larger, still bounded, cap."""

    limit = 8 * MAX_NOTE_KEYS
