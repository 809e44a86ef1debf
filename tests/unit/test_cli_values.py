"""The CLI's value checks without a database: ages, phone numbers, connection failures."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from processors.channels import ChannelError, normalize_phone_number, shown
from processors.cli.common import connect_failure, redacted
from processors.stored.selection import parse_age
from receiver.config import Secret

URL = "postgresql://app:S3cretPW@db.example.com:6432/wabahook"
PARAMS = {"user": "app", "password": "S3cretPW", "host": "db.example.com", "port": "6432"}


@pytest.mark.parametrize(
    ("text", "age"),
    [("0s", timedelta(0)), ("90m", timedelta(minutes=90)), ("2 h", timedelta(hours=2)),
     ("36525d", timedelta(days=36525)), ("5217w", timedelta(weeks=5217)), ("yesterday", None)],
)  # fmt: skip
def test_ages_up_to_a_century(text: str, age: timedelta | None) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["36526d", "5218w", "3155760001s", "9" * 5000 + "w"])
def test_longer_ages_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"^an age may be at most 100 years \(36525d\)$"):
        parse_age(text)


def test_phone_numbers_lose_their_separators_and_nothing_else() -> None:
    assert normalize_phone_number("+49 (151) 123-45.678") == "+4915112345678"
    for bad in ("+", "+49 151 12345678 ext 2", "0049\u00a015112345678", "+1\n2345678"):
        with pytest.raises(ChannelError, match="is not a phone number"):
            normalize_phone_number(bad)


def test_shown_values_are_quoted_escaped_and_short() -> None:
    assert shown("a\x1b[2Jb") == "'a\\x1b[2Jb'"
    assert shown("x" * 1000) == "'" + "x" * 35 + "...'"
    assert len(shown("x" * 1000)) == 40


@pytest.mark.parametrize(
    ("libpq", "reason"),
    [
        ('connection failed: connection to server at "10.0.0.5", port 6432 failed: Connection'
         " refused\n\tIs the server running on that host and accepting TCP/IP connections?",
         "connection refused (10.0.0.5:6432)"),
        ('connection failed: connection to server at "db.example.com" (10.0.0.5), port 6432'
         ' failed: FATAL:  password authentication failed for user "app"',
         'password authentication failed for user "app" (db.example.com:6432)'),
        ('connection failed: connection to server on socket "/run/postgresql/.s.PGSQL.5432"'
         " failed: No such file or directory",
         "no such file or directory (/run/postgresql/.s.PGSQL.5432)"),
        ("connection timeout expired", "no answer within 5 s (db.example.com:6432)"),
        ('connection is bad: invalid sslmode value: "bogus"',
         'invalid sslmode value: "bogus" (db.example.com:6432)'),
        ("SSL SYSCALL error: EOF detected",
         "SSL SYSCALL error: EOF detected (db.example.com:6432)"),
    ],
)  # fmt: skip
def test_connect_failures_read_as_one_line_with_the_server(libpq: str, reason: str) -> None:
    assert connect_failure(psycopg.OperationalError(libpq), PARAMS) == reason


def test_the_password_and_the_url_are_redacted_wherever_quoted() -> None:
    message = f'failed: "{URL}" and again S3cretPW'
    assert redacted(message, Secret(URL)) == 'failed: "********" and again ********'


def test_bidi_controls_are_escaped_like_other_controls() -> None:
    from receiver.logs import escape_controls

    # U+202E would show "txt.exe" as "exe.txt"; U+2066..2069 isolate runs likewise.
    assert escape_controls("invoice\u202etxt.exe") == "invoice\\u202etxt.exe"
    assert escape_controls("a\u2066b\u2069c") == "a\\u2066b\\u2069c"
    assert escape_controls("plain \u00e9 text \u4e2d") == "plain \u00e9 text \u4e2d"


def test_times_are_written_in_utc_with_a_z() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from processors import utc

    berlin = datetime(2026, 12, 7, 8, 40, 12, 250_000, tzinfo=timezone(timedelta(hours=1)))
    assert utc.iso(berlin) == "2026-12-07T07:40:12Z"
    assert utc.iso(berlin, fraction=True) == "2026-12-07T07:40:12.250000Z"
    assert utc.iso(datetime(2026, 12, 7, 7, 40, 12, tzinfo=UTC), fraction=True) == (
        "2026-12-07T07:40:12Z"
    )
    assert utc.iso(datetime(2026, 12, 7, 7)) == "2026-12-07T07:00:00Z"  # naive: UTC
    assert utc.hour_label(datetime(2026, 12, 7, 7)) == "2026-12-07T07:00Z"


def test_table_cells_show_a_dash_json_and_escaped_text() -> None:
    from datetime import UTC, date, datetime

    from processors.cli.common import MISSING, cell

    assert MISSING == "\u2013"
    assert [cell(None), cell(""), cell(0), cell(True)] == [MISSING, MISSING, "0", "yes"]
    assert cell(datetime(2026, 12, 7, 7, 40, 12, 5, tzinfo=UTC)) == "2026-12-07T07:40:12Z"
    assert cell(date(2026, 12, 7)) == "2026-12-07"
    assert (
        cell([{"code": 131047, "title": "caf\u00e9"}]) == '[{"code": 131047, "title": "caf\u00e9"}]'
    )
    assert cell("a\x1b[2Jb") == "a\\x1b[2Jb"


def test_tables_line_up_under_their_header(capsys: pytest.CaptureFixture[str]) -> None:
    from processors.cli.common import echo_table

    echo_table(("ID", "STATE", "ERROR"), [[7, "failed", "boom"], [1234, None, None]], right={"ID"})
    assert capsys.readouterr().out.splitlines() == [
        "  ID  STATE   ERROR",
        "   7  failed  boom",
        "1234  \u2013       \u2013",
    ]
