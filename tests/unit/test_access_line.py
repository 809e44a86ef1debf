"""A request's line, written straight to stderr, reads as the logging handler writes it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from receiver import logs

TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}")
FIELDS: dict[str, object] = {
    "request_id": "ab" * 16,
    "method": "POST",
    "path": '/webhooks/a b\u2028c"\nFAKE INFO x',  # a forged line stays inside this one
    "channel": None,
    "status": 401,
    "duration_ms": 1.25,
    "bytes": None,
    "event_id": 7,
    "client": "::1",
}


@pytest.fixture
def configured() -> Iterator[None]:
    logger = logging.getLogger("wabahook")
    handlers = logger.handlers[:]
    logger.handlers = []
    yield
    logger.handlers = handlers


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_access_line_is_what_the_logger_writes(
    log_format: str, configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(log_format)
    logging.getLogger(logs.ACCESS_LOGGER).info("request", extra=FIELDS)
    logs.write_access_line(log_format, FIELDS)
    through_logging, direct = capsys.readouterr().err.splitlines()
    assert TIME.sub("T", direct) == TIME.sub("T", through_logging)
    assert TIME.search(direct)  # a time was written, not left out of both


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_value_json_has_no_form_for_is_written_as_text(
    log_format: str, configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    fields = {**FIELDS, "ids": {3}}
    logs.configure(log_format)
    logging.getLogger(logs.ACCESS_LOGGER).info("request", extra=fields)
    logs.write_access_line(log_format, fields)
    through_logging, direct = capsys.readouterr().err.splitlines()
    assert TIME.sub("T", direct) == TIME.sub("T", through_logging)
    assert "{3}" in direct


def test_no_stderr_at_all_writes_nothing_and_raises_nothing(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stderr", None)
    logs.write_access_line("json", FIELDS)
    assert capfd.readouterr().err == ""
