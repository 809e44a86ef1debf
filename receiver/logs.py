"""Logging set-up: one JSON (or text) line per record, on stderr."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not when created."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class _TextFormatter(logging.Formatter):
    """The message, then the record's extra fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(
            f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD
        )
        return f"{line} {extras}" if extras else line


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
