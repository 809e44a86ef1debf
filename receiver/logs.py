"""Logging set-up: one JSON (or text) line per record, on stderr."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
ACCESS_LOGGER = "wabahook.request"  # the name a request's line is written under


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not when created."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


# Control characters (C0, DEL, C1), Unicode line separators and bidi controls: a
# sender's text that carries them could otherwise start a forged log line, drive the
# reader's terminal, or show a line's parts in another order than they are.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """`text` with control characters written as escapes (tab and newline included)."""
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def _field(value: object) -> str:
    """A field value that cannot pass for another field: quoted when it has spaces or '='."""
    text = str(value)
    if text and not any(c in text for c in ' ="\\'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key_values(fields: Mapping[str, object]) -> str:
    return " ".join(f"{key}={_field(value)}" for key, value in fields.items())


class _TextFormatter(logging.Formatter):
    """The message, then the record's extra fields as key=value, one line always."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        extras = _key_values({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        text = escape_controls(f"{line} {extras}" if extras else line)
        if record.exc_info:
            # A traceback keeps its lines, each escaped on its own.
            trace = self.formatException(record.exc_info)
            # split("\n") only: splitlines() would also break on \r, \v, \x1c or \u2028.
            text += "".join("\n" + escape_controls(part) for part in trace.split("\n"))
        return text


def write_access_line(log_format: str, fields: Mapping[str, object]) -> None:
    """Write a request's line, as the `wabahook.request` logger would at INFO, with `fields`.

    Straight to stderr: through `logging`, a line cost about 70 µs of a request's 500 (the
    record, the caller's frame, the handler's lock), measured against this, for fields
    that are all at hand.
    """
    now = time.time()
    asctime = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
    )
    if log_format == "json":
        head = {"time": asctime, "level": "INFO", "logger": ACCESS_LOGGER, "message": "request"}
        line = json.dumps({**head, **fields}, default=str)  # as the JSON formatter does
    else:
        line = escape_controls(f"{asctime} INFO {ACCESS_LOGGER} request {_key_values(fields)}")
    stream = sys.stderr  # whatever it is now, as for every other line
    if stream is None:  # started without one
        return
    # A line that cannot be written is lost, as logging loses it: never the answer of a
    # request whose body is stored (a 500 would have the sender deliver it again).
    with contextlib.suppress(OSError, ValueError):
        stream.write(line + "\n")
        stream.flush()


def configure(log_format: str) -> None:
    """Give the `wabahook` loggers one stderr handler (once per process)."""
    logger = logging.getLogger("wabahook")
    logger.setLevel(logging.INFO)
    if any(getattr(h, "_wabahook", False) for h in logger.handlers):
        return
    handler = _StderrHandler()
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(_TextFormatter(TEXT_FORMAT))
    handler._wabahook = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False
