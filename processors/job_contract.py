"""Which jobs a worker may run (processors.safe_jobs), with which arguments, of what size."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from receiver.errors import WabahookError
from receiver.logs import escape_controls
from receiver.nudge import DRAIN_JOB, DRAIN_SLOTS


def _slot(value: object) -> bool:
    """A drain slot: a plain int (a bool is no slot), 0 <= slot < DRAIN_SLOTS."""
    return type(value) is int and 0 <= value < DRAIN_SLOTS


# The jobs a worker runs, by the dotted names the receiver, the cron and the CLI
# enqueue, with the keyword arguments each takes and the test of each value (one
# left out takes the function's default). None takes positional arguments.
JOB_ARGUMENTS: dict[str, dict[str, Callable[[object], bool]]] = {
    DRAIN_JOB: {"slot": _slot},
    "processors.jobs.sweep": {},
    "processors.jobs.maintain_partitions": {},
    "processors.jobs.apply_retention": {},
}
ALLOWED_JOBS = frozenset(JOB_ARGUMENTS)

# wabahook enqueues its jobs with at most this many retries (receiver.nudge).
MAX_RETRIES = 2
# A job's data, inflated, is under 100 bytes; this much could only be planted. It
# also bounds what RQ would log of a refused job's name and arguments.
MAX_DATA_BYTES = 1024
# Any other field of a job hash (a traceback of a retried job is a few KB): more is
# skipped unread, since RQ would load it whole (and inflate data and exc_info).
MAX_FIELD_BYTES = 16 * 1024
# RQ logs a job's id and origin (its queue's name) as stored, a few times a job: an
# id much longer than wabahook's own (a queue name and a suffix) is skipped, such an
# origin cut short.
MAX_NAME_CHARS = 512
# What logs show of any other stored text: a job's description, a refused name.
MAX_SHOWN_CHARS = 200


class RefusedJob(WabahookError):
    """A job that is not one of wabahook's own, with the arguments it takes."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# What a refusal's message says, by reason (the label of wabahook_refused_jobs_total).
REFUSAL_REASONS = {
    "webhook": "it names webhooks",
    "not_allowed": "not one of wabahook's jobs",
    "arguments": "not the arguments it takes",
    "unreadable": "its data is not a JSON call",
}


def refused_call(name: object, instance: object, args: object, kwargs: object) -> str | None:
    """Why a decoded call is refused ("not_allowed", "arguments"), or None if it may run."""
    if not isinstance(name, str) or name not in JOB_ARGUMENTS or instance is not None:
        return "not_allowed"
    declared = JOB_ARGUMENTS[name]
    # JSON gives a list where RQ wrote a tuple: empty either way.
    if not isinstance(args, list | tuple) or args or type(kwargs) is not dict:
        return "arguments"
    if not all(key in declared and declared[key](value) for key, value in kwargs.items()):
        return "arguments"
    return None


def shown(text: str) -> str:
    """A stored text as logs may show it: escaped, bounded."""
    return ascii(text[:MAX_SHOWN_CHARS])[:MAX_SHOWN_CHARS]


def bounded(text: str | None, limit: int) -> str | None:
    """A stored text RQ logs as it is: control characters escaped, cut at `limit`."""
    if text is None:
        return None
    return escape_controls(text[:limit])


def inflated_size(value: bytes, limit: int) -> int:
    """The size RQ reads of a field it inflates (data, exc_info), counted up to limit + 1."""
    try:
        inflated = zlib.decompressobj().decompress(value, limit + 1)
    except zlib.error:
        return len(value)  # RQ takes such a field as stored
    return max(len(value), len(inflated))


def oversized(field: bytes, value: bytes) -> bool:
    """Whether a job hash field is larger than any of wabahook's own."""
    if field == b"data":
        return inflated_size(value, MAX_DATA_BYTES) > MAX_DATA_BYTES
    if field == b"exc_info":
        return inflated_size(value, MAX_FIELD_BYTES) > MAX_FIELD_BYTES
    return len(value) > MAX_FIELD_BYTES
