"""How the console prints values: one time format ending in Z, a dash for nothing, JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from processors.console.display import MISSING, Cell, cell, finalize, utc


def test_times_are_utc_to_the_second_ending_in_z() -> None:
    berlin = timezone(timedelta(hours=1))
    assert utc(datetime(2026, 12, 7, 8, 40, 12, 999_000, tzinfo=berlin)) == "2026-12-07T07:40:12Z"
    assert utc(datetime(2026, 12, 7, 7, 40, 12)) == "2026-12-07T07:40:12Z"  # naive: UTC
    assert utc(None) == MISSING
    assert finalize(datetime(2026, 12, 7, 7, 40, 12, tzinfo=UTC)) == "2026-12-07T07:40:12Z"


def test_nothing_prints_as_a_dash_and_everything_else_as_it_is() -> None:
    assert MISSING == "\u2013"
    assert finalize(None) == MISSING
    assert finalize(0) == 0
    assert finalize("") == ""
    assert finalize("None") == "None"  # a sender's text stays what it was


def test_projected_values_are_json_and_their_times_end_in_z() -> None:
    errors = [{"code": 131026, "title": "Message undeliverable", "error_data": None}]
    shown = cell("errors", errors)
    assert shown.block
    assert shown.text == (
        '[\n  {\n    "code": 131026,\n    "title": "Message undeliverable",\n'
        '    "error_data": null\n  }\n]'
    )
    assert cell("details", {"text": "é"}).text == '{\n  "text": "é"\n}'
    assert cell("error_codes", [131026, 131049]) == Cell("[131026, 131049]")
    assert cell("status_at", "2025-06-15T15:06:40+00:00").text == "2025-06-15T15:06:40Z"
    assert cell("event_at", "2025-06-15T17:06:40.25+02:00").text == "2025-06-15T15:06:40Z"
    assert cell("text", "2025-06-15T15:06:40+00:00").text == "2025-06-15T15:06:40+00:00"
    assert cell("quality", None).text == MISSING
    assert cell("billable", True).text == "true"
    assert cell("code", 131026).text == "131026"
    assert not cell("code", 131026).block
