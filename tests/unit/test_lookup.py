"""The pure parts of lookups: search needles, body rendering, the current-status rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.lookup import (
    SHOWN_CHARS,
    body_text,
    current_status_reason,
    needles,
    pretty_json,
    shown_body,
)
from tests.pathological import bodies


def at(second: int) -> datetime:
    return datetime(2026, 11, 23, 10, 0, second, tzinfo=UTC)


def test_needles_cover_the_ways_a_sender_writes_a_value() -> None:
    assert needles("caf\u00e9/x") == ["caf\u00e9/x".encode(), b"caf\\u00e9/x", b"caf\\u00e9\\/x"]
    assert needles("wamid.A", quoted=True) == [b'"wamid.A"']


def test_bodies_render_as_text_or_base64_and_json_only_when_it_is() -> None:
    assert body_text(b'{"a":1}') == ('{"a":1}', "utf-8")
    assert body_text(b"\xff") == ("/w==", "base64")
    assert pretty_json(b'\xef\xbb\xbf{"a":[1]}') == ('{\n  "a": [\n    1\n  ]\n}', False)
    assert pretty_json(b"[" * 100_000) is None  # judged on the bytes, never recursed into
    assert pretty_json(b"1" * 10_000) is None  # longer than Python's int parsing allows
    assert pretty_json(b"not json") is None


def test_what_is_shown_of_a_body_is_bounded_however_it_indents() -> None:
    # A megabyte of nested brackets indents to a quarter of a gigabyte: only the start is made.
    nested = bodies()["nested arrays at the depth limit"]
    shown = shown_body(nested)
    assert shown.kind == "JSON"
    assert shown.cut
    assert len(shown.text) == SHOWN_CHARS
    assert shown.text.startswith('{\n  "statuses": [],\n  "n": [\n    [\n      [')
    small = shown_body(b'{"a":"\xc3\xa9"}')
    assert (small.text, small.kind, small.cut) == ('{\n  "a": "\u00e9"\n}', "JSON", False)
    text = shown_body(b"x" * (SHOWN_CHARS + 1))
    assert (len(text.text), text.kind, text.cut) == (SHOWN_CHARS, "utf-8", True)
    binary = shown_body(b"\xff" * SHOWN_CHARS)
    assert (binary.kind, binary.cut) == ("base64", True)
    assert binary.text.startswith("\\xff\\xff")
    assert len(binary.text) == SHOWN_CHARS
    exact = shown_body(b"\xff")
    assert (exact.text, exact.cut) == ("\\xff", False)


@pytest.mark.parametrize(
    ("statuses", "reason"),
    [
        ([("sent", 0), ("read", 5), ("failed", 3)],
         "read: the furthest progress status (read at 2026-11-23T10:00:05Z);"
         " a failed at 2026-11-23T10:00:03Z is older than the latest progress status"),
        ([("sent", 0), ("failed", 0)],
         "failed: failed at 2026-11-23T10:00:00Z is not older than the latest progress status"
         " (sent at 2026-11-23T10:00:00Z)"),
        ([("failed", 4), ("warning", 2)],
         "failed: failed at 2026-11-23T10:00:04Z and no progress status;"
         " warning stays in history only"),
        ([("read", 2), ("delivered", 7)],
         "read: the furthest progress status (read at 2026-11-23T10:00:02Z);"
         " the latest is delivered at 2026-11-23T10:00:07Z"),
        ([("deleted", 1)], "deleted: deleted at 2026-11-23T10:00:01Z and nothing else"),
        ([("warning", 1)], "no current status: warning stays in history only"),
    ],
)  # fmt: skip
def test_the_reason_names_the_rule_that_decided(
    statuses: list[tuple[str, int]], reason: str
) -> None:
    rows = [{"status": status, "status_at": at(second)} for status, second in statuses]
    assert current_status_reason(rows) == reason
