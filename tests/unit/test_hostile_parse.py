"""The parser against hostile bodies: it never raises but Rejected, and drops only what is bad."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.pipeline.parse import MAX_DEPTH, Rejected, parse, too_deep
from processors.pipeline.values import MAX_NOTE_KEYS, Notes, TimeWindow, label, printable
from tests.hostile import BODIES, Hostile

PG_DECIDES = "PostgreSQL jsonb refuses it"


@pytest.mark.parametrize("case", BODIES, ids=lambda c: c.name)
def test_hostile_bodies_yield_what_they_should(case: Hostile) -> None:
    if case.state == "rejected" and case.rejection != PG_DECIDES:
        with pytest.raises(Rejected, match=None) as raised:
            parse(case.body, datetime.now(UTC))
        assert case.rejection in str(raised.value)
        return
    event = parse(case.body, datetime.now(UTC))  # jsonb's own refusals come later, in SQL
    if case.state == "rejected":
        return
    assert case.messages <= {m.message_id for m in event.of("messages")}
    assert {(s.message_id, s.status) for s in event.of("statuses")} == case.statuses
    assert case.notes <= set(event.notes), dict(event.notes)
    assert len(event.notes) <= MAX_NOTE_KEYS
    assert len(json.dumps(event.notes)) < 4096
    for message_id, codes in case.codes.items():
        (status,) = [s for s in event.of("statuses") if s.message_id == message_id]
        assert list(status.error_codes) == codes


def test_the_time_window_runs_from_2009_to_a_day_after_receipt() -> None:
    window = TimeWindow.for_event(datetime(2026, 1, 1, tzinfo=UTC))
    assert 1230768000 in window  # 2009-01-01
    assert 1230767999 not in window
    assert 1767312000 in window  # received + 1 day
    assert 1767312001 not in window
    assert "1767225600" not in window  # only ints: the parser converts first


def test_a_rebuild_decides_as_the_first_drain_did() -> None:
    body = b'{"statuses":[{"id":"m","status":"read","timestamp":"1767300000"}]}'
    received = datetime(2026, 1, 1, tzinfo=UTC)  # the status is 23 h after receipt: kept
    assert [s.status_at for s in parse(body, received).of("statuses")] == [1767300000]
    earlier = datetime(2025, 12, 30, tzinfo=UTC)
    assert (
        parse(body, earlier).of("statuses") == []
    )  # received earlier: the same time is implausible


def test_labels_are_bounded_in_bytes_not_characters() -> None:
    assert label("a" * 512) == "a" * 512
    assert label("a" * 513) is None
    assert label("€" * 170) is not None  # 510 bytes
    assert label("€" * 171) is None  # 513 bytes
    assert label(12345) == "12345"
    assert label(True) is None


def test_note_keys_are_capped_and_printable() -> None:
    notes = Notes()
    for n in range(100):
        notes.add(f"unknown_type:{n}")
    notes.add("unknown_type:0")
    assert len(notes) == MAX_NOTE_KEYS
    assert notes["notes_truncated"] == 100 - (MAX_NOTE_KEYS - 1)
    assert notes["unknown_type:0"] == 2
    assert printable("a\x1b[31m\r\n\u2028b") == "a\\x1b[31m\\r\\n\\u2028b"
    assert printable("x" * 100).endswith("…")
    assert len(printable("x" * 100)) == 40


def test_a_drain_summary_and_its_metric_labels_stay_bounded() -> None:
    from processors.pipeline.drain_result import DrainResult, rejection_kind

    total = DrainResult()
    for n in range(50):
        total += DrainResult(notes={f"unknown_type:{n}-{k}": 1 for k in range(40)})
    assert len(total.notes) == 8 * MAX_NOTE_KEYS
    assert sum(total.notes.values()) == 50 * 40  # every note counted, some as truncated
    kinds = {rejection_kind(f"invalid UTF-8 at byte {n}") for n in range(100)}
    assert kinds == {"invalid UTF-8 at byte N"}
    assert rejection_kind("invalid JSON: Expecting value") == "invalid JSON"
    assert rejection_kind(None) == "unknown"


def test_only_errors_a_retry_can_mend_are_retried() -> None:
    import psycopg.errors as pg

    from processors.pipeline.isolation import is_transient

    for transient in (pg.SerializationFailure, pg.DeadlockDetected, pg.LockNotAvailable,
                      pg.QueryCanceled, pg.OutOfMemory, pg.DiskFull, pg.IoError):  # fmt: skip
        assert is_transient(transient("x").sqlstate), transient
    for permanent in (pg.RaiseException, pg.NumericValueOutOfRange, pg.ProgramLimitExceeded,
                      pg.UniqueViolation, pg.InvalidTextRepresentation):  # fmt: skip
        assert not is_transient(permanent("x").sqlstate), permanent


def nested(depth: int) -> bytes:
    return b'{"statuses":[],"n":' + b"[" * depth + b"]" * depth + b"}"


def test_nesting_is_judged_on_the_bytes_whatever_the_callers_stack() -> None:
    def parse_at_stack_depth(frames: int, body: bytes) -> object:
        return parse(body) if frames == 0 else parse_at_stack_depth(frames - 1, body)

    assert parse_at_stack_depth(600, nested(255)).notes == {}  # accepted deep in a stack
    with pytest.raises(Rejected, match="nested deeper than 256 levels"):
        parse(nested(257))
    assert parse(b'{"statuses":[],"n":"' + b"[" * 5000 + b'"}').format == "onprem"  # in a string


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, False),
        (b"[" * (MAX_DEPTH + 1), True),  # unclosed counts too
        (b"{}" * 1000 + b"[" * MAX_DEPTH, False),  # many brackets, never deep
        (b'"' + b"[" * 1000 + b'"', False),  # inside a string
        (b'"\\\\"' + b"[" * 300, True),  # an escaped backslash ends nothing: the string closed
        (b'"\\\\\\"' + b"[" * 300, False),  # an escaped quote does not close it: still inside
        (b"[]" * 300 + b'"' + b'\\"' * 1000, False),  # unterminated: the rest is the string
        (b"[]" * 300 + b'"\\', False),  # a lone backslash at the very end
        (b"]" * 1000 + b"[" * MAX_DEPTH, False),  # closers first do not lower the bar
    ],
)
def test_nesting_is_measured_on_the_tokens(body: bytes, deep: bool) -> None:
    assert too_deep(body) is deep


def test_parsing_takes_linear_time_on_bodies_built_to_be_slow() -> None:
    # A hang guard, not a speed target: each of these takes well under a second here, and
    # a string pattern that restarts at every escaped quote took hours on the first.
    script = (
        "from processors.pipeline.parse import parse, Rejected\n"
        "from processors.lookup import shown_body\n"
        "from tests.pathological import bodies, clean\n"
        "for body in [clean(), *bodies().values()]:\n"
        "    try:\n"
        "        parse(body)\n"
        "    except Rejected:\n"
        "        pass\n"
        "    shown_body(body)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


@pytest.mark.slow  # 16 MiB bodies: half a minute
def test_parsing_takes_linear_time_at_a_raised_body_limit_too() -> None:
    # A channel may take bodies of 16 MiB (`channels set --max-body`): the same bodies at
    # that size, under a hang guard sixteen times the one above plus some.
    script = (
        "from processors.pipeline.parse import parse, Rejected\n"
        "from tests.pathological import MIB, bodies, clean, history\n"
        "for body in [clean(16 * MIB), history(16 * MIB)[0], *bodies(16 * MIB).values()]:\n"
        "    try:\n"
        "        parse(body)\n"
        "    except Rejected:\n"
        "        pass\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=600)


def test_notes_are_the_same_in_every_process() -> None:
    fields = ",".join(f'"f{n}":1' for n in range(40))
    body = ('{"messages":[{"id":"m","type":"text",' + fields + "}]}").encode()
    notes = parse(body).notes
    kept = {f"unknown_field:message.f{n}" for n in range(MAX_NOTE_KEYS - 1)}
    assert set(notes) == kept | {"notes_truncated"}  # the first ones in the body, not by hash
    assert notes["notes_truncated"] == 40 - (MAX_NOTE_KEYS - 1)


def test_ids_too_long_for_their_key_are_noted() -> None:
    long_id, long_status, long_wa_id = "€" * 200, "x" * 600, "1" * 600
    body = ('{"messages":[{"id":"' + long_id + '","type":"text"}],'
            '"statuses":[{"id":"s","status":"' + long_status + '","timestamp":"1750000000"}],'
            '"contacts":[{"wa_id":"' + long_wa_id + '"}]}').encode()  # fmt: skip
    event = parse(body)
    assert (event.of("messages"), event.of("statuses")) == ([], [])
    assert {"too_long:id", "too_long:status", "too_long:wa_id"} <= set(event.notes)
    assert {"message_without_id", "status_without_id_status_or_timestamp"} <= set(event.notes)


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"1" * 30, "a JSON number is not an object"), (b"[1]", "a JSON array is not an object"),
     (b'"x"', "a JSON string is not an object"), (b"null", "a JSON literal is not an object")],
)  # fmt: skip
def test_rejections_name_json_types(body: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        parse(body)


def reference_depth(body: bytes) -> int:
    """The deepest nesting of `body`'s brackets outside strings, one byte at a time."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == ord("\\"):
                escaped = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


@given(
    st.lists(
        st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b"[" * 64, b'\\"', b"\n"]),
        max_size=60,
    )
)
def test_the_nesting_check_agrees_with_a_byte_by_byte_reading(parts: list[bytes]) -> None:
    # Tokens a linear scan could get wrong: quotes, escapes, runs of brackets, a string
    # left open at the end.
    body = b"".join(parts)
    assert too_deep(body) is (reference_depth(body) > MAX_DEPTH)
